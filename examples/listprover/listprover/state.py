"""What one prove carries from stage to stage."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class State:
    t: int
    trace: list[int] | None = None          # materialized: the whole trace
    checkpoints: list[int] | None = None    # streaming: the state at each chunk's start
    hashes: list[bytes] = dataclasses.field(default_factory=list)
    root: bytes = b''
    folds: tuple[int, int] = (0, 0)
    opened: list[tuple[int, list[int]]] = dataclasses.field(default_factory=list)
