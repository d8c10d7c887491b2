"""The instruction lookup table against a plain-Python reference of every op, its MLE against
direct folding, and the multiplicities against a counter."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from prover.field import P, ext_scalar
from prover.mle import mle_eval_base
from prover.relations import lookup_table as lt

MASK32 = 0xFFFFFFFF


def reference_entry(i: int) -> tuple[int, int, int, int]:
    """(a, b, o1, o2) of entry i, written from docs/protocol.md with plain ints."""
    a, b = i % 256, i // 256
    if b < 1280:
        op, v = b >> 8, b & 255
        o1 = [a & v, a | v, a ^ v, a & (~v & 255), v][op]
        return a, b, o1, (1 << 16) + v
    if b < 1664:
        k = b - 1280
        shcode, j = k >> 2, k & 3
        kind, amt = shcode >> 5, shcode & 31
        u = (a << (8 * j)) & MASK32
        if kind == 0:
            r = (u << amt) & MASK32
        elif kind == 1:
            r = u >> amt
        else:
            r = ((u >> amt) | (u << (32 - amt))) & MASK32
        return a, b, r & 0xFFFF, r >> 16
    return a, b, 0, 0


def test_every_entry_matches_reference() -> None:
    cols = [c.tolist() for c in lt.table_columns()]
    for i in range(lt.SIZE):
        ref = reference_entry(i)
        got = (cols[0][i], cols[1][i], cols[2][i], cols[3][i])
        if got != ref:
            pytest.fail(f"entry {i}: table {got}, reference {ref}")


def test_shift_pieces_recombine_to_the_word_shift() -> None:
    """The per-byte contributions sum to the shift of the whole word (why stage 1 adds them)."""
    rng = np.random.default_rng(1)
    cols = [c.tolist() for c in lt.table_columns()]
    for _ in range(200):
        x = int(rng.integers(0, 1 << 32))
        kind, amt = int(rng.integers(0, 3)), int(rng.integers(0, 32))
        lo = hi = 0
        for j in range(4):
            i = ((x >> (8 * j)) & 255) + 256 * (1280 + 4 * (32 * kind + amt) + j)
            lo += cols[2][i]
            hi += cols[3][i]
        want = [(x << amt) & MASK32, x >> amt, ((x >> amt) | (x << (32 - amt))) & MASK32][kind]
        assert lo + (hi << 16) == want
        assert lo < 1 << 16 and hi < 1 << 16


def test_columns_are_read_only_and_cached() -> None:
    a, *_ = lt.table_columns()
    assert lt.table_columns()[0] is a
    with pytest.raises(ValueError):
        a[0] = 1


def test_table_mle_matches_direct_folding() -> None:
    rng = np.random.default_rng(7)
    point = [ext_scalar(*(int(v) for v in rng.integers(0, P, 4))) for _ in range(lt.LOG_SIZE)]
    got = lt.table_mle(point)
    for name, col, value in zip(("a", "b", "o1", "o2"), lt.table_columns(), got):
        want = mle_eval_base(np.asarray(col), point)
        assert np.array_equal(value.reshape(4), want), name


def test_table_mle_rejects_wrong_arity() -> None:
    with pytest.raises(ValueError):
        lt.table_mle([ext_scalar(1)] * 18)


def test_multiplicities_count_every_slot() -> None:
    rng = np.random.default_rng(3)
    a_cols = [rng.integers(0, 256, 50).astype(np.uint64) for _ in range(4)]
    b_cols = [rng.integers(0, 2048, 50).astype(np.uint64) for _ in range(4)]
    b_cols[1][:] = 3  # repeated keys
    m = lt.multiplicities(a_cols, b_cols)
    want = Counter(int(a) + 256 * int(b) for ac, bc in zip(a_cols, b_cols) for a, b in zip(ac, bc))
    assert m.dtype == np.uint64 and m.shape == (lt.SIZE,)
    assert int(m.sum()) == 200
    for i, n in want.items():
        assert int(m[i]) == n


def test_multiplicities_reject_key_outside_table() -> None:
    a = [np.array([0, 256], dtype=np.uint64)]
    b = [np.array([0, 0], dtype=np.uint64)]
    with pytest.raises(ValueError, match="cycle 1"):
        lt.multiplicities(a, b)
