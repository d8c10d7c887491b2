"""The report page people look at: plots (matplotlib, PNG) and one HTML page around them.

Figures are lines: a label, a kind (``baseline``, ``reference``, ``accepted``, ``candidate``,
``bounds``) and points (x, y) per stage; x is the spec's size axis (``size_axis``: a workload
parameter, T by default, or the workloads in spec order). The plots, one panel per stage:
- in-stage peak against T on log-log axes, with sqrt(T) and T reference slopes through the
  first point of the lowest line (what a streaming stage should follow, and what a materialized
  one does);
- time ratio (candidate / baseline) against T, with the budget line;
- optionally median seconds against T (benchmark JSON), with the same reference slopes;
- the whole run's peak against T, one panel: a line per series (each ledger row, a ``--check``
  document's candidate and reference, extra points from ``--points`` as marked points), with the
  same reference slopes (``plot_whole``).
The page holds the plots, the figures as tables (readable without the images) and the ledger's
history. Its inline script only marks, for tests and for people, whether every image loaded and
whether any script error happened (``data-images-loaded``, ``data-errors`` on ``<body>``).
"""
from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.contract import metrics
from gates.contract.ledger import Ledger
from gates.contract.spec import Spec
from gates.reports.report import human_bytes

STYLE = {
    'baseline': {'color': '#222222', 'marker': 's'},
    'reference': {'color': '#7f7f7f', 'marker': 'D'},
    'accepted': {'color': '#1f77b4', 'marker': 'o'},
    'candidate': {'color': '#ff7f0e', 'marker': '^'},
    'bounds': {'color': '#1f77b4', 'marker': ''},
    # Extra points from outside the ledger (``--points``): a star each, coloured per series from
    # matplotlib's cycle (the colour here is unused).
    'point': {'color': '#d62728', 'marker': '*'},
}


@dataclasses.dataclass(frozen=True)
class Line:
    label: str
    kind: str                              # a key of STYLE
    points: tuple[tuple[float, float], ...]  # (T, y), sorted by T
    # kind 'bounds' only: (T, upper) beside points' (T, lower); drawn as a band, e.g. a unit's
    # ratio that a ledger row did not record lies between its stages' own ratios.
    upper: tuple[tuple[float, float], ...] = ()


Figures = dict[int, list[Line]]           # stage id -> lines


@dataclasses.dataclass(frozen=True)
class SizeAxis:
    """The plots' x axis: where each workload sits, and how the axis reads."""

    label: str                    # the axis label ('T (trace rows)', 'workload (spec order)')
    xs: Mapping[str, float]       # workload id -> x
    ticks: Mapping[float, str]    # x -> tick label ('2^16', 'n12')
    sized: bool                   # x is a size: log-2 axis, and the sqrt/linear reference slopes
    how: str                      # one sentence for the page: where x comes from
    log2: bool = False            # x = 2^value: an x no workload has reads '2^k' too

    def tick(self, x: float) -> str:
        return self.ticks.get(x, _t_label(x) if self.log2 else f'{x:g}')


def size_axis(spec: Spec) -> SizeAxis:
    """``report.size_param`` of the spec; else ``log_t`` or ``T`` when every workload has one;
    else the workloads in spec order (one tick each, named by id)."""
    name, log2 = spec.report.size_param, spec.report.size_log2
    if name is None:
        for guess, guess_log2 in (('log_t', True), ('T', False)):
            values = [w.params.get(guess) for w in spec.workloads]
            if all(isinstance(v, int if guess_log2 else (int, float)) and not isinstance(v, bool)
                   and v > 0 for v in values):
                name, log2 = guess, guess_log2
                break
    if name is None:
        xs = {w.id: float(i + 1) for i, w in enumerate(spec.workloads)}
        return SizeAxis('workload (spec order)', xs, {x: wid for wid, x in xs.items()}, False,
                        'x: the workloads in spec order (no workload parameter is a size; name one '
                        'with report.size_param in the spec).')
    xs = {w.id: float(2 ** w.params[name]) if log2 else float(w.params[name]) for w in spec.workloads}
    label = 'T (trace rows)' if name == 'log_t' else f'2^{name}' if log2 else name
    src = 'report.size_param' if spec.report.size_param else 'the workloads\' parameter'
    return SizeAxis(label, xs, {x: _t_label(x) if log2 else f'{x:g}' for x in xs.values()}, True,
                    f'x: {label}, from {src} {name}' + (' (x = 2^value).' if log2 else '.'), log2)


def has_points(figures: Figures) -> bool:
    return any(line.points for lines in figures.values() for line in lines)


def _t_label(t: float) -> str:
    k = math.log2(t)
    return f'2^{k:.0f}' if abs(k - round(k)) < 1e-9 else f'{t:g}'


# A panel: its title, lines, budget line (or None), a note under the title, and what it says
# when it has no figures.
_Panel = tuple[str, list[Line], float | None, str, str]


def plot(spec: Spec, figures: Figures, path: Path, ylabel: str, *, log_y: bool, bytes_axis: bool,
         refs: Sequence[float] = (), budget: float | None = None, title: str = '',
         unit_figures: Mapping[str, list[Line]] | None = None,
         axis: SizeAxis | None = None) -> Path | None:
    """One panel per stage; None (no file) when there is nothing to plot.

    With ``unit_figures`` (time ratios) every unit of ``budgets.time.units`` gets a panel of its
    own with the budget line, and the stages inside a unit get none: the budget is on their sum.
    """
    if not has_points(figures) and not any(unit_figures.values() if unit_figures else ()):
        return None
    axis = axis or size_axis(spec)
    import matplotlib
    matplotlib.use('Agg')    # no display: the report is written to files
    import matplotlib.pyplot as plt

    panels = _panels(spec, figures, budget, unit_figures)
    n = len(panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.7 * rows), squeeze=False)
    for i, panel in enumerate(panels):
        _draw_panel(axes[i // cols][i % cols], panel, axis, ylabel, refs, log_y, bytes_axis)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _panels(
        spec: Spec, figures: Figures, budget: float | None, unit_figures: Mapping[str, list[Line]] | None,
) -> list[_Panel]:
    """A panel per stage (no budget line on a stage inside a unit, nor on one an optimisation
    does not judge), then a panel per unit of ``budgets.time.units`` when ``unit_figures``."""
    units = spec.budgets.time.units if unit_figures is not None else ()
    in_unit = {s: u for u in units for s in u}
    panels: list[_Panel] = []
    # Optimisation mode judges the time of its target stage only (or of the whole run).
    judged_only = spec.target if spec.mode == 'optimisation' else None
    for stage in spec.stages:
        unit = in_unit.get(stage.id)
        note = f'budget on stages {" + ".join(map(str, unit))} as one unit' if unit else ''
        unjudged = budget is not None and (
            judged_only is not None and stage.id != judged_only
            or spec.mode == 'optimisation' and judged_only is None)
        if unjudged:
            note = 'time not judged here: the target is ' + (
                f'stage {judged_only}' if judged_only is not None else 'the whole run')
        panels.append((f'stage {stage.id} ({stage.name})', figures.get(stage.id, []),
                       None if unit or unjudged else budget, note, 'no figures'))
    for unit in units:
        panels.append((f'stages {" + ".join(map(str, unit))} (one unit)',
                       list((unit_figures or {}).get(metrics.unit_key(unit), [])), budget, '',
                       'no unit figures: rows accepted before\nunits were recorded; '
                       '`gates check --json` has them'))
    return panels


def _draw_panel(
        ax: Any, panel: _Panel, axis: SizeAxis, ylabel: str, refs: Sequence[float], log_y: bool,
        bytes_axis: bool,
) -> None:
    from matplotlib.ticker import FixedLocator
    from matplotlib.ticker import FuncFormatter
    from matplotlib.ticker import NullLocator

    panel_title, panel_lines, panel_budget, note, empty_note = panel
    lines = [ln for ln in panel_lines if ln.points]
    # The unit note under the title: inside the axes it would cover points or the legend.
    ax.set_title(panel_title + (f'\n{note}' if note else ''), fontsize='medium')
    ax.set_xlabel(axis.label)
    ax.set_ylabel(ylabel)
    if axis.sized:
        ax.set_xscale('log', base=2)
    if not lines:
        ax.text(0.5, 0.5, empty_note, ha='center', va='center', transform=ax.transAxes,
                color='grey', fontsize='small')
        ax.set_xticks([])
        ax.set_yticks([])
        return
    xs = sorted({p[0] for ln in lines for p in ln.points})
    ys = [p[1] for ln in lines for p in (*ln.points, *ln.upper)]
    _draw_lines(ax, lines)
    # A single T still gets a readable x range: one octave each side.
    if axis.sized:
        lo, hi = (xs[0] / 2, xs[-1] * 2) if len(xs) == 1 else (xs[0] / 1.25, xs[-1] * 1.25)
    else:
        lo, hi = xs[0] - 0.5, xs[-1] + 0.5
    if refs and axis.sized:
        # Through the measured lines: an extra point (kind 'point') is what the slopes predict.
        _draw_slopes(ax, [ln for ln in lines if ln.kind != 'point'] or lines, refs, [lo, *xs, hi])
    if panel_budget is not None:
        ax.axhline(panel_budget, color='red', linestyle='-.', linewidth=1.2, label=f'budget {panel_budget:g}')
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator(xs))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: axis.tick(v)))
    if log_y:
        # Bytes on powers of two (64 KiB, 1 MiB, ...), the units people read them in.
        ax.set_yscale('log', base=2 if bytes_axis else 10)
        # Data decide the range; the reference slopes may run out of it, not stretch it.
        top, bottom = max(ys), min(ys)
        ax.set_ylim(bottom / 2.5, top * 2.5)
    else:
        # Room above the budget line for the legend, so it never hides a point.
        top = max([*ys, panel_budget or 0.0])
        ax.set_ylim(0, top * 1.5 if top > 0 else 1)
    if bytes_axis:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human_bytes(v)))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ''))
    ax.grid(True, which='major', alpha=0.3)
    ax.legend(fontsize='x-small', loc='best' if log_y else 'upper left')


def _draw_lines(ax: Any, lines: list[Line]) -> None:
    # Candidate last and dashed: where it equals an accepted row both stay visible.
    order = {'baseline': 0, 'reference': 0, 'accepted': 1, 'candidate': 2, 'point': 4}
    # Accepted rows nest: the first row's markers largest, each later row's smaller, so rows with
    # the same figures (a stage the later rows did not touch) all stay visible as rings.
    accepted = [ln for ln in lines if ln.kind == 'accepted']
    ring = {id(ln): 7.0 if len(accepted) < 2 else 10.0 - 5.0 * j / (len(accepted) - 1)
            for j, ln in enumerate(accepted)}
    for ln in sorted(lines, key=lambda ln: order.get(ln.kind, 3)):
        style = STYLE.get(ln.kind, STYLE['candidate'])
        # The baseline hollow and larger: where a stage is unchanged the lines coincide,
        # and both must stay visible.
        hollow = ln.kind in ('baseline', 'reference')
        if ln.kind == 'bounds':
            bx = [p[0] for p in ln.points]
            ax.fill_between(bx, [p[1] for p in ln.points], [p[1] for p in ln.upper],
                            color=style['color'], alpha=0.18, label=ln.label, step=None)
            for edge in (ln.points, ln.upper):
                ax.plot(bx, [p[1] for p in edge], color=style['color'], linewidth=0.8, marker='_')
            continue
        if ln.kind == 'point':
            # Marked points, unjoined: each stands alone (a benchmark's size no tier measures).
            ax.plot([p[0] for p in ln.points], [p[1] for p in ln.points], label=ln.label,
                    marker=style['marker'], linestyle='none', markersize=13,
                    markeredgecolor='black', markeredgewidth=0.6)
            continue
        ax.plot([p[0] for p in ln.points], [p[1] for p in ln.points], label=ln.label,
                marker=style['marker'], color=style['color'] if ln.kind != 'accepted' else None,
                linewidth=2.4 if hollow else 1.4, markersize=9 if hollow else ring.get(id(ln), 5),
                markerfacecolor='none' if hollow else None, alpha=0.75 if hollow else 1.0,
                linestyle='--' if ln.kind == 'candidate' else '-')


def _draw_slopes(ax: Any, lines: list[Line], refs: Sequence[float], grid: list[float]) -> None:
    """sqrt(T) through the lowest line (what streaming should follow), T through the highest
    (what materializing does)."""
    lowest = min(lines, key=lambda ln: ln.points[0][1]).points[0]
    highest = max(lines, key=lambda ln: ln.points[0][1]).points[0]
    for power, dash in zip(refs, ('--', ':')):
        x0, y0 = lowest if power < 1 else highest
        ry = [y0 * (x / x0) ** power for x in grid]
        name = '√T slope' if power == 0.5 else ('T slope' if power == 1 else f'T^{power:g}')
        ax.plot(grid, ry, linestyle=dash, color='grey', linewidth=1, label=name)


@dataclasses.dataclass(frozen=True)
class WholePoint:
    """One whole-run peak: the series it belongs to, its x on the size axis, its bytes and where
    it comes from (a ledger row, a ``--check`` document's side, a ``--points`` file's source)."""

    series: str
    kind: str                              # a key of STYLE
    x: float
    whole_bytes: int
    source: str


def whole_lines(points: Sequence[WholePoint]) -> list[Line]:
    """One line per series and kind, in the order they first appear."""
    grouped: dict[tuple[str, str], list[WholePoint]] = {}
    for p in points:
        grouped.setdefault((p.series, p.kind), []).append(p)
    return [Line(series, kind, tuple(sorted({(p.x, float(p.whole_bytes)) for p in ps})))
            for (series, kind), ps in grouped.items()]


def plot_whole(points: Sequence[WholePoint], path: Path, ylabel: str, title: str,
               axis: SizeAxis) -> Path | None:
    """The whole run's peak against the size axis, one panel: log-log on a size axis, with the
    sqrt(T) slope through the lowest line's first point and the T slope through the highest's
    (``_draw_slopes``; extra points are not slope anchors). None (no file) when there is no figure."""
    lines = [ln for ln in whole_lines(points) if ln.points]
    if not lines:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.2, 5.8))
    _draw_panel(ax, (title, lines, None, '', 'no whole-run figures'), axis, ylabel, (0.5, 1.0),
                True, True)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def whole_table(points: Sequence[WholePoint], axis: SizeAxis) -> str:
    """The whole-run figures plotted, one row each, grouped by series (in plot order), by size."""
    order = {ln.label: i for i, ln in enumerate(whole_lines(points))}
    rows = [[p.series, p.source, axis.tick(p.x), human_bytes(p.whole_bytes), f'{p.whole_bytes:,}']
            for p in sorted(points, key=lambda p: (order[p.series], p.x))]
    return _table(['series', 'source', axis.label, 'whole-run peak', 'bytes'], rows, left=2) if rows else ''


_SCRIPT = '''\
<script>
// Marks whether every plot loaded and whether any script error happened: the report's test reads
// these attributes in a headless browser, and a reader sees a note when an image is missing.
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message || e)); }, true);
  window.addEventListener('load', function () {
    var imgs = Array.prototype.slice.call(document.images);
    var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
    document.body.setAttribute('data-images-total', String(imgs.length));
    document.body.setAttribute('data-images-loaded', String(ok.length));
    document.body.setAttribute('data-errors', String(errors.length));
    if (ok.length < imgs.length) {
      var p = document.createElement('p');
      p.className = 'warn';
      p.textContent = (imgs.length - ok.length) + ' plot image(s) did not load.';
      document.body.insertBefore(p, document.body.firstChild);
    }
  });
})();
</script>'''

_CSS = '''\
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
img { max-width: 100%; border: 1px solid #ddd; }
.empty, .warn { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.6em 1em; }
code { background: #f3f3f3; padding: 0 0.2em; }
'''


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    def cell(tag: str, i: int, v: str) -> str:
        cls = ' class="l"' if i < left else ''
        return f'<{tag}{cls}>{html.escape(v)}</{tag}>'
    out = ['<table>', '<tr>' + ''.join(cell('th', i, h) for i, h in enumerate(head)) + '</tr>']
    out += ['<tr>' + ''.join(cell('td', i, v) for i, v in enumerate(r)) + '</tr>' for r in rows]
    return '\n'.join(out + ['</table>'])


def figures_table(spec: Spec, figures: Figures, fmt: str, *, axis: SizeAxis | None = None) -> str:
    axis = axis or size_axis(spec)
    rows = []
    for stage in spec.stages:
        for ln in figures.get(stage.id, []):
            for t, y in ln.points:
                value = human_bytes(y) if fmt == 'bytes' else f'{y:.3f}'
                rows.append([f'{stage.id} {stage.name}', ln.label, axis.tick(t), value])
    return _table(['stage', 'series', axis.label, 'value'], rows, left=2) if rows else ''


def unit_table(spec: Spec, figures: Mapping[str, list[Line]], *, axis: SizeAxis | None = None) -> str:
    """The unit ratios plotted (one row per series and size), in the spec's unit order."""
    axis = axis or size_axis(spec)
    rows = []
    for unit in spec.budgets.time.units:
        for ln in figures.get(metrics.unit_key(unit), []):
            uppers = dict(ln.upper)
            for t, y in ln.points:
                value = f'{y:.3f} to {uppers[t]:.3f}' if t in uppers else f'{y:.3f}'
                rows.append([f'stages {" + ".join(map(str, unit))}', ln.label, axis.tick(t), value])
    return _table(['unit', 'series', axis.label, 'value'], rows, left=2) if rows else ''


def ledger_table(ledger: Ledger) -> str:
    rows = []
    for i, row in enumerate(ledger.rows):
        for wid, f in sorted(row.workloads.items()):
            peak = f.stage_peaks.get(str(row.stage))
            rows.append([
                str(i), f'{row.stage} {row.stage_name}', row.commit[:12] + (' (dirty)' if row.dirty else ''),
                row.accepted_at, wid, human_bytes(peak) if peak is not None else '?',
                human_bytes(f.whole_run_peak), f'{f.time_ratio_total:.2f}', f.proof_sha256[:12],
            ])
    return _table(['row', 'stage', 'commit', 'accepted at', 'workload', 'in-stage peak',
                   'whole-run peak', 'time ratio', 'proof sha256'], rows, left=5)


def page(spec: Spec, ledger: Ledger, images: Sequence[tuple[Path, str]], tables: Sequence[tuple[str, str]],
         sources: Sequence[str], empty_reason: str | None, notes: Sequence[str] = ()) -> str:
    """``empty_reason`` and ``notes`` are HTML sentences."""
    title = html.escape(f'{spec.name}: conversion report')
    parts = [
        '<!doctype html>', '<html lang="en"><head><meta charset="utf-8">',
        f'<title>{title}</title>', f'<style>\n{_CSS}</style>', _SCRIPT, '</head><body>',
        f'<h1>{title}</h1>',
        f'<p>{len(ledger.rows)} of {len(spec.stages)} stages accepted. Budgets: time ratio &lt; '
        f'{spec.budgets.time.ratio_lt:g}; the stage under conversion\'s in-stage peak below '
        f'{1 - spec.budgets.memory.margin:.0%} of its reference.</p>',
    ]
    if sources:
        parts.append('<p>Figures from: ' + ', '.join(f'<code>{html.escape(s)}</code>' for s in sources) + '.</p>')
    if empty_reason:
        parts.append(f'<div class="empty"><p><strong>Nothing to plot.</strong> {empty_reason}</p></div>')
    if notes:
        parts.append('<ul class="notes">' + ''.join(f'<li>{n}</li>' for n in notes) + '</ul>')
    for path, caption in images:
        parts += [f'<h2>{html.escape(caption)}</h2>',
                  f'<p><img src="{html.escape(path.name)}" alt="{html.escape(caption)}"></p>']
    for heading, table in tables:
        if table:
            parts += [f'<h2>{html.escape(heading)}</h2>', table]
    parts.append('<h2>Ledger history</h2>')
    parts.append(ledger_table(ledger) if ledger.rows else '<p>The ledger has no rows yet.</p>')
    parts.append('</body></html>')
    return '\n'.join(parts) + '\n'
