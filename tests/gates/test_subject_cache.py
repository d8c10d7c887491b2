"""Each tree's subject processes get a private cache folder outside the tree (spec
``subject.env`` with ``{cache}``): a JIT that caches next to its sources would otherwise change the
measured tree, and one tree's run may not write another tree's cache. Real subprocesses."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from gate_helpers import python_subject
from gate_helpers import write_subject

from gates.measuring import probe
from gates.measuring.request import RunRequest
from gates.measuring import treedigest
from gates.model import GateError
from gates.contract.spec import parse_spec

STAGES = [0, 1, 2]
MAT = {'0': 'materialized', '1': 'materialized', '2': 'materialized'}

WRITES_ITS_CACHE = '''\
cache = os.environ['SUBJECT_CACHE']
os.makedirs(cache, exist_ok=True)
with open(os.path.join(cache, 'kernel.bin'), 'a') as fh:
    fh.write('compiled\\n')
for k in range(3):
    observer.enter(k)
    observer.exit(k)
return b'PROOF'
'''


def _subject() -> probe.Subject:
    return dataclasses.replace(python_subject(), env=(('SUBJECT_CACHE', '{cache}/jit'),))


def test_a_subject_writes_its_cache_outside_the_tree_and_the_guard_allows_it(tmp_path: Path) -> None:
    tree = tmp_path / 'tree'
    write_subject(tree, WRITES_ITS_CACHE)
    guard = treedigest.Guard()
    guard.watch(tree, 'baseline')
    for _ in range(2):
        probe.time(RunRequest(_subject(), tree, 'w', {}, MAT, STAGES, timeout=60, guard=guard))
    cache = treedigest.cache_home(tree) / 'jit' / 'kernel.bin'
    assert cache.read_text() == 'compiled\ncompiled\n'
    assert not (tree / 'jit').exists() and tree not in cache.parents
    guard.verify('after both runs')


def test_a_run_that_writes_another_trees_cache_is_caught(tmp_path: Path) -> None:
    base, cand = tmp_path / 'base', tmp_path / 'cand'
    write_subject(base, WRITES_ITS_CACHE)
    victim = treedigest.cache_home(base)
    write_subject(cand, f'''\
        with open({str(victim / 'planted.bin')!r}, 'w') as fh:
            fh.write('slow code')
        for k in range(3):
            observer.enter(k)
            observer.exit(k)
        return b'PROOF'
    ''')
    guard = treedigest.Guard()
    guard.watch(base, 'baseline')
    guard.watch(cand, 'candidate')
    probe.time(RunRequest(_subject(), base, 'w', {}, MAT, STAGES, timeout=60, guard=guard))
    with pytest.raises(probe.TreeTampered, match='private cache of tree'):
        probe.time(RunRequest(_subject(), cand, 'w', {}, MAT, STAGES, timeout=60, guard=guard))


REPO_SPEC = Path(__file__).resolve().parents[2] / 'specs' / 'streaming-prover.yaml'
ENV_LINE = 'NUMBA_CACHE_DIR: "{cache}/numba"'


def _spec_text(name: str, value: str) -> str:
    text = REPO_SPEC.read_text(encoding='utf-8')
    assert ENV_LINE in text
    return text.replace(ENV_LINE, f'{name}: "{value}"')


def test_the_spec_reads_subject_env() -> None:
    spec = parse_spec(_spec_text('NUMBA_CACHE_DIR', '{cache}/numba'), 'toy.yaml')
    assert spec.subject.env == (('NUMBA_CACHE_DIR', '{cache}/numba'),)


@pytest.mark.parametrize(('name', 'value', 'says'), [
    ('PYTHONPATH', '/elsewhere', 'other than PYTHON'),
    ('GIT_DIR', '/x', 'other than PYTHON'),
    ('CACHE', '{tree}/x', 'only placeholder is {cache}'),
])
def test_the_spec_refuses_a_bad_subject_env(name: str, value: str, says: str) -> None:
    with pytest.raises(GateError, match=r'toy\.yaml:\d+.*subject\.env') as err:
        parse_spec(_spec_text(name, value), 'toy.yaml')
    assert says in str(err.value)
