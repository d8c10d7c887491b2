"""Child processes of the probe: a clean environment, their own process group, no leftovers.

Each child leads its own session, so Ctrl-C in the terminal reaches the engine and not the
subject; the engine then kills the child's whole group on every way out (KeyboardInterrupt,
timeout, error), so no prover outlives ``gates check``.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

KILL_GRACE = 3.0
# Variables that would change what the child imports or how it allocates: the baseline and the
# candidate must run with the same, clean interpreter settings.
DROP_ENV = (
    'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONMALLOC', 'PYTHONMALLOCSTATS',
    'PYTHONDEVMODE', 'PYTHONTRACEMALLOC', 'PYTHONSAFEPATH', 'PYTHONINSPECT',
)


class ProbeFailed(Exception):
    """The subject's run failed (crash, bad boundaries, timeout); ``log`` is its output's tail."""

    def __init__(self, message: str, log: str = '') -> None:
        super().__init__(message)
        self.message = message
        self.log = log


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: no GIT_* (a hook's GIT_INDEX_FILE must not leak into the
    subject), no interpreter overrides, a fixed hash seed (dict/set layouts, hence allocation
    patterns, stay the same from run to run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('GIT_') and k not in DROP_ENV}
    env['PYTHONHASHSEED'] = '0'
    env.update(extra or {})
    return env


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child and anything it started (it leads its own process group)."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def started(
        argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path, stderr_pipe: bool,
) -> Iterator[subprocess.Popen[bytes]]:
    """A running child writing stdout (and stderr, unless piped) to ``log``; killed on exit
    from the block if it is still running."""
    with open(log, 'wb') as out:
        try:
            proc = subprocess.Popen(
                list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.PIPE if stderr_pipe else subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as e:
            raise ProbeFailed(f'cannot start {argv[0]!r}: {e.strerror or e}') from None
        try:
            yield proc
        finally:
            if proc.poll() is None:
                kill_group(proc)
            if proc.stderr is not None:
                proc.stderr.close()


def wait(proc: subprocess.Popen[bytes], timeout: float, what: str, log: Path) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise ProbeFailed(f'{what} did not finish within {timeout:g} s', tail(log)) from None


def tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(encoding='utf-8', errors='replace')
    except OSError:
        return ''
    return '\n'.join(text.splitlines()[-lines:])
