"""The memory gate on the toy subject: real memray in fresh processes, real git worktrees."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import TinyRepo
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from conftest import toy_spec_yaml
from gate_helpers import toy_context

from gates.contract import ledger as ledgerlib
from gates.checks import memory
from gates.measuring import probe
from gates.measuring.request import RunRequest
from gates.contract.spec import Subject
from gates.contract.spec import load_spec
from gates.contract.spec import parse_spec

MAT = {'0': 'materialized', '1': 'materialized', '2': 'materialized'}
ARENA = 1 << 20   # one pymalloc arena (CPython 3.10+)
NOISE_SEEN = 16 << 10   # measured: 74 B on the numpy case; an arena would be 1 MiB


@pytest.mark.parametrize('alloc', ['bytes', 'numpy'])
def test_noise_same_tree_twice_is_far_below_the_tolerance(
        tiny_subject: TinyRepo, tmp_path: Path, alloc: str,
) -> None:
    """The measurement the tolerance rests on: one tree, measured twice, fresh processes."""
    spec = load_spec(tiny_subject.spec_path)
    params = {'workload': 'toy', 'log_t': 12, 'alloc': alloc}
    runs = [
        probe.memory(RunRequest(spec.subject, tiny_subject.path, 'toy-12', params, MAT, [0, 1, 2]),
                     tmp_path / str(i))
        for i in range(2)
    ]
    first, second = runs
    print(f'memory noise ({alloc}): stage peaks {dict(first.stage_peaks)} vs '
          f'{dict(second.stage_peaks)}; whole run {first.whole_run_peak} vs {second.whole_run_peak}')
    # Self versus self must pass the gate's own rule in both directions, ...
    rule = memory.NotHigherThan(spec.budgets.memory.tolerance, spec.budgets.memory.tolerance_bytes)
    pairs = [(first.stage_peaks[k], second.stage_peaks[k]) for k in (0, 1, 2)]
    pairs.append((first.whole_run_peak, second.whole_run_peak))
    for a, b in pairs:
        assert rule.fails(a, b) is None and rule.fails(b, a) is None
        # ... and, heap runs allocating with malloc (probe.MEMORY_ENV), no pymalloc arena
        # (1 MiB) quantum any more: none when the stage allocates with plain bytes, a few bytes
        # when the stage's first numpy import runs inside it (its threads race the allocations).
        assert abs(a - b) < NOISE_SEEN
    if alloc == 'bytes':
        assert all(a == b for a, b in pairs)


def test_the_converted_stage_strictly_lower_passes(tiny_subject: TinyRepo, tmp_path: Path) -> None:
    convert_stage(tiny_subject.path, 0)
    with toy_context(tiny_subject.path) as ctx:
        verdict = memory.run(ctx, out_dir=tmp_path / 'out')
    assert verdict.passed, [f.render() for f in verdict.findings]
    got = verdict.details['workloads']['toy-12']
    assert got['candidate']['variant']['0'] == 'streaming'
    assert got['reference']['source'].startswith('the lower of baseline ref stagegate-baseline')
    peaks, ref = got['candidate']['stage_peaks'], got['reference']['stage_peaks']
    assert peaks['0'] < ref['0'] // 10          # sqrt(T) rows instead of T
    assert got['candidate']['whole_run_peak'] > 0
    assert not (tmp_path / 'out').exists()      # no flamegraph without a failure


def test_an_unconverted_stage_is_a_note_for_check_and_a_failure_for_accept(
        tiny_subject: TinyRepo, tmp_path: Path,
) -> None:
    with toy_context(tiny_subject.path) as ctx:
        checked = memory.run(ctx, out_dir=tmp_path / 'out')
        # Default output folder: inside the repo, yet never an untracked change.
        accepted = memory.run(ctx, require_conversion=True)
    assert checked.passed
    assert any('stage 0 (commit) not yet converted' in n for n in checked.details['notes'])
    assert not accepted.passed
    (finding,) = accepted.findings
    assert finding.stage == 0 and 'not yet converted' in finding.message
    html = tiny_subject.path / '.stagegate/memory/memory-toy-12-stage0.html'
    assert f'flamegraph: {html}' in finding.message and html.is_file()
    assert git(tiny_subject.path, 'status', '--porcelain', '--untracked-files=all') == ''


def test_a_stage_that_allocates_more_fails_naming_stage_figure_and_flamegraph(
        tiny_subject: TinyRepo, tmp_path: Path,
) -> None:
    convert_stage(tiny_subject.path, 0)
    stage1 = tiny_subject.path / 'toyprover/stages/stage1.py'
    stage1.write_text(stage1.read_text().replace(
        "        return materialized.compute(1, params)",
        "        extra = bytearray(3_000_000)\n"
        "        out = materialized.compute(1, params)\n"
        "        del extra\n"
        "        return out",
    ))
    with toy_context(tiny_subject.path) as ctx:
        verdict = memory.run(ctx, out_dir=tmp_path / 'out')
    assert not verdict.passed
    # Stage 1's extra buffer is the run's high-water mark too: the whole-run peak fails with it.
    (finding,) = [f for f in verdict.findings if f.stage is not None]
    assert all(f.message.startswith('whole-run peak:') for f in verdict.findings if f.stage is None)
    assert finding.stage == 1 and finding.workload == 'toy-12'
    ref = verdict.details['workloads']['toy-12']['reference']['stage_peaks']['1']
    assert finding.figure is not None and finding.figure >= ref + 3_000_000
    assert f'{int(finding.figure):,} B exceeds' in finding.message
    html = tmp_path / 'out' / 'memory-toy-12-stage1.html'
    assert f'flamegraph: {html}' in finding.message
    assert html.is_file() and html.stat().st_size > 10_000


def test_a_conversion_that_does_not_save_enough_fails(tiny_subject: TinyRepo, tmp_path: Path) -> None:
    # The streaming stage holds its chunk plus nearly all of T rows again: below the reference,
    # but not by the 2 % margin.
    convert_stage(tiny_subject.path, 0, extra_bytes=(1 << 12) * 1024 - 64 * 1024 - 20_000)
    with toy_context(tiny_subject.path) as ctx:
        verdict = memory.run(ctx, out_dir=tmp_path / 'out')
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.stage == 0 and 'is not below' in finding.message


def _accept_stage0(repo: Path, tmp_path: Path) -> None:
    """Write a ledger row for stage 0 from a real measurement of the converted tree."""
    spec = load_spec(repo / 'specs/streaming-prover.yaml')
    variant = {'0': 'streaming', '1': 'materialized', '2': 'materialized'}
    run = probe.memory(
        RunRequest(spec.subject, repo, 'toy-12', spec.workload('toy-12').params, variant, [0, 1, 2]),
        tmp_path / 'acc',
    )
    figures = ledgerlib.WorkloadFigures(
        {str(k): v for k, v in run.stage_peaks.items()}, run.whole_run_peak, 1.0, {}, '0' * 64,
    )
    path = repo / spec.ledger
    old = ledgerlib.read_ledger(path)
    ledgerlib.append_row(path, old, ledgerlib.make_row(spec.stage(0), 'f' * 40, False, {'toy-12': figures}))


def test_the_ledger_is_the_reference_once_a_stage_is_accepted(tiny_subject: TinyRepo, tmp_path: Path) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    _accept_stage0(repo, tmp_path)
    commit_all(repo, 'stage 0 accepted')
    # Stage 1 under conversion and converted; stage 0 regresses by 2 MB over its ledger figure.
    convert_stage(repo, 1)
    convert_stage(repo, 0, extra_bytes=2_000_000)
    with toy_context(repo) as ctx:
        assert ctx.stage_under_conversion is not None and ctx.stage_under_conversion.id == 1
        verdict = memory.run(ctx, out_dir=tmp_path / 'out')
    assert not verdict.passed
    got = verdict.details['workloads']['toy-12']
    assert got['reference']['source'].startswith('the lower of ledger row of stage 0')
    assert [f.stage for f in verdict.findings] == [0]
    assert got['stages']['1']['judged'] and got['stages']['1']['candidate'] < got['stages']['1']['reference']


def test_a_leak_in_an_accepted_stage_fails_its_own_line_under_a_stale_row(
        tiny_subject: TinyRepo, tmp_path: Path,
) -> None:
    """Issue 13.1, the ratchet: ledger row 0 records a stage 0 far larger than stage 0 is today
    (stale, or made before an improvement). A change that makes stage 0 hold 3 MB more stays under the
    row, but not under the change's base measured now, which is the reference too."""
    repo = tiny_subject.path
    convert_stage(repo, 0)
    spec = load_spec(repo / 'specs/streaming-prover.yaml')
    stale = ledgerlib.WorkloadFigures({'0': 64 << 20, '1': 64 << 20, '2': 64 << 20}, 128 << 20, 1.0, {}, '0' * 64)
    path = repo / spec.ledger
    ledgerlib.append_row(path, ledgerlib.read_ledger(path), ledgerlib.make_row(spec.stage(0), 'f' * 40, False, {'toy-12': stale}))
    base_rev = commit_all(repo, 'stage 0 accepted')
    convert_stage(repo, 1)
    convert_stage(repo, 0, extra_bytes=3_000_000)
    from gates.vcs.changes import ChangedPath
    from gates.context import CheckContext
    from gates.contract.ledger import read_ledger
    from gates.contract.ledger import stage_under_conversion
    from gates.vcs import repo as gitrepo
    ledger = read_ledger(path, spec.ledger)
    with gitrepo.worktree(gitrepo.open_repo(repo), base_rev) as base:
        ctx = CheckContext(
            spec=spec, repo_root=repo, base_rev=base_rev, head_tree=repo, base_tree=base, tier='ci',
            workloads=spec.tier_workloads('ci'), stage_under_conversion=stage_under_conversion(spec, ledger),
            ledger=ledger, progress=lambda m: None,
            changed=[ChangedPath('toyprover/stages/stage0.py', 'M'), ChangedPath('toyprover/stages/stage1.py', 'M')],
        )
        verdict = memory.run(ctx, out_dir=tmp_path / 'out')
    got = verdict.details['workloads']['toy-12']
    assert not verdict.passed
    assert [f.stage for f in verdict.findings] == [0], [f.render() for f in verdict.findings]
    assert got['stages']['0']['candidate'] < 64 << 20 < got['stages']['0']['candidate'] + (64 << 20)
    assert got['reference']['stage_peaks']['0'] < 64 << 20      # the base measured now, not the row
    assert "the change's base" in got['reference']['source']


def test_missing_measurements_fail() -> None:
    spec = parse_spec(toy_spec_yaml(), 'toy.yaml')
    reference = memory.Reference({0: 100, 1: 100}, None, MAT, 'test')
    judged = memory.judge(spec, 'w', 0, {0: 50, 2: 10}, {**MAT, '0': 'streaming'}, reference, False)
    messages = sorted((f.stage, f.message) for f in judged.findings)
    assert messages == [
        (1, 'stage 1 (constraints): no in-stage peak measured for the candidate'),
        (2, 'stage 2 (openings): no in-stage peak measured for the reference (test)'),
    ]


def test_small_growth_within_one_arena_is_noise_but_not_beyond() -> None:
    # An older spec's proportional tolerance and a 1 MiB absolute one: the larger bound holds.
    rule = memory.NotHigherThan(0.01, ARENA)
    assert rule.fails(100_000 + (1 << 20), 100_000) is None
    assert rule.fails(100_001 + (1 << 20), 100_000) is not None
    assert rule.fails(1_010_000_000, 1_000_000_000) is None
    assert rule.fails(1_010_000_001, 1_000_000_000) is not None


def test_a_command_subject_gets_a_clear_unsupported_finding(tiny_subject: TinyRepo, tmp_path: Path) -> None:
    with toy_context(tiny_subject.path) as ctx:
        command = Subject('command', '.', None, None, None, None, ('./prove',))
        ctx = dataclasses.replace(ctx, spec=dataclasses.replace(ctx.spec, subject=command))
        verdict = memory.run(ctx, out_dir=tmp_path / 'out')
    assert not verdict.passed
    (finding,) = verdict.findings
    assert "heap peaks are not measured for subject kind 'command'" in finding.message
    assert 'budgets.memory.measure: rss' in finding.message
