"""Multilinear extensions over the little-endian hypercube (docs/protocol.md, "Conventions").

A table of 2^k values is indexed by i = sum_j b_j 2^j and a point r = [r_0, ..., r_{k-1}] pairs
r_j with bit j. Everything here is built from ``prover.field`` (no modular arithmetic of its
own) and sits just above it: sumcheck provers, verifiers and stages call these helpers.

Points are lists of ext scalars (shape (4,)); tables are base vectors (n,) or ext vectors (4, n).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from prover.field import (
    U64,
    eadd,
    emul,
    emul_base,
    esub,
    ext_from_base,
    ext_scalar,
    sub,
)

Point = Sequence[U64]

_ONE = ext_scalar(1)


def _check_len(n: int, point: Point) -> None:
    if n != 1 << len(point):
        raise ValueError(f"table of {n} entries does not match a {len(point)}-variable point")


def eq_table(point: Point, scale: U64 | None = None) -> U64:
    """[scale *] eq(point, i) for all i in 0..2^k-1, as an ext vector (4, 2^k).

    Built lowest variable first, each new variable becoming the new high bit, so every step is
    a contiguous half-split: T' = [T (1 - r_j), T r_j]. Costs about 2^k ext multiplications.
    """
    table = (ext_scalar(1) if scale is None else scale).reshape(4, 1).copy()
    for r in point:
        hi = emul(table, r)
        lo = esub(table, hi)
        table = np.concatenate([lo, hi], axis=1)
    return table


def eq_eval(r: Point, s: Point) -> U64:
    """eq(r, s) = prod_j (r_j s_j + (1 - r_j)(1 - s_j)) for two points of equal length."""
    if len(r) != len(s):
        raise ValueError(f"points of different lengths {len(r)} and {len(s)}")
    acc = ext_scalar(1)
    for rj, sj in zip(r, s):
        rs = emul(rj, sj)
        # r s + (1 - r)(1 - s) = 1 - r - s + 2 r s
        term = eadd(esub(esub(_ONE, rj), sj), eadd(rs, rs))
        acc = emul(acc, term)
    return acc


def bind_low_base(table: U64, r: U64) -> U64:
    """Fold bit 0 of a base table: T[2i] + r (T[2i+1] - T[2i]) -> ext vector (4, n/2)."""
    even, odd = table[0::2], table[1::2]
    return eadd(ext_from_base(even), emul_base(r, sub(odd, even)))


def bind_low_ext(table: U64, r: U64) -> U64:
    """Fold bit 0 of an ext table (4, n): T[2i] + r (T[2i+1] - T[2i]) -> (4, n/2)."""
    even, odd = table[:, 0::2], table[:, 1::2]
    return eadd(even, emul(esub(odd, even), r))


def mle_eval_base(table: U64, point: Point) -> U64:
    """The multilinear extension of a base table at an ext point, by repeated folding."""
    _check_len(table.shape[0], point)
    if not point:
        return ext_from_base(table[0])
    acc = bind_low_base(table, point[0])
    for r in point[1:]:
        acc = bind_low_ext(acc, r)
    return acc.reshape(4)


def mle_eval_ext(table: U64, point: Point) -> U64:
    """The multilinear extension of an ext table (4, 2^k) at an ext point."""
    _check_len(table.shape[1], point)
    acc = table
    for r in point:
        acc = bind_low_ext(acc, r)
    return acc.reshape(4)


def next_eval(r: Point, s: Point) -> U64:
    """MLE of next(x, y) = [y == x + 1] (non-cyclic: 0 when x = 2^k - 1) at x = r, y = s.

    y = x + 1 iff for some l: x has bits 0..l-1 set and bit l clear, y has bits 0..l-1 clear
    and bit l set, and the bits above l agree. Summing that product over l with running
    prefix/suffix products costs O(k).
    """
    k = len(r)
    if len(s) != k:
        raise ValueError(f"points of different lengths {k} and {len(s)}")
    # suffix[l] = prod_{j >= l} eq(r_j, s_j)
    suffix = [ext_scalar(1)] * (k + 1)
    for j in range(k - 1, -1, -1):
        suffix[j] = emul(suffix[j + 1], eq_eval([r[j]], [s[j]]))
    total = ext_scalar(0)
    prefix = ext_scalar(1)  # prod_{j < l} r_j (1 - s_j)
    for l in range(k):
        carry_bit = emul(esub(_ONE, r[l]), s[l])
        total = eadd(total, emul(emul(prefix, carry_bit), suffix[l + 1]))
        prefix = emul(prefix, emul(r[l], esub(_ONE, s[l])))
    return total


def identity_eval(point: Point) -> U64:
    """MLE of i -> i at a point: sum_j 2^j r_j."""
    acc = ext_scalar(0)
    for j, rj in enumerate(point):
        acc = eadd(acc, emul_base(rj, 1 << j))  # emul_base reduces the int
    return acc.reshape(4)

