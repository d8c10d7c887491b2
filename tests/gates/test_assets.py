"""How CI runs the gates is a gate asset (issue 8.3): `.ci/run` edited together with subject code
fails integrity, alone it passes (real git, the real integrity gate)."""
from __future__ import annotations

from pathlib import Path

from conftest import _SPEC_BLOCKS
from conftest import build_tiny_subject
from conftest import commit_all
from conftest import git
from conftest import write_files
from structural_helpers import rendered
from structural_helpers import run_gate

ASSETS = _SPEC_BLOCKS['assets'] + '  - .ci/**\n  - .github/**\n  - .pre-commit-hooks.yaml\n'
CI_RUN = '#!/usr/bin/env bash\nset -euo pipefail\ngates check --tier ci\n'


def _repo(tmp_path: Path) -> Path:
    # The CI script lands on main first, as in this repository.
    tiny = build_tiny_subject(tmp_path, assets=ASSETS)
    repo = tiny.path
    git(repo, 'checkout', '-q', 'main')
    write_files(repo, {'.ci/run': CI_RUN})
    commit_all(repo, 'ci: the entry point')
    git(repo, 'checkout', '-q', 'conversion')
    git(repo, 'reset', '-q', '--hard', 'main')
    return repo


def test_ci_run_edited_with_subject_code_fails_integrity(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    write_files(repo, {'.ci/run': CI_RUN.replace('gates check --tier ci', 'gates check --gate api')})
    stage0 = repo / 'toyprover/stages/stage0.py'
    stage0.write_text(stage0.read_text() + '# converted soon\n')
    commit_all(repo, 'stage 0, and CI runs only the api gate')
    verdict = run_gate(repo, 'integrity')
    assert not verdict.passed
    text = rendered(verdict)
    assert '.ci/run' in text and 'toyprover/stages/stage0.py' in text
    assert 'edited together with subject code' in text


def test_ci_run_edited_alone_passes_integrity(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    write_files(repo, {'.ci/run': CI_RUN + 'echo done\n'})
    commit_all(repo, 'ci: say when done')
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)
