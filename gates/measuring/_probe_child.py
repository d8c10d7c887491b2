"""The probe's child: runs one subject entry point in a fresh process and writes a JSON result.

gates/measuring/probe.py copies this file, alone, into a private temporary folder and runs it by path:
``python -B -s -S -P <tmp>/stagegate_probe_child.py REQUEST.json`` with cwd = the tree's subject
root and an environment with no PYTHON* variable but PYTHONHASHSEED=0 (equivalent to ``-I``,
which would also drop the fixed hash seed). ``-S`` skips site.py: no ``.pth`` file runs, so
neither an editable install of the engine's checkout nor a ``sitecustomize.py`` reachable
through one can run in the subject's process. ``_isolate`` then builds sys.path from the
standard library, the site-packages folders the engine names in the request (their ``.pth``
files not processed) and the subject root first, so ``import prover`` resolves inside the given
tree only (the baseline tree's code for the baseline, the head's for the candidate), and no
folder of the engine or of the other tree is on the path. ``-B``: no bytecode is written into
the tree, whose digest the engine checks before and after the run (gates/measuring/treedigest.py).

Only the standard library (and memray, in memory mode) is imported here: nothing of the engine
runs inside the subject's process, so what the probe measures there is the subject's own work.

Protocol v1 (request and result are JSON files; the request path is argv[1]):
request  {"protocol": 1, "mode": "time"|"memory"|"proof"|"verify"|"capabilities"|"warm", "root": str,
          "site": [site-packages folders], "exclude": [folders never to put on sys.path],
          "entries": {"prove"|"verify"|"sections"|"capabilities": "module:function"},
          "params": {...}, "variant": {"0": "materialized", ...}, "stages": [0, 1, ...],
          "track": null | "whole" | <stage id>, "capture": str | null, "proof": str | null,
          "proof_sha256": str (verify only), "result": str}
result   {"protocol": 1, "ok": bool, "mode": str, "error": null | {"kind", "message", "traceback"},
          "events": [["enter"|"exit", stage, t], ...], "subject_file": str,
          time:   "stage_seconds": {"0": s, ...}, "total_seconds": s, "proof_sha256", "proof_size"
          memory: "tracked": "whole" | k, "stopped_after": k | null, "children_peak": bytes
          proof:  "proof_sha256", "proof_size" (the bytes are written to "proof"; no verdict);
                  with "wanted" and "fallback" in the request, the capabilities first and the
                  variant they allow: "capabilities", "variant"
          verify: "proof_sha256", "proof_size", "verify": {"ok", "message"}, "sections": [[s, o, n]]
                  (a separate process: it imports the verify and sections entries, never prove)
          capabilities: "capabilities": {"0": [...], ...}
          warm:   "imported": [...] (imports the request's "modules" and nothing else: it fills
                  a warm JIT slot, gates/measuring/jitcache.py)}
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import NoReturn

PROTOCOL = 1


class BoundaryViolation(BaseException):
    """A stage boundary missing, repeated or out of order.

    A BaseException so that a subject's ``except Exception`` cannot swallow it; the observer
    also remembers the violation, so swallowing it anyway still fails the run.
    """


class _StopRun(BaseException):
    """Raised from exit(k) in a per-stage memory run: the stages after k are not needed."""


Hook = Callable[[int], None]


def _no_hook(stage: int) -> None:
    del stage


class BoundaryCheck:
    """The probe's observer: the subject calls ``enter(k)`` / ``exit(k)`` around stage k.

    Stages must come in the spec's order, each entered and exited exactly once, never nested.
    Used as-is in this child for python subjects and by gates/measuring/probe.py for command subjects.
    """

    def __init__(
            self,
            stages: Sequence[int],
            on_enter: Hook = _no_hook,
            on_exit: Hook = _no_hook,
            clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stages = tuple(stages)
        self.on_enter = on_enter
        self.on_exit = on_exit
        self.clock = clock
        self.events: list[tuple[str, int, float]] = []
        self.violation: str | None = None
        self._next = 0              # index in self.stages of the next stage to enter
        self._open: int | None = None

    def enter(self, stage: int) -> None:
        self.mark('enter', stage, self.clock())
        self.on_enter(stage)

    def exit(self, stage: int) -> None:
        self.mark('exit', stage, self.clock())
        self.on_exit(stage)

    def mark(self, event: str, stage: object, when: float) -> None:
        """Record one boundary at time ``when``; raise BoundaryViolation if it is wrong."""
        if self.violation is not None:
            raise BoundaryViolation(self.violation)
        if not isinstance(stage, int) or isinstance(stage, bool):
            self._fail(f'{event}({stage!r}): a stage id must be an int')
        self.events.append((event, stage, when))
        if event == 'enter':
            self._check_enter(stage)
            self._open = stage
        else:
            self._check_exit(stage)
            self._open = None
            self._next += 1

    def _check_enter(self, stage: int) -> None:
        if self._open is not None:
            self._fail(f'enter({stage}) while stage {self._open} is open (exit({self._open}) missing)')
        if stage in self.stages[:self._next]:
            self._fail(f'enter({stage}) repeated: stage {stage} already ran')
        if self._next >= len(self.stages):
            self._fail(f'enter({stage}) after the last stage; the spec has stages {list(self.stages)}')
        if stage != self.stages[self._next]:
            self._fail(f'enter({stage}) out of order: expected enter({self.stages[self._next]})')

    def _check_exit(self, stage: int) -> None:
        if self._open is None:
            self._fail(f'exit({stage}) without a matching enter({stage})')
        if stage != self._open:
            self._fail(f'exit({stage}) while stage {self._open} is open')

    def _fail(self, message: str) -> NoReturn:
        self.violation = message
        raise BoundaryViolation(message)

    def finish(self, stopped: bool = False) -> str | None:
        """After the run: the first violation, or the first missing boundary (None if complete)."""
        if self.violation is not None:
            return self.violation
        if self._open is not None:
            return f'exit({self._open}) missing: the run ended inside stage {self._open}'
        if not stopped and self._next < len(self.stages):
            return f'enter({self.stages[self._next]}) missing: stage {self.stages[self._next]} never ran'
        return None

    def stage_seconds(self) -> dict[str, float]:
        opened: dict[int, float] = {}
        out: dict[str, float] = {}
        for event, stage, when in self.events:
            if event == 'enter':
                opened[stage] = when
            else:
                out[str(stage)] = when - opened[stage]
        return out


def _entry(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(':')
    fn = getattr(importlib.import_module(module), name)
    if not callable(fn):
        raise TypeError(f'{spec} is not callable')
    return fn  # type: ignore[no-any-return]


def _isolate(root: str, site_dirs: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
    """Make the subject root the only place the subject's code can come from: sys.path is the
    subject root, the standard library and the named site-packages folders, minus anything in
    ``exclude`` (the engine's checkout, the other tree) or below it, except the root itself."""
    banned = [os.path.realpath(p) for p in exclude]
    real_root = os.path.realpath(root)

    def allowed(path: str) -> bool:
        if not path or path.startswith('__editable__'):
            return False
        real = os.path.realpath(path)
        if real == real_root:
            return False   # re-added first below
        for bad in banned:
            if real == bad or (real.startswith(bad + os.sep) and not _site_folder(real)):
                return False
        return True

    kept = [p for p in sys.path if allowed(p)]
    kept += [p for p in site_dirs if allowed(p) and p not in kept and os.path.isdir(p)]
    sys.path[:] = [root, *kept]
    # An editable install of this checkout maps 'gates' and 'prover' to the engine's tree
    # through a meta-path finder (a class) and a path hook; -S keeps its .pth from running,
    # and these lines stay for an interpreter started some other way.
    sys.meta_path[:] = [f for f in sys.meta_path if not _editable(f)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if not _editable(h)]
    sys.path_importer_cache.clear()


def _site_folder(path: str) -> bool:
    """A site-packages folder (of a venv that lives inside a banned checkout): third-party
    packages only, never the checkout's own code, so it may stay."""
    return os.path.basename(path) in ('site-packages', 'dist-packages')


def _editable(hook: object) -> bool:
    owner = hook if isinstance(hook, type) else getattr(hook, '__self__', hook)
    module = owner.__module__ if isinstance(owner, type) else type(owner).__module__
    return module.startswith('__editable__')


def _children_maxrss() -> int:
    """The largest peak RSS of any waited-for descendant so far, in bytes (Linux: KiB)."""
    import resource
    return int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024


def _live_children_hwm() -> int:
    """Sum of the peak RSS (VmHWM) of this process's descendants still alive, in bytes; 0
    where /proc is not available. Read once, at the end of the tracked window."""
    me = os.getpid()
    parents: dict[int, int] = {}
    try:
        names = os.listdir('/proc')
    except OSError:
        return 0
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/stat', 'rb') as fh:
                fields = fh.read().rsplit(b')', 1)[1].split()
            parents[int(name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    total = 0
    for pid in parents:
        up, hops = parents.get(pid), 0
        while up is not None and up != me and up > 1 and hops < 64:
            up, hops = parents.get(up), hops + 1
        if up != me:
            continue
        try:
            with open(f'/proc/{pid}/status', encoding='ascii', errors='replace') as fh:
                for line in fh:
                    if line.startswith('VmHWM:'):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def _digest(proof: object) -> tuple[bytes, dict[str, Any]]:
    if not isinstance(proof, (bytes, bytearray, memoryview)):
        raise TypeError(f'prove returned {type(proof).__name__}, expected bytes')
    data = bytes(proof)
    return data, {'proof_sha256': hashlib.sha256(data).hexdigest(), 'proof_size': len(data)}


def _run_time(req: dict[str, Any], prove: Callable[..., Any], out: dict[str, Any]) -> None:
    check = BoundaryCheck(req['stages'])
    try:
        start = time.perf_counter()
        proof = prove(req['params'], req['variant'], check)
        total = time.perf_counter() - start
    finally:
        out['events'] = check.events
    _finish(check, False)
    out['stage_seconds'] = check.stage_seconds()
    out['total_seconds'] = total
    out.update(_digest(proof)[1])


def _run_memory(req: dict[str, Any], prove: Callable[..., Any], out: dict[str, Any]) -> None:
    import memray  # only here: time and proof runs must not carry memray in the process

    track = req['track']

    def make() -> Any:
        # Aggregated captures keep the high-water mark and the flamegraph, at a fraction of
        # the size of a full capture (no temporal view, which the gate does not need).
        return memray.Tracker(req['capture'], file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS)

    # Child processes are outside memray's view (a fork+exec starts a new interpreter), so
    # their peak RSS is read around the tracked window, outside the tracker (the reads allocate
    # and must not show in the heap figure): the largest waited-for child's peak, if it rose
    # in the window, plus the peaks of children still alive at its end. A child of an earlier
    # stage that was larger hides a smaller one of this stage (ru_maxrss is a maximum).
    state: dict[str, Any] = {'tracker': None, 'children_before': 0, 'children_peak': 0}

    def on_enter(stage: int) -> None:
        if stage == track:
            state['children_before'] = _children_maxrss()
            state['tracker'] = make()
            state['tracker'].__enter__()

    def close_window() -> None:
        tracker, state['tracker'] = state['tracker'], None
        tracker.__exit__(None, None, None)
        waited = _children_maxrss()
        rose = waited if waited > state['children_before'] else 0
        state['children_peak'] = rose + _live_children_hwm()

    def on_exit(stage: int) -> None:
        if stage == track:
            close_window()
            raise _StopRun

    check = BoundaryCheck(req['stages'], on_enter, on_exit)
    stopped = False
    try:
        if track == 'whole':
            state['children_before'] = _children_maxrss()
            state['tracker'] = make()
            state['tracker'].__enter__()
        prove(req['params'], req['variant'], check)
        if track == 'whole':
            close_window()
    except _StopRun:
        stopped = True
    finally:
        if state['tracker'] is not None:
            state['tracker'].__exit__(None, None, None)
        out['events'] = check.events
    if track != 'whole' and not stopped:
        # The subject swallowed the stop (or never reached exit(track)): the capture is suspect.
        why = check.finish() or f'the run did not stop after exit({track}) (the subject caught it)'
        raise BoundaryViolation(why)
    _finish(check, stopped)
    out['tracked'] = track
    out['stopped_after'] = track if stopped else None
    out['children_peak'] = state['children_peak']


def _run_proof(req: dict[str, Any], prove: Callable[..., Any], out: dict[str, Any]) -> None:
    check = BoundaryCheck(req['stages'])
    try:
        proof = prove(req['params'], req['variant'], check)
    finally:
        out['events'] = check.events
    _finish(check, False)
    data, digest = _digest(proof)
    out.update(digest)
    with open(req['proof'], 'wb') as fh:
        fh.write(data)
    # No verify here: this process ran prover code, which may have rebound the verifier's
    # functions (``fri.check = lambda *a: True``). The engine verifies the bytes in a fresh
    # process of its own (mode ``verify``) that never runs the prove entry.


def _run_verify(req: dict[str, Any], out: dict[str, Any]) -> None:
    """Mode ``verify``: a fresh process that imports only the verify and sections entries (and
    what they import) and checks the proof bytes the engine wrote into a folder the prove
    process never saw; the bytes must hash to what the engine read from the prove run."""
    with open(req['proof'], 'rb') as fh:
        data = fh.read()
    got = hashlib.sha256(data).hexdigest()
    if got != req['proof_sha256']:
        raise RuntimeError(f'the proof handed to the verifier hashes to {got}, not {req["proof_sha256"]}')
    out.update(_digest(data)[1])
    verify = _entry(req['entries']['verify'])
    out['subject_file'] = getattr(sys.modules.get(verify.__module__), '__file__', None)
    ok, message = verify(req['params'], data)
    out['verify'] = {'ok': bool(ok), 'message': str(message)}
    layout = req['entries'].get('sections')
    out['sections'] = None if layout is None else [
        [int(s), int(o), int(n)] for s, o, n in _entry(layout)(data)
    ]


def _finish(check: BoundaryCheck, stopped: bool) -> None:
    problem = check.finish(stopped)
    if problem is not None:
        raise BoundaryViolation(problem)


def run(req: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {'protocol': PROTOCOL, 'ok': False, 'mode': req['mode'], 'error': None}
    try:
        _isolate(req['root'], req.get('site', ()), req.get('exclude', ()))
        if sys.flags.optimize:
            # The engine refuses -O/PYTHONOPTIMIZE itself; this is the last line of defence:
            # a verifier that checks with assert would accept anything.
            raise RuntimeError('the probe child runs with optimizations (-O); asserts would be stripped')
        if req['mode'] == 'capabilities':
            caps = _entry(req['entries']['capabilities'])()
            out['capabilities'] = {str(k): [str(b) for b in v] for k, v in dict(caps).items()}
        elif req['mode'] == 'verify':
            _run_verify(req, out)
        elif req['mode'] == 'warm':
            for name in req['modules']:
                importlib.import_module(name)
            out['imported'] = list(req['modules'])
        else:
            prove = _entry(req['entries']['prove'])
            out['subject_file'] = getattr(sys.modules.get(prove.__module__), '__file__', None)
            if req['mode'] == 'proof' and req.get('wanted') is not None:
                # One process instead of two (issue 17.2): the capabilities, then the variant
                # they allow (each stage's wanted backend where offered, else the fallback).
                caps = _entry(req['entries']['capabilities'])()
                out['capabilities'] = {str(k): [str(b) for b in v] for k, v in dict(caps).items()}
                req['variant'] = {
                    sid: b if b in out['capabilities'].get(sid, ()) else req['fallback']
                    for sid, b in req['wanted'].items()
                }
                out['variant'] = req['variant']
            runner = {'time': _run_time, 'memory': _run_memory, 'proof': _run_proof}[req['mode']]
            runner(req, prove, out)
        out['ok'] = True
    except BoundaryViolation as e:
        out['error'] = {'kind': 'boundary', 'message': str(e), 'traceback': traceback.format_exc()}
    except Exception as e:  # the subject's failure is the result we report, not our crash
        out['error'] = {
            'kind': 'subject', 'message': f'{type(e).__name__}: {e}', 'traceback': traceback.format_exc(),
        }
    return out


def _die_with_parent() -> None:
    """Best effort, Linux only: a SIGKILL of the engine, e.g. a cancelled CI job, must not leave
    a prover running. PR_SET_PDEATHSIG makes the kernel kill this process when its parent (the
    run's container, gates/measuring/proc.py REAPER, which dies with the engine) goes away; a
    parent that went away before prctl took effect shows as a changed parent pid."""
    if not sys.platform.startswith('linux'):
        return
    import ctypes
    import signal
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(3)   # the parent died before prctl took effect


def main(argv: Sequence[str]) -> int:
    with open(argv[1], encoding='utf-8') as fh:
        req = json.load(fh)
    _die_with_parent()
    if req.get('protocol') != PROTOCOL:
        print(f'stagegate probe: protocol {req.get("protocol")} unsupported', file=sys.stderr)
        return 2
    out = run(req)
    tmp = req['result'] + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as fh:
        json.dump(out, fh)
    os.replace(tmp, req['result'])
    return 0 if out['ok'] else 1


if __name__ == '__main__':
    raise SystemExit(main(sys.argv))
