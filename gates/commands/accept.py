"""``gates accept``: run every gate on the full tier, then record the stage in the ledger.

The figures of the new row come from the verdicts' details (``gates.session.figures``; one
measurement per run):
- proof:  ``details["workloads"][wid]["sha256"]``
- memory: ``details["workloads"][wid]["candidate"]["stage_peaks"|"whole_run_peak"]``
- time:   ``details["workloads"][wid]["ratio_total"]``, ``["ratio_stages"]`` (stage id -> ratio)
  and ``["ratio_units"]`` (``unit:0+8`` -> ratio, recorded as ``0+8``)
Only ``specs/ledger.json`` is committed; the tree must be clean, so that the row's commit is
exactly what was measured.
"""
from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gates.context import CheckContext
from gates.contract.focus import optimisation_row_name
from gates.contract.ledger import WorkloadFigures
from gates.contract.ledger import append_row
from gates.contract.ledger import make_row
from gates.contract.ledger import read_ledger
from gates.contract.spec import Stage
from gates.model import GATE_NAMES
from gates.model import Finding
from gates.model import GateError
from gates.model import Verdict
from gates.reports import report
from gates.reports import shard as sharding
from gates.reports.report import human_bytes
from gates.session import RUNNERS
from gates.session import emit
from gates.session import figures
from gates.session import prepared
from gates.session import run_gates
from gates.session import workload_details
from gates.vcs import repo as repo_mod

TIER = 'full'


def message(stage: Stage, commit: str, measured: Mapping[str, WorkloadFigures], verdicts: Sequence[Verdict]) -> str:
    lines = [f'gates: accept stage {stage.id} ({stage.name})', '']
    lines.append(f'Measured at {commit} (tier {TIER}).')
    for wid, f in sorted(measured.items()):
        ref = workload_details(verdicts, 'memory', wid).get('reference', {})
        before = ref.get('stage_peaks', {}).get(str(stage.id))
        peak = f.stage_peaks.get(str(stage.id), 0)
        change = f' (was {human_bytes(before)}, {peak / before - 1:+.1%})' if before else ''
        lines.append(
            f'{wid}: stage {stage.id} in-stage peak {human_bytes(peak)}{change}; '
            f'whole run {human_bytes(f.whole_run_peak)}; time x{f.time_ratio_total:.2f} '
            f'(stage x{f.time_ratio_stages.get(str(stage.id), float("nan")):.2f}); '
            f'proof {f.proof_sha256[:12]}',
        )
    return '\n'.join(lines) + '\n'


def optimisation_row(ctx: CheckContext) -> Stage:
    """The pseudo-stage an optimisation row is recorded under: its number, and what it sped up."""
    return Stage(len(ctx.ledger.rows), optimisation_row_name(ctx.spec), '', (), 0)


def _strict_memory(ctx: CheckContext, verdicts: Sequence[Verdict]) -> list[Verdict]:
    """The memory verdict as accept's strict mode gives it: a stage under conversion that runs
    the reference's backend on a workload is a finding, not a note (``judge``'s
    ``require_conversion``; shards run `gates check`, which only notes it)."""
    stage = ctx.stage_under_conversion
    if stage is None or ctx.spec.mode != 'conversion':
        return list(verdicts)
    out = []
    for v in verdicts:
        if v.gate != 'memory':
            out.append(v)
            continue
        found = list(v.findings)
        notes = list(v.details.get('notes', []))
        for wid, d in (v.details.get('workloads') or {}).items():
            if not isinstance(d, Mapping) or 'candidate' not in d:
                continue
            backend = d['candidate'].get('variant', {}).get(str(stage.id))
            was = d.get('reference', {}).get('variant', {}).get(str(stage.id))
            already = any(f.workload == wid and f.stage == stage.id and 'in-stage peak' in f.message for f in found)
            note = next((n for n in notes if isinstance(n, str) and n.startswith(f'{wid}: stage {stage.id} (')
                         and 'not yet converted' in n), None)
            if backend == was and not already:
                why = note.split(': ', 1)[1] if note else f'stage {stage.id} ({stage.name}) not yet converted'
                peak = d['candidate'].get('stage_peaks', {}).get(str(stage.id))
                found.append(Finding('memory', f'stage {stage.id} ({stage.name}) in-stage peak: {why}',
                                     workload=wid, stage=stage.id,
                                     figure=None if peak is None else float(peak)))
            if backend == was and note in notes:
                notes.remove(note)
        details = {**v.details, 'notes': notes}
        out.append(Verdict.from_findings('memory', found, details))
    return out


def _from_shards(
        ctx: CheckContext, info: report.RunInfo, head: str, paths: Sequence[Path],
) -> tuple[list[Verdict], dict[str, float], report.RunInfo]:
    """The verdicts of `gates check --tier full --shard K/N` results, after checking that they
    judged exactly what accept would run on (HEAD, clean, the same trees and engine)."""
    from gates.checks.memory import judge_growth
    from gates.measuring import treedigest
    merged = sharding.combine(paths, judge_growth)
    first = merged.loaded[0].path
    if merged.info.tier != TIER:
        raise GateError(f'{first}: tier {merged.info.tier}: accept records the {TIER} tier; run the '
                        f'shards with `gates check --tier {TIER} --shard K/N`.')
    if merged.info.head != head or merged.info.dirty or merged.info.head_tree != 'worktree':
        raise GateError(f'{first}: head {merged.info.head[:12]}{" (dirty)" if merged.info.dirty else ""}, '
                        f'but HEAD is {head[:12]} (clean): the shards judged another tree; run them on HEAD.')
    if merged.content('engine') != sharding.engine_digest():
        raise GateError(f'{first}: engine: the shards ran another engine than this one; accept with '
                        f'the engine that judged them, or run the shards again.')
    here = {'head': treedigest.digest(ctx.head_tree).hexdigest,
            'base': treedigest.digest(ctx.base_tree).hexdigest,
            'oracle': treedigest.digest(ctx.oracle_tree or ctx.base_tree).hexdigest}
    trees = merged.content('trees') or {}
    for key in ('head', 'base', 'oracle'):
        if trees.get(key) != here[key]:
            raise GateError(f'{first}: trees.{key}: the shards judged another {key} tree than accept '
                            f'sees here; run them on HEAD with the same --base.')
    return _strict_memory(ctx, merged.verdicts), merged.seconds, merged.info


def accept(
        cwd: Path, spec: str | None, base: str | None, out: TextIO,
        from_results: Sequence[Path] = (),
) -> int:
    repo = repo_mod.open_repo(cwd)
    dirty = repo_mod.dirty_paths(repo)
    if dirty:
        shown = ', '.join(dirty[:5]) + (' ...' if len(dirty) > 5 else '')
        raise GateError(
            f'the working tree has uncommitted changes ({shown}); commit or stash them first: '
            f'accept records the commit it measured.',
        )
    head = repo_mod.head_commit(repo)
    with prepared(repo, spec, TIER, base, staged=False) as (ctx, info):
        stage = ctx.stage_under_conversion
        if ctx.spec.mode == 'optimisation':
            # Issue 8.5: nothing converts; each accepted optimisation is the ledger's next row,
            # numbered in order (the integrity gate's "accept stage N" is the row number).
            stage = optimisation_row(ctx)
        elif stage is None:
            raise GateError(f'every stage of {ctx.spec.path} is already accepted.')
        if from_results:
            # Issue 18: the full tier was run as shards (possibly on N machines) and merged.
            verdicts, seconds, info = _from_shards(ctx, info, head, from_results)
        else:
            verdicts, seconds = run_gates(ctx, GATE_NAMES, RUNNERS)
        emit(info, verdicts, seconds, False, out)
        if not all(v.passed for v in verdicts):
            out.write(f'gates: stage {stage.id} ({stage.name}) not accepted.\n')
            return 1
        measured = figures(verdicts, [w.id for w in ctx.workloads])
        the_spec = ctx.spec
        ledger_rel = the_spec.ledger
        instrument = the_spec.budgets.memory.measure
    root = repo_mod.root(repo)
    ledger_path = root / ledger_rel
    # Re-read: the measured tree was clean, so the file is still the one the gates judged.
    ledger = read_ledger(ledger_path, ledger_rel)
    before = ledger_path.read_bytes()
    row = make_row(stage, head, False, measured, measure=instrument)
    # The row is the next of the spec's conversion order (an optimisation's: the next number).
    append_row(ledger_path, ledger, row, the_spec)
    try:
        sha = repo_mod.commit_file(repo, ledger_rel, message(stage, head, measured, verdicts))
    except BaseException:
        # Leave no half-accepted state: the ledger file goes back to what was committed.
        ledger_path.write_bytes(before)
        repo.index.add([ledger_rel])
        raise
    out.write(f'gates: accepted stage {stage.id} ({stage.name}); ledger committed as {sha[:12]}\n')
    return 0
