"""The example's own checks: both backends write the same verified bytes."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listprover import core  # noqa: E402
from listprover import materialized  # noqa: E402
from listprover import streaming  # noqa: E402
from listprover.state import State  # noqa: E402


def prove(log_t: int, backends: tuple[str, str, str]) -> bytes:
    state = State(1 << log_t)
    for step, backend in zip(('commit', 'constraints', 'openings'), backends):
        getattr(materialized if backend == 'materialized' else streaming, step)(state)
    assert state.folds[0] == 0   # the transition constraint holds on every row
    return core.encode(state.root, state.hashes, state.folds, state.opened)


def test_backends_agree_and_verify() -> None:
    for log_t in (4, 7, 10):
        base = prove(log_t, ('materialized',) * 3)
        assert core.verify({'log_t': log_t}, base) == (True, 'ok')
        for mix in (('streaming',) * 3, ('streaming', 'materialized', 'materialized'),
                    ('materialized', 'streaming', 'streaming')):
            assert prove(log_t, mix) == base


def test_a_changed_row_is_rejected() -> None:
    proof = bytearray(prove(8, ('materialized',) * 3))
    proof[-1] ^= 1
    assert core.verify({'log_t': 8}, bytes(proof))[0] is False
