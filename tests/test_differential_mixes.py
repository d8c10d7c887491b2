"""Differential tests that no single stage can fool: on random programs no stage was written for,
every mix of backends (each stage that offers streaming either streaming or materialized) gives
the same proof bytes as the all-materialized baseline, and the verifier accepts them.

The mixes come from ``prover.probe.capabilities()``, so every stage converted later joins them
without an edit here. The suite runs a sample per program (all materialized, all streaming,
each streamable stage alone streaming and alone materialized; every mix while there are at most
four); ``STAGEGATE_ALL_MIXES=1`` runs all 2^k mixes (``benchmarks/all_mixes.py`` does, at log T 8).
"""

from __future__ import annotations

import itertools
import os

import pytest
from random_programs import random_workload, registered

from prover.pipeline import prove
from prover.probe import capabilities
from prover.verifier import VerificationError, verify
from prover.verify_entry import statement_of

SEEDS = range(3)
KINDS = ("straight", "loop")


def streamable() -> list[int]:
    return sorted(int(k) for k, offered in capabilities().items() if "streaming" in offered)


def mixes(stages: list[int], every: bool) -> list[frozenset[int]]:
    """Sets of streaming stages: all of them when ``every`` or when there are at most 4 mixes."""
    if every or len(stages) <= 2:
        return [frozenset(c) for r in range(len(stages) + 1) for c in itertools.combinations(stages, r)]
    sample = {frozenset(), frozenset(stages)}
    for k in stages:
        sample.add(frozenset([k]))
        sample.add(frozenset(stages) - {k})
    return sorted(sample, key=lambda s: (len(s), sorted(s)))


def variant(streaming: frozenset[int]) -> dict[int, str]:
    return {k: ("streaming" if k in streaming else "materialized") for k in range(9)}


def test_the_mixes_cover_every_streamable_stage_both_ways() -> None:
    stages = streamable()
    assert 0 in stages  # stage 0 is converted; the sample must not be empty of streaming
    sample = mixes(stages, every=False)
    for k in stages:
        assert any(k in m for m in sample) and any(k not in m for m in sample)
    assert len(mixes(stages, every=True)) == 2 ** len(stages)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_every_mix_proves_the_same_bytes_on_a_random_program(seed: int, kind: str) -> None:
    workload = random_workload(seed, kind)
    baseline = prove(workload, variant(frozenset()))
    statement = statement_of(workload).encode()
    with registered(workload):
        assert verify(baseline, statement).statement.workload == workload.name
    every = os.environ.get("STAGEGATE_ALL_MIXES") == "1"
    for streaming in mixes(streamable(), every):
        if not streaming:
            continue
        got = prove(workload, variant(streaming))
        assert got == baseline, f"{workload.name}: streaming {sorted(streaming)} changed the proof bytes"


def test_the_verifier_still_rejects_a_wrong_output_of_a_random_program() -> None:
    """The registration names the program and nothing else: a proof about the true output does
    not verify against a statement that claims another output."""
    import dataclasses

    workload = random_workload(0, "loop")
    proof = prove(workload, variant(frozenset(streamable())))
    wrong = bytearray(workload.expected_output)
    wrong[-1] ^= 1
    liar = dataclasses.replace(workload, expected_output=bytes(wrong))
    with registered(workload), pytest.raises(VerificationError):
        verify(proof, statement_of(liar).encode())
