"""Multilinear helpers against a plain-int evaluation (``field_ref``) of the definitions."""

from __future__ import annotations

import random

import numpy as np
import pytest

from prover import field as F
from prover import field_ref as R
from prover.mle import (
    bind_low_base,
    bind_low_ext,
    eq_eval,
    eq_table,
    identity_eval,
    mle_eval_base,
    mle_eval_ext,
    next_eval,
)

P = F.P


def rand_point(rng: random.Random, k: int) -> list[np.ndarray]:
    return [F.ext_scalar(*(rng.randrange(P) for _ in range(4))) for _ in range(k)]


def ref_eq(r: list[list[int]], i: int) -> list[int]:
    """eq(r, i) = prod_j (r_j b_j + (1 - r_j)(1 - b_j)), b_j = bit j of i, in plain ints."""
    acc = [1, 0, 0, 0]
    for j, rj in enumerate(r):
        factor = rj if (i >> j) & 1 else R.esub([1, 0, 0, 0], rj)
        acc = R.emul(acc, factor)
    return acc


def ref_mle(table: list[list[int]], r: list[list[int]]) -> list[int]:
    """sum_i eq(r, i) T[i]; table as a list of ext elements."""
    acc = [0, 0, 0, 0]
    for i, t in enumerate(table):
        acc = R.eadd(acc, R.emul(ref_eq(r, i), t))
    return acc


def bits(i: int, k: int) -> list[np.ndarray]:
    return [F.ext_scalar((i >> j) & 1) for j in range(k)]


def ints(e: np.ndarray) -> list[int]:
    return [int(x) for x in e]


def test_eq_table_matches_definition_little_endian() -> None:
    rng = random.Random(1)
    r = rand_point(rng, 3)
    table = eq_table(r)
    rr = [ints(x) for x in r]
    assert [ints(table[:, i]) for i in range(8)] == [ref_eq(rr, i) for i in range(8)]


def test_eq_table_sums_to_one_and_is_an_indicator_on_the_cube() -> None:
    rng = random.Random(2)
    assert ints(F.esum(eq_table(rand_point(rng, 4)))) == [1, 0, 0, 0]
    t = eq_table(bits(5, 3))
    assert [int(t[0, i]) for i in range(8)] == [int(i == 5) for i in range(8)]


def test_eq_eval_matches_table() -> None:
    rng = random.Random(3)
    r = rand_point(rng, 4)
    assert F.eq_scalar(eq_eval(r, bits(9, 4)), eq_table(r)[:, 9])
    s = rand_point(rng, 4)
    assert F.eq_scalar(eq_eval(r, s), eq_eval(s, r))
    assert F.eq_scalar(eq_eval(r, s), F.edot(eq_table(r), eq_table(s)))


@pytest.mark.parametrize("k", [0, 1, 4])
def test_mle_eval_base_and_ext_match_plain_ints(k: int) -> None:
    rng = random.Random(4 + k)
    r = rand_point(rng, k)
    base = np.array([rng.randrange(P) for _ in range(1 << k)], dtype=np.uint64)
    ext = np.array([[rng.randrange(P) for _ in range(1 << k)] for _ in range(4)], dtype=np.uint64)
    rr = [ints(x) for x in r]
    assert ints(mle_eval_base(base, r)) == ref_mle([[int(v), 0, 0, 0] for v in base], rr)
    assert ints(mle_eval_ext(ext, r)) == ref_mle([ints(ext[:, i]) for i in range(1 << k)], rr)


def test_bind_low_folds_bit_zero() -> None:
    rng = random.Random(5)
    base = np.array([rng.randrange(P) for _ in range(8)], dtype=np.uint64)
    r = rand_point(rng, 3)
    folded = bind_low_base(base, r[0])
    # pairs (T[2i], T[2i+1]): T[0] + r (T[1] - T[0]) is the first entry
    want0 = F.eadd(F.ext_from_base(base[0]), F.emul_base(r[0], F.sub(base[1], base[0])))
    assert F.eq_scalar(folded[:, 0], want0)
    assert F.eq_scalar(mle_eval_ext(folded, r[1:]), mle_eval_base(base, r))
    again = bind_low_ext(folded, r[1])
    assert F.eq_scalar(mle_eval_ext(again, r[2:]), mle_eval_base(base, r))


def test_next_on_the_cube_is_successor_without_wraparound() -> None:
    k = 3
    for x in range(8):
        for y in range(8):
            assert ints(next_eval(bits(x, k), bits(y, k))) == [int(y == x + 1), 0, 0, 0], (x, y)


def test_next_eval_is_the_multilinear_extension() -> None:
    rng = random.Random(6)
    k = 3
    r, s = rand_point(rng, k), rand_point(rng, k)
    er, es = eq_table(r), eq_table(s)
    want = F.ext_scalar(0)
    for x in range(7):
        want = F.eadd(want, F.emul(er[:, x], es[:, x + 1]))
    assert F.eq_scalar(next_eval(r, s), want)


def test_identity_eval() -> None:
    rng = random.Random(7)
    assert ints(identity_eval(bits(13, 5))) == [13, 0, 0, 0]
    r = rand_point(rng, 4)
    idx = np.arange(16, dtype=np.uint64)
    assert F.eq_scalar(identity_eval(r), mle_eval_base(idx, r))


def test_point_length_mismatch_rejected() -> None:
    with pytest.raises(ValueError):
        mle_eval_base(np.zeros(8, dtype=np.uint64), [F.ext_scalar(1)] * 2)
    with pytest.raises(ValueError):
        next_eval([F.ext_scalar(1)], [])
