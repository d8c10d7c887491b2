"""``gates freeze``: make the golden digests from the baseline ref (the oracle), once.

Proves every workload the spec declares with the baseline variant in a private export of the
baseline ref, requires the subject's verifier to accept each proof, and writes ``spec.golden``
(``{"schema": 1, "baseline_commit": sha, "workloads": {id: {"sha256", "size"}}}``). It never
commits: the golden file is a gate asset and goes in a commit of its own. Writing over existing
digests that differ is refused unless ``--force`` (the integrity gate would call it a loosening);
a deliberate new baseline is ``gates rebaseline``, which also bumps the spec and resets the ledger.

``--noise-runs N`` (issue 13.6) also measures the baseline's memory N times, each in fresh
processes, at the ci workloads (the spec's measure, the baseline variant) and records each
figure's spread under ``memory_noise`` (gates/contract/noise.py): the memory gate's bound per
figure. Without it an existing record is kept when the baseline commit and the measure are the
same, and dropped otherwise (it was measured on another baseline).
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from gates.contract import noise as noise_mod
from gates.contract.spec import Spec
from gates.contract.spec import load_spec
from gates.measuring import measure
from gates.measuring import probe
from gates.measuring.golden import digests
from gates.model import GateError
from gates.session import spec_relpath
from gates.vcs import repo as repo_mod


def measure_noise(
        spec: Spec, tree: Path, runs: int, say: Callable[[str], None],
) -> noise_mod.Noise:
    """The spread of every memory figure over ``runs`` measurements of the baseline variant in
    ``tree`` at the ci workloads (the tier the memory gate runs on every change)."""
    workloads = spec.tier_workloads('ci') if 'ci' in spec.tiers else spec.workloads
    variant = spec.variant(())
    instrument = spec.budgets.memory.measure
    figures: dict[str, list[dict[str, int]]] = {}
    for w in workloads:
        for i in range(runs):
            say(f'freeze {w.id}: memory noise, run {i + 1}/{runs} ...')
            with tempfile.TemporaryDirectory(prefix='stagegate-noise-') as cap:
                run = probe.memory(measure.request(spec, tree, w, variant), Path(cap), measure=instrument)
            figures.setdefault(w.id, []).append(
                noise_mod.figures(run.stage_peaks, run.whole_run_peak, run.retained),
            )
    return noise_mod.measured(instrument, figures)


def freeze(
        cwd: Path, spec: str | None, ref: str | None, force: bool, out: TextIO,
        noise_runs: int | None = None,
) -> int:
    if noise_runs is not None and noise_runs < 2:
        raise GateError(f'--noise-runs: expected a whole number >= 2 (a spread needs two runs), got {noise_runs}.')
    repo = repo_mod.open_repo(cwd)
    root = repo_mod.root(repo)
    spec_rel = spec_relpath(root, spec)
    the_spec = load_spec(root / spec_rel, spec_rel)
    rev = ref or the_spec.baseline_ref
    commit = repo_mod.resolve(repo, rev, 'baseline ref')

    def say(line: str) -> None:
        out.write(f'{line} (at {commit[:12]})\n')
        out.flush()

    noise: noise_mod.Noise | None = None
    with repo_mod.export(repo, commit) as tree:
        workloads = digests(the_spec, tree, the_spec.workloads, say)
        if noise_runs is not None:
            noise = measure_noise(the_spec, tree, noise_runs, say)
    path = root / the_spec.golden
    previous = json.loads(path.read_text()) if path.exists() else {}
    if noise is None and previous.get('baseline_commit') == commit:
        noise = noise_mod.parse(previous, the_spec.budgets.memory.measure)   # kept: same baseline
    if path.exists() and not force:
        old = previous.get('workloads', {})
        changed = sorted(k for k, v in old.items() if workloads.get(k) != v)
        if changed:
            raise GateError(
                f'{the_spec.golden}: digests of {", ".join(changed)} would change; the golden '
                'digests are the oracle. For a new baseline on purpose, run `gates rebaseline REF '
                '--reason ...` (or pass --force to overwrite the file alone).',
            )
    doc: dict[str, object] = {'schema': 1, 'baseline_commit': commit, 'workloads': workloads}
    if noise is not None:
        doc[noise_mod.KEY] = noise.to_json()
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + '\n')
    recorded = (f' and the memory noise of {sum(len(f) for f in noise.spread.values())} figures '
                f'({noise.runs} runs)' if noise is not None else '')
    out.write(f'wrote {the_spec.golden}: {len(workloads)} workloads{recorded} from {commit[:12]}; '
              f'commit it on its own\n')
    return 0
