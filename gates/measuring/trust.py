"""Trusted ledger rows: a row counts only if an engine that did not come from the change, re-judging
it, finds the accept rule holding again (issues 8.2 and 13.3; docs/gates.md, "Trusted ledger rows").

A row that the change under judgement adds was written by whoever made the change: its subject
line, parent and digest prove nothing (anyone can recompute a sha256), and neither do figures that
are real: figures of an unconverted run reproduce perfectly. So, in every tier that measures (the
ones that run the memory gate: ci and full), the engine judging the change (in CI the BASE's
engine) re-judges each new row at the ci workloads, in an export of the row's commit, with the
row's variant (the stages of the rows up to and including it converted, as the subject offers
them: the ledger's order is the spec's ``conversion_order``, not necessarily ascending ids):

1. reproduction: the proof digest must equal the row's, byte for byte, and every in-stage peak
   and the whole-run peak must equal the row's within ``noise_bound``;
2. conversion: the row's stage must run converted there (the subject's ``capabilities`` offer the
   candidate backend for it), or the row records an unconverted run;
3. memory: the memory gate's own rule (``memory_rule.judge`` with ``require_conversion``) on the
   re-measured figures against the reference of the row's time: the lower (``lower_of``) of the
   newest earlier row holding the workload (if made with this engine's memory method) and the
   change's base measured now with the stages accepted before the row converted. The row's stage
   must drop by the spec's margin; no other stage, retained figure or the whole run may rise
   beyond the tolerance;
4. time: the time gate's interleaved comparison (``time_rule.compare``, with the spec's own
   ``budgets.time`` and the rule's noise floor and confidence; one rerun on fresh pairs when
   max_pairs leaves a metric undecided, as the time gate does) of the oracle's baseline against
   the row's commit with the row's variant, exactly as the time gate judged it at accept. A
   metric still undecided is a finding (the rule is not seen to hold). It is
   the dearest step (a time gate's worth of pairs per ci workload), so it runs only for a row
   that passed 1-3.

The reproduction bound: memray counts allocations and the subjects are deterministic, so the same
tree measured repeatedly gives the same byte counts (0 B spread measured on the bundled prover and
on the toy subject); the one exception seen is a 1 MiB allocator arena that a stage whose first
numpy import falls inside it sometimes shows (specs/streaming-prover.yaml, budgets.memory).
Hence 1 MiB, absolute: an invented peak (a forged 10 GiB, or a forged 10 % cut of a 16 MiB
stage) is far outside it. RSS (``measure: rss`` or ``rss-sync``, command subjects) is not
deterministic to the byte, so there the bound is the spec's own measured noise, ``tolerance_bytes``, when that
is larger (the merkle example's 4 MiB: a re-measured whole-run RSS once differed by more than
1 MiB under load, and the engine called its own accept row forged). Where the base's golden
file records the subject's measured noise (``memory_noise``, ``gates freeze --noise-runs N``;
issue 13.6), each figure's bound is that record's (``max(floor, 2 x spread)``: 16 KiB at least
for heap, 64 KiB for RSS, 256 KiB for an rss-sync peak) instead of 1 MiB; step 3 judges with the
same record. A row measured with another memory method than this engine's for the spec's measure
(``ledger.memory_method``) is refused outright (it cannot be re-measured).
Recorded time ratios are machine-dependent and are not compared; step 4 measures the rule itself
again.

Rows of an optimisation-mode spec (nothing converts; rows are numbered) get step 1 only.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from gates.measuring import measure
from gates.measuring import memory_rule
from gates.measuring import probe
from gates.measuring import time_rule
from gates.vcs import repo as repo_mod
from gates.vcs import trees
from gates.context import CheckContext
from gates.contract import metrics
from gates.contract import noise as noise_mod
from gates.contract.ledger import memory_method
from gates.contract.ledger import Ledger
from gates.contract.ledger import Row
from gates.contract.noise import Noise
from gates.contract.ledger import parse_ledger
from gates.model import Finding
from gates.model import GateError
from gates.contract.spec import Spec
from gates.contract.spec import Workload

GATE = 'integrity'
NOISE_BYTES = 1 << 20


def noise_bound(spec: Spec, noise: Noise | None = None, workload: str | None = None,
                figure: str | None = None) -> int:
    """How far a re-measured peak may lie from the row's. With the subject's recorded noise
    (the golden file's ``memory_noise``, gates/contract/noise.py) for that workload and figure:
    ``max(floor, FACTOR x spread)``. Without it: 1 MiB for memray's heap counts, the spec's
    ``tolerance_bytes`` for sampled RSS when that is larger."""
    memory = spec.budgets.memory
    fallback = NOISE_BYTES if memory.measure == 'heap' else max(NOISE_BYTES, memory.tolerance_bytes)
    if noise is None or workload is None or figure is None:
        return fallback
    return noise.bound(workload, figure, fallback)


def measures(ctx: CheckContext) -> bool:
    """Does this tier measure (so that re-measuring new rows belongs in it)?"""
    return 'memory' in ctx.spec.tier_gate_names(ctx.tier)


def head_ledger(ctx: CheckContext, spec: Spec) -> Ledger | None:
    """The ledger of the tree under judgement; None when it is missing or does not parse
    (``integrity.ledger_rows`` reports that)."""
    text = trees.read_text(ctx.head_tree, spec.ledger)
    if text is None:
        return None
    try:
        return parse_ledger(text, spec.ledger)
    except GateError:
        return None


def new_rows(ctx: CheckContext, spec: Spec) -> list[tuple[int, Row]]:
    """(index, row) of the rows the head ledger has beyond the base's."""
    head = head_ledger(ctx, spec)
    if head is None:
        return []
    base = trees.base_ledger(ctx, spec)
    return [(i, r) for i, r in enumerate(head.rows) if i >= len(base.rows)]


def _recorded_noise(ctx: CheckContext, spec: Spec) -> Noise | None:
    """The base's recorded noise (the head's golden file is the change's word; the base's is not)."""
    text = trees.read_text(ctx.base_tree, spec.golden)
    try:
        return noise_mod.parse(json.loads(text) if text is not None else None, spec.budgets.memory.measure)
    except json.JSONDecodeError:
        return None


def _where(text: str | None, row: Row) -> int | None:
    if text is None:
        return None
    at = text.find(row.row_digest)
    return None if at < 0 else text.count('\n', 0, at) + 1


def _previous(spec: Spec, head: Ledger, index: int, workload: str) -> memory_rule.Reference | None:
    """What the memory gate took from the ledger when row ``index`` was made: the same rule
    (``memory_rule.from_ledger``) over the rows before it."""
    return memory_rule.from_ledger(spec, head.rows[:index], workload)


def _shares_runs(ctx: CheckContext, spec: Spec) -> bool:
    """Runs of this gate may sit in the check's cache (and serve the memory gate) only if they
    are what the memory gate would run: the same subject, stages and instrument."""
    return (spec.subject == ctx.spec.subject and measure.stage_ids(spec) == measure.stage_ids(ctx.spec)
            and spec.budgets.memory.measure == ctx.spec.budgets.memory.measure)


def _memory(
        ctx: CheckContext, spec: Spec, tree: Path, workload: Workload, variant: Mapping[str, str],
        capture_dir: Path, label: str,
) -> probe.MemoryRun:
    def run() -> probe.MemoryRun:
        return probe.memory(
            measure.request(spec, tree, workload, variant, measure.guard(ctx)), capture_dir,
            label=label, progress=ctx.progress,
            # The spec's measure: a command subject's rows hold RSS peaks (issue 8.5).
            measure=spec.budgets.memory.measure,
        )
    if not _shares_runs(ctx, spec):
        return run()
    return ctx.measurements.get(('memory', str(tree), workload.id, measure.variant_key(variant)), run)


def _reproduce(
        ctx: CheckContext, spec: Spec, tree: Path, row: Row, workloads: Sequence[Workload],
        variant: Mapping[str, str], capture_dir: Path, where: tuple[str, str, int | None],
        noise: Noise | None,
) -> tuple[list[Finding], dict[str, probe.MemoryRun]]:
    """Step 1: the row's figures, measured again; the memory runs, for step 3."""
    name, ledger, line = where
    out: list[Finding] = []
    runs: dict[str, probe.MemoryRun] = {}
    for workload in workloads:
        recorded = row.workloads.get(workload.id)
        if recorded is None:
            continue
        ctx.progress(f'integrity: re-measuring ledger {name} at {workload.id}')
        proof = probe.proof(measure.request(spec, tree, workload, variant, measure.guard(ctx)))
        if proof.sha256 != recorded.proof_sha256:
            out.append(Finding(
                GATE, f'{name}: proof sha256 re-measured {proof.sha256[:12]}, the row records '
                      f'{recorded.proof_sha256[:12]}: the row was not measured by the engine '
                      f'(forged or stale); drop it and run `gates accept`',
                ledger, line, workload=workload.id, stage=row.stage,
            ))
        mem = runs[workload.id] = _memory(ctx, spec, tree, workload, variant, capture_dir, 'ledger-row')
        pairs = [(f'stage {k} in-stage peak', noise_mod.stage_key(int(k)), mem.stage_peaks.get(int(k)), v)
                 for k, v in sorted(recorded.stage_peaks.items(), key=lambda kv: int(kv[0]))]
        pairs.append(('whole-run peak', noise_mod.WHOLE, mem.whole_run_peak, recorded.whole_run_peak))
        for what, key, now, then in pairs:
            bound = noise_bound(spec, noise, workload.id, key)
            if now is None or abs(now - then) > bound:
                out.append(Finding(
                    GATE, f'{name}: {what} re-measured {now} B, the row records {then} B '
                          f'(beyond the {bound} B noise bound): the row was not '
                          f'measured by the engine (forged or stale); drop it and run '
                          f'`gates accept`',
                    ledger, line, workload=workload.id, stage=row.stage,
                    figure=None if now is None else float(now),
                ))
    return out, runs


RULE = 'the accept rule does not hold again'


def _conversion(
        ctx: CheckContext, spec: Spec, tree: Path, row: Row, variant: Mapping[str, str],
        where: tuple[str, str, int | None],
) -> list[Finding]:
    """Step 2: the row's stage runs the candidate backend at the row's commit."""
    name, ledger, line = where
    runs = variant.get(str(row.stage))
    if runs == spec.candidate_variant:
        return []
    caps = measure.capabilities(ctx, tree) or {}
    offered = ', '.join(caps.get(str(row.stage), ())) or 'nothing'
    return [Finding(
        GATE, f'{name}: {RULE}: stage {row.stage} does not run converted at the row\'s commit '
              f'(its subject offers {offered} for it, so it runs {runs}, not '
              f'{spec.candidate_variant}); the row\'s figures are those of an unconverted run. '
              f'Drop the row; convert the stage, then run `gates accept`',
        ledger, line, stage=row.stage,
    )]


def _memory_rule(
        ctx: CheckContext, spec: Spec, head: Ledger, index: int, row: Row, workloads: Sequence[Workload],
        variant: Mapping[str, str], runs: Mapping[str, probe.MemoryRun], capture_dir: Path,
        where: tuple[str, str, int | None], noise: Noise | None,
) -> list[Finding]:
    """Step 3: the memory gate's rule, against the reference of the row's time."""
    name, ledger, line = where
    out: list[Finding] = []
    before = [r.stage for r in head.rows[:index]]
    base_variant = measure.effective(ctx, ctx.base_tree, spec.variant(before))
    for workload in workloads:
        mem = runs.get(workload.id)
        if mem is None:
            continue
        ctx.progress(f'integrity: the reference of ledger {name} at {workload.id}: the base, measured now')
        base_run = _memory(ctx, spec, ctx.base_tree, workload, base_variant, capture_dir, 'base')
        base = memory_rule.Reference(
            base_run.stage_peaks, base_run.whole_run_peak, base_variant,
            f'the change\'s base {ctx.base_rev[:12]} measured now', base_run.retained,
        )
        earlier = _previous(spec, head, index, workload.id)
        reference = base if earlier is None else memory_rule.lower_of(earlier, base)
        judged = memory_rule.judge(
            spec, workload.id, row.stage, mem.stage_peaks, variant, reference, True,
            whole_run_peak=mem.whole_run_peak, retained=mem.retained, noise=noise,
        )
        for found in judged.findings:
            out.append(Finding(
                GATE, f'{name}: {RULE} at {workload.id} (memory, reference: {reference.source}): '
                      f'{found.message}',
                ledger, line, workload=workload.id,
                stage=row.stage if found.stage is None else found.stage, figure=found.figure,
            ))
    return out


def _time_rule(
        ctx: CheckContext, spec: Spec, tree: Path, row: Row, workloads: Sequence[Workload],
        variant: Mapping[str, str], where: tuple[str, str, int | None],
) -> list[Finding]:
    """Step 4: the time gate's interleaved comparison, oracle against the row's commit."""
    name = where[0]
    budget = spec.budgets.time
    keys, in_unit = time_rule.metrics_for(measure.stage_ids(spec), budget.units)
    watch = measure.guard(ctx)
    out: list[Finding] = []
    with measure.baseline_tree(ctx) as oracle:
        oracle_variant = measure.effective(ctx, oracle, spec.variant(()))
        for workload in workloads:
            if workload.id not in row.workloads:
                continue

            def baseline(w: Workload = workload) -> probe.TimeRun:
                return probe.time(measure.request(spec, oracle, w, oracle_variant, watch))

            def candidate(w: Workload = workload) -> probe.TimeRun:
                return probe.time(measure.request(spec, tree, w, variant, watch))

            ctx.progress(f'integrity: timing ledger {name} at {workload.id} against the oracle (warm-up, then pairs)')
            baseline(), candidate()   # the time gate's warm-up: one untimed run of each tree
            def say(message: str, w: str = workload.id) -> None:
                ctx.progress(f'integrity: time {w} of {name}: {message}')

            _, decisions, why = time_rule.compare(baseline, candidate, keys, budget, say, in_unit=in_unit)
            if why == time_rule.CAPPED and time_rule.undecided(decisions):
                # As the time gate does (issue 13.2): never settled by a median; once more, fresh pairs.
                say(time_rule.RERUN)
                _, decisions, why = time_rule.compare(baseline, candidate, keys, budget, say, in_unit=in_unit)
            out += _time_findings(ctx, spec, row, workload.id, decisions, where)
    return out


def _time_findings(
        ctx: CheckContext, spec: Spec, row: Row, workload: str, decisions: Sequence[time_rule.Decision],
        where: tuple[str, str, int | None],
) -> list[Finding]:
    """Step 4's findings: each judged metric the threshold does not pass at ``workload``."""
    name, ledger, line = where
    limit = spec.budgets.time.threshold().limit
    out = []
    for d in decisions:
        if d.judged and not d.passed:
            verdict = (f'is not below {limit:g}' if d.side == 'above' else
                       f'straddles {limit:g} after max_pairs and once more on fresh '
                       f'pairs (INCONCLUSIVE: the rule is not seen to hold; rerun on a quieter machine)')
            stage = metrics.stage_of(d.metric)
            out.append(Finding(
                GATE, f'{name}: {RULE} at {workload} (time, against the oracle '
                      f'{ctx.oracle_rev[:12] or spec.baseline_ref}): {time_rule.describe(d.metric)}: '
                      f'{d.figures()}, {verdict}',
                ledger, line, workload=workload, stage=row.stage if stage is None else stage, figure=d.median,
            ))
    return out


def remeasure(ctx: CheckContext, spec: Spec) -> list[Finding]:
    """Findings for every new row that this engine does not reproduce, or on which the accept
    rule does not hold again (the module's steps 1-4)."""
    head = head_ledger(ctx, spec)
    rows = new_rows(ctx, spec)
    if head is None or not rows or not measures(ctx):
        return []
    repo = repo_mod.open_repo(ctx.repo_root)
    ledger_text = trees.read_text(ctx.head_tree, spec.ledger)
    # The ci workloads bound the cost (a full-tier accept of stage k+1 must not re-measure row k
    # at 2^20); a spec without a ci tier falls back to the tier being run.
    workloads = spec.tier_workloads('ci') if 'ci' in spec.tiers else ctx.workloads
    out: list[Finding] = []
    noise = _recorded_noise(ctx, spec)
    for index, row in rows:
        name = f'rows[{index}] (stage {row.stage}, {row.stage_name}, commit {row.commit[:12]})'
        line = _where(ledger_text, row)
        where = (name, spec.ledger, line)
        if repo_mod.try_resolve(repo, row.commit) is None:
            out.append(Finding(GATE, f'{name}: its commit is not in this history, so its figures '
                                     f'cannot be re-measured; rows are written by `gates accept`',
                               spec.ledger, line, stage=row.stage))
            continue
        if not row.measured_like_this_engine(spec.budgets.memory.measure):
            method = memory_method(spec.budgets.memory.measure)
            out.append(Finding(GATE, f'{name}: its figures were measured with memory method '
                                     f'{row.memory_method!r}, this engine measures {method!r}: '
                                     f'they cannot be re-measured; run `gates accept` with this engine',
                               spec.ledger, line, stage=row.stage))
            continue
        missing = [w.id for w in workloads if w.id not in row.workloads]
        if missing:
            out.append(Finding(GATE, f'{name}: no figures for {", ".join(missing)} (accept measures '
                                     f'the full tier, which holds the ci workloads)',
                               spec.ledger, line, stage=row.stage))
        # The stages of the rows up to and including this one, converted: the ledger's order is
        # the spec's conversion order, which need not be ascending ids (memory_rule.from_ledger
        # reads a row's variant the same way).
        wanted = spec.variant(r.stage for r in head.rows[:index + 1])
        watch = measure.guard(ctx)
        with repo_mod.export(repo, row.commit) as tree, tempfile.TemporaryDirectory(prefix='stagegate-trust-') as cap:
            # Watched like every measured tree: the row's code runs next to the base and the
            # oracle here, and may not edit them (nor they it).
            watch.watch(tree, f'ledger {name}')
            try:
                variant = measure.effective(ctx, tree, wanted)
                found, runs = _reproduce(ctx, spec, tree, row, workloads, variant, Path(cap), where, noise)
                if spec.mode == 'conversion':
                    converted = _conversion(ctx, spec, tree, row, variant, where)
                    found += converted
                    if not converted:
                        found += _memory_rule(ctx, spec, head, index, row, workloads, variant, runs, Path(cap), where,
                                              noise)
                    if not found:
                        found += _time_rule(ctx, spec, tree, row, workloads, variant, where)
            except probe.ProbeFailed as e:
                found = [Finding(GATE, f'{name}: re-judging the row failed: {e.message}', spec.ledger, line,
                                 stage=row.stage)]
            finally:
                watch.forget(tree)
        out += found
    return out
