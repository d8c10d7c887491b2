"""One subject run, as every mode of the probe (gates/measuring/probe.py) and the runner of
``command`` subjects (gates/measuring/probe_command.py) take it: ``RunRequest``."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.contract.spec import Subject
from gates.measuring import treedigest

DEFAULT_TIMEOUT = 3600.0


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """One subject run, as every mode of the probe takes it: the subject, the tree it runs from,
    the workload (its id and params), the variant and the stages whose boundaries it must
    report, and the run's limits (timeout, and the guard of the measured trees, if any). The
    other side of a pair is ``dataclasses.replace(request, tree=..., variant=...)``."""

    subject: Subject
    tree: Path
    workload: str
    params: Mapping[str, Any]
    variant: Mapping[str, str]
    stages: Sequence[int]
    timeout: float = DEFAULT_TIMEOUT
    guard: treedigest.Guard | None = None

    def child_fields(self) -> dict[str, Any]:
        """What the python child's request (gates/measuring/_probe_child.py) takes of it."""
        return {'params': dict(self.params), 'variant': dict(self.variant), 'stages': list(self.stages)}
