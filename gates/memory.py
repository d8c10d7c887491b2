"""The memory gate: the stage under conversion's in-stage peak drops; no other stage's grows.

Figures are memray heap high-water marks (allocations, not pages), one fresh process per stage
(gates/probe.py): deterministic for deterministic code, so a small tolerance suffices. The
reference is the ledger's newest accepted figures for the workload, or, when the ledger holds
none, the baseline ref measured now with the reference variant.

Rules, per workload (``judge``):
- the stage under conversion, if the candidate really runs another backend there than the
  reference did, must be below ``(1 - margin) * reference``; if it runs the same backend it is
  "not yet converted": a note for ``check``, a failure when ``require_conversion`` (``accept``);
- every other stage (and an unconverted stage under conversion) must stay within
  ``max((1 + tolerance) * reference, reference + ARENA_SLACK)``;
- a stage without a figure on either side is a failure; the whole-run peak is reported.
A failing stage gets a memray flamegraph of the candidate's capture, named in the finding.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gates import measure
from gates import probe
from gates.context import CheckContext
from gates.model import Finding
from gates.model import StrictlyLower
from gates.model import Verdict
from gates.spec import Spec
from gates.spec import Workload

GATE = 'memory'
# CPython's small-object allocator takes memory from the OS in 1 MiB arenas (3.10+) and memray,
# which sees those requests rather than the objects, counts a whole arena when one more small
# object is kept alive across an arena boundary. Below that step a change is allocator noise.
ARENA_SLACK = 1 << 20


@dataclasses.dataclass(frozen=True)
class NotHigherThan:
    """current <= max((1 + tolerance) * reference, reference + slack)."""

    tolerance: float
    slack: int

    def fails(self, current: float, reference: float) -> str | None:
        bound = max((1.0 + self.tolerance) * reference, reference + self.slack)
        if current <= bound:
            return None
        return (
            f'{current:,.0f} B exceeds {bound:,.0f} B (reference {reference:,.0f} B plus '
            f'{self.tolerance:.1%}, at least {self.slack:,} B)'
        )


@dataclasses.dataclass(frozen=True)
class Reference:
    stage_peaks: Mapping[int, int]
    whole_run_peak: int | None
    variant: Mapping[str, str]
    source: str


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
        slack: int = ARENA_SLACK,
) -> Judgement:
    """Apply the rules above to one workload's figures (no measuring here)."""
    lower = StrictlyLower(spec.budgets.memory.margin)
    not_higher = NotHigherThan(spec.budgets.memory.tolerance, slack)
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
            row['rule'] = f'<= max((1 + {not_higher.tolerance:g}) x reference, reference + {slack} B)'
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
    return out


def reference_from_ledger(ctx: CheckContext, workload: str) -> Reference | None:
    """The newest accepted row holding ``workload``; its variant: the stages accepted by then."""
    accepted = ctx.ledger.accepted_stages()
    for row in reversed(ctx.ledger.rows):
        figures = row.workloads.get(workload)
        if figures is not None:
            done = [s for s in accepted if s <= row.stage]
            return Reference(
                {int(k): int(v) for k, v in figures.stage_peaks.items()}, figures.whole_run_peak,
                ctx.spec.variant(done), f'ledger row of stage {row.stage} ({row.commit[:12]})',
            )
    return None


def _flamegraphs(
        ctx: CheckContext,
        workload: Workload,
        variant: Mapping[str, str],
        judged: Judgement,
        run: probe.MemoryRun,
        capture_dir: Path,
        out_dir: Path | None,
) -> list[Finding]:
    """Each failing stage's finding, with the flamegraph of the candidate's capture named."""
    out = []
    for finding in judged.findings:
        if finding.stage is None:
            out.append(finding)
            continue
        folder = out_dir or measure.output_dir(ctx.repo_root, 'memory')
        target = folder / f'memory-{workload.id}-stage{finding.stage}.html'
        try:
            capture = run.captures.get(str(finding.stage))
            if capture is None or not capture.is_file():
                # A cached run from earlier in this process: its captures went with its gate run.
                capture = probe.memory_capture(
                    ctx.spec.subject, ctx.head_tree, workload.id, workload.params, variant,
                    measure.stage_ids(ctx.spec), finding.stage, capture_dir, label='again',
                )
            probe.flamegraph(capture, target)
            extra = f'; flamegraph: {target}'
        except probe.ProbeFailed as e:
            extra = f'; no flamegraph ({e.message})'
        out.append(dataclasses.replace(finding, message=finding.message + extra))
    return out


def check_workload(
        ctx: CheckContext,
        workload: Workload,
        capture_dir: Path,
        out_dir: Path | None,
        require_conversion: bool,
) -> tuple[list[Finding], list[str], dict[str, Any]]:
    try:
        variant = measure.candidate_variant(ctx)
        run = measure.memory(ctx, ctx.head_tree, workload, variant, capture_dir, 'candidate')
        reference = reference_from_ledger(ctx, workload.id)
        if reference is None:
            with measure.baseline_tree(ctx) as base:
                ref_variant = measure.effective(ctx, base, ctx.reference_variant())
                ref_run = measure.memory(ctx, base, workload, ref_variant, capture_dir, 'baseline')
            reference = Reference(
                ref_run.stage_peaks, ref_run.whole_run_peak, ref_variant,
                f'baseline ref {ctx.spec.baseline_ref} measured now',
            )
    except probe.ProbeFailed as e:
        return [Finding(GATE, f'memory run failed: {e.message}', workload=workload.id)], [], {
            'error': e.message, 'log': e.log,
        }
    under = ctx.stage_under_conversion.id if ctx.stage_under_conversion is not None else None
    judged = judge(
        ctx.spec, workload.id, under, run.stage_peaks, variant, reference, require_conversion,
    )
    details = {
        'candidate': {
            'variant': variant, 'whole_run_peak': run.whole_run_peak,
            'stage_peaks': {str(k): v for k, v in sorted(run.stage_peaks.items())},
        },
        'reference': {
            'source': reference.source, 'variant': dict(reference.variant),
            'whole_run_peak': reference.whole_run_peak,
            'stage_peaks': {str(k): v for k, v in sorted(reference.stage_peaks.items())},
        },
        'stages': judged.stages,
    }
    found = _flamegraphs(ctx, workload, variant, judged, run, capture_dir, out_dir)
    return found, judged.notes, details


def run(
        ctx: CheckContext, *, require_conversion: bool = False, out_dir: Path | None = None,
) -> Verdict:
    """Judge every workload of the tier. Flamegraphs of failing stages go to ``out_dir``
    (default ``<repo>/.stagegate/memory``); the memray captures themselves are deleted."""
    findings: list[Finding] = []
    notes: list[str] = []
    details: dict[str, Any] = {}
    unsupported = probe.memory_unsupported(ctx.spec.subject)
    if unsupported is not None:
        # Not a config error for the whole check: the other gates still judge this subject.
        return Verdict.fails(GATE, [Finding(GATE, unsupported)], {'unsupported': unsupported})
    capture_dir = Path(tempfile.mkdtemp(prefix='stagegate-memray-'))
    try:
        for workload in ctx.workloads:
            found, noted, details[workload.id] = check_workload(
                ctx, workload, capture_dir, out_dir, require_conversion,
            )
            findings += found
            notes += noted
    finally:
        shutil.rmtree(capture_dir, ignore_errors=True)
    return Verdict.from_findings(GATE, findings, {'workloads': details, 'notes': notes})
