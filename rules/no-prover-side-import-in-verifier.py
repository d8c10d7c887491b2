# Test cases for rules/no-prover-side-import-in-verifier.yaml (run by `semgrep --test rules/`).
import importlib

# ruleid: no-prover-side-import-in-verifier
import prover.stages.stage3
# ruleid: no-prover-side-import-in-verifier
from prover.stages.common import ProverContext
# ruleid: no-prover-side-import-in-verifier
from prover.backends.dense import sumcheck as dense_sumcheck
# ruleid: no-prover-side-import-in-verifier
from prover.witness import WitnessSource
# ruleid: no-prover-side-import-in-verifier
import prover.tracer as tracer
# ruleid: no-prover-side-import-in-verifier
from prover import witness
# ruleid: no-prover-side-import-in-verifier
from .. import stages
# ruleid: no-prover-side-import-in-verifier
from ..backends.streaming import sumcheck
# ruleid: no-prover-side-import-in-verifier
pipeline = importlib.import_module("prover.pipeline")

# ok: no-prover-side-import-in-verifier
from prover.field import U64
# ok: no-prover-side-import-in-verifier
from prover.sumcheck.protocol import verify_rounds
# ok: no-prover-side-import-in-verifier
from prover import relations, proof
# ok: no-prover-side-import-in-verifier
from prover.relations.columns import COLUMNS
# ok: no-prover-side-import-in-verifier
from . import context
# ok: no-prover-side-import-in-verifier
from .errors import VerificationError
# ok: no-prover-side-import-in-verifier
from prover.stages_doc import NOTES
