"""``gates accept``: run every gate on the full tier, then record the stage in the ledger.

The figures of the new row come from the verdicts' details (one measurement per run):
- proof:  ``details["workloads"][wid]["sha256"]``
- memory: ``details["workloads"][wid]["candidate"]["stage_peaks"|"whole_run_peak"]``
- time:   ``details["workloads"][wid]["ratio_total"]``, ``["ratio_stages"]`` (stage id -> ratio)
  and ``["ratio_units"]`` (``unit:0+8`` -> ratio, recorded as ``0+8``)
Only ``specs/ledger.json`` is committed; the tree must be clean, so that the row's commit is
exactly what was measured.
"""
from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TextIO

from gates.vcs import repo as repo_mod
from gates.commands.check import GATES
from gates.commands.check import emit
from gates.commands.check import prepared
from gates.commands.check import run_gates
from gates.commands.focus import optimisation_row_name
from gates.commands.status import human_bytes
from gates.context import CheckContext
from gates.contract.ledger import WorkloadFigures
from gates.contract.ledger import append_row
from gates.contract.ledger import make_row
from gates.contract.ledger import read_ledger
from gates.model import GateError
from gates.model import Verdict
from gates.contract.spec import Stage

TIER = 'full'


def _memory_strict(ctx: CheckContext) -> Verdict:
    # Imported here: accept needs the gate's strict mode (the stage must really be converted).
    from gates.checks import memory
    return memory.run(ctx, require_conversion=True)


RUNNERS: Mapping[str, Callable[[CheckContext], Verdict]] = {'memory': _memory_strict}


def _workload_details(verdicts: Sequence[Verdict], gate: str, wid: str) -> Mapping[str, Any]:
    for v in verdicts:
        if v.gate == gate:
            found = v.details.get('workloads', {}).get(wid)
            if isinstance(found, Mapping):
                return found
    raise RuntimeError(f'the {gate} verdict has no figures for workload {wid}')


def figures(verdicts: Sequence[Verdict], workload_ids: Sequence[str]) -> dict[str, WorkloadFigures]:
    """The ledger figures of each workload, out of the passing verdicts' details."""
    out = {}
    for wid in workload_ids:
        proof = _workload_details(verdicts, 'proof', wid)
        memory = _workload_details(verdicts, 'memory', wid)['candidate']
        time = _workload_details(verdicts, 'time', wid)
        out[wid] = WorkloadFigures(
            stage_peaks={str(k): int(v) for k, v in memory['stage_peaks'].items()},
            whole_run_peak=int(memory['whole_run_peak']),
            time_ratio_total=float(time['ratio_total']),
            time_ratio_stages={str(k): float(v) for k, v in time['ratio_stages'].items()},
            proof_sha256=str(proof['sha256']),
            # the time gate names a unit 'unit:0+8'; the row keeps '0+8'
            time_ratio_units={str(k).split(':', 1)[-1]: float(v)
                              for k, v in (time.get('ratio_units') or {}).items()},
        )
    return out


def message(stage: Stage, commit: str, measured: Mapping[str, WorkloadFigures], verdicts: Sequence[Verdict]) -> str:
    lines = [f'gates: accept stage {stage.id} ({stage.name})', '']
    lines.append(f'Measured at {commit} (tier {TIER}).')
    for wid, f in sorted(measured.items()):
        ref = _workload_details(verdicts, 'memory', wid).get('reference', {})
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


def accept(cwd: Path, spec: str | None, base: str | None, out: TextIO) -> int:
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
        verdicts, seconds = run_gates(ctx, GATES, RUNNERS)
        emit(info, verdicts, seconds, False, out)
        if not all(v.passed for v in verdicts):
            out.write(f'gates: stage {stage.id} ({stage.name}) not accepted.\n')
            return 1
        measured = figures(verdicts, [w.id for w in ctx.workloads])
        ledger_rel = ctx.spec.ledger
    root = repo_mod.root(repo)
    ledger_path = root / ledger_rel
    # Re-read: the measured tree was clean, so the file is still the one the gates judged.
    ledger = read_ledger(ledger_path, ledger_rel)
    before = ledger_path.read_bytes()
    row = make_row(stage, head, False, measured)
    append_row(ledger_path, ledger, row)
    try:
        sha = repo_mod.commit_file(repo, ledger_rel, message(stage, head, measured, verdicts))
    except BaseException:
        # Leave no half-accepted state: the ledger file goes back to what was committed.
        ledger_path.write_bytes(before)
        repo.index.add([ledger_rel])
        raise
    out.write(f'gates: accepted stage {stage.id} ({stage.name}); ledger committed as {sha[:12]}\n')
    return 0
