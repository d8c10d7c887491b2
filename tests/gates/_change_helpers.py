"""Repositories laid out the way this one was built, for the change/oracle tests (eng-change).

``build_like_this_repo``: commit 1 = the materialized baseline (tagged ``stagegate-baseline``),
commit 2 = the golden digests frozen from it, both on ``main``: the digests are committed AFTER
the tag, so they are on main but not in the baseline, exactly as in this repository.
"""
from __future__ import annotations

import dataclasses
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import gates.checks
from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import git
from gates.context import CheckContext
from gates.model import Verdict
from gates.contract.ledger import WorkloadFigures


def build_like_this_repo(tmp_path: Path, *, name: str = 'repo', **spec_blocks: str) -> TinyRepo:
    tiny = build_tiny_subject(tmp_path, name=name, **spec_blocks)
    repo = tiny.path
    first = git(repo, 'rev-parse', 'HEAD~1')
    git(repo, 'checkout', '-q', 'main')
    git(repo, 'branch', '-q', '-D', 'conversion')
    git(repo, 'tag', '-f', 'stagegate-baseline', first)
    return dataclasses.replace(tiny, baseline=first)


def fake_measuring_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    """memory and time replaced by passing gates with plausible figures (their own tests measure
    for real); api, scope, integrity and proof stay real."""
    def memory_run(ctx: CheckContext, **_: object) -> Verdict:
        return Verdict.ok('memory', {'workloads': {w.id: {
            'candidate': {'stage_peaks': {'0': 70000, '1': 4300000, '2': 4300000}, 'whole_run_peak': 4400000},
            'reference': {'stage_peaks': {'0': 4300000, '1': 4300000, '2': 4300000}},
        } for w in ctx.workloads}})

    def time_run(ctx: CheckContext, **_: object) -> Verdict:
        return Verdict.ok('time', {'workloads': {w.id: {
            'ratio_total': 1.02, 'ratio_stages': {'0': 1.1, '1': 1.0, '2': 0.99},
        } for w in ctx.workloads}})

    for name, run in (('memory', memory_run), ('time', time_run)):
        module = types.ModuleType(f'gates.checks.{name}')
        module.run = run  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, f'gates.checks.{name}', module)
        monkeypatch.setattr(gates.checks, name, module, raising=False)


def stagegate_temp_dirs() -> Iterator[Path]:
    import tempfile
    yield from Path(tempfile.gettempdir()).glob('stagegate-*')


def engine_figures(repo: Path, stage: int, workloads: tuple[str, ...] = ('toy-12', 'toy-13')) -> dict[str, WorkloadFigures]:
    """A row's figures as the engine measures them at HEAD (the stages of the spec's conversion
    order up to and including ``stage`` converted: 0..stage by default), with the engine's own
    probe: what a genuine `gates accept` would have recorded (time ratios aside, which are not
    re-checked)."""
    import tempfile

    from gates.measuring import probe
    from gates.measuring.request import RunRequest
    from gates.vcs import repo as repo_mod
    from gates.contract.spec import load_spec
    spec = load_spec(repo / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    variant = spec.variant(spec.order[:spec.order.index(stage) + 1])
    stages = [s.id for s in spec.stages]
    out = {}
    with repo_mod.export(repo_mod.open_repo(repo), 'HEAD') as tree, tempfile.TemporaryDirectory() as cap:
        for wid in workloads:
            w = spec.workload(wid)
            proof = probe.proof(RunRequest(spec.subject, tree, wid, w.params, variant, stages))
            mem = probe.memory(RunRequest(spec.subject, tree, wid, w.params, variant, stages), Path(cap))
            out[wid] = WorkloadFigures(
                {str(k): v for k, v in mem.stage_peaks.items()}, mem.whole_run_peak, 1.0,
                {str(s): 1.0 for s in stages}, proof.sha256,
            )
    return out
