"""The golden digests: every workload's proof, made from the baseline in a tree or at a commit,
each accepted by the baseline's own verifier (``gates freeze`` writes them, ``gates rebaseline``
makes them anew)."""
from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

import git

from gates.contract.spec import Spec
from gates.contract.spec import Workload
from gates.measuring import measure
from gates.measuring import probe
from gates.model import GateError
from gates.vcs import repo as repo_mod


def digests(
        spec: Spec,
        tree: Path,
        workloads: Sequence[Workload],
        say: Callable[[str], None],
) -> dict[str, dict[str, object]]:
    """``{workload id: {"sha256", "size"}}`` of the baseline variant proved in ``tree``; a proof
    its own verifier rejects is an error (never an oracle)."""
    variant = spec.variant(())
    out: dict[str, dict[str, object]] = {}
    for w in workloads:
        say(f'freeze {w.id}: proving ...')
        run = probe.proof(measure.request(spec, tree, w, variant))
        if run.verify_ok is False:
            raise GateError(f'{w.id}: the baseline\'s own verifier rejects its proof ({run.verify_message}).')
        out[w.id] = {'sha256': run.sha256, 'size': run.size}
    return out


def golden_of(repo: git.Repo, spec: Spec, commit: str, say: Callable[[str], None]) -> dict[str, dict[str, object]]:
    """The digests of every workload the spec declares (every tier's), made at ``commit``."""
    with repo_mod.export(repo, commit) as tree:
        return digests(spec, tree, spec.workloads, say)
