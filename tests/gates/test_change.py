"""The change and the oracle (issue 6.1, 6.2): on a repository built the way this one was, with the
golden digests frozen after the baseline tag, a benign stage change passes, accept works, a
tagless clone finds the oracle, a shallow clone gets a clear error (real git, real subprocesses)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _change_helpers import build_like_this_repo
from _change_helpers import fake_measuring_gates
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from conftest import write_files
from gates.cli import main
from gates.contract.ledger import read_ledger
from structural_helpers import gates_cli

STATIC = ('--gate', 'api', '--gate', 'scope', '--gate', 'integrity', '--gate', 'proof')


def _comment_in_stage0(repo: Path) -> None:
    path = repo / 'toyprover/stages/stage0.py'
    path.write_text(path.read_text() + '# a comment while reading the stage\n')


def test_benign_stage_change_on_a_branch_passes_on_the_default_base(tmp_path: Path) -> None:
    tiny = build_like_this_repo(tmp_path)
    repo = tiny.path
    main_tip = git(repo, 'rev-parse', 'main')
    git(repo, 'checkout', '-q', '-b', 'work')
    _comment_in_stage0(repo)
    commit_all(repo, 'stage 0: a comment')
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--json', *STATIC)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    # The golden digests are on main: never part of a later change.
    assert doc['change']['base'] == main_tip and doc['base'] == main_tip
    assert doc['oracle'] == {'ref': 'stagegate-baseline', 'sha': tiny.baseline, 'source': 'ref'}
    assert all(v['passed'] for v in doc['verdicts'])
    # The table names both revisions too.
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', *STATIC)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f'oracle stagegate-baseline {tiny.baseline[:12]}; change from {main_tip[:12]}' in proc.stdout


def test_the_old_base_would_have_failed_integrity(tmp_path: Path) -> None:
    """Against the baseline tag, the golden digests are part of the change: that is the false
    alarm the separate notions remove (kept as a witness that the layout reproduces it)."""
    tiny = build_like_this_repo(tmp_path)
    repo = tiny.path
    git(repo, 'checkout', '-q', '-b', 'work')
    _comment_in_stage0(repo)
    commit_all(repo, 'stage 0: a comment')
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'integrity', '--base', 'stagegate-baseline')
    assert proc.returncode == 1
    assert 'specs/golden.json' in proc.stdout and 'edited together with subject code' in proc.stdout


def test_on_main_with_nothing_unpushed_the_change_is_the_working_tree(tmp_path: Path) -> None:
    tiny = build_like_this_repo(tmp_path)
    repo = tiny.path
    _comment_in_stage0(repo)
    commit_all(repo, 'stage 0: a comment, on main')
    head = git(repo, 'rev-parse', 'HEAD')
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--json', *STATIC)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc['change']['base'] == head
    # An uncommitted asset edit together with a subject edit is still judged.
    write_files(repo, {'specs/golden.json': (repo / 'specs/golden.json').read_text() + '\n'})
    _comment_in_stage0(repo)
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'integrity')
    assert proc.returncode == 1 and 'edited together with subject code' in proc.stdout


def test_upstream_decides_what_is_not_yet_pushed(tmp_path: Path) -> None:
    tiny = build_like_this_repo(tmp_path, name='origin')
    clone = tmp_path / 'clone'
    subprocess.run(('git', 'clone', '-q', str(tiny.path), str(clone)), check=True, capture_output=True)
    git(clone, 'config', 'user.name', 'Test')
    git(clone, 'config', 'user.email', 'test@example.com')
    pushed = git(clone, 'rev-parse', 'HEAD')
    _comment_in_stage0(clone)
    commit_all(clone, 'stage 0: unpushed')
    proc = gates_cli(clone, 'check', '--tier', 'pre-commit', '--json', '--gate', 'scope')
    doc = json.loads(proc.stdout)
    assert doc['change']['base'] == pushed and 'origin/main' in doc['change']['how']


def test_accept_on_main_appends_and_commits_its_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """accept as a user runs it, on main: the real api, scope, integrity and proof gates judge;
    memory and time (tested for real in their own files) are replaced by passing figures."""
    tiny = build_like_this_repo(tmp_path)
    repo = tiny.path
    convert_stage(repo, 0)
    converted = commit_all(repo, 'stage 0: streaming')
    fake_measuring_gates(monkeypatch)
    monkeypatch.chdir(repo)
    assert main(['accept']) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert 'accepted stage 0 (commit)' in out
    assert git(repo, 'diff', '--name-only', 'HEAD~1', 'HEAD') == 'specs/ledger.json'
    (row,) = read_ledger(repo / 'specs/ledger.json').rows
    assert row.commit == converted
    # And the same on a branch.
    git(repo, 'checkout', '-q', '-b', 'stage1')
    convert_stage(repo, 1)
    converted = commit_all(repo, 'stage 1: streaming')
    assert main(['accept']) == 0, capsys.readouterr()
    assert read_ledger(repo / 'specs/ledger.json').rows[1].commit == converted


def test_a_tagless_clone_takes_the_oracle_from_the_golden_digests(tmp_path: Path) -> None:
    tiny = build_like_this_repo(tmp_path, name='origin')
    clone = tmp_path / 'clone'
    subprocess.run(('git', 'clone', '-q', '--no-tags', str(tiny.path), str(clone)), check=True, capture_output=True)
    assert git(clone, 'tag') == ''
    proc = gates_cli(clone, 'check', '--tier', 'pre-commit', '--json', '--gate', 'proof')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc['oracle'] == {'ref': 'stagegate-baseline', 'sha': tiny.baseline, 'source': 'golden'}
    notes = [line for line in proc.stderr.splitlines() if 'not found; using the baseline commit' in line]
    assert len(notes) == 1 and 'specs/golden.json' in notes[0]


def test_a_shallow_clone_gets_a_clear_error(tmp_path: Path) -> None:
    tiny = build_like_this_repo(tmp_path, name='origin')
    clone = tmp_path / 'clone'
    subprocess.run(
        ('git', 'clone', '-q', '--depth', '1', '--no-tags', f'file://{tiny.path}', str(clone)),
        check=True, capture_output=True,
    )
    proc = gates_cli(clone, 'check', '--tier', 'pre-commit', '--gate', 'proof')
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'shallow clone' in proc.stderr and 'git fetch --unshallow --tags' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_missing_base_sha_is_not_told_to_fetch_a_tag(tmp_path: Path) -> None:
    tiny = build_like_this_repo(tmp_path)
    proc = gates_cli(tiny.path, 'check', '--gate', 'scope', '--base', 'deadbeef' * 5)
    assert proc.returncode == 2
    assert 'fetch origin tag' not in proc.stderr and 'deadbeef' in proc.stderr


def test_trees_are_private_exports_without_ignored_files(tmp_path: Path) -> None:
    """No worktree is registered while the gates run, and an ignored sitecustomize.py in the
    checkout is in neither tree the subject runs in."""
    tiny = build_like_this_repo(tmp_path)
    repo = tiny.path
    write_files(repo, {'.gitignore': (repo / '.gitignore').read_text() + 'sitecustomize.py\n'})
    commit_all(repo, 'ignore sitecustomize')
    marker = tmp_path / 'ran'
    write_files(repo, {'sitecustomize.py': f'open({str(marker)!r}, "w").write("x")\n'})
    # The subject reports what it sees: its tree's files and the worktrees of the repo.
    probe = repo / 'toyprover/stages/stage0.py'
    probe.write_text(probe.read_text() + (
        'import os as _os, subprocess as _sp\n'
        f'_os.makedirs({str(tmp_path / "seen")!r}, exist_ok=True)\n'
        f'open(_os.path.join({str(tmp_path / "seen")!r}, str(_os.getpid())), "w").write(\n'
        '    repr((_os.path.exists("sitecustomize.py"), _sp.run(["git", "worktree", "list"],\n'
        '    capture_output=True, text=True, cwd=' + repr(str(repo)) + ').stdout.count(chr(10)))))\n'
    ))
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'proof')
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    seen = [p.read_text() for p in (tmp_path / 'seen').iterdir()]
    assert seen and all(s == '(False, 1)' for s in seen), seen
    assert not marker.exists()
    assert git(repo, 'worktree', 'list').count('\n') == 0


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    tiny = build_like_this_repo(tmp_path)
    for args in (('next',), ('status',)):
        normal = gates_cli(tiny.path, *args)
        shell = f'{sys.executable} -m gates {" ".join(args)} | true; exit ${{PIPESTATUS[0]}}'
        proc = subprocess.run(('bash', '-c', shell), cwd=tiny.path, capture_output=True, text=True)
        assert proc.returncode == normal.returncode == 0, proc.stderr
        assert proc.stderr == '', proc.stderr


def test_the_hook_lets_a_benign_commit_through_on_main_and_on_a_branch(tmp_path: Path) -> None:
    """`gates install-hook`, then plain `git commit` as a user runs it (the hook judges the staged
    tree against HEAD). As in this repository, the pre-commit tier runs the structural gates and
    proof."""
    from conftest import _SPEC_BLOCKS
    tiers = _SPEC_BLOCKS['tiers'] + 'tier_gates:\n  pre-commit: [api, scope, integrity, proof]\n'
    tiny = build_like_this_repo(tmp_path, tiers=tiers)
    repo = tiny.path
    proc = gates_cli(repo, 'install-hook')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for branch in ('main', 'work'):
        if branch != 'main':
            git(repo, 'checkout', '-q', '-b', branch)
        _comment_in_stage0(repo)
        git(repo, 'add', '-A')
        before = git(repo, 'rev-parse', 'HEAD')
        proc = subprocess.run(
            ('git', 'commit', '-q', '-m', f'stage 0: a comment on {branch}'), cwd=repo,
            capture_output=True, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert git(repo, 'rev-parse', 'HEAD~1') == before
        assert 'oracle stagegate-baseline' in proc.stdout + proc.stderr
    # And the hook still stops an asset edited together with subject code.
    write_files(repo, {'specs/golden.json': (repo / 'specs/golden.json').read_text() + '\n'})
    _comment_in_stage0(repo)
    git(repo, 'add', '-A')
    proc = subprocess.run(
        ('git', 'commit', '-q', '-m', 'both'), cwd=repo, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))},
    )
    assert proc.returncode != 0 and 'edited together with subject code' in proc.stdout + proc.stderr


def test_the_working_export_is_what_git_add_all_would_commit(tmp_path: Path) -> None:
    from conftest import make_repo
    from gates.vcs import repo as repo_mod
    repo = make_repo(tmp_path, {'a.py': 'a = 1\n', 'gone.py': 'x\n', '.gitignore': 'secret/\nsitecustomize.py\n'})
    write_files(repo, {'a.py': 'a = 2\n', 'new.py': 'n\n', 'sitecustomize.py': 'evil\n', 'secret/k': 'k\n'})
    (repo / 'gone.py').unlink()
    with repo_mod.working_export(repo_mod.open_repo(repo)) as tree:
        files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob('*') if p.is_file())
        assert files == ['.gitignore', 'a.py', 'new.py']
        assert (tree / 'a.py').read_text() == 'a = 2\n'
    assert not tree.exists() and not tree.parent.exists()
    with repo_mod.export(repo_mod.open_repo(repo), 'HEAD') as tree:
        files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob('*') if p.is_file())
        assert files == ['.gitignore', 'a.py', 'gone.py'] and (tree / 'a.py').read_text() == 'a = 1\n'
    assert git(repo, 'worktree', 'list').count('\n') == 0
