"""The engine's vocabulary: findings, verdicts, thresholds and the one user-facing error."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import Literal
from typing import Protocol


class GateError(Exception):
    """Unusable input or configuration; the message is one sentence for the user (exit 2)."""


# The gates, in the order `gates check` runs them. The `ci` and `full` tiers always run all.
GATE_NAMES = ('api', 'scope', 'integrity', 'proof', 'memory', 'time')
ALWAYS_ALL_GATES = ('ci', 'full')

@dataclasses.dataclass(frozen=True)
class Finding:
    """One reason a gate failed (or a note it wants shown), with the evidence located."""

    gate: str
    message: str
    file: str | None = None
    line: int | None = None
    workload: str | None = None
    stage: int | None = None
    figure: float | None = None

    def location(self) -> str:
        if self.file is None:
            return ''
        if self.line is None:
            return self.file
        return f'{self.file}:{self.line}'

    def render(self) -> str:
        where = self.location()
        extra = []
        if self.stage is not None:
            extra.append(f'stage {self.stage}')
        if self.workload is not None:
            extra.append(f'workload {self.workload}')
        prefix = f'{where}: ' if where else ''
        suffix = f' [{", ".join(extra)}]' if extra else ''
        return f'{prefix}{self.message}{suffix}'

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A gate's answer. ``details`` holds the figures (JSON-serializable) the report shows."""

    gate: str
    passed: bool
    findings: tuple[Finding, ...] = ()
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # Not passed, yet nothing was shown to fail: the time gate's intervals still straddled the
    # limit after a rerun on fresh pairs (issue 13.2). Exit 4 when no other gate failed.
    inconclusive: bool = False

    @classmethod
    def ok(cls, gate: str, details: Mapping[str, Any] | None = None) -> Verdict:
        return cls(gate, True, (), dict(details or {}))

    @classmethod
    def fails(
            cls,
            gate: str,
            findings: Iterable[Finding],
            details: Mapping[str, Any] | None = None,
    ) -> Verdict:
        found = tuple(findings)
        if not found:
            # A failure without a reason would leave the user guessing.
            found = (Finding(gate, f'{gate} gate failed without a finding'),)
        return cls(gate, False, found, dict(details or {}))

    @classmethod
    def from_findings(
            cls,
            gate: str,
            findings: Iterable[Finding],
            details: Mapping[str, Any] | None = None,
    ) -> Verdict:
        """Passed iff there are no findings."""
        found = tuple(findings)
        return cls(gate, not found, found, dict(details or {}))

    def to_dict(self) -> dict[str, Any]:
        return {
            'gate': self.gate,
            'passed': self.passed,
            'inconclusive': self.inconclusive,
            'findings': [f.to_dict() for f in self.findings],
            'details': dict(self.details),
        }


class Threshold(Protocol):
    """A budget: ``fails`` returns None when ``current`` is acceptable, else a sentence why not."""

    def fails(self, current: float, reference: float) -> str | None: ...


# Where an interval of ratios lies against a RatioBelow's limit.
Side = Literal['below', 'above', 'inconclusive']


@dataclasses.dataclass(frozen=True)
class RatioBelow:
    """current / reference < limit (time: candidate / baseline < 2.0).

    The time budget's one rule (``TimeBudget.threshold``): the time gate (and the integrity
    gate's re-judging of a ledger row) decides each metric's interval of per-pair ratios with
    ``side``; ``gates audit`` judges a row's re-measured ratio with ``fails``."""

    limit: float

    def holds(self, ratio: float) -> bool:
        """Pass means strictly below the limit."""
        return ratio < self.limit

    def side(self, low: float, high: float) -> Side:
        """Where the interval [low, high] of ratios lies: wholly below the limit (pass), at or
        above it (fail), or across it (not decided)."""
        if self.holds(high):
            return 'below'
        if low >= self.limit:
            return 'above'
        return 'inconclusive'

    def fails(self, current: float, reference: float) -> str | None:
        if reference <= 0:
            return f'reference is {reference:g}, cannot form a ratio'
        ratio = current / reference
        if self.holds(ratio):
            return None
        return (
            f'ratio {ratio:.3f} ({current:.4g} / {reference:.4g}) '
            f'is not below {self.limit:g}'
        )


@dataclasses.dataclass(frozen=True)
class StrictlyLower:
    """current < (1 - margin) * reference (the converted stage's peak must drop)."""

    margin: float

    def fails(self, current: float, reference: float) -> str | None:
        bound = (1.0 - self.margin) * reference
        if current < bound:
            return None
        return (
            f'{current:.6g} is not below {bound:.6g} '
            f'(reference {reference:.6g} minus {self.margin:.1%})'
        )


@dataclasses.dataclass(frozen=True)
class NotHigher:
    """current <= (1 + tolerance) * reference (the other stages may not grow)."""

    tolerance: float

    def fails(self, current: float, reference: float) -> str | None:
        bound = (1.0 + self.tolerance) * reference
        if current <= bound:
            return None
        return (
            f'{current:.6g} exceeds {bound:.6g} '
            f'(reference {reference:.6g} plus {self.tolerance:.1%})'
        )
