"""What a gate receives: ``CheckContext`` (built once per run by the CLI) and its parts.

Builds on ``contract`` (the spec, the ledger) and ``vcs.changes`` (the paths a change touches).
"""
from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Callable
from collections.abc import Hashable
from pathlib import Path
from typing import TypeVar
from typing import cast

from gates.contract.ledger import Ledger
from gates.contract.spec import Spec
from gates.contract.spec import Stage
from gates.contract.spec import Workload
from gates.vcs.changes import ChangedPath

T = TypeVar('T')


class Measurements:
    """Per-run cache shared by the gates, so a workload is measured once per run.

    Keys are any hashable tuple chosen by the measuring module (gates/measuring/probe.py), e.g.
    ``('memory', str(tree), workload_id, tuple(sorted(variant.items())))``.
    """

    def __init__(self) -> None:
        self._values: dict[Hashable, object] = {}
        # Gates may run in threads (gates/session.py run_gates): a key is measured once, by the
        # first thread that asks; the others wait for its value.
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.RLock] = {}

    def get(self, key: Hashable, measure: Callable[[], T]) -> T:
        """The cached value for ``key``, measuring (once) on a miss."""
        if key in self._values:
            return cast(T, self._values[key])
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.RLock())
        with key_lock:
            if key not in self._values:
                self._values[key] = measure()
        return cast(T, self._values[key])

    def peek(self, key: Hashable) -> object | None:
        return self._values.get(key)

    def put(self, key: Hashable, value: object) -> None:
        self._values[key] = value

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclasses.dataclass
class CheckContext:
    """Everything a gate's ``run(ctx)`` may read. Gates never write to it, except ``measurements``.

    Two revisions with two roles (docs/gates.md, "The change and the oracle"):

    - the change: ``base_rev`` is the commit the change starts from (the pull request's
      merge-base with its target in CI; locally the merge-base with the upstream or main branch;
      HEAD in the hook), ``base_tree`` its export, ``changed`` the paths from it to the head.
      api, scope and integrity judge this.
    - the oracle: ``oracle_rev`` is the frozen baseline (the spec's ``baseline.ref``, or the
      commit the golden digests name when the tag is missing), ``oracle_tree`` its export.
      The measuring gates compare against it.

    ``head_tree`` is the tree under judgement: a private export of the working tree (tracked and
    untracked, never ignored files) or of the staged index in the hook. Every tree is removed
    by the CLI on exit, error and Ctrl-C. ``oracle_tree`` may be None only in contexts built by
    hand (tests); then it is exported on demand.
    """

    spec: Spec
    repo_root: Path
    base_rev: str
    head_tree: Path
    base_tree: Path
    tier: str
    workloads: tuple[Workload, ...]
    stage_under_conversion: Stage | None      # None when every stage is accepted
    ledger: Ledger
    changed: list[ChangedPath]
    measurements: Measurements = dataclasses.field(default_factory=Measurements)
    progress: Callable[[str], None] = _stderr
    oracle_rev: str = ''
    oracle_tree: Path | None = None

    def accepted_stages(self) -> tuple[int, ...]:
        return self.ledger.accepted_stages()

    def baseline_variant(self) -> dict[str, str]:
        """Every stage materialized: the oracle's variant."""
        return self.spec.variant(())

    def reference_variant(self) -> dict[str, str]:
        """The accepted stages converted, nothing else: what the ratchet compares against."""
        return self.spec.variant(self.accepted_stages())

    def candidate_variant(self) -> dict[str, str]:
        """The accepted stages plus the stage under conversion converted."""
        converting = () if self.stage_under_conversion is None else (self.stage_under_conversion.id,)
        return self.spec.variant(self.accepted_stages() + converting)
