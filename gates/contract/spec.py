"""Load and validate the machine spec (``specs/streaming-prover.yaml``, schema 1, docs/gates.md).

Every error is one line: ``file:line: key: what is wrong; what to do`` (see gates/contract/located.py);
a missing key points at its parent mapping. Unknown keys fail too: a typo must not silently drop
a budget.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gates.contract.located import Checker
from gates.contract.located import KeyPath
from gates.contract.located import compose
from gates.contract.located import dotted
from gates.contract.located import show
from gates.model import ALWAYS_ALL_GATES
from gates.model import GATE_NAMES
from gates.model import GateError
from gates.model import NotHigher
from gates.model import RatioBelow
from gates.model import StrictlyLower

TOP_KEYS = (
    'schema', 'name', 'subject', 'baseline', 'variants', 'stages', 'protected',
    'shared_paths', 'workloads', 'tiers', 'tier_gates', 'budgets', 'assets', 'golden', 'ledger',
    'main_branch', 'ci_entry_points',
    'mode', 'target',   # optimisation mode (issue 8.5): no conversion, one target
    'report',           # how `gates report` draws the subject (issue 17.4): its size axis
    'rooms',            # issue 14.5: whether an accepted stage's paths close to later changes
    'conversion_order',  # the order stages are converted (accepted) in; default: ascending ids
)
MODES = ('conversion', 'optimisation')
ROOMS = ('open', 'closed')
OPT_VARIANT = 'default'   # both sides' backend in optimisation mode: same entry point, two trees
PYTHON_ENTRIES = ('prove', 'verify', 'sections', 'capabilities')


@dataclasses.dataclass(frozen=True)
class Subject:
    kind: str                      # 'python' | 'command'
    root: str                      # the subject's import root, relative to the tree
    prove: str | None              # 'module:function' entry points (kind python)
    verify: str | None
    sections: str | None
    capabilities: str | None
    argv: tuple[str, ...]          # kind command
    # Extra environment of every subject process; ``{cache}`` in a value is the tree's private
    # cache folder (outside the tree, kept for one check): e.g. a JIT's on-disk cache, which must
    # never be written into a measured tree.
    env: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Stage:
    id: int
    name: str
    brief: str
    paths: tuple[str, ...]
    line: int


@dataclasses.dataclass(frozen=True)
class Workload:
    id: str
    params: Mapping[str, Any]
    line: int


@dataclasses.dataclass(frozen=True)
class TimeBudget:
    ratio_lt: float
    min_pairs: int
    max_pairs: int
    # Groups of stages judged as ONE unit: the sum of their in-stage times against the
    # baseline's sum (e.g. ((0, 8),): the commitment and its opening). Stages in no unit are
    # judged one by one; end to end is always judged.
    units: tuple[tuple[int, ...], ...] = ()

    def threshold(self) -> RatioBelow:
        return RatioBelow(self.ratio_lt)


MEMORY_MEASURES = ('heap', 'rss', 'rss-sync')
DEFAULT_TOLERANCE_BYTES = 1 << 20   # what a spec without tolerance_bytes gets (the old slack)


@dataclasses.dataclass(frozen=True)
class MemoryBudget:
    margin: float
    tolerance: float               # proportional part; 0 unless an older spec still sets it
    tolerance_bytes: int = DEFAULT_TOLERANCE_BYTES   # absolute: may not grow with T
    max_exponent: float | None = None   # converted stages: fitted peak ~ T^e over the full tier
    measure: str = 'heap'          # 'heap' (memray, python subjects) | 'rss' (process tree, sampled)
                                   # | 'rss-sync' (process tree, read at acknowledged boundaries)

    def converted(self) -> StrictlyLower:
        """The stage under conversion must drop below the reference."""
        return StrictlyLower(self.margin)

    def others(self) -> NotHigher:
        """Every other stage may not grow beyond the reference."""
        return NotHigher(self.tolerance)


@dataclasses.dataclass(frozen=True)
class Budgets:
    time: TimeBudget
    memory: MemoryBudget


@dataclasses.dataclass(frozen=True)
class ReportSettings:
    """``report:`` in the spec: the workload parameter that is the plots' size axis.

    ``size_param`` None: ``log_t`` (x = 2^log_t) or ``T`` when every workload has one, else the
    workloads in spec order. ``size_log2``: the parameter is log2 of the size (x = 2^value)."""

    size_param: str | None = None
    size_log2: bool = False


@dataclasses.dataclass(frozen=True)
class Spec:
    path: str                      # as shown in messages (relative to the repo root when known)
    schema: int
    name: str
    subject: Subject
    baseline_ref: str
    baseline_variant: str          # backend name every stage uses in the baseline
    candidate_variant: str         # backend of accepted stages and of the stage under conversion
    stages: tuple[Stage, ...]
    protected_paths: tuple[str, ...]
    forbid_in_converted: tuple[str, ...]
    shared_paths: tuple[str, ...]
    workloads: tuple[Workload, ...]
    tiers: Mapping[str, tuple[str, ...]]
    tier_gates: Mapping[str, tuple[str, ...]]  # tier -> gates it runs, when narrower than all
    budgets: Budgets
    assets: tuple[str, ...]
    golden: str
    ledger: str
    lines: Mapping[str, int]       # dotted key ('budgets.time.ratio_lt', 'stages[0].paths') -> line
    main_branch: str = 'main'      # the branch a local change is measured against (its upstream)
    baseline_version: int = 1      # bumped by `gates rebaseline` each time the oracle is re-frozen
    # ``path::qualname`` entries (``path::`` is the whole file) protected like protected paths.
    protected_symbols: tuple[str, ...] = ()
    # Globs of the verifier's files: what their code reaches (gates.analysis.reach) is protected too.
    verifier_paths: tuple[str, ...] = ()
    # 'conversion' (stages move from one variant to another) or 'optimisation' (issue 8.5: the
    # same entry point in the oracle tree and the head tree; same bytes, faster, no more memory).
    mode: str = 'conversion'
    # Optimisation mode: the stage whose time is judged, or None for the whole run.
    target: int | None = None
    # Globs of the files CI runs the gates from (``.ci/run``, the workflow): an edit of one may
    # not run ``gates check`` less (gates.analysis.ci_entry, judged by the integrity gate).
    ci_entry_points: tuple[str, ...] = ()
    # How `gates report` draws this subject (nothing a gate judges).
    report: ReportSettings = ReportSettings()
    # 'open' (default): a stage's paths are its scope and nothing more. 'closed' (issue 14.5):
    # the paths of every stage accepted before a change are closed to it (the scope gate).
    rooms: str = 'open'
    # The stage ids in the order they are converted and accepted (a permutation of every id;
    # default ascending). A stage that passes Theta(T) data forward to later stages is converted
    # after its consumers: the stage under conversion is the first of this order without a row.
    # Empty for a spec built by hand: ascending ids then (``order``).
    conversion_order: tuple[int, ...] = ()

    @property
    def order(self) -> tuple[int, ...]:
        """The conversion order: ``conversion_order``, else every stage id ascending."""
        return self.conversion_order or tuple(s.id for s in self.stages)

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key)

    def stage(self, stage_id: int) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise GateError(f'{self.path}: stages: no stage with id {stage_id}.')

    def workload(self, workload_id: str) -> Workload:
        for workload in self.workloads:
            if workload.id == workload_id:
                return workload
        raise GateError(f'{self.path}: workloads: no workload with id {workload_id!r}.')

    def tier_gate_names(self, tier: str) -> tuple[str, ...]:
        """The gates a tier runs: all of them unless the spec's ``tier_gates`` narrows a tier
        (never ``ci`` or ``full``, which the loader refuses to narrow)."""
        return self.tier_gates.get(tier, GATE_NAMES)

    def tier_workloads(self, tier: str) -> tuple[Workload, ...]:
        if tier not in self.tiers:
            raise GateError(
                f'{self.path}: tiers: no tier {tier!r}; '
                f'use one of {", ".join(sorted(self.tiers))}.',
            )
        return tuple(self.workload(w) for w in self.tiers[tier])

    def closed_rooms(self, accepted: Iterable[int]) -> tuple[Stage, ...]:
        """The stages among ``accepted`` whose paths (rooms) a later change may not touch: none
        unless ``rooms: closed`` (an optimisation spec cannot close them; the loader refuses)."""
        if self.rooms != 'closed':
            return ()
        done = set(accepted)
        return tuple(s for s in self.stages if s.id in done and s.paths)

    def variant(self, converted: Iterable[int]) -> dict[str, str]:
        """The stage -> backend mapping the subject's ``prove`` takes (keys are str(stage id))."""
        done = set(converted)
        return {
            str(s.id): self.candidate_variant if s.id in done else self.baseline_variant
            for s in self.stages
        }


def _glob_regex(glob: str) -> str:
    out = []
    parts = glob.split('/')
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == '**':
            # '**' spans any number of whole segments, including none.
            out.append('.*' if last else '(?:[^/]+/)*')
            continue
        seg = re.sub(
            r'\*|\?|\[[^\]]*\]|[^*?\[]+|\[',
            lambda m: {'*': '[^/]*', '?': '[^/]', '[': r'\['}.get(
                m.group(), m.group() if m.group().startswith('[') else re.escape(m.group()),
            ),
            part,
        )
        out.append(seg if last else seg + '/')
    return ''.join(out)


def match_glob(path: str, glob: str) -> bool:
    """gitignore-like: ``*``/``?`` stay within a segment, ``**`` spans segments."""
    if path.startswith('./'):
        path = path[2:]
    return re.fullmatch(_glob_regex(glob), path) is not None


def matches(path: str, globs: Iterable[str]) -> bool:
    """True if the repo-relative posix ``path`` matches any of ``globs``."""
    return any(match_glob(path, g) for g in globs)


def parse_spec(text: str, display: str) -> Spec:
    """Parse and validate spec text; ``display`` is the file name errors show."""
    return _build(compose(text, display))


def load_spec(path: Path, display: str | None = None) -> Spec:
    shown = display or str(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise GateError(f'{shown}: spec not found; pass --spec PATH or create it (see docs/gates.md).') from None
    except (OSError, UnicodeDecodeError) as e:
        raise GateError(f'{shown}: cannot read the spec ({e}).') from None
    return parse_spec(text, shown)


def _build(c: Checker) -> Spec:
    """The spec, validated section by section in the file's order (the first error is the one
    shown, so the order is part of the contract)."""
    c.mapping((), TOP_KEYS)
    schema = c.required(('schema',))
    if schema != 1 or isinstance(schema, bool):
        c.fail(('schema',), f'expected 1 (the only schema this engine reads), got {show(schema)}.')
    subject = _subject(c)
    c.mapping(('baseline',), ('ref', 'version'))
    mode, base_variant, cand_variant = _mode_and_variants(c)
    stages = _stages(c)
    target = _target(c, mode, stages)
    order = _conversion_order(c, mode, stages)
    symbols = _protected_symbols(c)
    workloads = _workloads(c)
    tiers = _tiers(c, workloads)
    tier_gates = _tier_gates(c, tiers)
    budgets = _budgets(c, mode, subject.kind, stages)
    main_branch = c.string(('main_branch',), 'main')
    assets = c.globs(('assets',))
    ci_entry_points = _ci_entry_points(c, assets)
    return Spec(
        path=c.display,
        schema=1,
        name=c.string(('name',), 'unnamed'),
        subject=subject,
        baseline_ref=c.string(('baseline', 'ref')),
        baseline_variant=base_variant,
        candidate_variant=cand_variant,
        stages=tuple(stages),
        protected_paths=c.globs(('protected', 'paths')),
        forbid_in_converted=c.strings(('protected', 'forbid_in_converted'), ()),
        shared_paths=c.globs(('shared_paths',), ()),
        workloads=tuple(workloads),
        tiers=tiers,
        tier_gates=tier_gates,
        budgets=budgets,
        assets=assets,
        golden=c.string(('golden',), 'specs/golden.json'),
        ledger=c.string(('ledger',), 'specs/ledger.json'),
        lines={dotted(k): v for k, v in c.lines.items()},
        main_branch=main_branch,
        baseline_version=int(c.number(
            ('baseline', 'version'), 'an integer >= 1', lambda v: v >= 1, integer=True,
        )) if c.has(('baseline', 'version')) else 1,
        protected_symbols=tuple(symbols),
        verifier_paths=_verifier(c, subject.root),
        mode=mode,
        target=target,
        ci_entry_points=ci_entry_points,
        report=_report(c, workloads),
        rooms=_rooms(c, mode),
        conversion_order=order,
    )


def _subject(c: Checker) -> Subject:
    """``subject``: its kind, entry points (python) or argv (command), root and env."""
    c.mapping(('subject',), ('kind', 'root', 'argv', 'env') + PYTHON_ENTRIES)
    kind = c.string(('subject', 'kind'))
    if kind not in ('python', 'command'):
        c.fail(('subject', 'kind'), f'expected python or command, got {show(kind)}.')
    entries: dict[str, str | None] = {}
    for name in PYTHON_ENTRIES:
        key = ('subject', name)
        if kind == 'python' or c.has(key):
            entries[name] = c.string(key)
            if not re.fullmatch(r'[A-Za-z_][\w.]*:[A-Za-z_]\w*', entries[name] or ''):
                c.fail(key, f'expected "module:function", got {show(entries[name])}.')
        else:
            entries[name] = None
    argv: tuple[str, ...] = ()
    if kind == 'command':
        argv = c.strings(('subject', 'argv'))
        if not argv:
            c.fail(('subject', 'argv'), 'expected a non-empty command line.')
    env = _subject_env(c)
    return Subject(kind, c.string(('subject', 'root'), '.'), argv=argv, env=env, **entries)


def _subject_env(c: Checker) -> tuple[tuple[str, str], ...]:
    """``subject.env``: extra variables of every subject run, none of the engine's own."""
    env: list[tuple[str, str]] = []
    if not c.has(('subject', 'env')):
        return ()
    raw_env = c.get(('subject', 'env'))
    if not isinstance(raw_env, dict):
        c.fail(('subject', 'env'), f'expected a mapping of variable names to strings, got {show(raw_env)}.')
    for name in raw_env:
        env_key: KeyPath = ('subject', 'env', str(name))
        if not isinstance(name, str):
            c.fail(('subject', 'env'), f'expected variable names as strings, got {show(name)}.')
        value = c.string(env_key)
        if not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', name) or name.startswith(('PYTHON', 'GIT_')):
            c.fail(env_key, f'expected an environment variable name other than PYTHON* and GIT_* '
                        f'(the engine keeps those clean), got {show(name)}.')
        if value.replace('{cache}', '').count('{') or value.replace('{cache}', '').count('}'):
            c.fail(env_key, f'expected a value whose only placeholder is {{cache}}, got {show(value)}.')
        env.append((name, value))
    return tuple(env)


def _mode_and_variants(c: Checker) -> tuple[str, str, str]:
    """``mode`` and the baseline and candidate variants (one entry point in optimisation mode)."""
    mode = c.string(('mode',), 'conversion')
    if mode not in MODES:
        c.fail(('mode',), f'expected conversion or optimisation, got {show(mode)}.')
    if mode == 'optimisation':
        # Nothing is converted: baseline and candidate run the same entry point (issue 8.5).
        if c.has(('variants',)):
            c.fail(('variants',), 'an optimisation spec has no variants (both trees run the same '
                                  'entry point); remove the key.')
        return mode, OPT_VARIANT, OPT_VARIANT
    c.mapping(('variants',), ('baseline', 'candidate'))
    base_variant = c.string(('variants', 'baseline'))
    cand_variant = c.string(('variants', 'candidate'))
    if base_variant == cand_variant:
        c.fail(('variants', 'candidate'), 'must differ from variants.baseline.')
    return mode, base_variant, cand_variant


def _stages(c: Checker) -> list[Stage]:
    """``stages``: ids 0..n-1 in order, unique names, a brief and the paths each may touch."""
    raw_stages = c.required(('stages',))
    if not isinstance(raw_stages, list) or not raw_stages:
        c.fail(('stages',), f'expected a non-empty list of stages, got {show(raw_stages)}.')
    stages: list[Stage] = []
    names: set[str] = set()
    for i in range(len(raw_stages)):
        k: KeyPath = ('stages', i)
        c.mapping(k, ('id', 'name', 'brief', 'paths'))
        sid = c.required(k + ('id',))
        if sid != i or isinstance(sid, bool):
            c.fail(k + ('id',), f'expected {i} (ids are 0..n-1 in order), got {show(sid)}.')
        name = c.string(k + ('name',))
        if name in names:
            c.fail(k + ('name',), f'duplicate stage name {show(name)}; names must be unique.')
        names.add(name)
        brief = c.get(k + ('brief',)) if c.has(k + ('brief',)) else ''
        if not isinstance(brief, str):
            c.fail(k + ('brief',), f'expected a string, got {show(brief)}.')
        stages.append(Stage(i, name, brief, c.globs(k + ('paths',)), c.line(k)))
    return stages


def _conversion_order(c: Checker, mode: str, stages: list[Stage]) -> tuple[int, ...]:
    """``conversion_order``: every stage id once, in the order the stages are converted (default:
    ascending ids). An optimisation converts nothing, and its ledger rows are numbered
    optimisations, not stages: the key is refused there."""
    ids = [s.id for s in stages]
    key: KeyPath = ('conversion_order',)
    if not c.has(key):
        return tuple(ids)
    if mode == 'optimisation':
        c.fail(key, 'an optimisation spec converts nothing (its ledger rows are numbered optimisations, '
                    'not stages); remove the key.')
    raw = c.get(key)
    if not isinstance(raw, list):
        c.fail(key, f'expected a list of every stage id in the order they are converted, e.g. '
                    f'{list(reversed(ids))}, got {show(raw)}.')
    seen: set[int] = set()
    for j, sid in enumerate(raw):
        if not isinstance(sid, int) or isinstance(sid, bool) or sid not in ids:
            c.fail(key + (j,), f'expected a stage id (one of {ids}), got {show(sid)}.')
        if sid in seen:
            c.fail(key + (j,), f'stage {sid} is listed twice; list every stage id once.')
        seen.add(sid)
    missing = [i for i in ids if i not in seen]
    if missing:
        c.fail(key, f'stage{"s" if len(missing) > 1 else ""} {", ".join(map(str, missing))} missing; list '
                    f'every stage id once (a stage left out would never be converted).')
    return tuple(raw)


def _protected_symbols(c: Checker) -> tuple[str, ...]:
    """``protected`` (its keys) and ``protected.symbols``: ``path.py::qualname`` entries."""
    c.mapping(('protected',), ('paths', 'forbid_in_converted', 'symbols', 'verifier'))
    symbols = c.strings(('protected', 'symbols'), ())
    for j, entry in enumerate(symbols):
        if not re.fullmatch(r'[^:\s]+\.py::([A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?', entry):
            c.fail(('protected', 'symbols', j),
                   f'expected "path/to/file.py::qualname" (e.g. prover/pcs/merkle.py::verify_batch, '
                   f'or "file.py::" for the whole file), got {show(entry)}.')
    return symbols


def _workloads(c: Checker) -> list[Workload]:
    """``workloads``: unique ids, each with a mapping of params."""
    raw_workloads = c.required(('workloads',))
    if not isinstance(raw_workloads, list) or not raw_workloads:
        c.fail(('workloads',), f'expected a non-empty list of workloads, got {show(raw_workloads)}.')
    workloads: list[Workload] = []
    for i in range(len(raw_workloads)):
        k: KeyPath = ('workloads', i)
        c.mapping(k, ('id', 'params'))
        wid = c.string(k + ('id',))
        if any(w.id == wid for w in workloads):
            c.fail(k + ('id',), f'duplicate workload id {show(wid)}; ids must be unique.')
        params = c.get(k + ('params',)) if c.has(k + ('params',)) else {}
        if not isinstance(params, dict) or not all(isinstance(p, str) for p in params):
            c.fail(k + ('params',), f'expected a mapping of names to values, got {show(params)}.')
        workloads.append(Workload(wid, params, c.line(k)))
    return workloads


def _tiers(c: Checker, workloads: list[Workload]) -> dict[str, tuple[str, ...]]:
    """``tiers``: each a non-empty list of declared workload ids."""
    tiers: dict[str, tuple[str, ...]] = {}
    raw_tiers = c.required(('tiers',))
    if not isinstance(raw_tiers, dict):
        c.fail(('tiers',), f'expected a mapping of tier names to workload ids, got {show(raw_tiers)}.')
    for tier in raw_tiers:
        ids = c.strings(('tiers', tier))
        if not ids:
            c.fail(('tiers', tier), 'expected at least one workload id.')
        for j, wid in enumerate(ids):
            if not any(w.id == wid for w in workloads):
                c.fail(('tiers', tier, j), f'unknown workload {show(wid)}; declare it under workloads.')
        tiers[str(tier)] = ids
    if not tiers:
        c.fail(('tiers',), 'expected at least one tier (e.g. pre-commit, ci, full).')
    return tiers


def _tier_gates(c: Checker, tiers: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """``tier_gates``: the gates a fast tier runs (never narrowing ci or full), in gate order."""
    tier_gates: dict[str, tuple[str, ...]] = {}
    if not c.has(('tier_gates',)):
        return tier_gates
    raw_tg = c.get(('tier_gates',))
    if not isinstance(raw_tg, dict):
        c.fail(('tier_gates',), f'expected a mapping of tier names to gate names, got {show(raw_tg)}.')
    for tier in raw_tg:
        if tier not in tiers:
            c.fail(('tier_gates', tier), f'unknown tier {show(tier)}; declare it under tiers.')
        if tier in ALWAYS_ALL_GATES:
            c.fail(('tier_gates', tier),
                   f'the {tier} tier always runs every gate; only other tiers (e.g. pre-commit) '
                   'may run a subset.')
        gate_list = c.strings(('tier_gates', tier))
        for j, gate in enumerate(gate_list):
            if gate not in GATE_NAMES:
                c.fail(('tier_gates', tier, j),
                       f'unknown gate {show(gate)}; use some of {", ".join(GATE_NAMES)}.')
        if not gate_list:
            c.fail(('tier_gates', tier), 'expected at least one gate name.')
        tier_gates[str(tier)] = tuple(g for g in GATE_NAMES if g in gate_list)
    return tier_gates


def _budgets(c: Checker, mode: str, kind: str, stages: list[Stage]) -> Budgets:
    """``budgets.time`` and ``budgets.memory`` (their keys first, then each value in order)."""
    c.mapping(('budgets',), ('time', 'memory'))
    c.mapping(('budgets', 'time'), ('ratio_lt', 'min_pairs', 'max_pairs', 'units'))
    c.mapping(('budgets', 'memory'), ('margin', 'tolerance', 'tolerance_bytes', 'max_exponent', 'measure'))
    return Budgets(_time_budget(c, mode, stages), _memory_budget(c, kind))


def _time_budget(c: Checker, mode: str, stages: list[Stage]) -> TimeBudget:
    time_key: KeyPath = ('budgets', 'time')
    if mode == 'optimisation':
        # An optimisation asks for a speed-up: ratio_lt 0.9 means "at least 10 % faster".
        ratio = c.number(time_key + ('ratio_lt',), 'a number > 0, e.g. 0.9', lambda v: v > 0)
    else:
        ratio = c.number(time_key + ('ratio_lt',), 'a number > 1', lambda v: v > 1)
    min_pairs = int(c.number(
        time_key + ('min_pairs',), 'an integer >= 1', lambda v: v >= 1, integer=True,
    ))
    max_pairs = int(c.number(
        time_key + ('max_pairs',), f'an integer >= min_pairs ({min_pairs})',
        lambda v: v >= min_pairs, integer=True,
    ))
    units = _time_units(c, time_key + ('units',), [s.id for s in stages])
    return TimeBudget(ratio, min_pairs, max_pairs, units)


def _memory_budget(c: Checker, kind: str) -> MemoryBudget:
    mem_key: KeyPath = ('budgets', 'memory')
    margin = c.number(mem_key + ('margin',), 'a number in (0, 1), e.g. 0.02', lambda v: 0 < v < 1)
    tolerance = 0.0
    if c.has(mem_key + ('tolerance',)):
        tolerance = c.number(
            mem_key + ('tolerance',), 'a number in [0, 1), e.g. 0.01 (better: tolerance_bytes)',
            lambda v: 0 <= v < 1,
        )
    tolerance_bytes = DEFAULT_TOLERANCE_BYTES
    if c.has(mem_key + ('tolerance_bytes',)):
        tolerance_bytes = int(c.number(
            mem_key + ('tolerance_bytes',), 'a whole number of bytes >= 0, e.g. 65536',
            lambda v: v >= 0, integer=True,
        ))
    max_exponent: float | None = None
    if c.has(mem_key + ('max_exponent',)):
        max_exponent = c.number(
            mem_key + ('max_exponent',), 'a number in (0, 2], e.g. 0.6 (sqrt T is 0.5)',
            lambda v: 0 < v <= 2,
        )
    default_measure = 'heap' if kind == 'python' else 'rss'
    measure = c.string(mem_key + ('measure',), default_measure)
    if measure not in MEMORY_MEASURES:
        c.fail(mem_key + ('measure',), f'expected heap, rss or rss-sync, got {show(measure)}.')
    if (measure == 'heap') != (kind == 'python'):
        c.fail(mem_key + ('measure',),
               'heap peaks (memray) need a python subject; use rss or rss-sync for a command subject.'
               if measure == 'heap' else
               f'{measure} is measured for command subjects; a python subject uses heap (memray).')
    return MemoryBudget(margin, tolerance, tolerance_bytes, max_exponent, measure)


def _ci_entry_points(c: Checker, assets: tuple[str, ...]) -> tuple[str, ...]:
    """``ci_entry_points``: files CI runs the gates from; each must be a gate asset."""
    ci_entry_points = c.globs(('ci_entry_points',), ())
    for j, entry in enumerate(ci_entry_points):
        if not matches(entry, assets):
            c.fail(('ci_entry_points', j),
                   f'{show(entry)} is not a gate asset; add it (or a glob covering it) to assets, or an '
                   f'edit of it could come with subject code.')
    return ci_entry_points


def _rooms(c: Checker, mode: str) -> str:
    """``rooms: open | closed``. An optimisation touches every stage's code, and its ledger rows
    are numbered optimisations, not stages: its rooms stay open, so ``closed`` is refused there."""
    rooms = c.string(('rooms',), 'open')
    if rooms not in ROOMS:
        c.fail(('rooms',), f'expected open or closed, got {show(rooms)}.')
    if rooms == 'closed' and mode == 'optimisation':
        c.fail(('rooms',), 'an optimisation spec keeps its rooms open (the pass may touch every stage, '
                           'and its rows are not stages); remove the key.')
    return rooms


def _report(c: Checker, workloads: list[Workload]) -> ReportSettings:
    """``report: {size_param: NAME, size_log2: BOOL}``: a numeric parameter every workload has."""
    if not c.has(('report',)):
        return ReportSettings()
    c.mapping(('report',), ('size_param', 'size_log2'))
    key = ('report', 'size_log2')
    log2 = c.get(key) if c.has(key) else False
    if not isinstance(log2, bool):
        c.fail(key, f'expected true or false, got {show(log2)}.')
    if not c.has(('report', 'size_param')):
        if log2:
            c.fail(key, 'size_log2 needs report.size_param, the parameter it describes.')
        return ReportSettings()
    name = c.string(('report', 'size_param'))
    for w in workloads:
        value = w.params.get(name)
        if value is None:
            c.fail(('report', 'size_param'),
                   f'workload {show(w.id)} has no parameter {show(name)}; name a numeric parameter '
                   f'every workload has (its params: {", ".join(map(str, w.params)) or "none"}).')
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or (
                log2 and not isinstance(value, int)):
            what = 'a whole number (size_log2: x = 2^value)' if log2 else 'a number > 0'
            c.fail(('report', 'size_param'),
                   f'workload {show(w.id)} has {name}: {show(value)}, not {what}.')
    return ReportSettings(name, log2)


def _verifier(c: Checker, root: str) -> tuple[str, ...]:
    """``protected.verifier``: file globs, or ``file.py::qualname`` for a verifier function in
    a file the prover shares (it and everything it reaches are protected), all under
    ``subject.root``: the subject's process imports from its root only, so a verifier
    file outside it is never the code that runs."""
    entries = c.globs(('protected', 'verifier'), ())
    prefix = '' if root in ('', '.') else root.strip('/') + '/'
    for j, entry in enumerate(entries):
        key: KeyPath = ('protected', 'verifier', j)
        if '::' in entry and not re.fullmatch(r'[^:\s*?\[]+\.py::([A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?', entry):
            c.fail(key, f'expected a glob or "path/to/file.py::function" (no wildcard in the path), '
                        f'got {show(entry)}.')
        if prefix and not entry.startswith(prefix):
            c.fail(key, f'{show(entry)} is outside subject.root {show(root)}: the subject imports from its '
                        f'root only; name a verifier under it, or set subject.root to a folder holding both.')
    return entries


def _target(c: Checker, mode: str, stages: list[Stage]) -> int | None:
    """``target``: a stage name or id, or ``run`` (the whole run); optimisation mode only."""
    if mode != 'optimisation':
        if c.has(('target',)):
            c.fail(('target',), 'only an optimisation spec (mode: optimisation) has a target; remove it.')
        return None
    raw = c.get(('target',)) if c.has(('target',)) else 'run'
    if raw == 'run':
        return None
    for stage in stages:
        if raw == stage.name or (raw == stage.id and not isinstance(raw, bool)):
            return stage.id
    c.fail(('target',), f'expected run or a stage name or id '
                        f'({", ".join(s.name for s in stages)}), got {show(raw)}.')


def _time_units(c: Checker, key: KeyPath, stage_ids: list[int]) -> tuple[tuple[int, ...], ...]:
    """``budgets.time.units``: lists of >= 2 distinct stage ids, each stage in at most one."""
    if not c.has(key):
        return ()
    raw = c.get(key)
    if not isinstance(raw, list):
        c.fail(key, f'expected a list of stage-id lists, e.g. [[0, 8]], got {show(raw)}.')
    out: list[tuple[int, ...]] = []
    seen: set[int] = set()
    for i, unit in enumerate(raw):
        if not isinstance(unit, list) or len(unit) < 2:
            c.fail(key + (i,), f'expected a list of at least two stage ids, e.g. [0, 8], got {show(unit)}.')
        for j, sid in enumerate(unit):
            if not isinstance(sid, int) or isinstance(sid, bool) or sid not in stage_ids:
                c.fail(key + (i, j), f'expected a stage id (one of {stage_ids}), got {show(sid)}.')
            if sid in seen:
                c.fail(key + (i, j), f'stage {sid} is already in a unit; a stage belongs to one unit at most.')
            seen.add(sid)
        out.append(tuple(unit))
    return tuple(out)
