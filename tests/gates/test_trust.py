"""Trusted ledger rows (issue 8.2): a row the change adds counts only once this engine has
re-measured it. A hand-forged row (right subject line, one parent, only the ledger, digest
recomputed) fails with a finding that names it; a row of real measurements passes (real git,
real memray, real subprocesses)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from _change_helpers import engine_figures
from conftest import TinyRepo
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from gates.contract.ledger import WorkloadFigures
from gates.measuring.trust import NOISE_BYTES
from gates.model import Verdict
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


def test_a_measured_row_passes(measured_row_verdict: Verdict) -> None:
    # Stage 0 converted and its row added with the engine's own figures
    # (conftest.measured_row_verdict, shared with test_integrity's accept commit). The re-judging
    # times the row against the oracle as the time gate does, so the toy's stages sleep well above
    # the 5 ms noise floor (a few-ms stage could measure 2x by a preemption).
    verdict = measured_row_verdict
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
    # memray heap counts are deterministic: 1 MiB; RSS (sampled or read at the boundaries) takes
    # the spec's tolerance_bytes when that is larger
    from pathlib import Path as _Path

    from conftest import toy_spec_yaml
    from gates.contract.spec import parse_spec
    from gates.measuring.trust import noise_bound

    heap = parse_spec(toy_spec_yaml(), 'specs/streaming-prover.yaml')
    assert heap.budgets.memory.measure == 'heap' and noise_bound(heap) == NOISE_BYTES
    merkle = _Path(__file__).resolve().parents[2] / 'examples' / 'merkle' / 'specs' / 'merkle.yaml'
    text = merkle.read_text(encoding='utf-8')
    synced = parse_spec(text, 'specs/merkle.yaml')
    assert synced.budgets.memory.measure == 'rss-sync'
    assert noise_bound(synced) == max(NOISE_BYTES, synced.budgets.memory.tolerance_bytes) == 4 << 20
    assert '    measure: rss-sync\n' in text
    rss = parse_spec(text.replace('    measure: rss-sync\n', '    measure: rss\n'), 'specs/merkle.yaml')
    assert rss.budgets.memory.measure == 'rss'
    assert noise_bound(rss) == 4 << 20


# Issue 13.3: figures that are real prove nothing about the accept rule. Each row below records
# figures the engine reproduces exactly; only re-judging it by the accept rule catches it.

def _accepted_on_main(repo: Path, stage: int) -> dict[str, WorkloadFigures]:
    """Stage ``stage`` accepted for real (figures the engine measures at HEAD), and ``main``
    moved there, so the row is in the base of what is judged next."""
    measured = engine_figures(repo, stage)
    accept_like_gates(repo, stage, measured)
    git(repo, 'branch', '-f', 'main', 'HEAD')
    return measured


def test_a_row_with_real_figures_of_an_unconverted_stage_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    row0 = _accepted_on_main(repo, 0)
    # Row 1 copied from row 0: stage 1 never converted, so an unconverted run (stage 0 streaming,
    # stage 1 materialized) is exactly what its figures are, and every one of them reproduces.
    accept_like_gates(repo, 1, row0)
    assert git(repo, 'log', '-1', '--format=%s') == 'gates: accept stage 1 (constraints)'
    proc = gates_cli(repo, 'check', '--tier', 'ci', '--gate', 'integrity')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'rows[1] (stage 1, constraints, commit' in proc.stdout
    assert ('the accept rule does not hold again: stage 1 does not run converted at the row\'s commit '
            '(its subject offers materialized for it, so it runs materialized, not streaming)') in proc.stdout
    assert 'not measured by the engine' not in proc.stdout       # the figures are real
    assert 'rows[0]' not in proc.stdout                           # row 0 is the base's


def test_a_converted_stage_that_does_not_drop_fails_the_memory_rule(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    # "Converted": stage 0 offers streaming, but streaming holds more than the materialized T rows.
    convert_stage(repo, 0, extra_bytes=(1 << 12) * 1024)
    commit_all(repo, 'stage 0: streaming (not really)')
    accept_like_gates(repo, 0, engine_figures(repo, 0))
    verdict = run_gate(repo, 'integrity')
    assert not verdict.passed
    text = rendered(verdict)
    assert 'rows[0] (stage 0, commit, commit' in text
    assert ('the accept rule does not hold again at toy-12 (memory, reference: the change\'s base '
            f'{tiny_subject.baseline[:12]} measured now): stage 0 (commit) in-stage peak:') in text
    assert 'is not below' in text and 'not measured by the engine' not in text
    (finding,) = [f for f in verdict.findings if 'memory' in f.message]
    assert finding.stage == 0 and finding.workload == 'toy-12' and finding.figure is not None
    assert finding.figure == engine_figures(repo, 0, ('toy-12',))['toy-12'].stage_peaks['0']


def test_a_converted_stage_too_slow_fails_the_time_rule(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0, slowdown_ms=300.0)      # the toy proves in a few ms: end to end >> 2x
    commit_all(repo, 'stage 0: streaming, slowly')
    accept_like_gates(repo, 0, engine_figures(repo, 0))
    verdict = run_gate(repo, 'integrity')
    assert not verdict.passed
    text = rendered(verdict)
    assert 'the accept rule does not hold again at toy-12 (time, against the oracle' in text
    assert 'end to end: median ratio' in text and 'is not below 2' in text
    assert 'memory' not in text and 'not measured by the engine' not in text


def test_the_re_judging_applies_the_gates_own_rules() -> None:
    # One rule, not a copy: the gates and the re-judging call the same objects.
    from gates.checks import memory
    from gates.checks import time as timegate
    from gates.measuring import memory_rule
    from gates.measuring import time_rule
    from gates.measuring import trust

    assert memory.judge is memory_rule.judge is trust.memory_rule.judge
    assert memory.lower_of is memory_rule.lower_of and memory.Reference is memory_rule.Reference
    assert timegate.compare is time_rule.compare is trust.time_rule.compare
    assert timegate.NOISE_FLOOR is time_rule.NOISE_FLOOR and timegate.CONFIDENCE is time_rule.CONFIDENCE
