"""The spec keys of issue 8 ratchet too (gates/contract/loosening.py): protected.symbols, protected.verifier,
mode, target and subject.env. Judged by the integrity gate on real throw-away repositories: the
tiny toy subject (conversion mode) and a copy of examples/merkle (optimisation mode)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import commit_all
from conftest import toy_spec_yaml
from gates.contract import loosening
from gates.contract.spec import Spec
from gates.contract.spec import parse_spec
from structural_helpers import rendered
from structural_helpers import run_gate
from test_examples import example_repo

NOTHING = 'Nothing can loosen a gate: not with subject code, not on its own'
MERKLE_SPEC = 'specs/merkle.yaml'
MERKLE_TEXT = (Path(__file__).resolve().parents[2] / 'examples' / 'merkle' / MERKLE_SPEC).read_text(encoding='utf-8')


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding='utf-8')
    assert old in text, f'{old!r} not in {path}'
    path.write_text(text.replace(old, new, 1), encoding='utf-8')


def _line_of(path: Path, needle: str) -> int:
    return next(i + 1 for i, text in enumerate(path.read_text().splitlines()) if needle in text)


@pytest.mark.parametrize(('old', 'new', 'key', 'shown', 'at'), [
    ('symbols: [merkle.py::verify, merkle.py::h]', 'symbols: [merkle.py::verify]', 'protected.symbols',
     '[merkle.py::verify, merkle.py::h] -> [merkle.py::verify]', 'symbols:'),
    ('target: openings', 'target: run', 'target', 'openings (stage 2) -> run', 'target:'),
    ('target: openings', 'target: root', 'target', 'openings (stage 2) -> root (stage 1)', 'target:'),
])
def test_an_optimisation_spec_loosened_alone_fails(
        tmp_path: Path, old: str, new: str, key: str, shown: str, at: str,
) -> None:
    repo = example_repo(tmp_path)
    spec = repo / MERKLE_SPEC
    _replace(spec, old, new)
    commit_all(repo, f'loosen {key}')
    verdict = run_gate(repo, 'integrity')
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.message.startswith(f'{key} loosened: {shown} ('), finding.message
    assert NOTHING in finding.message
    assert finding.file == MERKLE_SPEC
    assert finding.line == _line_of(spec, at)


def test_a_symbol_still_protected_by_its_whole_file_is_no_loosening(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    _replace(repo / MERKLE_SPEC, 'symbols: [merkle.py::verify, merkle.py::h]', 'symbols: ["merkle.py::"]')
    commit_all(repo, 'protect the whole of merkle.py')
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)


def _keys_of(repo: TinyRepo) -> dict[str, str]:
    verdict = run_gate(repo.path, 'integrity', base=repo.baseline)
    assert not verdict.passed
    return {f.message.split(' loosened: ')[0]: f.message for f in verdict.findings}


def test_switching_a_conversion_to_an_optimisation_fails(tiny_subject: TinyRepo) -> None:
    _replace(tiny_subject.spec_path, 'variants:\n  baseline: materialized\n  candidate: streaming\n',
             'mode: optimisation\n')
    commit_all(tiny_subject.path, 'nothing to convert after all')
    found = _keys_of(tiny_subject)
    assert found['mode'].startswith('mode loosened: conversion -> optimisation (an optimisation converts nothing')
    # Both sides now run the backend 'default': the variants changed as well.
    assert set(found) == {'mode', 'variants.baseline', 'variants.candidate'}


def test_a_removed_verifier_glob_fails(tmp_path: Path) -> None:
    protected = ('protected:\n  paths: [toyprover/proof.py]\n  forbid_in_converted: [materialized]\n'
                 '  verifier: [toyprover/verifier.py]\n')
    repo = build_tiny_subject(tmp_path, protected=protected)
    _replace(repo.spec_path, '  verifier: [toyprover/verifier.py]\n', '')
    commit_all(repo.path, 'the verifier reaches nothing worth protecting')
    found = _keys_of(repo)
    assert list(found) == ['protected.verifier']
    assert '[toyprover/verifier.py] -> [] (what only the removed verifier files reach' in found['protected.verifier']
    assert '(removed: toyprover/verifier.py)' in found['protected.verifier']


def test_an_added_subject_variable_fails_and_names_the_key(tiny_subject: TinyRepo) -> None:
    _replace(tiny_subject.spec_path, '  capabilities: toyprover.probe:capabilities\n',
             '  capabilities: toyprover.probe:capabilities\n  env:\n    TOY_FAST: "1"\n')
    commit_all(tiny_subject.path, 'a faster toy')
    found = _keys_of(tiny_subject)
    assert list(found) == ['subject.env']
    assert 'subject.env loosened: {} -> {"TOY_FAST": "1"}' in found['subject.env']


# The directions, on parsed specs (no repository needed to tell which way a key moved).

def _merkle(old: str = '', new: str = '') -> Spec:
    return parse_spec(MERKLE_TEXT.replace(old, new, 1), 'merkle.yaml')


def test_protecting_more_is_no_loosening() -> None:
    base = _merkle()
    assert loosening.spec(base, _merkle('symbols: [merkle.py::verify, merkle.py::h]',
                                        'symbols: [merkle.py::verify, merkle.py::h, merkle.py::build]')) == []
    # A symbol whose file becomes a protected path is still protected.
    assert loosening.spec(base, _merkle('  paths: [prove.py]\n  symbols: [merkle.py::verify, merkle.py::h]',
                                        '  paths: [prove.py, merkle.py]\n  symbols: []')) == []


def test_a_class_covers_its_methods() -> None:
    base = _merkle('symbols: [merkle.py::verify, merkle.py::h]', 'symbols: [merkle.py::Tree.verify]')
    assert loosening.spec(base, _merkle('symbols: [merkle.py::verify, merkle.py::h]', 'symbols: [merkle.py::Tree]')) == []
    (item,) = loosening.spec(base, _merkle('symbols: [merkle.py::verify, merkle.py::h]', 'symbols: [merkle.py::Tre]'))
    assert item.key == 'protected.symbols'


def test_a_new_stage_widens_a_whole_run_optimisation_only() -> None:
    extra = '  - id: 3\n    name: extra\n    paths: [extra.py]\n\nprotected:'
    run_base = _merkle('target: openings', 'target: run')
    run_head = parse_spec(MERKLE_TEXT.replace('target: openings', 'target: run').replace('\nprotected:', extra, 1), 'm.yaml')
    assert [i.key for i in loosening.spec(run_base, run_head)] == ['stages[3]']
    # With a stage as the target, the new stage's paths are not in scope.
    assert loosening.spec(_merkle(), _merkle('\nprotected:', extra)) == []


def test_a_tighter_optimisation_budget_passes_and_a_looser_one_is_named() -> None:
    assert loosening.spec(_merkle(), _merkle('ratio_lt: 0.9', 'ratio_lt: 0.8')) == []
    (item,) = loosening.spec(_merkle(), _merkle('ratio_lt: 0.9', 'ratio_lt: 0.95'))
    assert (item.key, item.old, item.new) == ('budgets.time.ratio_lt', '0.9', '0.95')


def test_splitting_a_time_unit_after_an_acceptance_is_named() -> None:
    budgets = ('budgets:\n  time:\n    ratio_lt: 2.0\n    min_pairs: 3\n    max_pairs: 5\n    units: [{}]\n'
               '  memory:\n    margin: 0.02\n')
    grouped = parse_spec(toy_spec_yaml(budgets=budgets.format('[0, 1, 2]')), 'toy.yaml')
    split = parse_spec(toy_spec_yaml(budgets=budgets.format('[0, 1]')), 'toy.yaml')
    (item,) = loosening.spec(grouped, split, True)
    assert (item.key, item.old, item.new) == ('budgets.time.units', '[(0, 1, 2)]', '[(0, 1)]')
