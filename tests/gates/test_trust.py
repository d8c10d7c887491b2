"""Trusted ledger rows (issue 8.2): a row the change adds counts only once this engine has
re-measured it. A hand-forged row (right subject line, one parent, only the ledger, digest
recomputed) fails with a finding that names it; a row of real measurements passes (real git,
real memray, real subprocesses)."""
from __future__ import annotations

import dataclasses

from _change_helpers import engine_figures
from conftest import TinyRepo
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from gates.measuring.trust import NOISE_BYTES
from structural_helpers import accept_like_gates
from structural_helpers import gates_cli
from structural_helpers import rendered
from structural_helpers import run_gate


def test_a_forged_row_with_invented_peaks_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    real = engine_figures(repo, 0)
    # Real proof digest, invented memory: stage 1 claims 10 GiB, so a later ratchet would be void.
    forged = {wid: dataclasses.replace(f, stage_peaks={**f.stage_peaks, '1': 10 << 30}) for wid, f in real.items()}
    accept_like_gates(repo, 0, forged)
    assert git(repo, 'log', '-1', '--format=%s') == 'gates: accept stage 0 (commit)'
    proc = gates_cli(repo, 'check', '--tier', 'ci', '--gate', 'integrity')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'rows[0] (stage 0, commit' in proc.stdout
    assert f'stage 1 in-stage peak re-measured {real["toy-12"].stage_peaks["1"]} B, the row records {10 << 30} B' in proc.stdout
    assert 'not measured by the engine' in proc.stdout


def test_a_forged_row_with_an_invented_digest_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accept_like_gates(repo, 0)            # every figure invented, proof digest 'abab...'
    verdict = run_gate(repo, 'integrity')
    assert not verdict.passed
    text = rendered(verdict)
    assert 'rows[0] (stage 0, commit' in text and 'the row records abababababab' in text
    assert all(f.file == 'specs/ledger.json' and f.line is not None for f in verdict.findings)


def test_a_measured_row_passes(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accept_like_gates(repo, 0, engine_figures(repo, 0))
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)
    assert NOISE_BYTES == 1 << 20


def test_audit_workload_must_be_one_of_the_rows(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accept_like_gates(repo, 0)
    proc = gates_cli(repo, 'audit', '--workload', 'toy-99')
    assert proc.returncode == 2
    assert '--workload toy-99: row 0 has figures for toy-12, toy-13 only' in proc.stderr


def test_the_noise_bound_is_the_specs_rss_noise_when_that_is_larger() -> None:
    # memray heap counts are deterministic: 1 MiB; sampled RSS takes the spec's measured noise
    from pathlib import Path as _Path

    from conftest import toy_spec_yaml
    from gates.contract.spec import parse_spec
    from gates.measuring.trust import noise_bound

    heap = parse_spec(toy_spec_yaml(), 'specs/streaming-prover.yaml')
    assert heap.budgets.memory.measure == 'heap' and noise_bound(heap) == NOISE_BYTES
    merkle = _Path(__file__).resolve().parents[2] / 'examples' / 'merkle' / 'specs' / 'merkle.yaml'
    rss = parse_spec(merkle.read_text(encoding='utf-8'), 'specs/merkle.yaml')
    assert rss.budgets.memory.measure == 'rss'
    assert noise_bound(rss) == max(NOISE_BYTES, rss.budgets.memory.tolerance_bytes) == 4 << 20
