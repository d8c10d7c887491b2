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
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

KILL_GRACE = 3.0


class ProbeFailed(Exception):
    """The subject's run failed (crash, bad boundaries, timeout); ``log`` is its output's tail."""

    def __init__(self, message: str, log: str = '') -> None:
        super().__init__(message)
        self.message = message
        self.log = log


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: no GIT_* (a hook's GIT_INDEX_FILE must not leak into the
    subject), no PYTHON* variable at all (they change what the child imports, how it allocates
    or whether asserts run: the baseline and the candidate run with the same clean settings),
    then a fixed hash seed (dict/set layouts, hence allocation patterns, stay the same from run
    to run; ``python -I`` would drop it, which is why the probe isolates with flags instead)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'PYTHON'))}
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


SAMPLE_EVERY = 0.005   # seconds between RSS samples of a command subject's process tree


def _parents() -> dict[int, int]:
    out: dict[int, int] = {}
    try:
        names = os.listdir('/proc')
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            try:
                with open(f'/proc/{name}/stat', 'rb') as fh:
                    out[int(name)] = int(fh.read().rsplit(b')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return out


def tree_rss(pid: int) -> int:
    """Sum of the resident set sizes (VmRSS) of ``pid`` and all its descendants, in bytes;
    0 where /proc is not available (then only wait4's figure remains)."""
    parents = _parents()
    members = {pid}
    grew = True
    while grew:
        more = {p for p, up in parents.items() if up in members and p not in members}
        members |= more
        grew = bool(more)
    total = 0
    for member in members:
        try:
            with open(f'/proc/{member}/status', encoding='ascii', errors='replace') as fh:
                for line in fh:
                    if line.startswith('VmRSS:'):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


def wait_rusage(
        proc: subprocess.Popen[bytes],
        timeout: float,
        what: str,
        log: Path,
        sample: Callable[[float, int], None] | None,
) -> tuple[int, int]:
    """Wait for ``proc`` with ``os.wait4``, calling ``sample(perf_counter, tree RSS)`` every
    SAMPLE_EVERY seconds meanwhile; the exit code and ru_maxrss in bytes (the largest single
    process of the tree that was waited for: Linux counts a child's waited descendants)."""
    deadline = time.perf_counter() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, int(usage.ru_maxrss) * 1024
        now = time.perf_counter()
        if now > deadline:
            raise ProbeFailed(f'{what} did not finish within {timeout:g} s', tail(log))
        if sample is not None:
            sample(now, tree_rss(proc.pid))
        time.sleep(SAMPLE_EVERY)
