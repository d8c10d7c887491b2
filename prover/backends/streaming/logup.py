"""The streaming helper sumcheck of stages 3-6 (protocol v3): O(sqrt T) memory, the dense prover's bytes.

What: the trace side of one logUp stage with committed helpers, read only through the witness's
chunked view (``WitnessSource.span``). Pair i of the stage (``fingerprints.HELPER_PAIRS``) has the
helper h_i = 1 / (D_a D_b) (1 / D_a alone), slot denominators D_s = alpha - fp_s (ext affine forms
of base columns) and N_i = L_i (c_b D_a + c_a D_b) (c_a L_i alone; L_i a base form or 1). The stage
sends S = sum_x sum_i (N_i h_i)(x) and proves
    sum_x eq(tau, x) sum_i rho^i (h_i D_a D_b - 1)(x) + rho^P sum_x sum_i (N_i h_i)(x) = rho^P S
(degree 4, log T rounds; ``backends.dense.logup.HelperSumcheck`` is the dense twin). Every round
message here equals the dense prover's (both are the exact values, in the same split-eq form:
s(X) = prefix eq(tau_i, X) q(X) + rho^P f(X), q and f cubic), so the proof bytes are the same, on
any input, honest or not.

The algorithm (small-space sumcheck, eprint 2025/611, with one window, 2025/1473, as stage 1's
``backends.streaming.zerocheck``). Sumcheck binds bit 0 first, so its first j rounds bind bits
inside a block of B = 2^j consecutive rows; x_out (the high log T - j bits) names the block.
1. **Fraction pass** (before rho and tau: S is absorbed first). Per span: the slots' D (one
   compiled linear combination each), the helpers (``ctx.helpers`` slices, or recomputed: below),
   the factors of each fraction term F_i = h_i N_i. Per block, each factor is extended from its B
   rows to the grid {0, 1, inf}^j (inf: the leading coefficient, the difference of the two ends;
   {0, 1, 2, inf}^j when some term has three factors), the terms are multiplied at every grid
   point and summed over all blocks: the F grid, sum_{x_out} F(v, x_out) for every grid point v.
   S is its sum over the boolean points. The F grid depends on neither rho nor tau, so it is all
   the window rounds need of the fraction part.
2. **Window pass** (rounds 0 .. j-1). The same per block for Z = sum_i rho^i h_i D_a D_b on
   {0, 1, 2, inf}^j (degree 3), with rho^i eq(tau_{>=j}, x_out) folded into h_i's rows before the
   extension (one ext product a row instead of one a grid point). Round i < j reads both grids:
   q_i(X) = sum_{z in grid^i} L_z(r_<i) sum_{y in {0,1}^(j-1-i)} eq(tau_{i+1..j-1}, y) Z(z, X, y)
   for X on the grid's points, L_z the Lagrange weights of the bound challenges (cubic: the values
   at 0, 1, 2 and the X^3 coefficient; quadratic: 0, 1 and the X^2 coefficient); f_i likewise
   with weight 1 on y; the "- 1" of every pair adds -sum_i rho^i at the finite points. Then
   s(X) = prefix eq(tau_i, X) q_i(X) + rho^P f_i(X) at X = 0 .. 4, as the dense prover forms it.
   Grid points are blocks side by side (``_LANES``): every loop of the extension and the products
   runs over (points x blocks) contiguous entries, whatever j.
3. **Hand-off pass** (after r_<j). Per block, every column and every helper bound at r_<j:
   b_c = sum_y eq(r_<j, y) col_c(y, x_out) (base x ext; helpers ext x ext); then D_s and L from
   the b_c (the forms are affine, eq(r_<j, .) sums to 1). These are the dense prover's tables at
   T / 2^j entries; ``HelperSumcheck`` finishes the log T - j rounds on them with the split-eq
   prefix prod_{l<j} eq(tau_l, r_l) of the streamed rounds.
4. **Values pass** (after r): the stage's columns at r, as sum_{x_out} eq(r_{>=j}, x_out) b_c(x_out)
   with b_c bound at r_<j per block. The helpers at r come from the dense prover's tables.
Four passes in all, at every size (``PASSES``).

Helpers: given (``helpers``: the stage's (4, T) ext arrays, e.g. ``ctx.helpers`` while stage 2 is
materialized) their rows are sliced per span, never recomputed; not given, passes 1-3 recompute
them per span from the regenerated columns exactly as ``fingerprints.helpers_chunk`` does for
this stage's helpers only: the slots' D, the pairs' products, one ``batch_einv`` per span (the
inverse is unique: the same values, bit for bit). Pass 4 needs no helper.

Window (``window_for``): j = ceil(log T / 2) - 6, within [1, log T - 1]: the hand-off tables have
T / 2^j = 64 * 2^floor(log T / 2) entries, and the window's grid work is 2^j points a row
(4^j / 2^j), two ext products a point and pair. State: one span of columns (2^12 rows) with its
D and helper rows and the block factors (a few MiB); the grids (4^j ext, lane-wise 4^j x lanes);
then the hand-off tables: (helpers + slots + numerator forms) x 32 B x T / 2^j (6 tables for
stage 3: 12 MiB at 2^20) plus the dense prover's eq table (half of one) and its round chunks
(~4 MiB at any size).
Measured for stage 3 (``benchmarks/stage3_streaming.py``, memray, one fresh process per figure,
2026-12-07, 2 shared cores at load 2.5-3.3): the trace side (everything before the table side)
7.7 / 18.2 MB at 2^16 / 2^20 against the materialized stage's 24.4 / 323.3 MB; the grid ~8 ns a
point (two ext products) at j = 4; the stage 1.01 / 1.80 x the materialized stage's time, the
stage 2-6 unit 1.04 / 1.02 x. The other windows: j = 3 at 2^20 doubles the tables (past 1/16 of
the materialized stage), j = 5 doubles the grid work.

Public names: ``StreamingHelperSumcheck``, ``window_for``, ``PASSES``, ``SPAN_ROWS``.
Sits in ``backends.streaming``: imports ``field``, ``mle``, ``relations.fingerprints`` (slots,
forms, ``batch_einv``), ``backends.dense.logup`` (the dense finish) and ``sumcheck.protocol``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numba
import numpy as np
from numba import types as _nt

from prover.backends.dense.logup import HelperSumcheck, HelperTables
from prover.field import (
    U64,
    W_EXT,
    P,
    eadd,
    edot,
    emul,
    emul_base,
    esub,
    ext_from_base,
    ext_scalar,
)
from prover.mle import Point, eq_table
from prover.relations import fingerprints as fp
from prover.sumcheck.protocol import interpolate_eval

__all__ = ["PASSES", "SPAN_ROWS", "StreamingHelperSumcheck", "window_for"]

PASSES = 4  # fraction sum, window, hand-off, values: at every size
# Rows per column build (whole chunks; at least one block).
SPAN_ROWS = 1 << 12
WINDOW_OFFSET = 6  # j = ceil(log T / 2) - WINDOW_OFFSET
# Grid entries (points x lanes) per block batch: the lanes are blocks side by side, so every loop
# runs over >= this many contiguous entries at small j (measured: at j = 2 per-block loops of 4
# points cost 4x more a row than batches of 256 blocks).
_GRID_ENTRIES = 1 << 12


def window_for(log_t: int) -> int:
    """The streamed rounds j for T = 2^log_t: ceil(log T / 2) - 6, within [1, log T - 1]."""
    return max(1, min(log_t - 1, (log_t + 1) // 2 - WINDOW_OFFSET))


# ---------------------------------------------------------------------------- compiled kernels
# Same conventions as prover.field's twins: explicit signatures (compiled or loaded from numba's
# cache when this module is imported, before any stage), C-contiguous operands, reduced values.
# The reduction is prover.field._modp, repeated so that the cache entries depend on this file only.
_P = np.uint64(P)
_P_I64 = np.int64(P)
_INV_P = 1.0 / P
_W = np.uint64(W_EXT)
_JIT = {"cache": True, "nogil": True, "boundscheck": False}
_RO1 = _nt.Array(_nt.uint64, 1, "C", readonly=True)
_RO2 = _nt.Array(_nt.uint64, 2, "C", readonly=True)
_RO3 = _nt.Array(_nt.uint64, 3, "C", readonly=True)
_I1 = _nt.Array(_nt.int64, 1, "C", readonly=True)
_I2 = _nt.Array(_nt.int64, 2, "C", readonly=True)
_W2 = _nt.Array(_nt.uint64, 2, "C")
_W3 = _nt.Array(_nt.uint64, 3, "C")


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


@numba.njit(
    _nt.void(_RO3, _nt.int64, _RO2, _nt.int64, _I1, _RO2, _I2, _nt.int64,
             _I1, _I1, _I1, _I1, _I1, _W3, _W2, _W2, _W2),
    **_JIT,
)
def _grid_jit(fac, B, w, w0, wf, coefs, terms, npts,
              gbin, powp, bases, boff, finite,
              ext, acc, tmp, wk):  # pragma: no cover - compiled
    """Add the grid sums of the blocks of ``fac`` (factors x 4 x rows, B rows a block) into the
    lane-wise accumulator acc (4 x points * lanes).

    K = acc.shape[1] / npts^j lanes: blocks b0 .. b0 + K - 1 of a batch sit side by side, grid
    point v of lane k at v K + k (v = sum_l d_l npts^l, d = npts - 1 for inf). Factor f with
    wf[f] >= 0 is multiplied, row by row, by w[:, w0 + block] * coefs[:, wf[f]] (ext) before its
    extension. Term t multiplies the factors terms[t, 0..2] (-1: none) at every grid point; a term
    of fewer than npts - 1 factors is 0 wherever a coordinate is inf (its X^(npts-1) coefficient),
    so it runs on the ``finite`` points only. Values stay reduced; acc takes one addp a term.
    """
    nf = fac.shape[0]
    nblocks = fac.shape[2] // B
    GK = ext.shape[2]
    j = powp.shape[0] - 1
    K = GK // powp[j]
    deg = npts - 1
    for b0 in range(0, nblocks, K):
        for f in range(nf):
            if wf[f] >= 0:  # lane weights w_k = w[:, w0 + b0 + k] * coef, then rows times w_k
                c0, c1, c2, c3 = coefs[0, wf[f]], coefs[1, wf[f]], coefs[2, wf[f]], coefs[3, wf[f]]
                v1, v2, v3 = _modp(c1 * _W), _modp(c2 * _W), _modp(c3 * _W)
                for k in range(K):
                    x0, x1, x2, x3 = w[0, w0 + b0 + k], w[1, w0 + b0 + k], w[2, w0 + b0 + k], w[3, w0 + b0 + k]
                    wk[0, k] = _modp(x0 * c0 + x1 * v3 + x2 * v2 + x3 * v1)
                    wk[1, k] = _modp(x0 * c1 + x1 * c0 + x2 * v3 + x3 * v2)
                    wk[2, k] = _modp(x0 * c2 + x1 * c1 + x2 * c0 + x3 * v3)
                    wk[3, k] = _modp(x0 * c3 + x1 * c2 + x2 * c1 + x3 * c0)
                wa, wb, wc, wd = wk[0], wk[1], wk[2], wk[3]
                for y in range(B):
                    o = gbin[y] * K
                    e0, e1, e2, e3 = ext[f, 0, o : o + K], ext[f, 1, o : o + K], ext[f, 2, o : o + K], ext[f, 3, o : o + K]
                    for k in range(K):
                        r = (b0 + k) * B + y
                        x0, x1, x2, x3 = fac[f, 0, r], fac[f, 1, r], fac[f, 2, r], fac[f, 3, r]
                        y0, y1, y2, y3 = wa[k], wb[k], wc[k], wd[k]
                        u1, u2, u3 = _modp(y1 * _W), _modp(y2 * _W), _modp(y3 * _W)
                        e0[k] = _modp(x0 * y0 + x1 * u3 + x2 * u2 + x3 * u1)
                        e1[k] = _modp(x0 * y1 + x1 * y0 + x2 * u3 + x3 * u2)
                        e2[k] = _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * u3)
                        e3[k] = _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0)
            else:
                for c in range(4):
                    src = fac[f, c]
                    ex = ext[f, c]
                    for y in range(B):
                        o = gbin[y] * K
                        for k in range(K):
                            ex[o + k] = src[(b0 + k) * B + y]
            for c in range(4):  # extend coordinate lev: inf = x1 - x0, 2 = x1 + inf
                ex = ext[f, c]
                for lev in range(j):
                    run = powp[lev] * K
                    for h in range(boff[lev], boff[lev + 1]):
                        o = bases[h] * K
                        x0 = ex[o : o + run]
                        x1 = ex[o + run : o + 2 * run]
                        xi = ex[o + deg * run : o + (deg + 1) * run]
                        for i in range(run):
                            d = x1[i] + _P - x0[i]
                            xi[i] = d - _P if d >= _P else d
                        if deg == 3:
                            x2 = ex[o + 2 * run : o + 3 * run]
                            for i in range(run):
                                e = x1[i] + xi[i]
                                x2[i] = e - _P if e >= _P else e
        s0, s1, s2, s3 = acc[0], acc[1], acc[2], acc[3]
        t0, t1, t2, t3 = tmp[0], tmp[1], tmp[2], tmp[3]
        for t in range(terms.shape[0]):
            fa, fb, fc = terms[t, 0], terms[t, 1], terms[t, 2]
            nfac = 1 + (fb >= 0) + (fc >= 0)
            a0, a1, a2, a3 = ext[fa, 0], ext[fa, 1], ext[fa, 2], ext[fa, 3]
            if nfac == deg:  # every point
                if nfac == 1:
                    for i in range(GK):
                        s0[i] = _addp(s0[i], a0[i])
                        s1[i] = _addp(s1[i], a1[i])
                        s2[i] = _addp(s2[i], a2[i])
                        s3[i] = _addp(s3[i], a3[i])
                    continue
                b0_, b1, b2, b3 = ext[fb, 0], ext[fb, 1], ext[fb, 2], ext[fb, 3]
                if nfac == 2:
                    for i in range(GK):
                        x0, x1, x2, x3 = a0[i], a1[i], a2[i], a3[i]
                        y0, y1, y2, y3 = b0_[i], b1[i], b2[i], b3[i]
                        u1, u2, u3 = _modp(y1 * _W), _modp(y2 * _W), _modp(y3 * _W)
                        s0[i] = _addp(s0[i], _modp(x0 * y0 + x1 * u3 + x2 * u2 + x3 * u1))
                        s1[i] = _addp(s1[i], _modp(x0 * y1 + x1 * y0 + x2 * u3 + x3 * u2))
                        s2[i] = _addp(s2[i], _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * u3))
                        s3[i] = _addp(s3[i], _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0))
                    continue
                for i in range(GK):
                    x0, x1, x2, x3 = a0[i], a1[i], a2[i], a3[i]
                    y0, y1, y2, y3 = b0_[i], b1[i], b2[i], b3[i]
                    u1, u2, u3 = _modp(y1 * _W), _modp(y2 * _W), _modp(y3 * _W)
                    t0[i] = _modp(x0 * y0 + x1 * u3 + x2 * u2 + x3 * u1)
                    t1[i] = _modp(x0 * y1 + x1 * y0 + x2 * u3 + x3 * u2)
                    t2[i] = _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * u3)
                    t3[i] = _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0)
                c0_, c1, c2, c3 = ext[fc, 0], ext[fc, 1], ext[fc, 2], ext[fc, 3]
                for i in range(GK):
                    x0, x1, x2, x3 = t0[i], t1[i], t2[i], t3[i]
                    y0, y1, y2, y3 = c0_[i], c1[i], c2[i], c3[i]
                    u1, u2, u3 = _modp(y1 * _W), _modp(y2 * _W), _modp(y3 * _W)
                    s0[i] = _addp(s0[i], _modp(x0 * y0 + x1 * u3 + x2 * u2 + x3 * u1))
                    s1[i] = _addp(s1[i], _modp(x0 * y1 + x1 * y0 + x2 * u3 + x3 * u2))
                    s2[i] = _addp(s2[i], _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * u3))
                    s3[i] = _addp(s3[i], _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0))
                continue
            # fewer factors than the grid's degree: the finite points only
            for q in range(finite.shape[0]):
                o = finite[q] * K
                for k in range(o, o + K):
                    x0, x1, x2, x3 = a0[k], a1[k], a2[k], a3[k]
                    if nfac >= 2:
                        y0, y1, y2, y3 = ext[fb, 0, k], ext[fb, 1, k], ext[fb, 2, k], ext[fb, 3, k]
                        u1, u2, u3 = _modp(y1 * _W), _modp(y2 * _W), _modp(y3 * _W)
                        z0 = _modp(x0 * y0 + x1 * u3 + x2 * u2 + x3 * u1)
                        z1 = _modp(x0 * y1 + x1 * y0 + x2 * u3 + x3 * u2)
                        z2 = _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * u3)
                        z3 = _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0)
                        x0, x1, x2, x3 = z0, z1, z2, z3
                    s0[k] = _addp(s0[k], x0)
                    s1[k] = _addp(s1[k], x1)
                    s2[k] = _addp(s2[k], x2)
                    s3[k] = _addp(s3[k], x3)


@numba.njit(_nt.void(_RO2, _RO2, _W3, _W2), **_JIT)
def _bind_base_jit(mat, e, out, accb):  # pragma: no cover - compiled
    """out[c, :, b] = sum_y e[:, y] mat[c, b B + y] (base x ext), B = e.shape[1]: the columns
    bound at the point of e, block by block (the sums run across blocks: 4 products between
    reductions)."""
    B = e.shape[1]
    nb = out.shape[2]
    for c in range(mat.shape[0]):
        src = mat[c]
        for u in range(4):
            for b in range(nb):
                accb[0, b] = 0
            for y0 in range(0, B, 4):
                for y in range(y0, min(B, y0 + 4)):
                    ey = e[u, y]
                    for b in range(nb):
                        accb[0, b] += ey * src[b * B + y]
                for b in range(nb):
                    accb[0, b] = _modp(accb[0, b])
            for b in range(nb):
                out[c, u, b] = accb[0, b]


@numba.njit(_nt.void(_RO2, _RO2, _W2, _W2), **_JIT)
def _bind_ext_jit(h, e, out, accb):  # pragma: no cover - compiled
    """out[:, b] = sum_y e[:, y] h[:, b B + y] (ext x ext), B = e.shape[1]."""
    B = e.shape[1]
    nb = out.shape[1]
    for u in range(4):
        for b in range(nb):
            accb[u, b] = 0
    for y in range(B):
        y0, y1, y2, y3 = e[0, y], e[1, y], e[2, y], e[3, y]
        u1, u2, u3 = _modp(y1 * _W), _modp(y2 * _W), _modp(y3 * _W)
        for b in range(nb):
            r = b * B + y
            x0, x1, x2, x3 = h[0, r], h[1, r], h[2, r], h[3, r]
            accb[0, b] += _modp(x0 * y0 + x1 * u3 + x2 * u2 + x3 * u1)
            accb[1, b] += _modp(x0 * y1 + x1 * y0 + x2 * u3 + x3 * u2)
            accb[2, b] += _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * u3)
            accb[3, b] += _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0)
    for u in range(4):
        for b in range(nb):
            out[u, b] = _modp(accb[u, b])


@numba.njit(_nt.void(_RO3, _I1, _I1, _RO2, _RO2, _W3), **_JIT)
def _forms_jit(bound, tt, tc, tk, const, out):  # pragma: no cover - compiled
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


# ---------------------------------------------------------------------------- the grid


class _Grid:
    """Index tables of {0, 1, [2,] inf}^j (npts = 3 or 4 points a coordinate; point
    v = sum_l d_l npts^l, d = npts - 1 for inf) and its lane-wise accumulator layout."""

    def __init__(self, j: int, npts: int, blocks_per_span: int) -> None:
        if npts not in (3, 4):
            raise ValueError(f"grid of {npts} points a coordinate")
        self.j, self.npts = j, npts
        self.size = npts**j

        def digits(bits: int, shift: int) -> int:
            return sum(npts ** (m + shift) for m in range(bits.bit_length()) if bits >> m & 1)

        self.powp = np.array([npts**l for l in range(j + 1)], dtype=np.int64)
        self.gbin = np.array([digits(y, 0) for y in range(1 << j)], dtype=np.int64)
        bases: list[int] = []
        boff = [0]
        for lev in range(j):
            bases += [digits(h, lev + 1) for h in range(1 << (j - lev - 1))]
            boff.append(len(bases))
        self.bases = np.array(bases, dtype=np.int64)
        self.boff = np.array(boff, dtype=np.int64)
        fin = [v for v in range(self.size) if all((v // npts**l) % npts != npts - 1 for l in range(j))]
        self.finite = np.array(fin, dtype=np.int64)
        # lanes: blocks side by side, so that ~_GRID_ENTRIES entries run per loop (a power of two
        # dividing the blocks of a span)
        lanes = 1
        while lanes * 2 * self.size <= _GRID_ENTRIES and lanes * 2 <= blocks_per_span:
            lanes *= 2
        self.lanes = lanes

    def accumulator(self) -> U64:
        return np.zeros((4, self.size * self.lanes), dtype=np.uint64)

    def fold_lanes(self, acc: U64) -> U64:
        """The lane-wise accumulator summed over its lanes: (4, npts^j)."""
        parts = acc.reshape(4, self.size, self.lanes)
        out: U64 = (parts.sum(axis=2, dtype=np.uint64) % _P).astype(np.uint64)  # < lanes P < 2^64
        return out

    def round_values(self, S: U64, i: int, rs: Sequence[U64], suffix: U64 | None) -> list[U64]:
        """[p(0), p(1), (p(2),) p(inf)] of round i from the grid sums S (4, npts^j): the bound
        coordinates < i interpolated at rs, the coordinates > i boolean, weighted by ``suffix``
        (4, 2^(j-1-i); None: weight 1)."""
        npts, j = self.npts, self.j
        lag = ext_scalar(1).reshape(4, 1)
        for l in range(i):  # weights of grid^i at r_<i, index sum_l d_l npts^l
            parts = [emul(lag, c) for c in _lagrange(rs[l], npts)]
            lag = np.concatenate(parts, axis=1)
        Y = 1 << (j - 1 - i)
        Z = npts**i
        suf = np.zeros((4, Y), dtype=np.uint64) if suffix is None else suffix
        if suffix is None:
            suf[0] = 1
        w = emul(np.repeat(suf, Z, axis=1), np.tile(lag, (1, Y)))
        ydig = np.array([sum(npts**m for m in range(j) if y >> m & 1) for y in range(Y)], dtype=np.int64)
        base = (np.arange(Z, dtype=np.int64)[None, :] + npts ** (i + 1) * ydig[:, None]).reshape(-1)
        return [edot(w, np.ascontiguousarray(S[:, base + d * Z])) for d in range(npts)]


_INV2 = ext_scalar((P + 1) // 2)


def _lagrange(r: U64, npts: int) -> list[U64]:
    """Weights of p(0), p(1), [p(2),] and the leading coefficient in p(r): deg p <= 2 (npts 3:
    1 - r, r, r (r - 1)) or <= 3 (npts 4: (r-1)(r-2)/2, r (2 - r), r (r-1)/2, r (r-1)(r-2))."""
    one, two = ext_scalar(1), ext_scalar(2)
    r1 = esub(r, one)
    if npts == 3:
        return [esub(one, r), r, emul(r, r1)]
    r2 = esub(r, two)
    rr1 = emul(r, r1)
    return [emul(emul(r1, r2), _INV2), emul(r, esub(two, r)), emul(rr1, _INV2), emul(rr1, r2)]


def _at_0_to_4(vals: Sequence[U64]) -> list[U64]:
    """The polynomial given by [p(0), p(1), (p(2),) lead] at X = 0 .. 4 (as the dense prover's
    ``_cubic_at`` extends its cubics; a quadratic's lead is its X^2 coefficient)."""
    if len(vals) == 4:
        v0, v1, v2, lead = vals
        v3 = eadd(esub(v0, emul_base(v1, 3)), eadd(emul_base(v2, 3), emul_base(lead, 6)))
        v4 = eadd(esub(emul_base(v0, 3), emul_base(v1, 8)), eadd(emul_base(v2, 6), emul_base(lead, 24)))
        return [v0, v1, v2, v3, v4]
    v0, v1, lead = vals  # p(x) = v0 (1 - x) + v1 x + lead x (x - 1)
    return [eadd(emul_base(v0, (1 - x) % P), eadd(emul_base(v1, x), emul_base(lead, x * (x - 1)))) for x in range(5)]


def _eq1(t: U64, x: U64) -> U64:
    one = ext_scalar(1)
    return eadd(emul(t, x), emul(esub(one, t), esub(one, x)))


# ---------------------------------------------------------------------------- the stage's plan


class _Plan:
    """One helper stage compiled for the kernels: the span's columns, the slots' den forms, the
    numerator forms, the Z and F terms over the row factors, and the dense prover's table layout."""

    def __init__(self, stage: int, alpha: U64, g: U64) -> None:
        self.stage = stage
        self.slots = fp.STAGE_SLOTS[stage]
        self.pairs = fp.HELPER_PAIRS[stage]
        self.helpers = fp.stage_helpers(stage)
        self.columns = fp.slot_columns(self.slots)
        self.forms = [fp.den_form(s, alpha, g) for s in self.slots]
        self.nums = [fp.num_form(s) for s in self.slots]
        uses_cycle = any(fp.CYCLE in f.names for f in self.forms) or any(
            form is not None and any(k == fp.CYCLE for k, _ in form) for _, form in self.nums
        )
        # the matrix of a span: the stage's columns, then the cycle index if some form reads it
        self.mat_names = list(self.columns) + ([fp.CYCLE] if uses_cycle else [])
        self.index = {n: i for i, n in enumerate(self.mat_names)}
        # the dense prover's table layout (which table holds h_i, D_s, L): from its own builder,
        # run on two dummy rows, so the hand-off fills exactly the tables it expects
        dummy = {n: np.zeros(2, dtype=np.uint64) for n in self.columns}
        layout = HelperTables.build(stage, dummy, 2, alpha, g, [np.zeros((4, 2), dtype=np.uint64)] * len(self.pairs))
        self.layout = layout.pairs
        self.num_tables = len(layout.tables)
        # the numerator form of each L table (table index -> canonical form)
        self.num_forms: dict[int, tuple[tuple[str, int], ...]] = {}
        for p, pair in zip(self.layout, self.pairs):
            if p.num is not None:
                form = self.nums[pair[0]][1]
                assert form is not None
                self.num_forms[p.num] = form
        # degrees of the fraction terms: h N = h L (c_b D_a + c_a D_b) (h c_a L alone)
        self.f_degree = max(
            1 + (len(pair) == 2) + (self.nums[pair[0]][1] is not None) for pair in self.pairs
        )
        self.z_degree = max(1 + len(pair) for pair in self.pairs)
        for pair in self.pairs:
            if len(pair) not in (1, 2):
                raise ValueError(f"stage {stage}: a helper covers one or two slots, not {len(pair)}")

    def bound_terms(self) -> tuple[np.ndarray, np.ndarray, U64, U64]:
        """The D and L tables as affine forms of the bound matrix rows: (table, column, ext
        coefficient) terms and ext constants, tables in the dense layout's order (h's get none:
        their constants are 0 and the hand-off writes them)."""
        tt: list[int] = []
        tc: list[int] = []
        tk: list[U64] = []
        const = [ext_scalar(0) for _ in range(self.num_tables)]
        for p, pair in zip(self.layout, self.pairs):
            for t, s in zip(p.dens, pair):
                form = self.forms[s]
                for jn, name in enumerate(form.names):
                    tt.append(t)
                    tc.append(self.index[name])
                    tk.append(form.coeffs[:, jn].copy())
                const[t] = form.coeffs[:, -1].copy()
        for t, nform in self.num_forms.items():
            c = 0
            for name, v in nform:
                if name == fp.ONE:
                    c += v
                else:
                    tt.append(t)
                    tc.append(self.index[name])
                    tk.append(ext_scalar(v % P))
            const[t] = ext_scalar(c % P)
        return (np.array(tt, dtype=np.int64), np.array(tc, dtype=np.int64),
                np.ascontiguousarray(np.stack(tk, axis=1)), np.ascontiguousarray(np.stack(const, axis=1)))


# ---------------------------------------------------------------------------- the prover


class StreamingHelperSumcheck:
    """RoundProver (degree 4, log T rounds) for the helper sumcheck of logUp stage ``stage``
    (3-6), from the witness's chunked view in ``PASSES`` passes (module docstring).

    Use: ``fraction_sum()`` (pass 1: S) -> absorb S, draw rho and tau -> ``start(tau, rho)`` ->
    the sumcheck (passes 2 and 3) -> ``final_helpers()`` and ``final_values(r)`` (pass 4).
    ``helpers``: the stage's helpers as (4, T) ext arrays in ``stage_helpers(stage)`` order (read
    per span), or None to recompute them per span from the columns. ``window``: the streamed
    rounds j (default ``window_for``).
    """

    def __init__(
        self,
        witness: Any,
        stage: int,
        alpha: U64,
        g: U64,
        helpers: Sequence[U64] | None = None,
        window: int | None = None,
        span_rows: int | None = None,
    ) -> None:
        self._w = witness
        T = int(witness.T)
        self._k = T.bit_length() - 1
        if T != 1 << self._k or self._k < 2:
            raise ValueError(f"a trace of {T} rows: the streaming helper sumcheck needs T = 2^k, k >= 2")
        self._plan = _Plan(stage, alpha, g)
        self.stage = stage
        if helpers is not None:
            helpers = list(helpers)
            if len(helpers) != len(self._plan.pairs):
                raise ValueError(f"stage {stage} needs {len(self._plan.pairs)} helpers, got {len(helpers)}")
            for h in helpers:
                if h.shape != (4, T):
                    raise ValueError(f"helper of shape {h.shape}, expected (4, {T})")
        self._helpers = helpers
        self.j = window_for(self._k) if window is None else int(window)
        if not 1 <= self.j < self._k:
            raise ValueError(f"window {self.j} outside [1, {self._k - 1}]")
        size = witness.chunk_size
        rows = max(SPAN_ROWS if span_rows is None else span_rows, 1 << self.j, size)
        self._span_chunks = max(1, min(witness.num_chunks, rows // size))
        nbs = (self._span_chunks * size) >> self.j
        self._zgrid = _Grid(self.j, 4 if self._plan.z_degree == 3 else 3, nbs)
        self._fgrid = _Grid(self.j, 4 if self._plan.f_degree == 3 else 3, nbs)
        self._F: U64 | None = None  # the F grid (pass 1)
        self._Z: U64 | None = None  # the Z grid (pass 2)
        self.S: U64 | None = None
        self._tau: list[U64] = []
        self._rho_pows: list[U64] = []
        self._rho_sum = ext_scalar(0)
        self._r: list[U64] = []
        self._prefix = ext_scalar(1)
        self._claim = ext_scalar(0)
        self._last: list[U64] = []
        self._dense: HelperSumcheck | None = None
        self._hvals: list[U64] | None = None
        self._round = -1  # not started
        self.passes = 0  # trace passes made so far
        self.helper_spans = 0  # spans whose helpers were recomputed

    # -- RoundProver -----------------------------------------------------------------------------
    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return 4

    # -- reading the trace ------------------------------------------------------------------------
    def _spans(self) -> Iterator[tuple[int, U64]]:
        """(first row, matrix of the span's columns: mat_names x rows, uint64), in time order."""
        w, count, size = self._w, self._span_chunks, self._w.chunk_size
        plan = self._plan
        for first in range(0, w.num_chunks, count):
            take = min(count, w.num_chunks - first)
            cols = w.span(first, take, plan.columns)
            n = take * size
            mat = np.empty((len(plan.mat_names), n), dtype=np.uint64)
            for i, name in enumerate(plan.columns):
                mat[i] = cols[name]
            del cols
            start = first * size
            if fp.CYCLE in plan.index:
                mat[plan.index[fp.CYCLE]] = np.arange(start, start + n, dtype=np.uint64)
            yield start, mat
        self.passes += 1

    def _dens(self, start: int, mat: U64) -> list[U64]:
        """D_s over the span's rows, per slot (``fingerprints.slot_den``: one compiled lincomb)."""
        plan = self._plan
        n = mat.shape[1]
        cols = {name: mat[i] for i, name in enumerate(plan.mat_names) if name != fp.CYCLE}
        cycle = mat[plan.index[fp.CYCLE]] if fp.CYCLE in plan.index else np.arange(start, start + n, dtype=np.uint64)
        return [fp.slot_den(f, cols, cycle) for f in plan.forms]

    def _helper_rows(self, start: int, n: int, dens: Sequence[U64]) -> list[U64]:
        """The helpers over rows start .. start + n - 1: sliced from the given arrays, or
        recomputed as ``fingerprints.helpers_chunk`` computes them (one ``batch_einv``)."""
        if self._helpers is not None:
            return [np.ascontiguousarray(h[:, start : start + n]) for h in self._helpers]
        pairs = self._plan.pairs
        prods = np.empty((4, len(pairs) * n), dtype=np.uint64)
        for i, pair in enumerate(pairs):
            d = dens[pair[0]]
            for s in pair[1:]:
                d = emul(d, dens[s])
            prods[:, i * n : (i + 1) * n] = d
        inv = fp.batch_einv(prods)
        del prods
        self.helper_spans += 1
        return [np.ascontiguousarray(inv[:, i * n : (i + 1) * n]) for i in range(len(pairs))]

    def _num_rows(self, start: int, mat: U64, form: tuple[tuple[str, int], ...]) -> U64:
        plan = self._plan
        cols = {name: mat[i] for i, name in enumerate(plan.mat_names) if name != fp.CYCLE}
        cycle = mat[plan.index[fp.CYCLE]] if fp.CYCLE in plan.index else np.arange(start, start + mat.shape[1], dtype=np.uint64)
        return ext_from_base(fp.num_table(form, cols, cycle))

    def _blocks_per_span(self) -> int:
        return int(self._span_chunks * self._w.chunk_size) >> self.j

    def _block_weights(self, point: Sequence[U64]) -> Any:
        """first block of a span -> (table, offset): eq(point, block) for the span's blocks,
        built per span from the span's low block bits and the span index's weight."""
        nbs = self._blocks_per_span()
        lb = nbs.bit_length() - 1
        hi = eq_table(list(point[lb:]))

        def get(block: int) -> tuple[U64, int]:
            s = block >> lb
            return np.ascontiguousarray(eq_table(list(point[:lb]), scale=hi[:, s].copy())), block & (nbs - 1)

        return get

    def _run_grid(self, grid: _Grid, fac: U64, wf: np.ndarray, coefs: U64, terms: np.ndarray,
                  w: U64, w0: int, acc: U64, scratch: dict[str, U64]) -> None:
        nf = fac.shape[0]
        if "ext" not in scratch or scratch["ext"].shape[0] < nf:
            scratch["ext"] = np.zeros((nf, 4, grid.size * grid.lanes), dtype=np.uint64)
            scratch["tmp"] = np.zeros((4, grid.size * grid.lanes), dtype=np.uint64)
            scratch["wk"] = np.zeros((4, grid.lanes), dtype=np.uint64)
        _grid_jit(fac, 1 << self.j, w, w0, wf, coefs, terms, grid.npts,
                  grid.gbin, grid.powp, grid.bases, grid.boff, grid.finite,
                  scratch["ext"], acc, scratch["tmp"], scratch["wk"])

    # -- pass 1: the fraction sum and the F grid ---------------------------------------------------
    def fraction_sum(self) -> U64:
        """S = sum_x sum_i (N_i h_i)(x) (one pass; also the F grid the window rounds read)."""
        if self.S is not None:
            return self.S
        plan, grid = self._plan, self._fgrid
        acc = grid.accumulator()
        scratch: dict[str, U64] = {}
        zero_w = np.zeros((4, 1), dtype=np.uint64)
        coefs = np.zeros((4, 1), dtype=np.uint64)
        for start, mat in self._spans():
            n = mat.shape[1]
            dens = self._dens(start, mat)
            hs = self._helper_rows(start, n, dens)
            facs: list[U64] = []
            terms: list[tuple[int, int, int]] = []
            for p, pair, h in zip(plan.layout, plan.pairs, hs):
                L = None if p.num is None else self._num_rows(start, mat, plan.num_forms[p.num])
                if len(pair) == 2:  # N = L (c_b D_a + c_a D_b)
                    ca, cb = p.coef
                    inner = _comb((cb, ca), (dens[pair[0]], dens[pair[1]]))
                    facs += [h, inner]
                    t = [len(facs) - 2, len(facs) - 1, -1]
                    if L is not None:
                        facs.append(L)
                        t[2] = len(facs) - 1
                else:  # N = c_a L, or the constant c_a
                    c = p.coef[0]
                    if L is None:
                        facs.append(h if c == 1 else emul_base(h, c % P))
                        t = [len(facs) - 1, -1, -1]
                    else:
                        facs += [h, L if c == 1 else emul_base(L, c % P)]
                        t = [len(facs) - 2, len(facs) - 1, -1]
                terms.append((t[0], t[1], t[2]))
            fac = np.ascontiguousarray(np.stack(facs))
            del facs, dens, hs
            wf = np.full(fac.shape[0], -1, dtype=np.int64)
            self._run_grid(grid, fac, wf, coefs, np.array(terms, dtype=np.int64), zero_w, 0, acc, scratch)
        self._F = grid.fold_lanes(acc)
        del acc, scratch
        S = ext_scalar(0)
        for v in grid.gbin:  # the boolean points
            S = eadd(S, self._F[:, v].copy())
        self.S = S
        return S

    def start(self, tau: Point, rho: U64) -> U64:
        """Fix tau and rho (drawn after S is absorbed); returns the claim rho^P S."""
        if self.S is None:
            raise RuntimeError("start() before fraction_sum(): S is absorbed before tau and rho")
        if len(tau) != self._k:
            raise ValueError(f"a {len(tau)}-variable tau for {self._k} variables")
        self._tau = list(tau)
        self._rho_pows = [ext_scalar(1)]
        for _ in range(len(self._plan.pairs)):
            self._rho_pows.append(emul(self._rho_pows[-1], rho))
        self._rho = rho
        self._rho_sum = ext_scalar(0)
        for rp in self._rho_pows[:-1]:
            self._rho_sum = eadd(self._rho_sum, rp)
        self._claim = emul(self._rho_pows[-1], self.S)
        self._round = 0
        return self._claim

    # -- pass 2: the window ---------------------------------------------------------------------
    def _window_pass(self) -> U64:
        plan, grid, j = self._plan, self._zgrid, self.j
        acc = grid.accumulator()
        scratch: dict[str, U64] = {}
        coefs = np.ascontiguousarray(np.stack(self._rho_pows[:-1], axis=1))
        weights = self._block_weights(self._tau[j:])
        for start, mat in self._spans():
            n = mat.shape[1]
            dens = self._dens(start, mat)
            hs = self._helper_rows(start, n, dens)
            facs: list[U64] = []
            wf: list[int] = []
            terms: list[tuple[int, int, int]] = []
            slot_fac: dict[int, int] = {}
            for i, (pair, h) in enumerate(zip(plan.pairs, hs)):
                facs.append(h)
                wf.append(i)  # h_i times rho^i eq(tau_{>=j}, block)
                t = [len(facs) - 1, -1, -1]
                for m, s in enumerate(pair):
                    if s not in slot_fac:
                        slot_fac[s] = len(facs)
                        facs.append(dens[s])
                        wf.append(-1)
                    t[1 + m] = slot_fac[s]
                terms.append((t[0], t[1], t[2]))
            fac = np.ascontiguousarray(np.stack(facs))
            del facs, dens, hs
            w, off = weights(start >> j)
            self._run_grid(grid, fac, np.array(wf, dtype=np.int64), coefs, np.array(terms, dtype=np.int64),
                           w, off, acc, scratch)
        del scratch
        return grid.fold_lanes(acc)

    def _window_round(self, i: int) -> list[U64]:
        assert self._Z is not None and self._F is not None
        j = self.j
        eqs = eq_table(self._tau[i + 1 : j])  # (4, 2^(j-1-i)): bit m pairs with tau_{i+1+m}
        q = _at_0_to_4(self._zgrid.round_values(self._Z, i, self._r, eqs))
        f = _at_0_to_4(self._fgrid.round_values(self._F, i, self._r, None))
        tau_i = self._tau[i]
        rp = self._rho_pows[-1]
        return [
            eadd(emul(emul(self._prefix, _eq1(tau_i, ext_scalar(x))), esub(q[x], self._rho_sum)), emul(rp, f[x]))
            for x in range(5)
        ]

    # -- pass 3: the hand-off ------------------------------------------------------------------
    def _handoff(self) -> HelperSumcheck:
        plan, j = self._plan, self.j
        n = 1 << (self._k - j)
        tables = [np.empty((4, n), dtype=np.uint64) for _ in range(plan.num_tables)]
        tt, tc, tk, const = plan.bound_terms()
        e = np.ascontiguousarray(eq_table(self._r))
        nbs = self._blocks_per_span()
        accb = np.empty((4, nbs), dtype=np.uint64)
        for start, mat in self._spans():
            nb = mat.shape[1] >> j
            block0 = start >> j
            dens = self._dens(start, mat) if self._helpers is None else []
            hs = self._helper_rows(start, mat.shape[1], dens)
            del dens
            bound = np.empty((mat.shape[0], 4, nb), dtype=np.uint64)
            _bind_base_jit(mat, e, bound, accb)
            out = np.empty((plan.num_tables, 4, nb), dtype=np.uint64)
            _forms_jit(bound, tt, tc, tk, const, out)
            for p, h in zip(plan.layout, hs):
                _bind_ext_jit(h, e, out[p.h], accb)
            for t, tab in enumerate(tables):
                tab[:, block0 : block0 + nb] = out[t]
        owned = [True] * len(tables)
        dense = _PrefixedHelperSumcheck(HelperTables(tables, owned, list(plan.layout)), self._tau[j:],
                                        self._rho, self._claim, self._prefix)
        return dense

    # -- RoundProver -----------------------------------------------------------------------------
    def round_evals(self) -> list[U64]:
        i = self._round
        if i < 0:
            raise RuntimeError("round_evals() before start()")
        if i < self.j:
            if self._Z is None:
                self._Z = self._window_pass()
            self._last = self._window_round(i)
            return self._last
        if self._dense is None:
            raise RuntimeError("dense rounds before the hand-off")
        return self._dense.round_evals()

    def bind(self, r: U64) -> None:
        i = self._round
        if i < 0:
            raise RuntimeError("bind() before start()")
        if i < self.j:
            self._claim = interpolate_eval(self._last, r)
            self._prefix = emul(self._prefix, _eq1(self._tau[i], r))
            self._r.append(r)
            if i == self.j - 1:
                self._Z = None
                self._dense = self._handoff()
        else:
            if self._dense is None:
                raise RuntimeError("dense rounds before the hand-off")
            self._dense.bind(r)
        self._round += 1
        if self._round == self._k:
            assert self._dense is not None
            self._hvals = self._dense.final_helpers()
            self._dense = None  # its tables (views of the hand-off's) go now

    def final_helpers(self) -> list[U64]:
        """h_i(r) for every pair, once all rounds are bound."""
        if self._hvals is None:
            raise ValueError("not all rounds are bound")
        return [h.copy() for h in self._hvals]

    # -- pass 4: the values ----------------------------------------------------------------------
    def final_values(self, point: Point) -> dict[str, U64]:
        """The stage's columns (``slot_columns``, that order) at ``point`` (ext), one pass."""
        if len(point) != self._k:
            raise ValueError(f"a point of {len(point)} coordinates for {self._k} variables")
        plan, j = self._plan, self.j
        ncol = len(plan.columns)
        nbs = self._blocks_per_span()
        accb = np.empty((4, nbs), dtype=np.uint64)
        e = np.ascontiguousarray(eq_table(list(point[:j])))
        weights = self._block_weights(list(point[j:]))
        acc = np.zeros((4, ncol), dtype=np.uint64)
        for start, mat in self._spans():
            nb = mat.shape[1] >> j
            bound = np.empty((mat.shape[0], 4, nb), dtype=np.uint64)
            _bind_base_jit(mat, e, bound, accb)
            w, off = weights(start >> j)
            _wsum_jit(np.ascontiguousarray(bound[:ncol]), w, off, acc)
        return {name: acc[:, i].copy() for i, name in enumerate(plan.columns)}


class _PrefixedHelperSumcheck(HelperSumcheck):
    """The dense prover on the hand-off tables, its split-eq prefix starting at the streamed
    rounds' prod_{l<j} eq(tau_l, r_l) instead of 1 (``HelperSumcheck`` keeps it in ``_prefix``
    and multiplies it by eq(tau_i, r_i) at each bind; tests check every round against it)."""

    def __init__(self, tables: HelperTables, tau: Point, rho: U64, claim: U64, prefix: U64) -> None:
        super().__init__(tables, tau, rho, claim)
        self._prefix = prefix


def _comb(coefs: Sequence[int], arrays: Sequence[U64]) -> U64:
    """sum_j coefs[j] arrays[j] for small int coefficients (as the dense prover's ``_comb``)."""
    acc: U64 | None = None
    for c, a in zip(coefs, arrays):
        if c == 0:
            continue
        term = a if c == 1 else emul_base(a, c % P)
        acc = term if acc is None else eadd(acc, term)
    return np.zeros_like(arrays[0]) if acc is None else acc
