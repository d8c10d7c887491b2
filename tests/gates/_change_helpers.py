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

import gates
from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import git
from gates.context import CheckContext
from gates.model import Verdict


def build_like_this_repo(tmp_path: Path, *, name: str = 'repo') -> TinyRepo:
    tiny = build_tiny_subject(tmp_path, name=name)
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
        module = types.ModuleType(f'gates.{name}')
        module.run = run  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, f'gates.{name}', module)
        monkeypatch.setattr(gates, name, module, raising=False)


def stagegate_temp_dirs() -> Iterator[Path]:
    import tempfile
    yield from Path(tempfile.gettempdir()).glob('stagegate-*')
