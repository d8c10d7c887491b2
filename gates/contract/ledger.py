"""The ratchet: ``specs/ledger.json``, one row per accepted stage, in the order they were accepted:
the spec's conversion order (``conversion_order``, default ascending ids; an optimisation's rows are
numbered 0, 1, 2, ...). Parsing checks each row on its own and that no stage has two rows; which
stage a row must be is the spec's word (``out_of_order``: ``append_row`` and the integrity gate).

Layout (schema 1)::

    {"schema": 1, "rows": [
      {"stage": 0, "stage_name": "commit", "commit": "<sha of the accepted tree's HEAD>",
       "dirty": false, "accepted_at": "2026-11-21T10:00:00+00:00",
       "machine": {"platform": "...", "cpu_count": 2, "python": "3.12.3"},
       "tools": {"python": "3.12.3", "numpy": "2.1.0", "memray": "1.14.0", "semgrep": "1.90.0"},
       "workloads": {"<workload id>": {
           "stage_peaks": {"0": <bytes>, "1": <bytes>, ...},   # in-stage peak of EVERY stage
           "whole_run_peak": <bytes>,
           "time_ratio": {"total": <candidate/baseline>, "stages": {"0": <ratio>, ...},
                          "units": {"0+8": <ratio of the unit's summed stage times>}},
           "proof_sha256": "<hex>"}},
       "row_digest": "<sha256 of the canonical row without row_digest>"}]}

The canonical form is ``json.dumps(row, sort_keys=True, separators=(',', ':'))``; a row whose
digest does not match was edited by hand and the whole ledger is refused (never skipped).
Peaks of the newest row holding a workload are the reference the memory gate ratchets against.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib.metadata
import json
import math
import os
import platform
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.contract import metrics
from gates.model import Finding
from gates.model import GateError
from gates.contract.spec import Spec
from gates.contract.spec import Stage

SCHEMA = 1
ROW_KEYS = (
    'stage', 'stage_name', 'commit', 'dirty', 'accepted_at', 'machine', 'tools', 'workloads',
    'row_digest', 'memory_method',
)
# How this engine measures memory. A row's peaks are a reference, or are re-measured, only by an
# engine of the same method: rows made before the key existed (pymalloc arenas counted whole,
# figures that moved by 1 MiB with the engine's install) are history, not a reference.
MEMORY_METHOD = 'memray-malloc'
LEGACY_METHOD = 'memray-pymalloc-arenas'
# Per budgets.memory.measure. Rows of command subjects (rss) have always carried MEMORY_METHOD and
# keep it (the spec's measure says what they hold; changing it is a loosening); rss-sync's figures
# (peaks above each stage's entry RSS) are no reference for sampled tree peaks, nor the other way.
METHODS = {'heap': MEMORY_METHOD, 'rss': MEMORY_METHOD, 'rss-sync': 'rss-sync'}


def memory_method(measure: str) -> str:
    """The method this engine records in (and expects of) the rows of a spec with ``measure``."""
    return METHODS.get(measure, MEMORY_METHOD)


@dataclasses.dataclass(frozen=True)
class WorkloadFigures:
    """The accepted figures of one workload (peaks in bytes; ratios candidate/baseline)."""

    stage_peaks: Mapping[str, int]
    whole_run_peak: int
    time_ratio_total: float
    time_ratio_stages: Mapping[str, float]
    proof_sha256: str
    # budgets.time.units judged as one (e.g. '0+8' -> ratio of the stages' summed times); rows
    # accepted before units were recorded have none, and serialize exactly as they were made.
    time_ratio_units: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ratio: dict[str, Any] = {
            'total': float(self.time_ratio_total),
            'stages': {
                k: float(v) for k, v in sorted(self.time_ratio_stages.items(), key=_by_id)
            },
        }
        if self.time_ratio_units:
            ratio['units'] = {k: float(v) for k, v in sorted(self.time_ratio_units.items())}
        return {
            'stage_peaks': {k: int(v) for k, v in sorted(self.stage_peaks.items(), key=_by_id)},
            'whole_run_peak': int(self.whole_run_peak),
            'time_ratio': ratio,
            'proof_sha256': self.proof_sha256,
        }


@dataclasses.dataclass(frozen=True)
class Row:
    stage: int
    stage_name: str
    commit: str
    dirty: bool
    accepted_at: str
    machine: Mapping[str, Any]
    tools: Mapping[str, Any]
    workloads: Mapping[str, WorkloadFigures]
    row_digest: str
    memory_method: str = LEGACY_METHOD   # rows made before the key existed serialize as they were

    def body(self) -> dict[str, Any]:
        """The row without its digest: what the digest covers."""
        out: dict[str, Any] = {
            'stage': self.stage,
            'stage_name': self.stage_name,
            'commit': self.commit,
            'dirty': self.dirty,
            'accepted_at': self.accepted_at,
            'machine': dict(self.machine),
            'tools': dict(self.tools),
            'workloads': {k: v.to_dict() for k, v in sorted(self.workloads.items())},
        }
        if self.memory_method != LEGACY_METHOD:
            out['memory_method'] = self.memory_method
        return out

    def measured_like_this_engine(self, measure: str = 'heap') -> bool:
        return self.memory_method == memory_method(measure)

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), 'row_digest': self.row_digest}


@dataclasses.dataclass(frozen=True)
class Ledger:
    path: str            # as shown in messages
    rows: tuple[Row, ...]

    def accepted_stages(self) -> tuple[int, ...]:
        return tuple(r.stage for r in self.rows)

    def row_for_stage(self, stage_id: int) -> Row | None:
        for row in self.rows:
            if row.stage == stage_id:
                return row
        return None

    def to_dict(self) -> dict[str, Any]:
        return {'schema': SCHEMA, 'rows': [r.to_dict() for r in self.rows]}


def _by_id(item: tuple[str, Any]) -> tuple[int, str]:
    key = item[0]
    return (int(key), key) if key.isdigit() else (1 << 30, key)


def canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=True)


def digest_of(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    return {
        'platform': platform.platform(),
        'cpu_count': os.cpu_count(),
        'python': platform.python_version(),
    }


def tool_versions() -> dict[str, str | None]:
    return {
        'python': platform.python_version(),
        'numpy': _version('numpy'),
        'memray': _version('memray'),
        'semgrep': _version('semgrep'),
    }


def make_row(
        stage: Stage,
        commit: str,
        dirty: bool,
        workloads: Mapping[str, WorkloadFigures],
        accepted_at: str | None = None,
        measure: str = 'heap',
) -> Row:
    when = accepted_at or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    draft = Row(
        stage.id, stage.name, commit, dirty, when, machine_info(), tool_versions(),
        dict(workloads), '', memory_method(measure),
    )
    return dataclasses.replace(draft, row_digest=digest_of(draft.body()))


class _Bad(Exception):
    """A malformed ledger value; turned into a GateError naming the file and the key."""


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in obj:
        raise _Bad(f'{key}: missing')
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
        raise _Bad(f'{key}: expected {getattr(kind, "__name__", kind)}, got {type(value).__name__}')
    return value


def _stage_key(k: str) -> bool:
    # ASCII digits only: str.isdigit() is also true for '²', which int() then refuses
    return k.isascii() and k.isdigit()


def _ratio(v: Any) -> bool:
    """A finite number (not a bool): JSON may carry Infinity and NaN, which no gate measures."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _figures(raw: Any) -> WorkloadFigures:
    if not isinstance(raw, dict):
        raise _Bad('expected an object')
    peaks = _get(raw, 'stage_peaks', dict)
    ratio = _get(raw, 'time_ratio', dict)
    stages = _get(ratio, 'stages', dict)
    for k, v in peaks.items():
        if not _stage_key(k) or not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise _Bad(f'stage_peaks.{k}: expected a byte count under a stage id')
    for k, v in stages.items():
        if not _stage_key(k) or not _ratio(v):
            raise _Bad(f'time_ratio.stages.{k}: expected a finite ratio under a stage id')
    if not _ratio(ratio.get('total')):
        raise _Bad(f'time_ratio.total: expected a finite ratio, got {ratio.get("total")!r}')
    units = ratio.get('units', {})
    if not isinstance(units, dict):
        raise _Bad('time_ratio.units: expected an object of unit -> ratio')
    for k, v in units.items():
        if not metrics.valid_unit_key(k) or not _ratio(v):
            raise _Bad(f'time_ratio.units.{k}: expected a finite ratio under a unit of distinct stage ids '
                       f'such as "0+8"')
    return WorkloadFigures(
        stage_peaks=dict(peaks),
        whole_run_peak=_get(raw, 'whole_run_peak', int),
        time_ratio_total=float(ratio['total']),
        time_ratio_stages={k: float(v) for k, v in stages.items()},
        proof_sha256=_get(raw, 'proof_sha256', str),
        time_ratio_units={k: float(v) for k, v in units.items()},
    )


def _row(raw: Any) -> Row:
    if not isinstance(raw, dict):
        raise _Bad('expected an object')
    extra = sorted(set(raw) - set(ROW_KEYS))
    if extra:
        raise _Bad(f'{extra[0]}: unknown key')
    workloads = {}
    for wid, figures in _get(raw, 'workloads', dict).items():
        try:
            workloads[wid] = _figures(figures)
        except _Bad as e:
            raise _Bad(f'workloads.{wid}.{e}') from None
    return Row(
        stage=_get(raw, 'stage', int),
        stage_name=_get(raw, 'stage_name', str),
        commit=_get(raw, 'commit', str),
        dirty=_get(raw, 'dirty', bool),
        accepted_at=_get(raw, 'accepted_at', str),
        machine=_get(raw, 'machine', dict),
        tools=_get(raw, 'tools', dict),
        workloads=workloads,
        row_digest=_get(raw, 'row_digest', str),
        memory_method=_get(raw, 'memory_method', str) if 'memory_method' in raw else LEGACY_METHOD,
    )


def parse_ledger(text: str, display: str) -> Ledger:
    """Parse and verify a ledger; any defect is a GateError naming the file and the row."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise GateError(
            f'{display}:{e.lineno}: the ledger is not valid JSON ({e.msg}); '
            f'restore it from git (git checkout -- {display}).',
        ) from None
    if not isinstance(doc, dict) or doc.get('schema') != SCHEMA or not isinstance(doc.get('rows'), list):
        raise GateError(
            f'{display}: expected {{"schema": {SCHEMA}, "rows": [...]}}; '
            f'restore it from git or start from {{"schema": {SCHEMA}, "rows": []}}.',
        )
    rows: list[Row] = []
    for i, raw in enumerate(doc['rows']):
        try:
            row = _row(raw)
        except _Bad as e:
            raise GateError(f'{display}: rows[{i}].{e}; restore the ledger from git.') from None
        if digest_of(row.body()) != row.row_digest:
            raise GateError(
                f'{display}: rows[{i}] (stage {row.stage}): row_digest does not match the row '
                f'(edited by hand?); restore the ledger from git, rows are written only by '
                f'`gates accept`.',
            )
        twice = next((j for j, earlier in enumerate(rows) if earlier.stage == row.stage), None)
        if twice is not None:
            raise GateError(
                f'{display}: rows[{i}]: stage {row.stage} is accepted twice (rows[{twice}] too); '
                f'a stage is accepted once; restore the ledger from git.',
            )
        rows.append(row)
    return Ledger(display, tuple(rows))


def read_ledger(path: Path, display: str | None = None) -> Ledger:
    shown = display or str(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        # A missing ledger would silently reset the ratchet, so it is an error, not "empty".
        raise GateError(
            f'{shown}: ledger not found; restore it from git, or create it with '
            f'{{"schema": {SCHEMA}, "rows": []}} when starting a conversion.',
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise GateError(f'{shown}: cannot read the ledger ({e}).') from None
    return parse_ledger(text, shown)


def render(ledger: Ledger) -> str:
    return json.dumps(ledger.to_dict(), indent=2, sort_keys=True) + '\n'


def expected_stage(spec: Spec | None, index: int) -> int | None:
    """The stage ledger row ``index`` records: the ``index``-th of the spec's conversion order
    (None past its end). An optimisation's rows are numbered, and so are a ledger's without a
    spec (``spec`` None: rows 0, 1, 2, ..., the default order)."""
    if spec is None or spec.mode == 'optimisation':
        return index
    order = spec.order
    return order[index] if index < len(order) else None


def _order_words(spec: Spec | None) -> str:
    if spec is None or spec.mode == 'optimisation':
        return 'rows are numbered 0, 1, 2, ...'
    return f'{spec.path} converts the stages in the order {list(spec.order)} (conversion_order)'


def out_of_order(spec: Spec | None, rows: Sequence[Row], start: int = 0) -> tuple[int, str] | None:
    """The first of ``rows[start:]`` that is not the stage the spec's order puts at its index:
    (its index, why); None when every one is."""
    for i in range(start, len(rows)):
        want = expected_stage(spec, i)
        if rows[i].stage != want:
            must = (f'every stage is accepted by rows[0..{i - 1}]' if want is None
                    else f'rows[{i}] must be stage {want}')
            return i, f'rows[{i}]: stage {rows[i].stage} out of order: {_order_words(spec)}, so {must}'
    return None


def append_row(path: Path, ledger: Ledger, row: Row, spec: Spec | None = None) -> Ledger:
    """Write ``ledger`` plus ``row`` to ``path`` (atomically) and return the new ledger. The rows
    must follow ``spec``'s conversion order (without a spec: rows 0, 1, 2, ...)."""
    wrong = out_of_order(spec, ledger.rows + (row,))
    if wrong is not None and wrong[0] == len(ledger.rows):
        want = expected_stage(spec, len(ledger.rows))
        why = 'every stage is already accepted' if want is None else f'the next stage to accept is {want}'
        if want is not None and spec is not None and spec.mode != 'optimisation':
            why += f' ({_order_words(spec)})'
        raise GateError(f'{ledger.path}: cannot append stage {row.stage}; {why}.')
    if wrong is not None:
        raise GateError(f'{ledger.path}: {wrong[1]}; the ledger does not follow the spec: restore both from git.')
    new = Ledger(ledger.path, ledger.rows + (row,))
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_text(render(new), encoding='utf-8')
    os.replace(tmp, path)
    return new


def check_against_spec(spec: Spec, ledger: Ledger) -> None:
    """Every row must name a stage of the spec, by the same id and name."""
    for i, row in enumerate(ledger.rows):
        if row.stage >= len(spec.stages) or spec.stages[row.stage].name != row.stage_name:
            raise GateError(
                f'{ledger.path}: rows[{i}]: stage {row.stage} ({row.stage_name}) is not a stage '
                f'of {spec.path}; the spec and the ledger disagree.',
            )


def stage_under_conversion(spec: Spec, ledger: Ledger) -> Stage | None:
    """The first stage of the spec's conversion order (``conversion_order``, default ascending
    ids) that the ledger has not accepted; None when all are. Whether the rows themselves follow
    the order is the integrity gate's to judge (a head spec that reorders accepted stages is a
    loosening it reports, not an error that stops the check)."""
    check_against_spec(spec, ledger)
    done = set(ledger.accepted_stages())
    for sid in spec.order:
        if sid not in done:
            return spec.stage(sid)
    return None


def reference_peaks(ledger: Ledger, workload_id: str) -> dict[int, int] | None:
    """In-stage peaks (stage id -> bytes) of the newest row that measured ``workload_id``.

    None when no accepted row holds the workload: then the reference must be measured live
    (the base tree with the reference variant).
    """
    for row in reversed(ledger.rows):
        figures = row.workloads.get(workload_id)
        if figures is not None:
            return {int(k): v for k, v in figures.stage_peaks.items()}
    return None


def compare_row(
        spec: Spec,
        row: Row,
        measured: Mapping[str, WorkloadFigures],
        only: tuple[str, ...] = (),
) -> list[Finding]:
    """Audit: do fresh figures at the row's commit reproduce it (within the spec's budgets)?

    The proof digest must be identical; peaks may drift by the memory tolerance either way;
    time ratios are machine-dependent, so they must only still be under the time budget.
    """
    findings = []
    tolerance = spec.budgets.memory.tolerance
    ratio = spec.budgets.time.threshold()
    for wid, old in sorted(row.workloads.items()):
        if only and wid not in only:
            continue
        new = measured.get(wid)
        if new is None:
            findings.append(Finding('audit', 'not re-measured', workload=wid, stage=row.stage))
            continue
        if new.proof_sha256 != old.proof_sha256:
            findings.append(Finding(
                'audit', f'proof sha256 {new.proof_sha256[:12]} != recorded {old.proof_sha256[:12]}',
                workload=wid, stage=row.stage,
            ))
        for sid, peak in sorted(old.stage_peaks.items(), key=_by_id):
            now = new.stage_peaks.get(sid)
            if now is None or abs(now - peak) > tolerance * max(peak, 1):
                findings.append(Finding(
                    'audit', f'stage {sid} in-stage peak {now} B vs recorded {peak} B '
                    f'(tolerance {tolerance:.1%})', workload=wid, stage=int(sid),
                    figure=None if now is None else float(now),
                ))
        why = ratio.fails(new.time_ratio_total, 1.0)
        if why is not None:
            findings.append(Finding(
                'audit', f'time ratio now {why}', workload=wid, stage=row.stage,
                figure=new.time_ratio_total,
            ))
    return findings
