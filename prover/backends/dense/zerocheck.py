"""Fast zero-check prover: sum_x eq(tau, x) C(x) = claim (0 for a satisfied trace), degree 3.

C(x) = sum_k coeffs[k] C_k(x), each constraint C_k a sum of ``Term``s; a term is an integer times
a product of at most two ``Linear`` factors, and a factor is an integer combination of base
columns plus a constant (docs/protocol.md, "Per-cycle constraints", are all of this shape).

How it is fast (eq is split as in Gruen, see ``SplitEq``: only q(0) and q(inf) are computed;
q(inf), the X^2 coefficient, needs only the quadratic terms, on factor differences odd - even):
- Base rounds (the first ``base_rounds``): with r_{<i} bound, a column at (r, X, x'') is
  sum_b eq(r, b) col(b + 2^i X + 2^(i+1) x''), so a product of two factors expands into the
  base-field products F1(b, X, .) F2(b', X, .). Those are computed in F over row chunks and all
  their eq-weighted sums are taken at once by ``edot_base_many`` (float64 BLAS); only the final
  weighting by c_t eq(r, b) eq(r, b') happens in E. Cost grows as 2^i per round, so a couple of
  rounds pay off before ext arithmetic (16 base products per ext product) is cheaper.
- Ext rounds: the used columns are bound once into ext tables of 2^(k - base_rounds) entries,
  then each round evaluates the factors in E chunk by chunk (column slopes are taken once per
  column, factors by ``small_lincomb`` componentwise), and terms sharing a factor (a flag
  multiplies many constraints) are grouped: F_a * sum_t c_t F_b(t) costs one full ext product.
- Memory: besides the base columns, the bound ext tables (4 x 2^(k - base_rounds) per used
  column) and eq's suffix tables (2^k ext entries in all).

``final_values()`` gives col_j(r) for every column the constraints read; ``combined_value``
evaluates C from such values (what the verifier recomputes at r).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from prover.backends.dense.sumcheck import SplitEq, bind_low_ext
from prover.field import (
    U64,
    add,
    eadd,
    edot,
    edot_base_many,
    emul,
    emul_base,
    esub,
    esum,
    ext_scalar,
    ext_zero,
    lincomb_base,
    mul,
    small_lincomb,
    sub,
)
from prover.mle import Point, eq_table

_CHUNK_ROWS = 1 << 16  # rows of the full table per chunk in base rounds
_CHUNK_EXT = 1 << 14  # x'' entries per chunk in ext rounds


@dataclass(frozen=True)
class Linear:
    """const + sum coeff * column[index]; integer coefficients of any sign."""

    terms: tuple[tuple[int, int], ...] = ()  # (column index, coefficient)
    const: int = 0


@dataclass(frozen=True)
class Term:
    """coeff * product of the factors (at most two: constraints have degree <= 2)."""

    factors: tuple[Linear, ...] = ()
    coeff: int = 1


Constraint = Sequence[Term]


def _eval_linear(f: Linear, values: Mapping[int, U64]) -> U64:
    acc = ext_scalar(f.const)
    for j, a in f.terms:
        acc = eadd(acc, emul_base(values[j], a))
    return acc


def combined_value(constraints: Sequence[Constraint], coeffs: Sequence[U64], values: Mapping[int, U64]) -> U64:
    """sum_k coeffs[k] C_k evaluated at column values (ext scalars keyed by column index)."""
    total = ext_scalar(0)
    for ck, terms in zip(coeffs, constraints):
        for t in terms:
            prod = ext_scalar(t.coeff)
            for f in t.factors:
                prod = emul(prod, _eval_linear(f, values))
            total = eadd(total, emul(ck, prod))
    return total


@dataclass
class _Compiled:
    """C flattened: quadratic terms over distinct factors, one merged linear part, a constant."""

    factors: list[Linear]
    quads: list[tuple[int, int]]  # (factor index, factor index)
    quad_coeffs: list[U64]
    lin: dict[int, U64]  # column -> ext coefficient
    const: U64
    columns: list[int]  # every column read


def _compile(constraints: Sequence[Constraint], coeffs: Sequence[U64]) -> _Compiled:
    if len(constraints) != len(coeffs):
        raise ValueError(f"{len(constraints)} constraints but {len(coeffs)} coefficients")
    index: dict[Linear, int] = {}
    factors: list[Linear] = []
    quads: list[tuple[int, int]] = []
    quad_coeffs: list[U64] = []
    lin: dict[int, U64] = {}
    const = ext_scalar(0)

    def fid(f: Linear) -> int:
        if f not in index:
            index[f] = len(factors)
            factors.append(f)
        return index[f]

    for k, (ck, terms) in enumerate(zip(coeffs, constraints)):
        for t in terms:
            c = emul_base(ck, t.coeff)
            if len(t.factors) > 2:
                raise ValueError(f"constraint {k}: a term of degree {len(t.factors)} > 2")
            if len(t.factors) == 2:
                quads.append((fid(t.factors[0]), fid(t.factors[1])))
                quad_coeffs.append(c)
            elif len(t.factors) == 1:
                f = t.factors[0]
                const = eadd(const, emul_base(c, f.const))
                for j, a in f.terms:
                    lin[j] = eadd(lin.get(j, ext_scalar(0)), emul_base(c, a))
            else:
                const = eadd(const, c)
    cols = sorted({j for f in factors for j, _ in f.terms} | set(lin))
    return _Compiled(factors, quads, quad_coeffs, lin, const, cols)


def _factor_base(f: Linear, cols: Sequence[U64], lo: int, hi: int) -> U64:
    """Factor values on rows [lo, hi) in F."""
    if not f.terms:
        return add(np.zeros(hi - lo, dtype=np.uint64), f.const)
    if f.terms[0][1] == 1 and len(f.terms) == 1 and f.const == 0:
        return cols[f.terms[0][0]][lo:hi]  # a bare column (flags): no copy
    return small_lincomb([cols[j][lo:hi] for j, _ in f.terms], [a for _, a in f.terms], f.const)


def _factor_ext(f: Linear, colvals: Mapping[int, U64], with_const: bool) -> U64:
    """A factor over ext column values (values at X = 0, or slopes, which drop the constant)."""
    if f.terms[0][1] == 1 and len(f.terms) == 1 and (f.const == 0 or not with_const):
        return colvals[f.terms[0][0]]  # a bare column: no copy
    const = f.const if with_const else 0
    v = small_lincomb([colvals[j] for j, _ in f.terms], [a for _, a in f.terms])
    return eadd(v, ext_scalar(const)) if const else v


def _scaled(v: U64 | None, f: Linear, ct: U64, at_inf: bool) -> U64:
    """ct * factor, where a constant factor (v is None) is ct * const, or 0 as a slope."""
    if v is None:
        return emul_base(ct, 0 if at_inf else f.const)
    return emul(v, ct)


def _times(v: U64 | None, f: Linear, w: U64, at_inf: bool) -> U64:
    """factor * w for an ext vector w, with constant factors as in ``_scaled``."""
    if v is None:
        return emul_base(w, 0 if at_inf else f.const)
    return emul(v, w)


def _group_quads(c: _Compiled) -> list[tuple[int, list[tuple[int, U64]]]]:
    """Group the quadratic terms by a shared factor (flags are shared by many constraints)."""
    freq: dict[int, int] = {}
    for a, b in c.quads:
        freq[a] = freq.get(a, 0) + 1
        freq[b] = freq.get(b, 0) + 1
    groups: dict[int, list[tuple[int, U64]]] = {}
    for (a, b), ct in zip(c.quads, c.quad_coeffs):
        key, other = (a, b) if freq[a] >= freq[b] else (b, a)
        groups.setdefault(key, []).append((other, ct))
    return list(groups.items())


class ZeroCheckProver:
    """RoundProver for sum_x eq(tau, x) sum_k coeffs[k] C_k(x) over base columns (degree 3).

    ``claim`` is the value of the sum (default 0). The prover derives q(1) from it rather than
    computing it, so an unsatisfied trace is not detected here: its proof fails the verifier's
    final check (see tests/test_zerocheck.py).
    """

    def __init__(
        self,
        columns: Sequence[U64],
        constraints: Sequence[Constraint],
        coeffs: Sequence[U64],
        tau: Point,
        claim: U64 | None = None,
        base_rounds: int = 2,
    ) -> None:
        self._k = len(tau)
        self._c = _compile(constraints, coeffs)
        for j in self._c.columns:
            if columns[j].shape != (1 << self._k,):
                raise ValueError(f"column {j} has shape {columns[j].shape}, expected ({1 << self._k},)")
        self._base_cols = columns
        self._eq = SplitEq(tau, ext_scalar(0) if claim is None else claim)
        self._base_rounds = min(base_rounds, self._k)
        self._round = 0
        self._r: list[U64] = []
        self._ext_cols: dict[int, U64] = {}
        self._groups = _group_quads(self._c)
        if self._base_rounds == 0:
            self._bind_columns()

    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return 3

    # -- base rounds -------------------------------------------------------------------------

    def _base_q(self) -> tuple[U64, U64]:
        i = self._round
        nb = 1 << i  # bound-variable corners b
        stride = 2 * nb  # rows per x''
        eq_w = eq_table(self._r)  # (4, nb): eq(r_{<i}, b)
        c = self._c
        nq, nlin = len(c.quads), len(c.lin)
        lin_cols = sorted(c.lin)
        e_full = self._eq.table()
        n = 1 << self._k
        chunk = max(_CHUNK_ROWS, stride)
        ip_quad = [np.zeros((4, nq * nb * nb), dtype=np.uint64) for _ in range(2)]
        ip_lin = [np.zeros((4, nlin * nb), dtype=np.uint64) for _ in range(2)]
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            e = e_full[:, lo // stride : hi // stride]
            m = (hi - lo) // stride
            # per factor, for each corner b: values at X = 0 and slopes odd - even, contiguous
            # (nb, m) so that the products below stream through memory
            fx = []
            for f in c.factors:
                v = _factor_base(f, self._base_cols, lo, hi).reshape(m, 2, nb)
                even = np.ascontiguousarray(v[:, 0, :].T)
                fx.append((even, sub(np.ascontiguousarray(v[:, 1, :].T), even)))
            for x in range(2):  # X = 0, then the X^2 coefficient
                if nq:
                    rows = np.empty((nq, nb, nb, m), dtype=np.uint64)
                    for t, (a, b) in enumerate(c.quads):
                        fa, fb = fx[a][x], fx[b][x]
                        # rows[t, b1, b2] = F_a(b1) * F_b(b2)
                        rows[t] = mul(fa[:, None, :], fb[None, :, :])
                    ip_quad[x] = eadd(ip_quad[x], edot_base_many(e, rows.reshape(-1, m)))
                if nlin and x == 0:  # linear terms have no X^2 part
                    lrows = np.empty((nlin, nb, m), dtype=np.uint64)
                    for t, j in enumerate(lin_cols):
                        lrows[t] = self._base_cols[j][lo:hi].reshape(m, 2, nb)[:, 0, :].T
                    ip_lin[0] = eadd(ip_lin[0], edot_base_many(e, lrows.reshape(-1, m)))
        # weights: quad t, corners (b1, b2) -> c_t eq(r, b1) eq(r, b2); linear j, b -> alpha_j eq(r, b)
        ww = emul(np.repeat(eq_w, nb, axis=1), np.tile(eq_w, (1, nb)))  # (4, nb*nb), b1 major
        qs = []
        for x in range(2):
            total = c.const if x == 0 else ext_scalar(0)
            if nq:
                wq = emul(np.repeat(np.stack(c.quad_coeffs, axis=1), nb * nb, axis=1), np.tile(ww, (1, nq)))
                total = eadd(total, esum(emul(wq, ip_quad[x])))
            if nlin and x == 0:
                wl = emul(np.repeat(np.stack([c.lin[j] for j in lin_cols], axis=1), nb, axis=1), np.tile(eq_w, (1, nlin)))
                total = eadd(total, esum(emul(wl, ip_lin[x])))
            qs.append(total)
        return qs[0], qs[1]

    def _bind_columns(self) -> None:
        """Fold the bound variables into ext tables: col'(x'') = sum_b eq(r, b) col(b + 2^i x'')."""
        nb = 1 << self._round
        w = eq_table(self._r)
        for j in self._c.columns:
            col = self._base_cols[j]
            self._ext_cols[j] = lincomb_base(col.reshape(-1, nb).T, w)

    # -- ext rounds --------------------------------------------------------------------------

    def _ext_q(self) -> tuple[U64, U64]:
        c = self._c
        e_full = self._eq.table()
        half = e_full.shape[1]
        qs = []
        for at_inf in (False, True):
            total = ext_scalar(0) if at_inf else c.const
            for lo in range(0, half, _CHUNK_EXT):
                hi = min(half, lo + _CHUNK_EXT)
                cols = self._ext_cols
                if at_inf:  # slopes odd - even, once per column rather than once per factor term
                    colvals = {j: esub(t[:, 2 * lo + 1 : 2 * hi : 2], t[:, 2 * lo : 2 * hi : 2]) for j, t in cols.items()}
                else:
                    colvals = {j: t[:, 2 * lo : 2 * hi : 2] for j, t in cols.items()}
                fv = [_factor_ext(f, colvals, not at_inf) if f.terms else None for f in c.factors]
                acc = ext_zero(hi - lo)
                for a, partners in self._groups:
                    # F_a * sum_t c_t F_b(t): one full ext product per group, not per term
                    inner = ext_zero(hi - lo)
                    for b, ct in partners:
                        inner = eadd(inner, _scaled(fv[b], c.factors[b], ct, at_inf))
                    acc = eadd(acc, _times(fv[a], c.factors[a], inner, at_inf))
                if not at_inf:  # linear terms have no X^2 part
                    for j, alpha in c.lin.items():
                        acc = eadd(acc, emul(colvals[j], alpha))
                total = eadd(total, edot(e_full[:, lo:hi], acc))
            qs.append(total)
        return qs[0], qs[1]

    # -- RoundProver -------------------------------------------------------------------------

    def round_evals(self) -> list[U64]:
        q0, q_inf = self._base_q() if self._round < self._base_rounds else self._ext_q()
        return self._eq.round_evals(q0, q_inf)

    def bind(self, r: U64) -> None:
        self._eq.bind(r)
        self._r.append(r)
        if self._round >= self._base_rounds:
            for j in self._ext_cols:
                self._ext_cols[j] = bind_low_ext(self._ext_cols[j], r)
        self._round += 1
        if self._round == self._base_rounds:
            self._bind_columns()

    def final_values(self) -> dict[int, U64]:
        """col_j(r) for every column the constraints read, once all rounds are bound."""
        if self._round != self._k:
            raise ValueError(f"{self._k - self._round} rounds still unbound")
        return {j: t.reshape(4).copy() for j, t in self._ext_cols.items()}
