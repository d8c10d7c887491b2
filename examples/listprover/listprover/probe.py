"""The gates' entry points (``kind: python``, specs/listprover.yaml)."""
from __future__ import annotations

from typing import Any

from listprover import core
from listprover import stage0
from listprover import stage1
from listprover import stage2
from listprover.state import State

STAGES = (stage0, stage1, stage2)


def prove(params: dict[str, Any], variant: dict[str, str], observer: Any) -> bytes:
    state = State(1 << int(params['log_t']))
    for k, stage in enumerate(STAGES):
        observer.enter(k)
        stage.run(state, variant.get(str(k), 'materialized'))
        observer.exit(k)
    return core.encode(state.root, state.hashes, state.folds, state.opened)


def verify(params: dict[str, Any], proof: bytes) -> tuple[bool, str]:
    return core.verify(params, proof)


def sections(proof: bytes) -> list[tuple[int, int, int]]:
    return core.sections(proof)


def capabilities() -> dict[str, list[str]]:
    return {str(k): list(stage.SUPPORTED) for k, stage in enumerate(STAGES)}
