"""Determinism: the same statement gives the same proof bytes, in one process and across two."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from prover import workloads
from prover.pipeline import prove

WORKLOAD, LOG_T = "fib", 8

_CHILD = (
    "import hashlib, sys\n"
    "from prover import workloads\n"
    "from prover.pipeline import prove\n"
    "p = prove(workloads.build(sys.argv[1], int(sys.argv[2])))\n"
    "print(hashlib.sha256(p).hexdigest(), len(p))\n"
)


def test_same_statement_same_bytes_in_one_process() -> None:
    w = workloads.build(WORKLOAD, LOG_T)
    assert prove(w) == prove(workloads.build(WORKLOAD, LOG_T))


def test_same_statement_same_bytes_in_two_processes() -> None:
    outs = []
    for seed in ("0", "12345"):  # different hash seeds: no dict/set order may leak into bytes
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run(
            [sys.executable, "-c", _CHILD, WORKLOAD, str(LOG_T)],
            capture_output=True, text=True, env=env, timeout=600, check=True,
        )
        outs.append(r.stdout.split())
    assert outs[0] == outs[1]
    here = prove(workloads.build(WORKLOAD, LOG_T))
    assert outs[0] == [hashlib.sha256(here).hexdigest(), str(len(here))]
