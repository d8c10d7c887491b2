"""Git and process plumbing of ``gates loop``: its branch and refs, the fast-forward, and
children that lead their own session. Every git call runs with the repository-pointing GIT_*
variables stripped (a hook's GIT_INDEX_FILE must not reach the loop's worktree)."""
from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gates.vcs import repo as repo_mod
from gates.model import GateError

# Used only when the repository has no identity configured: attempts must still be committed.
IDENTITY = ('-c', 'user.name=gates loop', '-c', 'user.email=gates-loop@localhost')


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(('git', *args), cwd=cwd, env=repo_mod.no_git_env(),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise GateError(f'git {args[0]} failed in {cwd}: {detail[-1] if detail else proc.returncode}')
    return proc.stdout


def git_ok(cwd: Path, *args: str) -> bool:
    return subprocess.run(('git', *args), cwd=cwd, env=repo_mod.no_git_env(),
                          capture_output=True, check=False).returncode == 0


def child_env(extra: dict[str, str]) -> dict[str, str]:
    # No inherited PYTHON* variable reaches the agent or the check it is judged by (a PYTHONPATH
    # could put another engine first; PYTHONOPTIMIZE is refused by the engine anyway).
    env = {k: v for k, v in repo_mod.no_git_env().items() if not k.startswith('PYTHON')}
    env.update(extra)
    return env


def stop(proc: subprocess.Popen[Any], grace: float, own_handler: bool) -> None:
    """Stop a child that leads its own session: SIGTERM (to the child alone when it cleans up
    its own children, as ``gates check`` does), then SIGKILL to the whole group."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if own_handler:
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def no_interrupts() -> Iterator[None]:
    """Cleanup that keeps every attempt must not itself be cut short by a second Ctrl-C."""
    try:
        saved = [(s, signal.signal(s, signal.SIG_IGN)) for s in (signal.SIGINT, signal.SIGTERM)]
    except ValueError:          # not the main thread: nothing to mask
        saved = []
    try:
        yield
    finally:
        for s, handler in saved:
            signal.signal(s, handler)


def new_stamp(root: Path) -> str:
    base = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%d-%H%M%S')
    stamp, n = base, 1
    while git_ok(root, 'rev-parse', '--verify', '--quiet', f'refs/heads/gates-loop/{stamp}'):
        n += 1
        stamp = f'{base}-{n}'
    return stamp


def current_branch(root: Path) -> str | None:
    proc = subprocess.run(('git', 'symbolic-ref', '--quiet', '--short', 'HEAD'), cwd=root,
                          env=repo_mod.no_git_env(), capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def fast_forward(root: Path, user_branch: str | None, start: str, target: str) -> tuple[bool, str]:
    """Move the user's branch to ``target`` only when that loses nothing: HEAD still on that
    branch, the branch still where the loop started (or behind ``target``), a clean tree."""
    manual = f'merge it yourself with `git merge --ff-only {target[:12]}`'
    if user_branch is None:
        return False, f'HEAD was detached when the loop started; {manual}.'
    if current_branch(root) != user_branch:
        return False, f'you switched away from {user_branch}; {manual} on {user_branch}.'
    now = git(root, 'rev-parse', 'HEAD').strip()
    if now != start and not git_ok(root, 'merge-base', '--is-ancestor', now, target):
        return False, f'{user_branch} moved to {now[:12]} meanwhile; {manual} or rebase.'
    dirty = repo_mod.dirty_paths(repo_mod.open_repo(root))
    if dirty:
        return False, (f'your working tree has uncommitted changes ({", ".join(dirty[:3])}'
                       f'{" ..." if len(dirty) > 3 else ""}); commit or stash them, then {manual}.')
    git(root, 'merge', '--ff-only', '--quiet', target)
    return True, f'{user_branch} fast-forwarded to {target[:12]}.'


def upstream_of(root: Path, branch: str | None) -> str | None:
    """The upstream ref of ``branch`` (e.g. ``origin/main``), or None."""
    if branch is None:
        return None
    proc = subprocess.run(
        ('git', 'rev-parse', '--abbrev-ref', '--symbolic-full-name', f'{branch}@{{upstream}}'),
        cwd=root, env=repo_mod.no_git_env(), capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None
