from __future__ import annotations

import tempfile

import json
import re
import os
import stat
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import gates.checks
from conftest import _SPEC_BLOCKS
from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from conftest import write_files
from gates.cli import main
from gates.model import GATE_NAMES as GATES
from gates.context import CheckContext
from gates.contract.ledger import WorkloadFigures
from gates.contract.ledger import append_row
from gates.contract.ledger import make_row
from gates.contract.ledger import read_ledger
from gates.model import Finding
from gates.model import Verdict
from gates.contract.spec import load_spec

Run = Callable[[CheckContext], Verdict]


def passing(name: str) -> Run:
    def run(ctx: CheckContext) -> Verdict:
        return Verdict.ok(name, {'workloads': {w.id: fake_details(name, w.id) for w in ctx.workloads}})
    return run


def fake_details(gate: str, wid: str) -> dict[str, object]:
    if gate == 'proof':
        return {'sha256': '12' * 32, 'size': 212}
    if gate == 'memory':
        return {
            'candidate': {'stage_peaks': {'0': 70000, '1': 4300000, '2': 4300000}, 'whole_run_peak': 4400000},
            'reference': {'stage_peaks': {'0': 4300000, '1': 4300000, '2': 4300000}},
        }
    if gate == 'time':
        return {'ratio_total': 1.02, 'ratio_stages': {'0': 1.1, '1': 1.0, '2': 0.99}}
    return {}


@pytest.fixture
def fake_gates(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Replace gate modules by fakes (G2/G3 test the real ones); returns the call log."""
    calls: list[str] = []

    def install(**runs: Run | None) -> list[str]:
        for name in GATES:
            run = runs.get(name, passing(name))
            if run is None:
                monkeypatch.setitem(sys.modules, f'gates.checks.{name}', None)   # import fails
                continue

            def logged(ctx: CheckContext, _run: Run = run, _name: str = name, **_: object) -> Verdict:
                calls.append(_name)
                return _run(ctx)
            module = types.ModuleType(f'gates.checks.{name}')
            module.run = logged  # type: ignore[attr-defined]
            monkeypatch.setitem(sys.modules, f'gates.checks.{name}', module)
            monkeypatch.setattr(gates.checks, name, module, raising=False)
        return calls
    return install


def cli(monkeypatch: pytest.MonkeyPatch, repo: Path, *args: str) -> int:
    monkeypatch.chdir(repo)
    return main(list(args))


def worktree_count(repo: Path) -> int:
    return git(repo, 'worktree', 'list').count('\n') + 1


def test_status_and_next(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(monkeypatch, tiny_subject.path, 'status') == 0
    out = capsys.readouterr().out
    assert '0 of 3 stages accepted' in out
    assert '0  commit               under conversion' in out
    assert '1  constraints          materialized' in out
    assert cli(monkeypatch, tiny_subject.path, 'next') == 0
    out = capsys.readouterr().out
    assert out.startswith('Stage 0 (commit) is under conversion.')
    assert 'toyprover/stages/stage0.py' in out and 'Stream the commitment' in out


def accept_rows(repo: Path, n: int) -> None:
    spec = load_spec(repo / 'specs/streaming-prover.yaml')
    path = repo / 'specs/ledger.json'
    for stage in spec.stages[:n]:
        fig = WorkloadFigures({'0': 1, '1': 2048, '2': 3 << 20}, 5 << 20, 1.25, {str(stage.id): 1.5}, 'ab' * 32)
        append_row(path, read_ledger(path), make_row(stage, 'a' * 40, False, {'toy-12': fig}))
    commit_all(repo, 'accepted rows')


def test_status_with_accepted_rows(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    accept_rows(tiny_subject.path, 2)
    assert cli(monkeypatch, tiny_subject.path, 'status') == 0
    out = capsys.readouterr().out
    assert '2 of 3 stages accepted' in out
    assert '0  commit               accepted at aaaaaaaaaaaa' in out
    assert 'toy-12: in-stage peak 2.0 KiB, whole run 5.0 MiB, time x1.25 (stage x1.50), proof abababababab' in out
    assert '2  openings             under conversion' in out
    assert cli(monkeypatch, tiny_subject.path, 'next') == 0
    assert capsys.readouterr().out.startswith('Stage 2 (openings) is under conversion.')
    accept_rows(tiny_subject.path, 0)
    spec_path = tiny_subject.path / 'specs/streaming-prover.yaml'
    path = tiny_subject.path / 'specs/ledger.json'
    fig = WorkloadFigures({'2': 1}, 1, 1.0, {}, 'ab' * 32)
    append_row(path, read_ledger(path), make_row(load_spec(spec_path).stages[2], 'b' * 40, False, {'toy-12': fig}))
    assert cli(monkeypatch, tiny_subject.path, 'next') == 0
    assert 'All 3 stages are accepted' in capsys.readouterr().out


def test_check_passes(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_gates: Callable[..., list[str]]) -> None:
    calls = fake_gates()
    assert cli(monkeypatch, tiny_subject.path, 'check') == 0
    assert calls == list(GATES)
    out = capsys.readouterr().out
    assert 'gates check: stage 0 (commit), tier ci [toy-12]' in out
    assert 'All gates passed.' in out
    assert worktree_count(tiny_subject.path) == 1


def test_check_context(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, fake_gates: Callable[..., list[str]]) -> None:
    seen: list[CheckContext] = []

    def spy(ctx: CheckContext) -> Verdict:
        seen.append(ctx)
        assert (ctx.base_tree / 'toyprover/probe.py').is_file()
        assert "'streaming'" not in (ctx.base_tree / 'toyprover/stages/stage0.py').read_text()
        return Verdict.ok('scope')
    convert_stage(tiny_subject.path, 0)
    write_files(tiny_subject.path, {'docs/notes.md': 'new\n'})
    fake_gates(scope=spy)
    assert cli(monkeypatch, tiny_subject.path, 'check', '--gate', 'scope', '--tier', 'full') == 0
    (ctx,) = seen
    # The tree under judgement is a private export of the working tree, gone after the run.
    assert ctx.head_tree != tiny_subject.path and not ctx.head_tree.exists()
    assert ctx.base_rev == tiny_subject.baseline
    assert [w.id for w in ctx.workloads] == ['toy-12', 'toy-13']
    assert ctx.stage_under_conversion is not None and ctx.stage_under_conversion.id == 0
    assert [(c.path, c.status) for c in ctx.changed] == [
        ('docs/notes.md', 'A'), ('toyprover/stages/stage0.py', 'M'),
    ]
    assert ctx.candidate_variant() == {'0': 'streaming', '1': 'materialized', '2': 'materialized'}
    assert ctx.reference_variant() == ctx.baseline_variant()
    assert not ctx.base_tree.exists()


def test_check_fails_with_json_and_annotations(
        tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        fake_gates: Callable[..., list[str]], tmp_path: Path,
) -> None:
    def failing(ctx: CheckContext) -> Verdict:
        return Verdict.fails('scope', [Finding('scope', 'outside stage 0, 100%', file='toyprover/proof.py', line=3, stage=0)])
    calls = fake_gates(scope=failing)
    summary = tmp_path / 'summary.md'
    monkeypatch.setenv('GITHUB_ACTIONS', 'true')
    monkeypatch.setenv('GITHUB_STEP_SUMMARY', str(summary))
    assert cli(monkeypatch, tiny_subject.path, 'check', '--json', '--gate', 'scope', '--gate', 'api') == 1
    assert calls == ['api', 'scope']
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    annotations = '\n'.join(l for l in captured.err.splitlines() if l.startswith('::'))
    assert doc['schema'] == 1 and doc['exit_code'] == 1 and doc['passed'] is False
    assert doc['stage_under_conversion'] == {'id': 0, 'name': 'commit'}
    assert [v['gate'] for v in doc['verdicts']] == ['api', 'scope']
    assert doc['verdicts'][1]['findings'][0]['file'] == 'toyprover/proof.py'
    assert annotations.strip() == (
        '::error file=toyprover/proof.py,line=3,title=gates/scope::outside stage 0, 100%25 [stage 0]'
    )
    assert '| scope | ❌ failed |' in summary.read_text()


def test_check_usage_errors(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_gates: Callable[..., list[str]]) -> None:
    fake_gates()
    assert cli(monkeypatch, tiny_subject.path, 'check', '--tier', 'nightly') == 2
    assert "no tier 'nightly'" in capsys.readouterr().err
    assert cli(monkeypatch, tiny_subject.path, 'check', '--json', '--base', 'nope') == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)['error'].startswith("git ref 'nope' not found")
    assert captured.err.startswith("gates: error: git ref 'nope' not found")


def test_not_a_git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(monkeypatch, tmp_path, 'status') == 2
    assert 'is not inside a git repository' in capsys.readouterr().err


@pytest.mark.parametrize(('run', 'code', 'message'), [
    (None, 3, "ModuleNotFoundError: import of gates.checks.memory halted"),
    ('crash', 3, 'RuntimeError: boom'),
    ('interrupt', 130, 'interrupted'),
])
def test_crash_and_interrupt(
        tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        fake_gates: Callable[..., list[str]], run: str | None, code: int, message: str,
) -> None:
    def bad(ctx: CheckContext) -> Verdict:
        raise RuntimeError('boom') if run == 'crash' else KeyboardInterrupt
    fake_gates(memory=None if run is None else bad)
    # The crash log is the engine's report to the user: keep it in this test's folder.
    crash_dir = tiny_subject.path.parent / 'crash-logs'
    crash_dir.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(crash_dir))
    assert cli(monkeypatch, tiny_subject.path, 'check') == code
    err = capsys.readouterr().err
    assert message in err
    if code == 3:
        assert 'gates: versions: python' in err and 'stagegate-crash-' in err
        assert [p.name.startswith('stagegate-crash-') for p in crash_dir.iterdir()] == [True]
    assert worktree_count(tiny_subject.path) == 1


def test_accept_records_and_commits_only_the_ledger(
        tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        fake_gates: Callable[..., list[str]],
) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    converted = commit_all(repo, 'stage 0: streaming')
    git(repo, 'branch', 'keep')
    write_files(repo, {'README.md': 'stashed\n'})
    git(repo, 'stash', 'push', '-q')
    calls = fake_gates()
    assert cli(monkeypatch, repo, 'accept') == 0
    assert calls == list(GATES)
    assert 'accepted stage 0 (commit)' in capsys.readouterr().out
    assert git(repo, 'diff', '--name-only', 'HEAD~1', 'HEAD') == 'specs/ledger.json'
    assert git(repo, 'rev-parse', 'HEAD~1') == converted
    subject = git(repo, 'log', '-1', '--format=%B')
    assert subject.startswith('gates: accept stage 0 (commit)\n')
    assert 'toy-12: stage 0 in-stage peak 68.4 KiB (was 4.1 MiB, -98.4%)' in subject
    assert git(repo, 'status', '--porcelain') == ''
    assert git(repo, 'stash', 'list').count('\n') == 0 and git(repo, 'stash', 'list')
    assert git(repo, 'rev-parse', 'keep') == converted
    ledger = read_ledger(repo / 'specs/ledger.json')
    (row,) = ledger.rows
    assert (row.stage, row.commit, row.dirty) == (0, converted, False)
    assert sorted(row.workloads) == ['toy-12', 'toy-13']
    assert row.workloads['toy-13'].stage_peaks['0'] == 70000
    assert row.workloads['toy-13'].time_ratio_stages['0'] == 1.1
    assert cli(monkeypatch, repo, 'next') == 0
    assert capsys.readouterr().out.startswith('Stage 1 (constraints)')


def test_accept_rejected_when_a_gate_fails(
        tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        fake_gates: Callable[..., list[str]],
) -> None:
    head = git(tiny_subject.path, 'rev-parse', 'HEAD')
    fake_gates(time=lambda ctx: Verdict.fails('time', [Finding('time', 'too slow', figure=2.5)]))
    assert cli(monkeypatch, tiny_subject.path, 'accept') == 1
    assert 'not accepted' in capsys.readouterr().out
    assert git(tiny_subject.path, 'rev-parse', 'HEAD') == head
    assert git(tiny_subject.path, 'status', '--porcelain') == ''


def test_install_hook(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    hook = tiny_subject.path / '.git/hooks/pre-commit'
    assert cli(monkeypatch, tiny_subject.path, 'install-hook') == 0
    text = hook.read_text()
    assert 'gates check --tier pre-commit --staged' in text and sys.executable in text
    assert hook.stat().st_mode & stat.S_IXUSR
    assert cli(monkeypatch, tiny_subject.path, 'install-hook') == 0    # ours: rewritten
    hook.write_text('#!/bin/sh\necho mine\n')
    assert cli(monkeypatch, tiny_subject.path, 'install-hook') == 2
    assert 'was not written by gates; move it away or pass --force' in capsys.readouterr().err
    assert hook.read_text() == '#!/bin/sh\necho mine\n'
    assert cli(monkeypatch, tiny_subject.path, 'install-hook', '--force') == 0
    assert 'gates check' in hook.read_text()


def test_installed_hook_runs_on_the_staged_tree(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real `git commit` runs the hook in git's hook environment; a broken spec stops it (exit 2).
    assert cli(monkeypatch, tiny_subject.path, 'install-hook') == 0
    spec = tiny_subject.spec_path
    spec.write_text(spec.read_text().replace('ratio_lt: 2.0', 'ratio_lt: two'))
    git(tiny_subject.path, 'add', 'specs/streaming-prover.yaml')
    spec.write_text(spec.read_text().replace('ratio_lt: two', 'ratio_lt: 2.0'))   # fixed, unstaged
    env = {k: v for k, v in os.environ.items() if not k.startswith('GIT_')}
    proc = subprocess.run(('git', 'commit', '-q', '-m', 'x'), cwd=tiny_subject.path, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'budgets.time.ratio_lt: expected a number > 1, got "two"' in proc.stderr
    assert worktree_count(tiny_subject.path) == 1


def test_report(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    repo = tiny_subject.path
    spec = load_spec(repo / 'specs/streaming-prover.yaml')
    path = repo / 'specs/ledger.json'
    fig = {wid: WorkloadFigures({'0': 65536 * (i + 1), '1': 4 << (20 + i), '2': 4 << (20 + i)}, 9 << 20, 1.1,
                                {'0': 1.2, '1': 1.0, '2': 1.0}, 'ab' * 32) for i, wid in enumerate(['toy-12', 'toy-13'])}
    append_row(path, read_ledger(path), make_row(spec.stages[0], 'a' * 40, False, fig))
    bench = tmp_path / 'bench.json'
    bench.write_text(json.dumps({'benchmarks': [
        {'params': {'workload': wid, 'metric': str(s), 'side': side}, 'stats': {'median': 0.01 * (i + 1)}}
        for i, wid in enumerate(['toy-12', 'toy-13']) for s in range(3) for side in ('baseline', 'candidate')
    ]}))
    out = tmp_path / 'report'
    assert cli(monkeypatch, repo, 'report', '--out', str(out), '--bench', str(bench)) == 0
    md = (out / 'report.md').read_text()
    assert '| 0 | commit | `aaaaaaaaaaaa` | toy-12 | 64.0 KiB |' in md
    assert '![peak_vs_T](peak_vs_T.png)' in md
    for name in ('peak_vs_T.png', 'whole_peak_vs_T.png', 'time_ratio_vs_T.png', 'time_vs_T.png'):
        assert (out / name).read_bytes()[:4] == b'\x89PNG'
    assert '<img src="peak_vs_T.png"' in (out / 'report.html').read_text()


def gates_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))}
    return subprocess.run(
        (sys.executable, '-m', 'gates', *args), cwd=repo, env=env, capture_output=True, text=True,
    )


@pytest.mark.slow
def test_end_to_end_with_the_real_gates(tmp_path: Path) -> None:
    """check, accept, status, audit with every real gate on the toy subject (real subprocesses).

    Toy stages sleep 25 ms and the time gate may use 7 pairs: with few-ms stages a self-vs-self
    stage ratio reached 2.2 on this shared machine, which no budget should have to absorb."""
    budgets = _SPEC_BLOCKS['budgets'].replace('max_pairs: 11', 'max_pairs: 7')
    tiny_subject = build_tiny_subject(tmp_path, sleep_ms=25, budgets=budgets)
    repo = tiny_subject.path
    convert_stage(repo, 0)
    converted = commit_all(repo, 'stage 0: streaming')
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert [v['gate'] for v in doc['verdicts']] == list(GATES)
    assert all(v['passed'] for v in doc['verdicts'])

    proc = gates_cli(repo, 'accept')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(repo, 'diff', '--name-only', 'HEAD~1', 'HEAD') == 'specs/ledger.json'
    (row,) = read_ledger(repo / 'specs/ledger.json').rows
    assert row.commit == converted and sorted(row.workloads) == ['toy-12', 'toy-13']
    peaks = row.workloads['toy-12'].stage_peaks
    assert peaks['0'] < peaks['1'] / 10        # sqrt(T) rows against T rows
    assert git(repo, 'worktree', 'list').count('\n') == 0

    proc = gates_cli(repo, 'status')
    assert proc.returncode == 0 and '0  commit               accepted at' in proc.stdout
    proc = gates_cli(repo, 'audit')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'row 0 reproduces' in proc.stdout

    # Stage 1 tampered: the proof gate fails the check (exit 1), nothing is recorded.
    convert_stage(repo, 1, tamper=True)
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'proof')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r'^proof\.+Failed', proc.stdout, re.M)


@pytest.mark.slow
def test_sigterm_during_a_check_cleans_up_like_ctrl_c(tiny_subject: TinyRepo) -> None:
    """A cancelled CI job sends SIGTERM mid-run: exit 130, no exported tree or probe left, tree intact."""
    import signal
    repo = tiny_subject.path
    convert_stage(repo, 0)                       # an uncommitted change to judge
    before = git(repo, 'status', '--porcelain')
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))}
    proc = subprocess.Popen(
        (sys.executable, '-m', 'gates', 'check', '--tier', 'ci'), cwd=repo, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    trees = []
    for line in proc.stderr:                     # wait until the memory gate's probes run
        found = re.search(r'prove in (\S+)', line)
        if found:
            trees.append(Path(found.group(1)))
        if line.startswith('memory '):
            break
    else:
        pytest.fail('gates check ended before the memory gate started')
    # The trees are private exports: they exist right now, but not as worktrees of the repo.
    assert trees and all(t.is_dir() for t in trees)
    assert worktree_count(repo) == 1
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert not any(t.exists() or t.parent.exists() for t in trees)
    assert worktree_count(repo) == 1
    assert git(repo, 'status', '--porcelain') == before


def test_freeze_writes_the_baselines_digests_and_refuses_to_change_them(tiny_subject: TinyRepo) -> None:
    """freeze reproduces the fixture's golden digests from the baseline ref, and will not
    silently replace digests that differ (that would move the oracle)."""
    repo = tiny_subject.path
    golden = repo / 'specs/golden.json'
    original = json.loads(golden.read_text())
    golden.unlink()
    proc = gates_cli(repo, 'freeze')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    made = json.loads(golden.read_text())
    assert made['workloads'] == original['workloads']
    assert made['baseline_commit'] == tiny_subject.baseline
    made['workloads']['toy-12']['sha256'] = '0' * 64
    golden.write_text(json.dumps(made))
    proc = gates_cli(repo, 'freeze')
    assert proc.returncode == 2 and 'toy-12' in proc.stderr and '--force' in proc.stderr
    assert worktree_count(repo) == 1


def _gates_with_closed_pipes(repo: Path, tmpdir: Path, *args: str, stdout_too: bool = True) -> int:
    """Run gates with stderr (and stdout) a pipe whose reader is already gone: every write gets
    EPIPE, as under `2>&1 | head -1` once head has exited (deterministic, unlike a real head)."""
    r_fd, w_fd = os.pipe()
    os.close(r_fd)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))}
    try:
        proc = subprocess.run((sys.executable, '-m', 'gates', *args), cwd=repo, stdin=subprocess.DEVNULL,
                              stdout=w_fd if stdout_too else subprocess.DEVNULL, stderr=w_fd,
                              env={**env, 'TMPDIR': str(tmpdir)}, timeout=600, check=False)
    finally:
        os.close(w_fd)
    return proc.returncode


def test_a_closed_stderr_keeps_the_real_exit_code_and_leaves_no_crash_log(tmp_path: Path) -> None:
    tiny = build_tiny_subject(tmp_path)
    tmpdir = tmp_path / 'tmp'
    tmpdir.mkdir()
    # Unusable input (no such tier): 2, not 1 and not a crash.
    assert _gates_with_closed_pipes(tiny.path, tmpdir, 'check', '--tier', 'nightly') == 2
    assert _gates_with_closed_pipes(tiny.path, tmpdir, 'next', stdout_too=False) == 0
    # A failing gate with its progress and table going nowhere: still 1; a pass: still 0.
    write_files(tiny.path, {'toyprover/backends/common.py': '# out of scope\n'})
    assert _gates_with_closed_pipes(tiny.path, tmpdir, 'check', '--tier', 'pre-commit', '--gate', 'scope') == 1
    git(tiny.path, 'checkout', '--', 'toyprover/backends/common.py')
    assert _gates_with_closed_pipes(tiny.path, tmpdir, 'check', '--tier', 'pre-commit', '--gate', 'scope') == 0
    assert sorted(p.name for p in tmpdir.iterdir() if p.name.startswith('stagegate-crash-')) == []
