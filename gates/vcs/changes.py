"""What a change touches: ``ChangedPath``, one path between the change's base and the tree under
judgement, as ``repo.changed_paths`` reads it from git. Imports nothing of the engine, so that
``gates.context`` (which carries the list to every gate) builds on it without pulling in git."""
from __future__ import annotations

import dataclasses
from typing import Literal

Status = Literal['A', 'M', 'D', 'R']


@dataclasses.dataclass(frozen=True)
class ChangedPath:
    """One path changed between the base and the head (repo-relative, posix).

    ``R`` (rename) carries the old path in ``old_path``; a rename touches both paths.
    """

    path: str
    status: Status
    old_path: str | None = None

    def paths(self) -> tuple[str, ...]:
        """Every path this change touches (both sides of a rename)."""
        if self.old_path is not None and self.old_path != self.path:
            return (self.old_path, self.path)
        return (self.path,)
