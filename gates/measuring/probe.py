"""Runs one subject prove in a fresh subprocess, from a given tree, and measures it.

Every measurement is a new process: memray allows one Tracker per process, imports and caches
of one run must not help the next, and a crash or a leak stays in the child. The observer the
subject reports its stage boundaries to is the engine's (``BoundaryCheck``), so the figures are
the probe's, never the subject's. A python subject runs in a private copy of
gates/measuring/_probe_child.py, isolated (see its docstring for the JSON protocol and the isolation); a
``command`` subject runs its argv and announces boundaries as ``STAGEGATE enter N`` /
``STAGEGATE exit N`` lines on stderr. Both get an environment with no PYTHON* variable, and
``PYTHONOPTIMIZE`` / ``-O`` in the engine are refused (exit 2).

With a ``guard`` (gates/measuring/treedigest.py), every tree it watches is digested before and after each
subject run; a change raises ``TreeTampered``, a ProbeFailed the gates report as a finding.

Every mode takes one ``RunRequest`` (gates/measuring/request.py: subject, tree, workload, params,
variant, stages, timeout, guard). Modes: ``time`` (perf_counter at the boundaries), ``memory`` (heap: one process per
stage k with a memray Tracker from enter(k) to exit(k), then the run stops, plus the peak RSS
of child processes started in that window; plus one process tracking the whole run; ``capture``
is one of those processes. rss: one run of a command subject, its process tree's RSS sampled per
stage, ``rss``; rss-sync: read at its acknowledged boundaries), ``proof`` (proof bytes, then the subject's verify verdict and section layout
from a second fresh process that runs no prover code, ``verify_run``; ``proof_with_capabilities``
learns the variant in the same prove) and ``capabilities``. A failing run raises ``ProbeFailed``
with a one-sentence reason; the gates turn it into a finding. ``time_run``, ``proof_run``,
``memory_run`` and ``memory_capture`` are the positional form scripts outside the engine use.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import site
import sys
import tempfile
import threading
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.measuring import jitcache
from gates.measuring import probe_command
from gates.measuring import proc
from gates.measuring import treedigest
from gates.measuring._probe_child import PROTOCOL
from gates.measuring.request import DEFAULT_TIMEOUT
from gates.measuring.request import RunRequest
from gates.model import GateError
from gates.measuring.proc import ProbeFailed as ProbeFailed   # re-exported: the gates catch probe.ProbeFailed
from gates.contract.spec import Subject

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class TimeRun:
    stage_seconds: Mapping[int, float]
    total_seconds: float
    proof_sha256: str
    proof_size: int
    subject_file: str | None


@dataclasses.dataclass(frozen=True)
class MemoryRun:
    """In-stage peaks (bytes allocated inside stage k and live at once, at most, plus the peak
    RSS of the child processes the stage started; rss: the tree's RSS; rss-sync: its peak
    above the RSS at the stage's enter) and the whole run's peak; ``captures`` maps
    ``'whole'`` / ``str(k)`` to the memray capture file (empty for RSS runs). ``children``
    holds the child-process part of each figure (``'whole'`` / ``str(k)``)."""

    stage_peaks: Mapping[int, int]
    whole_run_peak: int
    captures: Mapping[str, Path]
    children: Mapping[str, int] = dataclasses.field(default_factory=dict)
    measure: str = 'heap'
    # Bytes allocated inside stage k and still live at exit(k) (heap; rss-sync: the RSS at exit
    # minus the RSS at enter, negative where the stage frees more than it keeps; plain rss has
    # none): a buffer kept alive after the stage's temporaries are freed does not raise its
    # peak, but it shows here.
    retained: Mapping[int, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ProofRun:
    proof: bytes
    sha256: str
    size: int
    verify_ok: bool | None                            # None: the subject has no verifier entry
    verify_message: str
    sections: tuple[tuple[int, int, int], ...] | None  # (stage, offset, length); None: unknown
    subject_file: str | None


def quiet(message: str) -> None:
    del message


def stderr_progress(message: str) -> None:
    print(f'stagegate: {message}', file=sys.stderr, flush=True)


def engine_root() -> Path:
    """The folder holding the engine's ``gates`` package (kept off the child's sys.path, unless
    it is a site-packages folder: then only the engine's own packages are hidden)."""
    return Path(__file__).resolve().parents[2]


def engine_packages() -> list[str]:
    """The top-level packages the engine's folder holds for the subject to never import from
    there: ``gates`` and the other packages its distribution installs beside it (``prover``
    for stagegate's own). A subject importing a package of that name gets its own tree's copy
    or nothing, never the engine's (which a non-editable install puts in site-packages)."""
    root = engine_root()
    names = {'gates'}
    try:
        from importlib import metadata
        dist = metadata.distribution('stagegate')
        for f in dist.files or ():
            parts = Path(str(f)).parts
            if len(parts) > 1 and parts[-1] == '__init__.py' and (root / parts[0]).is_dir():
                names.add(parts[0])
    except Exception:   # no metadata (a source checkout on sys.path): 'gates' is the engine
        pass
    return sorted(names)


CHILD_SCRIPT = 'stagegate_probe_child.py'
# Heap runs allocate every object with malloc, so memray counts bytes, not pymalloc's 1 MiB
# arenas: with arenas, a few KB more on sys.path (the engine installed elsewhere) or a warm JIT
# cache moved whole-run and stage figures by one arena (+1.05 MB; 4.9 MB on stage 0), with
# malloc the same tree measures within a few KB whatever measures it (docs/gates.md, "One
# figure per tree"). Ledger rows record the method (contract/ledger.py MEMORY_METHOD).
MEMORY_ENV = {'PYTHONMALLOC': 'malloc'}


def refuse_optimized() -> None:
    """``PYTHONOPTIMIZE`` or ``-O`` strip asserts: a verifier that checks with ``assert`` then
    accepts anything, and ``gates freeze`` would record proofs that do not verify."""
    if sys.flags.optimize or os.environ.get('PYTHONOPTIMIZE'):
        how = (f'PYTHONOPTIMIZE={os.environ["PYTHONOPTIMIZE"]!r} is set'
               if os.environ.get('PYTHONOPTIMIZE') else 'python runs with -O')
        raise GateError(
            f'{how}: optimized interpreters strip asserts, so a verifier could accept anything; '
            f'unset PYTHONOPTIMIZE and run the engine without -O.',
        )


def site_dirs() -> list[str]:
    """The engine interpreter's site-packages folders: the child, started with -S, gets these
    on its path without their .pth files (which is where an editable install hooks in)."""
    found = list(site.getsitepackages())
    return [d for d in found if os.path.isdir(d)]


def child_site_dirs(workdir: Path) -> list[str]:
    """The site-packages folders for the child. Where the engine itself is installed in one
    (``pip install``, not ``-e``: CI installs the base's engine so), the child gets a private
    mirror of that folder instead, symlinks to every entry but the engine's own packages and
    their metadata: numpy & co. stay importable, ``gates`` (and the engine's copy of
    ``prover``) do not, so a subject can import only its own tree's code."""
    root = engine_root().resolve()
    hidden = set(engine_packages())
    out = []
    for folder in site_dirs():
        if Path(folder).resolve() != root:
            out.append(folder)
            continue
        mirror = workdir / 'site-packages'
        mirror.mkdir(exist_ok=True)
        for entry in os.scandir(folder):
            name = entry.name
            top = name.split('-')[0].split('.')[0]
            if top in hidden or name.startswith('__editable__') or name.startswith('stagegate-') \
                    or name.endswith('.pth'):
                continue
            os.symlink(entry.path, mirror / name)
        out.append(str(mirror))
    return out


def subject_env(subject: Subject, tree: Path) -> dict[str, str]:
    """The spec's ``subject.env`` with ``{cache}`` set to the tree's private cache folder."""
    if not subject.env:
        return {}
    home = str(treedigest.cache_home(tree))
    return {name: value.replace('{cache}', home) for name, value in subject.env}


def _verify(
        guard: treedigest.Guard | None, when: str, running: Path | None = None, after: bool = False,
) -> None:
    if guard is None:
        return
    try:
        guard.verify(when, running, after)
    except treedigest.TreeChanged as e:
        raise TreeTampered(e.message) from None


class TreeTampered(ProbeFailed):
    """A measured tree changed around a subject run: every figure of the check is void."""


def subject_root(subject: Subject, tree: Path) -> Path:
    root = (tree / subject.root).resolve()
    if not root.is_dir():
        raise GateError(f'subject.root {subject.root!r} is not a folder in {tree}; fix the spec.')
    return root


# One subject run at a time: the guard's before/after digests assume it (gates may run in
# threads, gates/session.py run_gates; their subject runs still take turns).
_RUN_LOCK = threading.RLock()


def warm_jit(subject: Subject, tree: Path, guard: treedigest.Guard, timeout: float) -> None:
    """Seed ``tree``'s private JIT cache from the persistent store (gates/measuring/jitcache.py),
    filling the slot first with a warm-up process in a private tree of the key's files only.
    Any failure leaves the private cache as it was (cold): slower, never another verdict."""
    store_root = guard.jit_store
    if store_root is None or subject.kind != 'python' or not guard.first_seed(tree):
        return
    root = subject_root(subject, tree)
    env = dict(subject.env)
    entries = [e for e in (subject.prove, subject.verify, subject.sections, subject.capabilities) if e]
    the_plan = jitcache.plan(root, env, entries)
    if the_plan is None:
        return
    store = jitcache.Store(store_root)
    files = store.valid(the_plan.key)
    if files is None:
        store.discard(the_plan.key)
    guard.protect(store_root, 'stagegate cache store')
    if files is None:
        with tempfile.TemporaryDirectory(prefix='stagegate-jitwarm-') as tmp:
            mini = Path(tmp) / 'tree'
            mini_root = mini / subject.root
            jitcache.minimal_tree(root, mini_root, the_plan.files)
            try:
                with tempfile.TemporaryDirectory(prefix='stagegate-probe-') as work:
                    _python_child(subject, mini, {'mode': 'warm', 'modules': list(the_plan.modules)},
                                  Path(work), timeout, guard)
            except ProbeFailed:
                return
            cache_dir = Path(subject_env(subject, mini)[jitcache.NUMBA_ENV])
            written = jitcache.collect(cache_dir, mini_root.resolve(), the_plan)
            shutil.rmtree(treedigest.cache_home(mini), ignore_errors=True)
        if not written:
            return
        store.put(the_plan.key, written)
        files = store.valid(the_plan.key)
        if files is None:
            guard.retake(store_root)
            return
    cache_dir = Path(subject_env(subject, tree)[jitcache.NUMBA_ENV])
    jitcache.seed(store, the_plan.key, files, cache_dir, root)
    guard.retake(store_root)
    guard.retake_cache(tree)


def _python_child(
        subject: Subject,
        tree: Path,
        request: dict[str, Any],
        workdir: Path,
        timeout: float,
        guard: treedigest.Guard | None = None,
) -> dict[str, Any]:
    """Run the child shim on ``request``; return its result (raise ProbeFailed if not ok).

    The shim is copied, alone, into ``workdir`` and run by path, isolated (see
    gates/measuring/_probe_child.py): the engine's package is never importable in the subject's
    process, and the other trees the guard watches are kept off its path."""
    with _RUN_LOCK:
        if guard is not None and request['mode'] != 'warm':
            warm_jit(subject, tree, guard, timeout)
        return _python_child_locked(subject, tree, request, workdir, timeout, guard)


def _python_child_locked(
        subject: Subject,
        tree: Path,
        request: dict[str, Any],
        workdir: Path,
        timeout: float,
        guard: treedigest.Guard | None,
) -> dict[str, Any]:
    refuse_optimized()
    root = subject_root(subject, tree)
    entries = {
        name: value for name, value in (
            ('prove', subject.prove), ('verify', subject.verify),
            ('sections', subject.sections), ('capabilities', subject.capabilities),
        ) if value
    }
    others = [str(t) for t in (guard.watched() if guard else []) if t != tree.resolve()]
    result_path = workdir / 'result.json'
    req = {
        'protocol': PROTOCOL, 'root': str(root), 'entries': entries, 'params': {},
        'variant': {}, 'stages': [], 'track': None, 'capture': None, 'proof': None,
        **request, 'result': str(result_path),
        'site': child_site_dirs(workdir), 'exclude': [str(engine_root()), *others],
    }
    req_path = workdir / 'request.json'
    req_path.write_text(json.dumps(req), encoding='utf-8')
    shim = workdir / CHILD_SCRIPT
    shutil.copyfile(Path(__file__).with_name('_probe_child.py'), shim)
    log = workdir / 'child.log'
    argv = (sys.executable, '-B', '-s', '-S', '-P', str(shim), str(req_path))
    env = proc.child_env(subject_env(subject, tree))
    if request['mode'] == 'memory':
        env.update(MEMORY_ENV)
    what = f'the {request["mode"]} run in {tree}'
    _verify(guard, f'before {what}', tree)
    report = workdir / 'contained.json'
    try:
        with proc.started(argv, root, env, log, stderr_pipe=False, report=report) as child:
            code = proc.wait(child, timeout, what, log)
    finally:
        _verify(guard, f'during {what}', tree, after=True)
    left = proc.survivors_failure(what, proc.read_report(report))
    if left is not None:
        raise left
    if not result_path.is_file():
        raise ProbeFailed(f'the probe child in {tree} exited with {code} and wrote no result', proc.tail(log))
    result: dict[str, Any] = json.loads(result_path.read_text(encoding='utf-8'))
    if not result.get('ok'):
        error = result.get('error') or {}
        kind = 'stage boundary' if error.get('kind') == 'boundary' else 'subject'
        raise ProbeFailed(
            f'{kind} failure in {tree}: {error.get("message", "unknown")}',
            str(error.get('traceback', '')) + proc.tail(log),
        )
    return result


def capabilities(
        subject: Subject, tree: Path, *, timeout: float = DEFAULT_TIMEOUT,
        guard: treedigest.Guard | None = None,
) -> dict[str, list[str]] | None:
    """Backends per stage id the tree's subject offers; None when the subject cannot say
    (a command subject, or no ``capabilities`` entry): then the wanted variant is used as is."""
    if subject.kind != 'python' or not subject.capabilities:
        return None
    with tempfile.TemporaryDirectory(prefix='stagegate-probe-') as tmp:
        result = _python_child(subject, tree, {'mode': 'capabilities'}, Path(tmp), timeout, guard)
    caps: dict[str, list[str]] = result['capabilities']
    return caps


def effective_variant(
        wanted: Mapping[str, str], caps: Mapping[str, Sequence[str]] | None, fallback: str,
) -> dict[str, str]:
    """What actually runs: each stage's wanted backend where the subject offers it, else
    ``fallback`` (the baseline backend)."""
    if caps is None:
        return dict(wanted)
    return {sid: b if b in caps.get(sid, ()) else fallback for sid, b in wanted.items()}


def time(request: RunRequest) -> TimeRun:
    """One timed prove. Python subjects: ``total`` is the prove call (imports excluded);
    command subjects: the process's wall time (startup included, the same for both trees)."""
    with tempfile.TemporaryDirectory(prefix='stagegate-probe-') as tmp:
        if request.subject.kind == 'command':
            check, total, proof_bytes = _command(request, Path(tmp))[:3]
            return TimeRun(
                {int(k): v for k, v in check.stage_seconds().items()}, total,
                hashlib.sha256(proof_bytes).hexdigest(), len(proof_bytes), None,
            )
        result = _python_child(request.subject, request.tree, {
            'mode': 'time', **request.child_fields(),
        }, Path(tmp), request.timeout, request.guard)
    return TimeRun(
        {int(k): float(v) for k, v in result['stage_seconds'].items()},
        float(result['total_seconds']), result['proof_sha256'], int(result['proof_size']),
        result.get('subject_file'),
    )


def proof(request: RunRequest) -> ProofRun:
    """The proof bytes, the subject's own verify verdict and its section layout."""
    subject = request.subject
    with tempfile.TemporaryDirectory(prefix='stagegate-probe-') as tmp:
        if subject.kind == 'command':
            proof_bytes = _command(request, Path(tmp))[2]
            if subject.verify:
                # A command subject with a python verify entry: checked like a python
                # subject's proof, in a fresh process that runs none of the command's code.
                return _verify_request(request, proof_bytes)
            return ProofRun(
                proof_bytes, hashlib.sha256(proof_bytes).hexdigest(), len(proof_bytes), None,
                'command subjects declare no verifier', None, None,
            )
        if not (subject.verify and subject.sections):
            raise GateError('subject.verify and subject.sections are required for python subjects.')
        proof_bytes, result = _proved(request, {}, Path(tmp))
    # The prove process and everything it left behind are gone with its folder; the verdict
    # comes from a fresh process that never runs prove (see verify_run).
    checked = _verify_request(request, proof_bytes)
    return dataclasses.replace(checked, subject_file=result.get('subject_file'))


def proof_with_capabilities(
        request: RunRequest, fallback: str,
) -> tuple[dict[str, list[str]], dict[str, str], ProofRun]:
    """``capabilities`` and ``proof`` of the variant they allow (``effective_variant`` of the
    request's variant, the wanted one), in one prove process instead of two (a python subject
    with a capabilities entry; the caller falls back to the two calls otherwise). The verdict
    still comes from a fresh verify process."""
    subject, wanted = request.subject, request.variant
    if subject.kind != 'python' or not subject.capabilities or not (subject.verify and subject.sections):
        raise GateError('proof_with_capabilities needs a python subject with capabilities, verify and sections.')
    with tempfile.TemporaryDirectory(prefix='stagegate-probe-') as tmp:
        # The child picks the variant from its capabilities: it gets wanted and fallback instead.
        proof_bytes, result = _proved(
            request, {'variant': {}, 'wanted': dict(wanted), 'fallback': fallback}, Path(tmp),
        )
    caps: dict[str, list[str]] = {str(k): [str(b) for b in v] for k, v in dict(result['capabilities']).items()}
    variant = effective_variant(wanted, caps, fallback)
    if dict(result.get('variant') or {}) != variant:
        raise ProbeFailed(f'the proof run in {request.tree} proved variant {result.get("variant")}, not {variant}')
    checked = _verify_request(request, proof_bytes)
    return caps, variant, dataclasses.replace(checked, subject_file=result.get('subject_file'))


def _proved(request: RunRequest, fields: Mapping[str, Any], workdir: Path) -> tuple[bytes, dict[str, Any]]:
    """A python subject's prove in mode ``proof`` (the request's fields, then ``fields``): the
    proof bytes it wrote into ``workdir`` and the child's result."""
    proof_path = workdir / 'proof.bin'
    result = _python_child(request.subject, request.tree, {
        'mode': 'proof', **request.child_fields(), **fields, 'proof': str(proof_path),
    }, workdir, request.timeout, request.guard)
    if not proof_path.is_file():
        raise ProbeFailed(f'the proof run in {request.tree} wrote no proof bytes')
    return proof_path.read_bytes(), result


def _verify_request(request: RunRequest, proof_bytes: bytes) -> ProofRun:
    return verify_run(
        request.subject, request.tree, request.params, proof_bytes,
        timeout=request.timeout, guard=request.guard,
    )


def verify_run(
        subject: Subject,
        tree: Path,
        params: Mapping[str, Any],
        proof: bytes,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        guard: treedigest.Guard | None = None,
) -> ProofRun:
    """The subject's verify verdict and section layout for ``proof``, from a fresh isolated
    process (mode ``verify``) that imports the verify and sections entries only and never
    calls prove: prover code that rebinds a verifier function at run time (``fri.check =
    lambda *a: True``) rebinds it in its own process, not in this one. The bytes go through a
    new private folder the prove process never saw, with the sha256 the engine computed; the
    child refuses bytes that hash otherwise."""
    if not subject.verify or (subject.kind == 'python' and not subject.sections):
        raise GateError('subject.verify and subject.sections are required for python subjects.')
    digest = hashlib.sha256(proof).hexdigest()
    with tempfile.TemporaryDirectory(prefix='stagegate-verify-') as tmp:
        handed = Path(tmp) / 'proof.bin'
        handed.write_bytes(proof)
        result = _python_child(subject, tree, {
            'mode': 'verify', 'params': dict(params), 'proof': str(handed), 'proof_sha256': digest,
        }, Path(tmp), timeout, guard)
    layout = result.get('sections')
    return ProofRun(
        proof, digest, len(proof), bool(result['verify']['ok']), str(result['verify']['message']),
        None if layout is None else tuple((int(s), int(o), int(n)) for s, o, n in layout),
        result.get('subject_file'),
    )


def peak_bytes(capture: Path) -> int:
    """memray's heap high-water mark of a capture file."""
    import memray   # the parent only reads captures; it never tracks itself

    reader = memray.FileReader(str(capture))
    try:
        return int(reader.metadata.peak_memory)
    finally:
        reader.close()


def retained_bytes(capture: Path) -> int:
    """Bytes allocated inside the capture's window and not freed when it closed."""
    import memray

    reader = memray.FileReader(str(capture))
    try:
        return sum(int(r.size) for r in reader.get_leaked_allocation_records(merge_threads=True))
    finally:
        reader.close()


RSS_MEASURES = ('rss', 'rss-sync')   # the measures of a command subject's process tree


def memory_unsupported(subject: Subject, measure: str = 'heap') -> str | None:
    """Why memory cannot be measured for ``subject`` with ``measure`` (None when it can)."""
    if measure in RSS_MEASURES or subject.kind == 'python':
        return None
    return (
        f'heap peaks are not measured for subject kind {subject.kind!r}: memray tracks a Python '
        f'process only; set budgets.memory.measure: rss for the peak RSS of its process tree '
        f'(rss-sync: read at its boundaries, where the command waits for the engine)'
    )


def memory(
        request: RunRequest,
        capture_dir: Path,
        *,
        label: str = 'run',
        progress: Progress = quiet,
        measure: str = 'heap',
) -> MemoryRun:
    """In-stage peaks. ``heap``: one fresh process per stage (memray from enter(k) to exit(k),
    plus the peak RSS of the child processes started in that window), plus one for the whole
    run. ``rss``: one run of a command subject, its process tree's RSS sampled per stage;
    ``rss-sync``: the same run, its figures read at the boundaries while the command waits.

    The captures are written to ``capture_dir`` (the caller deletes it, after making any
    flamegraph it needs). Never combine with timing: memray slows allocation-heavy code down.
    """
    unsupported = memory_unsupported(request.subject, measure)
    if unsupported is not None:
        raise GateError(unsupported)
    if measure in RSS_MEASURES:
        return rss(request, measure)
    captures: dict[str, Path] = {}
    children: dict[str, int] = {}
    tracks: list[int | str] = [*request.stages, 'whole']
    for track in tracks:
        progress(f'memory {label} {request.workload}: {_track_name(track)} ({len(captures) + 1}/{len(tracks)})')
        captures[str(track)], children[str(track)] = _capture(request, track, capture_dir, label=label)
    peaks = {int(k): peak_bytes(path) + children[k] for k, path in captures.items() if k != 'whole'}
    retained = {int(k): retained_bytes(path) for k, path in captures.items() if k != 'whole'}
    return MemoryRun(
        peaks, peak_bytes(captures['whole']) + children['whole'], captures, children, 'heap', retained,
    )


def rss(request: RunRequest, measure: str = 'rss') -> MemoryRun:
    """RSS of the process tree. ``rss``: per stage, the largest sampled sum while the stage was
    open; whole run, the larger of that and wait4's ru_maxrss. ``rss-sync``: read while the
    command waits at each boundary (gates/measuring/probe_command.py ``SyncRss``): per stage,
    its peak above the RSS at its enter, and (``retained``) its RSS at exit minus at enter."""
    if request.subject.kind != 'command':
        raise GateError(f'budgets.memory.measure: {measure} is measured for command subjects; use heap.')
    with tempfile.TemporaryDirectory(prefix='stagegate-probe-') as tmp:
        sampled = _command(request, Path(tmp), sample_rss=True, sync=measure == 'rss-sync')[3]
    return MemoryRun(sampled.stage_peaks, sampled.whole_peak, {}, {}, measure, sampled.retained)


def _command(
        request: RunRequest, workdir: Path, sample_rss: bool = False, sync: bool = False,
) -> tuple[Any, float, bytes, probe_command.Rss]:
    refuse_optimized()
    subject, tree = request.subject, request.tree
    what = f'the {subject.argv[0]} run in {tree}'
    _verify(request.guard, f'before {what}', tree)
    try:
        return probe_command.run(
            request, subject_root(subject, tree), workdir, sample_rss, subject_env(subject, tree), sync,
        )
    finally:
        _verify(request.guard, f'during {what}', tree, after=True)


def _track_name(track: int | str) -> str:
    return 'whole' if track == 'whole' else f'stage{track}'


def capture(request: RunRequest, track: int | str, capture_dir: Path, *, label: str = 'run') -> Path:
    """One process with a memray Tracker on stage ``track`` (or ``'whole'``); the capture file."""
    return _capture(request, track, capture_dir, label=label)[0]


def _capture(request: RunRequest, track: int | str, capture_dir: Path, *, label: str) -> tuple[Path, int]:
    """The capture file and the peak RSS of the child processes started in the window."""
    unsupported = memory_unsupported(request.subject)
    if unsupported is not None:
        raise GateError(unsupported)
    capture_dir.mkdir(parents=True, exist_ok=True)
    capture_file = capture_dir / f'{label}-{request.workload}-{_track_name(track)}.bin'
    capture_file.unlink(missing_ok=True)   # memray refuses to overwrite a capture
    with tempfile.TemporaryDirectory(prefix='stagegate-probe-') as tmp:
        result = _python_child(request.subject, request.tree, {
            'mode': 'memory', **request.child_fields(), 'track': track, 'capture': str(capture_file),
        }, Path(tmp), request.timeout, request.guard)
    return capture_file, int(result.get('children_peak') or 0)


def flamegraph(capture: Path, out_html: Path, *, timeout: float = 600.0) -> Path:
    """Render ``capture`` (high-water mark view) to ``out_html`` with ``memray flamegraph``."""
    if not capture.is_file():
        raise ProbeFailed(f'capture {capture} is gone; rerun the gate to get a flamegraph')
    out_html.parent.mkdir(parents=True, exist_ok=True)
    argv = (sys.executable, '-m', 'memray', 'flamegraph', '--force', '-o', str(out_html), str(capture))
    log = out_html.with_suffix('.log')
    with proc.started(argv, out_html.parent, proc.child_env(), log, stderr_pipe=False) as child:
        code = proc.wait(child, timeout, 'memray flamegraph', log)
    tail = proc.tail(log)
    log.unlink(missing_ok=True)
    if code != 0 or not out_html.is_file():
        raise ProbeFailed(f'memray flamegraph failed with {code} for {capture}', tail)
    return out_html


# The positional form, ``(subject, tree, workload, params, variant, stages, ...)``, of the modes
# above: benchmarks/ (collect.py, memory_noise.py, stage_pair.py) still calls it. New code builds
# a RunRequest; these go once those scripts do.
def time_run(*fields: Any, **limits: Any) -> TimeRun:
    """``time(RunRequest(*fields, **limits))``."""
    return time(RunRequest(*fields, **limits))


def proof_run(*fields: Any, **limits: Any) -> ProofRun:
    """``proof(RunRequest(*fields, **limits))``."""
    return proof(RunRequest(*fields, **limits))


def memory_run(*fields: Any, label: str = 'run', progress: Progress = quiet, measure: str = 'heap',
               **limits: Any) -> MemoryRun:
    """``memory(RunRequest(*fields[:-1], **limits), fields[-1], ...)``: the capture folder last."""
    *request, capture_dir = fields
    return memory(RunRequest(*request, **limits), capture_dir, label=label, progress=progress, measure=measure)


def memory_capture(*fields: Any, label: str = 'run', **limits: Any) -> Path:
    """``capture(RunRequest(*fields[:-2], **limits), track, capture_dir)``: the track and the
    capture folder last."""
    *request, track, capture_dir = fields
    return capture(RunRequest(*request, **limits), track, capture_dir, label=label)
