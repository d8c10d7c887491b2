"""The memory gate: the stage under conversion's in-stage peak drops; no other stage's grows.

Figures (``budgets.memory.measure``): ``heap`` (python subjects) is memray's heap high-water
mark inside the stage (allocations, not pages), one fresh process per stage (gates/measuring/probe.py),
plus the peak RSS of child processes the stage started (memray cannot see into them);
deterministic for deterministic code. ``rss`` (command subjects) is the peak RSS of the process
tree, sampled while the stage is open; ``rss-sync`` (command subjects that wait at each boundary)
is the stage's peak above its entry RSS and the RSS it keeps at its exit, read by the engine
while the command waits. The reference is the ledger's newest accepted figures
for the workload, or, when the ledger holds none, the baseline ref measured now with the
reference variant.

Rules, per workload (``judge``):
- the stage under conversion, if the candidate really runs another backend there than the
  reference did, must be below ``(1 - margin) * reference``; if it runs the same backend it is
  "not yet converted": a note for ``check``, a failure when ``require_conversion`` (``accept``);
- every other stage (and an unconverted stage under conversion) must stay within
  ``reference + tolerance_bytes``: an ABSOLUTE bound, so that a leak that grows with T (8 bytes
  a row is 512 KiB at 2^16) fails at every T; an older spec's proportional ``tolerance`` still
  counts when it is set;
- the whole-run peak may not exceed its reference by more than ``tolerance_bytes``; once every
  stage runs converted it must be below ``(1 - margin) * reference``;
- what a stage allocated and still holds at its exit (``retained``: heap, and rss-sync's RSS at
  exit minus at enter) follows the same absolute bound against the baseline measured now: a
  buffer kept alive after the stage's temporaries are gone leaves the in-stage peak as it was,
  but not this;
- a stage without a figure on either side is a failure.
Over three or more sizes (the full tier), the in-stage peak of every stage the candidate runs
converted is fitted as ``peak ~ T^e`` (least squares on log-log) and fails above
``max_exponent``; the fitted exponents are in every such report.
A failing stage gets a memray flamegraph of the candidate's capture, named in the finding.
"""
from __future__ import annotations

import dataclasses
import json
import math
import shutil
import tempfile
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.measuring import measure
from gates.measuring import memory_rule
from gates.measuring import probe
from gates.context import CheckContext
from gates.model import Finding
from gates.model import Verdict
from gates.contract import noise as noise_mod
from gates.contract.noise import Noise
from gates.contract.spec import Spec
from gates.contract.spec import Workload
from gates.vcs import trees

GATE = 'memory'
# The rule itself (gates/measuring/memory_rule.py), where the integrity gate applies it too when it
# re-judges a ledger row (issue 13.3): one rule, the same objects.
NotHigherThan = memory_rule.NotHigherThan
Reference = memory_rule.Reference
Judgement = memory_rule.Judgement
judge = memory_rule.judge
lower_of = memory_rule.lower_of
MIN_SIZES_FOR_FIT = 3


def sizes(workloads: Sequence[Workload]) -> dict[str, int] | None:
    """T per workload id, from a ``log_t`` param (None unless every workload has one)."""
    out = {}
    for w in workloads:
        log_t = w.params.get('log_t')
        if not isinstance(log_t, int) or isinstance(log_t, bool):
            return None
        out[w.id] = 1 << log_t
    return out


def fit_exponent(points: Sequence[tuple[int, int]]) -> float:
    """Least-squares slope of log(peak) against log(T); points are (T, peak bytes)."""
    xs = [math.log(t) for t, _ in points]
    ys = [math.log(max(p, 1)) for _, p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def judge_growth(
        spec: Spec,
        workloads: Sequence[Workload],
        peaks: Mapping[str, Mapping[int, int]],
        candidate_variant: Mapping[str, str],
) -> tuple[list[Finding], list[str], dict[str, Any]]:
    """The exponent of in-stage peak vs T for every stage the candidate runs converted."""
    ts = sizes(workloads)
    measured = [w.id for w in workloads if w.id in peaks]
    if spec.mode == 'optimisation':
        return [], [], {}   # no stage is converted, so no converted stage's growth to fit
    if ts is None or len({ts[w] for w in measured}) < MIN_SIZES_FOR_FIT:
        return [], [], {}
    limit = spec.budgets.memory.max_exponent
    findings: list[Finding] = []
    notes: list[str] = []
    fitted: dict[str, Any] = {'max_exponent': limit, 'stages': {}}
    for stage in spec.stages:
        if candidate_variant.get(str(stage.id)) != spec.candidate_variant:
            continue
        points = [(ts[w], peaks[w][stage.id]) for w in measured if stage.id in peaks[w]]
        if len({t for t, _ in points}) < MIN_SIZES_FOR_FIT:
            continue
        e = fit_exponent(points)
        span = f'T = 2^{min(points)[0].bit_length() - 1} .. 2^{max(points)[0].bit_length() - 1}'
        fitted['stages'][str(stage.id)] = {'exponent': e, 'points': [list(p) for p in points]}
        notes.append(f'stage {stage.id} ({stage.name}): in-stage peak grows as T^{e:.3f} over {span}'
                     + (f' (budget {limit:g})' if limit is not None else ''))
        if limit is not None and e > limit:
            findings.append(Finding(
                GATE, f'stage {stage.id} ({stage.name}) in-stage peak grows as T^{e:.3f} over {span}, '
                f'above budgets.memory.max_exponent {limit:g}', workload=','.join(measured),
                stage=stage.id, figure=e,
            ))
    return findings, notes, fitted


GROWTH_MARGIN = 0.1   # a candidate exponent this far above the reference's own is a leak
LINEAR = 0.9          # "grows like T": the fitted exponent of a kept-alive figure


def judge_relative_growth(
        spec: Spec,
        workloads: Sequence[Workload],
        candidate: Mapping[str, Mapping[str, int]],
        reference: Mapping[str, Mapping[str, int]],
        noise: Noise | None = None,
) -> tuple[list[Finding], list[str], dict[str, Any]]:
    """Every stage's in-stage peak and kept-alive bytes (and the whole-run peak), fitted as
    T^e for the candidate and for the reference at the same sizes (figures keyed as in
    gates/contract/noise.py, per workload id). A candidate exponent above the reference's by
    more than GROWTH_MARGIN fails, whatever the absolute excess, once that excess at the
    largest size is beyond the figure's noise (its recorded spread, at least the measure's
    floor): a leak of 8 bytes a row is below any fixed tolerance on a small prover, but it
    turns a flat figure into one that grows like T."""
    ts = sizes(workloads)
    measured = [w.id for w in workloads if w.id in candidate and w.id in reference]
    if ts is None or len({ts[w] for w in measured}) < MIN_SIZES_FOR_FIT:
        return [], [], {}
    findings: list[Finding] = []
    notes: list[str] = []
    fitted: dict[str, Any] = {'margin': GROWTH_MARGIN, 'figures': {}}
    keyed: list[tuple[str, int | None, str]] = [(noise_mod.stage_key(s.id), s.id, f'stage {s.id} ({s.name}) in-stage peak') for s in spec.stages]
    keyed += [(noise_mod.retained_key(s.id), s.id, f'stage {s.id} ({s.name}) kept alive at its exit')
              for s in spec.stages]
    keyed.append((noise_mod.WHOLE, None, 'whole-run peak'))
    for key, sid, what in keyed:
        ws = sorted((w for w in measured if key in candidate[w] and key in reference[w]), key=lambda w: ts[w])
        if len({ts[w] for w in ws}) < MIN_SIZES_FOR_FIT:
            continue
        mine = fit_exponent([(ts[w], candidate[w][key]) for w in ws])
        theirs = fit_exponent([(ts[w], reference[w][key]) for w in ws])
        top = ws[-1]
        excess = candidate[top][key] - reference[top][key]
        spread = noise.recorded(top, key) if noise is not None else None
        guard = max(noise_mod.floor(spec.budgets.memory.measure, key), spread or 0)
        span = f'T = 2^{ts[ws[0]].bit_length() - 1} .. 2^{ts[top].bit_length() - 1}'
        fitted['figures'][key] = {'candidate': mine, 'reference': theirs, 'excess_at_largest': excess,
                                  'guard': guard, 'workloads': ws}
        if mine > theirs + GROWTH_MARGIN and excess > guard:
            kind = ('grows like T' if key.startswith('retained') and mine >= LINEAR > theirs
                    else f'grows faster than the reference\'s (T^{theirs:.3f}) by more than {GROWTH_MARGIN:g}')
            findings.append(Finding(
                GATE, f'{what} grows as T^{mine:.3f} over {span}: it {kind}, +{excess:,} B at '
                      f'{top} (beyond its {guard:,} B noise): a leak that grows with the trace',
                workload=','.join(ws), stage=sid, figure=mine,
            ))
        elif mine > theirs + GROWTH_MARGIN:
            notes.append(f'{what}: T^{mine:.3f} against the reference\'s T^{theirs:.3f}, but only '
                         f'{excess:+,} B at {top} (within its {guard:,} B noise)')
    return findings, notes, fitted


def load_noise(ctx: CheckContext) -> Noise | None:
    """The recorded noise of the spec's measure: per figure, the lower of the base's golden
    file and the head's (a head that raises it is a loosening the integrity gate reports; the
    memory gate does not widen its bound on its word meanwhile)."""
    found: list[Noise | None] = []
    for tree in (ctx.base_tree, ctx.head_tree):
        text = trees.read_text(tree, ctx.spec.golden) if tree is not None else None
        try:
            doc = json.loads(text) if text is not None else None
        except json.JSONDecodeError:
            doc = None   # the proof gate reports an unreadable golden file
        found.append(noise_mod.parse(doc, ctx.spec.budgets.memory.measure))
    return noise_mod.lower(found[0], found[1])


def reference_from_ledger(ctx: CheckContext, workload: str) -> Reference | None:
    """The newest accepted row holding ``workload`` (``memory_rule.from_ledger``)."""
    return memory_rule.from_ledger(ctx.spec, ctx.ledger.rows, workload)


def _flamegraphs(
        ctx: CheckContext,
        workload: Workload,
        variant: Mapping[str, str],
        judged: Judgement,
        run: probe.MemoryRun,
        capture_dir: Path,
        out_dir: Path | None,
) -> list[Finding]:
    """Each failing stage's finding, with the flamegraph of the candidate's capture named."""
    out = []
    for finding in judged.findings:
        if finding.stage is None or ctx.spec.budgets.memory.measure != 'heap':
            out.append(finding)
            continue
        folder = out_dir or measure.output_dir(ctx.repo_root, 'memory')
        target = folder / f'memory-{workload.id}-stage{finding.stage}.html'
        try:
            capture = run.captures.get(str(finding.stage))
            if capture is None or not capture.is_file():
                # A cached run from earlier in this process: its captures went with its gate run.
                capture = probe.capture(
                    measure.request(ctx.spec, ctx.head_tree, workload, variant, measure.guard(ctx)),
                    finding.stage, capture_dir, label='again',
                )
            probe.flamegraph(capture, target)
            extra = f'; flamegraph: {target}'
        except probe.ProbeFailed as e:
            extra = f'; no flamegraph ({e.message})'
        out.append(dataclasses.replace(finding, message=finding.message + extra))
    return out


def _short(rev: str) -> str:
    return rev[:12] if len(rev) == 40 and all(c in '0123456789abcdef' for c in rev) else rev


def base_reference(
        ctx: CheckContext, workload: Workload, capture_dir: Path, candidate: probe.MemoryRun,
        candidate_variant: Mapping[str, str],
) -> Reference:
    """The change's base measured now with the reference variant (the accepted stages
    converted). With no change (the head's files are the base's), the head tree is measured,
    and the candidate's own run is reused when it ran the same variant."""
    tree = ctx.base_tree if ctx.changed else ctx.head_tree
    variant = measure.effective(ctx, tree, ctx.reference_variant())
    if not ctx.changed and dict(variant) == dict(candidate_variant):
        run = candidate
    else:
        run = measure.memory(ctx, tree, workload, variant, capture_dir, 'base')
    return Reference(
        run.stage_peaks, run.whole_run_peak, variant,
        f'the change\'s base {_short(ctx.base_rev)} measured now', run.retained,
    )


def check_workload(
        ctx: CheckContext,
        workload: Workload,
        capture_dir: Path,
        out_dir: Path | None,
        require_conversion: bool,
        noise: Noise | None = None,
) -> tuple[list[Finding], list[str], dict[str, Any]]:
    try:
        variant = measure.candidate_variant(ctx)
        run = measure.memory(ctx, ctx.head_tree, workload, variant, capture_dir, 'candidate')
        reference = reference_from_ledger(ctx, workload.id)
        ref_children: dict[str, int] = {}
        if reference is None and not ctx.ledger.rows:
            with measure.baseline_tree(ctx) as base:
                ref_variant = measure.effective(ctx, base, ctx.reference_variant())
                ref_run = measure.memory(ctx, base, workload, ref_variant, capture_dir, 'baseline')
            reference = Reference(
                ref_run.stage_peaks, ref_run.whole_run_peak, ref_variant,
                f'baseline ref {ctx.spec.baseline_ref} measured now', ref_run.retained,
            )
            ref_children = dict(ref_run.children)
        # The ratchet (issue 13.1): the base as it is now bounds every figure too, so a leak in
        # an accepted stage fails that stage's own line, whatever its ledger row says.
        now = base_reference(ctx, workload, capture_dir, run, variant)
        reference = now if reference is None else lower_of(reference, now)
    except probe.ProbeFailed as e:
        return [Finding(GATE, f'memory run failed: {e.message}', workload=workload.id)], [], {
            'error': e.message, 'log': e.log,
        }
    under = ctx.stage_under_conversion.id if ctx.stage_under_conversion is not None else None
    judged = judge(
        ctx.spec, workload.id, under, run.stage_peaks, variant, reference, require_conversion,
        whole_run_peak=run.whole_run_peak, retained=run.retained, noise=noise,
    )
    details = {
        'measure': ctx.spec.budgets.memory.measure,
        'candidate': {
            'variant': variant, 'whole_run_peak': run.whole_run_peak,
            'stage_peaks': {str(k): v for k, v in sorted(run.stage_peaks.items())},
            'children_peaks': dict(run.children),
            'retained': {str(k): v for k, v in sorted(run.retained.items())},
        },
        'reference': {
            'source': reference.source, 'variant': dict(reference.variant),
            'whole_run_peak': reference.whole_run_peak,
            'stage_peaks': {str(k): v for k, v in sorted(reference.stage_peaks.items())},
            'children_peaks': ref_children,
            'retained': {str(k): v for k, v in sorted(reference.retained.items())},
        },
        'stages': judged.stages,
    }
    found = _flamegraphs(ctx, workload, variant, judged, run, capture_dir, out_dir)
    return found, judged.notes, details


def run(
        ctx: CheckContext, *, require_conversion: bool = False, out_dir: Path | None = None,
) -> Verdict:
    """Judge every workload of the tier. Flamegraphs of failing stages go to ``out_dir``
    (default ``<repo>/.stagegate/memory``); the memray captures themselves are deleted."""
    findings: list[Finding] = []
    notes: list[str] = []
    details: dict[str, Any] = {}
    unsupported = probe.memory_unsupported(ctx.spec.subject, ctx.spec.budgets.memory.measure)
    if unsupported is not None:
        # Not a config error for the whole check: the other gates still judge this subject.
        return Verdict.fails(GATE, [Finding(GATE, unsupported)], {'unsupported': unsupported})
    noise = load_noise(ctx)
    capture_dir = Path(tempfile.mkdtemp(prefix='stagegate-memray-'))
    try:
        for workload in ctx.workloads:
            found, noted, details[workload.id] = check_workload(
                ctx, workload, capture_dir, out_dir, require_conversion, noise,
            )
            findings += found
            notes += noted
    finally:
        shutil.rmtree(capture_dir, ignore_errors=True)
    peaks = {
        wid: {int(k): int(v) for k, v in d['candidate']['stage_peaks'].items()}
        for wid, d in details.items() if 'candidate' in d
    }
    variant: dict[str, str] = next(
        (d['candidate']['variant'] for d in details.values() if 'candidate' in d), {},
    )
    grown, fitted_notes, fitted = judge_growth(ctx.spec, ctx.workloads, peaks, variant)
    findings += grown
    notes += fitted_notes
    relative, relative_notes, relative_fit = judge_relative_growth(
        ctx.spec, ctx.workloads,
        {w: _figures(d['candidate']) for w, d in details.items() if 'candidate' in d},
        {w: _figures(d['reference']) for w, d in details.items() if 'reference' in d},
        noise,
    )
    findings += relative
    notes += relative_notes
    extra: dict[str, Any] = {'growth': fitted} if fitted else {}
    if relative_fit:
        extra['relative_growth'] = relative_fit
    budget = ctx.spec.budgets.memory
    least = noise_mod.floor(budget.measure, noise_mod.WHOLE)
    kept = noise_mod.floor(budget.measure, noise_mod.retained_key(0))
    at_least = f'{least:,} B' if least == kept else f'{least:,} B a peak, {kept:,} B what a stage keeps'
    within = (f'the recorded noise ({noise_mod.FACTOR} x spread over {noise.runs} runs, at least '
              f'{at_least}; {budget.tolerance_bytes:,} B where not recorded)'
              if noise is not None else f'{budget.tolerance_bytes:,} B')
    summary = [
        f'measure {budget.measure}; other stages and the whole run within reference + {within}'
        + (f' or {budget.tolerance:.1%}' if budget.tolerance else ''),
        *fitted_notes,
    ]
    if relative_fit:
        summary.append(f'every figure\'s growth over the tier\'s sizes within T^(reference + {GROWTH_MARGIN:g})')
    return Verdict.from_findings(GATE, findings, {
        'workloads': details, 'notes': notes, 'tolerance_bytes': budget.tolerance_bytes,
        'noise': noise.to_json() if noise is not None else None,
        'summary': summary, **extra,
    })


def _figures(side: Mapping[str, Any]) -> dict[str, int]:
    """A details side (``candidate`` / ``reference``) as noise-keyed figures."""
    return noise_mod.figures(
        {int(k): int(v) for k, v in (side.get('stage_peaks') or {}).items()},
        side.get('whole_run_peak'),
        {int(k): int(v) for k, v in (side.get('retained') or {}).items()},
    )
