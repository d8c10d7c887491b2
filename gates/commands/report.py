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
Files: ``report.html``, ``report.md``, ``peak_vs_T.png``, ``time_ratio_vs_T.png`` and, with
``--bench``, ``time_vs_T.png``. An unwritable ``--out`` is refused before any work (exit 2).
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


def check_figures(spec: Spec, doc: Mapping[str, Any], peaks: Figures, ratios: Figures,
                  units: UnitFigures | None = None) -> None:
    ts = workload_t(spec)
    stages = {s.id for s in spec.stages}
    label = f'candidate ({str(doc.get("head", ""))[:8]}, tier {doc.get("tier")})'
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
             notes: Sequence[str] = ()) -> str:
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
    for image in images:
        lines += ['', f'![{image.stem}]({image.name})']
    return '\n'.join(lines) + '\n'


def report(cwd: Path, spec: str | None, out_dir: Path, bench: Sequence[Path], out: TextIO,
           checks: Sequence[Path] = ()) -> int:
    target = out_dir if out_dir.is_absolute() else cwd / out_dir
    made = writable_folder(target)
    try:
        return _report(cwd, spec, target, bench, checks, out)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                target.rmdir()        # only when still empty: never remove what we did not make
        raise


def _report(cwd: Path, spec: str | None, target: Path, bench: Sequence[Path],
            checks: Sequence[Path], out: TextIO) -> int:
    the_spec, ledger = load(cwd, spec)
    docs = [(p, read_check(p)) for p in checks]
    axis = htmlreport.size_axis(the_spec)
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
               *[str(b) for b in bench]]
    notes = page_notes(the_spec, axis, docs, peaks, units) if images else [axis.how]
    tables = [('In-stage peaks (the plotted figures)', htmlreport.figures_table(the_spec, peaks, 'bytes', axis=axis)),
              ('Time ratios (the plotted figures)', htmlreport.figures_table(the_spec, ratios, 'ratio', axis=axis)),
              ('Time ratios of units of stages (the plotted figures)',
               htmlreport.unit_table(the_spec, units, axis=axis))]
    md = markdown(the_spec, ledger, [p for p, _ in images], reason, notes)
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
