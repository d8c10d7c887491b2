"""The time gate's interleaved comparison (``compare``) and its decision rule (``decide``), on
callables that each time one fresh prove: the protocol is in the time gate's docstring
(gates/checks/time.py). The time gate applies it to the change; the integrity gate runs the same
function with the spec's own ``budgets.time`` when it re-judges a ledger row a change adds
(gates/measuring/trust.py, issue 13.3). A metric is decided by the budget's threshold
(``TimeBudget.threshold()``, a ``gates.model.RatioBelow``), the object ``gates audit`` judges a
row's re-measured ratio with (``gates.contract.ledger.compare_row``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from gates.contract.metrics import TOTAL
from gates.contract.metrics import is_unit
from gates.contract.metrics import unit_metric
from gates.contract.metrics import unit_stages
from gates.contract.spec import TimeBudget
from gates.measuring import probe
from gates.measuring import stats
from gates.model import RatioBelow
from gates.model import Side

NOISE_FLOOR = 0.005      # seconds; see the module docstring and benchmarks/README.md
CONFIDENCE = 0.95        # two-sided; the sign test needs >= 6 pairs to reach it
DECIDED = 'decided: every judged metric\'s interval lies below the limit'
FAILED_EARLY = 'decided: a judged metric\'s interval lies at or above the limit'
CAPPED = 'max_pairs reached with a metric undecided'
RERUN = 'inconclusive after max_pairs: measured once more on fresh pairs'


def metrics_for(stages: Sequence[int], units: Sequence[Sequence[int]]) -> tuple[list[str], set[str]]:
    """Every metric measured, and those reported but not judged (stages inside a unit)."""
    grouped = {s for unit in units for s in unit}
    metrics = [TOTAL] + [str(s) for s in stages] + [unit_metric(u) for u in units]
    return metrics, {str(s) for s in grouped}


def describe(metric: str) -> str:
    if metric == TOTAL:
        return 'end to end'
    if is_unit(metric):
        return f'stages {" + ".join(str(s) for s in unit_stages(metric))} (one unit)'
    return f'stage {metric}'


@dataclasses.dataclass(frozen=True)
class Decision:
    metric: str                  # a metric key (gates/contract/metrics.py): 'total', '3', 'unit:0+8'
    ratios: tuple[float, ...]    # candidate / baseline, one per pair
    median: float
    interval: stats.Interval
    side: Side
    judged: bool                 # False: under the noise floor in both trees, or in a unit
    passed: bool
    conclusive: bool
    in_unit: bool = False        # a stage judged as part of a unit, reported for information

    def figures(self) -> str:
        """'median ratio 1.083 over 9 pairs, 96.1% CI [0.971, 1.274]': how findings and notes
        quote the decision."""
        return (f'median ratio {self.median:.3f} over {len(self.ratios)} pairs, '
                f'{self.interval.coverage:.1%} CI [{self.interval.low:.3f}, {self.interval.high:.3f}]')

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
    if is_unit(metric):
        return sum(run.stage_seconds[s] for s in unit_stages(metric))
    return run.stage_seconds[int(metric)]


def decide(
        metric: str,
        pairs: Sequence[Pair],
        threshold: RatioBelow,
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
    side = threshold.side(interval.low, interval.high)
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
    threshold = budget.threshold()

    def decisions() -> list[Decision]:
        return [decide(m, pairs, threshold, floor, confidence, m in in_unit) for m in metrics]

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
