from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import TinyRepo
from conftest import commit_all
from conftest import git
from conftest import make_repo
from conftest import write_files
from gates.vcs import repo as gitrepo
from gates.vcs.changes import ChangedPath
from gates.model import GateError


def snapshot(repo: Path) -> dict[str, str]:
    """Everything of the user's that gates must never change, hashed byte for byte."""
    state = {}
    for path in sorted(repo.rglob('*')):
        rel = path.relative_to(repo).as_posix()
        if path.is_file() and not rel.startswith('.git/'):
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    state['.git/index'] = hashlib.sha256((repo / '.git/index').read_bytes()).hexdigest()
    state['refs'] = git(repo, 'for-each-ref', '--format=%(refname) %(objectname)')
    state['HEAD'] = (repo / '.git/HEAD').read_text()
    state['stash'] = git(repo, 'stash', 'list')
    state['status'] = git(repo, 'status', '--porcelain')
    return state


@pytest.fixture
def busy_repo(tiny_subject: TinyRepo) -> Path:
    """A tiny repo with a branch, a stash, staged, unstaged and untracked changes."""
    repo = tiny_subject.path
    write_files(repo, {'README.md': '# toy\nstash me\n'})
    git(repo, 'stash', 'push', '-q', '-m', 'user stash')
    git(repo, 'branch', 'feature')
    write_files(repo, {'toyprover/stages/stage0.py': '# staged\n'})
    git(repo, 'add', 'toyprover/stages/stage0.py')
    write_files(repo, {'README.md': '# toy\nunstaged\n', 'notes.txt': 'untracked\n'})
    return repo


def worktrees(repo: Path) -> list[str]:
    return [l for l in git(repo, 'worktree', 'list', '--porcelain').splitlines() if l.startswith('worktree ')]


def test_worktree_removed_on_success(busy_repo: Path) -> None:
    before = snapshot(busy_repo)
    repo = gitrepo.open_repo(busy_repo)
    with gitrepo.worktree(repo, 'stagegate-baseline') as tree:
        assert (tree / 'toyprover/probe.py').is_file()
        assert 'staged' not in (tree / 'toyprover/stages/stage0.py').read_text()
        assert not (tree / 'notes.txt').exists()
        # An export, not a worktree: nothing in the repository tells a subject where it is.
        assert len(worktrees(busy_repo)) == 1
    assert not tree.exists()
    assert not tree.parent.exists()
    assert len(worktrees(busy_repo)) == 1
    assert snapshot(busy_repo) == before


@pytest.mark.parametrize('exc', [RuntimeError, KeyboardInterrupt])
def test_worktree_removed_on_error(busy_repo: Path, exc: type[BaseException]) -> None:
    before = snapshot(busy_repo)
    repo = gitrepo.open_repo(busy_repo)
    with pytest.raises(exc):
        with gitrepo.worktree(repo, 'HEAD') as tree:
            (tree / 'scratch.txt').write_text('left behind?')
            raise exc()
    assert not tree.exists()
    assert len(worktrees(busy_repo)) == 1
    assert snapshot(busy_repo) == before


SIGINT_CHILD = textwrap.dedent('''\
    import sys, time
    from pathlib import Path
    from gates.vcs import repo as gitrepo
    repo = gitrepo.open_repo(Path(sys.argv[1]))
    try:
        with gitrepo.worktree(repo, 'HEAD') as tree:
            print(tree, flush=True)
            time.sleep(60)
    except KeyboardInterrupt:
        sys.exit(130)
''')


def test_worktree_removed_on_real_sigint(busy_repo: Path) -> None:
    before = snapshot(busy_repo)
    proc = subprocess.Popen(
        (sys.executable, '-c', SIGINT_CHILD, str(busy_repo)), stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    tree = Path(proc.stdout.readline().strip())
    assert tree.is_dir()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert not tree.exists()
    assert len(worktrees(busy_repo)) == 1
    assert snapshot(busy_repo) == before


def test_hook_environment_does_not_leak(busy_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What git exports inside a hook; without stripping, the checkout would write this index.
    before = snapshot(busy_repo)
    monkeypatch.chdir(busy_repo)
    monkeypatch.setenv('GIT_DIR', str(busy_repo / '.git'))
    monkeypatch.setenv('GIT_INDEX_FILE', str(busy_repo / '.git/index'))
    monkeypatch.setenv('GIT_WORK_TREE', str(busy_repo))
    repo = gitrepo.open_repo(busy_repo)
    with gitrepo.worktree(repo, 'stagegate-baseline') as tree:
        assert (tree / 'toyprover/probe.py').is_file()
    with gitrepo.staged_tree(repo) as staged:
        assert (staged / 'toyprover/stages/stage0.py').read_text() == '# staged\n'
    monkeypatch.delenv('GIT_DIR')
    monkeypatch.delenv('GIT_INDEX_FILE')
    monkeypatch.delenv('GIT_WORK_TREE')
    assert snapshot(busy_repo) == before


def test_staged_tree_is_the_index(busy_repo: Path) -> None:
    before = snapshot(busy_repo)
    repo = gitrepo.open_repo(busy_repo)
    with gitrepo.staged_tree(repo) as tree:
        assert (tree / 'toyprover/stages/stage0.py').read_text() == '# staged\n'
        assert (tree / 'README.md').read_text() == '# toy\n'     # unstaged edit excluded
        assert not (tree / 'notes.txt').exists()                 # untracked excluded
    assert not tree.exists()
    assert snapshot(busy_repo) == before


def test_staged_tree_uses_the_hook_index(tiny_subject: TinyRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_path = tiny_subject.path
    other = repo_path / '.git/other-index'
    env = {**os.environ, 'GIT_INDEX_FILE': str(other)}
    subprocess.run(('git', 'read-tree', 'HEAD'), cwd=repo_path, env=env, check=True)
    (repo_path / 'README.md').write_text('only in the hook index\n')
    subprocess.run(('git', 'add', 'README.md'), cwd=repo_path, env=env, check=True)
    (repo_path / 'README.md').write_text('# toy\n')
    monkeypatch.setenv('GIT_INDEX_FILE', str(other))
    with gitrepo.staged_tree(gitrepo.open_repo(repo_path)) as tree:
        assert (tree / 'README.md').read_text() == 'only in the hook index\n'


def test_changed_paths(tiny_subject: TinyRepo) -> None:
    repo_path = tiny_subject.path
    git(repo_path, 'mv', 'toyprover/proof.py', 'toyprover/proof_format.py')
    git(repo_path, 'rm', '-q', 'README.md')
    write_files(repo_path, {'docs/new.md': 'new\n', 'toyprover/stages/stage1.py': '# edited\n'})
    git(repo_path, 'add', 'docs/new.md')
    write_files(repo_path, {'untracked.py': 'x = 1\n'})
    repo = gitrepo.open_repo(repo_path)
    base = gitrepo.merge_base(repo, 'stagegate-baseline')

    assert gitrepo.changed_paths(repo, base, gitrepo.WORKTREE) == [
        ChangedPath('README.md', 'D'),
        ChangedPath('docs/new.md', 'A'),
        ChangedPath('toyprover/proof_format.py', 'R', 'toyprover/proof.py'),
        ChangedPath('toyprover/stages/stage1.py', 'M'),
        ChangedPath('untracked.py', 'A'),
    ]
    assert gitrepo.changed_paths(repo, base, gitrepo.INDEX) == [
        ChangedPath('README.md', 'D'),
        ChangedPath('docs/new.md', 'A'),
        ChangedPath('toyprover/proof_format.py', 'R', 'toyprover/proof.py'),
    ]
    commit_all(repo_path, 'everything')
    assert len(gitrepo.changed_paths(repo, base, 'HEAD')) == 5
    assert ChangedPath('a', 'R', 'b').paths() == ('b', 'a')


def test_missing_baseline_ref(tiny_subject: TinyRepo) -> None:
    repo = gitrepo.open_repo(tiny_subject.path)
    with pytest.raises(GateError, match=r"git ref 'no-such-tag' not found; fetch it"):
        gitrepo.merge_base(repo, 'no-such-tag')


def test_not_a_git_repo(tmp_path: Path) -> None:
    with pytest.raises(GateError, match='is not inside a git repository'):
        gitrepo.open_repo(tmp_path)


@pytest.fixture
def shallow_clone(tiny_subject: TinyRepo, tmp_path: Path) -> Path:
    for i in range(3):
        write_files(tiny_subject.path, {'docs/log.md': f'{i}\n'})
        commit_all(tiny_subject.path, f'work {i}')
    clone = tmp_path / 'clone'
    git(tmp_path, 'clone', '-q', '--depth', '1', f'file://{tiny_subject.path}', str(clone))
    return clone


def test_shallow_clone_without_the_tag(shallow_clone: Path) -> None:
    repo = gitrepo.open_repo(shallow_clone)
    with pytest.raises(GateError) as info:
        gitrepo.merge_base(repo, 'stagegate-baseline')
    assert 'not found' in str(info.value)
    assert 'git fetch --unshallow' in str(info.value)
    assert 'fetch-depth: 0' in str(info.value)


def test_shallow_clone_without_the_merge_base(shallow_clone: Path) -> None:
    git(shallow_clone, 'fetch', '-q', '--depth', '1', 'origin', 'tag', 'stagegate-baseline')
    repo = gitrepo.open_repo(shallow_clone)
    with pytest.raises(GateError) as info:
        gitrepo.merge_base(repo, 'stagegate-baseline')
    assert 'no merge-base' in str(info.value)
    assert 'git fetch --unshallow' in str(info.value)
    git(shallow_clone, 'fetch', '-q', '--unshallow', '--tags', 'origin')
    assert gitrepo.merge_base(repo, 'stagegate-baseline') == git(shallow_clone, 'rev-parse', 'stagegate-baseline')


def test_dirty_paths(busy_repo: Path) -> None:
    repo = gitrepo.open_repo(busy_repo)
    assert sorted(gitrepo.dirty_paths(repo)) == ['README.md', 'notes.txt', 'toyprover/stages/stage0.py']
    clean = make_repo(busy_repo.parent / 'clean', {'a': 'b\n'})
    assert not gitrepo.is_dirty(gitrepo.open_repo(clean))


def test_accept_refuses_a_dirty_tree(busy_repo: Path) -> None:
    before = snapshot(busy_repo)
    proc = subprocess.run(
        (sys.executable, '-m', 'gates', 'accept'), cwd=busy_repo, capture_output=True, text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert 'uncommitted changes' in proc.stderr
    assert snapshot(busy_repo) == before
