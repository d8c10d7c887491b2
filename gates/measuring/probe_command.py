"""Subjects of kind ``command`` (any language): run the spec's argv from the tree's subject root.

Contract (docs/gates.md): ``{workload}`` and ``{<param>}`` placeholders in the argv are filled in;
the environment carries STAGEGATE_PROOF (where to write the proof bytes), STAGEGATE_WORKLOAD,
STAGEGATE_PARAMS and STAGEGATE_VARIANT (JSON); the command prints ``STAGEGATE enter N`` and
``STAGEGATE exit N`` lines on stderr around stage N. The engine stamps each line with
perf_counter as it arrives (pipe latency is microseconds, far below the time gate's 5 ms floor)
and checks them with the same observer as python subjects. Memory (``budgets.memory.measure:
rss``): the engine waits with ``os.wait4`` and samples the RSS of the command's whole process
tree every few milliseconds; a stage's figure is the largest sample taken while it was open
(the samples bracketing a stage shorter than the interval count for it), the whole run's is the
larger of the largest sample and wait4's ru_maxrss. memray tracks a Python process only, so
command subjects get no heap figure.

``measure: rss-sync`` (the figures read at the boundaries themselves, ``SyncRss``): the memory
run also sets ``STAGEGATE_ACK_FD``, a file descriptor the command reads one byte from after each
``STAGEGATE`` line before it goes on. While it waits, the engine reads VmRSS and VmHWM of every
process of the tree and resets each one's peak (``5`` to /proc/PID/clear_refs), then writes the
byte. A stage's figures are its peak above the RSS at its enter (the processes' peaks since the
reset) and the RSS it keeps at its exit (exit minus enter: negative when it frees more than it
keeps). The run is held on one CPU (``pin_cpu``). A command that prints a boundary line before
reading the previous line's byte, or ends with one unread, fails the run: its figures would not
have been read at its boundaries. Without the wait the engine would read them a moment after the
line, wherever the command had got to by then: on examples/listprover what a stage keeps moved by
up to 1.5 MB between identical runs that way, by 0-8 KiB with it (docs/gates.md).
"""
from __future__ import annotations

import bisect
import contextlib
import dataclasses
import fcntl
import json
import os
import re
import struct
import termios
import threading
import time
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.measuring import proc
from gates.measuring._probe_child import BoundaryCheck
from gates.measuring._probe_child import BoundaryViolation
from gates.model import GateError
from gates.measuring.proc import ProbeFailed
from gates.measuring.request import RunRequest
BOUNDARY_LINE = re.compile(r'^STAGEGATE (enter|exit) (\d+)\s*$')


@dataclasses.dataclass(frozen=True)
class Rss:
    """Peak RSS of the command's process tree, per stage and for the whole run (bytes);
    ``retained``: each stage's RSS at exit minus its RSS at enter (rss-sync only)."""

    stage_peaks: dict[int, int]
    whole_peak: int
    retained: dict[int, int] = dataclasses.field(default_factory=dict)


class SyncRss:
    """The RSS figures of ``measure: rss-sync``, read while the command waits at each boundary.

    Per process the kernel keeps its peak RSS since the last reset (VmHWM). At every boundary
    (the command blocked on its acknowledgement) each process of the tree is read (VmRSS,
    VmHWM) and reset. An interval's peak (a stage, or the time between two boundaries) is the
    largest sum of the peaks of processes alive together: at its closing boundary, or at a
    sample ``sample`` took in between of a set of processes one of which ended before the
    close (its last sampled peak is all there is of it). A sampled set of processes that all
    live to the close does not count: their peaks read at the close are the kernel's own, a
    sample's instant is timing. Sums at different times are not added up, so processes that
    follow one another are not counted together. For one process this is the kernel's peak; for
    several, at least the tree's. The kernel records VmHWM, when memory is unmapped, from a count
    kept in per-CPU batches: it lies below the true peak by up to ~2 x 32 pages (1-52 measured
    here), an amount that repeats only for the same page counts (``pin_cpu``; noise.PEAK_FLOOR).
    VmRSS is read summed over the CPUs, to the page (Linux 6.18 here; an older kernel may read
    it with the same lag). The lock keeps a sample from falling between a read and a reset."""

    def __init__(self, pid: int, skip_depth: int) -> None:
        self.pid, self.skip_depth = pid, skip_depth
        self.lock = threading.Lock()
        self.open: int | None = None
        self.entry = 0       # the tree's RSS at the open stage's enter
        # The current interval's samples: per set of processes alive together, each one's peak.
        self.together: dict[frozenset[int], dict[int, int]] = {}
        self.peaks: dict[int, int] = {}
        self.retained: dict[int, int] = {}
        self.whole = 0
        self.error: str | None = None

    def _read(self) -> dict[int, tuple[int, int]]:
        found = {}
        for member in proc.tree_pids(self.pid, self.skip_depth):
            got = proc.rss_hwm(member)
            if got is not None:
                found[member] = got
        return found

    def sample(self) -> None:
        with self.lock:
            now = self._read()
            kept = self.together.setdefault(frozenset(now), {})
            for member, (_, hwm) in now.items():
                kept[member] = max(kept.get(member, 0), hwm)

    def _interval(self, final: dict[int, int], dominated: int = 0) -> int:
        """The interval's peak: the processes alive at its close (``final``: their peaks read
        then), or a sampled set of processes alive together that holds one that has ended since
        (a set of survivors only is covered by ``final``; a set of ``dominated`` processes or
        fewer by what the caller adds: wait4's ru_maxrss covers any single process)."""
        sums = [sum(kept.values()) for members, kept in self.together.items()
                if len(members) > dominated and not members <= final.keys()]
        return max([sum(final.values()), *sums])

    def boundary(self, event: str, stage: int) -> None:
        with self.lock:
            now = self._read()
            interval = self._interval({member: hwm for member, (_, hwm) in now.items()})
            total = sum(rss for rss, _ in now.values())
            self.whole = max(self.whole, interval)
            if event == 'exit' and self.open == stage:
                self.peaks[stage] = max(interval, self.entry) - self.entry
                self.retained[stage] = total - self.entry
                self.open = None
            for member in now:
                try:
                    proc.reset_hwm(member)
                except OSError as e:
                    self.error = self.error or f'cannot reset the peak RSS of process {member} ({e})'
            self.together = {}
            if event == 'enter':
                self.open, self.entry = stage, total

    def finish(self, maxrss: int) -> Rss:
        """The figures, once the command has ended (``maxrss``: wait4's, which covers the last
        interval of each process)."""
        with self.lock:
            return Rss(dict(self.peaks), max(self.whole, self._interval({}, 1), maxrss), dict(self.retained))


class Acks:
    """The acknowledgement pipe of ``rss-sync``: the command reads, the engine writes one byte
    a boundary line. The engine keeps the read end too, so it can see a byte left unread."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self.violation: str | None = None

    def unread(self) -> int:
        buf = bytearray(struct.calcsize('i'))
        fcntl.ioctl(self.read_fd, termios.FIONREAD, buf)
        return int(struct.unpack('i', buf)[0])

    def give(self, text: str) -> None:
        """Acknowledge the boundary line ``text`` (after its figures were read)."""
        if self.unread() and self.violation is None:
            self.violation = (
                f'the command printed {text!r} before reading the engine\'s acknowledgement of its '
                f'previous boundary line from $STAGEGATE_ACK_FD'
            )
        with contextlib.suppress(BlockingIOError):
            os.write(self.write_fd, b'.')

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def pin_cpu() -> int:
    """The CPU an rss-sync run is held on (the last the engine may use). The kernel keeps each
    process's RSS in per-CPU counters and folds them into the total every 32 pages or so; the
    peak (VmHWM) is taken from that total when memory is unmapped, so it lags the true peak by
    what the CPUs have not folded yet. On one CPU that lag repeats from run to run (measured on
    examples/listprover: stage 1's peak moved by 98-200 KiB between identical runs on two CPUs,
    by 0-8 KiB on one)."""
    return max(os.sched_getaffinity(0))


@contextlib.contextmanager
def acks(sync: bool) -> Iterator[Acks | None]:
    if not sync:
        yield None
        return
    pipe = Acks()
    try:
        yield pipe
    finally:
        pipe.close()


def stage_rss(events: Sequence[tuple[str, int, float]], samples: Sequence[tuple[float, int]]) -> dict[int, int]:
    """Each stage's largest sample between its enter and exit; a stage with no sample inside
    gets the larger of the samples just before and just after it."""
    times = [t for t, _ in samples]
    opened: dict[int, float] = {}
    out: dict[int, int] = {}
    for event, stage, when in events:
        if event == 'enter':
            opened[stage] = when
            continue
        lo = bisect.bisect_left(times, opened[stage])
        hi = bisect.bisect_right(times, when)
        inside = [rss for _, rss in samples[lo:hi]]
        if not inside:
            inside = [samples[i][1] for i in (lo - 1, hi) if 0 <= i < len(samples)]
        out[stage] = max(inside, default=0)
    return out


def format_argv(argv: Sequence[str], workload: str, params: Mapping[str, Any]) -> list[str]:
    values = {**{str(k): v for k, v in params.items()}, 'workload': workload}
    try:
        return [part.format_map(values) for part in argv]
    except (KeyError, IndexError, ValueError) as e:
        raise GateError(f'subject.argv: cannot fill placeholder {e}; use {{workload}} or a param name.') from None


def run(
        request: RunRequest,
        root: Path,
        workdir: Path,
        sample_rss: bool = False,
        extra_env: Mapping[str, str] | None = None,
        sync: bool = False,
) -> tuple[BoundaryCheck, float, bytes, Rss]:
    """One run of ``request`` from the subject root ``root``: the checked boundaries, the wall
    time of the process, the proof bytes and the peak RSS of its process tree (only when
    ``sample_rss``: scanning /proc takes CPU the timed runs must not lose; otherwise the Rss is
    empty). ``sync`` (with ``sample_rss``; measure rss-sync): the command waits at each boundary
    for the engine, which reads the figures there (``SyncRss``)."""
    subject, workload, params, timeout = request.subject, request.workload, request.params, request.timeout
    proof_path = workdir / 'proof.bin'
    argv = format_argv(subject.argv, workload, params)
    report = workdir / 'contained.json'
    with acks(sync and sample_rss) as pipe:
        env = proc.child_env({
            **(extra_env or {}),
            'STAGEGATE_PROOF': str(proof_path), 'STAGEGATE_WORKLOAD': workload,
            'STAGEGATE_PARAMS': json.dumps(dict(params), sort_keys=True),
            'STAGEGATE_VARIANT': json.dumps(dict(request.variant), sort_keys=True),
            **({'STAGEGATE_ACK_FD': str(pipe.read_fd), 'STAGEGATE_PIN_CPU': str(pin_cpu())}
               if pipe is not None else {}),
        })
        code, total, lines, rss = _run_contained(
            argv, root, env, workdir, timeout, sample_rss, pipe,
        )
        if pipe is not None and pipe.violation is None and pipe.unread():
            pipe.violation = 'the command ended without reading the engine\'s acknowledgement of its last boundary line'
        violation = pipe.violation if pipe is not None else None
    contained = proc.read_report(report)
    if contained is not None:
        # The argv's own figures: the container's start-up and its RSS are not the subject's.
        total = contained.seconds if contained.seconds is not None else total
    left = proc.survivors_failure(f'{argv[0]} in {root}', contained)
    if left is not None:
        raise left
    tail = '\n'.join(text for _, text in lines[-20:])
    if code != 0:
        raise ProbeFailed(f'subject failure in {root}: {argv[0]} exited with {code}', tail)
    check = BoundaryCheck(request.stages)
    try:
        for when, text in lines:
            match = BOUNDARY_LINE.match(text)
            if match:
                check.mark(match.group(1), int(match.group(2)), when)
    except BoundaryViolation:
        pass   # recorded in check.violation; finish() reports it
    problem = check.finish()
    if problem is not None:
        raise ProbeFailed(f'stage boundary failure in {root}: {problem}', tail)
    if violation is not None:
        raise ProbeFailed(
            f'stage boundary failure in {root}: {violation} (budgets.memory.measure: rss-sync: after '
            f'each STAGEGATE line the command reads one byte from that descriptor before it goes on; '
            f'docs/gates.md)', tail,
        )
    if not proof_path.is_file():
        raise ProbeFailed(f'subject failure in {root}: no proof written to $STAGEGATE_PROOF', tail)
    if isinstance(rss, SyncRss):
        if rss.error is not None:
            raise ProbeFailed(f'the rss-sync run in {root} {rss.error}: measure rss-sync needs Linux >= 4.0 '
                              f'and /proc/PID/clear_refs writable by the engine', tail)
        maxrss = contained.maxrss if contained is not None else rss.whole
        return check, total, proof_path.read_bytes(), rss.finish(maxrss)
    samples, maxrss = rss
    if contained is not None:
        maxrss = contained.maxrss if sample_rss else 0
    figures = Rss(stage_rss(check.events, samples), max([maxrss, *(r for _, r in samples)]))
    return check, total, proof_path.read_bytes(), figures


def _run_contained(
        argv: Sequence[str], root: Path, env: Mapping[str, str], workdir: Path, timeout: float,
        sample_rss: bool, pipe: Acks | None,
) -> tuple[int, float, list[tuple[float, str]], Any]:
    """Start ``argv`` contained, read its stderr lines (stamped as they arrive), wait for it;
    the exit code, the wall time, the lines and the RSS: a ``SyncRss`` with ``pipe``, else
    (samples, wait4's ru_maxrss). With ``pipe``, each boundary line's figures are read and the
    line acknowledged by the reader thread, as it arrives."""
    lines: list[tuple[float, str]] = []
    log = workdir / 'child.log'
    report = workdir / 'contained.json'
    fds = (pipe.read_fd,) if pipe is not None else ()
    with proc.started(argv, root, env, log, stderr_pipe=True, report=report, pass_fds=fds) as child:
        stream = child.stderr
        if stream is None:
            raise ProbeFailed('internal: no stderr pipe')   # Popen always gives one here
        synced = SyncRss(child.pid, proc.container_depth()) if pipe is not None else None

        def read() -> None:
            for raw in stream:
                text = raw.decode('utf-8', 'replace').rstrip('\n')
                lines.append((time.perf_counter(), text))
                match = BOUNDARY_LINE.match(text) if pipe is not None else None
                if match and synced is not None and pipe is not None:
                    try:
                        synced.boundary(match.group(1), int(match.group(2)))
                    except Exception as e:   # a figure lost fails the run; the reader goes on
                        synced.error = synced.error or f'could not read the figures at {text!r} ({e!r})'
                    pipe.give(text)   # never leave the command waiting

        samples: list[tuple[float, int]] = []
        start = time.perf_counter()
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        what = f'{argv[0]} in {root}'
        if synced is not None:
            code, maxrss = proc.wait_rusage(child, timeout, what, log, None, tick=synced.sample)
        elif sample_rss:
            code, maxrss = proc.wait_rusage(
                child, timeout, what, log, lambda t, rss: samples.append((t, rss)), proc.container_depth(),
            )
        else:
            # Timed runs wait as before: no polling thread of ours competes with the reader's.
            code, maxrss = proc.wait(child, timeout, what, log), 0
        total = time.perf_counter() - start
        reader.join(timeout=5.0)
    return code, total, lines, synced if synced is not None else (samples, maxrss)
