"""Zero-check prover for a system of quadratic constraints over materialized base columns.

Proves sum_x eq(tau, x) Q(x) = claim with Q = sum_k coeff_k C_k, every C_k a
``relations.constraints.Constraint`` (sum_t L_t R_t + L_0 over named columns). Degree 3 per
variable; round messages s(0..3) (``sumcheck.protocol``), eq split as in Gruen (``SplitEq``):
only q(0) and the X^2 coefficient q(inf) are computed each round.

How it stays cheap: products are grouped by a shared factor, Q = sum_g G_g M_g + Lambda, where G_g
is an integer affine form (a selector such as f_add or sel_z), M_g = sum_t coeff_t R_t folds the
products' other factors with their ext coefficients, and Lambda folds every linear part. Round 0
never builds M_g or Lambda: it needs only eq-weighted sums of base products G_g col_c (taken
for all pairs at once by ``field.edot_base_many``), and its bind writes the half-size ext tables
of G_g, M_g and Lambda directly (``reduction.halves_lincomb``). Later rounds bind those ~35
tables and spend one ext multiplication per group and evaluation point, chunked so temporaries
stay in cache. The column values at the final point are not tracked here: callers evaluate the
committed columns they need at the challenge point (``reduction.evaluate_columns``).

Public names: ``QuadraticZeroCheck``. Sits in ``backends.dense`` (field, mle, relations' data).
"""

from __future__ import annotations

from math import gcd
from typing import Mapping, Sequence

import numpy as np

from prover.backends.dense.sumcheck import SplitEq, bind_low_base
from prover.field import (
    P,
    U64,
    eadd,
    edot,
    edot_base_many,
    emul,
    emul_base,
    esub,
    esum,
    ext_scalar,
    lincomb_base,
    mul_into,
    small_lincomb,
    sub,
)
from prover.backends.dense.reduction import halves_lincomb
from prover.mle import Point
from prover.relations.constraints import Affine, Constraint

_CHUNK = 1 << 13  # x' entries per evaluation chunk: keeps ~40 ext temporaries in cache
_XPOW = tuple(np.eye(4, dtype=np.uint64)[:, u].copy() for u in range(4))  # X^0..X^3


def _normalize(f: Affine) -> tuple[Affine, int]:
    """f = s * f' with f' primitive and its first coefficient positive; returns (f', s)."""
    vals = [c for _, c in f.terms] + ([f.const] if f.const else [])
    g = 0
    for v in vals:
        g = gcd(g, abs(v))
    if g == 0:
        return f, 1
    first = f.terms[0][1] if f.terms else f.const
    s = g if first > 0 else -g
    return Affine(tuple(sorted((n, c // s) for n, c in f.terms)), f.const // s), s


def _affine_table(f: Affine, cols: Mapping[str, U64], n: int) -> U64:
    if not f.terms:
        return np.full(n, f.const % P, dtype=np.uint64)
    return small_lincomb([cols[name] for name, _ in f.terms], [c for _, c in f.terms], f.const)


class QuadraticZeroCheck:
    """RoundProver for sum_x eq(tau, x) sum_k coeffs_k C_k(cols(x)) = claim."""

    def __init__(
        self,
        tau: Point,
        columns: Mapping[str, U64],
        constraints: Sequence[Constraint],
        coeffs: U64,
        claim: U64 | None = None,
    ) -> None:
        self._k = len(tau)
        n = 1 << self._k
        if coeffs.shape != (4, len(constraints)):
            raise ValueError(f"{len(constraints)} constraints but coefficients of shape {coeffs.shape}")
        needed: set[str] = set()
        for c in constraints:
            needed |= c.names()
        missing = needed - set(columns)
        if missing:
            raise ValueError(f"zero-check needs columns {sorted(missing)}")
        for name in needed:
            if columns[name].shape != (n,):
                raise ValueError(f"column {name} has shape {columns[name].shape}, expected ({n},)")

        # Compile: products grouped by their shared factor; linear parts folded into Lambda.
        products: list[tuple[Affine, Affine, U64]] = []
        lam_terms: dict[str, U64] = {}
        lam_const = ext_scalar(0)
        for k, c in enumerate(constraints):
            ck = coeffs[:, k]
            for name, a in c.linear.terms:
                lam_terms[name] = eadd(lam_terms.get(name, ext_scalar(0)), emul_base(ck, a % P))
            lam_const = eadd(lam_const, emul_base(ck, c.linear.const % P))
            for left, right in c.products:
                (ln, ls), (rn, rs) = _normalize(left), _normalize(right)
                products.append((ln, rn, emul_base(ck, (ls * rs) % P)))
        uses: dict[Affine, int] = {}
        for ln, rn, _ in products:
            uses[ln] = uses.get(ln, 0) + 1
            uses[rn] = uses.get(rn, 0) + 1
        groups: dict[Affine, list[tuple[Affine, U64]]] = {}
        for ln, rn, cf in products:
            # the side shared by more products (then the one with fewer terms) is the group key
            if (uses[rn], -len(rn.terms)) > (uses[ln], -len(ln.terms)):
                ln, rn = rn, ln
            groups.setdefault(ln, []).append((rn, cf))

        self._cols = {name: columns[name] for name in sorted(needed)}  # dropped after round 0
        self._gkeys = sorted(groups, key=lambda a: (a.terms, a.const))
        self._g: list[U64] = [_affine_table(key, columns, n) for key in self._gkeys]  # base, then ext
        # M_g = sum_c mu_gc col_c + m0_g and Lambda = sum_c lam_c col_c + lam0 stay symbolic in
        # round 0 (base products, eq-weighted by BLAS) and become half-size ext tables at its bind.
        self._mterms: list[dict[str, U64]] = []
        self._mconst: list[U64] = []
        for key in self._gkeys:
            m_terms: dict[str, U64] = {}
            m_const = ext_scalar(0)
            for rn, cf in groups[key]:
                for name, a in rn.terms:
                    m_terms[name] = eadd(m_terms.get(name, ext_scalar(0)), emul_base(cf, a % P))
                m_const = eadd(m_const, emul_base(cf, rn.const % P))
            self._mterms.append(m_terms)
            self._mconst.append(m_const)
        self._lamterms, self._lamconst = lam_terms, lam_const
        self._m: list[U64] = []
        self._lam = np.zeros((4, 0), dtype=np.uint64)
        self._eq = SplitEq(tau, ext_scalar(0) if claim is None else claim)
        self._round = 0

    @classmethod
    def from_tables(
        cls,
        tau: Point,
        g_tables: Sequence[U64],
        m_tables: Sequence[U64],
        lam: U64,
        claim: U64,
    ) -> QuadraticZeroCheck:
        """An instance that starts from already-bound ext tables (a streaming prover's hand-off).

        Proves sum_x eq(tau, x) (sum_g G_g(x) M_g(x) + Lambda(x)) = claim over len(tau) rounds:
        every table is ext (4, 2^len(tau)), so every round takes the bound-table path (no base
        columns, no round-0 special case). Any split of Q into G_g M_g + Lambda gives the same
        messages. A caller resuming after j streamed rounds passes tau_{>=j}, the tables at
        (r_<j, .) with the split-eq prefix prod_{l<j} eq(tau_l, r_l) folded into M_g and Lambda,
        and the running claim."""
        k = len(tau)
        n = 1 << k
        for t in list(g_tables) + list(m_tables) + [lam]:
            if t.shape != (4, n):
                raise ValueError(f"table of shape {t.shape}, expected (4, {n})")
        if len(g_tables) != len(m_tables):
            raise ValueError(f"{len(g_tables)} G tables but {len(m_tables)} M tables")
        self = cls.__new__(cls)
        self._k = k
        self._cols = {}
        self._gkeys = []
        self._g = list(g_tables)
        self._m = list(m_tables)
        self._mterms, self._mconst = [], []
        self._lamterms, self._lamconst = {}, ext_scalar(0)
        self._lam = lam
        self._eq = SplitEq(tau, claim)
        self._round = 1  # past round 0: its base-column path never runs
        return self

    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return 3

    @property
    def num_groups(self) -> int:
        return len(self._g)

    def _q_base(self) -> tuple[U64, U64]:
        """Round 0 on base columns: q(0) and q(inf) as ext combinations of eq-weighted base rows.

        q(0) = sum_g sum_c mu_gc <e, G_g col_c> + m0_g <e, G_g> + sum_c lam_c <e, col_c> + lam0 <e, 1>
        on even rows; q(inf) = sum_g sum_c mu_gc <e, dG_g dcol_c> with d = odd - even.
        """
        e_full = self._eq.table()
        half = e_full.shape[1]
        coef0: list[U64] = []
        coefi: list[U64] = []
        for g in range(len(self._g)):
            coef0 += list(self._mterms[g].values()) + [self._mconst[g]]
            coefi += list(self._mterms[g].values())
        coef0 += list(self._lamterms.values()) + [self._lamconst]
        c0, ci = np.stack(coef0, axis=1), np.stack(coefi, axis=1)
        acc0 = np.zeros((4, c0.shape[1]), dtype=np.uint64)
        acci = np.zeros((4, ci.shape[1]), dtype=np.uint64)
        span = 1 << 15
        # The rows of each span are written straight into two buffers reused across spans (no
        # per-row arrays, no np.stack copy: measured as a large share of round 0 at 2^16).
        width = min(span, half)
        buf0 = np.empty((c0.shape[1], width), dtype=np.uint64)
        bufi = np.empty((ci.shape[1], width), dtype=np.uint64)
        scratch = np.empty(width, dtype=np.uint64)
        for lo in range(0, half, span):
            hi = min(half, lo + span)
            w = hi - lo
            rows0, rowsi, q = buf0[:, :w], bufi[:, :w], scratch[:w]
            ev = {name: col[2 * lo : 2 * hi : 2] for name, col in self._cols.items()}
            dv = {name: sub(col[2 * lo + 1 : 2 * hi : 2], ev[name]) for name, col in self._cols.items()}
            r0 = ri = 0
            for g, gt in enumerate(self._g):
                g0 = gt[2 * lo : 2 * hi : 2]
                dg = sub(gt[2 * lo + 1 : 2 * hi : 2], g0)
                for name in self._mterms[g]:
                    mul_into(g0, ev[name], rows0[r0], q)
                    mul_into(dg, dv[name], rowsi[ri], q)
                    r0, ri = r0 + 1, ri + 1
                rows0[r0] = g0
                r0 += 1
            for name in self._lamterms:
                rows0[r0] = ev[name]
                r0 += 1
            rows0[r0] = 1
            if (r0 + 1, ri) != (buf0.shape[0], bufi.shape[0]):
                raise RuntimeError(f"round-0 rows {r0 + 1}, {ri} != coefficients {buf0.shape[0]}, {bufi.shape[0]}")
            e = np.ascontiguousarray(e_full[:, lo:hi])
            acc0 = eadd(acc0, edot_base_many(e, np.ascontiguousarray(rows0)))
            if ri:
                acci = eadd(acci, edot_base_many(e, np.ascontiguousarray(rowsi)))
        return esum(emul(acc0, c0)), esum(emul(acci, ci)) if coefi else ext_scalar(0)

    def _q(self) -> tuple[U64, U64]:
        if self._round == 0:
            return self._q_base()
        e_full = self._eq.table()
        half = e_full.shape[1]
        q0 = ext_scalar(0)
        qi = ext_scalar(0)
        for lo in range(0, half, _CHUNK):
            hi = min(half, lo + _CHUNK)
            s0 = np.ascontiguousarray(self._lam[:, 2 * lo : 2 * hi : 2])
            si: U64 | None = None
            for g, m in zip(self._g, self._m):
                m0, m1 = m[:, 2 * lo : 2 * hi : 2], m[:, 2 * lo + 1 : 2 * hi : 2]
                g0, g1 = g[:, 2 * lo : 2 * hi : 2], g[:, 2 * lo + 1 : 2 * hi : 2]
                s0 = eadd(s0, emul(g0, m0))
                p = emul(esub(g1, g0), esub(m1, m0))
                si = p if si is None else eadd(si, p)
            e = e_full[:, lo:hi]
            q0 = eadd(q0, edot(e, s0))
            if si is not None:
                qi = eadd(qi, edot(e, si))
        return q0, qi

    def round_evals(self) -> list[U64]:
        q0, qi = self._q()
        return self._eq.round_evals(q0, qi)

    def bind(self, r: U64) -> None:
        self._eq.bind(r)
        one = ext_scalar(1)
        coeffs = np.stack(
            [emul(esub(one, r), _XPOW[u]) for u in range(4)] + [emul(r, _XPOW[u]) for u in range(4)], axis=1
        )

        def bind_ext(t: U64) -> U64:  # (1 - r) t(2x) + r t(2x + 1), componentwise, one BLAS pass
            return lincomb_base(np.concatenate([t[:, 0::2], t[:, 1::2]]), coeffs)

        def bind_sym(terms: dict[str, U64], const: U64) -> U64:  # sum_c mu_c bind(col_c) + const
            if not terms:
                return np.tile(const.reshape(4, 1), (1, (1 << (self._k - 1))))
            names = list(terms)
            mu = np.stack([terms[c] for c in names], axis=1)
            t = halves_lincomb([self._cols[c] for c in names], np.concatenate([emul(mu, esub(one, r)), emul(mu, r)], axis=1))
            return eadd(t, const) if np.any(const) else t

        if self._round == 0:
            self._m = [bind_sym(t, c) for t, c in zip(self._mterms, self._mconst)]
            self._lam = bind_sym(self._lamterms, self._lamconst)
            self._g = [bind_low_base(g, r) for g in self._g]
            self._cols = {}
        else:
            self._g = [bind_ext(g) for g in self._g]
            self._m = [bind_ext(m) for m in self._m]
            self._lam = bind_ext(self._lam)
        self._round += 1

