"""The verifier stands alone: verifying a proof loads no stage, backend, witness or tracer code."""

from __future__ import annotations

import subprocess
import sys

from prover import workloads
from prover.pipeline import prove

_CHILD = """
import sys
from prover.verifier import verify
verify(sys.stdin.buffer.read())
forbidden = ("prover.stages", "prover.backends", "prover.witness", "prover.tracer",
             "prover.pipeline", "prover.workloads", "prover.probe", "prover.cli")
print(" ".join(sorted(m for m in sys.modules if m.startswith(forbidden))))
"""


def test_verifier_loads_no_prover_side_module() -> None:
    proof = prove(workloads.build("fib", 8))
    r = subprocess.run([sys.executable, "-c", _CHILD], input=proof, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().strip() == ""


_ENTRY = """
import sys
from prover.verify_entry import sections, verify
ok, message = verify({"workload": "fib", "log_t": 8}, sys.stdin.buffer.read())
assert ok, message
forbidden = ("prover.stages", "prover.backends", "prover.witness", "prover.tracer",
             "prover.pipeline", "prover.probe", "prover.cli")
print(" ".join(sorted(m for m in sys.modules if m.startswith(forbidden))))
"""


def test_the_engines_verify_entry_loads_no_prover_side_module() -> None:
    # The gate engine verifies in a process that imports only subject.verify/sections: from
    # prover.verify_entry no stage, backend, witness, tracer or pipeline code runs there.
    proof = prove(workloads.build("fib", 8))
    r = subprocess.run([sys.executable, "-c", _ENTRY], input=proof, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().strip() == ""
