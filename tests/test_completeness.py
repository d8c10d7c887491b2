"""Completeness: honest proofs of sha2-chain and fib verify, at every size the suite can afford.

sha2-chain needs 2^12 rows for one hash (``workloads``), so it starts at log T = 12. The smallest
size of each workload runs in every suite; bigger ones are marked ``slow`` (still part of the
default run; deselect with ``-m "not slow"``).
"""

from __future__ import annotations

import pytest

from prover import workloads
from prover.pipeline import prove, statement_of
from prover.proof import NUM_SECTIONS, decode_proof
from prover.verifier import verify

SIZES = {"fib": range(8, 15), "sha2-chain": range(12, 15)}
CASES = [
    pytest.param(name, k, marks=() if k == sizes[0] else pytest.mark.slow)
    for name, sizes in SIZES.items()
    for k in sizes
]


class Recorder:
    """An observer that records the boundaries the pipeline reports."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def enter(self, stage: int) -> None:
        self.events.append(("enter", stage))

    def exit(self, stage: int) -> None:
        self.events.append(("exit", stage))


@pytest.mark.parametrize("name, log_t", CASES)
def test_honest_proof_verifies(name: str, log_t: int) -> None:
    w = workloads.build(name, log_t)
    obs = Recorder()
    proof = prove(w, observer=obs)
    assert obs.events == [(e, k) for k in range(NUM_SECTIONS) for e in ("enter", "exit")]
    result = verify(proof, statement_of(w).encode())
    assert result.statement.output == w.expected_output
    assert result.statement.log_t == log_t
    pf = decode_proof(proof)
    assert all(len(s) > 0 for s in pf.sections)
