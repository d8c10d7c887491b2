"""Spec discovery (issue 8.5): pyproject's [tool.stagegate] spec first, else the single
specs/*.yaml; several candidates and no pyproject entry is one line and exit 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gates.contract.discover import discover
from gates.model import GateError
from tests.gates.conftest import make_repo

SPEC_TEXT = (Path(__file__).resolve().parents[2] / 'examples' / 'merkle' / 'specs' / 'merkle.yaml').read_text(encoding='utf-8')


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding='utf-8')


def test_the_single_spec_is_found(tmp_path: Path) -> None:
    write(tmp_path, {'specs/only.yaml': 'x', 'specs/notes.md': 'x'})
    assert discover(tmp_path) == 'specs/only.yaml'


def test_pyproject_comes_first(tmp_path: Path) -> None:
    write(tmp_path, {
        'specs/a.yaml': 'x', 'specs/b.yaml': 'x', 'gating/mine.yaml': 'x',
        'pyproject.toml': '[project]\nname = "x"\n\n[tool.stagegate]\nspec = "gating/mine.yaml"\n',
    })
    assert discover(tmp_path) == 'gating/mine.yaml'


def test_pyproject_without_the_table_falls_back_to_specs(tmp_path: Path) -> None:
    write(tmp_path, {'specs/a.yaml': 'x', 'pyproject.toml': '[tool.other]\nspec = "nope"\n'})
    assert discover(tmp_path) == 'specs/a.yaml'


def test_several_specs_name_them_and_how_to_choose(tmp_path: Path) -> None:
    write(tmp_path, {'specs/b.yaml': 'x', 'specs/a.yaml': 'x'})
    with pytest.raises(GateError) as e:
        discover(tmp_path)
    assert str(e.value) == (
        'several specs found (specs/a.yaml, specs/b.yaml); choose one with --spec PATH or '
        '[tool.stagegate] spec = "PATH" in pyproject.toml.'
    )


@pytest.mark.parametrize(('table', 'expected'), [
    ('[tool.stagegate]\n', 'spec: missing'),
    ('[tool.stagegate]\nspec = 3\n', 'expected a path string'),
    ('[tool.stagegate]\nspec = "../elsewhere.yaml"\n', 'must be a path inside the repository'),
    ('[tool.stagegate\n', 'cannot read it'),
])
def test_a_bad_pyproject_entry_is_one_clear_error(tmp_path: Path, table: str, expected: str) -> None:
    write(tmp_path, {'specs/a.yaml': 'x', 'pyproject.toml': table})
    with pytest.raises(GateError, match=expected):
        discover(tmp_path)


def test_cli_refuses_an_ambiguous_repository_in_one_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {'specs/one.yaml': SPEC_TEXT, 'specs/two.yaml': SPEC_TEXT})
    proc = subprocess.run((sys.executable, '-m', 'gates', 'status'), cwd=repo, check=False, capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert 'several specs found (specs/one.yaml, specs/two.yaml)' in lines[0]


def test_cli_reads_the_spec_pyproject_names(tmp_path: Path) -> None:
    # Two specs, pyproject picks the second; a broken first one proves which was read.
    repo = make_repo(tmp_path, {
        'specs/broken.yaml': 'schema: 7\n', 'specs/merkle.yaml': SPEC_TEXT,
        'pyproject.toml': '[tool.stagegate]\nspec = "specs/merkle.yaml"\n',
        'specs/ledger.json': '{"schema": 1, "rows": []}\n',
    })
    proc = subprocess.run((sys.executable, '-m', 'gates', 'status'), cwd=repo, check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'merkle-openings' in proc.stdout
    assert 'broken' not in proc.stdout + proc.stderr
