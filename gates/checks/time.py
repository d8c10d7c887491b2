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
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.reports import benchjson
from gates.measuring import measure
from gates.measuring import probe
from gates.measuring import stats
from gates.measuring import time_rule
from gates.context import CheckContext
from gates.contract import metrics
from gates.contract.metrics import TOTAL
from gates.model import Finding
from gates.model import RatioBelow
from gates.model import Verdict
from gates.contract.spec import Workload

GATE = 'time'
# The interleaved comparison and its decision rule (gates/measuring/time_rule.py), where the
# integrity gate runs them too when it re-judges a ledger row (issue 13.3): the same objects.
NOISE_FLOOR = time_rule.NOISE_FLOOR
CONFIDENCE = time_rule.CONFIDENCE
DECIDED = time_rule.DECIDED
FAILED_EARLY = time_rule.FAILED_EARLY
CAPPED = time_rule.CAPPED
RERUN = time_rule.RERUN
metrics_for = time_rule.metrics_for
describe = time_rule.describe
Decision = time_rule.Decision
Pair = time_rule.Pair
seconds = time_rule.seconds
decide = time_rule.decide
max_pairs = time_rule.max_pairs
undecided = time_rule.undecided
compare = time_rule.compare



UNIT_WHY = 'judged inside its unit (budgets.time.units)'
OPT_WHY = 'not the optimisation target (spec target)'   # issue 8.5: reported, not judged


def findings_for(
        workload: str, decisions: Sequence[Decision], threshold: RatioBelow, reported_why: str = UNIT_WHY,
) -> tuple[list[Finding], list[str]]:
    findings, notes = [], []
    limit = threshold.limit
    for d in decisions:
        what = describe(d.metric)
        stage = metrics.stage_of(d.metric)
        figures = d.figures()
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
    baseline = measure.request(ctx.spec, base, workload, base_variant, measure.guard(ctx))
    candidate = dataclasses.replace(baseline, tree=ctx.head_tree, variant=cand_variant)

    def run_baseline() -> probe.TimeRun:
        return probe.time(baseline)

    def run_candidate() -> probe.TimeRun:
        return probe.time(candidate)

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
    budget = ctx.spec.budgets.time
    threshold = budget.threshold()
    findings: list[Finding] = []
    notes: list[str] = []
    details: dict[str, Any] = {}
    measured: dict[str, tuple[list[Pair], list[Decision]]] = {}
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
                workload.id, decisions, threshold, OPT_WHY if ctx.spec.mode == 'optimisation' else UNIT_WHY,
            )
            findings += found
            notes += noted + more
            details[workload.id] = {
                'pairs': len(pairs),
                'stopped': reason,
                'ratio_total': decisions[0].median,
                'ratio_stages': {d.metric: d.median for d in decisions[1:] if not metrics.is_unit(d.metric)},
                'ratio_units': {d.metric: d.median for d in decisions if metrics.is_unit(d.metric)},
                'metrics': [d.to_dict() for d in decisions],
                'variant': {'baseline': dict(base_variant), 'candidate': dict(cand_variant)},
            }
    path = benchjson.write(
        out_dir or measure.output_dir(ctx.repo_root, 'time'), ctx.repo_root,
        benchmarks(measured, base_variant, cand_variant),
        {'gate': GATE, 'passed': not findings, 'ratio_lt': threshold.limit, 'noise_floor_s': NOISE_FLOOR,
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
