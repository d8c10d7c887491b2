"""The scope gate on real throw-away repos (the context built as `gates check` builds it)."""
from __future__ import annotations

from conftest import TinyRepo
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from conftest import write_files
from structural_helpers import accept_like_gates
from structural_helpers import rendered
from structural_helpers import run_gate


def test_stage_paths_and_shared_paths_pass(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    write_files(repo, {
        'toyprover/backends/streaming/chunks.py': 'CHUNK = 64\n',
        'tests/test_stage0.py': 'def test_it():\n    pass\n',
        'README.md': '# toy, streaming\n',
    })
    verdict = run_gate(repo, 'scope')
    assert verdict.passed, rendered(verdict)
    assert verdict.details['paths_checked'] == 4


def test_change_outside_the_stage_fails_naming_file_and_globs(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    convert_stage(repo, 1)          # stage 1 is not under conversion yet
    verdict = run_gate(repo, 'scope')
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.gate == 'scope' and finding.file == 'toyprover/stages/stage1.py'
    assert 'only stage 0 (commit) and the shared paths may be touched' in finding.message
    assert 'toyprover/stages/stage0.py, toyprover/backends/streaming/**, tests/**, README.md, docs/**' in finding.message


def test_protected_paths_are_out_of_scope_and_assets_are_left_to_integrity(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    path = repo / 'toyprover/verifier.py'
    path.write_text(path.read_text() + '\n# a comment is still a touch of a protected file\n')
    write_files(repo, {'rules/extra.yaml': 'rules: []\n', 'gates/notes.txt': 'x\n'})
    verdict = run_gate(repo, 'scope')
    (finding,) = verdict.findings
    assert finding.file == 'toyprover/verifier.py'
    assert 'protected path (toyprover/verifier.py)' in finding.message


def test_rename_out_of_scope_names_the_new_path(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    git(repo, 'mv', 'toyprover/stages/stage0.py', 'toyprover/stage0_moved.py')
    commit_all(repo, 'move stage 0')
    verdict = run_gate(repo, 'scope')
    assert [f.file for f in verdict.findings] == ['toyprover/stage0_moved.py']
    assert 'renamed outside the scope' in verdict.findings[0].message


def test_stages_accepted_in_the_change_stay_in_scope(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accepted = accept_like_gates(repo, 0)
    convert_stage(repo, 1)
    # From the baseline, the branch converts stage 0 (accepted on the branch) and stage 1.
    verdict = run_gate(repo, 'scope')
    assert verdict.passed, rendered(verdict)
    # From the accept commit on, stage 0 is done: touching it again is out of scope.
    path = repo / 'toyprover/stages/stage0.py'
    path.write_text(path.read_text() + '\n# later\n')
    verdict = run_gate(repo, 'scope', base=accepted)
    assert [f.file for f in verdict.findings] == ['toyprover/stages/stage0.py']
    assert 'only stage 1 (constraints) and the shared paths' in verdict.findings[0].message


def test_the_head_cannot_widen_its_own_scope(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    spec = tiny_subject.spec_path
    spec.write_text(spec.read_text().replace(
        'paths: [toyprover/stages/stage0.py,', 'paths: [toyprover/**, toyprover/stages/stage0.py,'))
    convert_stage(repo, 1)
    verdict = run_gate(repo, 'scope')
    assert [f.file for f in verdict.findings] == ['toyprover/stages/stage1.py']
    assert verdict.details['spec'] == 'base'
