"""Stage 1 (constraints), with a leak: it keeps a copy of the whole trace for later (8 bytes a
row: 32 KiB at 2^12). Copied over listprover/stage1.py by benchmarks/memory_catch_rate.py and
tests/gates/test_memory_small.py: the memory gate must catch it every time."""
from __future__ import annotations

from listprover import materialized
from listprover import streaming
from listprover.state import State

SUPPORTED = ('materialized',)
KEPT: list[list[int]] = []


def run(state: State, backend: str) -> None:
    if backend not in SUPPORTED:
        raise NotImplementedError(f'stage 1 has no {backend} backend')
    if backend == 'materialized':
        KEPT.append(list(materialized.whole_trace(state)))
        materialized.constraints(state)
    else:
        streaming.constraints(state)
