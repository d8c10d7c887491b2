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
"""
from __future__ import annotations

import bisect
import dataclasses
import json
import re
import threading
import time
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
    """Peak RSS of the command's process tree, per stage and for the whole run (bytes)."""

    stage_peaks: dict[int, int]
    whole_peak: int


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
) -> tuple[BoundaryCheck, float, bytes, Rss]:
    """One run of ``request`` from the subject root ``root``: the checked boundaries, the wall
    time of the process, the proof bytes and the peak RSS of its process tree (only when
    ``sample_rss``: scanning /proc takes CPU the timed runs must not lose; otherwise the Rss is
    empty)."""
    subject, workload, params, timeout = request.subject, request.workload, request.params, request.timeout
    proof_path = workdir / 'proof.bin'
    env = proc.child_env({
        **(extra_env or {}),
        'STAGEGATE_PROOF': str(proof_path), 'STAGEGATE_WORKLOAD': workload,
        'STAGEGATE_PARAMS': json.dumps(dict(params), sort_keys=True),
        'STAGEGATE_VARIANT': json.dumps(dict(request.variant), sort_keys=True),
    })
    lines: list[tuple[float, str]] = []
    log = workdir / 'child.log'
    argv = format_argv(subject.argv, workload, params)
    report = workdir / 'contained.json'
    with proc.started(argv, root, env, log, stderr_pipe=True, report=report) as child:
        pipe = child.stderr
        if pipe is None:
            raise ProbeFailed('internal: no stderr pipe')   # Popen always gives one here

        def read() -> None:
            for raw in pipe:
                lines.append((time.perf_counter(), raw.decode('utf-8', 'replace').rstrip('\n')))

        samples: list[tuple[float, int]] = []
        start = time.perf_counter()
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if sample_rss:
            code, maxrss = proc.wait_rusage(
                child, timeout, f'{argv[0]} in {root}', log, lambda t, rss: samples.append((t, rss)),
                proc.container_depth(),
            )
        else:
            # Timed runs wait as before: no polling thread of ours competes with the reader's.
            code, maxrss = proc.wait(child, timeout, f'{argv[0]} in {root}', log), 0
        total = time.perf_counter() - start
        reader.join(timeout=5.0)
    contained = proc.read_report(report)
    if contained is not None:
        # The argv's own figures: the container's start-up and its RSS are not the subject's.
        total = contained.seconds if contained.seconds is not None else total
        maxrss = contained.maxrss if sample_rss else 0
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
    if not proof_path.is_file():
        raise ProbeFailed(f'subject failure in {root}: no proof written to $STAGEGATE_PROOF', tail)
    rss = Rss(stage_rss(check.events, samples), max([maxrss, *(r for _, r in samples)]))
    return check, total, proof_path.read_bytes(), rss
