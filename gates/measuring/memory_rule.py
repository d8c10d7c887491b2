"""The memory gate's rule, on figures already measured (no measuring here): what "lower" and
"not higher" mean against a reference, per stage and for the whole run (``judge``), and how two
references combine (``lower_of``). The memory gate (gates/checks/memory.py) applies it to the
change; the integrity gate applies the same functions, not a copy, when it re-judges a ledger
row a change adds (gates/measuring/trust.py, issue 13.3). The rules are listed in the memory
gate's docstring.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from gates.contract import noise as noise_mod
from gates.contract.ledger import Row
from gates.contract.noise import Noise
from gates.contract.spec import Spec
from gates.contract.spec import Stage
from gates.model import Finding
from gates.model import StrictlyLower

GATE = 'memory'   # the rule's findings are the memory gate's; integrity re-words them per row


@dataclasses.dataclass(frozen=True)
class NotHigherThan:
    """current <= reference + slack (or (1 + tolerance) * reference, if an older spec sets a
    proportional tolerance and that is larger)."""

    tolerance: float
    slack: int

    def bound(self, reference: float) -> float:
        return max((1.0 + self.tolerance) * reference, reference + self.slack)

    def rule(self) -> str:
        if self.tolerance:
            return f'<= max((1 + {self.tolerance:g}) x reference, reference + {self.slack:,} B)'
        return f'<= reference + {self.slack:,} B'

    def fails(self, current: float, reference: float) -> str | None:
        bound = self.bound(reference)
        if current <= bound:
            return None
        extra = f'{self.tolerance:.1%}, at least {self.slack:,} B' if self.tolerance else f'{self.slack:,} B'
        return (
            f'{current:,.0f} B exceeds {bound:,.0f} B (reference {reference:,.0f} B plus {extra}; '
            f'+{current - reference:,.0f} B)'
        )


@dataclasses.dataclass(frozen=True)
class Reference:
    stage_peaks: Mapping[int, int]
    whole_run_peak: int | None
    variant: Mapping[str, str]
    source: str
    retained: Mapping[int, int] = dataclasses.field(default_factory=dict)   # empty: not known


@dataclasses.dataclass(frozen=True)
class Judgement:
    findings: list[Finding]
    notes: list[str]
    stages: dict[str, dict[str, Any]]


def judge(
        spec: Spec,
        workload: str,
        under: int | None,
        candidate: Mapping[int, int],
        candidate_variant: Mapping[str, str],
        reference: Reference,
        require_conversion: bool,
        slack: int | None = None,
        whole_run_peak: int | None = None,
        retained: Mapping[int, int] | None = None,
        noise: Noise | None = None,
) -> Judgement:
    """Apply the rules above to one workload's figures (no measuring here). ``slack``
    overrides the spec's tolerance_bytes; ``noise``: the subject's recorded noise, whose
    per-figure bound replaces tolerance_bytes where it records the figure; ``whole_run_peak``:
    the candidate's, judged when both it and the reference's are known."""
    budget = spec.budgets.memory
    if spec.mode == 'optimisation':
        under = None   # nothing converts (issue 8.5): every stage and the whole run not higher
    lower = StrictlyLower(budget.margin)

    def bound_of(figure: str) -> NotHigherThan:
        if slack is not None:
            return NotHigherThan(budget.tolerance, slack)
        if noise is None:
            return NotHigherThan(budget.tolerance, budget.tolerance_bytes)
        return NotHigherThan(budget.tolerance, noise.bound(workload, figure, budget.tolerance_bytes))

    out = Judgement([], [], {})
    for stage in spec.stages:
        sid = stage.id
        now, ref = candidate.get(sid), reference.stage_peaks.get(sid)
        row: dict[str, Any] = {'candidate': now, 'reference': ref, 'rule': None, 'judged': False}
        out.stages[str(sid)] = row
        if now is None or ref is None:
            side = 'candidate' if now is None else f'reference ({reference.source})'
            out.findings.append(Finding(
                GATE, f'stage {sid} ({stage.name}): no in-stage peak measured for the {side}',
                workload=workload, stage=sid,
            ))
            continue
        row['judged'] = True
        row['ratio'] = now / ref if ref else None
        backend, was = candidate_variant.get(str(sid)), reference.variant.get(str(sid))
        why: str | None
        if sid == under and backend != was:
            row['rule'] = f'< (1 - {lower.margin:g}) x reference'
            why = lower.fails(now, ref)
        else:
            not_higher = bound_of(noise_mod.stage_key(sid))
            row['rule'] = not_higher.rule()
            why = not_higher.fails(now, ref)
            if sid == under:
                note = (
                    f'stage {sid} ({stage.name}) not yet converted: it runs {backend} as the '
                    f'reference did ({now:,} B vs {ref:,} B)'
                )
                if require_conversion:
                    why = why or note
                else:
                    out.notes.append(f'{workload}: {note}')
        if why is not None:
            out.findings.append(Finding(
                GATE, f'stage {sid} ({stage.name}) in-stage peak: {why}',
                workload=workload, stage=sid, figure=float(now),
            ))
        kept, kept_ref = (retained or {}).get(sid), reference.retained.get(sid)
        if kept is not None and kept_ref is not None:
            _judge_retained(stage, workload, kept, kept_ref, bound_of(noise_mod.retained_key(sid)), row, out)
    _judge_whole(spec, workload, candidate_variant, reference, whole_run_peak, lower,
                 bound_of(noise_mod.WHOLE), out)
    return out


def _judge_retained(
        stage: Stage, workload: str, kept: int, kept_ref: int, bound: NotHigherThan,
        row: dict[str, Any], out: Judgement,
) -> None:
    """What a stage keeps alive at its exit may not grow beyond ``bound`` either."""
    row['retained'] = {'candidate': kept, 'reference': kept_ref}
    row['retained']['rule'] = bound.rule()
    kept_why = bound.fails(kept, kept_ref)
    if kept_why is not None:
        out.findings.append(Finding(
            GATE, f'stage {stage.id} ({stage.name}) keeps more alive at its exit: {kept_why}',
            workload=workload, stage=stage.id, figure=float(kept),
        ))


def _judge_whole(
        spec: Spec,
        workload: str,
        candidate_variant: Mapping[str, str],
        reference: Reference,
        now: int | None,
        lower: StrictlyLower,
        not_higher: NotHigherThan,
        out: Judgement,
) -> None:
    ref = reference.whole_run_peak
    row: dict[str, Any] = {'candidate': now, 'reference': ref, 'rule': None, 'judged': False}
    out.stages['whole'] = row
    if now is None or ref is None:
        return
    row['judged'] = True
    row['ratio'] = now / ref if ref else None
    # Optimisation mode runs one variant on both sides: the whole run may only not grow.
    all_converted = spec.mode == 'conversion' and all(
        candidate_variant.get(str(s.id)) == spec.candidate_variant for s in spec.stages
    )
    if all_converted:
        row['rule'] = f'< (1 - {lower.margin:g}) x reference (every stage converted)'
        why = lower.fails(now, ref)
    else:
        row['rule'] = not_higher.rule()
        why = not_higher.fails(now, ref)
    if why is not None:
        out.findings.append(Finding(
            GATE, f'whole-run peak: {why}', workload=workload, figure=float(now),
        ))


def from_ledger(spec: Spec, rows: Sequence[Row], workload: str) -> Reference | None:
    """The reference the ledger gives: the newest of ``rows`` holding ``workload``, if this
    engine's memory method measured it (another instrument's figures are none; the base
    measured now stands in); its variant: the stages of the rows up to it converted."""
    for i in range(len(rows) - 1, -1, -1):
        row = rows[i]
        figures = row.workloads.get(workload)
        if figures is None:
            continue
        if not row.measured_like_this_engine(spec.budgets.memory.measure):
            return None
        return Reference(
            {int(k): int(v) for k, v in figures.stage_peaks.items()}, figures.whole_run_peak,
            spec.variant(tuple(r.stage for r in rows[:i + 1])),
            f'ledger row of stage {row.stage} ({row.commit[:12]})',
        )
    return None


def lower_of(first: Reference, second: Reference) -> Reference:
    """Per figure, the lower of two references (the ratchet tightens, never loosens): a stage
    or whole-run figure missing on one side is the other's."""
    def low(a: int | None, b: int | None) -> int | None:
        return b if a is None else a if b is None else min(a, b)

    stages = {k: v for k in {*first.stage_peaks, *second.stage_peaks}
              if (v := low(first.stage_peaks.get(k), second.stage_peaks.get(k))) is not None}
    kept = {k: v for k in {*first.retained, *second.retained}
            if (v := low(first.retained.get(k), second.retained.get(k))) is not None}
    return Reference(
        stages, low(first.whole_run_peak, second.whole_run_peak), first.variant,
        f'the lower of {first.source} and {second.source}', kept,
    )
