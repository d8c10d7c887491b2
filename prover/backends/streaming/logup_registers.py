"""Stage 4's streaming helper sumcheck: stage 3's, with the streamed rounds split into small windows.

What: the same sumcheck as ``backends.streaming.logup.StreamingHelperSumcheck`` (the trace side of
a logUp stage with committed helpers; its module docstring states the identity, the grids and the
hand-off), the same bytes, computed with a cheaper schedule for the wide stages. Stage 4 has four
pairs (eight register and range slots: twelve factors in each grid), so at 2^20 the one window of
j = 4 streamed rounds that stage 3 uses extends 12 ext factors to 2^j = 16 grid points a row, twice
(the F grid in the fraction pass, the Z grid in the window pass): measured, the grid work was 70 %
of the streamed stage and the stage 4.2x the materialized one (sha2-chain 2^20, load 7).

The schedule (the windowed small-space sumcheck, eprint 2025/1473: several small windows, each
starting from the factors bound at the rounds before it). The J = ``sum(windows)`` streamed rounds
are split into windows j_0, j_1, ... (rounds [o_w, o_w + j_w), o_w the sum of the earlier ones):
1. **Fraction pass**: S = sum_x sum_i (N_i h_i)(x) alone (a row's products, no grid).
2. **One pass a window w** (after rho, tau and r_<o_w): per span, every factor bound at r_<o_w
   per group of 2^o_w rows (the base columns by one ``field.edot_base_many`` against
   eq(r_<o_w, .), the D and L forms from them by one ``lincomb_base`` a table, the helpers as
   ext x ext: exactly what the hand-off computes at J), then the F and Z grids of that window,
   {0, 1, 2, inf}^j_w over blocks of 2^j_w bound rows (``logup._grid_add``), Z's helpers
   weighted by rho^i eq(tau_{>= o_w + j_w}, block). The product of the bound factors is the
   summand bound at r_<o_w, because each factor is multilinear and the summand is their
   product. Rounds o_w .. o_w + j_w - 1 read the two grids as the single window's rounds do.
3. **Hand-off** at J and **values** (``StreamingHelperSumcheck``'s own passes, unchanged).
Passes: 3 + len(windows). Grid work a row: sum_w 2^j_w / 2^o_w per grid against 2^J, e.g. at J = 4
windows (2, 2) cost 4 + 1 against 16 (and the F grid is built once the window starts, not in the
fraction pass), for one more pass (a replay and the column build: ~0.25 s at 2^18).

Window policy (``windows_for``): J = ceil(log T / 2) - 5, within [1, log T - 1], one more streamed
round than stage 3's ``window_for`` (the hand-off tables are 13 ext tables of T / 2^J entries for
stage 4: 13.6 MB at 2^20 instead of 27 MB, for 1/16 of the materialized stage's 534 MB);
windows (2, J - 2) from J = 3 (J <= 2: one window of J).

Public names: ``WindowedHelperSumcheck``, ``windows_for``.
Sits in ``backends.streaming``: imports ``backends.streaming.logup`` (the pieces it reuses:
``StreamingHelperSumcheck``, the grid and its arithmetic), ``field``, ``mle``,
``relations.fingerprints``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prover.backends.streaming.logup import (
    StreamingHelperSumcheck,
    _at_0_to_4,
    _bind_base,
    _bind_ext,
    _comb,
    _eq1,
    _ext_times_basis,
    _Grid,
    _grid_add,
)
from prover.field import (
    U64,
    P,
    eadd,
    edot,
    emul,
    emul_base,
    esub,
    ext_scalar,
    lincomb_base,
)
from prover.mle import Point, eq_table

__all__ = ["WindowedHelperSumcheck", "windows_for"]


def windows_for(log_t: int) -> tuple[int, ...]:
    """The streamed windows for T = 2^log_t: J = ceil(log T / 2) - 5 in [1, log T - 1], split
    (2, J - 2) from J = 3."""
    J = max(1, min(log_t - 1, (log_t + 1) // 2 - 5))
    return (J,) if J <= 2 else (2, J - 2)


def _esum(x: U64) -> U64:
    """sum of an ext vector (4, n), n < 2^33."""
    return ext_scalar(*(int(v) % P for v in x.sum(axis=1, dtype=np.uint64)))


class WindowedHelperSumcheck(StreamingHelperSumcheck):
    """``StreamingHelperSumcheck`` (same use, same round polynomials) whose streamed rounds run
    in the windows ``windows`` (default ``windows_for``), each its own pass (module docstring)."""

    def __init__(
        self,
        witness: Any,
        stage: int,
        alpha: U64,
        g: U64,
        helpers: Sequence[U64] | None = None,
        windows: Sequence[int] | None = None,
        span_rows: int | None = None,
    ) -> None:
        T = int(witness.T)
        k = T.bit_length() - 1
        wins = tuple(windows_for(k) if windows is None else (int(w) for w in windows))
        if not wins or min(wins) < 1:
            raise ValueError(f"windows {wins}: each streams at least one round")
        super().__init__(witness, stage, alpha, g, helpers, window=sum(wins), span_rows=span_rows)
        self.windows = wins
        self._offsets = [sum(wins[:w]) for w in range(len(wins))]
        zn = 4 if self._plan.z_degree == 3 else 3
        fn = 4 if self._plan.f_degree == 3 else 3
        self._zgrids = [_Grid(j, zn) for j in wins]
        self._fgrids = [_Grid(j, fn) for j in wins]
        self._grids: dict[int, tuple[U64, U64]] = {}  # window -> (Z grid sums, F grid sums)
        plan = self._plan
        # which dense table holds each slot's D (pairs partition the slots)
        self._slot_table = {s: t for p, pair in zip(plan.layout, plan.pairs) for t, s in zip(p.dens, pair)}
        self._combos: dict[int, tuple[np.ndarray, U64]] | None = None

    # -- the factors ------------------------------------------------------------------------------
    def _raw_rows(self, start: int, mat: U64) -> tuple[list[U64], list[U64], dict[int, U64]]:
        """D per slot, the helpers and the L tables over a span's rows."""
        plan = self._plan
        dens = self._dens(start, mat)
        hs = self._helper_rows(start, mat.shape[1], dens)
        Ls = {t: self._num_rows(start, mat, form) for t, form in plan.num_forms.items()}
        return dens, hs, Ls

    def _bound_rows(self, start: int, mat: U64, e: U64) -> tuple[list[U64], list[U64], dict[int, U64]]:
        """The same, bound at the rounds before a window: per group of e.shape[1] rows, sum_y
        e_y f(y, group) (``_handoff``'s binding, at that granularity)."""
        plan = self._plan
        if self._combos is None:
            self._combos = self._table_combos()
        raw = self._dens(start, mat) if self._helpers is None else []
        hs = [_bind_ext(h, e) for h in self._helper_rows(start, mat.shape[1], raw)]
        del raw
        bound = _bind_base(mat, e)
        tabs = {t: lincomb_base(bound[idx], cf) for t, (idx, cf) in self._combos.items()}
        dens = [tabs[self._slot_table[s]] for s in range(len(plan.slots))]
        Ls = {t: tabs[t] for t in plan.num_forms}
        return dens, hs, Ls

    def _table_combos(self) -> dict[int, tuple[np.ndarray, U64]]:
        """D and L tables as combinations of the bound base rows (as ``_handoff`` builds them)."""
        plan = self._plan
        tt, tc, tk, const = plan.bound_terms()
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
        return combos

    def _f_factors(self, dens: list[U64], hs: list[U64], Ls: dict[int, U64]) -> tuple[list[U64], list[tuple[int, ...]]]:
        """The fraction terms h_i N_i as factor lists: N = L (c_b D_a + c_a D_b), or c_a L, or c_a."""
        plan = self._plan
        facs: list[U64] = []
        terms: list[tuple[int, ...]] = []
        for p, pair, h in zip(plan.layout, plan.pairs, hs):
            L = None if p.num is None else Ls[p.num]
            if len(pair) == 2:
                ca, cb = p.coef
                facs += [h, _comb((cb, ca), (dens[pair[0]], dens[pair[1]]))]
                if L is not None:
                    facs.append(L)
                terms.append(tuple(range(len(facs) - (3 if L is not None else 2), len(facs))))
            else:
                c = p.coef[0]
                if L is None:
                    facs.append(h if c == 1 else emul_base(h, c % P))
                    terms.append((len(facs) - 1,))
                else:
                    facs += [h, L if c == 1 else emul_base(L, c % P)]
                    terms.append((len(facs) - 2, len(facs) - 1))
        return facs, terms

    def _z_factors(self, dens: list[U64], hs: list[U64], wrow: U64) -> tuple[list[U64], list[tuple[int, ...]]]:
        """The terms rho^i eq(tau_out, .) h_i D_a D_b: the weight folded into h's rows."""
        plan = self._plan
        facs: list[U64] = []
        terms: list[tuple[int, ...]] = []
        slot_fac: dict[int, int] = {}
        for i, (pair, h) in enumerate(zip(plan.pairs, hs)):
            facs.append(emul(h, emul(wrow, self._rho_pows[i])))
            t = [len(facs) - 1]
            for s in pair:
                if s not in slot_fac:
                    slot_fac[s] = len(facs)
                    facs.append(dens[s])
                t.append(slot_fac[s])
            terms.append(tuple(t))
        return facs, terms

    def _weights(self, point: Sequence[U64], gbits: int) -> Any:
        """first group (of 2^gbits rows) of a span -> (table, offset): eq(point, group) for the
        span's groups (``_block_weights`` at another granularity)."""
        ngs = (self._span_chunks * self._w.chunk_size) >> gbits
        lb = ngs.bit_length() - 1
        hi = eq_table(list(point[lb:]))

        def get(group: int) -> tuple[U64, int]:
            s = group >> lb
            return np.ascontiguousarray(eq_table(list(point[:lb]), scale=hi[:, s].copy())), group & (ngs - 1)

        return get

    # -- pass 1: S alone ----------------------------------------------------------------------------
    def fraction_sum(self) -> U64:
        """S = sum_x sum_i (N_i h_i)(x), one pass, no grid (the windows build their F grids)."""
        if self.S is not None:
            return self.S
        S = ext_scalar(0)
        for start, mat in self._spans():
            facs, terms = self._f_factors(*self._raw_rows(start, mat))
            for t in terms:
                if len(t) == 1:
                    S = eadd(S, _esum(facs[t[0]]))
                    continue
                prod = facs[t[0]]
                for f in t[1:-1]:
                    prod = emul(prod, facs[f])
                S = eadd(S, edot(prod, facs[t[-1]]))
            del facs
        self.S = S
        return S

    # -- one pass a window ------------------------------------------------------------------------
    def _window_grids(self, w: int) -> tuple[U64, U64]:
        o, jw = self._offsets[w], self.windows[w]
        zgrid, fgrid = self._zgrids[w], self._fgrids[w]
        Z, F = zgrid.accumulator(), fgrid.accumulator()
        scratch: dict[str, np.ndarray] = {}  # one set of grid buffers for both grids
        weights = self._weights(self._tau[o + jw :], o + jw)
        e = np.ascontiguousarray(eq_table(self._r[:o])) if o else None
        for start, mat in self._spans():
            dens, hs, Ls = self._raw_rows(start, mat) if e is None else self._bound_rows(start, mat, e)
            ngroups = mat.shape[1] >> (o + jw)
            wt, off = weights(start >> (o + jw))
            wrow = np.repeat(np.ascontiguousarray(wt[:, off : off + ngroups]), 1 << jw, axis=1)
            ffacs, fterms = self._f_factors(dens, hs, Ls)
            _grid_add(fgrid, np.ascontiguousarray(np.stack(ffacs)), fterms, F, scratch)
            del ffacs, Ls
            zfacs, zterms = self._z_factors(dens, hs, wrow)
            del dens, hs, wrow
            _grid_add(zgrid, np.ascontiguousarray(np.stack(zfacs)), zterms, Z, scratch)
            del zfacs
        return Z, F

    def _window_of(self, i: int) -> int:
        w = 0
        while w + 1 < len(self.windows) and self._offsets[w + 1] <= i:
            w += 1
        return w

    def _windowed_round(self, i: int) -> list[U64]:
        w = self._window_of(i)
        if w not in self._grids:
            self._grids = {w: self._window_grids(w)}  # the earlier window's grids go
        Z, F = self._grids[w]
        o, jw = self._offsets[w], self.windows[w]
        li = i - o
        eqs = eq_table(self._tau[i + 1 : o + jw])
        q = _at_0_to_4(self._zgrids[w].round_values(Z, li, self._r[o:], eqs))
        f = _at_0_to_4(self._fgrids[w].round_values(F, li, self._r[o:], None))
        tau_i = self._tau[i]
        rp = self._rho_pows[-1]
        return [
            eadd(emul(emul(self._prefix, _eq1(tau_i, ext_scalar(x))), esub(q[x], self._rho_sum)), emul(rp, f[x]))
            for x in range(5)
        ]

    # -- RoundProver --------------------------------------------------------------------------------
    def round_evals(self) -> list[U64]:
        i = self._round
        if 0 <= i < self.j:
            self._last = self._windowed_round(i)
            return self._last
        return super().round_evals()

    def bind(self, r: U64) -> None:
        if self._round == self.j - 1:
            self._grids = {}
        super().bind(r)

    def start(self, tau: Point, rho: U64) -> U64:
        self._grids = {}
        return super().start(tau, rho)
