"""``gates check``: build the context once, run the gates in order, report (gates/session.py);
``--shard K/N`` runs one share of the tier and writes it for ``gates merge``."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gates.context import CheckContext
from gates.measuring import measure
from gates.model import GATE_NAMES
from gates.model import GateError
from gates.model import Verdict
from gates.reports import report
from gates.session import emit
from gates.session import prepared
from gates.session import run_gates
from gates.vcs import repo as repo_mod
from gates.vcs.trees import read_text


def check(
        cwd: Path,
        spec: str | None,
        tier: str,
        gate_names: Sequence[str],
        base: str | None,
        as_json: bool,
        staged: bool,
        out: TextIO,
        shard: str | None = None,
        shard_out: Path | None = None,
) -> int:
    repo = repo_mod.open_repo(cwd)
    if shard is not None and shard_out is None:
        raise GateError(f'--shard {shard}: --out FILE is required (where the partial result goes).')
    if shard is not None:
        from gates.reports.shard import parse_shard
        parse_shard(shard)
    if shard is not None and gate_names:
        raise GateError(f'--shard {shard}: --gate cannot narrow a sharded run; a shard runs its share of the whole tier.')
    with prepared(repo, spec, tier, base, staged) as (ctx, info):
        if gate_names:
            names = [g for g in GATE_NAMES if g in gate_names]
        else:
            # The spec may narrow a fast local tier (never ci or full, which the loader refuses).
            names = list(ctx.spec.tier_gate_names(tier))
            skipped = [g for g in GATE_NAMES if g not in names]
            if skipped:
                ctx.progress(
                    f'gates: tier {tier} runs {", ".join(names)} (spec tier_gates); '
                    f'{", ".join(skipped)} run in the ci and full tiers',
                )
        if shard is not None and shard_out is not None:
            # Issue 18: this shard's share of the tier, written as a partial result (gates/reports/shard.py).
            return run_shard(ctx, info, names, shard, shard_out, as_json, out)
        if measure.allow_warm_jit(ctx, names):
            ctx.progress(
                'gates: proof runs start from the warm JIT store (tier judges proof bytes only; '
                'STAGEGATE_JIT_CACHE=off for a cold private cache)',
            )
        verdicts, seconds = run_gates(ctx, names, concurrent=True)
        measure.flush_store(ctx)
        emit(info, verdicts, seconds, as_json, out)
    return report.exit_code(verdicts)


def run_shard(
        ctx: CheckContext,
        info: report.RunInfo,
        names: Sequence[str],
        shard_text: str,
        path: Path,
        as_json: bool,
        out: TextIO,
        purpose: str = 'check',
) -> int:
    """Run shard K/N's units of the plan (gates/reports/shard.py) and write its partial result:
    the static gates on the whole tier in shard 1, each measuring gate on the workloads it owns."""
    from gates.measuring import treedigest
    from gates.reports import shard as sharding
    shard = sharding.parse_shard(shard_text)
    owned = sharding.plan(ctx.workloads, names, shard.count)[shard.index - 1]
    # What this shard judges, digested before any subject runs (the merge compares them).
    trees = {'head': treedigest.digest(ctx.head_tree).hexdigest,
             'base': treedigest.digest(ctx.base_tree).hexdigest,
             'oracle': treedigest.digest(ctx.oracle_tree or ctx.base_tree).hexdigest}
    static = [g for g in names if g in sharding.STATIC_GATES] if shard.index == 1 else []
    units = static + [f'{g} {w}' for w, g in owned]
    ctx.progress(f'gates: shard {shard.shown()}: {", ".join(units) or "nothing to run"}')
    verdicts: list[Verdict] = []
    seconds: dict[str, float] = {}
    all_ids = [w.id for w in ctx.workloads]
    for name in names:
        if name in sharding.STATIC_GATES:
            if shard.index != 1:
                continue
            sub = ctx
        else:
            mine = tuple(w for w in ctx.workloads if (w.id, name) in owned)
            if not mine:
                continue
            sub = dataclasses.replace(ctx, workloads=mine)
        found, took = run_gates(sub, [name])
        verdicts += [sharding.strip_growth(v, all_ids) if v.gate == 'memory' else v for v in found]
        seconds.update(took)
    doc = report.document(info, verdicts, seconds)
    spec_text = read_text(ctx.head_tree, info.spec) or ''
    sharding.write(path, sharding.result(shard, purpose, doc, owned, shard.index == 1, trees, spec_text))
    # The partial table (or document) only: annotations and the job summary come from the merge.
    out.write(report.dumps(doc) if as_json else report.table(info, verdicts, seconds))
    ctx.progress(f'gates: shard {shard.shown()} written to {path}; `gates merge` gives the verdict')
    return report.exit_code(verdicts)


def json_error(message: str, out: TextIO) -> None:
    out.write(json.dumps(report.error_document(message), indent=2, sort_keys=True) + '\n')
