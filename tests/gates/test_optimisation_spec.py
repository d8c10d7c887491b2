"""The spec keys of optimisation mode (issue 8.5): mode, target, no variants, ratio_lt below 1."""
from __future__ import annotations

from pathlib import Path

import pytest

from gates.model import GateError
from gates.contract.spec import OPT_VARIANT
from gates.contract.spec import parse_spec

TEXT = (Path(__file__).resolve().parents[2] / 'examples' / 'merkle' / 'specs' / 'merkle.yaml').read_text(encoding='utf-8')


def test_the_example_spec_reads_as_an_optimisation() -> None:
    spec = parse_spec(TEXT, 'merkle.yaml')
    assert spec.mode == 'optimisation'
    assert spec.target == 2
    assert spec.baseline_variant == spec.candidate_variant == OPT_VARIANT
    assert spec.budgets.time.ratio_lt == 0.9
    assert spec.budgets.memory.measure == 'rss-sync'


@pytest.mark.parametrize(('target', 'expected'), [('run', None), ('0', 0), ('root', 1)])
def test_target_is_a_stage_name_or_id_or_the_whole_run(target: str, expected: int | None) -> None:
    spec = parse_spec(TEXT.replace('target: openings', f'target: {target}'), 'merkle.yaml')
    assert spec.target == expected


def test_no_target_means_the_whole_run() -> None:
    assert parse_spec(TEXT.replace('target: openings\n', ''), 'merkle.yaml').target is None


@pytest.mark.parametrize(('old', 'new', 'message'), [
    ('target: openings', 'target: sorting', r"merkle.yaml:\d+: target: expected run or a stage name or id"),
    ('mode: optimisation', 'mode: speed', r'mode: expected conversion or optimisation, got "speed"'),
    ('mode: optimisation', 'mode: optimisation\nvariants: {baseline: a, candidate: b}',
     r'variants: an optimisation spec has no variants'),
    ('ratio_lt: 0.9', 'ratio_lt: 0', r'budgets.time.ratio_lt: expected a number > 0'),
    ('mode: optimisation', 'mode: conversion\nvariants: {baseline: a, candidate: b}',
     r'target: only an optimisation spec'),
])
def test_bad_optimisation_keys_are_one_line_errors(old: str, new: str, message: str) -> None:
    with pytest.raises(GateError, match=message):
        parse_spec(TEXT.replace(old, new, 1), 'merkle.yaml')
