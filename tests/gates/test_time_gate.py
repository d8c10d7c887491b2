"""The time gate: its statistics on synthetic runs, and on the real toy in fresh processes."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TinyRepo
from conftest import build_tiny_subject
from gate_helpers import toy_context

from gates.measuring import probe
from gates.checks import time as timegate
from gates.context import CheckContext
from gates.contract.spec import TimeBudget

# Each stage: ~15 ms of pure-Python CPU work (spin) plus 10 ms asleep, so that the test sees
# both kinds of noise of a shared machine (CPU contention and timer/scheduler jitter).
TOY_WORK = {'spin': 40, 'sleep_ms': 10}
BUDGET = TimeBudget(ratio_lt=2.0, min_pairs=3, max_pairs=15)


def _fake(total: float, stages: tuple[float, ...]) -> probe.TimeRun:
    return probe.TimeRun(dict(enumerate(stages)), total, 'x' * 64, 1, None)


def _runner(values: Iterator[float], stages: tuple[float, ...] = (0.1, 0.1, 0.001)) -> probe.TimeRun:
    scale = next(values)
    return _fake(scale * sum(stages), tuple(scale * s for s in stages))


def _compare(base: list[float], cand: list[float], budget: TimeBudget = BUDGET) -> tuple[list[timegate.Pair], list[timegate.Decision]]:
    b, c = iter(base), iter(cand)
    pairs, decisions, _ = timegate.compare(lambda: _runner(b), lambda: _runner(c), ['total', '0', '1', '2'], budget)
    return pairs, decisions


def test_clean_ratios_decide_as_soon_as_the_interval_can() -> None:
    pairs, decisions = _compare([1.0] * 15, [1.05, 0.98, 1.02, 1.01, 0.99, 1.03] + [1.0] * 9)
    assert len(pairs) == 6   # the exact 95 % sign-test interval needs 6 pairs
    total = decisions[0]
    assert total.passed and total.conclusive and total.side == 'below'
    assert [p.baseline_first for p in pairs] == [True, False] * 3


def test_a_clear_slowdown_fails_conclusively() -> None:
    pairs, decisions = _compare([1.0] * 15, [3.0, 2.9, 3.1, 3.0, 2.95, 3.05] + [3.0] * 9)
    assert len(pairs) == 6
    assert not decisions[0].passed and decisions[0].side == 'above'


def test_undecided_at_max_pairs_is_inconclusive_never_the_median() -> None:
    near = [1.9, 2.1] * 8
    _, decisions = _compare([1.0] * 15, near[:15])
    total = decisions[0]
    assert not total.conclusive and len(total.ratios) == 15
    assert total.median < 2.0 and not total.passed     # a median under the limit decides nothing
    findings, _ = timegate.findings_for('w', decisions, BUDGET.threshold())
    assert findings and all(timegate.is_inconclusive(f) for f in findings if f.stage is None)


def test_an_inconclusive_verdict_has_its_own_exit_code() -> None:
    from gates.model import Verdict
    from gates.reports import report
    undecided = Verdict('time', False, (), {}, inconclusive=True)
    failed = Verdict('memory', False, (), {})
    ok = Verdict('api', True)
    assert report.exit_code([ok, undecided]) == report.EXIT_INCONCLUSIVE == 4
    assert report.exit_code([ok, undecided, failed]) == 1
    assert report.exit_code([ok]) == 0
    assert undecided.to_dict()['inconclusive'] is True


def test_a_stage_under_the_noise_floor_is_reported_not_judged() -> None:
    # Stage 2 takes 1 ms in the baseline and 4 ms in the candidate: 4x, but under 5 ms in both.
    b = iter([1.0] * 15)
    runs = iter([1.0] * 15)

    def cand() -> probe.TimeRun:
        next(runs)
        return _fake(0.204, (0.1, 0.1, 0.004))

    _, decisions, _ = timegate.compare(lambda: _runner(b), cand, ['total', '0', '1', '2'], BUDGET)
    stage2 = decisions[3]
    assert stage2.median == pytest.approx(4.0) and not stage2.judged and stage2.passed
    findings, notes = timegate.findings_for('w', decisions, BUDGET.threshold())
    assert findings == []
    assert any('w stage 2: under the 5 ms noise floor, not judged' in n for n in notes)


def test_one_slow_stage_fails_even_if_the_total_passes() -> None:
    b = iter([1.0] * 15)

    def cand() -> probe.TimeRun:
        return _fake(0.25, (0.1, 0.15, 0.001))   # stage 1 is 1.5x, stage 0 1x ...

    def base() -> probe.TimeRun:
        next(b)
        return _fake(0.2, (0.1, 0.05, 0.001))    # ... but stage 1 vs 0.05 is 3x

    _, decisions, _ = timegate.compare(base, cand, ['total', '0', '1', '2'], BUDGET)
    findings, _ = timegate.findings_for('w', decisions, BUDGET.threshold())
    assert [(f.stage, round(f.figure or 0, 3)) for f in findings] == [(1, 3.0)]


@pytest.fixture(scope='module')
def toy_repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TinyRepo]:
    """Two toy repos: the head unchanged (1.0x) and the head three times slower (3.0x)."""
    same = build_tiny_subject(tmp_path_factory.mktemp('same'))
    slow = build_tiny_subject(tmp_path_factory.mktemp('slow'))
    # Every stage does its whole work (allocation, CPU, sleep) three times over.
    backend = slow.path / 'toyprover/backends/materialized.py'
    text = backend.read_text()
    old = (
        '    common.hold(common.rows(params) * common.row_bytes(params), params)\n'
        '    common.work(params)\n'
    )
    if old not in text:
        raise AssertionError('the toy materialized backend changed; update this fixture')
    backend.write_text(text.replace(old, '    for _ in range(3):\n' + textwrap.indent(old, '    ')))
    return {'1.0x': same, '3.0x': slow}


@contextlib.contextmanager
def _context(repo: TinyRepo) -> Iterator[CheckContext]:
    with toy_context(repo.path, params=TOY_WORK) as ctx:
        spec = dataclasses.replace(ctx.spec, budgets=dataclasses.replace(ctx.spec.budgets, time=BUDGET))
        yield dataclasses.replace(ctx, spec=spec)


@pytest.mark.slow
@pytest.mark.parametrize(('subject', 'expected'), [('1.0x', True), ('3.0x', False)])
def test_the_verdict_does_not_flip_over_ten_repetitions(
        toy_repos: dict[str, TinyRepo], tmp_path: Path, subject: str, expected: bool,
) -> None:
    verdicts = []
    with _context(toy_repos[subject]) as ctx:
        for i in range(10):
            verdict = timegate.run(ctx, out_dir=tmp_path / str(i))
            got = verdict.details['workloads']['toy-12']
            verdicts.append(verdict.passed)
            print(f'{subject} rep {i}: passed={verdict.passed} pairs={got["pairs"]} '
                  f'total={got["ratio_total"]:.3f} stages={ {k: round(v, 3) for k, v in got["ratio_stages"].items()} }')
    assert verdicts == [expected] * 10


def test_results_are_pytest_benchmark_json(toy_repos: dict[str, TinyRepo], tmp_path: Path) -> None:
    with _context(toy_repos['1.0x']) as ctx:
        verdict = timegate.run(ctx, out_dir=tmp_path)
    path = Path(verdict.details['json'])
    doc = json.loads(path.read_text())
    assert {'machine_info', 'commit_info', 'benchmarks', 'datetime', 'version'} <= set(doc)
    assert doc['commit_info']['id'] == toy_repos['1.0x'].baseline
    names = {b['name'] for b in doc['benchmarks']}
    assert 'candidate[toy-12-total]' in names and 'baseline[toy-12-2]' in names
    cand = next(b for b in doc['benchmarks'] if b['name'] == 'candidate[toy-12-total]')
    assert cand['stats']['rounds'] == len(cand['stats']['data']) == verdict.details['workloads']['toy-12']['pairs']
    assert cand['extra_info']['decision']['passed'] is True
    assert doc['stagegate']['gate'] == 'time' and doc['stagegate']['passed'] is True
    # pytest-benchmark's own reader accepts the file.
    proc = subprocess.run(
        (str(Path(sys.executable).parent / 'pytest-benchmark'), 'compare', str(path), '--group-by', 'group'),
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'candidate[toy-12-total]' in proc.stdout + proc.stderr


def test_a_failing_candidate_is_a_finding_not_a_crash(toy_repos: dict[str, TinyRepo], tmp_path: Path) -> None:
    with _context(toy_repos['1.0x']) as ctx:
        broken = dataclasses.replace(ctx, head_tree=tmp_path / 'empty')
        (tmp_path / 'empty').mkdir()
        verdict = timegate.run(broken, out_dir=tmp_path / 'out')
    assert not verdict.passed
    assert 'time run failed' in verdict.findings[0].message


def test_max_pairs_too_small_for_the_interval_is_raised_to_what_it_needs(
        toy_repos: dict[str, TinyRepo], tmp_path: Path,
) -> None:
    # A budget of min_pairs 3, max_pairs 5 (< the 6 pairs a 95 % interval needs): with 5,
    # nothing could ever be decided; the gate measures 6 and says so.
    small = TimeBudget(ratio_lt=2.0, min_pairs=3, max_pairs=5)
    with toy_context(toy_repos['1.0x'].path, params=TOY_WORK) as ctx:
        spec = dataclasses.replace(ctx.spec, budgets=dataclasses.replace(ctx.spec.budgets, time=small))
        verdict = timegate.run(dataclasses.replace(ctx, spec=spec), out_dir=tmp_path, warmup=False)
    assert verdict.passed, [f.render() for f in verdict.findings]
    assert verdict.details['workloads']['toy-12']['pairs'] >= 6
    assert any('so up to 6 are measured' in n for n in verdict.details['notes'])


def test_an_undecided_workload_is_measured_once_more_on_fresh_pairs() -> None:
    # Round 1 straddles the limit (1.9 / 2.1 alternating): capped, undecided. Round 2 is clean.
    budget = TimeBudget(ratio_lt=2.0, min_pairs=3, max_pairs=6)
    cand = iter([1.9, 2.1] * 3 + [1.0] * 6)
    base = iter([1.0] * 12)
    calls = {'n': 0}

    def run_cand() -> probe.TimeRun:
        calls['n'] += 1
        return _runner(cand)

    metrics = ['total', '0', '1', '2']
    pairs, decisions, reason = timegate.compare(lambda: _runner(base), run_cand, metrics, budget)
    assert reason == timegate.CAPPED and timegate.undecided(decisions)
    pairs, decisions, reason = timegate.compare(lambda: _runner(base), run_cand, metrics, budget)
    assert reason == timegate.DECIDED and decisions[0].passed and calls['n'] == 12
    assert all(r == 1.0 for r in decisions[0].ratios)   # fresh pairs: round 1 is not mixed in


def test_a_unit_is_judged_on_its_sum_and_its_stages_are_reported_only() -> None:
    # Stage 1 alone is 3x slower (as a streaming opening is against a matrix kept from stage 0),
    # stage 0 is faster: their sum is 1.2x, under the limit. Judged as a unit, it passes.
    metrics, in_unit = timegate.metrics_for([0, 1, 2], [(0, 1)])
    assert metrics == ['total', '0', '1', '2', 'unit:0+1'] and in_unit == {'0', '1'}
    b = iter([1.0] * 15)
    c = iter([1.0] * 15)
    base = lambda: _runner(b, (0.3, 0.1, 0.01))                # noqa: E731
    cand = lambda: _runner(c, (0.18, 0.3, 0.01))               # noqa: E731
    pairs, decisions, reason = timegate.compare(base, cand, metrics, BUDGET, in_unit=in_unit)
    by = {d.metric: d for d in decisions}
    assert by['unit:0+1'].judged and by['unit:0+1'].passed
    assert abs(by['unit:0+1'].median - 0.48 / 0.4) < 1e-9
    assert not by['1'].judged and by['1'].in_unit and by['1'].median > 2.9
    assert reason == timegate.DECIDED and len(pairs) == 6
    findings, notes = timegate.findings_for('w', decisions, BUDGET.threshold())
    assert findings == []
    assert any('stage 1: judged inside its unit' in n for n in notes)
    # Without the unit, the same runs fail on stage 1.
    b, c = iter([1.0] * 15), iter([1.0] * 15)
    _, alone, reason = timegate.compare(base, cand, ['total', '0', '1', '2'], BUDGET)
    assert reason == timegate.FAILED_EARLY
    findings, _ = timegate.findings_for('w', alone, BUDGET.threshold())
    assert [f.stage for f in findings] == [1]


def test_a_slow_unit_fails_naming_its_stages() -> None:
    metrics, in_unit = timegate.metrics_for([0, 1, 2], [(0, 2)])
    b, c = iter([1.0] * 15), iter([1.0] * 15)
    _, decisions, reason = timegate.compare(
        lambda: _runner(b, (0.1, 0.1, 0.1)), lambda: _runner(c, (0.25, 0.1, 0.25)), metrics, BUDGET,
        in_unit=in_unit,
    )
    assert reason == timegate.FAILED_EARLY
    findings, _ = timegate.findings_for('w', decisions, BUDGET.threshold())
    (finding,) = [f for f in findings if 'unit' in f.message]
    assert finding.message.startswith('stages 0 + 2 (one unit): median ratio 2.500')
    assert finding.stage is None and finding.workload == 'w' and finding.figure == pytest.approx(2.5)


def test_the_stop_reason_says_decided_or_capped() -> None:
    _, _, reason = timegate.compare(
        lambda: _fake(1.0, (0.5, 0.5, 0.001)), lambda: _fake(1.0, (0.5, 0.5, 0.001)),
        ['total', '0'], BUDGET,
    )
    assert reason == timegate.DECIDED
    near = iter([2.1, 1.9] * 10)
    messages: list[str] = []
    _, _, reason = timegate.compare(
        lambda: _fake(1.0, (0.5, 0.5, 0.001)), lambda: _fake(next(near), (0.5, 0.5, 0.001)),
        ['total'], BUDGET, progress=messages.append,
    )
    assert reason == timegate.CAPPED
    assert messages[-1] == f'stopped after {BUDGET.max_pairs} pairs: {timegate.CAPPED}'
    assert messages[0].startswith(f'pair 1 (of at most {BUDGET.max_pairs})')


def test_the_report_table_states_the_summary_lines_of_a_gate() -> None:
    from gates.reports import report
    from gates.model import Verdict
    info = report.RunInfo('s.yaml', 'full', 'a' * 40, 'b' * 40, 'worktree', False, (0, 'commit'), (), ('w',))
    verdict = Verdict.ok('memory', {'summary': ['stage 0 (commit): in-stage peak grows as T^0.512 over T = 2^16 .. 2^20']})
    text = report.table(info, [verdict], {})
    assert '    * stage 0 (commit): in-stage peak grows as T^0.512' in text
