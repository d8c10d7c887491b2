"""Dense prover for the helper sumcheck of stages 3-6 (protocol v3, committed logUp helpers).

A stage's slots are paired (``relations.fingerprints.HELPER_PAIRS``); pair i has the committed
helper h_i = 1 / (D_a D_b) (1 / D_a for a slot alone), denominators D_s = alpha - fp_s and
numerators n_s = c_s L_s (L_s a base linear form of columns, or 1). With the trace-side sum
S = sum_x sum_i N_i(x) h_i(x), N_i = n_a D_b + n_b D_a (n_a alone), the stage proves
    sum_x eq(tau, x) sum_i rho^i (h_i D_a D_b - 1)(x) + rho^P sum_x sum_i (N_i h_i)(x) = rho^P S
over x in {0,1}^log T (P pairs). Every factor is the MLE of a column, so the summand has degree
4 per variable (eq h D_a D_b); the round message is s(0..4) (the plain sumcheck protocol, degree 4).

How a round is computed (split eq, Gruen eprint 2024/108, without changing the message): in
round i, s(X) = prefix_i eq(tau_i, X) q(X) + rho^P f(X) with
    q(X) = sum_x' eq(tau_{>i}, x') sum_i rho^i (h_i D_a D_b - 1)(r, X, x'),  f(X) = sum_x' (N h)(r, X, x'),
both cubic in X. Each is taken at X = 0, 1, 2 and its X^3 coefficient (the product of the
factors' slopes odd - even), then extended to 3 and 4 with scalar arithmetic. So per entry and
pair a round costs a handful of ext products at three points plus one on the slopes, chunked
(``_CHUNK`` entries) so the temporaries stay in cache. eq(tau_{>i}, .) is one half-size table,
halved in place each round (the sum of its even and odd entries is the next one).

Binding is in place: the fold T[j] <- T[2j] + r (T[2j+1] - T[2j]) writes entry j only after
reading 2j and 2j + 1, chunk by chunk from the left, so a table never needs a second buffer. The
helper tables are borrowed (stage 7 still reduces them): their first bind writes a fresh
half-size table, later binds work in place on that one.

Public names: ``HelperTables`` (the stage's tables: ``build``, ``fraction_sum``),
``HelperSumcheck`` (the ``RoundProver``), ``compute_helpers`` (all nine helpers over T rows,
one batch inversion per chunk; what stage 2 commits).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from prover.field import (
    U64,
    eadd,
    edot,
    efold,
    emul,
    emul_base,
    esub,
    esum,
    ext_from_base,
    ext_scalar,
)
from prover.mle import Point, eq_table
from prover.relations import fingerprints as fp

_CHUNK = 1 << 13  # entries per evaluation / bind chunk: ~20 ext temporaries stay in L2
_HELPER_CHUNK = 1 << 14  # rows per batch inversion when computing the helpers


# ----------------------------------------------------------------------------- helpers (stage 2)


def compute_helpers(cols: Mapping[str, U64], T: int, alpha: U64, g: U64) -> U64:
    """All nine helpers over T rows as the (36, T) base polys of the helper batch.

    Poly 4 i + c is component c of helper ``fingerprints.HELPER_NAMES[i]``; one batch inversion
    (``fingerprints.batch_einv``) per chunk of ``_HELPER_CHUNK`` rows.
    """
    out = np.empty((4 * len(fp.HELPER_NAMES), T), dtype=np.uint64)
    forms = fp.helper_den_forms(alpha, g)
    for lo in range(0, T, _HELPER_CHUNK):
        hi = min(T, lo + _HELPER_CHUNK)
        chunk = {n: cols[n][lo:hi] for n in fp.HELPER_COLUMNS}
        fp.helpers_chunk(chunk, lo, alpha, g, out=out[:, lo:hi], forms=forms)
    return out


# ----------------------------------------------------------------------------- tables


@dataclasses.dataclass
class _Pair:
    """Table indices of one helper pair: h, the slots' D's, and the numerator structure.

    ``coef[j]`` gives n of slot j of the pair as coef * L, with L shared by the pair's slots
    (``num``: a table index, or None for L = 1), so N = L (c_b D_a + c_a D_b) (L c_a alone).
    """

    h: int
    dens: tuple[int, ...]
    coef: tuple[int, ...]
    num: int | None


@dataclasses.dataclass
class HelperTables:
    """The ext tables of one helper stage (D per slot, h per pair, L per distinct numerator form)."""

    tables: list[U64]
    owned: list[bool]  # False: borrowed (the caller's helper); bound out of place once
    pairs: list[_Pair]

    @classmethod
    def build(
        cls, stage: int, cols: Mapping[str, U64], T: int, alpha: U64, g: U64, helpers: Sequence[U64]
    ) -> HelperTables:
        """Tables of ``stage`` from its columns (``slot_columns(STAGE_SLOTS[stage])``) and its
        helpers (ext (4, T) each, in ``stage_helpers(stage)`` order; borrowed, never modified)."""
        slots, pairs = fp.STAGE_SLOTS[stage], fp.HELPER_PAIRS[stage]
        if len(helpers) != len(pairs):
            raise ValueError(f"stage {stage} needs {len(pairs)} helpers, got {len(helpers)}")
        cycle = np.arange(T, dtype=np.uint64)
        tables: list[U64] = []
        owned: list[bool] = []
        form_index: dict[object, int] = {}
        out_pairs: list[_Pair] = []
        for h, pair in zip(helpers, pairs):
            if h.shape != (4, T):
                raise ValueError(f"helper of shape {h.shape}, expected (4, {T})")
            hi = len(tables)
            tables.append(h)
            owned.append(False)
            dens: list[int] = []
            coef: list[int] = []
            num: list[int | None] = []
            for s in pair:
                dens.append(len(tables))
                tables.append(fp.slot_den(fp.den_form(slots[s], alpha, g), cols, cycle))
                owned.append(True)
                c, form = fp.num_form(slots[s])
                coef.append(c)
                if form is None:
                    num.append(None)
                else:
                    if form not in form_index:
                        form_index[form] = len(tables)
                        tables.append(ext_from_base(fp.num_table(form, cols, cycle)))
                        owned.append(True)
                    num.append(form_index[form])
            if len(set(num)) != 1:
                raise ValueError(f"stage {stage}: the slots {pair} of a helper must share their numerator form")
            out_pairs.append(_Pair(hi, tuple(dens), tuple(coef), num[0]))
        return cls(tables, owned, out_pairs)

    @property
    def num_pairs(self) -> int:
        return len(self.pairs)

    def fraction_sum(self) -> U64:
        """S = sum_x sum_i N_i(x) h_i(x) on the hypercube (the trace side's fraction sum)."""
        n = self.tables[0].shape[1]
        acc = ext_scalar(0)
        for lo in range(0, n, _CHUNK):
            hi = min(n, lo + _CHUNK)
            vals = [np.ascontiguousarray(t[:, lo:hi]) for t in self.tables]
            for p in self.pairs:
                acc = eadd(acc, _frac_term(p, vals, vals[p.h]))
        return acc


def _comb(coefs: Sequence[int], arrays: Sequence[U64]) -> U64:
    """sum_j coefs[j] arrays[j] for small int coefficients (adds and subtracts for +-1)."""
    acc: U64 | None = None
    for c, a in zip(coefs, arrays):
        if c == 0:
            continue
        if acc is None:
            acc = a if c == 1 else emul_base(a, c)
        elif c == 1:
            acc = eadd(acc, a)
        elif c == -1:
            acc = esub(acc, a)
        else:
            acc = eadd(acc, emul_base(a, c))
    return np.zeros_like(arrays[0]) if acc is None else acc


def _numer(p: _Pair, vals: Sequence[U64]) -> tuple[U64 | None, int]:
    """N = L (c_b D_a + c_a D_b) (c_a L alone) from the tables' values at one X: (array, 1), or
    (None, c) when N is the constant c. On the slopes it gives N's X^2 coefficient (when L is a
    table; otherwise N is linear and the caller skips it)."""
    L = None if p.num is None else vals[p.num]
    if len(p.dens) == 1:
        c = p.coef[0]
        if L is None:
            return None, c
        return (L if c == 1 else emul_base(L, c)), 1
    ca, cb = p.coef
    inner = _comb((cb, ca), (vals[p.dens[0]], vals[p.dens[1]]))
    return (inner if L is None else emul(inner, L)), 1


def _frac_term(p: _Pair, vals: Sequence[U64], h: U64) -> U64:
    """sum over the chunk of N h."""
    num, c = _numer(p, vals)
    if num is None:
        return emul_base(esum(h), c)
    return edot(num, h)


# ----------------------------------------------------------------------------- sumcheck


def _points(t: U64, lo: int, hi: int) -> list[U64]:
    """Entries lo .. hi-1 of t's restriction to the current variable: [t(0), t(1), t(2), slope]."""
    t0 = np.ascontiguousarray(t[:, 2 * lo : 2 * hi : 2])
    t1 = np.ascontiguousarray(t[:, 2 * lo + 1 : 2 * hi : 2])
    d = esub(t1, t0)
    return [t0, t1, eadd(t1, d), d]


def _acc(acc: U64, c: int, v: U64) -> U64:
    """acc + c v for an ext scalar v and a small int c."""
    if c == 1:
        return eadd(acc, v)
    if c == -1:
        return esub(acc, v)
    return eadd(acc, emul_base(v, c))


def _eq1(t: U64, x: U64) -> U64:
    one = ext_scalar(1)
    return eadd(emul(t, x), emul(esub(one, t), esub(one, x)))


def _cubic_at(v0: U64, v1: U64, v2: U64, lead: U64) -> list[U64]:
    """The cubic with values v0, v1, v2 at 0, 1, 2 and X^3 coefficient lead, at X = 0..4.

    Quadratic extrapolation from 0, 1, 2: f(3) = f0 - 3 f1 + 3 f2, f(4) = 3 f0 - 8 f1 + 6 f2;
    lead X (X-1) (X-2) adds 6 lead at 3 and 24 lead at 4.
    """
    v3 = eadd(esub(v0, emul_base(v1, 3)), eadd(emul_base(v2, 3), emul_base(lead, 6)))
    v4 = eadd(esub(emul_base(v0, 3), emul_base(v1, 8)), eadd(emul_base(v2, 6), emul_base(lead, 24)))
    return [v0, v1, v2, v3, v4]


class HelperSumcheck:
    """RoundProver (degree 4, log T rounds) for the helper sumcheck of one stage.

    ``final_helpers()`` gives h_i(r) after the last round (the values the stage sends).
    """

    def __init__(self, tables: HelperTables, tau: Point, rho: U64, claim: U64) -> None:
        self._t = list(tables.tables)
        self._owned = list(tables.owned)
        self._pairs = tables.pairs
        self._k = len(tau)
        n = self._t[0].shape[1]
        if n != 1 << self._k:
            raise ValueError(f"tables of {n} entries for a {self._k}-variable eq")
        self._tau = list(tau)
        self._rho_pows = [ext_scalar(1)]
        for _ in range(len(self._pairs)):
            self._rho_pows.append(emul(self._rho_pows[-1], rho))
        self._rho_sum = ext_scalar(0)
        for rp in self._rho_pows[:-1]:
            self._rho_sum = eadd(self._rho_sum, rp)
        # eq(tau_{>0}, .), halved in place each round
        self._eq = eq_table(self._tau[1:]) if self._k else ext_scalar(1).reshape(4, 1)
        self._prefix = ext_scalar(1)
        self._claim = claim
        self._round = 0

    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return 4

    def round_evals(self) -> list[U64]:
        half = self._t[0].shape[1] // 2
        npairs = len(self._pairs)
        z = [[ext_scalar(0) for _ in range(4)] for _ in range(npairs)]  # X = 0, 1, 2, inf
        f = [[ext_scalar(0) for _ in range(4)] for _ in range(npairs)]
        for lo in range(0, half, _CHUNK):
            hi = min(half, lo + _CHUNK)
            e = np.ascontiguousarray(self._eq[:, lo:hi])
            for i, p in enumerate(self._pairs):  # one pair's tables at a time: they stay in cache
                idx = (p.h, *p.dens) + (() if p.num is None else (p.num,))
                pts = {j: _points(self._t[j], lo, hi) for j in idx}  # [t(0), t(1), t(2), slope]
                for x in range(4):
                    if x == 3 and len(p.dens) == 1:
                        break  # h D alone is quadratic, and so is N h: no X^3 coefficient
                    h = pts[p.h][x]
                    da = pts[p.dens[0]][x]
                    L = None if p.num is None else pts[p.num][x]
                    hda = emul(h, da)
                    if len(p.dens) == 1:
                        z[i][x] = eadd(z[i][x], edot(e, hda))
                        fx = esum(h) if L is None else edot(L, h)
                        f[i][x] = _acc(f[i][x], p.coef[0], fx)
                        continue
                    db = pts[p.dens[1]][x]
                    z[i][x] = eadd(z[i][x], edot(e, emul(hda, db)))
                    ca, cb = p.coef  # N h = L h (c_b D_a + c_a D_b)
                    if L is None:
                        if x < 3:  # with L = 1, N h is quadratic: no X^3 coefficient
                            f[i][x] = _acc(_acc(f[i][x], cb, esum(hda)), ca, edot(h, db))
                    else:
                        lh = emul(L, h)
                        f[i][x] = _acc(_acc(f[i][x], cb, edot(lh, da)), ca, edot(lh, db))
                del pts
        q = [ext_scalar(0) for _ in range(4)]
        fr = [ext_scalar(0) for _ in range(4)]
        for i in range(npairs):
            for x in range(4):
                q[x] = eadd(q[x], emul(self._rho_pows[i], z[i][x]))
                fr[x] = eadd(fr[x], f[i][x])
        for x in range(3):  # the "- 1" of every pair, weighted by eq(tau_{>i}, .) summing to 1
            q[x] = esub(q[x], self._rho_sum)
        qs = _cubic_at(*q)
        fs = _cubic_at(*fr)
        tau_i = self._tau[self._round]
        rp = self._rho_pows[-1]
        return [
            eadd(emul(emul(self._prefix, _eq1(tau_i, ext_scalar(x))), qs[x]), emul(rp, fs[x]))
            for x in range(5)
        ]

    def bind(self, r: U64) -> None:
        self._t = [self._fold(j, r) for j in range(len(self._t))]
        self._prefix = emul(self._prefix, _eq1(self._tau[self._round], r))
        self._round += 1
        n = self._eq.shape[1]
        if n > 1:  # eq(tau_{>i+1}, .) = even + odd entries of eq(tau_{>i}, .), in place
            half = n // 2
            for lo in range(0, half, _CHUNK):
                hi = min(half, lo + _CHUNK)
                self._eq[:, lo:hi] = eadd(self._eq[:, 2 * lo : 2 * hi : 2], self._eq[:, 2 * lo + 1 : 2 * hi : 2])
            self._eq = self._eq[:, :half]

    def _fold(self, j: int, r: U64) -> U64:
        t = self._t[j]
        half = t.shape[1] // 2
        out = t if self._owned[j] else np.empty((4, half), dtype=np.uint64)
        for lo in range(0, half, _CHUNK):
            hi = min(half, lo + _CHUNK)
            even = t[:, 2 * lo : 2 * hi : 2]
            odd = t[:, 2 * lo + 1 : 2 * hi : 2]
            out[:, lo:hi] = efold(np.ascontiguousarray(even), esub(odd, even), r)
        self._owned[j] = True
        return out[:, :half]

    def final_helpers(self) -> list[U64]:
        """h_i(r) for every pair, once all rounds are bound."""
        if self._t[0].shape[1] != 1:
            raise ValueError("not all rounds are bound")
        return [self._t[p.h][:, 0].copy() for p in self._pairs]
