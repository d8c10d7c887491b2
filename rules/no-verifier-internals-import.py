# Test cases for rules/no-verifier-internals-import.yaml (run by `semgrep --test rules/`).
import importlib

# ruleid: no-verifier-internals-import
import prover.verifier.stage3
# ruleid: no-verifier-internals-import
import prover.verifier.stage3 as stage3_verifier
# ruleid: no-verifier-internals-import
from prover.verifier.stage1 import verify
# ruleid: no-verifier-internals-import
from prover.verifier.context import _replay
# ruleid: no-verifier-internals-import
from prover.verifier import stage2
# ruleid: no-verifier-internals-import
from prover.verifier import (verify_proof, _check_round)
# ruleid: no-verifier-internals-import
from ..verifier import stage4
# ruleid: no-verifier-internals-import
from ..verifier.stage5 import verify as verify5
# ruleid: no-verifier-internals-import
stage6 = importlib.import_module("prover.verifier.stage6")

# ok: no-verifier-internals-import
import prover.verifier
# ok: no-verifier-internals-import
from prover.verifier import verify_proof
# ok: no-verifier-internals-import
from prover.verifier.errors import VerificationError
# ok: no-verifier-internals-import
from prover import verifier
# ok: no-verifier-internals-import
from prover.stages import stage3
# ok: no-verifier-internals-import
from prover.relations import _tables
