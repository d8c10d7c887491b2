"""The example's own tests: openings verify, and the optimised candidate writes the same bytes."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent.parent


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


baseline = load(HERE / 'merkle.py', 'merkle_example_baseline')
fast = load(HERE / 'candidates' / 'merkle_fast.py', 'merkle_example_fast')


@pytest.mark.parametrize('log_n', [1, 3, 6])
def test_openings_verify_and_tampering_is_caught(log_n: int) -> None:
    leaf_hashes = baseline.leaves(b'seed', log_n)
    top = baseline.root(leaf_hashes)
    n = len(leaf_hashes)
    for index, path in baseline.openings(leaf_hashes, top, 8):
        assert baseline.verify(top, n, leaf_hashes[index], index, path)
        assert not baseline.verify(top, n, leaf_hashes[index ^ 1], index, path) or \
            leaf_hashes[index ^ 1] == leaf_hashes[index]
        bad = [bytes([path[0][0] ^ 1]) + path[0][1:]] + path[1:]
        assert not baseline.verify(top, n, leaf_hashes[index], index, bad)


@pytest.mark.parametrize('log_n', [1, 4, 7])
def test_candidate_writes_the_baseline_bytes(log_n: int) -> None:
    leaf_hashes = baseline.leaves(b'seed', log_n)
    top = baseline.root(leaf_hashes)
    assert fast.root(leaf_hashes) == top
    want = baseline.encode(top, leaf_hashes, baseline.openings(leaf_hashes, top, 16))
    got = fast.encode(top, leaf_hashes, fast.openings(leaf_hashes, top, 16))
    assert got == want
