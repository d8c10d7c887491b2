"""The materialized backend: the whole trace is one Python list, built by stage 0 and kept for the
later stages (O(T) memory)."""
from __future__ import annotations

from listprover import core
from listprover.state import State


def trace(t: int) -> list[int]:
    rows = [core.SEED]
    for _ in range(t - 1):
        rows.append(core.step(rows[-1]))
    return rows


def whole_trace(state: State) -> list[int]:
    """The trace: the one stage 0 kept, or (after a streaming stage 0) built again here."""
    if state.trace is None:
        state.trace = trace(state.t)
    return state.trace


def commit(state: State) -> None:
    rows = whole_trace(state)
    c = core.chunk_rows(state.t)
    state.hashes = [core.chunk_hash(rows[i:i + c]) for i in range(0, state.t, c)]
    state.root = core.root_of(state.hashes)


def constraints(state: State) -> None:
    rows = whole_trace(state)
    r = core.challenge(state.root)
    # The materialized way: every row's constraint value in a list of its own, then folded.
    values = [(core.step(a) - b) % core.P for a, b in zip(rows, rows[1:])]
    zero = acc = 0
    power = 1
    for v, row in zip(values, rows):
        zero = (zero + power * v) % core.P
        acc = (acc + power * row) % core.P
        power = power * r % core.P
    state.folds = (zero, acc)


def openings(state: State) -> None:
    rows = whole_trace(state)
    c = core.chunk_rows(state.t)
    picked = core.queries(state.root, state.folds[1], state.t // c)
    state.opened = [(i, rows[i * c:(i + 1) * c]) for i in picked]
