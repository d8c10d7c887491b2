"""The time gate: the candidate proves in less than ``ratio_lt`` x the baseline's time,
end to end and per stage, judged only by ratios measured side by side in this run.

Protocol, per workload: one untimed warm-up run of each tree (both must work, and their proofs
are compared), then pairs of fresh processes, baseline and candidate, the order alternating
(A B, B A, A B, ...) so that drift in the machine's load hits both sides alike. Each pair gives
one ratio per metric (total and every stage): candidate seconds / baseline seconds. A metric's
figure is the median of its per-pair ratios, with the exact sign-test interval (gates/measuring/stats.py).

Decision (``decide``): after ``min_pairs`` pairs and each pair after that, a metric is decided
when its interval lies entirely below ``ratio_lt`` (pass) or at/above it (fail). Pairs are added
until every judged metric is decided, one has failed, or ``max_pairs`` is reached (never fewer
than the pairs a 95 % interval needs: a smaller ``max_pairs`` is raised to that, with a note).
A metric still undecided then is never settled by its median (issue 13.2): the workload is
measured once more on fresh pairs, and what is still undecided after that is INCONCLUSIVE, a
verdict of its own (``Verdict.inconclusive``, exit 4 from ``gates check`` when no gate failed).
A stage under NOISE_FLOOR seconds (median) in both trees is reported but not judged: a single
scheduler preemption on a shared machine (a few ms) could double it. Every report says why the
pairs stopped: decided (every interval clear of the limit), failed (one interval above it) or
max_pairs reached (the medians decide what is still open).

Units (``budgets.time.units``, e.g. ``[[0, 8]]``): the stages of a unit are judged as ONE
metric, the sum of their in-stage times against the baseline's sum, under the same ratio_lt;
their own ratios are reported, not judged. The commitment (stage 0) and its opening (stage 8)
form such a unit in this project's spec: a streaming opening recomputes the encoded rows, about
a stage-0 encode, while the baseline's opening reuses the matrix stage 0 kept, so no streaming
algorithm can hold stage 8 alone to 2x; the pair's sum can. End to end is always judged.

Never compare with an absolute time from another run: machines and their load differ.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.reports import benchjson
from gates.measuring import measure
from gates.measuring import probe
from gates.measuring import stats
from gates.context import CheckContext
from gates.model import Finding
from gates.model import Verdict
from gates.contract.spec import TimeBudget
from gates.contract.spec import Workload

GATE = 'time'
NOISE_FLOOR = 0.005      # seconds; see the module docstring and benchmarks/README.md
CONFIDENCE = 0.95        # two-sided; the sign test needs >= 6 pairs to reach it
TOTAL = 'total'
UNIT = 'unit:'           # metric name prefix of a unit: 'unit:0+8'
DECIDED = 'decided: every judged metric\'s interval lies below the limit'
FAILED_EARLY = 'decided: a judged metric\'s interval lies at or above the limit'
CAPPED = 'max_pairs reached with a metric undecided'
RERUN = 'inconclusive after max_pairs: measured once more on fresh pairs'


def unit_metric(unit: Sequence[int]) -> str:
    return UNIT + '+'.join(str(s) for s in unit)


def unit_stages(metric: str) -> list[int]:
    return [int(s) for s in metric[len(UNIT):].split('+')]


def metrics_for(stages: Sequence[int], units: Sequence[Sequence[int]]) -> tuple[list[str], set[str]]:
    """Every metric measured, and those reported but not judged (stages inside a unit)."""
    grouped = {s for unit in units for s in unit}
    metrics = [TOTAL] + [str(s) for s in stages] + [unit_metric(u) for u in units]
    return metrics, {str(s) for s in grouped}


def describe(metric: str) -> str:
    if metric == TOTAL:
        return 'end to end'
    if metric.startswith(UNIT):
        return f'stages {" + ".join(str(s) for s in unit_stages(metric))} (one unit)'
    return f'stage {metric}'


@dataclasses.dataclass(frozen=True)
class Decision:
    metric: str                  # 'total' or the stage id as a string
    ratios: tuple[float, ...]    # candidate / baseline, one per pair
    median: float
    interval: stats.Interval
    side: stats.Side
    judged: bool                 # False: under the noise floor in both trees, or in a unit
    passed: bool
    conclusive: bool
    in_unit: bool = False        # a stage judged as part of a unit, reported for information

    def to_dict(self) -> dict[str, Any]:
        return {
            'metric': self.metric, 'ratios': list(self.ratios), 'median': self.median,
            'ci': [self.interval.low, self.interval.high], 'ci_coverage': self.interval.coverage,
            'side': self.side, 'judged': self.judged, 'passed': self.passed,
            'conclusive': self.conclusive, 'in_unit': self.in_unit,
        }


@dataclasses.dataclass(frozen=True)
class Pair:
    baseline: probe.TimeRun
    candidate: probe.TimeRun
    baseline_first: bool


def seconds(run: probe.TimeRun, metric: str) -> float:
    if metric == TOTAL:
        return run.total_seconds
    if metric.startswith(UNIT):
        return sum(run.stage_seconds[s] for s in unit_stages(metric))
    return run.stage_seconds[int(metric)]


def decide(
        metric: str,
        pairs: Sequence[Pair],
        limit: float,
        floor: float = NOISE_FLOOR,
        confidence: float = CONFIDENCE,
        in_unit: bool = False,
) -> Decision:
    """The verdict on one metric from the pairs so far; an undecided metric gets the
    max_pairs rule (median < limit passes), which only counts once no more pairs will come.
    ``in_unit``: a stage judged inside a unit; its decision is reported, never judged."""
    ratios = tuple(seconds(p.candidate, metric) / max(seconds(p.baseline, metric), 1e-9) for p in pairs)
    mid = stats.median(ratios)
    interval = stats.median_interval(ratios, confidence)
    side = stats.side_of(interval, limit)
    judged = not in_unit and (metric == TOTAL or max(
        stats.median([seconds(p.baseline, metric) for p in pairs]),
        stats.median([seconds(p.candidate, metric) for p in pairs]),
    ) >= floor)
    conclusive = side != 'inconclusive'
    passed = not judged or side == 'below'
    return Decision(metric, ratios, mid, interval, side, judged, passed, conclusive, in_unit)


def _settled(decisions: Sequence[Decision]) -> str | None:
    """Why no more pairs are needed (None: keep measuring)."""
    judged = [d for d in decisions if d.judged]
    if any(d.side == 'above' for d in judged):
        return FAILED_EARLY
    if all(d.side != 'inconclusive' for d in judged):
        return DECIDED
    return None


def max_pairs(budget: TimeBudget, confidence: float = CONFIDENCE) -> int:
    """The spec's max_pairs, raised to the pairs an interval at ``confidence`` needs: with fewer,
    no metric could ever be decided, and every verdict would be inconclusive."""
    return max(budget.max_pairs, stats.samples_needed(confidence))


def undecided(decisions: Sequence[Decision]) -> list[Decision]:
    return [d for d in decisions if d.judged and not d.conclusive]


def compare(
        run_baseline: Callable[[], probe.TimeRun],
        run_candidate: Callable[[], probe.TimeRun],
        metrics: Sequence[str],
        budget: TimeBudget,
        progress: Callable[[str], None] = probe.quiet,
        floor: float = NOISE_FLOOR,
        confidence: float = CONFIDENCE,
        in_unit: frozenset[str] | set[str] = frozenset(),
) -> tuple[list[Pair], list[Decision], str]:
    """Interleaved pairs until every judged metric is decided, one fails, or max_pairs; the
    pairs, the decisions and why it stopped (DECIDED, FAILED_EARLY or CAPPED)."""
    pairs: list[Pair] = []

    def decisions() -> list[Decision]:
        return [decide(m, pairs, budget.ratio_lt, floor, confidence, m in in_unit) for m in metrics]

    reason = CAPPED
    while len(pairs) < max_pairs(budget):
        baseline_first = len(pairs) % 2 == 0
        if baseline_first:
            base, cand = run_baseline(), run_candidate()
        else:
            cand, base = run_candidate(), run_baseline()
        pairs.append(Pair(base, cand, baseline_first))
        progress(
            f'pair {len(pairs)} (of at most {max_pairs(budget)}): candidate/baseline '
            f'{cand.total_seconds / max(base.total_seconds, 1e-9):.3f}',
        )
        if len(pairs) < budget.min_pairs:
            continue
        settled = _settled(decisions())
        if settled is not None:
            reason = settled
            break
    progress(f'stopped after {len(pairs)} pairs: {reason}')
    return pairs, decisions(), reason


UNIT_WHY = 'judged inside its unit (budgets.time.units)'
OPT_WHY = 'not the optimisation target (spec target)'   # issue 8.5: reported, not judged


def findings_for(
        workload: str, decisions: Sequence[Decision], limit: float, reported_why: str = UNIT_WHY,
) -> tuple[list[Finding], list[str]]:
    findings, notes = [], []
    for d in decisions:
        what = describe(d.metric)
        stage = None if d.metric == TOTAL or d.metric.startswith(UNIT) else int(d.metric)
        ci = f'{d.interval.coverage:.1%} CI [{d.interval.low:.3f}, {d.interval.high:.3f}]'
        figures = f'median ratio {d.median:.3f} over {len(d.ratios)} pairs, {ci}'
        if d.in_unit:
            notes.append(f'{workload} {what}: {reported_why}, reported only ({figures})')
        elif not d.judged:
            notes.append(f'{workload} {what}: under the {NOISE_FLOOR * 1e3:g} ms noise floor, not judged ({figures})')
        elif d.side == 'above':
            findings.append(Finding(
                GATE, f'{what}: {figures} is not below {limit:g}',
                workload=workload, stage=stage, figure=d.median,
            ))
        elif not d.passed:
            findings.append(Finding(
                GATE, f'{what}: INCONCLUSIVE, {figures} straddles {limit:g} after max_pairs and '
                      f'once more on fresh pairs; neither pass nor fail: rerun on a quieter machine',
                workload=workload, stage=stage, figure=d.median,
            ))
    return findings, notes


INCONCLUSIVE_MARK = 'INCONCLUSIVE'


def is_inconclusive(finding: Finding) -> bool:
    return finding.gate == GATE and INCONCLUSIVE_MARK in finding.message


def check_workload(
        ctx: CheckContext, workload: Workload, base: Path, base_variant: Mapping[str, str],
        cand_variant: Mapping[str, str], warmup: bool,
) -> tuple[list[Pair], list[Decision], list[str], str]:
    stages = measure.stage_ids(ctx.spec)
    subject = ctx.spec.subject
    guard = measure.guard(ctx)

    def run_baseline() -> probe.TimeRun:
        return probe.time_run(subject, base, workload.id, workload.params, base_variant, stages, guard=guard)

    def run_candidate() -> probe.TimeRun:
        return probe.time_run(
            subject, ctx.head_tree, workload.id, workload.params, cand_variant, stages, guard=guard,
        )

    notes = []
    if warmup:
        ctx.progress(f'time {workload.id}: warm-up runs')
        first_base, first_cand = run_baseline(), run_candidate()
        if first_base.proof_sha256 != first_cand.proof_sha256:
            notes.append(
                f'{workload.id}: the candidate proof differs from the baseline proof, so the times '
                f'compare different outputs (the proof gate judges the bytes)',
            )
    ctx.progress(f'time {workload.id}: interleaved pairs')
    metrics, in_unit = metrics_for(stages, ctx.spec.budgets.time.units)
    if ctx.spec.mode == 'optimisation':
        # Issue 8.5: only the target (one stage, or end to end) is judged under ratio_lt; the
        # other metrics are reported like the stages of a unit.
        target = TOTAL if ctx.spec.target is None else str(ctx.spec.target)
        in_unit = {m for m in metrics if m != target}
    budget = ctx.spec.budgets.time

    def say(message: str) -> None:
        ctx.progress(f'time {workload.id}: {message}')

    pairs, decisions, reason = compare(run_baseline, run_candidate, metrics, budget, say, in_unit=in_unit)
    if reason == CAPPED and undecided(decisions):
        # Never decided by a median: one more round on fresh pairs, judged on its own.
        first = ', '.join(f'{describe(d.metric)} {d.median:.3f} [{d.interval.low:.3f}, '
                          f'{d.interval.high:.3f}]' for d in undecided(decisions))
        notes.append(f'{workload.id}: undecided after {len(pairs)} pairs ({first}); measured once '
                     f'more on fresh pairs')
        say(RERUN)
        pairs, decisions, reason = compare(run_baseline, run_candidate, metrics, budget, say, in_unit=in_unit)
        reason = f'{reason} (after a rerun on fresh pairs)'
    notes.append(f'{workload.id}: stopped after {len(pairs)} pairs: {reason}')
    return pairs, decisions, notes, reason


def benchmarks(
        measured: Mapping[str, tuple[list[Pair], list[Decision]]],
        base_variant: Mapping[str, str],
        cand_variant: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One pytest-benchmark record per workload x side x metric (rounds = pairs); the
    candidate's record carries the per-pair ratios and the decision in ``extra_info``."""
    out = []
    for wid, (pairs, decisions) in sorted(measured.items()):
        for decision in decisions:
            for side in ('baseline', 'candidate'):
                times = [seconds(getattr(p, side), decision.metric) for p in pairs]
                extra: dict[str, Any] = {
                    'variant': dict(base_variant if side == 'baseline' else cand_variant),
                    'order': ['baseline first' if p.baseline_first else 'candidate first' for p in pairs],
                }
                if side == 'candidate':
                    extra['decision'] = decision.to_dict()
                out.append({
                    'group': f'{wid} {decision.metric}',
                    'name': f'{side}[{wid}-{decision.metric}]',
                    'fullname': f'stagegate/time::{side}[{wid}-{decision.metric}]',
                    'params': {'workload': wid, 'metric': decision.metric, 'side': side},
                    'param': f'{wid}-{decision.metric}',
                    'extra_info': extra,
                    'options': {
                        'timer': 'perf_counter', 'fresh_process': True, 'interleaved': True,
                        'min_rounds': len(pairs), 'warmup': False, 'disable_gc': False,
                        'max_time': None, 'min_time': None,
                    },
                    'stats': {**stats.summary(times), 'data': times},
                })
    return out


def run(ctx: CheckContext, *, out_dir: Path | None = None, warmup: bool = True) -> Verdict:
    """Judge every workload of the tier; write pytest-benchmark JSON to ``out_dir``
    (default ``<repo>/.stagegate/time``) and name it in the verdict's details."""
    limit = ctx.spec.budgets.time.ratio_lt
    findings: list[Finding] = []
    notes: list[str] = []
    details: dict[str, Any] = {}
    measured: dict[str, tuple[list[Pair], list[Decision]]] = {}
    budget = ctx.spec.budgets.time
    if budget.max_pairs < stats.samples_needed(CONFIDENCE):
        notes.append(
            f'budgets.time.max_pairs is {budget.max_pairs}: a {CONFIDENCE:.0%} interval needs '
            f'{stats.samples_needed(CONFIDENCE)} pairs, so up to {max_pairs(budget)} are measured',
        )
    cand_variant: dict[str, str] = {}
    base_variant: dict[str, str] = {}
    with measure.baseline_tree(ctx) as base:
        for workload in ctx.workloads:
            try:
                cand_variant = measure.candidate_variant(ctx)
                base_variant = measure.effective(ctx, base, ctx.baseline_variant())
                pairs, decisions, noted, reason = check_workload(
                    ctx, workload, base, base_variant, cand_variant, warmup,
                )
            except probe.ProbeFailed as e:
                findings.append(Finding(GATE, f'time run failed: {e.message}', workload=workload.id))
                details[workload.id] = {'error': e.message, 'log': e.log}
                continue
            measured[workload.id] = (pairs, decisions)
            found, more = findings_for(
                workload.id, decisions, limit, OPT_WHY if ctx.spec.mode == 'optimisation' else UNIT_WHY,
            )
            findings += found
            notes += noted + more
            details[workload.id] = {
                'pairs': len(pairs),
                'stopped': reason,
                'ratio_total': decisions[0].median,
                'ratio_stages': {d.metric: d.median for d in decisions[1:] if not d.metric.startswith(UNIT)},
                'ratio_units': {d.metric: d.median for d in decisions if d.metric.startswith(UNIT)},
                'metrics': [d.to_dict() for d in decisions],
                'variant': {'baseline': dict(base_variant), 'candidate': dict(cand_variant)},
            }
    path = benchjson.write(
        out_dir or measure.output_dir(ctx.repo_root, 'time'), ctx.repo_root,
        benchmarks(measured, base_variant, cand_variant),
        {'gate': GATE, 'passed': not findings, 'ratio_lt': limit, 'noise_floor_s': NOISE_FLOOR,
         'units': [list(u) for u in budget.units],
         'confidence': CONFIDENCE, 'workloads': details, 'notes': notes},
    )
    summary = []
    for wid, d in details.items():
        if 'stopped' not in d:
            continue
        units = ''.join(f'; {describe(m)} {r:.3f}' for m, r in d['ratio_units'].items())
        summary.append(f'{wid}: end to end {d["ratio_total"]:.3f}{units}; stopped after '
                       f'{d["pairs"]} pairs, {d["stopped"]}')
    inconclusive = bool(findings) and all(is_inconclusive(f) for f in findings)
    return Verdict(GATE, not findings, tuple(findings), {
        'workloads': details, 'notes': notes, 'json': str(path), 'noise_floor_s': NOISE_FLOOR,
        'confidence': CONFIDENCE, 'summary': summary, 'inconclusive': inconclusive,
    }, inconclusive=inconclusive)
