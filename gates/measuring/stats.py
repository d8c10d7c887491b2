"""Small, dependency-free statistics for the time gate.

The time gate compares two trees by the *ratio* of their timings inside one pair of runs, never
by absolute times from different runs (a shared machine drifts by tens of percent between runs).
It summarises the per-pair ratios by their median and decides with a distribution-free
confidence interval for that median: the order-statistic interval behind the sign test
(e.g. Hollander, Wolfe & Chicken, *Nonparametric Statistical Methods*, 3rd ed., section 3.6).
It assumes nothing about the shape of the noise, so one pair slowed down by a neighbour's job
moves the interval by one rank, not by the size of the hiccup.

``summary`` gives the fields pytest-benchmark stores per benchmark, with the same definitions,
so the gate's JSON loads in ``pytest-benchmark compare``.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from bisect import bisect_left
from bisect import bisect_right
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Interval:
    """A confidence interval for a median; ``coverage`` is the exact achieved level."""

    low: float
    high: float
    coverage: float

    def informative(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError('median of no values')
    return float(statistics.median(values))


def binomial_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exact (integers until the final division)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return float(sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def median_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Order-statistic interval [x_(k), x_(n+1-k)] for the median, with the largest k whose
    exact coverage ``1 - 2 P(X <= k-1)`` still reaches ``confidence``.

    With too few values for the requested level (n < 6 at 95 %) no such k exists: the interval
    is (-inf, inf), which decides nothing, so a sequential caller simply adds more samples.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    data = sorted(values)
    n = len(data)
    best: Interval | None = None
    for k in range(1, n // 2 + 1):
        coverage = 1.0 - 2.0 * binomial_half_cdf(k - 1, n)
        if coverage < confidence:
            break
        best = Interval(data[k - 1], data[n - k], coverage)
    if best is None:
        return Interval(-math.inf, math.inf, 1.0)
    return best


def samples_needed(confidence: float) -> int:
    """The smallest n for which ``median_interval`` can be informative at ``confidence``."""
    n = 1
    while 1.0 - 2.0 * 0.5 ** n < confidence:
        n += 1
    return n


def _q1(data: Sequence[float]) -> float:
    # Quartiles as pytest-benchmark computes them (Wikipedia's methods 2 and 3), so that
    # its compare/histogram tools read the same numbers we wrote.
    n = len(data)
    if n == 1:
        return data[0]
    if n % 2:
        m, q = n // 4, n % 4
        if q == 1:
            return 0.25 * data[m - 1] + 0.75 * data[m]
        return 0.75 * data[m] + 0.25 * data[m + 1]
    return float(statistics.median(data[: n // 2]))


def _q3(data: Sequence[float]) -> float:
    n = len(data)
    if n == 1:
        return data[0]
    if n % 2:
        m, q = n // 4, n % 4
        if q == 1:
            return 0.75 * data[3 * m] + 0.25 * data[3 * m + 1]
        return 0.25 * data[3 * m + 1] + 0.75 * data[3 * m + 2]
    return float(statistics.median(data[n // 2:]))


def summary(values: Sequence[float]) -> dict[str, float | int | str]:
    """pytest-benchmark's per-benchmark ``stats`` fields for ``values`` (seconds, one per round)."""
    if not values:
        raise ValueError('summary of no values')
    data = sorted(float(v) for v in values)
    n = len(data)
    mean = statistics.mean(data)
    stddev = statistics.stdev(data) if n > 1 else 0.0
    q1, q3 = _q1(data), _q3(data)
    iqr = q3 - q1
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = sum(1 for v in data if v < low_fence or v > high_fence)
    std_outliers = sum(1 for v in data if v < mean - stddev or v > mean + stddev)
    total = sum(data)
    return {
        'min': data[0],
        'max': data[-1],
        'mean': mean,
        'stddev': stddev,
        'rounds': n,
        'median': float(statistics.median(data)),
        'iqr': iqr,
        'q1': q1,
        'q3': q3,
        'iqr_outliers': iqr_outliers,
        'stddev_outliers': std_outliers,
        'outliers': f'{std_outliers};{iqr_outliers}',
        'ld15iqr': data[0] if n == 1 else data[bisect_left(data, low_fence)],
        'hd15iqr': data[0] if n == 1 else data[bisect_right(data, high_fence) - 1],
        'ops': n / total if total else 0.0,
        'total': total,
        'iterations': 1,
    }
