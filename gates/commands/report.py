"""``gates report``: an HTML page (and its markdown twin) with plots, from the ledger, from
``gates check --json`` documents and from benchmark JSON.

Where each line comes from, per stage, x = T (``2 ** params.log_t`` of each workload, or
``params.T``; workloads with neither are left out of the plots):
- accepted: every ledger row's in-stage peaks and time ratios (one line per row);
- baseline: the memory gate's reference in a ``--check`` document when it was the baseline
  measured in that run (the ledger was empty then);
- candidate: the memory gate's candidate peaks and the time gate's ratios in a ``--check``
  document (run ``gates check --tier full --json > full.json`` for every T of the full tier);
- ``--bench``: median seconds of baseline and candidate from pytest-benchmark-layout JSON
  (``benchmarks[].params = {workload, metric, side}``, ``benchmarks[].stats.median``).
Files: ``report.html``, ``report.md``, ``peak_vs_T.png``, ``time_ratio_vs_T.png`` and, with
``--bench``, ``time_vs_T.png``. An unwritable ``--out`` is refused before any work (exit 2).
"""
from __future__ import annotations

import contextlib
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
from gates.commands.status import human_bytes
from gates.commands.status import load
from gates.reports.htmlreport import Figures
from gates.reports.htmlreport import Line
from gates.contract.ledger import Ledger
from gates.model import GateError
from gates.contract.spec import Spec

Series = dict[str, list[tuple[float, float]]]   # label -> [(T, y)]


def workload_t(spec: Spec) -> dict[str, float]:
    out = {}
    for w in spec.workloads:
        if isinstance(w.params.get('log_t'), int):
            out[w.id] = float(2 ** w.params['log_t'])
        elif isinstance(w.params.get('T'), (int, float)):
            out[w.id] = float(w.params['T'])
    return out


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


UnitFigures = dict[str, list[Line]]   # unit key ('0+8') -> lines


def ledger_unit_figures(spec: Spec, ledger: Ledger, into: UnitFigures) -> None:
    """Every row's unit ratios (rows accepted before units were recorded have none)."""
    ts = workload_t(spec)
    for i, row in enumerate(ledger.rows):
        label = f'accepted: row {i}, stage {row.stage} ({row.commit[:8]})'
        for wid, fig in row.workloads.items():
            for key, y in fig.time_ratio_units.items():
                if wid in ts:
                    _add(into, key, label, 'accepted', (ts[wid], float(y)))


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
        for sid, y in ((d.get('candidate') or {}).get('stage_peaks') or {}).items():
            if int(sid) in stages:
                _add(peaks, int(sid), label, 'candidate', (ts[wid], float(y)))
        ref = d.get('reference') or {}
        if str(ref.get('source', '')).startswith('baseline'):
            for sid, y in (ref.get('stage_peaks') or {}).items():
                if int(sid) in stages:
                    _add(peaks, int(sid), 'baseline', 'baseline', (ts[wid], float(y)))
    for wid, d in _details(doc, 'time').items():
        if wid in ts and isinstance(d, Mapping):
            for sid, y in _check_ratios(d, 'ratio_stages', wid).items():
                if sid.isascii() and sid.isdigit() and int(sid) in stages:
                    _add(ratios, int(sid), label, 'candidate', (ts[wid], y))
            for metric, y in _check_ratios(d, 'ratio_units', wid).items():
                if units is not None and metric.startswith('unit:'):
                    _add(units, metric[len('unit:'):], label, 'candidate', (ts[wid], y))


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


def markdown(spec: Spec, ledger: Ledger, images: Sequence[Path], empty: bool) -> str:
    lines = [f'# {spec.name}: conversion report', '']
    lines.append(f'{len(ledger.rows)} of {len(spec.stages)} stages accepted.')
    if empty:
        lines += ['', 'Nothing to plot: ' + EMPTY.replace('<code>', '`').replace('</code>', '')
                  .replace('&gt;', '>')]
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
    peaks: Figures = {}
    ratios: Figures = {}
    units: UnitFigures = {htmlreport.unit_key(u): [] for u in the_spec.budgets.time.units}
    for _, doc in docs:
        check_figures(the_spec, doc, peaks, ratios, units)
    ledger_figures(the_spec, ledger, 'peak', peaks)
    ledger_figures(the_spec, ledger, 'ratio', ratios)
    ledger_unit_figures(the_spec, ledger, units)
    bench_fig = bench_figures(the_spec, bench) if bench else {}
    made: list[tuple[Path | None, str]] = [
        (htmlreport.plot(the_spec, peaks, target / 'peak_vs_T.png', 'in-stage peak heap',
                         log_y=True, bytes_axis=True, refs=(0.5, 1.0),
                         title='In-stage peak heap against T (memray), log-log'),
         'In-stage peak against T'),
        (htmlreport.plot(the_spec, ratios, target / 'time_ratio_vs_T.png',
                         'time ratio (candidate / baseline)', log_y=False, bytes_axis=False,
                         budget=the_spec.budgets.time.ratio_lt, unit_figures=units,
                         title='Prove-time ratio per stage (and per unit of stages) against T, with the budget'),
         'Time ratio per stage'),
    ]
    if bench:
        made.append((htmlreport.plot(the_spec, bench_fig, target / 'time_vs_T.png', 'median seconds',
                                     log_y=True, bytes_axis=False, refs=(0.5, 1.0),
                                     title='Median prove seconds against T'),
                     'Median prove seconds against T'))
    images = [(p, caption) for p, caption in made if p is not None]
    empty = not images
    reason = EMPTY if empty else None
    if empty and bench:
        reason = 'The benchmark files hold no per-stage figures of a workload with a T. ' + EMPTY
    sources = [f'ledger {the_spec.ledger} ({len(ledger.rows)} rows)', *[str(p) for p, _ in docs],
               *[str(b) for b in bench]]
    tables = [('In-stage peaks (the plotted figures)', htmlreport.figures_table(the_spec, peaks, 'bytes')),
              ('Time ratios (the plotted figures)', htmlreport.figures_table(the_spec, ratios, 'ratio')),
              ('Time ratios of units of stages (the plotted figures)', htmlreport.unit_table(the_spec, units))]
    md = markdown(the_spec, ledger, [p for p, _ in images], empty)
    (target / 'report.md').write_text(md, encoding='utf-8')
    (target / 'report.html').write_text(
        htmlreport.page(the_spec, ledger, images, tables, sources, reason), encoding='utf-8')
    what = (f'{len(images)} plots' if images else
            'no plots: the ledger is empty and no --check document was given')
    out.write(f'gates: report written to {target / "report.html"} and report.md ({what})\n')
    return 0
