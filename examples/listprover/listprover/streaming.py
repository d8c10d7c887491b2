"""The streaming backend: the trace is never held whole. Stage 0 keeps the state at the start of
every chunk (sqrt(T) checkpoints); later stages replay one chunk of sqrt(T) rows at a time."""
from __future__ import annotations

from collections.abc import Iterator

from listprover import core
from listprover.state import State


def replay(start: int, count: int) -> list[int]:
    rows = [start]
    for _ in range(count - 1):
        rows.append(core.step(rows[-1]))
    return rows


def checkpoints(state: State) -> list[int]:
    if state.checkpoints is None:
        c, s, out = core.chunk_rows(state.t), core.SEED, []
        for _ in range(state.t // c):
            out.append(s)
            for _ in range(c):
                s = core.step(s)
        state.checkpoints = out
    return state.checkpoints


def chunks(state: State) -> Iterator[list[int]]:
    c = core.chunk_rows(state.t)
    for start in checkpoints(state):
        yield replay(start, c)


def commit(state: State) -> None:
    c, s = core.chunk_rows(state.t), core.SEED
    marks, hashes = [], []
    for _ in range(state.t // c):
        marks.append(s)
        rows = replay(s, c)
        hashes.append(core.chunk_hash(rows))
        s = core.step(rows[-1])
    state.checkpoints, state.hashes = marks, hashes
    state.root = core.root_of(hashes)


def constraints(state: State) -> None:
    r = core.challenge(state.root)
    zero = acc = 0
    power = 1
    prev: int | None = None
    for rows in chunks(state):
        for row in rows:
            if prev is not None:
                zero = (zero + power * ((core.step(prev) - row) % core.P)) % core.P
                acc = (acc + power * prev) % core.P
                power = power * r % core.P
            prev = row
    state.folds = (zero, acc)


def openings(state: State) -> None:
    c = core.chunk_rows(state.t)
    marks = checkpoints(state)
    picked = core.queries(state.root, state.folds[1], state.t // c)
    state.opened = [(i, replay(marks[i], c)) for i in picked]
