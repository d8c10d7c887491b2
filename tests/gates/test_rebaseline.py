"""`gates rebaseline` (issue 7.4) on a toy repository: one engine commit with the new tag, golden
digests made by the engine, the spec's version bumped and the ledger reset only when told; in CI
judged as an asset change (real git, real subprocesses, the real integrity and proof gates)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from _change_helpers import build_like_this_repo
from conftest import TinyRepo
from conftest import commit_all
from conftest import git
from conftest import run_toy_prove
from gates.contract.spec import load_spec
from structural_helpers import accept_like_gates
from structural_helpers import gates_cli

CHECK = ('check', '--tier', 'pre-commit', '--gate', 'api', '--gate', 'scope', '--gate', 'integrity', '--gate', 'proof')


def _v2_on_main(tmp_path: Path) -> tuple[TinyRepo, str]:
    """A protocol change landed on main (its proofs differ from the old oracle's)."""
    tiny = build_like_this_repo(tmp_path)
    repo = tiny.path
    common = repo / 'toyprover/backends/common.py'
    common.write_text(common.read_text().replace('text = repr((stage,', 'text = repr(("v2", stage,'))
    v2 = commit_all(repo, 'toy prover v2: a new protocol')
    return tiny, v2


def test_rebaseline_writes_one_engine_commit_that_ci_accepts(tmp_path: Path) -> None:
    tiny, v2 = _v2_on_main(tmp_path)
    repo = tiny.path
    git(repo, 'checkout', '-q', '-b', 'rebaseline')
    proc = gates_cli(repo, 'rebaseline', v2, '--reason', 'v2 streams by design')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(repo, 'log', '-1', '--format=%s') == f'gates: rebaseline to {v2[:12]} (baseline v2)'
    assert sorted(git(repo, 'diff', '--name-only', 'HEAD~1', 'HEAD').split()) == [
        'specs/golden.json', 'specs/streaming-prover.yaml',
    ]   # the ledger was already empty: unchanged bytes are not in the diff
    assert git(repo, 'rev-parse', 'stagegate-baseline^{commit}') == v2
    spec = load_spec(repo / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    assert spec.baseline_version == 2 and spec.baseline_ref == 'stagegate-baseline'
    golden = json.loads((repo / 'specs/golden.json').read_text())
    assert golden['baseline_commit'] == v2
    assert golden['rebaseline']['reason'] == 'v2 streams by design'
    assert golden['rebaseline']['previous_baseline_commit'] == tiny.baseline
    # The digests are what v2's prover really proves, for every workload of every tier.
    for wid, log_t in (('toy-12', 12), ('toy-13', 13)):
        proof = run_toy_prove(repo, {'workload': 'toy', 'log_t': log_t}, {'0': 'materialized', '1': 'materialized', '2': 'materialized'})
        assert golden['workloads'][wid] == {'sha256': hashlib.sha256(proof).hexdigest(), 'size': len(proof)}
    assert git(repo, 'status', '--porcelain') == ''
    # Judged as CI judges it: assets alone, digests reproducible.
    proc = gates_cli(repo, *CHECK)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A forged digest in the same change is caught by re-making it.
    doc = json.loads((repo / 'specs/golden.json').read_text())
    doc['workloads']['toy-12']['sha256'] = '0' * 64
    (repo / 'specs/golden.json').write_text(json.dumps(doc, indent=2, sort_keys=True) + '\n')
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'integrity')
    assert proc.returncode == 1
    assert 'the digest of toy-12 is not what' in proc.stdout


def test_rebaseline_with_subject_code_in_the_change_fails(tmp_path: Path) -> None:
    tiny, v2 = _v2_on_main(tmp_path)
    repo = tiny.path
    git(repo, 'checkout', '-q', '-b', 'sneaky')
    stage0 = repo / 'toyprover/stages/stage0.py'
    stage0.write_text(stage0.read_text() + '# and a stage edit\n')
    commit_all(repo, 'stage 0')
    assert gates_cli(repo, 'rebaseline', 'HEAD', '--reason', 'v2').returncode == 0
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'integrity')
    assert proc.returncode == 1
    assert 'edited together with subject code' in proc.stdout and 'stage0.py' in proc.stdout


def test_rebaseline_refuses_a_ledger_with_rows_unless_reset(tmp_path: Path) -> None:
    tiny, v2 = _v2_on_main(tmp_path)
    repo = tiny.path
    accept_like_gates(repo, 0)       # stage 0 accepted on main, against the old oracle
    git(repo, 'checkout', '-q', '-b', 'rebaseline')
    before = git(repo, 'rev-parse', 'HEAD')
    proc = gates_cli(repo, 'rebaseline', v2, '--reason', 'v2')
    assert proc.returncode == 2
    assert '1 accepted row(s)' in proc.stderr and '--reset-ledger' in proc.stderr
    assert git(repo, 'rev-parse', 'HEAD') == before and git(repo, 'status', '--porcelain') == ''
    assert git(repo, 'rev-parse', 'stagegate-baseline') == tiny.baseline
    proc = gates_cli(repo, 'rebaseline', v2, '--reason', 'v2: stage 0 is redone', '--reset-ledger')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((repo / 'specs/ledger.json').read_text())['rows'] == []
    golden = json.loads((repo / 'specs/golden.json').read_text())
    assert golden['rebaseline']['ledger_rows_reset'] == 1
    proc = gates_cli(repo, *CHECK)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_hand_made_version_bump_is_refused(tmp_path: Path) -> None:
    tiny, _ = _v2_on_main(tmp_path)
    repo = tiny.path
    git(repo, 'checkout', '-q', '-b', 'by-hand')
    spec = repo / 'specs/streaming-prover.yaml'
    spec.write_text(spec.read_text().replace('  ref: stagegate-baseline\n', '  ref: stagegate-baseline\n  version: 2\n'))
    commit_all(repo, 'spec: v2')
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'integrity')
    assert proc.returncode == 1
    assert 'no rebaseline record' in proc.stdout
