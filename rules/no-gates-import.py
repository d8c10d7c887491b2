# Test cases for rules/no-gates-import.yaml (run by `semgrep --test rules/`).
import importlib

# ruleid: no-gates-import
import gates
# ruleid: no-gates-import
import gates.model as model
# ruleid: no-gates-import
from gates.measuring import probe
# ruleid: no-gates-import
from gates.contract.spec import load_spec
# ruleid: no-gates-import
spec_mod = importlib.import_module("gates.contract.spec")
# ruleid: no-gates-import
probe_mod = __import__("gates")

# ok: no-gates-import
import gatekeeper
# ok: no-gates-import
from prover.stages import common
# ok: no-gates-import
from prover import gates_table
# ok: no-gates-import
other = importlib.import_module("prover.field")
