"""Git, through gitpython: the oracle, the change's base, changed paths, private tree exports.

Never writes to the user's working tree, index, branches or stash, and never registers anything
in the repository (no worktrees): the trees the subject runs in are private exports, removed on
exit, error, Ctrl-C and SIGTERM.

Inside a git hook, git exports ``GIT_DIR``, ``GIT_INDEX_FILE`` and friends. Commands on the user's
repo keep them (the hook's index is the one being committed); commands that touch another
worktree run with them stripped (``no_git_env``), as pre-commit does, else git would write the
temporary checkout's index into the user's.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path

import git

from gates.vcs.changes import ChangedPath
from gates.vcs.changes import Status
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


_SHA = re.compile(r'[0-9a-fA-F]{7,40}')


def try_resolve(repo: git.Repo, rev: str) -> str | None:
    """The commit sha ``rev`` names, or None when this history has no such commit."""
    try:
        return str(repo.rev_parse(f'{rev}^{{commit}}').hexsha)
    except (git.BadName, git.BadObject, ValueError):
        return None


def resolve(repo: git.Repo, rev: str, what: str = 'git ref') -> str:
    """The commit sha ``rev`` names; a missing ref is a GateError that says how to get it."""
    sha = try_resolve(repo, rev)
    if sha is not None:
        return sha
    if _SHA.fullmatch(rev):
        # A commit, not a tag: `git fetch origin tag <sha>` would be nonsense advice.
        how = f'fetch the history that contains it (`git fetch origin {rev}` or `git fetch --unshallow`)'
    else:
        how = f'fetch it (`git fetch origin tag {rev}`) or pass --base'
    raise GateError(f'{what} {rev!r} not found; {how}.' + _unshallow_hint(repo))


def is_ancestor(repo: git.Repo, older: str, newer: str) -> bool:
    proc = subprocess.run(
        ('git', 'merge-base', '--is-ancestor', older, newer), cwd=root(repo),
        capture_output=True, check=False,
    )
    return proc.returncode == 0


@dataclasses.dataclass(frozen=True)
class Oracle:
    """The frozen baseline the proofs, protected code and time are judged against."""

    ref: str        # the spec's baseline.ref (a tag, normally)
    sha: str
    source: str     # 'ref' | 'golden' (the tag was missing; the golden digests named the commit)


def oracle(repo: git.Repo, ref: str, golden_text: str | None, golden_rel: str) -> tuple[Oracle, str | None]:
    """The oracle commit and, when it did not come from ``ref`` itself, the one line saying so.

    Without the tag (a clone made with ``--no-tags``), the commit the golden digests name is the
    oracle if it is in this history: the digests were made from it. A shallow clone cannot have
    it: that is an error with the command that fixes it.
    """
    sha = try_resolve(repo, ref)
    if sha is not None:
        return Oracle(ref, sha, 'ref'), None
    named = None
    if golden_text is not None:
        try:
            doc = json.loads(golden_text)
        except json.JSONDecodeError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get('baseline_commit'), str):
            named = doc['baseline_commit']
    if named is not None and _SHA.fullmatch(named):
        found = try_resolve(repo, named)
        if found is not None and is_ancestor(repo, found, 'HEAD'):
            return Oracle(ref, found, 'golden'), (
                f'gates: baseline ref {ref!r} not found; using the baseline commit {found[:12]} '
                f'named by {golden_rel}'
            )
    if is_shallow(repo):
        raise GateError(
            f'baseline ref {ref!r} not found and this is a shallow clone, so the baseline commit '
            f'{(named or "?")[:12]} named by {golden_rel} is not in its history either; fetch the '
            f'full history and tags (`git fetch --unshallow --tags`; in GitHub Actions: '
            f'actions/checkout with fetch-depth: 0).',
        )
    tail = (
        f'; {golden_rel} names {named[:12]}, which is not in the history of HEAD'
        if named else f'; {golden_rel} names no baseline_commit'
    )
    raise GateError(
        f'baseline ref {ref!r} not found{tail}. Fetch the tag (`git fetch origin tag {ref}`).',
    )


@dataclasses.dataclass(frozen=True)
class Change:
    """What the structural gates judge: ``head`` (a tree view) against the commit ``base``."""

    base: str       # commit sha
    how: str        # one phrase: where the base came from


def change_base(
        repo: git.Repo,
        base: str | None,
        staged: bool,
        main_branch: str,
        environ: Mapping[str, str] | None = None,
) -> Change:
    """The commit the change is judged from (docs/gates.md, "The change and the oracle").

    ``--base REF``: the merge-base of REF and HEAD (CI passes the pull request's target). Under
    GitHub Actions without ``--base``, ``GITHUB_BASE_REF`` names the target. In the hook
    (``staged``): HEAD, since what is committed was judged when it was committed. Else what is
    not on the upstream yet: the merge-base with ``@{upstream}``, else with the main branch
    (local, then ``origin/``). On the main branch with nothing unpushed that is HEAD itself, so
    the change is the uncommitted work alone. Commits already on main are never in a change.
    """
    env = os.environ if environ is None else environ
    if base is not None:
        return Change(merge_base(repo, base, 'HEAD'), f'merge-base with {base}')
    target = env.get('GITHUB_BASE_REF', '').strip()
    if target:
        for name in (f'origin/{target}', target):
            if try_resolve(repo, name) is not None:
                return Change(merge_base(repo, name, 'HEAD'), f'merge-base with {name} (GITHUB_BASE_REF)')
        raise GateError(
            f'GITHUB_BASE_REF={target}, but neither origin/{target} nor {target} is in this '
            f'clone; fetch it (actions/checkout with fetch-depth: 0) or pass --base.',
        )
    head = head_commit(repo)
    if staged:
        return Change(head, 'HEAD (the staged index is the change)')
    upstream = repo.git.rev_parse(
        '--abbrev-ref', '--symbolic-full-name', '@{upstream}', with_exceptions=False,
    ).strip()
    if upstream and try_resolve(repo, upstream) is not None:
        return Change(merge_base(repo, upstream, 'HEAD'), f'merge-base with {upstream} (upstream)')
    for name in (main_branch, f'origin/{main_branch}'):
        if try_resolve(repo, name) is not None:
            return Change(merge_base(repo, name, 'HEAD'), f'merge-base with {name}')
    raise GateError(
        f'no upstream branch and no branch {main_branch!r} to tell the change from; pass '
        f'--base REF (the branch this work will be merged into).',
    )


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


@contextlib.contextmanager
def _private_dir(prefix: str) -> Iterator[Path]:
    """A fresh temporary folder (mode 0700), removed on success, error, Ctrl-C and SIGTERM (which
    the CLI turns into KeyboardInterrupt)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _checkout_index(repo_root: Path, index: Path, dest: Path) -> None:
    env = {**no_git_env(), 'GIT_INDEX_FILE': str(index)}
    _git(repo_root, f'--work-tree={dest}', 'checkout-index', '--all', '--force', env=env)


@contextlib.contextmanager
def export(repo: git.Repo, rev: str) -> Iterator[Path]:
    """A private export of the COMMITTED tree of ``rev``; removed on exit, error and Ctrl-C.

    Not a worktree: nothing is registered in the user's repository (``git worktree list`` shows
    nothing a subject could find and tamper with), and only committed content is there, never
    an ignored or untracked file of the checkout. Made with ``read-tree`` into a private index
    and ``checkout-index``, so the user's index is never touched.
    """
    sha = resolve(repo, rev)
    with _private_dir('stagegate-') as tmp:
        index = tmp / 'index'
        dest = tmp / 'tree'
        dest.mkdir()
        _git(root(repo), 'read-tree', sha, env={**no_git_env(), 'GIT_INDEX_FILE': str(index)})
        _checkout_index(root(repo), index, dest)
        index.unlink()
        yield dest


# The old name: every tree the engine makes is an export now (see ``export``).
worktree = export


def working_files(repo: git.Repo) -> list[str]:
    """The working tree's files a commit of ``git add -A`` would record: tracked files that still
    exist, plus untracked files that are not ignored. Never an ignored file."""
    out = repo.git.ls_files('--cached', '--others', '--exclude-standard', '-z')
    top = root(repo)
    seen: set[str] = set()
    files = []
    for rel in out.split('\0'):
        # A tracked file deleted in the working tree is listed but absent: the export lacks it.
        if rel and rel not in seen and ((top / rel).is_symlink() or (top / rel).is_file()):
            seen.add(rel)
            files.append(rel)
    return files


@contextlib.contextmanager
def working_export(repo: git.Repo) -> Iterator[Path]:
    """A private copy of the working tree as ``git add -A`` would commit it (uncommitted edits and
    new files included, ignored files such as a hidden ``sitecustomize.py`` never), so that
    ``gates check`` judges the user's edits without running anything in the checkout itself."""
    top = root(repo)
    with _private_dir('stagegate-work-') as tmp:
        dest = tmp / 'tree'
        dest.mkdir()
        for rel in working_files(repo):
            src, dst = top / rel, dest / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
            else:
                shutil.copy2(src, dst)
        yield dest


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
    with _private_dir('stagegate-staged-') as tmp:
        index_copy = tmp / 'index'
        shutil.copyfile(_index_file(repo), index_copy)
        dest = tmp / 'tree'
        dest.mkdir()
        env = {**no_git_env(), 'GIT_INDEX_FILE': str(index_copy)}
        _git(root(repo), 'write-tree', env=env)   # fails early on an unmerged index
        _checkout_index(root(repo), index_copy, dest)
        index_copy.unlink()
        yield dest


def commit_file(repo: git.Repo, rel_path: str, message: str) -> str:
    """Commit only ``rel_path`` (as it is in the working tree) on the current branch.

    The caller ensures the tree was otherwise clean, so the index equals HEAD but for this file.
    Hooks are skipped: the commit is the engine's own record, judged when it was measured.
    """
    repo.index.add([rel_path])
    commit = repo.index.commit(message, skip_hooks=True)
    return str(commit.hexsha)
