"""Every mix of backends on random programs: the exhaustive run of tests/test_differential_mixes.py.

    .venv/bin/python benchmarks/all_mixes.py [--seeds 8] [--kinds straight,loop]

For each seeded random program (``tests/random_programs.py``: straight-line, or a counted loop),
at the smallest T that holds it (log T 8 for straight-line code, 8-9 with the loop), proves once
with every stage materialized, verifies that proof, then proves with each of the 2^k mixes of the
k stages that offer streaming (``prover.probe.capabilities()``) and compares the bytes. Prints one
JSON line: programs, stages, mixes, proofs, mismatches (each with the program and the mix) and
seconds; exits 1 on any mismatch or rejection. The suite runs a sample of these mixes; this runs
all of them (too many for the suite once most stages stream: 2^9 mixes a program).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from random_programs import random_workload, registered
from test_differential_mixes import mixes, streamable, variant

from prover.pipeline import prove
from prover.verifier import verify
from prover.verify_entry import statement_of


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=8, help="programs per kind")
    ap.add_argument("--kinds", default="straight,loop")
    a = ap.parse_args()
    t0 = time.perf_counter()
    stages = streamable()
    every = mixes(stages, every=True)
    proofs, bad, programs = 0, [], 0
    for kind in a.kinds.split(","):
        for seed in range(a.seeds):
            w = random_workload(seed, kind)
            programs += 1
            base = prove(w, variant(frozenset()))
            proofs += 1
            with registered(w):
                verify(base, statement_of(w).encode())
            for m in every:
                if m:
                    proofs += 1
                    if prove(w, variant(m)) != base:
                        bad.append({"program": w.name, "log_t": w.log_t, "streaming": sorted(m)})
    print(json.dumps({"programs": programs, "streamable_stages": stages, "mixes": len(every),
                      "proofs": proofs, "mismatches": bad, "seconds": round(time.perf_counter() - t0, 1)}))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
