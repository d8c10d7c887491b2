"""The integrity gate on real throw-away repos: asset co-edits, the ledger's append-only rule and
its accept provenance, and loosened budgets."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import TinyRepo
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from conftest import write_files
from gates.contract.ledger import digest_of
from gates.model import Verdict
from structural_helpers import accept_like_gates
from structural_helpers import append_raw_row
from structural_helpers import gates_cli
from structural_helpers import hand_written_row
from structural_helpers import rendered
from structural_helpers import run_gate

SPEC = 'specs/streaming-prover.yaml'
LEDGER = 'specs/ledger.json'


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f'{old!r} not in {path}'
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(i + 1 for i, text in enumerate(path.read_text().splitlines()) if needle in text)


def test_asset_change_alone_and_subject_change_alone_pass(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    write_files(repo, {'rules/extra.yaml': 'rules: []\n', 'tests/test_more.py': 'X = 1\n'})
    replace(tiny_subject.spec_path, 'ratio_lt: 2.0', 'ratio_lt: 1.5')    # tightening
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)
    git(repo, 'checkout', '-q', '--', '.')
    git(repo, 'clean', '-q', '-fd')
    convert_stage(repo, 0)
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)


def test_budget_change_with_subject_code_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    replace(tiny_subject.spec_path, 'ratio_lt: 2.0', 'ratio_lt: 1.9')    # even a tightening
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0 and a budget')
    verdict = run_gate(repo, 'integrity')
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.file == SPEC
    assert 'gate assets (specs/streaming-prover.yaml) are edited together with subject code (toyprover/stages/stage0.py)' in finding.message
    assert 'Split it' in finding.message


@pytest.mark.parametrize(('old', 'new', 'key', 'shown', 'at'), [
    ('ratio_lt: 2.0', 'ratio_lt: 2.5', 'budgets.time.ratio_lt', '2 -> 2.5', 'ratio_lt:'),
    ('min_pairs: 3', 'min_pairs: 2', 'budgets.time.min_pairs', '3 -> 2', 'min_pairs:'),
    ('max_pairs: 11', 'max_pairs: 10', 'budgets.time.max_pairs', '11 -> 10', 'max_pairs:'),
    ('margin: 0.02', 'margin: 0.01', 'budgets.memory.margin', '0.02 -> 0.01', 'margin:'),
    ('tolerance: 0.01', 'tolerance: 0.05', 'budgets.memory.tolerance', '0.01 -> 0.05', 'tolerance:'),
    ('full: [toy-12, toy-13]', 'full: [toy-12]', 'tiers.full', '[toy-12, toy-13] -> [toy-12]', 'full:'),
    ('paths: [toyprover/verifier.py, toyprover/proof.py]', 'paths: [toyprover/verifier.py]',
     'protected.paths', '[toyprover/verifier.py, toyprover/proof.py] -> [toyprover/verifier.py]',
     'paths: [toyprover/verifier.py]'),
    ('forbid_in_converted: [materialized]', 'forbid_in_converted: []', 'protected.forbid_in_converted',
     '(removed: materialized)', 'forbid_in_converted:'),
    ('shared_paths: [tests/**, README.md, docs/**]', 'shared_paths: [tests/**, README.md, docs/**, toyprover/**]',
     'shared_paths', '(added: toyprover/**)', 'shared_paths:'),
    ('  - specs/golden.json\n', '', 'assets', '(removed: specs/golden.json)', 'assets:'),
    ('ref: stagegate-baseline', 'ref: main', 'baseline.ref', 'stagegate-baseline -> main', 'ref:'),
    ('prove: toyprover.probe:prove', 'prove: toyprover.fake:prove', 'subject.prove',
     'toyprover.probe:prove -> toyprover.fake:prove', 'prove: toyprover'),
])
def test_loosening_alone_fails_with_key_and_values(
        tiny_subject: TinyRepo, old: str, new: str, key: str, shown: str, at: str,
) -> None:
    repo = tiny_subject.path
    replace(tiny_subject.spec_path, old, new)
    commit_all(repo, f'loosen {key}')
    # An explicit base, as CI passes it: with baseline.ref edited, the default base would move.
    verdict = run_gate(repo, 'integrity', base=tiny_subject.baseline)
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.message.startswith(f'{key} loosened: ')
    assert shown in finding.message
    assert 'Nothing can loosen a gate: not with subject code, not on its own' in finding.message
    assert finding.file == SPEC
    assert finding.line == line_of(tiny_subject.spec_path, at)


def test_removed_workload_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    replace(tiny_subject.spec_path, '  - id: toy-13\n    params: {workload: toy, log_t: 13}\n', '')
    replace(tiny_subject.spec_path, 'full: [toy-12, toy-13]', 'full: [toy-12]')
    verdict = run_gate(repo, 'integrity')
    keys = sorted(f.message.split(' loosened')[0] for f in verdict.findings)
    assert keys == ['tiers.full', 'workloads.toy-13']


def test_changed_golden_digest_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    path = repo / 'specs/golden.json'
    golden = json.loads(path.read_text())
    golden['workloads']['toy-12']['sha256'] = '0' * 64
    golden['workloads']['toy-14'] = {'sha256': '1' * 64, 'size': 212}     # an addition alone is fine
    path.write_text(json.dumps(golden, indent=2, sort_keys=True) + '\n')
    verdict = run_gate(repo, 'integrity')
    (finding,) = verdict.findings
    assert finding.file == 'specs/golden.json'
    assert finding.message.startswith('golden.workloads.toy-12 loosened: ')


def test_accept_commit_passes(measured_row_verdict: Verdict) -> None:
    # Stage 0 converted, then an accept-like commit of its row with the engine's own figures
    # (conftest.measured_row_verdict, shared with test_trust's measured row): the row is re-judged
    # by the accept rule, time included, and the ci-tier re-measure agrees.
    verdict = measured_row_verdict
    assert verdict.passed, rendered(verdict)


def test_hand_edited_ledger_row_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accepted = accept_like_gates(repo, 0)
    path = repo / LEDGER
    doc = json.loads(path.read_text())
    doc['rows'][0]['workloads']['toy-12']['time_ratio']['total'] = 0.5
    body = {k: v for k, v in doc['rows'][0].items() if k != 'row_digest'}
    doc['rows'][0]['row_digest'] = digest_of(body)        # a careful forger recomputes it
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + '\n')
    commit_all(repo, 'ledger: better time')
    verdict = run_gate(repo, 'integrity', base=accepted)
    messages = rendered(verdict)
    assert not verdict.passed
    assert f'{LEDGER}:{line_of(path, doc["rows"][0]["row_digest"])}: rows[0] differs from the base (edited by hand)' in messages
    assert 'is not a `gates accept` commit' in messages


def test_stale_digest_in_the_working_tree_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accepted = accept_like_gates(repo, 0)
    convert_stage(repo, 1)
    commit_all(repo, 'stage 1: streaming')
    row = hand_written_row(repo, 1)
    row['tools'] = {'python': 'forged'}                   # edited after the digest was made
    # `gates check` refuses such a ledger before any gate runs (exit 2, naming the row) ...
    append_raw_row(repo, row)
    proc = gates_cli(repo, 'check', '--gate', 'integrity', '--base', accepted)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'specs/ledger.json: rows[1] (stage 1): row_digest does not match the row' in proc.stderr
    # ... and the gate itself reports it too (for callers that build the context otherwise).
    git(repo, 'checkout', '-q', '--', LEDGER)
    verdict = run_gate(repo, 'integrity', base=accepted, edit_head_tree=lambda tree: append_raw_row(tree, row))
    messages = rendered(verdict)
    assert 'rows[1]: row_digest does not match the row (written or edited by hand)' in messages
    assert 'the ledger differs from the last commit' in messages


def test_hand_appended_row_with_valid_digest_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    append_raw_row(repo, hand_written_row(repo, 0))
    commit_all(repo, 'stage 0, accepted by hand')
    verdict = run_gate(repo, 'integrity')
    assert not verdict.passed
    (finding,) = verdict.findings
    assert 'changes the ledger but is not a `gates accept` commit' in finding.message


def test_narrowing_a_tiers_gates_fails(tiny_subject: TinyRepo) -> None:
    """Dropping memory and time from pre-commit via tier_gates is a loosening like any other."""
    repo = tiny_subject.path
    with tiny_subject.spec_path.open('a') as f:
        f.write('tier_gates:\n  pre-commit: [api, scope, integrity, proof]\n')
    verdict = run_gate(repo, 'integrity')
    keys = sorted(f.message.split(' loosened')[0] for f in verdict.findings)
    assert keys == ['tier_gates.pre-commit']
