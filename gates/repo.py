"""Git, through gitpython: merge-base, changed paths, temporary trees. Never writes to the user's
working tree, index, branches or stash; temporary worktrees are always removed.

Inside a git hook, git exports ``GIT_DIR``, ``GIT_INDEX_FILE`` and friends. Commands on the user's
repo keep them (the hook's index is the one being committed); commands that touch another
worktree run with them stripped (``no_git_env``), as pre-commit does, else git would write the
temporary checkout's index into the user's.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path

import git

from gates.context import ChangedPath
from gates.context import Status
from gates.model import GateError

WORKTREE = ':worktree'   # ``changed_paths`` head: the working tree, uncommitted and untracked too
INDEX = ':index'         # ``changed_paths`` head: the staged index (the pre-commit hook's view)

# Kept because they configure how git runs, not which repository it touches (as pre-commit).
_KEEP_GIT_ENV = (
    'GIT_EXEC_PATH', 'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_SSL_CAINFO', 'GIT_SSL_NO_VERIFY',
    'GIT_HTTP_PROXY_AUTHMETHOD', 'GIT_ALLOW_PROTOCOL', 'GIT_ASKPASS', 'GIT_CONFIG_NOSYSTEM',
    'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_SYSTEM', 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL',
    'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_TERMINAL_PROMPT',
)


def no_git_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` without the variables that point git at a particular repo/index/worktree."""
    env = os.environ if environ is None else environ
    return {
        k: v for k, v in env.items()
        if not k.startswith('GIT_') or k in _KEEP_GIT_ENV
        or k.startswith(('GIT_CONFIG_KEY_', 'GIT_CONFIG_VALUE_', 'GIT_CONFIG_COUNT'))
    }


def _git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """git in a clean environment; a failure is a GateError quoting git's own words."""
    proc = subprocess.run(
        ('git', *args), cwd=cwd, env=no_git_env() if env is None else dict(env),
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise GateError(f'git {args[0]} failed in {cwd}: {detail[-1] if detail else proc.returncode}')
    return proc.stdout


def open_repo(path: Path) -> git.Repo:
    """The repository containing ``path`` (searching parents), with a working tree."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GateError(f'{path} is not inside a git repository; run gates from your checkout.') from None
    if repo.bare or repo.working_tree_dir is None:
        raise GateError(f'{path} is a bare repository; run gates from a checkout with a working tree.')
    return repo


def root(repo: git.Repo) -> Path:
    return Path(str(repo.working_tree_dir))


def is_shallow(repo: git.Repo) -> bool:
    return bool(repo.git.rev_parse('--is-shallow-repository').strip() == 'true')


def _unshallow_hint(repo: git.Repo) -> str:
    if not is_shallow(repo):
        return ''
    return (
        ' This is a shallow clone: fetch the full history and tags with '
        '`git fetch --unshallow --tags` (in GitHub Actions: actions/checkout with fetch-depth: 0).'
    )


def resolve(repo: git.Repo, rev: str) -> str:
    """The commit sha ``rev`` names; a missing ref is a GateError that says how to get it."""
    try:
        return str(repo.rev_parse(f'{rev}^{{commit}}').hexsha)
    except (git.BadName, git.BadObject, ValueError):
        raise GateError(
            f'git ref {rev!r} not found; fetch it (`git fetch origin tag {rev}`) or pass --base.'
            + _unshallow_hint(repo),
        ) from None


def head_commit(repo: git.Repo) -> str:
    try:
        return str(repo.head.commit.hexsha)
    except ValueError:
        raise GateError('the repository has no commits yet; commit the baseline first.') from None


def merge_base(repo: git.Repo, base: str, head: str = 'HEAD') -> str:
    """The merge-base of ``base`` and ``head`` (commit shas)."""
    a, b = resolve(repo, base), resolve(repo, head)
    bases = repo.merge_base(a, b)
    if not bases:
        hint = _unshallow_hint(repo)
        raise GateError(
            f'no merge-base between {base!r} and {head!r} in this history.'
            + (hint or f' Is {head!r} descended from {base!r}?'),
        )
    return str(bases[0].hexsha)


def _parse_name_status(out: str) -> list[ChangedPath]:
    fields = out.split('\0')
    changes = []
    i = 0
    while i < len(fields) and fields[i]:
        code = fields[i]
        if code[0] in 'RC':
            old, new = fields[i + 1], fields[i + 2]
            status: Status = 'R' if code[0] == 'R' else 'A'
            changes.append(ChangedPath(new, status, old if status == 'R' else None))
            i += 3
            continue
        # T (type change) and U (unmerged) are edits for the gates' purposes.
        letter: Status = code[0] if code[0] in 'AMD' else 'M'  # type: ignore[assignment]
        changes.append(ChangedPath(fields[i + 1], letter))
        i += 2
    return changes


def changed_paths(repo: git.Repo, base: str, head: str = WORKTREE) -> list[ChangedPath]:
    """Paths changed from ``base`` (a rev) to ``head`` (``WORKTREE``, ``INDEX`` or a rev).

    Renames are detected (``-M``); the working tree includes untracked, not ignored files as
    additions, since they are part of the tree the gates measure.
    """
    args = ['--name-status', '-M', '-z', '--no-ext-diff', '--no-textconv', '--no-color']
    if head == INDEX:
        out = repo.git.diff(*args, '--cached', base)
    elif head == WORKTREE:
        out = repo.git.diff(*args, base)
    else:
        out = repo.git.diff(*args, base, head)
    changes = _parse_name_status(out)
    if head == WORKTREE:
        untracked = repo.git.ls_files('--others', '--exclude-standard', '-z')
        changes += [ChangedPath(p, 'A') for p in untracked.split('\0') if p]
    return sorted(changes, key=lambda c: c.path)


def dirty_paths(repo: git.Repo) -> list[str]:
    """Uncommitted changes: staged, unstaged and untracked (not ignored) paths."""
    out = repo.git.status('--porcelain', '-z', '--untracked-files=all')
    paths = []
    fields = out.split('\0')
    i = 0
    while i < len(fields) and fields[i]:
        entry = fields[i]
        paths.append(entry[3:])
        # A rename's entry is followed by its old path.
        i += 2 if entry[0] in 'RC' or entry[1] in 'RC' else 1
    return paths


def is_dirty(repo: git.Repo) -> bool:
    return bool(dirty_paths(repo))


def _remove_worktree(repo_root: Path, path: Path) -> None:
    # Best effort, each step independently: a half-made worktree must not survive either.
    with contextlib.suppress(GateError):
        _git(repo_root, 'worktree', 'remove', '--force', str(path))
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(GateError):
        _git(repo_root, 'worktree', 'prune')


@contextlib.contextmanager
def worktree(repo: git.Repo, rev: str) -> Iterator[Path]:
    """A detached, temporary worktree of ``rev``; removed on success, error and Ctrl-C."""
    sha = resolve(repo, rev)
    repo_root = root(repo)
    tmp = Path(tempfile.mkdtemp(prefix='stagegate-'))
    path = tmp / 'tree'
    try:
        _git(repo_root, 'worktree', 'add', '--detach', '--force', '--quiet', str(path), sha)
        yield path
    finally:
        _remove_worktree(repo_root, path)
        shutil.rmtree(tmp, ignore_errors=True)


def _index_file(repo: git.Repo) -> Path:
    # In a hook, GIT_INDEX_FILE is the index being committed (may be relative to the top level).
    hook_index = os.environ.get('GIT_INDEX_FILE')
    if hook_index:
        return (root(repo) / hook_index).resolve()
    return Path(repo.git_dir) / 'index'


@contextlib.contextmanager
def staged_tree(repo: git.Repo) -> Iterator[Path]:
    """A temporary export of the staged index (what a commit would record); removed on exit.

    Works on a copy of the index so the user's index is not touched, not even its cache-tree.
    """
    tmp = Path(tempfile.mkdtemp(prefix='stagegate-staged-'))
    try:
        index_copy = tmp / 'index'
        shutil.copyfile(_index_file(repo), index_copy)
        dest = tmp / 'tree'
        dest.mkdir()
        env = {**no_git_env(), 'GIT_INDEX_FILE': str(index_copy)}
        _git(root(repo), 'write-tree', env=env)   # fails early on an unmerged index
        _git(root(repo), f'--work-tree={dest}', 'checkout-index', '--all', '--force', env=env)
        yield dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def commit_file(repo: git.Repo, rel_path: str, message: str) -> str:
    """Commit only ``rel_path`` (as it is in the working tree) on the current branch.

    The caller ensures the tree was otherwise clean, so the index equals HEAD but for this file.
    Hooks are skipped: the commit is the engine's own record, judged when it was measured.
    """
    repo.index.add([rel_path])
    commit = repo.index.commit(message, skip_hooks=True)
    return str(commit.hexsha)
