"""The time gate's statistics: exact sign-test intervals and pytest-benchmark-compatible stats."""
from __future__ import annotations

import math
import random

import pytest
from pytest_benchmark.stats import Stats

from gates.measuring import stats
from gates.model import RatioBelow

LIMIT = RatioBelow(2.0)


def side_of(interval: stats.Interval, threshold: RatioBelow = LIMIT) -> str:
    return threshold.side(interval.low, interval.high)


def test_binomial_half_cdf_exact_values() -> None:
    assert stats.binomial_half_cdf(0, 6) == 1 / 64
    assert stats.binomial_half_cdf(1, 10) == 11 / 1024
    assert stats.binomial_half_cdf(-1, 5) == 0.0
    assert stats.binomial_half_cdf(5, 5) == 1.0


def test_too_few_samples_give_an_interval_that_decides_nothing() -> None:
    interval = stats.median_interval([1.0, 1.1, 0.9, 1.0, 1.05], 0.95)
    assert not interval.informative()
    assert side_of(interval) == 'inconclusive'
    assert stats.samples_needed(0.95) == 6
    assert stats.samples_needed(0.99) == 8


def test_six_samples_give_min_max_at_96_9_percent() -> None:
    interval = stats.median_interval([3.0, 1.0, 2.0, 6.0, 5.0, 4.0], 0.95)
    assert (interval.low, interval.high) == (1.0, 6.0)
    assert interval.coverage == pytest.approx(1 - 2 / 64)


def test_ten_samples_drop_one_rank_each_side() -> None:
    values = [float(v) for v in range(1, 11)]
    interval = stats.median_interval(values, 0.95)
    # k = 2: coverage 1 - 2 * 11/1024 = 0.9785; k = 3 would give 0.89.
    assert (interval.low, interval.high) == (2.0, 9.0)
    assert interval.coverage == pytest.approx(1 - 22 / 1024)


def test_side_of_limit_is_strict_for_pass() -> None:
    assert side_of(stats.Interval(1.0, 1.9, 0.96)) == 'below'
    assert side_of(stats.Interval(2.0, 3.0, 0.96)) == 'above'
    assert side_of(stats.Interval(1.5, 2.5, 0.96)) == 'inconclusive'


def test_interval_covers_the_true_median_at_least_as_often_as_promised() -> None:
    # Skewed, heavy-ish noise (log-normal), as timing noise is; true median is exp(0) = 1.
    rng = random.Random(20261120)
    trials, covered = 2000, 0
    for _ in range(trials):
        sample = [math.exp(rng.gauss(0.0, 0.3)) for _ in range(9)]
        interval = stats.median_interval(sample, 0.95)
        covered += interval.low <= 1.0 <= interval.high
    # Exact coverage for n = 9 is 1 - 2 * 10/512 = 0.961; 2000 trials have sd ~0.0043.
    assert covered / trials >= 0.945


def test_one_wild_sample_does_not_move_the_decision() -> None:
    ratios = [1.02, 0.98, 1.01, 0.99, 1.00, 1.03, 50.0]
    interval = stats.median_interval(ratios, 0.95)
    assert stats.median(ratios) == 1.01
    assert side_of(interval) == 'inconclusive'  # 7 values: [min, max] includes 50
    ratios += [1.0, 0.97, 1.02]
    assert side_of(stats.median_interval(ratios, 0.95)) == 'below'


@pytest.mark.parametrize('n', [1, 2, 3, 4, 5, 6, 7, 8, 9, 13])
def test_summary_matches_pytest_benchmark(n: int) -> None:
    rng = random.Random(n)
    values = [rng.uniform(0.01, 0.05) for _ in range(n)] + ([0.5] if n > 4 else [])
    reference = Stats()
    for v in values:
        reference.update(v)
    ours = stats.summary(values)
    for field in Stats.fields:
        theirs = getattr(reference, field)
        if isinstance(theirs, str):
            assert ours[field] == theirs, field
        else:
            assert ours[field] == pytest.approx(theirs), field


def test_empty_inputs_are_errors() -> None:
    with pytest.raises(ValueError):
        stats.median([])
    with pytest.raises(ValueError):
        stats.summary([])
    with pytest.raises(ValueError):
        stats.median_interval([1.0], 1.5)
