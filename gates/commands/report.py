"""``gates report``: markdown + HTML with plots, from the ledger and benchmark JSON.

Plots (matplotlib, PNG), one panel per stage, x = T (``2 ** params.log_t`` of each workload, or
``params.T``; workloads with neither are left out of the plots):
- ``peak_vs_T.png``: the in-stage peak recorded by every ledger row, with a sqrt(T) reference
  line through the newest row's smallest-T point (what a streaming stage should follow);
- ``time_ratio_vs_T.png``: candidate/baseline time per stage per row, with the budget line;
- ``time_vs_T.png`` (only with ``--bench``): median seconds of the baseline and candidate from
  pytest-benchmark-layout JSON (``benchmarks[].params = {workload, metric, side}``,
  ``benchmarks[].stats.median``, as the time gate writes), with sqrt(T) and T reference lines.
"""
from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gates.commands.status import human_bytes
from gates.commands.status import load
from gates.ledger import Ledger
from gates.model import GateError
from gates.spec import Spec

Series = dict[str, list[tuple[float, float]]]   # label -> [(T, y)]


def workload_t(spec: Spec) -> dict[str, float]:
    out = {}
    for w in spec.workloads:
        if isinstance(w.params.get('log_t'), int):
            out[w.id] = float(2 ** w.params['log_t'])
        elif isinstance(w.params.get('T'), (int, float)):
            out[w.id] = float(w.params['T'])
    return out


def ledger_series(spec: Spec, ledger: Ledger, which: str) -> dict[int, Series]:
    """stage -> row label -> points; ``which`` is 'peak' or 'ratio'."""
    ts = workload_t(spec)
    out: dict[int, Series] = {s.id: {} for s in spec.stages}
    for row in ledger.rows:
        label = f'after stage {row.stage} ({row.commit[:8]})'
        for wid, fig in row.workloads.items():
            if wid not in ts:
                continue
            values = fig.stage_peaks if which == 'peak' else fig.time_ratio_stages
            for sid, y in values.items():
                if int(sid) in out:
                    out[int(sid)].setdefault(label, []).append((ts[wid], float(y)))
    return out


def bench_series(spec: Spec, paths: Sequence[Path]) -> dict[int, Series]:
    ts = workload_t(spec)
    out: dict[int, Series] = {s.id: {} for s in spec.stages}
    for path in paths:
        try:
            doc = json.loads(path.read_text(encoding='utf-8'))
            entries = doc['benchmarks']
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise GateError(f'{path}: not a benchmark JSON file ({e}).') from None
        for entry in entries:
            params = entry.get('params') or {}
            stats = entry.get('stats') or {}
            wid, metric, side = params.get('workload'), params.get('metric'), params.get('side')
            seconds = stats.get('median', stats.get('mean'))
            if wid not in ts or not isinstance(seconds, (int, float)) or not str(metric).isdigit():
                continue
            sid = int(str(metric))
            if sid in out:
                out[sid].setdefault(str(side), []).append((ts[wid], float(seconds)))
    return out


def _plot(
        spec: Spec,
        series: Mapping[int, Series],
        path: Path,
        ylabel: str,
        refs: Sequence[str],
        hline: float | None = None,
) -> Path | None:
    if not any(points for s in series.values() for points in s.values()):
        return None
    import matplotlib
    matplotlib.use('Agg')    # no display: the report is written to files
    import matplotlib.pyplot as plt

    n = len(spec.stages)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for i, stage in enumerate(spec.stages):
        ax = axes[i // cols][i % cols]
        anchor: tuple[float, float] | None = None
        for label, points in series.get(stage.id, {}).items():
            pts = sorted(points)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='o', label=label)
            anchor = pts[0]
        if anchor is not None:
            xs = sorted({p[0] for pts in series[stage.id].values() for p in pts})
            for ref in refs:
                power = 0.5 if ref == 'sqrt' else 1.0
                ys = [anchor[1] * (x / anchor[0]) ** power for x in xs]
                ax.plot(xs, ys, linestyle='--', color='grey', label='√T' if power == 0.5 else 'T')
        if hline is not None:
            ax.axhline(hline, color='red', linestyle=':', label=f'budget {hline:g}')
        ax.set_xscale('log', base=2)
        ax.set_yscale('log')
        ax.set_title(f'stage {stage.id} ({stage.name})')
        ax.set_xlabel('T')
        ax.set_ylabel(ylabel)
        ax.legend(fontsize='x-small')
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(spec: Spec, ledger: Ledger, images: Sequence[Path]) -> str:
    lines = [f'# {spec.name}: conversion report', '']
    lines.append(f'{len(ledger.rows)} of {len(spec.stages)} stages accepted.')
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


def html_page(spec: Spec, md: str, images: Sequence[Path]) -> str:
    # A small hand-rolled page: the table rows as <pre>, the plots as images; no template engine.
    table = '\n'.join(l for l in md.splitlines() if l.startswith('|'))
    imgs = '\n'.join(f'<p><img src="{html.escape(i.name)}" alt="{html.escape(i.stem)}"></p>' for i in images)
    title = html.escape(f'{spec.name}: conversion report')
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f'<body><h1>{title}</h1>\n<pre>{html.escape(table)}</pre>\n{imgs}\n</body></html>\n'
    )


def report(cwd: Path, spec: str | None, out_dir: Path, bench: Sequence[Path], out: TextIO) -> int:
    the_spec, ledger = load(cwd, spec)
    target = out_dir if out_dir.is_absolute() else cwd / out_dir
    plots: list[Path | None] = [
        _plot(the_spec, ledger_series(the_spec, ledger, 'peak'), target / 'peak_vs_T.png',
              'in-stage peak (bytes)', ['sqrt']),
        _plot(the_spec, ledger_series(the_spec, ledger, 'ratio'), target / 'time_ratio_vs_T.png',
              'time ratio (candidate / baseline)', [], the_spec.budgets.time.ratio_lt),
    ]
    if bench:
        plots.append(_plot(the_spec, bench_series(the_spec, bench), target / 'time_vs_T.png',
                           'median seconds', ['sqrt', 'linear']))
    images = [p for p in plots if p is not None]
    md = markdown(the_spec, ledger, images)
    target.mkdir(parents=True, exist_ok=True)
    (target / 'report.md').write_text(md, encoding='utf-8')
    (target / 'report.html').write_text(html_page(the_spec, md, images), encoding='utf-8')
    out.write(f'gates: report written to {target / "report.md"} and report.html ({len(images)} plots)\n')
    return 0


