"""``gates status`` (stages, accepted or not, ledger figures) and ``gates next`` (the brief; with
``--format agent`` the agent brief of gates/reports/brief.py).

Both speak the spec's mode (gates/contract/focus.py): a conversion has a stage under conversion;
an optimisation has a target (a stage or the whole run) and numbered ledger rows.
"""
from __future__ import annotations

from pathlib import Path
from typing import TextIO

from gates.contract.focus import Focus
from gates.contract.focus import focus
from gates.contract.focus import order_note
from gates.contract.ledger import Ledger
from gates.contract.ledger import Row
from gates.contract.spec import Spec
from gates.reports.brief import agent_brief
from gates.reports.report import human_bytes
from gates.session import load


def _figures(row: Row, stage_id: int | None, out: TextIO) -> None:
    for wid, figures in sorted(row.workloads.items()):
        peak = figures.stage_peaks.get(str(stage_id)) if stage_id is not None else None
        ratio = figures.time_ratio_stages.get(str(stage_id)) if stage_id is not None else None
        in_stage = '' if stage_id is None else (
            f'in-stage peak {human_bytes(peak) if peak is not None else "?"}, ')
        out.write(
            f'       {wid}: {in_stage}'
            f'whole run {human_bytes(figures.whole_run_peak)}, '
            f'time x{figures.time_ratio_total:.2f}'
            f'{f" (stage x{ratio:.2f})" if ratio is not None else ""}, '
            f'proof {figures.proof_sha256[:12]}\n',
        )


def _accepted_at(row: Row) -> str:
    return f'accepted at {row.commit[:12]}{" (dirty)" if row.dirty else ""}'


def _optimisation_status(spec: Spec, ledger: Ledger, now: Focus, out: TextIO) -> int:
    rows = len(ledger.rows)
    out.write(f'{spec.name}: optimisation of {now.target} (mode: optimisation; nothing converts), '
              f'{rows} optimisation{"" if rows == 1 else "s"} accepted\n\n')
    for stage in spec.stages:
        mark = 'target' if now.stage is not None and stage.id == now.stage.id else (
            'in the target' if now.stage is None else 'reported, not judged')
        out.write(f'  {stage.id}  {stage.name:<20} {mark}\n')
    if ledger.rows:
        out.write('\n')
    for row in ledger.rows:
        out.write(f'  row {row.stage}  {row.stage_name:<30} {_accepted_at(row)}\n')
        figures_stage = spec.target if row.stage_name == now.row_name else None
        _figures(row, figures_stage, out)
    out.write(f'\nThe next `gates accept` records ledger row {now.next_row} ({now.row_name}).\n')
    return 0


def status(cwd: Path, spec: str | None, out: TextIO) -> int:
    the_spec, ledger = load(cwd, spec)
    now = focus(the_spec, ledger)
    if now.optimising:
        return _optimisation_status(the_spec, ledger, now, out)
    current = now.stage
    note = order_note(the_spec)
    out.write(f'{the_spec.name}: {len(ledger.rows)} of {len(the_spec.stages)} stages accepted'
              f'{f"; {note}" if note else ""}\n\n')
    for stage in the_spec.stages:
        row = ledger.row_for_stage(stage.id)
        if row is not None:
            state = _accepted_at(row)
        elif current is not None and stage.id == current.id:
            state = 'under conversion'
        else:
            state = 'materialized'
        out.write(f'  {stage.id}  {stage.name:<20} {state}\n')
        if row is not None:
            _figures(row, stage.id, out)
    return 0


def next_stage(cwd: Path, spec: str | None, out: TextIO) -> int:
    the_spec, ledger = load(cwd, spec)
    now = focus(the_spec, ledger)
    if now.done:
        out.write(f'All {len(the_spec.stages)} stages are accepted; nothing left to convert.\n')
        return 0
    if now.optimising:
        time = the_spec.budgets.time
        judged = ('end to end' if now.stage is None else f'in stage {now.stage.id}')
        out.write(f'Optimisation of {now.target}: nothing converts. The same proof bytes, '
                  f'faster {judged}: under {time.ratio_lt:g}x the baseline\'s time, and no stage '
                  'nor the whole run using more memory than the reference.\n')
    elif now.stage is not None:
        note = order_note(the_spec)
        out.write(f'Stage {now.stage.id} ({now.stage.name}) is under conversion'
                  f'{f" ({note})" if note else ""}.\n')
    paths = now.paths(the_spec)
    if paths:
        out.write(f'It may touch: {", ".join(paths)}\n')
    if the_spec.shared_paths:
        out.write(f'and the shared paths: {", ".join(the_spec.shared_paths)}\n')
    rooms = the_spec.closed_rooms(ledger.accepted_stages())
    if rooms:
        out.write('but not the closed rooms of accepted stages (rooms: closed): '
                  + '; '.join(f'stage {s.id}: {", ".join(s.paths)}' for s in rooms) + '\n')
    if now.stage is not None and now.stage.brief:
        out.write(f'\n{now.stage.brief.strip()}\n')
    if now.optimising:
        out.write(f'\nWhen `gates check --tier full` passes, `gates accept` records ledger row '
                  f'{now.next_row} ({now.row_name}).\n')
    else:
        out.write('\nWhen `gates check --tier full` passes, run `gates accept`.\n')
    return 0


def next_agent(cwd: Path, spec: str | None, out: TextIO) -> int:
    the_spec, ledger = load(cwd, spec)
    out.write(agent_brief(the_spec, ledger))
    return 0
