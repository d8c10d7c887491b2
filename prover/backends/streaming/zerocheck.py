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
   3^j - 2^j subtractions, in int64, reduced once at the end), and the product is taken at
   every grid point in the base field; the products of a batch of blocks are added, weighted by
   eq(tau_{>=j}, x_out), into one ext accumulator per product and grid point
   (``field.lincomb_base``: base x ext, never ext x ext). Linear
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
uint32) and its forms (uint64); a batch of blocks' grids (2 x blocks x 3^j x 39 int64, about
2^18 entries each) and the accumulators (4 x 39 x 3^j uint64: 0.9 MiB at j = 6); then the 37
hand-off tables (37 x 32 B x T / 2^j: 18.5 MiB at 2^20), halved at each dense round.

No compiled kernel of its own (see "the pieces' arithmetic" below): a first version had seven
numba kernels, whose resident code (6.68 MB, measured) raised the whole run's peak by 3.5 MB
at every size, past the memory gate's 256 KiB; numpy grid work plus ``prover.field``'s
compiled twins, which the materialized prover loads anyway, add 56 KB to the whole run (sha2-14,
the memory gate's probe). The price is time: the window pass costs about 4x the kernels' CPU.
Measured (``benchmarks/stage1_streaming.py``, one fresh process per figure, 2026-12-07, 2 shared
cores at load 1-2.9): in-stage peak 12.0 / 24.1 MiB at 2^16 / 2^20 against the materialized
stage's 126.7 / 1232.3 MiB; CPU time 1.24-1.49 / 5.72 s against the materialized stage's 0.95 /
5.34 s at 2^18 / 2^20 (the window pass 0.89-1.06 / 4.75 s of it). Other windows (with the
kernels) at 2^20: j = 5 47.8 MiB, j = 7 13.0 MiB; at 2^16 j = 3 14.4 MiB, j = 5 6.3 MiB.

Public names: ``StreamingQuadraticZeroCheck``, ``window_for``, ``PASSES``.
Sits in ``backends.streaming``: imports ``field`` (its compiled twins: ``lincomb_base``,
``edot_base_many``, ``emul``), ``mle``, ``relations.constraints`` (data only),
``backends.dense.quadratic`` (the dense finish) and ``sumcheck.protocol`` (Lagrange interpolation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from math import gcd
from typing import Any

import numpy as np

from prover.backends.dense.quadratic import QuadraticZeroCheck
from prover.field import (
    U64,
    P,
    eadd,
    edot,
    edot_base_many,
    einv,
    emul,
    emul_base,
    esub,
    ext_scalar,
    lincomb_base,
)
from prover.mle import Point, eq_table
from prover.relations.constraints import Affine, Constraint
from prover.sumcheck.protocol import interpolate_eval

__all__ = ["PASSES", "SPAN_ROWS", "StreamingQuadraticZeroCheck", "window_for"]

PASSES = 3  # window, hand-off, values: at every size
# Rows per column build (whole chunks; at least one block). Larger spans cost fewer builder calls
# and numpy calls; the span's columns are 55 x 8 B a row (0.9 MiB at 2^11).
SPAN_ROWS = 1 << 12
WINDOW_OFFSET = 4  # j = ceil(log T / 2) - WINDOW_OFFSET


def window_for(log_t: int) -> int:
    """The streamed rounds j for T = 2^log_t: ceil(log T / 2) - 4, clamped to [1, log T]."""
    return max(1, min(log_t, (log_t + 1) // 2 - WINDOW_OFFSET))


# ---------------------------------------------------------------------------- the pieces' arithmetic
# No compiled kernel of this module's own: numba keeps every cached kernel's LLVM module resident
# for linking (measured: importing seven kernels here kept 6.68 MB, 4.80 MB of it numba's
# parse_bitcode), a fixed cost that the whole-run peak carries past the memory gate's 256 KiB.
# The grid work below is numpy on int64/uint64 blocks; the eq-weighted sums go through
# prover.field's compiled twins (lincomb_base, edot_base_many, emul), which the materialized
# prover loads anyway, so streaming this stage adds no resident code.
_P = np.uint64(P)
_P_I64 = np.int64(P)
# Grid entries per numpy operation in the window pass: large enough that a call's overhead is
# small against its work, small enough that the batch (two int64 grids, their product) stays in
# cache: 2^18 entries are 2 MiB a grid.
_GRID_BATCH = 1 << 18


def _mod_into(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """x <- x mod P in place for a uint64 array (any value); q: scratch of x's shape.
    x // P by a uint64 scalar is libdivide (multiply-high and shift), not a division."""
    np.floor_divide(x, _P, out=q)
    np.multiply(q, _P, out=q)
    return np.subtract(x, q, out=x)


def _forms(mat: np.ndarray, n: int, plan: _Plan, out: np.ndarray) -> None:
    """out[f, :n] <- form f on the first n rows of mat (columns x rows, reduced values), reduced:
    fconst[f] + sum fcoef[i] mat[fcol[i]] in int64 (fconst's offset keeps it non-negative)."""
    acc = np.empty(n, dtype=np.int64)
    tmp = np.empty(n, dtype=np.int64)
    for f in range(plan.fptr.shape[0] - 1):
        lo, hi = int(plan.fptr[f]), int(plan.fptr[f + 1])
        dst = out[f, :n]
        if hi - lo == 1 and plan.fcoef[lo] == 1 and plan.fconst[f] == _P_I64:  # a column itself
            dst[:] = mat[plan.fcol[lo], :n]
            continue
        acc.fill(plan.fconst[f])
        for i in range(lo, hi):
            k = int(plan.fcoef[i])
            src = mat[plan.fcol[i], :n]
            if k == 1:
                np.add(acc, src, out=acc)
            else:
                np.multiply(src, np.int64(k), out=tmp)
                np.add(acc, tmp, out=acc)
        dst[:] = acc.view(np.uint64)
        _mod_into(dst, tmp.view(np.uint64))


def _extend(g: np.ndarray, j: int) -> None:
    """g (blocks, 3^j, products) int64, boolean points filled: every other point of {0, 1, inf}^j
    in place, coordinate by coordinate (level l extends coordinate l over the points whose lower
    coordinates are anything and higher ones boolean; inf holds p(1) - p(0), unreduced:
    |value| < 2^(j-1) P)."""
    nb, npr = g.shape[0], g.shape[2]
    v = g.reshape((nb,) + (3,) * j + (npr,))
    full = (slice(None),)
    for lev in range(j):
        hi = (slice(0, 2),) * (j - 1 - lev)  # grid axes run from the highest coordinate down
        np.subtract(v[full + hi + (1,)], v[full + hi + (0,)], out=v[full + hi + (2,)])


def _add_into(acc: np.ndarray, x: np.ndarray) -> None:
    """acc <- acc + x mod P in place, both reduced (a sum below 2P: subtract P unless it wraps)."""
    np.add(acc, x, out=acc)
    np.minimum(acc, acc - _P, out=acc)


def _reduce_signed(g: np.ndarray, offset: np.int64, q: np.ndarray) -> np.ndarray:
    """g (int64, |g| < offset) mod P, as uint64, in place; q: uint64 scratch of g's shape."""
    np.add(g, offset, out=g)
    return _mod_into(g.view(np.uint64), q)


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
    """The constraints compiled for the window pass (products of forms) and for the dense finish
    (the grouped form Q = sum_g G_g M_g + Lambda), over the streamed column order."""

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
        self.slots = np.concatenate([self.pa, self.pb])  # the window's factor slots
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


def _grid(j: int) -> np.ndarray:
    """gbin[y]: the index in {0, 1, inf}^j (point v = sum_l d_l 3^l, d = 2 for inf) of the
    boolean point y (bit l of y -> d_l)."""
    return np.array([sum(3**m for m in range(j) if y >> m & 1) for y in range(1 << j)], dtype=np.int64)


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
        gbin = _grid(j)
        npr, nl = p.pa.shape[0], p.la.shape[0]
        acc = np.zeros((4, G * npr), dtype=np.uint64)
        accl = np.zeros((nl, 4, B), dtype=np.uint64)
        nbs = self._blocks_per_span()
        fb = np.empty((len(p.forms), nbs * B), dtype=np.uint64)
        nbb = max(1, min(nbs, _GRID_BATCH // max(1, G * npr)))  # blocks per grid batch
        grids = np.empty((2, nbb, G, npr), dtype=np.int64)
        q = np.empty(nbb * G * npr, dtype=np.uint64)
        offset = np.int64(P << j)  # above every extended value's magnitude (< 2^(j-1) P)
        weights = self._block_weights(self._tau[j:])
        for mat, start, nb, block0 in self._pieces():
            n = nb * B
            _forms(mat[:, start : start + n], n, p, fb)
            w, off = weights(block0)
            wp = np.ascontiguousarray(w[:, off : off + nb])
            if nl:  # the linear parts, on the boolean points only: one weighted sum over blocks
                lrows = fb[p.la, :n].reshape(nl, nb, B).transpose(1, 0, 2).reshape(nb, nl * B)
                part = lincomb_base(np.ascontiguousarray(lrows), wp).reshape(4, nl, B).transpose(1, 0, 2)
                _add_into(accl, part)
            for b0 in range(0, nb, nbb):
                k = min(nbb, nb - b0)
                r0, r1 = b0 * B, (b0 + k) * B
                qk = q[: k * G * npr]
                for side, slots in ((0, p.pa), (1, p.pb)):
                    g = grids[side, :k]
                    g[:, gbin, :] = fb[slots, r0:r1].reshape(npr, k, B).transpose(1, 2, 0)
                    _extend(g, j)
                    _reduce_signed(g.reshape(-1), offset, qk)
                left = grids[0, :k].reshape(k, G * npr).view(np.uint64)
                right = grids[1, :k].reshape(k, G * npr).view(np.uint64)
                np.multiply(left, right, out=left)  # both reduced: < P^2 < 2^62
                _mod_into(left, qk.reshape(k, G * npr))
                _add_into(acc, lincomb_base(left, np.ascontiguousarray(wp[:, b0 : b0 + k])))
        del fb, grids, q
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
    def _bind(self, mat: np.ndarray, start: int, nb: int, e: U64, ncols: int) -> np.ndarray:
        """The first ncols columns bound at the point of e, block by block: row 4 c + v is
        component v of column c's values (nb blocks), and a last row of ones (for constants)."""
        B = e.shape[1]
        rows = np.ascontiguousarray(mat[:ncols, start : start + nb * B]).reshape(ncols * nb, B)
        r = edot_base_many(e, rows)  # (4, ncols * nb)
        out = np.empty((4 * ncols + 1, nb), dtype=np.uint64)
        out[:-1] = r.reshape(4, ncols, nb).transpose(1, 0, 2).reshape(4 * ncols, nb)
        out[-1] = 1
        return out

    def _handoff(self) -> QuadraticZeroCheck:
        p, j = self._plan, self.j
        tt, tc, tk, const, ng = p.table_terms(self._split.prefix)
        n = 1 << (self._k - j)
        nt = 2 * ng + 1
        tables = [np.empty((4, n), dtype=np.uint64) for _ in range(nt)]
        e = np.ascontiguousarray(eq_table(self._r))
        # table t = const_t + sum of its terms k * bound_c (ext k); with bound_c = sum_v
        # bound_c[v] X^v that is a combination of the base rows (c, v) with ext coefficients
        # k X^v, plus const_t times the row of ones
        basis = [ext_scalar(*(int(u == v) for u in range(4))) for v in range(4)]
        combos: list[tuple[np.ndarray, U64]] = []
        for t in range(nt):
            sel = [int(i) for i in np.nonzero(tt == t)[0]]
            idx = [4 * int(tc[i]) + v for i in sel for v in range(4)] + [4 * self._ncols]
            coef = [emul(tk[:, i].copy(), basis[v]) for i in sel for v in range(4)] + [const[:, t].copy()]
            combos.append((np.array(idx, dtype=np.int64), np.ascontiguousarray(np.stack(coef, axis=1))))
        for mat, start, nb, block0 in self._pieces():
            bound = self._bind(mat, start, nb, e, self._ncols)
            for tab, (idx, cf) in zip(tables, combos):
                tab[:, block0 : block0 + nb] = lincomb_base(bound[idx], cf)
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
        B = 1 << j
        names = self._names + ([self._shift[0]] if self._shift else [])
        e = np.ascontiguousarray(eq_table(list(point[:j])))
        weights = self._block_weights(list(point[j:]))
        acc = np.zeros((4, len(names)), dtype=np.uint64)
        for mat, start, nb, block0 in self._pieces():
            w, off = weights(block0)
            # row b B + y of the piece weighs eq(point_>=j, block) eq(point_<j, y) = w_b e_y
            we = emul(np.repeat(w[:, off : off + nb], B, axis=1), np.tile(e, (1, nb)))
            rows = np.ascontiguousarray(mat[: len(names), start : start + nb * B])
            acc = eadd(acc, edot_base_many(we, rows))
        return {name: acc[:, i].copy() for i, name in enumerate(names)}
