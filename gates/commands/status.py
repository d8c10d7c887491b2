"""``gates status`` (stages, accepted or not, ledger figures) and ``gates next`` (the brief)."""
from __future__ import annotations

from pathlib import Path
from typing import TextIO

from gates import repo as repo_mod
from gates.commands.check import spec_relpath
from gates.ledger import Ledger
from gates.ledger import read_ledger
from gates.ledger import stage_under_conversion
from gates.spec import Spec
from gates.spec import load_spec


def human_bytes(n: float) -> str:
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(n) < 1024 or unit == 'GiB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1024
    return f'{n:.1f} GiB'


def load(cwd: Path, spec: str | None) -> tuple[Spec, Ledger]:
    root = repo_mod.root(repo_mod.open_repo(cwd))
    spec_rel = spec_relpath(root, spec)
    the_spec = load_spec(root / spec_rel, spec_rel)
    return the_spec, read_ledger(root / the_spec.ledger, the_spec.ledger)


def status(cwd: Path, spec: str | None, out: TextIO) -> int:
    the_spec, ledger = load(cwd, spec)
    current = stage_under_conversion(the_spec, ledger)
    out.write(f'{the_spec.name}: {len(ledger.rows)} of {len(the_spec.stages)} stages accepted\n\n')
    for stage in the_spec.stages:
        row = ledger.row_for_stage(stage.id)
        if row is not None:
            state = f'accepted at {row.commit[:12]}{" (dirty)" if row.dirty else ""}'
        elif current is not None and stage.id == current.id:
            state = 'under conversion'
        else:
            state = 'materialized'
        out.write(f'  {stage.id}  {stage.name:<20} {state}\n')
        if row is None:
            continue
        for wid, figures in sorted(row.workloads.items()):
            peak = figures.stage_peaks.get(str(stage.id))
            ratio = figures.time_ratio_stages.get(str(stage.id))
            out.write(
                f'       {wid}: in-stage peak {human_bytes(peak) if peak is not None else "?"}, '
                f'whole run {human_bytes(figures.whole_run_peak)}, '
                f'time x{figures.time_ratio_total:.2f}'
                f'{f" (stage x{ratio:.2f})" if ratio is not None else ""}, '
                f'proof {figures.proof_sha256[:12]}\n',
            )
    return 0


def next_stage(cwd: Path, spec: str | None, out: TextIO) -> int:
    the_spec, ledger = load(cwd, spec)
    current = stage_under_conversion(the_spec, ledger)
    if current is None:
        out.write(f'All {len(the_spec.stages)} stages are accepted; nothing left to convert.\n')
        return 0
    out.write(f'Stage {current.id} ({current.name}) is under conversion.\n')
    out.write(f'It may touch: {", ".join(current.paths)}\n')
    if the_spec.shared_paths:
        out.write(f'and the shared paths: {", ".join(the_spec.shared_paths)}\n')
    if current.brief:
        out.write(f'\n{current.brief.strip()}\n')
    out.write('\nWhen `gates check --tier full` passes, run `gates accept`.\n')
    return 0
