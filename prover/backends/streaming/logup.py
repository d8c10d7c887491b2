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
   Both grid passes run per batch of blocks (``_grid_add``): the factors' rows (int64) go to the
   boolean points of a (factors x 4, grid, blocks) array, the blocks the last axis, so every numpy
   operation of the extension runs over >= blocks contiguous entries whatever j; the extension is
   unreduced (|value| < 3^j P), reduced once; the products are ``field.emul`` (ext x ext, its
   compiled twin) over points x blocks, summed over the blocks.
3. **Hand-off pass** (after r_<j). Per block, every column and every helper bound at r_<j:
   b_c = sum_y eq(r_<j, y) col_c(y, x_out) (base x ext: one ``field.edot_base_many`` over the
   span's (column, block) rows; a helper h = sum_v h_v X^v the same over its component rows, then
   one ``field.lincomb_base`` with the coefficients X^u X^v); then D_s and L from the b_c (the
   forms are affine, eq(r_<j, .) sums to 1: an ext coefficient k times b_c = sum_u b_c,u X^u is a
   base combination of b_c's components with the coefficients k X^u, one ``lincomb_base`` a table). These are the dense prover's tables at
   T / 2^j entries; ``HelperSumcheck`` finishes the log T - j rounds on them with the split-eq
   prefix prod_{l<j} eq(tau_l, r_l) of the streamed rounds.
4. **Values pass** (after r): the stage's columns at r, per span one ``edot_base_many`` of the
   columns against the row weights eq(r_{>=j}, x_out) eq(r_<j, y) (one ``emul`` a row). The
   helpers at r come from the dense prover's tables.
Four passes in all, at every size (``PASSES``).

Helpers: given (``helpers``: the stage's (4, T) ext arrays, e.g. ``ctx.helpers`` while stage 2 is
materialized) their rows are sliced per span, never recomputed; not given, passes 1-3 recompute
them per span from the regenerated columns exactly as ``fingerprints.helpers_chunk`` does for
this stage's helpers only: the slots' D, the pairs' products, one ``batch_einv`` per span (the
inverse is unique: the same values, bit for bit). Pass 4 needs no helper.

Window (``window_for``): j = ceil(log T / 2) - 6, within [1, log T - 1]: the hand-off tables have
T / 2^j = 64 * 2^floor(log T / 2) entries, and the window's grid work is 2^j points a row
(4^j / 2^j), two ext products a point and pair. State: one span of columns (2^12 rows) with its
D and helper rows and the block factors (a few MiB); a batch's grids (factors x 4 x ~2^14 int64:
3 MiB for stage 3's six Z factors) and products (512 KiB each); the grid sums (npts^j ext);
then the hand-off tables: (helpers + slots + numerator forms) x 32 B x T / 2^j (6 tables for
stage 3: 12 MiB at 2^20) plus the dense prover's eq table (half of one) and its round chunks
(~4 MiB at any size).
No compiled kernel of its own (see "the pieces' arithmetic" below): numba keeps each cached
kernel's LLVM module resident, and on stage 1 that resident code (seven kernels: 6.68 MB kept on
import) raised the whole run's peak by 3.5 MB at every size, past the memory gate's 256 KiB; a
first version of this module had five kernels of its own. Numpy grid work plus ``prover.field``'s
compiled twins, which the materialized prover loads anyway, add no resident code beyond this
module's own Python (~126 KB once imported). The price is the grid's time: at j = 4 the window
pass costs ~1.1 us a row (4^j / 2^j = 16 points, 2 pairs) against ~0.5 us with the kernels
(stage 3's slots, 2^16 rows at window 4, CPU time, load 2-3).
Measured (``benchmarks/stage3_streaming.py``, sha2-chain, stages 0 and 1 streaming, memray, one
fresh process per figure, 2026-12-07 19:05-19:13 UTC, 2 cores shared with other jobs at load
6.3-7.7): the trace side (everything before the table side) 7.7 / 18.4 MB at 2^16 / 2^20
against the materialized stage's 24.4 / 323.3 MB (the kernels' version: 7.7 / 18.2 MB); the
stage 1.34 / 3.52 x the materialized stage's time (kernels: 1.01 / 1.80 x), the stage 2-6 unit
1.20 / 1.16 x (kernels: 1.04 / 1.02 x; at that load single pairs ranged 0.78-1.37). The whole run
against the tree without stage 3 streaming, in the memory gate's own probe: -1.94 MB at sha2-14
(the peak is in stage 3 there), +164 KB at sha2-16 (the peak is in stage 7: this module's code
and the stage's outputs). The other windows: j = 3 at 2^20 doubles the tables (past 1/16 of the
materialized stage), j = 5 doubles the grid work.

Public names: ``StreamingHelperSumcheck``, ``window_for``, ``PASSES``, ``SPAN_ROWS``.
Sits in ``backends.streaming``: imports ``field`` (its compiled twins: ``emul``,
``edot_base_many``, ``lincomb_base``), ``mle``, ``relations.fingerprints`` (slots, forms,
``batch_einv``), ``backends.dense.logup`` (the dense finish) and ``sumcheck.protocol``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from prover.backends.dense.logup import HelperSumcheck, HelperTables
from prover.field import (
    U64,
    P,
    eadd,
    edot,
    edot_base_many,
    emul,
    emul_base,
    esub,
    ext_from_base,
    ext_scalar,
    lincomb_base,
)
from prover.mle import Point, eq_table
from prover.relations import fingerprints as fp
from prover.sumcheck.protocol import interpolate_eval

__all__ = ["PASSES", "SPAN_ROWS", "StreamingHelperSumcheck", "window_for"]

PASSES = 4  # fraction sum, window, hand-off, values: at every size
# Rows per column build (whole chunks; at least one block).
SPAN_ROWS = 1 << 12
WINDOW_OFFSET = 6  # j = ceil(log T / 2) - WINDOW_OFFSET


def window_for(log_t: int) -> int:
    """The streamed rounds j for T = 2^log_t: ceil(log T / 2) - 6, within [1, log T - 1]."""
    return max(1, min(log_t - 1, (log_t + 1) // 2 - WINDOW_OFFSET))


# ---------------------------------------------------------------------------- the pieces' arithmetic
# No compiled kernel of this module's own: numba keeps every cached kernel's LLVM module resident
# for linking, a fixed cost that the whole-run peak carries past the memory gate's 256 KiB
# (measured on stage 1's zero-check: its seven kernels kept 6.68 MB on import and raised the whole
# run's peak by 3.5 MB at every size). The grid extension below is numpy on int64 blocks, reduced
# once; every ext product and eq-weighted sum goes through prover.field's compiled twins (emul,
# edot_base_many, lincomb_base), which the materialized prover loads anyway, so streaming this
# stage adds no resident code.
_P = np.uint64(P)
_P_I64 = np.int64(P)
# Grid entries (blocks x points) per factor in one numpy operation of the grid passes: large
# enough that a call's overhead is small against its work, small enough that a batch's grids stay
# in cache (2^14 entries: 512 KiB an ext factor).
_GRID_BATCH = 1 << 14
_BASIS = [ext_scalar(*(int(u == v) for u in range(4))) for v in range(4)]  # X^v


def _mod_into(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """x <- x mod P in place for a uint64 array (any value); q: scratch of x's shape.
    x // P by a uint64 scalar is libdivide (multiply-high and shift), not a division."""
    np.floor_divide(x, _P, out=q)
    np.multiply(q, _P, out=q)
    np.subtract(x, q, out=x)
    return x


def _mod_signed(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """x <- x mod P in place for an int64 array (any sign): x - floor(x / P) P lies in [0, P).
    // by an int64 scalar is libdivide too (measured ~15 % faster than an offset then uint64)."""
    np.floor_divide(x, _P_I64, out=q)
    np.multiply(q, _P_I64, out=q)
    np.subtract(x, q, out=x)
    return x


def _add_into(acc: np.ndarray, x: np.ndarray) -> None:
    """acc <- acc + x mod P in place, both reduced (a sum below 2P: subtract P unless it wraps)."""
    np.add(acc, x, out=acc)
    np.minimum(acc, acc - _P, out=acc)


def _extend(v: np.ndarray, j: int, deg: int) -> None:
    """v (rows, npts, ..., npts, blocks) int64, boolean points filled: every other point of the
    grid {0, 1, [2,] inf}^j (npts = deg + 1) in place, coordinate by coordinate. Level l extends
    coordinate l (axis j - l: the grid axes run from the highest coordinate down) over the points
    whose lower coordinates are anything and higher ones boolean: inf holds p(1) - p(0), 2 holds
    p(1) + inf. Unreduced: |value| < deg^j P. The blocks are the last axis (lanes), so every
    operation runs over npts^l x blocks contiguous entries, whatever j."""
    for lev in range(j):
        hi = (slice(None),) + (slice(0, 2),) * (j - 1 - lev)
        x1 = v[hi + (1,)]
        xi = v[hi + (deg,)]
        np.subtract(x1, v[hi + (0,)], out=xi)
        if deg == 3:
            np.add(x1, xi, out=v[hi + (2,)])


def _grid_add(grid: _Grid, fac: U64, terms: Sequence[tuple[int, ...]], acc: U64,
              scratch: dict[str, np.ndarray]) -> None:
    """acc (4, npts^j) += sum over the blocks of ``fac`` (factors x 4 x rows, 2^j rows a block) of
    every term's product at every grid point (a term: 1-3 factor indices), reduced.

    Per batch of blocks (side by side: the last axis): the factors' rows go to the grid's boolean
    points, ``_extend`` fills the rest (int64), one reduction (``_mod_signed``), then the products
    are ``field.emul`` (the compiled ext twin) over points x blocks, and their sum over the blocks
    is added. A term of fewer factors than the grid's degree is 0 wherever a coordinate is inf
    (its X^deg coefficient): it is formed on the finite points only (``grid.finite``).
    ``scratch``: the grid buffers, reused across the calls of a pass."""
    j, npts, G = grid.j, grid.npts, grid.size
    deg = npts - 1
    B = 1 << j
    nf, _, n = fac.shape
    nb = n >> j
    kb = max(1, min(nb, _GRID_BATCH // G))  # blocks a batch
    if scratch.get("buf", np.empty(0)).size < nf * 4 * kb * G:
        scratch["buf"] = np.empty(nf * 4 * kb * G, dtype=np.int64)
        scratch["q"] = np.empty(4 * kb * G, dtype=np.int64)
    buf, q = scratch["buf"], scratch["q"]
    raw = np.zeros((4, G), dtype=np.uint64)  # sums of reduced values: < terms x blocks x P
    bool_box = (slice(None),) + (slice(0, 2),) * j
    fin_box = (slice(None),) + (slice(0, deg),) * j
    nfin = grid.finite.shape[0]
    for b0 in range(0, nb, kb):
        k = min(kb, nb - b0)
        g = buf[: nf * 4 * k * G].reshape(nf * 4, k * G)
        v = g.reshape((nf * 4,) + (npts,) * j + (k,))
        rows = fac[:, :, b0 * B : (b0 + k) * B].reshape((nf * 4, k) + (2,) * j).view(np.int64)
        v[bool_box] = rows.transpose(grid.lanes_last)
        _extend(v, j, deg)
        for f in range(nf):
            _mod_signed(g[4 * f : 4 * f + 4].reshape(-1), q[: 4 * k * G])
        gu = g.view(np.uint64)
        for t in terms:
            if len(t) == deg:  # every point
                prod = gu[4 * t[0] : 4 * t[0] + 4]
                for f in t[1:]:
                    prod = emul(prod, gu[4 * f : 4 * f + 4])
                raw += prod.reshape(4, G, k).sum(axis=2)
            else:  # the finite points only
                parts = [np.ascontiguousarray(v[4 * f : 4 * f + 4][fin_box]).view(np.uint64).reshape(4, nfin * k)
                         for f in t]
                prod = parts[0]
                for part in parts[1:]:
                    prod = emul(prod, part)
                raw[:, grid.finite] += prod.reshape(4, nfin, k).sum(axis=2)
    _mod_into(raw, q[: raw.size].view(np.uint64).reshape(raw.shape))
    _add_into(acc, raw)


def _ext_times_basis(k: U64) -> U64:
    """(4, 4): column v is k X^v, so that k x = lincomb_base(x's component rows, these)."""
    return np.ascontiguousarray(np.stack([emul(k, _BASIS[v]) for v in range(4)], axis=1))


# X^u X^v for the row (u, v) of an ext-by-ext binding (``_bind_ext``)
_BASIS2 = np.ascontiguousarray(np.stack([emul(_BASIS[u], _BASIS[v]) for u in range(4) for v in range(4)], axis=1))


def _bind_base(mat: U64, e: U64) -> U64:
    """Rows (4 c + u, block): component u of sum_y e[:, y] mat[c, b B + y] (base x ext, B =
    e.shape[1]; ``field.edot_base_many``), then a row of ones (for constants)."""
    nrows, n = mat.shape
    B = e.shape[1]
    nb = n // B
    r = edot_base_many(e, np.ascontiguousarray(mat).reshape(nrows * nb, B))  # (4, nrows * nb)
    out = np.empty((4 * nrows + 1, nb), dtype=np.uint64)
    out[:-1] = r.reshape(4, nrows, nb).transpose(1, 0, 2).reshape(4 * nrows, nb)
    out[-1] = 1
    return out


def _bind_ext(h: U64, e: U64) -> U64:
    """sum_y e[:, y] h[:, b B + y] per block b (ext x ext): h = sum_v h_v X^v with base rows h_v,
    so it is sum_{u, v} (component u of sum_y e_y h_v) X^u X^v: one ``edot_base_many`` over the
    (v, block) rows, one ``lincomb_base`` of its 16 component rows."""
    B = e.shape[1]
    nb = h.shape[1] // B
    r = edot_base_many(e, np.ascontiguousarray(h).reshape(4 * nb, B))  # (4 [u], 4 [v] x nb)
    return lincomb_base(r.reshape(16, nb), _BASIS2)


# ---------------------------------------------------------------------------- the grid


class _Grid:
    """Index tables of {0, 1, [2,] inf}^j (npts = 3 or 4 points a coordinate; point
    v = sum_l d_l npts^l, d = npts - 1 for inf: as a C-order array, axis 0 is coordinate j - 1)."""

    def __init__(self, j: int, npts: int) -> None:
        if npts not in (3, 4):
            raise ValueError(f"grid of {npts} points a coordinate")
        self.j, self.npts = j, npts
        self.size = npts**j

        def digits(bits: int, shift: int) -> int:
            return sum(npts ** (m + shift) for m in range(bits.bit_length()) if bits >> m & 1)

        self.gbin = np.array([digits(y, 0) for y in range(1 << j)], dtype=np.int64)  # boolean points
        # the finite points (no coordinate inf), ascending: the C order of the box [0, npts - 1)^j
        fin = [v for v in range(self.size) if all((v // npts**l) % npts != npts - 1 for l in range(j))]
        self.finite = np.array(fin, dtype=np.int64)
        # (rows, blocks, coordinates...) -> (rows, coordinates..., blocks)
        self.lanes_last = (0, *range(2, j + 2), 1)

    def accumulator(self) -> U64:
        return np.zeros((4, self.size), dtype=np.uint64)

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
    """One helper stage compiled for the passes: the span's columns, the slots' den forms, the
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
        self._zgrid = _Grid(self.j, 4 if self._plan.z_degree == 3 else 3)
        self._fgrid = _Grid(self.j, 4 if self._plan.f_degree == 3 else 3)
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

    # -- pass 1: the fraction sum and the F grid ---------------------------------------------------
    def fraction_sum(self) -> U64:
        """S = sum_x sum_i (N_i h_i)(x) (one pass; also the F grid the window rounds read)."""
        if self.S is not None:
            return self.S
        plan, grid = self._plan, self._fgrid
        acc = grid.accumulator()
        scratch: dict[str, np.ndarray] = {}
        fterms: list[tuple[int, ...]] | None = None  # the same every span: built once
        for start, mat in self._spans():
            n = mat.shape[1]
            dens = self._dens(start, mat)
            hs = self._helper_rows(start, n, dens)
            facs: list[U64] = []
            terms: list[list[int]] = []
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
                terms.append(t)
            if fterms is None:
                fterms = [tuple(f for f in t if f >= 0) for t in terms]
            fac = np.ascontiguousarray(np.stack(facs))
            del facs, dens, hs
            _grid_add(grid, fac, fterms, acc, scratch)
        self._F = acc
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
        scratch: dict[str, np.ndarray] = {}
        weights = self._block_weights(self._tau[j:])
        zterms: list[tuple[int, ...]] | None = None  # the same every span: built once
        for start, mat in self._spans():
            n = mat.shape[1]
            dens = self._dens(start, mat)
            hs = self._helper_rows(start, n, dens)
            w, off = weights(start >> j)
            wb = np.ascontiguousarray(w[:, off : off + (n >> j)])  # eq(tau_{>=j}, block), the span's blocks
            facs: list[U64] = []
            terms: list[list[int]] = []
            slot_fac: dict[int, int] = {}
            for i, (pair, h) in enumerate(zip(plan.pairs, hs)):
                # h_i's rows times rho^i eq(tau_{>=j}, block): one ext product a row, not a grid point
                facs.append(emul(h, np.repeat(emul(wb, self._rho_pows[i]), 1 << j, axis=1)))
                t = [len(facs) - 1]
                for s in pair:
                    if s not in slot_fac:
                        slot_fac[s] = len(facs)
                        facs.append(dens[s])
                    t.append(slot_fac[s])
                terms.append(t)
            if zterms is None:
                zterms = [tuple(t) for t in terms]
            fac = np.ascontiguousarray(np.stack(facs))
            del facs, dens, hs
            _grid_add(grid, fac, zterms, acc, scratch)
        del scratch
        return acc

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
        # a D or L table = const_t + sum of its terms k * bound_c (ext k); with bound_c =
        # sum_u bound_c[u] X^u that is a combination of the bound base rows (c, u) with ext
        # coefficients k X^u, plus const_t times the row of ones (``_bind_base``'s last)
        ones = 4 * len(plan.mat_names)
        hidx = {p.h for p in plan.layout}
        combos: dict[int, tuple[np.ndarray, U64]] = {}
        for t in range(plan.num_tables):
            if t in hidx:
                continue
            sel = [int(i) for i in np.nonzero(tt == t)[0]]
            rows = [4 * int(tc[i]) + u for i in sel for u in range(4)] + [ones]
            coef = [_ext_times_basis(tk[:, i].copy()) for i in sel] + [const[:, t].reshape(4, 1)]
            combos[t] = (np.array(rows, dtype=np.int64), np.ascontiguousarray(np.concatenate(coef, axis=1)))
        for start, mat in self._spans():
            nb = mat.shape[1] >> j
            block0 = start >> j
            dens = self._dens(start, mat) if self._helpers is None else []
            hs = self._helper_rows(start, mat.shape[1], dens)
            del dens
            bound = _bind_base(mat, e)
            for t, (idx, cf) in combos.items():
                tables[t][:, block0 : block0 + nb] = lincomb_base(bound[idx], cf)
            for p, h in zip(plan.layout, hs):
                tables[p.h][:, block0 : block0 + nb] = _bind_ext(h, e)
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
        e = np.ascontiguousarray(eq_table(list(point[:j])))
        weights = self._block_weights(list(point[j:]))
        acc = np.zeros((4, ncol), dtype=np.uint64)
        etile = np.tile(e, (1, self._blocks_per_span()))  # e_y for every row of a span
        for start, mat in self._spans():
            nb = mat.shape[1] >> j
            w, off = weights(start >> j)
            # row b B + y of the span weighs eq(point_>=j, block) eq(point_<j, y) = w_b e_y
            we = emul(np.repeat(w[:, off : off + nb], 1 << j, axis=1), etile[:, : nb << j])
            acc = eadd(acc, edot_base_many(we, mat[:ncol]))
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
