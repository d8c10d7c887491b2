"""``gates report``: an HTML page (and its markdown twin) with plots, from the ledger, from
``gates check --json`` documents and from benchmark JSON.

Where each line comes from, per stage, x = the spec's size axis (``report.size_param``; else
``2 ** params.log_t`` or ``params.T`` when every workload has one; else the workloads in spec order,
see ``htmlreport.size_axis``):
- accepted: every ledger row's in-stage peaks, time ratios and unit ratios (one line per row; a
  row accepted before unit ratios were recorded gets a band on the unit's panel, between its
  stages' own ratios);
- baseline: the memory gate's reference in a ``--check`` document (labelled by its source: the
  baseline measured in that run, alone or as the lower per figure of it and the change's base;
  a reference from a ledger row is drawn as "memory reference"); on the time panels the
  baseline's ratio to itself, 1, at every size with a ratio;
- candidate: the memory gate's candidate peaks and the time gate's ratios (per stage and per
  unit) in a ``--check`` document (run ``gates check --tier full --json > full.json``);
- ``--bench``: median seconds of baseline and candidate from pytest-benchmark-layout JSON
  (``benchmarks[].params = {workload, metric, side}``, ``benchmarks[].stats.median``).
The whole-run plot (one panel, ``whole_figures``): each ledger row's ``whole_run_peak`` per
workload (a line per row), a ``--check`` document's candidate and memory reference (the baseline
when that check measured it: only on an empty ledger), and ``--points`` files' extra points
(``read_points``: a JSON list of ``{"series", "x", "whole_bytes", "source"}``, x the size itself,
e.g. 4194304 for 2^22), drawn as stars and listed with their source.
Files: ``report.html``, ``report.md``, ``peak_vs_T.png``, ``whole_peak_vs_T.png``,
``time_ratio_vs_T.png`` and, with ``--bench``, ``time_vs_T.png``. An unwritable ``--out`` is
refused before any work (exit 2); so is a bad ``--check`` or ``--points`` file, in one line.
"""
from __future__ import annotations

import contextlib
import html
import json
import math
import os
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TextIO
from typing import TypeVar

from gates.reports import htmlreport
from gates.reports.report import human_bytes
from gates.session import load
from gates.reports.htmlreport import Figures
from gates.reports.htmlreport import Line
from gates.reports.htmlreport import WholePoint
from gates.contract import metrics
from gates.contract.ledger import Ledger
from gates.model import GateError
from gates.contract.spec import Spec

Series = dict[str, list[tuple[float, float]]]   # label -> [(T, y)]
UnitFigures = dict[str, list[Line]]   # unit key ('0+8') -> lines


def workload_t(spec: Spec) -> dict[str, float]:
    """Each workload's x on the plots (see ``htmlreport.size_axis``)."""
    return dict(htmlreport.size_axis(spec).xs)


K = TypeVar('K', bound=Hashable)


def _add(figures: dict[K, list[Line]], key: K, label: str, kind: str, point: tuple[float, float]) -> None:
    """Add a point to the line ``label`` of panel ``key`` (a stage id, or a unit such as '0+8')."""
    lines: list[Line] = figures.setdefault(key, [])
    for i, ln in enumerate(lines):
        if ln.label == label:
            lines[i] = Line(label, kind, tuple(sorted({*ln.points, point})))
            return
    lines.append(Line(label, kind, (point,)))


def ledger_figures(spec: Spec, ledger: Ledger, which: str, into: Figures) -> None:
    """Every row's figures; ``which`` is 'peak' or 'ratio'."""
    ts = workload_t(spec)
    stages = {s.id for s in spec.stages}
    for i, row in enumerate(ledger.rows):
        label = f'accepted: row {i}, stage {row.stage} ({row.commit[:8]})'
        for wid, fig in row.workloads.items():
            values = fig.stage_peaks if which == 'peak' else fig.time_ratio_stages
            for sid, y in values.items():
                if wid in ts and int(sid) in stages:
                    _add(into, int(sid), label, 'accepted', (ts[wid], float(y)))


BASELINE_RATIO = 'baseline (ratio 1 by definition)'


def baseline_ratios(ratios: Figures, units: UnitFigures) -> None:
    """The baseline's own series on the time panels: its ratio to itself, 1, at every size
    where the panel has a candidate or accepted ratio (the seconds are in ``--bench`` files)."""
    panels: list[list[Line]] = [*ratios.values(), *units.values()]
    for lines in panels:
        xs = sorted({p[0] for ln in lines if ln.kind != 'baseline' for p in (*ln.points, *ln.upper)})
        if xs and not any(ln.label == BASELINE_RATIO for ln in lines):
            lines.insert(0, Line(BASELINE_RATIO, 'baseline', tuple((x, 1.0) for x in xs)))


def ledger_unit_figures(spec: Spec, ledger: Ledger, into: UnitFigures) -> None:
    """Every row's unit ratios. A row accepted before units were recorded has none; for it the
    panel shows the range the unit's ratio lies in: between its stages' own ratios (the unit's
    time is the sum of theirs, so its ratio is their mean weighted by the baseline's seconds)."""
    ts = workload_t(spec)
    for i, row in enumerate(ledger.rows):
        label = f'accepted: row {i}, stage {row.stage} ({row.commit[:8]})'
        for wid, fig in sorted(row.workloads.items(), key=lambda kv: ts.get(kv[0], 0.0)):
            if wid not in ts:
                continue
            for recorded, y in fig.time_ratio_units.items():
                _add(into, recorded, label, 'accepted', (ts[wid], float(y)))
            for unit in spec.budgets.time.units:
                key = metrics.unit_key(unit)
                parts = [fig.time_ratio_stages.get(str(s)) for s in unit]
                if key in fig.time_ratio_units or key not in into or any(p is None for p in parts):
                    continue
                found = [float(p) for p in parts if p is not None]
                into[key].append(Line(
                    f'row {i}: unit not recorded, between its stages\' ratios', 'bounds',
                    ((ts[wid], min(found)),), ((ts[wid], max(found)),)))
        _merge_bounds(into)


def _merge_bounds(into: UnitFigures) -> None:
    """One band per row and unit (``ledger_unit_figures`` adds one point at a time)."""
    for key, lines in into.items():
        merged: dict[str, Line] = {}
        rest = []
        for ln in lines:
            if ln.kind != 'bounds':
                rest.append(ln)
                continue
            prev = merged.get(ln.label)
            merged[ln.label] = ln if prev is None else Line(
                ln.label, 'bounds', tuple(sorted({*prev.points, *ln.points})),
                tuple(sorted({*prev.upper, *ln.upper})))
        into[key] = rest + list(merged.values())


def read_check(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as e:
        raise GateError(f'--check {path}: not a readable `gates check --json` document ({e}).') from None
    if not isinstance(doc, dict) or doc.get('schema') != 1 or not isinstance(doc.get('verdicts'), list):
        raise GateError(f'--check {path}: expected a `gates check --json` document (schema 1, verdicts).')
    if doc.get('error'):
        raise GateError(f'--check {path}: that check could not judge ({doc["error"]}); run it again.')
    return doc


def _details(doc: Mapping[str, Any], gate: str) -> Mapping[str, Any]:
    for v in doc['verdicts']:
        if isinstance(v, Mapping) and v.get('gate') == gate:
            found = (v.get('details') or {}).get('workloads') or {}
            return found if isinstance(found, Mapping) else {}
    return {}


def candidate_label(doc: Mapping[str, Any]) -> str:
    return f'candidate ({str(doc.get("head", ""))[:8]}, tier {doc.get("tier")})'


def check_figures(spec: Spec, doc: Mapping[str, Any], peaks: Figures, ratios: Figures,
                  units: UnitFigures | None = None) -> None:
    ts = workload_t(spec)
    stages = {s.id for s in spec.stages}
    label = candidate_label(doc)
    for wid, d in _details(doc, 'memory').items():
        if wid not in ts or not isinstance(d, Mapping):
            continue
        for sid, y in _check_peaks(d, 'candidate', wid).items():
            if sid in stages:
                _add(peaks, sid, label, 'candidate', (ts[wid], y))
        ref_label, ref_kind = reference_series(str((d.get('reference') or {}).get('source', '')))
        for sid, y in _check_peaks(d, 'reference', wid).items():
            if sid in stages:
                _add(peaks, sid, ref_label, ref_kind, (ts[wid], y))
    for wid, d in _details(doc, 'time').items():
        if wid in ts and isinstance(d, Mapping):
            for metric, y in _check_ratios(d, 'ratio_stages', wid).items():
                if metric.isascii() and metric.isdigit() and int(metric) in stages:
                    _add(ratios, int(metric), label, 'candidate', (ts[wid], y))
            for metric, y in _check_ratios(d, 'ratio_units', wid).items():
                if units is not None and metrics.is_unit(metric):
                    _add(units, metrics.key_of(metric), label, 'candidate', (ts[wid], y))


def reference_series(source: str) -> tuple[str, str]:
    """The legend label and kind of the memory gate's reference, from its ``source``: the
    baseline when the oracle was measured in that check (alone, or the lower per figure of it
    and the change's base), else the reference it used (a ledger row, the change's base)."""
    if 'baseline ref' in source:
        return ('baseline (per figure the lower of it and the change\'s base)' if 'lower of' in source
                else 'baseline (measured in the check)'), 'baseline'
    return 'memory reference (ledger row / change\'s base)', 'reference'


def _check_peaks(d: Mapping[str, Any], side: str, wid: str) -> dict[int, float]:
    """A --check document's in-stage peaks of one side, or a GateError naming what is wrong."""
    figures = d.get(side) or {}
    raw = (figures.get('stage_peaks') or {}) if isinstance(figures, Mapping) else figures
    if not isinstance(raw, Mapping):
        raise GateError(f'--check: memory.workloads.{wid}.{side}.stage_peaks is a {type(raw).__name__}, '
                        f'not an object of peaks; give a document written by `gates check --json`.')
    out = {}
    for k, v in raw.items():
        if not (str(k).isascii() and str(k).isdigit()) or isinstance(v, bool) or \
                not isinstance(v, (int, float)) or not math.isfinite(v):
            raise GateError(f'--check: memory.workloads.{wid}.{side}.stage_peaks.{k} = {v!r} is not a '
                            f'stage id and a finite byte count; give a document written by `gates check --json`.')
        out[int(str(k))] = float(v)
    return out


def _check_ratios(d: Mapping[str, Any], key: str, wid: str) -> dict[str, float]:
    """A --check document's ratios of one workload, or a GateError naming what is wrong."""
    raw = d.get(key) or {}
    if not isinstance(raw, Mapping):
        raise GateError(f'--check: time.workloads.{wid}.{key} is a {type(raw).__name__}, not an object '
                        f'of ratios; give a document written by `gates check --json`.')
    out = {}
    for k, v in raw.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise GateError(f'--check: time.workloads.{wid}.{key}.{k} = {v!r} is not a finite ratio; '
                            f'give a document written by `gates check --json`.')
        out[str(k)] = float(v)
    return out


def whole_figures(spec: Spec, ledger: Ledger, docs: Sequence[tuple[Path, Mapping[str, Any]]],
                  points: Sequence[WholePoint] = ()) -> list[WholePoint]:
    """Every whole-run peak to plot: the ``--check`` documents' memory reference (the baseline
    when that check measured it), every ledger row's figures (a series per row, labelled with
    its stage and commit), the documents' candidates, then the ``--points``."""
    ts = workload_t(spec)
    refs: list[WholePoint] = []
    cands: list[WholePoint] = []
    for path, doc in docs:
        for wid, d in _details(doc, 'memory').items():
            if wid not in ts or not isinstance(d, Mapping):
                continue
            for side in ('reference', 'candidate'):
                figures = d.get(side)
                raw = figures.get('whole_run_peak') if isinstance(figures, Mapping) else None
                if raw is None:        # a reference from a row that did not record it
                    continue
                if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                    raise GateError(f'--check {path}: memory.workloads.{wid}.{side}.whole_run_peak = '
                                    f'{_show(raw)} is not a byte count; give a document written by '
                                    f'`gates check --json`.')
                if side == 'reference':
                    assert isinstance(figures, Mapping)
                    label, kind = reference_series(str(figures.get('source', '')))
                    refs.append(WholePoint(label, kind, ts[wid], raw,
                                           f'{path}: {figures.get("source", "memory reference")}'))
                else:
                    cands.append(WholePoint(candidate_label(doc), 'candidate', ts[wid], raw,
                                            f'{path}: memory candidate'))
    rows = [WholePoint(f'accepted: row {i}, stage {row.stage} ({row.commit[:8]})', 'accepted', ts[wid],
                       fig.whole_run_peak, f'ledger row {i} ({row.commit[:12]})')
            for i, row in enumerate(ledger.rows) for wid, fig in row.workloads.items() if wid in ts]
    return [*refs, *rows, *cands, *points]


POINT_KEYS = ('series', 'x', 'whole_bytes', 'source')
POINT_SHAPE = 'give a JSON list of {"series": str, "x": number (T), "whole_bytes": int, "source": str}'


def _show(value: object) -> str:
    """A value as JSON, short and on one line (for an error message)."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def read_points(path: Path, axis: htmlreport.SizeAxis) -> list[WholePoint]:
    """Whole-run peaks measured outside the gates (a benchmark at a size no tier runs), to draw
    as marked points; a GateError naming file, key, value and what to do for anything else."""
    where = f'--points {path}'
    try:
        doc = json.loads(path.read_text(encoding='utf-8'))
    except OSError as e:
        raise GateError(f'{where}: cannot read it ({e.strerror or e}); give a readable file.') from None
    except ValueError as e:
        raise GateError(f'{where}: not JSON ({e}); {POINT_SHAPE}.') from None
    if not isinstance(doc, list):
        raise GateError(f'{where}: the file holds a JSON {type(doc).__name__}, not a list; {POINT_SHAPE}.')
    if doc and not axis.sized:
        raise GateError(f'{where}: this spec\'s plots have no size axis (x: {axis.label}), so a point\'s '
                        f'x has no place on them; name the size with report.size_param in the spec, '
                        f'or leave --points out.')
    out: list[WholePoint] = []
    seen: set[tuple[str, float]] = set()
    for i, item in enumerate(doc):
        at = f'{where}: [{i}]'
        if not isinstance(item, dict):
            raise GateError(f'{at} = {_show(item)} is not an object; {POINT_SHAPE}.')
        unknown = [k for k in item if k not in POINT_KEYS]
        if unknown:
            raise GateError(f'{at}.{unknown[0]}: unknown key (a point has {", ".join(POINT_KEYS)}); '
                            f'rename or remove it.')
        missing = [k for k in POINT_KEYS if k not in item]
        if missing:
            raise GateError(f'{at}: no "{missing[0]}" key; every point needs {", ".join(POINT_KEYS)}.')
        for key in ('series', 'source'):
            if not isinstance(item[key], str) or not item[key].strip():
                raise GateError(f'{at}.{key} = {_show(item[key])} is not a non-empty string; '
                                f'give the {"legend label" if key == "series" else "where the figure comes from"}.')
        x, whole = item['x'], item['whole_bytes']
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
            raise GateError(f'{at}.x = {_show(x)} is not a size > 0; give the size itself as a number '
                            f'(x: {axis.label}; 4194304 for 2^22).')
        if isinstance(whole, bool) or not isinstance(whole, int) or whole <= 0:
            raise GateError(f'{at}.whole_bytes = {_show(whole)} is not a byte count; give the whole '
                            f'run\'s peak in bytes, an integer > 0.')
        if (item['series'], float(x)) in seen:
            raise GateError(f'{at}: series {_show(item["series"])} already has a point at x = '
                            f'{axis.tick(float(x))}; give one point per series and x.')
        seen.add((item['series'], float(x)))
        out.append(WholePoint(item['series'], 'point', float(x), whole, item['source']))
    return out


def bench_figures(spec: Spec, paths: Sequence[Path]) -> Figures:
    ts = workload_t(spec)
    out: Figures = {}
    for path in paths:
        try:
            doc = json.loads(path.read_text(encoding='utf-8'))
            entries = doc['benchmarks']
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise GateError(f'--bench {path}: not a benchmark JSON file ({e}).') from None
        for entry in entries:
            params = entry.get('params') or {}
            stats = entry.get('stats') or {}
            wid, metric, side = params.get('workload'), params.get('metric'), params.get('side')
            seconds = stats.get('median', stats.get('mean'))
            if wid not in ts or not isinstance(seconds, (int, float)) or not str(metric).isdigit():
                continue
            kind = 'baseline' if side == 'baseline' else 'candidate'
            _add(out, int(str(metric)), f'{side} (median s)', kind, (ts[wid], float(seconds)))
    return out


def writable_folder(out_dir: Path) -> bool:
    """Refuse an --out that cannot be written, before any work; True when this made it."""
    if out_dir.exists() and not out_dir.is_dir():
        raise GateError(f'--out {out_dir}: is a file, not a folder; give a folder to write the report into.')
    made = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f'.gates-report-probe-{os.getpid()}'
        probe.write_bytes(b'')
        probe.unlink()
    except OSError as e:
        raise GateError(f'--out {out_dir}: cannot write there ({e.strerror or e}); give a writable folder.') from None
    return made


EMPTY = (
    'The ledger has no accepted rows and no <code>gates check --json</code> document was given, '
    'so there are no figures yet. To get them: run <code>gates check --tier full --json &gt; '
    'full.json</code> (in-stage peaks of baseline and candidate and the time ratios at every T of '
    'the full tier) and then <code>gates report --check full.json</code>; or accept a stage with '
    '<code>gates accept</code>, whose ledger row the report then plots.'
)
HOW = (
    'To get figures: run <code>gates check --tier full --json &gt; full.json</code> (it runs the '
    'memory and time gates) and then <code>gates report --check full.json</code>; or accept a '
    'stage with <code>gates accept</code>, whose ledger row the report then plots.'
)


def empty_reason(ledger: Ledger, docs: Sequence[tuple[Path, Mapping[str, Any]]],
                 bench: Sequence[Path]) -> str:
    """Why there is nothing to plot, from what was actually given (HTML)."""
    if not ledger.rows and not docs and not bench:
        return EMPTY
    said = ['the ledger has no accepted rows' if not ledger.rows else
            'the ledger\'s rows hold no figures of this spec\'s workloads']
    for path, doc in docs:
        ran = [str(v.get('gate')) for v in doc['verdicts'] if isinstance(v, Mapping)]
        said.append(f'<code>{html.escape(str(path))}</code> holds no memory or time figures of this '
                    f'spec\'s workloads (tier {html.escape(str(doc.get("tier")))}, gates run: '
                    f'{html.escape(", ".join(ran) or "none")})')
    if not docs:
        said.append('no <code>gates check --json</code> document was given')
    if bench:
        said.append('the benchmark files hold no per-stage figures of this spec\'s workloads')
    return '; '.join(said).capitalize() + '. ' + HOW


def plain(text: str) -> str:
    """The page's HTML sentence as markdown / terminal text."""
    return html.unescape(text.replace('<code>', '`').replace('</code>', ''))


def markdown(spec: Spec, ledger: Ledger, images: Sequence[Path], reason: str | None,
             notes: Sequence[str] = (), whole: Sequence[WholePoint] = (),
             axis: htmlreport.SizeAxis | None = None) -> str:
    lines = [f'# {spec.name}: conversion report', '']
    lines.append(f'{len(ledger.rows)} of {len(spec.stages)} stages accepted.')
    if reason:
        lines += ['', 'Nothing to plot: ' + plain(reason)]
    lines += [f'- {plain(n)}' for n in notes]
    lines += ['', '| stage | name | accepted at | workload | in-stage peak | whole run | time ratio | proof |',
              '|---|---|---|---|---|---|---|---|']
    for stage in spec.stages:
        row = ledger.row_for_stage(stage.id)
        if row is None:
            lines.append(f'| {stage.id} | {stage.name} | — | | | | | |')
            continue
        for wid, f in sorted(row.workloads.items()):
            peak = f.stage_peaks.get(str(stage.id))
            lines.append(
                f'| {stage.id} | {stage.name} | `{row.commit[:12]}` | {wid} | '
                f'{human_bytes(peak) if peak is not None else "?"} | {human_bytes(f.whole_run_peak)} | '
                f'{f.time_ratio_total:.2f} | `{f.proof_sha256[:12]}` |',
            )
    if whole:
        axis = axis or htmlreport.size_axis(spec)
        lines += ['', '## Whole-run peak (the plotted figures)', '',
                  f'| series | source | {axis.label} | whole-run peak | bytes |', '|---|---|---|---|---|']
        lines += [f'| {p.series} | {p.source} | {axis.tick(p.x)} | {human_bytes(p.whole_bytes)} | '
                  f'{p.whole_bytes} |'.replace('\n', ' ') for p in whole]
    for image in images:
        lines += ['', f'![{image.stem}]({image.name})']
    return '\n'.join(lines) + '\n'


def report(cwd: Path, spec: str | None, out_dir: Path, bench: Sequence[Path], out: TextIO,
           checks: Sequence[Path] = (), points: Sequence[Path] = ()) -> int:
    target = out_dir if out_dir.is_absolute() else cwd / out_dir
    made = writable_folder(target)
    try:
        return _report(cwd, spec, target, bench, checks, out, points)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                target.rmdir()        # only when still empty: never remove what we did not make
        raise


def _report(cwd: Path, spec: str | None, target: Path, bench: Sequence[Path],
            checks: Sequence[Path], out: TextIO, points: Sequence[Path] = ()) -> int:
    the_spec, ledger = load(cwd, spec)
    docs = [(p, read_check(p)) for p in checks]
    axis = htmlreport.size_axis(the_spec)
    extra = [pt for p in points for pt in read_points(p, axis)]
    whole = whole_figures(the_spec, ledger, docs, extra)
    peaks: Figures = {}
    ratios: Figures = {}
    units: UnitFigures = {metrics.unit_key(u): [] for u in the_spec.budgets.time.units}
    for _, doc in docs:
        check_figures(the_spec, doc, peaks, ratios, units)
    ledger_figures(the_spec, ledger, 'peak', peaks)
    ledger_figures(the_spec, ledger, 'ratio', ratios)
    ledger_unit_figures(the_spec, ledger, units)
    baseline_ratios(ratios, units)
    bench_fig = bench_figures(the_spec, bench) if bench else {}
    made: list[tuple[Path | None, str]] = [
        (htmlreport.plot(the_spec, peaks, target / 'peak_vs_T.png',
                         f'in-stage peak {the_spec.budgets.memory.measure}',
                         log_y=True, bytes_axis=True, refs=(0.5, 1.0), axis=axis,
                         title=f'In-stage peak {the_spec.budgets.memory.measure} against {axis.label}'
                               + (', log-log' if axis.sized else '')),
         f'In-stage peak against {axis.label}'),
        (htmlreport.plot_whole(whole, target / 'whole_peak_vs_T.png',
                               f'whole-run peak {the_spec.budgets.memory.measure}',
                               f'Whole-run peak {the_spec.budgets.memory.measure} against {axis.label}'
                               + (', log-log' if axis.sized else ''), axis),
         f'Whole-run peak against {axis.label}'),
        (htmlreport.plot(the_spec, ratios, target / 'time_ratio_vs_T.png',
                         'time ratio (candidate / baseline)', log_y=False, bytes_axis=False,
                         budget=the_spec.budgets.time.ratio_lt, unit_figures=units, axis=axis,
                         title=f'Prove-time ratio per stage (and per unit of stages) against '
                               f'{axis.label}, with the budget'),
         'Time ratio per stage'),
    ]
    if bench:
        made.append((htmlreport.plot(the_spec, bench_fig, target / 'time_vs_T.png', 'median seconds',
                                     log_y=True, bytes_axis=False, refs=(0.5, 1.0), axis=axis,
                                     title=f'Median prove seconds against {axis.label}'),
                     f'Median prove seconds against {axis.label}'))
    images = [(p, caption) for p, caption in made if p is not None]
    reason = None if images else empty_reason(ledger, docs, bench)
    sources = [f'ledger {the_spec.ledger} ({len(ledger.rows)} rows)', *[str(p) for p, _ in docs],
               *[str(b) for b in bench], *[str(p) for p in points]]
    notes = ([*page_notes(the_spec, axis, docs, peaks, units), *whole_notes(docs, whole, points)]
             if images else [axis.how])
    tables = [('In-stage peaks (the plotted figures)', htmlreport.figures_table(the_spec, peaks, 'bytes', axis=axis)),
              ('Whole-run peaks (the plotted figures)', htmlreport.whole_table(whole, axis)),
              ('Time ratios (the plotted figures)', htmlreport.figures_table(the_spec, ratios, 'ratio', axis=axis)),
              ('Time ratios of units of stages (the plotted figures)',
               htmlreport.unit_table(the_spec, units, axis=axis))]
    md = markdown(the_spec, ledger, [p for p, _ in images], reason, notes, whole, axis)
    (target / 'report.md').write_text(md, encoding='utf-8')
    (target / 'report.html').write_text(
        htmlreport.page(the_spec, ledger, images, tables, sources, reason, notes), encoding='utf-8')
    what = (f'{len(images)} plots' if images else
            'no plots: the ledger is empty and no --check document was given' if reason == EMPTY else
            'no plots: ' + plain(reason or '').split('. ')[0][0].lower() + plain(reason or '').split('. ')[0][1:])
    out.write(f'gates: report written to {target / "report.html"} and report.md ({what})\n')
    return 0


def page_notes(spec: Spec, axis: htmlreport.SizeAxis, docs: Sequence[tuple[Path, Mapping[str, Any]]],
               peaks: Figures, units: UnitFigures) -> list[str]:
    """What the page's reader must know to read the plots right (HTML sentences)."""
    notes = [html.escape(axis.how)]
    for path, doc in docs:
        for wid, d in _details(doc, 'memory').items():
            if isinstance(d, Mapping) and isinstance(d.get('reference'), Mapping):
                notes.append(f'<code>{html.escape(str(path))}</code>, {html.escape(str(wid))}: the memory '
                             f'reference is {html.escape(str(d["reference"].get("source", "?")))}.')
    if not any(ln.kind in ('baseline', 'reference') for lines in peaks.values() for ln in lines):
        notes.append('No baseline peaks: ledger rows keep the accepted candidate\'s figures only. '
                     'A <code>gates check --json</code> document (<code>--check</code>) holds both sides.')
    if any(ln.kind == 'bounds' for lines in units.values() for ln in lines):
        notes.append('A band on a unit\'s panel: that ledger row was accepted before unit ratios were '
                     'recorded; the unit\'s ratio (summed candidate seconds over summed baseline seconds) '
                     'lies between its stages\' own ratios. A <code>--check</code> document has the measured one.')
    notes.append('Time ratios are candidate / baseline; the baseline\'s own series is 1 by definition '
                 '(its seconds are in <code>--bench</code> files).')
    return notes


def whole_notes(docs: Sequence[tuple[Path, Mapping[str, Any]]], whole: Sequence[WholePoint],
                points: Sequence[Path]) -> list[str]:
    """What the whole-run plot shows and what it cannot (HTML sentences)."""
    if not whole:
        given = ' or the <code>--check</code> documents' if docs else ''
        return [(f'Whole-run plot: nothing to plot: the ledger\'s rows{given} hold no whole-run peak '
                 f'of this spec\'s workloads, and no <code>--points</code> file gave one.')]
    notes = []
    if not any(p.kind == 'baseline' for p in whole):
        plural = len(docs) > 1
        if not docs:
            why = 'no <code>--check</code> document was given'
        elif any(p.kind == 'reference' for p in whole):
            why = (f'the <code>--check</code> document{"s were" if plural else " was"} run on a '
                   f'non-empty ledger, so {"their" if plural else "its"} reference is the latest row '
                   f'and the change\'s base (drawn as "memory reference"), not the baseline')
        else:
            why = (f'the <code>--check</code> document{"s hold" if plural else " holds"} no memory '
                   f'reference of this spec\'s workloads')
        notes.append('Whole-run plot: no baseline line. Ledger rows keep the accepted candidate\'s '
                     'figures only, and a <code>gates check --json</code> document holds the baseline\'s '
                     f'whole-run peak only when that check ran on an empty ledger; here {why}. A baseline '
                     'measured elsewhere (a benchmark of the baseline ref) can be drawn with '
                     '<code>--points</code>.')
    if points:
        n = sum(p.kind == 'point' for p in whole)
        notes.append(f'Whole-run plot: the stars are {n} point(s) from '
                     + ', '.join(f'<code>{html.escape(str(p))}</code>' for p in points)
                     + ', measured outside the gates; the table gives each one\'s source.')
    return notes
