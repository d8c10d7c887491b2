"""Child processes of the probe: a clean environment, their own process group, no leftovers.

Each child leads its own session, so Ctrl-C in the terminal reaches the engine and not the
subject; the engine then kills the child's whole group on every way out (KeyboardInterrupt,
timeout, error), so no prover outlives ``gates check``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
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

# Every subject run is contained (issue 13.2): no process it starts may outlive it, nor see or
# signal the other side's processes. The run's argv is started by REAPER, a stdlib-only script
# that is PID 1 of a new PID namespace (``unshare --pid --fork --mount-proc``, as root or in a
# user namespace), where the subject's processes see only each other, and that is also a child
# subreaper (where no namespace can be had, orphans still come back to it). When the argv's
# process ends, REAPER lists every process left, kills them all, and writes a report: the
# survivors, the argv's own start and end (CLOCK_MONOTONIC, the engine's perf_counter clock) and
# the peak RSS of its process tree. It runs no subject code, and inside the namespace neither
# SIGKILL nor SIGSTOP from the subject reaches it (the kernel shields a namespace's init). The
# file descriptor ``STAGEGATE_ACK_FD`` names (measure rss-sync: the engine's acknowledgements of
# boundary lines, gates/measuring/probe_command.py) is passed on to the argv, and with
# ``STAGEGATE_PIN_CPU`` (taken out of the argv's environment) the argv runs on that one CPU.
REAPER = r"""
import ctypes, json, os, resource, signal, subprocess, sys, time
report, argv = sys.argv[1], sys.argv[2:]
try:
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
except Exception:
    pass
me = os.getpid()
def family():
    up = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/stat' % name, 'rb') as fh:
                    fields = fh.read().rsplit(b')', 1)[1].split()
                up[int(name)] = (int(fields[1]), fields[0])
            except (OSError, IndexError, ValueError):
                pass
    out = []
    for pid in up:
        hop, n = pid, 0
        while hop in up and hop != me and n < 64:
            hop, n = up[hop][0], n + 1
        if hop == me and pid != me and up[pid][1] != b'Z':
            out.append(pid)
    return out
def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
child = None
def stop(signum, frame):
    for pid in family():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(128 + signum)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
start = time.perf_counter()
ack = os.environ.get('STAGEGATE_ACK_FD', '')
pin = os.environ.pop('STAGEGATE_PIN_CPU', '')
if pin.isdigit():
    try:
        os.sched_setaffinity(0, {int(pin)})
    except OSError:
        pass
child = subprocess.Popen(argv, pass_fds=(int(ack),) if ack.isdigit() else ())
code = child.wait()
end = time.perf_counter()
maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
reap()
left = []
for pid in family():
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as fh:
            left.append(fh.read().replace(b'\0', b' ').decode('utf-8', 'replace').strip()[:200])
    except OSError:
        left.append('?')
for _ in range(50):
    pids = family()
    if not pids:
        break
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.02)
    reap()
tmp = report + '.tmp'
with open(tmp, 'w') as fh:
    json.dump({'survivors': left, 'start': start, 'end': end, 'maxrss': maxrss}, fh)
os.replace(tmp, report)
sys.exit(code if code >= 0 else 128 - code)
"""
NAMESPACES = (
    ('pid namespace', ('unshare', '--pid', '--fork', '--kill-child', '--mount-proc')),
    ('pid namespace (user namespace)',
     ('unshare', '--user', '--map-root-user', '--pid', '--fork', '--kill-child', '--mount-proc')),
)
_CONTAINMENT: list[tuple[str, tuple[str, ...]]] = []


def containment() -> tuple[str, tuple[str, ...]]:
    """How subject runs are contained on this machine, decided once per engine process: the
    first PID namespace that starts, else a subreaper alone (no survivor, but the run can see
    and signal processes outside it; docs/gates.md says so). ``setpriv --pdeathsig`` makes the
    container die with the engine, where setpriv exists."""
    if not _CONTAINMENT:
        import shutil
        death = ('setpriv', '--pdeathsig', 'KILL') if shutil.which('setpriv') else ()
        found: tuple[str, tuple[str, ...]] = ('subreaper only', death)
        if shutil.which('unshare'):
            for name, prefix in NAMESPACES:
                try:
                    ok = subprocess.run(
                        [*death, *prefix, 'true'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, timeout=30,
                    ).returncode == 0
                except (OSError, subprocess.SubprocessError):
                    ok = False
                if ok:
                    found = (name, (*death, *prefix))
                    break
        _CONTAINMENT.append(found)
    return _CONTAINMENT[0]


@dataclasses.dataclass(frozen=True)
class Contained:
    """What REAPER reports of one run."""

    survivors: tuple[str, ...]
    seconds: float | None        # the argv's own wall time, without the container's start-up
    maxrss: int                  # peak RSS of the argv's process tree (its waited-for processes)


def contained_argv(argv: Sequence[str], report: Path) -> list[str]:
    # REAPER travels in argv (``-c``), not as a file: a subject runs as root here, and a script
    # file it could reach would let one run rewrite the next run's reaper (``ps`` shows it long).
    import sys
    return [*containment()[1], sys.executable, '-I', '-S', '-c', REAPER, str(report), *argv]


def read_report(report: Path) -> Contained | None:
    try:
        raw = json.loads(report.read_text(encoding='utf-8'))
        return Contained(
            tuple(str(s) for s in raw['survivors']), float(raw['end']) - float(raw['start']),
            int(raw['maxrss']),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def survivors_failure(what: str, report: Contained | None) -> ProbeFailed | None:
    """A finding for a run that left processes behind (REAPER killed them)."""
    if report is None or not report.survivors:
        return None
    shown = '; '.join(report.survivors[:3]) + (' ...' if len(report.survivors) > 3 else '')
    return ProbeFailed(
        f'{what} left {len(report.survivors)} process(es) running after it ended ({shown}); no '
        f'process of a subject run may outlive it (they were killed, and the figures of this '
        f'check are void)',
    )


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
    to run; ``python -I`` would drop it, which is why the probe isolates with flags instead).
    ``STAGEGATE_ACK_FD`` and ``STAGEGATE_PIN_CPU`` are set only by a run that means them (``extra``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('GIT_', 'PYTHON')) and k not in ('STAGEGATE_ACK_FD', 'STAGEGATE_PIN_CPU')}
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
        report: Path | None = None,
        pass_fds: Sequence[int] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """A running child writing stdout (and stderr, unless piped) to ``log``; killed on exit
    from the block if it is still running. With ``report``, the argv runs contained (REAPER,
    above) and its report is written there once it has ended. ``pass_fds`` stay open in the
    child (REAPER passes on the one ``STAGEGATE_ACK_FD`` names)."""
    if report is not None:
        argv = contained_argv(argv, report)
    with open(log, 'wb') as out:
        try:
            proc = subprocess.Popen(
                list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.PIPE if stderr_pipe else subprocess.STDOUT,
                start_new_session=True, pass_fds=tuple(pass_fds),
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


def container_depth() -> int:
    """How many processes of a contained run's tree are the container's (unshare, REAPER)."""
    name, prefix = containment()
    return 2 if 'unshare' in prefix else 1


def tree_pids(pid: int, skip_depth: int = 0) -> set[int]:
    """``pid`` and all its descendants, leaving out the top ``skip_depth`` generations (a
    container's own processes); empty where /proc is not available."""
    parents = _parents()
    members = {pid}
    level = {pid}
    skipped: set[int] = set()
    depth = 0
    while level:
        if depth < skip_depth:
            skipped |= level
        level = {p for p, up in parents.items() if up in level and p not in members}
        members |= level
        depth += 1
    return members - skipped


def rss_hwm(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of one process in bytes; None when it is gone (or a zombie)."""
    rss = hwm = None
    try:
        with open(f'/proc/{pid}/status', encoding='ascii', errors='replace') as fh:
            for line in fh:
                if line.startswith('VmRSS:'):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith('VmHWM:'):
                    hwm = int(line.split()[1]) * 1024
                if rss is not None and hwm is not None:
                    return rss, hwm
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_hwm(pid: int) -> None:
    """Reset the peak RSS (VmHWM) of ``pid`` to its current RSS: ``5`` to /proc/PID/clear_refs
    (Linux >= 4.0, man 5 proc). A process that is gone is no error; OSError otherwise."""
    try:
        with open(f'/proc/{pid}/clear_refs', 'w', encoding='ascii') as fh:
            fh.write('5')
    except (FileNotFoundError, ProcessLookupError):
        return


def tree_rss(pid: int, skip_depth: int = 0) -> int:
    """Sum of the resident set sizes (VmRSS) of ``pid`` and all its descendants, in bytes,
    leaving out the top ``skip_depth`` generations (a container's own processes); 0 where
    /proc is not available (then only wait4's figure remains)."""
    return sum(got[0] for member in tree_pids(pid, skip_depth) if (got := rss_hwm(member)) is not None)


def wait_rusage(
        proc: subprocess.Popen[bytes],
        timeout: float,
        what: str,
        log: Path,
        sample: Callable[[float, int], None] | None,
        skip_depth: int = 0,
        tick: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """Wait for ``proc`` with ``os.wait4``, calling ``sample(perf_counter, tree RSS)`` (and
    ``tick()``, which reads what it needs itself) every SAMPLE_EVERY seconds meanwhile; the exit
    code and ru_maxrss in bytes (the largest single process of the tree that was waited for:
    Linux counts a child's waited descendants)."""
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
            sample(now, tree_rss(proc.pid, skip_depth))
        if tick is not None:
            tick()
        time.sleep(SAMPLE_EVERY)
