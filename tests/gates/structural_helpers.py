"""Helpers for the api/scope/integrity tests (G2): run one structural gate on a tiny repo with the
context built exactly as ``gates check`` builds it (real git, real temporary worktree)."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import git
from gates.vcs import repo as repo_mod
from gates.session import prepared
from gates.contract.ledger import WorkloadFigures
from gates.contract.ledger import append_row
from gates.contract.ledger import make_row
from gates.contract.ledger import read_ledger
from gates.model import Verdict
from gates.contract.spec import load_spec


def quiet(message: str) -> None:
    del message


def run_gate(
        repo: Path,
        gate: str,
        *,
        staged: bool = False,
        base: str | None = None,
        after_prepare: Callable[[], None] | None = None,
        edit_head_tree: Callable[[Path], None] | None = None,
) -> Verdict:
    """The verdict of ``gates.<gate>.run`` on ``repo`` (working tree, or the staged index).

    ``after_prepare`` runs once the context is built (to make edits that would stop ``gates
    check`` before any gate runs, e.g. a ledger that does not parse)."""
    module = importlib.import_module(f'gates.checks.{gate}')
    with prepared(repo_mod.open_repo(repo), None, 'ci', base, staged, log=quiet) as (ctx, _info):
        if after_prepare is not None:
            after_prepare()
        if edit_head_tree is not None:
            # The tree under judgement is a private export: edits after prepare go there.
            edit_head_tree(ctx.head_tree)
        verdict: Verdict = module.run(ctx)
    return verdict


def rendered(verdict: Verdict) -> str:
    return '\n'.join(f.render() for f in verdict.findings)


def _figures() -> dict[str, WorkloadFigures]:
    return {
        wid: WorkloadFigures({'0': 70000, '1': 4300000, '2': 4300000}, 4400000, 1.05,
                             {'0': 1.1, '1': 1.0, '2': 1.0}, 'ab' * 32)
        for wid in ('toy-12', 'toy-13')
    }


def accept_like_gates(repo: Path, stage: int, figures: dict[str, WorkloadFigures] | None = None) -> str:
    """Append and commit a ledger row the way ``gates accept`` does (only the ledger, subject
    ``gates: accept stage N (name)``, the row naming the parent commit). Returns the commit.
    Without ``figures`` the row's figures are invented (a forged row, as a ci-tier integrity
    check then reports); ``_change_helpers.engine_figures`` gives really measured ones."""
    spec = load_spec(repo / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    path = repo / spec.ledger
    head = git(repo, 'rev-parse', 'HEAD')
    append_row(path, read_ledger(path, spec.ledger), make_row(spec.stage(stage), head, False, figures or _figures()),
               spec)
    git(repo, 'add', spec.ledger)
    git(repo, 'commit', '-q', '--no-verify', '-m', f'gates: accept stage {stage} ({spec.stage(stage).name})\n\nmeasured')
    return git(repo, 'rev-parse', 'HEAD')


def hand_written_row(repo: Path, stage: int) -> dict[str, object]:
    """A row with a valid digest, as someone could compute it by hand (no `gates accept`)."""
    spec = load_spec(repo / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    row = make_row(spec.stage(stage), git(repo, 'rev-parse', 'HEAD'), False, _figures())
    return row.to_dict()


def append_raw_row(repo: Path, row: dict[str, object]) -> None:
    path = repo / 'specs/ledger.json'
    doc = json.loads(path.read_text())
    doc['rows'].append(row)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + '\n')



def gates_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m gates ...`` in ``repo`` as a user would run it (no git/GitHub env leaking in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))}
    return subprocess.run(
        (sys.executable, '-m', 'gates', *args), cwd=repo, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, check=False,
    )
