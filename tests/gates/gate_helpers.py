"""Helpers for the proof/memory/time/probe tests (G3): a CheckContext on a tiny toy repo, built
the way the CLI builds it, and free-form subjects written into a folder."""
from __future__ import annotations

import contextlib
import dataclasses
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gates.vcs import repo as gitrepo
from gates.context import CheckContext
from gates.contract.ledger import read_ledger
from gates.contract.ledger import stage_under_conversion
from gates.contract.spec import Spec
from gates.contract.spec import Subject
from gates.contract.spec import Workload
from gates.contract.spec import load_spec


def quiet(message: str) -> None:
    del message


@contextlib.contextmanager
def toy_context(
        repo: Path,
        *,
        tier: str = 'ci',
        params: dict[str, Any] | None = None,
        spec: Spec | None = None,
) -> Iterator[CheckContext]:
    """A context judging ``repo``'s working tree against a worktree of its baseline tag.

    ``params`` are merged into every workload's params (e.g. ``sleep_ms`` for the time gate).
    """
    spec = spec or load_spec(repo / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    if params:
        spec = dataclasses.replace(spec, workloads=tuple(
            dataclasses.replace(w, params={**w.params, **params}) for w in spec.workloads
        ))
    ledger = read_ledger(repo / spec.ledger, spec.ledger)
    git_repo = gitrepo.open_repo(repo)
    with gitrepo.worktree(git_repo, spec.baseline_ref) as base:
        yield CheckContext(
            spec=spec, repo_root=repo, base_rev=spec.baseline_ref, head_tree=repo,
            base_tree=base, tier=tier, workloads=spec.tier_workloads(tier),
            stage_under_conversion=stage_under_conversion(spec, ledger), ledger=ledger,
            changed=[], progress=quiet,
        )


def python_subject(root: str = '.', module: str = 'subj') -> Subject:
    return Subject(
        kind='python', root=root, prove=f'{module}:prove', verify=f'{module}:verify',
        sections=f'{module}:sections', capabilities=f'{module}:capabilities', argv=(),
    )


def write_subject(tree: Path, prove_body: str, module: str = 'subj', extra: str = '') -> Path:
    """A one-file python subject whose ``prove`` body is ``prove_body`` (3 stages, ids 0..2)."""
    tree.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent('''\
        import os
        import time
        {extra}

        def prove(params, variant, observer):
        {body}

        def verify(params, proof):
            return proof == b'PROOF', 'ok' if proof == b'PROOF' else 'bad'

        def sections(proof):
            return [(0, 0, 1), (1, 1, 2), (2, 3, 2)]

        def capabilities():
            return {{'0': ['materialized'], '1': ['materialized'], '2': ['materialized']}}
    ''').format(extra=extra, body=textwrap.indent(textwrap.dedent(prove_body), '    '))
    path = tree / f'{module}.py'
    path.write_text(text, encoding='utf-8')
    return path


def workload(wid: str = 'w', **params: Any) -> Workload:
    return Workload(wid, params, 1)
