"""Trusted ledger rows: a row counts only once an engine that did not come from the change has
measured it (issue 8.2; docs/gates.md, "Trusted ledger rows").

A row that the change under judgement adds was written by whoever made the change: its subject
line, parent and digest prove nothing (anyone can recompute a sha256). So, in every tier that
measures (the ones that run the memory gate: ci and full), the engine judging the change (in
CI the BASE's engine) re-runs the row's measurements at the ci workloads, in an export of
the row's commit, with the row's variant (its stage and every earlier one converted):

- the proof digest must equal the row's, byte for byte;
- every in-stage peak and the whole-run peak must equal the row's within ``NOISE_BYTES``.

The bound: memray counts allocations and the subjects are deterministic, so the same tree
measured repeatedly gives the same byte counts (0 B spread measured on the bundled prover and on
the toy subject); the one exception seen is a 1 MiB allocator arena that a stage whose first
numpy import falls inside it sometimes shows (specs/streaming-prover.yaml, budgets.memory).
Hence 1 MiB, absolute: an invented peak (a forged 10 GiB, or a forged 10 % cut of a 16 MiB
stage) is far outside it. RSS (``measure: rss``, command subjects) is sampled and not
deterministic, so there the bound is the spec's own measured noise, ``tolerance_bytes``, when that
is larger (the merkle example's 4 MiB: a re-measured whole-run RSS once differed by more than
1 MiB under load, and the engine called its own accept row forged). Where the base's golden
file records the subject's measured noise (``memory_noise``, ``gates freeze --noise-runs N``;
issue 13.6), each figure's bound is that record's (``max(floor, 2 x spread)``: 16 KiB at least
for heap, 64 KiB for RSS) instead of 1 MiB. Time ratios are
machine-dependent and are not re-checked here; the time gate judges the change itself.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from gates.measuring import measure
from gates.measuring import probe
from gates.vcs import repo as repo_mod
from gates.vcs import trees
from gates.context import CheckContext
from gates.contract import noise as noise_mod
from gates.contract.ledger import MEMORY_METHOD
from gates.contract.ledger import Row
from gates.contract.noise import Noise
from gates.contract.ledger import parse_ledger
from gates.model import Finding
from gates.model import GateError
from gates.contract.spec import Spec

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


def new_rows(ctx: CheckContext, spec: Spec) -> list[tuple[int, Row]]:
    """(index, row) of the rows the head ledger has beyond the base's; none when the head ledger
    does not parse (``integrity.ledger_rows`` reports that)."""
    base = trees.base_ledger(ctx, spec)
    text = trees.read_text(ctx.head_tree, spec.ledger)
    if text is None:
        return []
    try:
        head = parse_ledger(text, spec.ledger)
    except GateError:
        return []
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


def remeasure(ctx: CheckContext, spec: Spec) -> list[Finding]:
    """Findings for every new row whose figures this engine does not reproduce."""
    rows = new_rows(ctx, spec)
    if not rows or not measures(ctx):
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
        if repo_mod.try_resolve(repo, row.commit) is None:
            out.append(Finding(GATE, f'{name}: its commit is not in this history, so its figures '
                                     f'cannot be re-measured; rows are written by `gates accept`',
                               spec.ledger, line, stage=row.stage))
            continue
        if not row.measured_like_this_engine():
            out.append(Finding(GATE, f'{name}: its figures were measured with memory method '
                                     f'{row.memory_method!r}, this engine measures {MEMORY_METHOD!r}: '
                                     f'they cannot be re-measured; run `gates accept` with this engine',
                               spec.ledger, line, stage=row.stage))
            continue
        missing = [w.id for w in workloads if w.id not in row.workloads]
        if missing:
            out.append(Finding(GATE, f'{name}: no figures for {", ".join(missing)} (accept measures '
                                     f'the full tier, which holds the ci workloads)',
                               spec.ledger, line, stage=row.stage))
        wanted = spec.variant(tuple(range(row.stage + 1)))
        with repo_mod.export(repo, row.commit) as tree, tempfile.TemporaryDirectory(prefix='stagegate-trust-') as cap:
            variant = measure.effective(ctx, tree, wanted)
            for workload in workloads:
                recorded = row.workloads.get(workload.id)
                if recorded is None:
                    continue
                ctx.progress(f'integrity: re-measuring ledger {name} at {workload.id}')
                proof = probe.proof_run(
                    spec.subject, tree, workload.id, workload.params, variant, measure.stage_ids(spec),
                )
                if proof.sha256 != recorded.proof_sha256:
                    out.append(Finding(
                        GATE, f'{name}: proof sha256 re-measured {proof.sha256[:12]}, the row records '
                              f'{recorded.proof_sha256[:12]}: the row was not measured by the engine '
                              f'(forged or stale); drop it and run `gates accept`',
                        spec.ledger, line, workload=workload.id, stage=row.stage,
                    ))
                mem = probe.memory_run(
                    spec.subject, tree, workload.id, workload.params, variant,
                    measure.stage_ids(spec), Path(cap), label='ledger-row', progress=ctx.progress,
                    # The spec's measure: a command subject's rows hold RSS peaks (issue 8.5).
                    measure=spec.budgets.memory.measure,
                )
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
                            spec.ledger, line, workload=workload.id, stage=row.stage,
                            figure=None if now is None else float(now),
                        ))
    return out
