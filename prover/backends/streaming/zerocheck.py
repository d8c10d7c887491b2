"""The streaming zero-check of stage 1 (protocol v3): O(sqrt T) memory, the dense prover's bytes.

What: a ``RoundProver`` for sum_x eq(tau, x) sum_k coeffs_k C_k(cols(x)) = claim over
constraints of degree <= 2 (``relations.constraints.Constraint``), reading the trace only through
the witness's chunked view (``WitnessSource.span``), never its materialized one. Its round
messages equal ``backends.dense.quadratic.QuadraticZeroCheck``'s (both are the unique exact
values; the split-eq round form is the same), so the proof bytes are the same.

The algorithm (small-space sumcheck, eprint 2025/611; one window, 2025/1473; base-field products,
2025/1117; the shape of Blendy, 2024/524). Sumcheck binds bit 0 first, so the first j rounds
bind bits inside a block of B = 2^j consecutive rows; x_out (the high log T - j bits) names the
block. Q = sum_k coeffs_k C_k has degree <= 2 in every variable.
1. **Window pass** (one pass, rounds 0 .. j-1). Each product L_t R_t of the constraints (39 for
   stage 1, after normalising and merging equal ones; L_t, R_t integer affine forms of the
   columns) and each linear part (12) gets its own ext coefficient. Per block, the factor forms
   are evaluated on the block's B rows (base field), each product's two factors are extended to
   the grid {0, 1, inf}^j (inf: the leading coefficient, the difference of the two ends;
   3^j - 2^j subtractions), and the product is taken at every grid point in the base field; the
   products of 4 blocks are added, weighted by eq(tau_{>=j}, x_out), into one ext accumulator per
   product and grid point in one sweep (base x ext: 4 multiplications, never ext x ext). Linear
   parts live on the boolean points only (their inf-extension is 0). After the pass, folding
   with the coefficients gives S(v) = sum_{x_out} eq(tau_{>=j}, x_out) Q(v, x_out) for every
   grid point v (3^j ext values).
   Round i < j: q_i(X) = sum_{z in {0,1,inf}^i} L_z(r_<i) sum_{y in {0,1}^(j-1-i)}
   eq(tau_{i+1..j-1}, y) S(z, X, y) for X in {0, inf}, with the Lagrange weights
   L_0 = 1 - r, L_1 = r, L_inf = r (r - 1) of the bound challenges; the round message follows from
   q_i(0), q_i(inf) and the running claim exactly as ``dense.sumcheck.SplitEq`` does it.
2. **Hand-off pass** (one pass, after r_<j is known). The grouped form of the dense prover,
   Q = sum_g G_g M_g + Lambda (G_g integer affine forms, M_g and Lambda ext-coefficient affine
   forms), is linear in the columns, so its tables at (r_<j, x_out) come from the columns bound
   at r_<j: per block, b_c = sum_y eq(r_<j, y) col_c(y, x_out) (base x ext), then G_g, M_g, Lambda
   as combinations of the b_c. M_g and Lambda are scaled by prod_{l<j} eq(tau_l, r_l) (the
   split-eq prefix), and ``QuadraticZeroCheck.from_tables`` finishes the log T - j rounds on
   these 2 * groups + 1 tables of T / 2^j ext entries.
3. **Values pass** (one pass, after r1): the 53 columns and pc_shift at r1, as
   sum_{x_out} eq(r1_{>=j}, x_out) b_c(x_out) with b_c bound at r1_<j per block.
Three passes in all, at every size (``PASSES``).

Virtual columns: ``shift`` = (name, source) gives a column equal to source(c + 1), 0 past the end
(stage 1's pc_shift); ``last`` names the indicator of the last row. Both are built per span; the
last block of every span waits for the first row of the next span (one row of lookahead), so
every block is processed with its final values.

Window (``window_for``): j = ceil(log T / 2) - 4, at least 1 and at most log T: the hand-off tables
have T / 2^j = 16 * 2^(floor(log T / 2)) entries (16 sqrt(T) at even log T), and the window's
grid work is (3/2)^j evaluations a row (11.4 at 2^20). State: one span of columns (2^12 rows,
uint32) and its forms; the grid of the factors (2 x 39 x 3^j uint32), the products of 4 blocks
(4 x 39 x 3^j uint32) and the accumulators (4 x 39 x 3^j uint64: 0.9 MiB at j = 6); then the 37
hand-off tables (37 x 32 B x T / 2^j: 18.5 MiB at 2^20), halved at each dense round.
Measured (``benchmarks/stage1_streaming.py``, one fresh process per figure, 2026-12-07, 2 shared
cores at load 2.3-4.3): in-stage peak 9.0 / 13.3 / 24.1 MiB at 2^16 / 2^18 / 2^20 against the
materialized stage's 126.7 / 332.3 / 1232.3 MiB; time 0.67 / 0.62 / 0.34 x the materialized
stage's (median of interleaved pairs). Other windows at 2^20: j = 5 47.8 MiB, j = 7 13.0 MiB and
~10 % more CPU time than j = 6 (the grid grows 1.5x a round); at 2^16 j = 3 14.4 MiB, j = 5 6.3 MiB.

Public names: ``StreamingQuadraticZeroCheck``, ``window_for``, ``PASSES``.
Sits in ``backends.streaming``: imports ``field``, ``mle``, ``relations.constraints`` (data only),
``backends.dense.quadratic`` (the dense finish) and ``sumcheck.protocol`` (Lagrange interpolation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from math import gcd
from typing import Any

import numba
import numpy as np
from numba import types as _nt

from prover.backends.dense.quadratic import QuadraticZeroCheck
from prover.field import (
    U64,
    W_EXT,
    P,
    eadd,
    edot,
    einv,
    emul,
    emul_base,
    esub,
    ext_scalar,
)
from prover.mle import Point, eq_table
from prover.relations.constraints import Affine, Constraint
from prover.sumcheck.protocol import interpolate_eval

__all__ = ["PASSES", "SPAN_ROWS", "StreamingQuadraticZeroCheck", "window_for"]

PASSES = 3  # window, hand-off, values: at every size
# Rows per column build (whole chunks; at least one block). Larger spans cost fewer builder calls
# and kernel calls; the span's columns are 55 x 8 B a row (0.9 MiB at 2^11).
SPAN_ROWS = 1 << 12
WINDOW_OFFSET = 4  # j = ceil(log T / 2) - WINDOW_OFFSET


def window_for(log_t: int) -> int:
    """The streamed rounds j for T = 2^log_t: ceil(log T / 2) - 4, clamped to [1, log T]."""
    return max(1, min(log_t, (log_t + 1) // 2 - WINDOW_OFFSET))


# ---------------------------------------------------------------------------- compiled kernels
# Same conventions as prover.field's twins: explicit signatures (compiled or loaded from numba's
# cache when this module is imported, before any stage), C-contiguous operands, reduced values.
# The reduction below is prover.field._modp, repeated here so that this module's cache entries
# depend on this file only (numba keys a cached kernel on its own file, not on what it inlines).
_P = np.uint64(P)
_P_I64 = np.int64(P)
_INV_P = 1.0 / P
_W = np.uint64(W_EXT)
_JIT = {"cache": True, "nogil": True, "boundscheck": False}
_RO2 = _nt.Array(_nt.uint64, 2, "C", readonly=True)
_RO3 = _nt.Array(_nt.uint64, 3, "C", readonly=True)
_I1 = _nt.Array(_nt.int64, 1, "C", readonly=True)
_W2 = _nt.Array(_nt.uint64, 2, "C")
_W3 = _nt.Array(_nt.uint64, 3, "C")
_WS1 = _nt.Array(_nt.int64, 1, "C")
_U2 = _nt.Array(_nt.uint32, 2, "C")
_RU2 = _nt.Array(_nt.uint32, 2, "C", readonly=True)


@numba.njit(inline="always", cache=True)
def _modp(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # x mod P for any uint64 x (prover.field._modp: float quotient within 1, one correction)
    q = np.uint64(np.float64(x) * _INV_P)
    r = np.int64(x - q * _P)
    if r < 0:
        r += _P_I64
    elif r >= _P_I64:
        r -= _P_I64
    return np.uint64(r)


@numba.njit(inline="always", cache=True)
def _addp(a: np.uint64, b: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    r = a + b
    return r - _P if r >= _P else r


@numba.njit(inline="always", cache=True)
def _flush(acc, accl, prod, eb, k):  # pragma: no cover - compiled
    """acc[u] <- acc[u] + sum_{b<k} eb[b, u] prod[b] reduced, one sweep for k <= 4 blocks
    (P + 4 (P - 1)^2 < 2^64); accl already holds its k weighted rows: reduce it."""
    GP = acc.shape[1]
    for u in range(4):
        au = acc[u]
        if k == 4:
            e0, e1, e2, e3 = eb[0, u], eb[1, u], eb[2, u], eb[3, u]
            p0, p1, p2, p3 = prod[0], prod[1], prod[2], prod[3]
            for i in range(GP):
                au[i] = _modp(au[i] + e0 * np.uint64(p0[i]) + e1 * np.uint64(p1[i])
                              + e2 * np.uint64(p2[i]) + e3 * np.uint64(p3[i]))
        else:
            for b in range(k):
                e = eb[b, u]
                pb = prod[b]
                for i in range(GP):
                    au[i] += e * np.uint64(pb[i])
            for i in range(GP):
                au[i] = _modp(au[i])
        for l in range(accl.shape[0]):
            al = accl[l, u]
            for y in range(al.shape[0]):
                al[y] = _modp(al[y])


@numba.njit(
    _nt.void(_RU2, _nt.int64, _nt.int64, _RO2, _nt.int64,
             _I1, _I1, _I1, _I1, _I1, _I1,
             _I1, _I1, _I1, _I1,
             _W2, _W3, _U2, _U2, _WS1, _U2, _W2),
    **_JIT,
)
def _window_jit(mat, start, nblocks, w, w0,
                fptr, fcol, fcoef, fconst, slots, la,
                gbin, pow3, bases, boff,
                acc, accl, fb, ext, sc, prod, eb):  # pragma: no cover - compiled
    """Add the grid sums of ``nblocks`` blocks of B = gbin.size rows starting at row ``start``
    of ``mat`` (columns x rows), block b weighted by the ext w[:, w0 + b], into acc and accl.

    Forms f: fconst[f] + sum_{i in fptr[f]..fptr[f+1]} fcoef[i] mat[fcol[i]] (int64; fconst
    carries an offset that keeps the sum non-negative), on all rows of the piece first: fb
    (forms x rows; sc: int64 scratch of rows). Product t of P = slots.size / 2 is slot t (left)
    times slot P + t (right), slot s holding form slots[s]. ext[side] is the grid of that side's
    slots, point-major (3^j x P, flat): a run of consecutive grid points is one contiguous range,
    so each step of the extension and the products is one long loop. The products of 4 blocks
    (prod, with their weights eb) are added to acc[u] (3^j x P, flat, u = ext component) in one
    sweep that also reduces; accl (linear parts, 4, B) takes one weighted row a block and is
    reduced with that sweep. Both are reduced when the call returns. Values are uint32.
    """
    nf = fb.shape[0]
    B = gbin.shape[0]
    npr = slots.shape[0] // 2
    GP = ext.shape[1]
    j = pow3.shape[0] - 1
    n = nblocks * B
    for f in range(nf):  # every form on every row of the piece at once: long loops
        lo, hi = fptr[f], fptr[f + 1]
        fr = fb[f, :n]
        # (views, not start + y indices: numba's negative-index handling of a computed index
        # keeps these loops from vectorizing)
        if hi - lo == 1 and fcoef[lo] == 1 and fconst[f] == _P_I64:  # a column itself (reduced)
            src = mat[fcol[lo], start : start + n]
            for y in range(n):
                fr[y] = np.uint32(src[y])
            continue
        acc_ = sc[:n]
        c0 = fconst[f]
        for y in range(n):
            acc_[y] = c0
        for i in range(lo, hi):
            k = fcoef[i]
            src = mat[fcol[i], start : start + n]
            for y in range(n):
                acc_[y] += k * np.int64(src[y])
        for y in range(n):
            fr[y] = np.uint32(_modp(np.uint64(acc_[y])))
    k = 0
    for blk in range(nblocks):
        row0 = blk * B
        for side in range(2):
            ex = ext[side]
            for t in range(npr):
                src = fb[slots[side * npr + t], row0 : row0 + B]
                for y in range(B):
                    ex[gbin[y] * npr + t] = src[y]
            for lev in range(j):
                run = pow3[lev] * npr
                for h in range(boff[lev], boff[lev + 1]):
                    o0 = bases[h] * npr
                    # three views: the compiler vectorizes a - b over distinct arrays (it did not
                    # over offsets into one array: measured 8x slower)
                    x0, x1, x2 = ex[o0 : o0 + run], ex[o0 + run : o0 + 2 * run], ex[o0 + 2 * run : o0 + 3 * run]
                    for i in range(run):
                        d = np.uint64(x1[i]) + _P - np.uint64(x0[i])
                        x2[i] = np.uint32(d - _P if d >= _P else d)
        left, right, pk = ext[0], ext[1], prod[k]
        for i in range(GP):
            pk[i] = np.uint32(_modp(np.uint64(left[i]) * np.uint64(right[i])))
        for u in range(4):
            e = np.uint64(np.uint32(w[u, w0 + blk]))
            eb[k, u] = e
            for l in range(la.shape[0]):
                fr = fb[la[l], row0 : row0 + B]
                al = accl[l, u]
                for y in range(B):
                    al[y] += e * np.uint64(fr[y])
        k += 1
        if k == 4:
            _flush(acc, accl, prod, eb, k)
            k = 0
    if k:
        _flush(acc, accl, prod, eb, k)


@numba.njit(_nt.void(_RU2, _nt.int64, _nt.int64, _RO2, _I1, _W3, _U2, _W2), **_JIT)
def _bind_jit(mat, start, nblocks, e, cols, out, tr, acc):  # pragma: no cover - compiled
    """out[i, :, b] = sum_y e[:, y] mat[cols[i], start + b B + y] (ext), B = e.shape[1]:
    the columns bound at the point of e, block by block. Each column's piece is transposed to
    tr (B x blocks, uint32) so that the sums run across blocks (4 products between reductions)."""
    B = e.shape[1]
    for i in range(cols.shape[0]):
        src = mat[cols[i]]
        for b in range(nblocks):
            row0 = start + b * B
            for y in range(B):
                tr[y, b] = src[row0 + y]
        for u in range(4):
            au = acc[u]
            for b in range(nblocks):
                au[b] = 0
            for y0 in range(0, B, 4):
                for y in range(y0, min(B, y0 + 4)):
                    ey = e[u, y]
                    ty = tr[y]
                    for b in range(nblocks):
                        au[b] += ey * np.uint64(ty[b])
                for b in range(nblocks):
                    au[b] = _modp(au[b])
            for b in range(nblocks):
                out[i, u, b] = au[b]


@numba.njit(_nt.void(_RO3, _I1, _I1, _RO2, _RO2, _W3), **_JIT)
def _tables_jit(bound, tt, tc, tk, const, out):  # pragma: no cover - compiled
    """out[t] = const[:, t] + sum_{i: tt[i] = t} tk[:, i] * bound[tc[i]] (ext products), per block."""
    nb = bound.shape[2]
    for t in range(out.shape[0]):
        for u in range(4):
            for b in range(nb):
                out[t, u, b] = const[u, t]
    for i in range(tt.shape[0]):
        t, c = tt[i], tc[i]
        y0, y1, y2, y3 = tk[0, i], tk[1, i], tk[2, i], tk[3, i]
        w1, w2, w3 = _modp(y1 * _W), _modp(y2 * _W), _modp(y3 * _W)
        for b in range(nb):
            x0, x1, x2, x3 = bound[c, 0, b], bound[c, 1, b], bound[c, 2, b], bound[c, 3, b]
            out[t, 0, b] = _addp(out[t, 0, b], _modp(x0 * y0 + x1 * w3 + x2 * w2 + x3 * w1))
            out[t, 1, b] = _addp(out[t, 1, b], _modp(x0 * y1 + x1 * y0 + x2 * w3 + x3 * w2))
            out[t, 2, b] = _addp(out[t, 2, b], _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * w3))
            out[t, 3, b] = _addp(out[t, 3, b], _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0))


@numba.njit(_nt.void(_RO3, _RO2, _nt.int64, _W2), **_JIT)
def _wsum_jit(bound, w, w0, out):  # pragma: no cover - compiled
    """out[:, i] += sum_b w[:, w0 + b] * bound[i, :, b] (ext products), reduced."""
    nb = bound.shape[2]
    for b in range(nb):
        y0, y1, y2, y3 = w[0, w0 + b], w[1, w0 + b], w[2, w0 + b], w[3, w0 + b]
        w1, w2, w3 = _modp(y1 * _W), _modp(y2 * _W), _modp(y3 * _W)
        for i in range(bound.shape[0]):
            x0, x1, x2, x3 = bound[i, 0, b], bound[i, 1, b], bound[i, 2, b], bound[i, 3, b]
            out[0, i] = _addp(out[0, i], _modp(x0 * y0 + x1 * w3 + x2 * w2 + x3 * w1))
            out[1, i] = _addp(out[1, i], _modp(x0 * y1 + x1 * y0 + x2 * w3 + x3 * w2))
            out[2, i] = _addp(out[2, i], _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * w3))
            out[3, i] = _addp(out[3, i], _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0))


# ---------------------------------------------------------------------------- compile


def _normalize(f: Affine) -> tuple[Affine, int]:
    """f = s * f' with f' primitive, its terms sorted and its first coefficient positive."""
    vals = [c for _, c in f.terms] + ([f.const] if f.const else [])
    g = 0
    for v in vals:
        g = gcd(g, abs(v))
    if g == 0:
        return Affine(tuple(sorted(f.terms)), f.const), 1
    terms = tuple(sorted(f.terms))
    first = terms[0][1] if terms else f.const
    s = g if first > 0 else -g
    return Affine(tuple((n, c // s) for n, c in terms), f.const // s), s


def _ext_int(c: int) -> U64:
    return ext_scalar(c % P)


class _Plan:
    """The constraints compiled for the kernels (products of forms) and for the dense finish
    (the grouped form Q = sum_g G_g M_g + Lambda), over the kernel's column order."""

    def __init__(self, constraints: Sequence[Constraint], coeffs: U64, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        index = {n: i for i, n in enumerate(self.columns)}
        prods: dict[tuple[Affine, Affine], U64] = {}
        lins: dict[Affine, U64] = {}
        for k, c in enumerate(constraints):
            ck = coeffs[:, k]
            for left, right in c.products:
                (ln, ls), (rn, rs) = _normalize(left), _normalize(right)
                key = (ln, rn) if (ln.terms, ln.const) <= (rn.terms, rn.const) else (rn, ln)
                cf = emul_base(ck, (ls * rs) % P).reshape(4)
                prods[key] = eadd(prods[key], cf) if key in prods else cf
            if c.linear.terms or c.linear.const:
                ln, ls = _normalize(c.linear)
                cf = emul_base(ck, ls % P).reshape(4)
                lins[ln] = eadd(lins[ln], cf) if ln in lins else cf
        # forms: the products' factors first (extended to the grid), then linear-only forms
        forms: list[Affine] = []
        fidx: dict[Affine, int] = {}
        for a, b in prods:
            for f in (a, b):
                if f not in fidx:
                    fidx[f] = len(forms)
                    forms.append(f)
        for f in lins:
            if f not in fidx:
                fidx[f] = len(forms)
                forms.append(f)
        for f in forms:
            for name, _ in f.terms:
                if name not in index:
                    raise ValueError(f"constraint reads column {name!r}, not among the streamed columns")
        self.forms = forms
        ptr, col, coef, const = [0], [], [], []
        for f in forms:
            for name, c in f.terms:
                col.append(index[name])
                coef.append(c)
            ptr.append(len(col))
            # the offset P * sum |c| keeps the int64 sum non-negative (entries < P), below 2^63
            const.append(f.const % P + P * sum(abs(c) for _, c in f.terms))
        self.fptr = np.array(ptr, dtype=np.int64)
        self.fcol = np.array(col, dtype=np.int64)
        self.fcoef = np.array(coef, dtype=np.int64)
        self.fconst = np.array(const, dtype=np.int64)
        if max(const, default=0) >= 1 << 62:
            raise ValueError("constraint coefficients too large for the int64 form evaluation")
        self.pa = np.array([fidx[a] for a, _ in prods], dtype=np.int64)
        self.pb = np.array([fidx[b] for _, b in prods], dtype=np.int64)
        self.slots = np.concatenate([self.pa, self.pb])  # the kernel's factor slots
        self.pcoef = np.stack(list(prods.values()), axis=1) if prods else np.zeros((4, 0), dtype=np.uint64)
        self.la = np.array([fidx[f] for f in lins], dtype=np.int64)
        self.lcoef = np.stack(list(lins.values()), axis=1) if lins else np.zeros((4, 0), dtype=np.uint64)
        self._groups(constraints, coeffs)

    def _groups(self, constraints: Sequence[Constraint], coeffs: U64) -> None:
        """Q = sum_g G_g M_g + Lambda, products grouped by a shared factor (as the dense prover
        groups them: the side used by more products, then the one with fewer terms, is the key)."""
        products: list[tuple[Affine, Affine, U64]] = []
        lam: dict[str, U64] = {}
        lam0 = ext_scalar(0)
        for k, c in enumerate(constraints):
            ck = coeffs[:, k]
            for name, a in c.linear.terms:
                lam[name] = eadd(lam.get(name, ext_scalar(0)), emul_base(ck, a % P).reshape(4))
            lam0 = eadd(lam0, emul_base(ck, c.linear.const % P).reshape(4))
            for left, right in c.products:
                (ln, ls), (rn, rs) = _normalize(left), _normalize(right)
                products.append((ln, rn, emul_base(ck, (ls * rs) % P).reshape(4)))
        uses: dict[Affine, int] = {}
        for ln, rn, _ in products:
            uses[ln] = uses.get(ln, 0) + 1
            uses[rn] = uses.get(rn, 0) + 1
        groups: dict[Affine, list[tuple[Affine, U64]]] = {}
        for ln, rn, cf in products:
            if (uses[rn], -len(rn.terms)) > (uses[ln], -len(ln.terms)):
                ln, rn = rn, ln
            groups.setdefault(ln, []).append((rn, cf))
        self.gkeys = sorted(groups, key=lambda a: (a.terms, a.const))
        self.mterms: list[dict[str, U64]] = []
        self.mconst: list[U64] = []
        for key in self.gkeys:
            terms: dict[str, U64] = {}
            const = ext_scalar(0)
            for rn, cf in groups[key]:
                for name, a in rn.terms:
                    terms[name] = eadd(terms.get(name, ext_scalar(0)), emul_base(cf, a % P).reshape(4))
                const = eadd(const, emul_base(cf, rn.const % P).reshape(4))
            self.mterms.append(terms)
            self.mconst.append(const)
        self.lamterms, self.lamconst = lam, lam0

    def table_terms(self, scale: U64) -> tuple[np.ndarray, np.ndarray, U64, U64, int]:
        """The hand-off tables as (table, column, ext coefficient) terms and ext constants:
        tables 0 .. ng-1 are G_g, ng .. 2 ng - 1 are scale * M_g, 2 ng is scale * Lambda."""
        index = {n: i for i, n in enumerate(self.columns)}
        ng = len(self.gkeys)
        tt: list[int] = []
        tc: list[int] = []
        tk: list[U64] = []
        const: list[U64] = []
        for g, key in enumerate(self.gkeys):
            for name, a in key.terms:
                tt.append(g)
                tc.append(index[name])
                tk.append(_ext_int(a))
            const.append(_ext_int(key.const))
        for g in range(ng):
            for name, cf in self.mterms[g].items():
                tt.append(ng + g)
                tc.append(index[name])
                tk.append(emul(cf, scale))
            const.append(emul(self.mconst[g], scale))
        for name, cf in self.lamterms.items():
            tt.append(2 * ng)
            tc.append(index[name])
            tk.append(emul(cf, scale))
        const.append(emul(self.lamconst, scale))
        return (np.array(tt, dtype=np.int64), np.array(tc, dtype=np.int64),
                np.ascontiguousarray(np.stack(tk, axis=1)), np.ascontiguousarray(np.stack(const, axis=1)), ng)


# ---------------------------------------------------------------------------- the grid


def _grid(j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index tables of {0, 1, inf}^j (point v = sum_l d_l 3^l, d = 2 for inf).

    gbin[y]: the grid index of the boolean point y (bit l of y -> d_l); pow3 = 3^0 .. 3^j;
    bases, boff: for level l, the bases 3^(l+1) sum_m h_m 3^m of the boolean patterns h of the
    coordinates above l (bases[boff[l] .. boff[l+1]])."""
    pow3 = np.array([3**l for l in range(j + 1)], dtype=np.int64)

    def tern(bits: int, shift: int) -> int:
        return sum(3 ** (m + shift) for m in range(bits.bit_length()) if bits >> m & 1)

    gbin = np.array([tern(y, 0) for y in range(1 << j)], dtype=np.int64)
    bases: list[int] = []
    boff = [0]
    for lev in range(j):
        bases += [tern(h, lev + 1) for h in range(1 << (j - lev - 1))]
        boff.append(len(bases))
    return gbin, pow3, np.array(bases, dtype=np.int64), np.array(boff, dtype=np.int64)


def _lagrange(r: U64) -> tuple[U64, U64, U64]:
    """Weights of p(0), p(1) and the X^2 coefficient in p(r) for deg p <= 2: 1 - r, r, r (r - 1)."""
    one = ext_scalar(1)
    return esub(one, r), r, emul(r, esub(r, one))


def _eq_factor(t: U64, x: U64) -> U64:
    one = ext_scalar(1)
    return eadd(emul(t, x), emul(esub(one, t), esub(one, x)))


class _ScalarSplitEq:
    """``dense.sumcheck.SplitEq``'s round form without its suffix tables (the window's eq
    weights come from the grid and the block weights): same q(1), same messages."""

    def __init__(self, tau: Point, claim: U64) -> None:
        self._tau = list(tau)
        self._round = 0
        self.prefix = ext_scalar(1)
        self.qclaim = claim
        self._q: list[U64] = []
        self._tau_inv = list(einv(np.stack(self._tau, axis=1)).T) if self._tau else []

    def round_evals(self, q0: U64, q_inf: U64) -> list[U64]:
        t = self._tau[self._round]
        one = ext_scalar(1)
        q1 = emul(esub(self.qclaim, emul(esub(one, t), q0)), self._tau_inv[self._round])
        lin = esub(esub(q1, q0), q_inf)
        q2 = eadd(eadd(q0, emul_base(lin, 2)), emul_base(q_inf, 4))
        q3 = eadd(eadd(q0, emul_base(lin, 3)), emul_base(q_inf, 9))
        self._q = [q0, q1, q2]
        return [emul(self.prefix, emul(_eq_factor(t, ext_scalar(x)), q)) for x, q in enumerate((q0, q1, q2, q3))]

    def bind(self, r: U64) -> None:
        self.qclaim = interpolate_eval(self._q, r)
        self.prefix = emul(self.prefix, _eq_factor(self._tau[self._round], r))
        self._round += 1


# ---------------------------------------------------------------------------- the prover


class StreamingQuadraticZeroCheck:
    """RoundProver for sum_x eq(tau, x) sum_k coeffs_k C_k(cols(x)) = claim, from the witness's
    chunked view in ``PASSES`` passes (module docstring); ``final_values(r)`` is the third.

    ``names``: the committed columns the constraints read (built by the witness); ``shift``:
    (virtual name, source column) for source(c + 1) (0 past the end); ``last``: the virtual
    last-row indicator's name. ``window``: the streamed rounds j (default ``window_for``).
    """

    def __init__(
        self,
        witness: Any,
        tau: Point,
        constraints: Sequence[Constraint],
        coeffs: U64,
        names: Sequence[str],
        shift: tuple[str, str] | None = None,
        last: str | None = None,
        claim: U64 | None = None,
        window: int | None = None,
        span_rows: int | None = None,
    ) -> None:
        self._w = witness
        self._tau = list(tau)
        self._k = len(self._tau)
        if witness.T != 1 << self._k:
            raise ValueError(f"a {self._k}-variable zero-check over a trace of {witness.T} rows")
        if coeffs.shape != (4, len(constraints)):
            raise ValueError(f"{len(constraints)} constraints but coefficients of shape {coeffs.shape}")
        self._names = list(names)
        self._shift = shift
        self._last = last
        cols = list(names) + ([shift[0]] if shift else []) + ([last] if last else [])
        self._ncols = len(cols)
        if shift is not None:
            if shift[1] not in self._names:
                raise ValueError(f"shift source {shift[1]!r} is not a streamed column")
            self._src = self._names.index(shift[1])
        self._plan = _Plan(constraints, coeffs, cols)
        self.j = window_for(self._k) if window is None else int(window)
        if not 1 <= self.j <= self._k:
            raise ValueError(f"window {self.j} outside [1, {self._k}]")
        size = witness.chunk_size
        rows = max(SPAN_ROWS if span_rows is None else span_rows, 1 << self.j, size)
        self._span_chunks = max(1, min(witness.num_chunks, rows // size))
        self._claim = ext_scalar(0) if claim is None else claim
        self._split = _ScalarSplitEq(self._tau[: self.j], self._claim)
        self._S: U64 | None = None
        self._r: list[U64] = []
        self._dense: QuadraticZeroCheck | None = None
        self._round = 0
        self.passes = 0  # trace passes made so far

    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return 3

    # -- reading the trace ------------------------------------------------------------------
    def _pieces(self) -> Iterator[tuple[U64, int, int, int]]:
        """(matrix of columns x rows, first row in it, blocks, global index of the first block),
        in time order, every block with its final shift and last-row values: the last block of
        each span is held until the next span's first row is known."""
        w, B, nc = self._w, 1 << self.j, self._ncols
        size, count = w.chunk_size, self._span_chunks
        src = self._src if self._shift else -1
        sh = len(self._names)
        pending: U64 | None = None
        pending_block = 0
        for first in range(0, w.num_chunks, count):
            take = min(count, w.num_chunks - first)
            cols = w.span(first, take, self._names)
            n = take * size
            mat = np.zeros((nc, n), dtype=np.uint32)  # field elements < P < 2^32: half the bytes
            for i, name in enumerate(self._names):
                mat[i] = cols[name]
            del cols
            if self._shift:
                mat[sh, :-1] = mat[src, 1:]
            if pending is not None:
                if self._shift:
                    pending[sh, -1] = mat[src, 0]
                yield pending, 0, 1, pending_block
            nb = n // B
            block0 = first * size // B
            if nb > 1:
                yield mat, 0, nb - 1, block0
            pending = np.ascontiguousarray(mat[:, (nb - 1) * B :])
            pending_block = block0 + nb - 1
        if pending is not None:
            if self._last:
                pending[nc - 1, -1] = 1
            yield pending, 0, 1, pending_block
        self.passes += 1

    def _blocks_per_span(self) -> int:
        return (self._span_chunks * self._w.chunk_size) >> self.j

    def _block_weights(self, point: Sequence[U64]) -> Any:
        """block index -> (table, offset): eq(point, block) for the blocks of a span, built per
        span from the span's low block bits and the span index's weight (O(span) ext)."""
        nbs = self._blocks_per_span()
        lb = nbs.bit_length() - 1
        hi = eq_table(list(point[lb:]))
        cache: dict[int, U64] = {}

        def get(block: int) -> tuple[U64, int]:
            s = block >> lb
            if s not in cache:
                if len(cache) > 1:
                    cache.pop(min(cache))
                cache[s] = np.ascontiguousarray(eq_table(list(point[:lb]), scale=hi[:, s].copy()))
            return cache[s], block & (nbs - 1)

        return get

    # -- pass 1: the window --------------------------------------------------------------------
    def _window_pass(self) -> U64:
        p, j = self._plan, self.j
        B, G = 1 << j, 3**j
        gbin, pow3, bases, boff = _grid(j)
        npr, nl = p.pa.shape[0], p.la.shape[0]
        acc = np.zeros((4, G * npr), dtype=np.uint64)
        accl = np.zeros((nl, 4, B), dtype=np.uint64)
        rows = self._blocks_per_span() * B
        fb = np.empty((len(p.forms), rows), dtype=np.uint32)
        ext = np.zeros((2, G * npr), dtype=np.uint32)
        sc = np.empty(rows, dtype=np.int64)
        prod = np.empty((4, G * npr), dtype=np.uint32)
        eb = np.empty((4, 4), dtype=np.uint64)
        weights = self._block_weights(self._tau[j:])
        for mat, start, nb, block0 in self._pieces():
            w, off = weights(block0)
            _window_jit(mat, start, nb, w, off, p.fptr, p.fcol, p.fcoef, p.fconst, p.slots, p.la,
                        gbin, pow3, bases, boff, acc, accl, fb, ext, sc, prod, eb)
        del fb, ext, sc, prod
        acc3 = acc.reshape(4, G, npr)
        S = np.zeros((4, G), dtype=np.uint64)  # S(v) = sum_t coef_t acc_t(v)
        for t in range(npr):
            S = eadd(S, emul(np.ascontiguousarray(acc3[:, :, t]), p.pcoef[:, t].copy()))
        del acc, acc3
        lin = np.zeros((4, B), dtype=np.uint64)
        for l in range(nl):
            a = accl[l]
            lin = eadd(lin, emul(np.ascontiguousarray(a), p.lcoef[:, l].copy()))
        S[:, gbin] = eadd(S[:, gbin], lin)
        return S

    def _q_window(self, i: int) -> tuple[U64, U64]:
        """q_i(0), q_i(inf) from the grid sums S (module docstring, step 1)."""
        assert self._S is not None
        j = self.j
        lag = ext_scalar(1).reshape(4, 1)
        for l in range(i):  # weights of {0, 1, inf}^i at r_<i, index sum_l d_l 3^l
            parts = [emul(lag, c) for c in _lagrange(self._r[l])]
            lag = np.concatenate(parts, axis=1)
        eqm = eq_table(self._tau[i + 1 : j])  # (4, 2^(j-1-i)), bit m pairs with tau_{i+1+m}
        Z, Y = 3**i, eqm.shape[1]
        w = emul(np.repeat(eqm, Z, axis=1), np.tile(lag, (1, Y)))
        ytern = np.array([sum(3**m for m in range(j) if y >> m & 1) for y in range(Y)], dtype=np.int64)
        base = (np.arange(Z, dtype=np.int64)[None, :] + 3 ** (i + 1) * ytern[:, None]).reshape(-1)
        q0 = edot(w, np.ascontiguousarray(self._S[:, base]))
        qi = edot(w, np.ascontiguousarray(self._S[:, base + 2 * 3**i]))
        return q0, qi

    # -- pass 2: the hand-off ------------------------------------------------------------------
    def _handoff(self) -> QuadraticZeroCheck:
        p, j = self._plan, self.j
        tt, tc, tk, const, ng = p.table_terms(self._split.prefix)
        n = 1 << (self._k - j)
        tables = [np.empty((4, n), dtype=np.uint64) for _ in range(2 * ng + 1)]
        e = np.ascontiguousarray(eq_table(self._r))
        cols = np.arange(self._ncols, dtype=np.int64)
        nbs = self._blocks_per_span()
        tr = np.empty((1 << j, nbs), dtype=np.uint32)
        sums = np.empty((4, nbs), dtype=np.uint64)
        for mat, start, nb, block0 in self._pieces():
            bound = np.empty((self._ncols, 4, nb), dtype=np.uint64)
            _bind_jit(mat, start, nb, e, cols, bound, tr, sums)
            out = np.empty((len(tables), 4, nb), dtype=np.uint64)
            _tables_jit(bound, tt, tc, tk, const, out)
            for t, tab in enumerate(tables):
                tab[:, block0 : block0 + nb] = out[t]
        claim = emul(self._split.prefix, self._split.qclaim)
        return QuadraticZeroCheck.from_tables(self._tau[j:], tables[:ng], tables[ng : 2 * ng], tables[2 * ng], claim)

    # -- RoundProver ---------------------------------------------------------------------------
    def round_evals(self) -> list[U64]:
        i = self._round
        if i < self.j:
            if self._S is None:
                self._S = self._window_pass()
            q0, qi = self._q_window(i)
            return self._split.round_evals(q0, qi)
        if self._dense is None:
            raise RuntimeError("dense rounds before the hand-off")
        return self._dense.round_evals()

    def bind(self, r: U64) -> None:
        i = self._round
        if i < self.j:
            self._split.bind(r)
            self._r.append(r)
            if i == self.j - 1:
                self._S = None
                if self.j < self._k:
                    self._dense = self._handoff()
        else:
            if self._dense is None:
                raise RuntimeError("dense rounds before the hand-off")
            self._dense.bind(r)
        self._round += 1
        if self._round == self._k:
            self._dense = None

    # -- pass 3: the values --------------------------------------------------------------------
    def final_values(self, point: Point) -> dict[str, U64]:
        """The streamed columns and the shift column at ``point`` (ext), one pass."""
        if len(point) != self._k:
            raise ValueError(f"a point of {len(point)} coordinates for {self._k} variables")
        j = self.j
        names = self._names + ([self._shift[0]] if self._shift else [])
        cols = np.arange(len(names), dtype=np.int64)
        nbs = self._blocks_per_span()
        tr = np.empty((1 << j, nbs), dtype=np.uint32)
        sums = np.empty((4, nbs), dtype=np.uint64)
        e = np.ascontiguousarray(eq_table(list(point[:j])))
        weights = self._block_weights(list(point[j:]))
        acc = np.zeros((4, len(names)), dtype=np.uint64)
        for mat, start, nb, block0 in self._pieces():
            bound = np.empty((len(names), 4, nb), dtype=np.uint64)
            _bind_jit(mat, start, nb, e, cols, bound, tr, sums)
            w, off = weights(block0)
            _wsum_jit(bound, w, off, acc)
        return {name: acc[:, i].copy() for i, name in enumerate(names)}
