"""``gates freeze``: make the golden digests from the baseline ref (the oracle), once.

Proves every workload the spec declares with the baseline variant in a private export of the
baseline ref, requires the subject's verifier to accept each proof, and writes ``spec.golden``
(``{"schema": 1, "baseline_commit": sha, "workloads": {id: {"sha256", "size"}}}``). It never
commits: the golden file is a gate asset and goes in a commit of its own. Writing over existing
digests that differ is refused unless ``--force`` (the integrity gate would call it a loosening);
a deliberate new baseline is ``gates rebaseline``, which also bumps the spec and resets the ledger.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import git

from gates.measuring import probe
from gates.vcs import repo as repo_mod
from gates.commands.check import spec_relpath
from gates.model import GateError
from gates.contract.spec import Spec
from gates.contract.spec import Workload
from gates.contract.spec import load_spec


def digests(
        spec: Spec,
        tree: Path,
        workloads: Sequence[Workload],
        say: Callable[[str], None],
) -> dict[str, dict[str, object]]:
    """``{workload id: {"sha256", "size"}}`` of the baseline variant proved in ``tree``; a proof
    its own verifier rejects is an error (never an oracle)."""
    variant = spec.variant(())
    stages = [s.id for s in spec.stages]
    out: dict[str, dict[str, object]] = {}
    for w in workloads:
        say(f'freeze {w.id}: proving ...')
        run = probe.proof_run(spec.subject, tree, w.id, w.params, variant, stages)
        if run.verify_ok is False:
            raise GateError(f'{w.id}: the baseline\'s own verifier rejects its proof ({run.verify_message}).')
        out[w.id] = {'sha256': run.sha256, 'size': run.size}
    return out


def golden_of(repo: git.Repo, spec: Spec, commit: str, say: Callable[[str], None]) -> dict[str, dict[str, object]]:
    """The digests of every workload the spec declares (every tier's), made at ``commit``."""
    with repo_mod.export(repo, commit) as tree:
        return digests(spec, tree, spec.workloads, say)


def freeze(cwd: Path, spec: str | None, ref: str | None, force: bool, out: TextIO) -> int:
    repo = repo_mod.open_repo(cwd)
    root = repo_mod.root(repo)
    spec_rel = spec_relpath(root, spec)
    the_spec = load_spec(root / spec_rel, spec_rel)
    rev = ref or the_spec.baseline_ref
    commit = repo_mod.resolve(repo, rev, 'baseline ref')

    def say(line: str) -> None:
        out.write(f'{line} (at {commit[:12]})\n')
        out.flush()

    workloads = golden_of(repo, the_spec, commit, say)
    path = root / the_spec.golden
    if path.exists() and not force:
        old = json.loads(path.read_text()).get('workloads', {})
        changed = sorted(k for k, v in old.items() if workloads.get(k) != v)
        if changed:
            raise GateError(
                f'{the_spec.golden}: digests of {", ".join(changed)} would change; the golden '
                'digests are the oracle. For a new baseline on purpose, run `gates rebaseline REF '
                '--reason ...` (or pass --force to overwrite the file alone).',
            )
    doc = {'schema': 1, 'baseline_commit': commit, 'workloads': workloads}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + '\n')
    out.write(f'wrote {the_spec.golden}: {len(workloads)} workloads from {commit[:12]}; commit it on its own\n')
    return 0
