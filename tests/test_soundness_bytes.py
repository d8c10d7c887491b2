"""Byte-flip soundness: flipping any single byte of an honest proof gets it rejected.

Positions cover the file header and statement, every section header and, spread evenly, every
section payload (>= 200 positions in all). To keep it fast, a flip inside section k's payload
resumes verification from a copy of the verifier's state before stage k: sections < k are
byte-identical, so their replay is identical by construction.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import pytest

from prover import workloads
from prover.pipeline import prove, statement_of
from prover.proof import NUM_SECTIONS, ProofFormatError, decode_proof
from prover.verifier import VerificationError, context_for, run_stages, verify
from prover.verifier.context import VerifierContext

WORKLOAD, LOG_T = "fib", 8
PER_PAYLOAD = 22


@lru_cache(maxsize=1)
def honest() -> tuple[bytes, bytes]:
    w = workloads.build(WORKLOAD, LOG_T)
    return prove(w), statement_of(w).encode()


@lru_cache(maxsize=1)
def states_before_each_stage() -> tuple[VerifierContext, ...]:
    proof, _ = honest()
    pf = decode_proof(proof)
    vctx = context_for(pf.statement)
    states = []
    for k in range(NUM_SECTIONS):
        states.append(copy.deepcopy(vctx))
        run_stages(vctx, pf.sections, start=k, stop=k + 1)
    return tuple(states)


def positions() -> list[tuple[int, int | None]]:
    """(byte offset, section whose payload holds it or None for headers)."""
    proof, _ = honest()
    pf = decode_proof(proof)
    out: list[tuple[int, int | None]] = []
    head_end = pf.offsets[0] - 5  # magic, version, statement, section count
    step = max(1, head_end // 16)
    out += [(i, None) for i in range(0, head_end, step)] + [(head_end - 1, None)]
    for k in range(NUM_SECTIONS):
        start, length = pf.offsets[k], len(pf.sections[k])
        out += [(start - 5 + i, None) for i in range(5)]  # stage id, u32 length
        n = min(PER_PAYLOAD, length)
        out += [(start + (i * (length - 1)) // max(1, n - 1), k) for i in range(n)]
    return sorted(set(out))


def test_honest_proof_is_accepted() -> None:
    proof, expected = honest()
    verify(proof, expected)


def test_every_section_is_covered_by_at_least_200_flips() -> None:
    pos = positions()
    assert len(pos) >= 200
    assert {k for _, k in pos if k is not None} == set(range(NUM_SECTIONS))


@pytest.mark.parametrize("section", [None, *range(NUM_SECTIONS)], ids=lambda k: "header" if k is None else f"s{k}")
def test_single_byte_flips_rejected(section: int | None) -> None:
    proof, expected = honest()
    states = states_before_each_stage()
    accepted = []
    for pos, k in positions():
        if k != section:
            continue
        bad = bytearray(proof)
        bad[pos] ^= 1 << (pos % 8)
        try:
            if k is None:
                verify(bytes(bad), expected)
            else:
                pf = decode_proof(bytes(bad))
                run_stages(copy.deepcopy(states[k]), pf.sections, start=k)
        except (ProofFormatError, VerificationError):
            continue
        accepted.append(pos)
    assert accepted == [], f"flipped bytes accepted at offsets {accepted}"
