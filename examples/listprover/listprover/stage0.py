"""Stage 0 (commit): picks its backend from the run's variant."""
from __future__ import annotations

from listprover import materialized
from listprover import streaming
from listprover.state import State

SUPPORTED = ('materialized',)


def run(state: State, backend: str) -> None:
    if backend not in SUPPORTED:
        raise NotImplementedError(f'stage 0 has no {backend} backend')
    if backend == 'materialized':
        materialized.commit(state)
    else:
        streaming.commit(state)
