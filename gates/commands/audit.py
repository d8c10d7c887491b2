"""``gates audit [ROW]``: re-measure a ledger row at its commit, in a temporary worktree.

The row's stage is put back "under conversion" (the ledger as it was before the row), the proof,
memory and time gates measure that commit, and the fresh figures are compared with the row
(``gates.contract.ledger.compare_row``): same proof digest, peaks within the memory tolerance, time
ratios still under budget.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TextIO

from gates.vcs import repo as repo_mod
from gates.session import RUNNERS
from gates.session import figures
from gates.session import progress
from gates.session import run_gates
from gates.session import spec_relpath
from gates.context import CheckContext
from gates.contract.ledger import Ledger
from gates.contract.ledger import compare_row
from gates.contract.ledger import read_ledger
from gates.model import GateError
from gates.contract.spec import load_spec
from gates.vcs.trees import read_text

MEASURING = ('proof', 'memory', 'time')


def audit(
        cwd: Path,
        spec: str | None,
        row_index: int | None,
        out: TextIO,
        only: tuple[str, ...] = (),
) -> int:
    repo = repo_mod.open_repo(cwd)
    root = repo_mod.root(repo)
    spec_rel = spec_relpath(root, spec)
    current = load_spec(root / spec_rel, spec_rel)
    ledger = read_ledger(root / current.ledger, current.ledger)
    if not ledger.rows:
        raise GateError(f'{ledger.path} has no rows to audit; accept a stage first.')
    index = len(ledger.rows) - 1 if row_index is None else row_index
    if not 0 <= index < len(ledger.rows):
        raise GateError(f'{ledger.path} has rows 0..{len(ledger.rows) - 1}; there is no row {index}.')
    row = ledger.rows[index]
    unknown = [w for w in only if w not in row.workloads]
    if unknown:
        raise GateError(
            f'--workload {unknown[0]}: row {index} has figures for {", ".join(sorted(row.workloads))} only.',
        )
    repo_mod.resolve(repo, row.commit, 'the row\'s commit')
    with contextlib.ExitStack() as stack:
        head_tree = stack.enter_context(repo_mod.export(repo, row.commit))
        # The spec the row was accepted under, from its own commit.
        the_spec = load_spec(head_tree / spec_rel, spec_rel)
        the_oracle, note = repo_mod.oracle(
            repo, the_spec.baseline_ref, read_text(head_tree, the_spec.golden), the_spec.golden,
        )
        if note:
            progress(note)
        base_rev = the_oracle.sha
        base_tree = stack.enter_context(repo_mod.export(repo, base_rev))
        # Bounded time: one workload at a time is one ci-sized run, not the whole full tier.
        workloads = tuple(the_spec.workload(wid) for wid in sorted(only or row.workloads))
        ctx = CheckContext(
            spec=the_spec,
            repo_root=root,
            base_rev=base_rev,
            head_tree=head_tree,
            base_tree=base_tree,
            tier='audit',
            workloads=workloads,
            stage_under_conversion=the_spec.stage(row.stage),
            ledger=Ledger(ledger.path, ledger.rows[:index]),
            changed=repo_mod.changed_paths(repo, base_rev, row.commit),
            progress=progress,
            oracle_rev=base_rev,
            oracle_tree=base_tree,
        )
        out.write(f'gates: auditing row {index} (stage {row.stage}, {row.stage_name}) at {row.commit[:12]}\n')
        verdicts, _ = run_gates(ctx, MEASURING, RUNNERS)
        failed = [v for v in verdicts if not v.passed]
        for v in failed:
            for f in v.findings:
                out.write(f'  {v.gate}: {f.render()}\n')
        if failed:
            out.write(f'gates: row {index} does not reproduce: {", ".join(v.gate for v in failed)} failed.\n')
            return 1
        measured = figures(verdicts, [w.id for w in workloads])
        findings = compare_row(the_spec, row, measured, only=tuple(w.id for w in workloads))
    for f in findings:
        out.write(f'  {f.render()}\n')
    if findings:
        out.write(f'gates: row {index} does not reproduce.\n')
        return 1
    out.write(f'gates: row {index} reproduces (proof digests identical, peaks within tolerance).\n')
    return 0
