"""Claim reduction helpers (stage 7) over materialized tables.

- ``EqBatchProver``: RoundProver for sum_x sum_i eq(r_i, x) L_i(x) (degree 2) with
  L_i = sum_j c_ij col_j, the claim-reduction sumcheck. eq is never bound: per pair it keeps the
  prefix factor prod_{l<j} eq(r_il, s_l) and the suffix table eq(r_i,>j, .) (halved by adding its
  even and odd entries each round), so a round costs two eq-weighted sums and one bind of L_i
  (one BLAS pass); round 0 reads the base columns directly.
- ``SumOfProvers``: several instances over the same variables and degree as one sumcheck
  (stage 7 adds stage 1's shift term); ``next_table(r)``: the table of next(r, y) over y.
- ``evaluate_columns(cols, point)``: the MLEs of many base columns at one point (one BLAS pass).
- ``lincomb_cols(cols, coeffs)``: ``field.lincomb_base`` over separate column arrays, stacked
  blockwise so no (m, n) copy is ever made; ``halves_lincomb(cols, coeffs)`` the same over the
  columns' even then odd halves (what binding bit 0 of a linear combination needs).

Sits in ``backends.dense``: imports field and mle.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from prover.field import U64, eadd, edot, edot_base_many, emul, esub, esum, ext_scalar, lincomb_base
from prover.mle import Point, eq_table

_XPOW = tuple(np.eye(4, dtype=np.uint64)[:, u].copy() for u in range(4))  # X^0..X^3 as ext scalars


def _eq1(a: U64, b: U64) -> U64:
    """eq(a, b) = a b + (1 - a)(1 - b) for ext scalars."""
    one = ext_scalar(1)
    return eadd(emul(a, b), emul(esub(one, a), esub(one, b)))


_SPAN = 1 << 15  # rows per stacked block: the stacked copy stays small (and in cache)


def lincomb_cols(cols: Sequence[U64], coeffs: U64) -> U64:
    """sum_j coeffs[:, j] cols[j] for separate base columns, without stacking them all at once."""
    n = cols[0].shape[0]
    out = np.empty((4, n), dtype=np.uint64)
    block = np.empty((len(cols), min(n, _SPAN)), dtype=np.uint64)
    for i0 in range(0, n, _SPAN):
        i1 = min(n, i0 + _SPAN)
        for j, c in enumerate(cols):
            block[j, : i1 - i0] = c[i0:i1]
        out[:, i0:i1] = lincomb_base(block[:, : i1 - i0], coeffs)
    return out


def halves_lincomb(cols: Sequence[U64], coeffs: U64) -> U64:
    """sum_j coeffs[:, j] col_j(even) + coeffs[:, m + j] col_j(odd), length n/2, blockwise."""
    m, h = len(cols), cols[0].shape[0] // 2
    out = np.empty((4, h), dtype=np.uint64)
    block = np.empty((2 * m, min(h, _SPAN)), dtype=np.uint64)
    for i0 in range(0, h, _SPAN):
        i1 = min(h, i0 + _SPAN)
        for j, c in enumerate(cols):
            block[j, : i1 - i0] = c[2 * i0 : 2 * i1 : 2]
            block[m + j, : i1 - i0] = c[2 * i0 + 1 : 2 * i1 : 2]
        out[:, i0:i1] = lincomb_base(block[:, : i1 - i0], coeffs)
    return out


def _halves_dot(e: U64, cols: Sequence[U64]) -> U64:
    """(4, 2m): <e, col_j(even)> for j < m, then <e, col_j(odd)>, blockwise (``edot_base_many``)."""
    m, h = len(cols), cols[0].shape[0] // 2
    acc = np.zeros((4, 2 * m), dtype=np.uint64)
    block = np.empty((2 * m, min(h, _SPAN)), dtype=np.uint64)
    for i0 in range(0, h, _SPAN):
        i1 = min(h, i0 + _SPAN)
        for j, c in enumerate(cols):
            block[j, : i1 - i0] = c[2 * i0 : 2 * i1 : 2]
            block[m + j, : i1 - i0] = c[2 * i0 + 1 : 2 * i1 : 2]
        acc = eadd(acc, edot_base_many(np.ascontiguousarray(e[:, i0:i1]), block[:, : i1 - i0]))
    return acc


class EqBatchProver:
    """RoundProver for sum_x sum_i eq(r_i, x) L_i(x) (degree 2), L_i = sum_j coeffs_ij col_ij.

    Each pair is (r_i, base columns [m_i arrays of 2^k], ext coefficients (4, m_i)). Round 0
    works on the base columns directly (eq-weighted sums of base rows, ``edot_base_many``) and
    its bind produces the half-size L_i in one pass (``lincomb_base``), so no full-size ext
    table is ever built; later rounds fold the ext L_i. Columns are stacked blockwise
    (``_SPAN`` rows at a time), never all at once.
    """

    def __init__(self, pairs: Sequence[tuple[Point, Sequence[U64], U64]]) -> None:
        if not pairs:
            raise ValueError("no claims to reduce")
        self._k = len(pairs[0][0])
        self._points = [list(p) for p, _, _ in pairs]
        self._blocks: list[Sequence[U64] | None] = []
        self._coeffs: list[U64] = []
        for p, block, cs in pairs:
            if len(p) != self._k or cs.shape != (4, len(block)) or any(c.shape != (1 << self._k,) for c in block):
                raise ValueError(f"pair of a {len(p)}-variable point, {len(block)} columns, coeffs {cs.shape}")
            self._blocks.append(block)
            self._coeffs.append(cs)
        self._tables: list[U64 | None] = [None] * len(pairs)
        # suffix eq tables eq(r_i,>0, .) over the upper k - 1 bits
        self._eq = [eq_table(p[1:]) for p in self._points]
        self._prefix = [ext_scalar(1) for _ in pairs]
        self._round = 0

    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return 2

    def _q(self, i: int) -> tuple[U64, U64]:
        e = self._eq[i]
        block = self._blocks[i]
        if block is not None:  # round 0: <e, L(half)> = sum_j c_j <e, col_j(half)>
            m = len(block)
            d = _halves_dot(e, block)  # (4, 2m)
            cs = self._coeffs[i]
            return esum(emul(cs, d[:, :m])), esum(emul(cs, d[:, m:]))
        t = self._tables[i]
        if t is None:
            raise RuntimeError("claim table missing")
        return edot(e, t[:, 0::2]), edot(e, t[:, 1::2])

    def round_evals(self) -> list[U64]:
        j = self._round
        s = [ext_scalar(0), ext_scalar(0), ext_scalar(0)]
        for i, pt in enumerate(self._points):
            q0, q1 = self._q(i)
            q2 = esub(eadd(q1, q1), q0)  # q is linear in X
            for x, q in enumerate((q0, q1, q2)):
                s[x] = eadd(s[x], emul(self._prefix[i], emul(_eq1(pt[j], ext_scalar(x)), q)))
        return s

    def bind(self, r: U64) -> None:
        j = self._round
        one = ext_scalar(1)
        s0, s1 = esub(one, r), r
        xcoeffs = np.stack([emul(s0, _XPOW[u]) for u in range(4)] + [emul(s1, _XPOW[u]) for u in range(4)], axis=1)
        for i in range(len(self._points)):
            block = self._blocks[i]
            if block is not None:  # L'(x) = sum_j c_j ((1 - r) col_j(2x) + r col_j(2x + 1))
                cs = self._coeffs[i]
                coeffs = np.concatenate([emul(cs, s0), emul(cs, s1)], axis=1)
                self._tables[i] = halves_lincomb(block, coeffs)
                self._blocks[i] = None
            else:
                t = self._tables[i]
                if t is None:
                    raise RuntimeError("claim table missing")
                self._tables[i] = lincomb_base(np.concatenate([t[:, 0::2], t[:, 1::2]]), xcoeffs)
            self._prefix[i] = emul(self._prefix[i], _eq1(self._points[i][j], r))
            e = self._eq[i]
            if e.shape[1] > 1:  # eq(r_i,>j+1, .) = sum over the bit of r_i,j+1
                self._eq[i] = eadd(e[:, 0::2], e[:, 1::2])
        self._round += 1


def evaluate_columns(cols: Mapping[str, U64], point: Point) -> dict[str, U64]:
    """name -> MLE of the base column at ``point`` (all columns of length 2^len(point))."""
    names = list(cols)
    if not names:
        return {}
    eq = eq_table(list(point))
    n = eq.shape[1]
    acc = np.zeros((4, len(names)), dtype=np.uint64)
    block = np.empty((len(names), min(n, _SPAN)), dtype=np.uint64)
    for i0 in range(0, n, _SPAN):
        i1 = min(n, i0 + _SPAN)
        for j, name in enumerate(names):
            block[j, : i1 - i0] = cols[name][i0:i1]
        acc = eadd(acc, edot_base_many(np.ascontiguousarray(eq[:, i0:i1]), block[:, : i1 - i0]))
    return {name: acc[:, j].copy() for j, name in enumerate(names)}


class SumOfProvers:
    """RoundProver for the sum of several sumcheck instances over the same variables and degree.

    Stage 7 of protocol v3 reduces the eq-weighted claims (``EqBatchProver``) and stage 1's
    pc(c + 1) claim (``ProductSumcheckProver`` of next(r1, .) and pc) in one sumcheck: the round
    polynomial is the sum of the parts' round polynomials, and each part binds the same challenge.
    """

    def __init__(self, parts: Sequence[Any]) -> None:
        if not parts:
            raise ValueError("no sumcheck instances to add")
        rounds = {p.num_rounds for p in parts}
        degrees = {p.degree for p in parts}
        if len(rounds) != 1 or len(degrees) != 1:
            raise ValueError(f"parts disagree: rounds {sorted(rounds)}, degrees {sorted(degrees)}")
        self._parts = list(parts)

    @property
    def num_rounds(self) -> int:
        return int(self._parts[0].num_rounds)

    @property
    def degree(self) -> int:
        return int(self._parts[0].degree)

    def round_evals(self) -> list[U64]:
        total = [e.copy() for e in self._parts[0].round_evals()]
        for p in self._parts[1:]:
            total = [eadd(a, b) for a, b in zip(total, p.round_evals())]
        return total

    def bind(self, r: U64) -> None:
        for p in self._parts:
            p.bind(r)


def next_table(point: Point) -> U64:
    """next(r, y) = [y = x + 1] at x = r for every y: eq(r, y - 1) for y >= 1, 0 at y = 0 (4, 2^k)."""
    eq = eq_table(list(point))
    out = np.zeros_like(eq)
    out[:, 1:] = eq[:, :-1]
    return out
