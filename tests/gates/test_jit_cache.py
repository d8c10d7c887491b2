"""The warm JIT store of the pre-commit tier (issue 17.2, item 5), with real numba and real
subject processes: a slot is keyed by the numba modules' import closure, filled only by a
warm-up in a tree of those files, validated before use, and no subject run may write it."""
from __future__ import annotations

import hashlib
import json
import shutil
import textwrap
from pathlib import Path

import pytest

from gates.contract.spec import Subject
from gates.measuring import jitcache
from gates.measuring import probe
from gates.measuring.request import RunRequest
from gates.measuring import treedigest
from gates.vcs import cachestore

pytest.importorskip('numba')

KERN = '''\
import numba
from numba import types as _nt

from jitsub.helper import STEP


@numba.njit(_nt.int64(_nt.int64), cache=True)
def bump(x):
    return x * 7 + STEP
'''

PROBE = '''\
from jitsub import stage


def prove(params, variant, observer):
    observer.enter(0)
    out = stage.run(int(params["x"]), params.get("poke"))
    observer.exit(0)
    return out


def verify(params, proof):
    return True, "ok"


def sections(proof):
    return [(0, 0, len(proof))]


def capabilities():
    return {"0": ["materialized"]}
'''

STAGE = '''\
import os

from jitsub.kern import bump


def run(x, poke=None):
    if poke:
        with open(poke, "w") as fh:     # code under judgement writing where it may not
            fh.write("poisoned")
    return str(bump(x)).encode()
'''


def subject() -> Subject:
    return Subject(
        kind='python', root='.', prove='jitsub.probe:prove', verify='jitsub.probe:verify',
        sections='jitsub.probe:sections', capabilities='jitsub.probe:capabilities', argv=(),
        env=(('NUMBA_CACHE_DIR', '{cache}/numba'),),
    )


def make_tree(path: Path, step: int = 3, kern: str = KERN) -> Path:
    pkg = path / 'jitsub'
    pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'helper.py').write_text(f'STEP = {step}\n')
    (pkg / 'kern.py').write_text(kern)
    (pkg / 'stage.py').write_text(STAGE)
    (pkg / 'probe.py').write_text(PROBE)
    return path


def guard_for(tree: Path, store: Path) -> treedigest.Guard:
    guard = treedigest.Guard()
    guard.watch(tree, 'candidate')
    cachestore.secret(store)
    guard.jit_store = store
    guard.protect(store, 'stagegate cache store')
    return guard


def prove(tree: Path, store: Path | None, x: int = 5, poke: str | None = None) -> bytes:
    params = {'x': x, **({'poke': poke} if poke else {})}
    guard = guard_for(tree, store) if store is not None else None
    run = probe.proof(RunRequest(subject(), tree, 'w', params, {'0': 'materialized'}, [0], guard=guard))
    return run.proof


def plan_of(tree: Path) -> jitcache.Plan:
    found = jitcache.plan(tree, dict(subject().env), ['jitsub.probe:prove'])
    assert found is not None
    return found


def test_the_key_covers_the_numba_modules_and_what_they_import_not_the_stages(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / 'a')
    first = plan_of(tree)
    assert first.files == ('jitsub/__init__.py', 'jitsub/helper.py', 'jitsub/kern.py')
    assert first.modules == ('jitsub.kern',)
    (tree / 'jitsub' / 'stage.py').write_text(STAGE + '# a one-line stage edit\n')
    assert plan_of(tree).key == first.key
    (tree / 'jitsub' / 'helper.py').write_text('STEP = 4\n')   # a constant the kernel freezes
    assert plan_of(tree).key != first.key


def test_a_second_tree_starts_warm_and_proves_the_same_bytes(tmp_path: Path) -> None:
    store = tmp_path / 'store'
    cold = prove(make_tree(tmp_path / 'cold'), None)
    first = prove(make_tree(tmp_path / 'a'), store)
    key = plan_of(tmp_path / 'a').key
    files = jitcache.Store(store).valid(key)
    assert files and any(f.endswith('.nbc') for f in files), files
    tree = make_tree(tmp_path / 'b')
    guard = guard_for(tree, store)
    probe.capabilities(subject(), tree, guard=guard)
    # Seeded from the slot and used as is: numba rewrote no index (it does on a compile).
    cache = treedigest.cache_home(tree) / 'numba'
    seeded = {p.name: p.read_bytes() for p in cache.rglob('*.nbi')}
    slot = {Path(r).name: (jitcache.Store(store).slot(key) / 'files' / r).read_bytes() for r in files if r.endswith('.nbi')}
    assert seeded == slot
    assert first == cold == prove(tree, store) == b'38'


def test_a_corrupted_slot_is_rebuilt_not_used(tmp_path: Path) -> None:
    store = tmp_path / 'store'
    prove(make_tree(tmp_path / 'a'), store)
    key = plan_of(tmp_path / 'a').key
    slot = jitcache.Store(store).slot(key)
    nbc = next((slot / 'files').rglob('*.nbc'))
    nbc.write_bytes(b'not a numba cache entry')
    assert jitcache.Store(store).valid(key) is None
    assert prove(make_tree(tmp_path / 'b'), store) == b'38'
    assert jitcache.Store(store).valid(key) is not None      # rebuilt by a warm-up


def test_a_foreign_slot_is_refused_and_rebuilt(tmp_path: Path) -> None:
    """Another source's compiled kernels (STEP=100) filed under this source's key, by a store
    with another secret (a copied cache folder, a forger without this user's secret): refused
    by the MAC, rebuilt, and the bytes are this tree's. Measured while writing this test: with
    a valid MAC such a slot DOES change the bytes (b'135'): numba checks the kernel file's
    content and bytecode, not the constants it froze from helper.py. That is why the key covers
    the import closure and why the MAC (not numba) is what refuses a relabelled slot."""
    store = tmp_path / 'store'
    other = make_tree(tmp_path / 'other', step=100)
    assert prove(other, store) == b'135'
    other_key = plan_of(other).key
    files = jitcache.Store(store).valid(other_key)
    assert files
    mine = make_tree(tmp_path / 'mine')
    forged = {r: (jitcache.Store(store).slot(other_key) / 'files' / r).read_bytes() for r in files}
    elsewhere = tmp_path / 'elsewhere'
    jitcache.Store(elsewhere).put(plan_of(mine).key, forged)      # MAC'd under another secret
    shutil.copytree(jitcache.Store(elsewhere).slot(plan_of(mine).key), jitcache.Store(store).slot(plan_of(mine).key))
    assert jitcache.Store(store).valid(plan_of(mine).key) is None
    assert prove(mine, store) == b'38'
    assert jitcache.Store(store).valid(plan_of(mine).key) is not None


def test_a_subject_run_that_writes_into_the_store_voids_the_check(tmp_path: Path) -> None:
    store = tmp_path / 'store'
    tree = make_tree(tmp_path / 'a')
    with pytest.raises(probe.ProbeFailed, match='cache store'):
        prove(tree, store, poke=str(store / 'jit' / 'planted'))


def test_the_warm_up_sees_only_the_key_files(tmp_path: Path) -> None:
    """A numba module importing a file outside the key at run time (here: the stage) fails in
    the warm-up's private tree, so that file can never fill a slot; the run stays cold."""
    store = tmp_path / 'store'
    sneaky = KERN + 'import importlib\nimportlib.import_module("jitsub.stage")\n'
    tree = make_tree(tmp_path / 'a', kern=sneaky)
    assert prove(tree, store) == b'38'
    assert not (store / 'jit').is_dir() or not any((store / 'jit').iterdir())


def test_slot_manifest_names_its_key(tmp_path: Path) -> None:
    """A slot copied whole under another key (manifest and all) is not valid there."""
    store = tmp_path / 'store'
    prove(make_tree(tmp_path / 'a'), store)
    key = plan_of(tmp_path / 'a').key
    fake = hashlib.sha256(b'another key').hexdigest()
    shutil.copytree(jitcache.Store(store).slot(key), jitcache.Store(store).slot(fake))
    assert jitcache.Store(store).valid(fake) is None
    doc = json.loads((jitcache.Store(store).slot(key) / 'manifest.json').read_text())
    doc['body']['files'] = {}
    (jitcache.Store(store).slot(key) / 'manifest.json').write_text(json.dumps(doc))
    assert jitcache.Store(store).valid(key) is None       # MAC no longer matches


def test_numba_subpath_is_numbas_own(tmp_path: Path) -> None:
    from numba.core.caching import _CacheLocator
    src = tmp_path / 'pkg' / 'mod.py'
    assert jitcache.numba_subpath(str(src.parent)) == _CacheLocator.get_suitable_cache_subpath(str(src))  # type: ignore[no-untyped-call]


def test_a_subject_without_numba_has_no_plan(tmp_path: Path) -> None:
    tree = tmp_path / 't'
    (tree / 'plain').mkdir(parents=True)
    (tree / 'plain' / '__init__.py').write_text(textwrap.dedent('x = 1\n'))
    assert jitcache.plan(tree, {'NUMBA_CACHE_DIR': '{cache}/n'}, ['plain:prove']) is None
    assert jitcache.plan(make_tree(tmp_path / 'j'), {}, ['jitsub.probe:prove']) is None
