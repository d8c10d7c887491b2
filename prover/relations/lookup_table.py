"""The instruction lookup table of docs/protocol.md ("The instruction lookup table").

2^19 entries indexed by i = a + 256 b (a < 256, b < 2048), each a tuple (a, b, o1, o2):
- b < 1280: op = b >> 8 in AND, OR, XOR, ANDN, MOV and v = b & 255; o1 = op(a, v),
  o2 = 2^16 + v (a tag no shift entry can carry, since shift outputs are < 2^16: stage 1's
  f_bitwise (o2_j - y_j - 2^16) = 0 then pins y_j = v, a byte in the row's own op region);
- 1280 <= b < 1664: k = b - 1280, shcode = k >> 2, j = k & 3, kind = shcode >> 5 (SHL, SHR,
  ROTR), amt = shcode & 31; r = shift(a << 8j, amt) on 32 bits; o1 = r & 0xffff, o2 = r >> 16;
- b >= 1664: o1 = o2 = 0.
Stage 3 proves that every cycle's four key tuples (a_j, b_j, o1_j, o2_j) lie in this table.

Public names
- ``LOG_SIZE``, ``SIZE``: 19, 2^19.
- ``table_columns()``: the four columns (a, b, o1, o2) as read-only base vectors (cached).
- ``table_mle(point)``: their multilinear extensions at a 19-variable ext point (verifier).
- ``multiplicities(a_cols, b_cols)``: m_instr, how often each entry is looked up over the 4
  slots (committed in stage 0).

Sits in ``relations``: imports ``field`` and ``mle`` only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from prover.field import U64, edot, lincomb_base
from prover.mle import Point, eq_table, identity_eval

LOG_A = 8
LOG_B = 11
LOG_SIZE = LOG_A + LOG_B
SIZE = 1 << LOG_SIZE

SHIFT_BASE = 1280  # first b of the shift region (5 bitwise ops x 256 values)
BITWISE_TAG = np.uint64(1 << 16)  # o2 of every bitwise entry is BITWISE_TAG + v
SHIFT_END = SHIFT_BASE + 4 * 3 * 32  # 3 kinds x 32 amounts x 4 byte positions = 1664

_MASK32 = np.uint64(0xFFFFFFFF)


def _bitwise(a: U64, b: U64) -> U64:
    """o1 on the bitwise region: op = b >> 8 picks AND, OR, XOR, ANDN, MOV applied to (a, b & 255)."""
    op = b >> np.uint64(8)
    v = b & np.uint64(255)
    choices = [a & v, a | v, a ^ v, a & (~v & np.uint64(255)), v]
    return np.select([op == np.uint64(k) for k in range(5)], choices, default=np.uint64(0))


def _shift(a: U64, b: U64) -> U64:
    """The 32-bit shift result r on the shift region (callers split it into o1, o2)."""
    k = b - np.uint64(SHIFT_BASE)
    shcode = k >> np.uint64(2)
    j = k & np.uint64(3)
    kind = shcode >> np.uint64(5)
    amt = shcode & np.uint64(31)
    u = (a << (np.uint64(8) * j)) & _MASK32
    shl = (u << amt) & _MASK32
    shr = u >> amt
    # u < 2^32, so u << (32 - amt) < 2^64 never wraps; for amt = 0 the masked term is 0.
    rotr = (shr | (u << (np.uint64(32) - amt))) & _MASK32
    return np.select([kind == np.uint64(0), kind == np.uint64(1)], [shl, shr], default=rotr)


@lru_cache(maxsize=1)
def table_columns() -> tuple[U64, U64, U64, U64]:
    """(a, b, o1, o2) over all 2^19 entries, read-only, built once per process."""
    i = np.arange(SIZE, dtype=np.uint64)
    a = i & np.uint64(255)
    b = i >> np.uint64(LOG_A)
    o1 = np.zeros(SIZE, dtype=np.uint64)
    o2 = np.zeros(SIZE, dtype=np.uint64)
    bw = slice(0, SHIFT_BASE << LOG_A)  # entries are b-major, so each region is a slice
    o1[bw] = _bitwise(a[bw], b[bw])
    o2[bw] = BITWISE_TAG + (b[bw] & np.uint64(255))
    sh = slice(SHIFT_BASE << LOG_A, SHIFT_END << LOG_A)
    r = _shift(a[sh], b[sh])
    o1[sh] = r & np.uint64(0xFFFF)
    o2[sh] = r >> np.uint64(16)
    for col in (a, b, o1, o2):
        col.flags.writeable = False
    return a, b, o1, o2


def table_mle(point: Point) -> tuple[U64, U64, U64, U64]:
    """(a, b, o1, o2) multilinear extensions at a 19-variable point, as ext scalars.

    a and b are the low 8 and high 11 bits of the index, so their MLEs are binary sums. For o1, o2
    eq factors as eq(r_a, a) eq(r_b, b): contract the 2048 x 256 matrix with eq(r_a) (one exact
    BLAS pass, ``lincomb_base``) and then with eq(r_b); only rows b < 1664 can be non-zero.
    """
    if len(point) != LOG_SIZE:
        raise ValueError(f"lookup table point has {len(point)} variables, expected {LOG_SIZE}")
    r_a, r_b = list(point[:LOG_A]), list(point[LOG_A:])
    eq_a = eq_table(r_a)
    eq_b = eq_table(r_b)[:, :SHIFT_END]
    _, _, o1, o2 = table_columns()
    out = []
    for col in (o1, o2):
        rows = col[: SHIFT_END << LOG_A].reshape(SHIFT_END, 1 << LOG_A)  # [b, a]
        inner = lincomb_base(np.ascontiguousarray(rows.T), eq_a)  # (4, SHIFT_END)
        out.append(edot(inner, eq_b))
    return identity_eval(r_a), identity_eval(r_b), out[0], out[1]


def multiplicities(a_cols: Sequence[U64], b_cols: Sequence[U64]) -> U64:
    """m_instr[i] = number of (cycle, slot) with a_j + 256 b_j = i, over the 4 key slots.

    Raises ValueError if a key lies outside the table (a >= 256 or b >= 2048): no honest trace
    has one, and the logUp argument could not balance it.
    """
    if len(a_cols) != len(b_cols):
        raise ValueError(f"{len(a_cols)} a-columns but {len(b_cols)} b-columns")
    counts = np.zeros(SIZE, dtype=np.uint64)
    for j, (a, b) in enumerate(zip(a_cols, b_cols)):
        a = np.asarray(a, dtype=np.uint64)
        b = np.asarray(b, dtype=np.uint64)
        bad = np.flatnonzero((a >= np.uint64(1 << LOG_A)) | (b >= np.uint64(1 << LOG_B)))
        if bad.size:
            c = int(bad[0])
            raise ValueError(
                f"lookup key outside the table at slot {j}, cycle {c}: a={int(a[c])}, b={int(b[c])}"
            )
        idx = (a + (b << np.uint64(LOG_A))).astype(np.int64)
        counts += np.bincount(idx, minlength=SIZE).astype(np.uint64)
    return counts
