from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_repo
from conftest import toy_spec_yaml
from gates.model import GateError
from gates.contract.spec import match_glob
from gates.contract.spec import matches
from gates.contract.spec import parse_spec

SPEC = 'specs/streaming-prover.yaml'


def line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count('\n') + 1


def test_toy_spec_loads() -> None:
    spec = parse_spec(toy_spec_yaml(), SPEC)
    assert [s.name for s in spec.stages] == ['commit', 'constraints', 'openings']
    assert spec.stage(1).paths[0] == 'toyprover/stages/stage1.py'
    assert [w.id for w in spec.tier_workloads('full')] == ['toy-12', 'toy-13']
    assert spec.workload('toy-13').params == {'workload': 'toy', 'log_t': 13}
    assert spec.variant([0]) == {'0': 'streaming', '1': 'materialized', '2': 'materialized'}
    assert spec.budgets.time.ratio_lt == 2.0
    assert spec.budgets.memory.converted().fails(97.0, 100.0) is None
    assert spec.budgets.memory.converted().fails(99.0, 100.0) is not None
    assert spec.budgets.memory.others().fails(101.0, 100.0) is None
    assert spec.budgets.memory.others().fails(101.5, 100.0) is not None
    assert spec.budgets.time.threshold().fails(1.99, 1.0) is None
    assert spec.budgets.time.threshold().fails(2.0, 1.0) is not None
    assert spec.line_of('budgets.time.ratio_lt') == line_of(toy_spec_yaml(), 'ratio_lt')
    assert spec.stages[2].line == line_of(toy_spec_yaml(), '- id: 2')


def test_unknown_tier_is_a_gate_error() -> None:
    spec = parse_spec(toy_spec_yaml(), SPEC)
    with pytest.raises(GateError, match="no tier 'nightly'; use one of ci, full, pre-commit"):
        spec.tier_workloads('nightly')


BUDGETS_TWO = '''\
budgets:
  time:
    ratio_lt: two
    min_pairs: 3
    max_pairs: 5
  memory:
    margin: 0.02
    tolerance: 0.01
'''

# (blocks to override, the text the error line points at, the expected "key: message" part)
MALFORMED = [
    ({'budgets': BUDGETS_TWO}, 'ratio_lt', 'budgets.time.ratio_lt: expected a number > 1, got "two".'),
    (
        {'budgets': BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: 2.0').replace('max_pairs: 5', 'max_pairs: 2')},
        'max_pairs', 'budgets.time.max_pairs: expected an integer >= min_pairs (3), got 2.',
    ),
    (
        {'budgets': BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: 2.0').replace('tolerance: 0.01', 'tolerance: -1')},
        'tolerance', 'budgets.memory.tolerance: expected a number in [0, 1), e.g. 0.01 (better: tolerance_bytes), got -1.',
    ),
    (
        {'budgets': BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: true')},
        'ratio_lt', 'budgets.time.ratio_lt: expected a number > 1, got true (a yes/no value).',
    ),
    ({'head': 'schema: 2\n'}, 'schema', 'schema: expected 1 (the only schema this engine reads), got 2.'),
    ({'head': 'schema: 1\nbudget: {}\n'}, 'budget:', 'budget: unknown key; expected one of'),
    (
        {'tiers': 'tiers:\n  ci: [toy-12]\n  full: [toy-12, toy-99]\n'},
        'full:', 'tiers.full[1]: unknown workload "toy-99"; declare it under workloads.',
    ),
    (
        {'stages': '''\
stages:
  - id: 0
    name: commit
    paths: [a.py]
  - id: 2
    name: openings
    paths: [b.py]
'''},
        'id: 2', 'stages[1].id: expected 1 (ids are 0..n-1 in order), got 2.',
    ),
    (
        {'stages': 'stages:\n  - id: 0\n    name: commit\n'},
        '- id: 0', 'stages[0].paths: missing; add it (see docs/gates.md).',
    ),
    (
        {'stages': 'stages:\n  - id: 0\n    name: commit\n    paths: [/etc/passwd]\n'},
        'paths:', 'stages[0].paths[0]: glob \'/etc/passwd\' must be a repo-relative posix path',
    ),
    ({'stages': 'stages: []\n'}, 'stages:', 'stages: expected a non-empty list of stages, got a list.'),
    ({'variants': 'variants:\n  baseline: x\n  candidate: x\n'}, 'candidate', 'variants.candidate: must differ'),
    (
        {'subject': 'subject:\n  kind: python\n  prove: toyprover.probe.prove\n  verify: a:b\n  sections: a:b\n  capabilities: a:b\n'},
        'prove:', 'subject.prove: expected "module:function", got "toyprover.probe.prove".',
    ),
    ({'subject': 'subject:\n  kind: rust\n'}, 'kind:', 'subject.kind: expected python or command, got "rust".'),
    ({'subject': 'subject:\n  kind: command\n  root: .\n'}, 'subject:', 'subject.argv: missing; add it'),
    (
        {'workloads': 'workloads:\n  - id: toy-12\n    params: [1, 2]\n  - id: toy-13\n'},
        'params:', 'workloads[0].params: expected a mapping of names to values, got a list.',
    ),
    (
        {'workloads': 'workloads:\n  - id: toy-12\n  - id: toy-12\n'},
        '- id: toy-12\n', 'workloads[1].id: duplicate workload id "toy-12"',
    ),
    ({'baseline': 'baseline:\n  ref: a\n  ref: b\n'}, 'ref: b', 'baseline.ref: duplicate key; keep only one.'),
    ({'baseline': 'baseline:\n  ref: [unclosed\n'}, None, 'YAML syntax error: while parsing a flow sequence'),
    (
        {'budgets': BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: 2.0').replace('max_pairs: 5\n', 'max_pairs: 5\n    units: [[0, 8]]\n')},
        'units', 'budgets.time.units[0][1]: expected a stage id (one of [0, 1, 2]), got 8.',
    ),
    (
        {'budgets': BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: 2.0') + '    tolerance_bytes: 1.5\n'},
        'tolerance_bytes', 'budgets.memory.tolerance_bytes: expected a whole number of bytes >= 0',
    ),
    (
        {'budgets': BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: 2.0') + '    measure: pages\n'},
        'measure', 'budgets.memory.measure: expected heap, rss or rss-sync, got "pages".',
    ),
    (
        {'budgets': BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: 2.0') + '    max_exponent: true\n'},
        'max_exponent', 'budgets.memory.max_exponent: expected a number in (0, 2], e.g. 0.6 (sqrt T is 0.5), got true',
    ),
    ({'head': 'schema: 1\nmain_branch: 3\n'}, 'main_branch', 'main_branch: expected a non-empty string, got 3.'),
    ({'head': 'schema: 1\n', 'baseline': 'baseline: {ref: }\n'}, 'baseline:', 'baseline.ref: expected a non-empty string, got nothing (null).'),
]


@pytest.mark.parametrize(('blocks', 'at', 'expected'), MALFORMED)
def test_malformed_spec_names_file_line_key(blocks: dict[str, str], at: str | None, expected: str) -> None:
    text = toy_spec_yaml(**blocks)
    with pytest.raises(GateError) as info:
        parse_spec(text, SPEC)
    message = str(info.value)
    assert '\n' not in message
    if at is None:
        assert message.startswith(f'{SPEC}:')
    else:
        if at == '- id: toy-12\n':
            line = text.rindex(at)
            expected_line = text[:line].count('\n') + 1
        else:
            expected_line = line_of(text, at)
        assert message.startswith(f'{SPEC}:{expected_line}: '), message
    assert expected in message, message


def test_empty_spec() -> None:
    with pytest.raises(GateError, match=r'^x.yaml:1: the file is empty'):
        parse_spec('', 'x.yaml')


def test_not_a_mapping() -> None:
    with pytest.raises(GateError, match=r'^x.yaml:1: the top level: expected a mapping, got a list'):
        parse_spec('- a\n- b\n', 'x.yaml')


@pytest.mark.parametrize(('path', 'glob', 'expected'), [
    ('prover/backends/streaming/x.py', 'prover/backends/streaming/**', True),
    ('prover/backends/streaming/a/b/x.py', 'prover/backends/streaming/**', True),
    ('prover/backends/streaming.py', 'prover/backends/streaming/**', False),
    ('prover/backends/streaming', 'prover/backends/streaming/**', False),
    ('README.md', 'README.md', True),
    ('docs/README.md', 'README.md', False),
    ('a/b/c.py', 'a/*.py', False),
    ('a/c.py', 'a/*.py', True),
    ('x/y/z/test_q.py', '**/test_*.py', True),
    ('test_q.py', '**/test_*.py', True),
    ('a/b/c/d.py', 'a/**/d.py', True),
    ('a/d.py', 'a/**/d.py', True),
    ('a/stage1.py', 'a/stage?.py', True),
    ('a/stage12.py', 'a/stage?.py', False),
    ('a/stage3.py', 'a/stage[0-2].py', False),
    ('a/stage2.py', 'a/stage[0-2].py', True),
    ('a+b/c.py', 'a+b/*.py', True),
    ('anything/at/all', '**', True),
    ('./README.md', 'README.md', True),
])
def test_glob(path: str, glob: str, expected: bool) -> None:
    assert match_glob(path, glob) is expected


def test_matches_any() -> None:
    assert matches('docs/x.md', ['tests/**', 'docs/**'])
    assert not matches('prover/x.py', ['tests/**', 'docs/**'])
    assert not matches('prover/x.py', [])


def test_cli_exits_2_with_one_line(tmp_path: Path) -> None:
    files = {SPEC: toy_spec_yaml(budgets=BUDGETS_TWO), 'specs/ledger.json': '{"schema": 1, "rows": []}\n'}
    repo = make_repo(tmp_path, files)
    proc = subprocess.run(
        (sys.executable, '-m', 'gates', 'status'), cwd=repo, capture_output=True, text=True,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    line = line_of(files[SPEC], 'ratio_lt')
    assert lines[0] == (
        f'gates: error: {SPEC}:{line}: budgets.time.ratio_lt: expected a number > 1, got "two".'
    )


def test_cli_missing_spec(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {'README.md': 'x\n'})
    proc = subprocess.run(
        (sys.executable, '-m', 'gates', 'next'), cwd=repo, capture_output=True, text=True,
    )
    assert proc.returncode == 2
    # Without --spec the spec is discovered (issue 8.5); none to find is one line, exit 2.
    assert 'no spec found: specs/*.yaml is empty' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_tier_gates_narrow_only_local_tiers(tmp_path: Path) -> None:
    """pre-commit may run a subset of the gates; ci and full always run every gate."""
    from conftest import toy_spec_yaml
    from gates.contract.spec import parse_spec
    ok = parse_spec(toy_spec_yaml() + 'tier_gates:\n  pre-commit: [proof, api]\n', 'spec.yaml')
    assert ok.tier_gate_names('pre-commit') == ('api', 'proof')
    assert ok.tier_gate_names('ci') == ('api', 'scope', 'integrity', 'proof', 'memory', 'time')
    with pytest.raises(GateError, match=r'spec.yaml:\d+: tier_gates.ci: the ci tier always runs every gate'):
        parse_spec(toy_spec_yaml() + 'tier_gates:\n  ci: [api]\n', 'spec.yaml')
    with pytest.raises(GateError, match=r'tier_gates.pre-commit\[0\]: unknown gate "speed"'):
        parse_spec(toy_spec_yaml() + 'tier_gates:\n  pre-commit: [speed]\n', 'spec.yaml')


def test_new_budget_keys_and_main_branch_load() -> None:
    budgets = BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: 2.0').replace(
        'max_pairs: 5\n', 'max_pairs: 5\n    units: [[0, 1]]\n',
    ).replace('tolerance: 0.01\n', 'tolerance_bytes: 65536\n    max_exponent: 0.6\n    measure: heap\n')
    spec = parse_spec(toy_spec_yaml(budgets=budgets, head='schema: 1\nmain_branch: trunk\n'), SPEC)
    assert spec.budgets.time.units == ((0, 1),)
    assert spec.budgets.memory.tolerance == 0.0
    assert spec.budgets.memory.tolerance_bytes == 65536
    assert spec.budgets.memory.max_exponent == 0.6
    assert spec.budgets.memory.measure == 'heap'
    assert spec.main_branch == 'trunk'
    default = parse_spec(toy_spec_yaml(), SPEC)
    assert default.main_branch == 'main'
    assert default.budgets.time.units == ()


def test_a_stage_in_two_units_is_refused() -> None:
    budgets = BUDGETS_TWO.replace('ratio_lt: two', 'ratio_lt: 2.0').replace(
        'max_pairs: 5\n', 'max_pairs: 5\n    units: [[0, 1], [1, 0]]\n',
    )
    with pytest.raises(GateError, match=r'budgets.time.units\[1\]\[0\]: stage 1 is already in a unit'):
        parse_spec(toy_spec_yaml(budgets=budgets), SPEC)


@pytest.mark.parametrize(('text', 'line', 'expected'), [
    ('schema: 1\nname: [a, b\nsubject: {}\n', 3, "expected ',' or ']'"),
    ('schema: 1\nbudgets:\n  time:\n    ratio_lt 2.0\n    min_pairs: 3\n', 5, "a missing ':' in the line above"),
    ('schema: 1\n  name: x\n', 2, 'mapping values are not allowed here'),
])
def test_a_yaml_syntax_error_names_line_column_and_what_was_expected(text: str, line: int, expected: str) -> None:
    with pytest.raises(GateError) as info:
        parse_spec(text, SPEC)
    message = str(info.value)
    assert message.startswith(f'{SPEC}:{line}:'), message
    assert 'YAML syntax error' in message and expected in message, message
    assert '<document>' not in message and '\n' not in message
