"""Linear-space sumcheck provers (``RoundProver`` implementations) over materialized tables.

- ``EqSumcheckProver``: sum_x g(eq(tau, x), t_1(x), ..., t_m(x)) for any polynomial g of degree d
  given as a vectorized function on ext arrays (e.g. ``lambda eq, t: emul(eq, emul(t[0], t[1]))``).
- ``ProductSumcheckProver``: sum_x a(x) b(x), degree 2 (claim reduction, shift sumcheck).

Tables are base vectors (n,) or ext vectors (4, n) with n = 2^k; bit 0 is bound first
(docs/protocol.md). Base tables stay base until their first bind. After the last ``bind`` every
table has one entry: ``final_values()`` returns them, i.e. t_i(r) at the challenge point r.
The fast zero-check for stage 1 is ``quadratic.QuadraticZeroCheck``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from prover.field import (
    U64,
    add,
    bdot,
    eadd,
    edot,
    edot_base,
    einv,
    emul,
    emul_base,
    esub,
    esum,
    ext_from_base,
    ext_scalar,
    sub,
)
from prover.field import efold, efold_base, esub as _esub, sub as _sub
from prover.mle import Point, eq_table
from prover.sumcheck.protocol import interpolate_eval

GFunc = Callable[[U64, list[U64]], U64]


def _is_base(t: U64) -> bool:
    return t.ndim == 1


def _size(t: U64) -> int:
    return int(t.shape[-1])


def _num_vars(n: int) -> int:
    k = n.bit_length() - 1
    if n != 1 << k:
        raise ValueError(f"table size {n} is not a power of two")
    return k


def bind_low_base(table: U64, r: U64) -> U64:
    """``prover.mle.bind_low_base`` (same values) with the sum formed in the product's buffer."""
    even, odd = table[0::2], table[1::2]
    return efold_base(even, _sub(odd, even), r)


def bind_low_ext(table: U64, r: U64) -> U64:
    """``prover.mle.bind_low_ext`` (same values) with the sum formed in the product's buffer."""
    even, odd = table[:, 0::2], table[:, 1::2]
    return efold(even, _esub(odd, even), r)


def _bind(t: U64, r: U64) -> U64:
    return bind_low_base(t, r) if _is_base(t) else bind_low_ext(t, r)


def _line_points(t: U64, degree: int) -> list[U64]:
    """t restricted to the current variable at X = 0..degree, as ext vectors (4, n/2).

    t(X) = t_even + X (t_odd - t_even), built by repeated addition of the difference.
    """
    if _is_base(t):
        even, odd = t[0::2], t[1::2]
        diff = sub(odd, even)
        vals = [even, odd]
        for _ in range(2, degree + 1):
            vals.append(add(vals[-1], diff))
        return [ext_from_base(v) for v in vals[: degree + 1]]
    even, odd = t[:, 0::2], t[:, 1::2]
    diff_e = esub(odd, even)
    vals_e = [np.ascontiguousarray(even), np.ascontiguousarray(odd)]
    for _ in range(2, degree + 1):
        vals_e.append(eadd(vals_e[-1], diff_e))
    return vals_e[: degree + 1]


class EqSumcheckProver:
    """Prover for sum_x g(eq(tau, x), t_1(x), ..., t_m(x)); g has degree ``degree`` per variable."""

    def __init__(self, tau: Point, tables: Sequence[U64], g: GFunc, degree: int) -> None:
        self._k = len(tau)
        for t in tables:
            if _size(t) != 1 << self._k:
                raise ValueError(f"table of size {_size(t)} for a {self._k}-variable eq")
        self._eq = eq_table(tau)
        self._tables = list(tables)
        self._g = g
        self._degree = degree

    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return self._degree

    def round_evals(self) -> list[U64]:
        eqs = _line_points(self._eq, self._degree)
        cols = [_line_points(t, self._degree) for t in self._tables]
        return [esum(self._g(eqs[x], [c[x] for c in cols])) for x in range(self._degree + 1)]

    def bind(self, r: U64) -> None:
        self._eq = bind_low_ext(self._eq, r)
        self._tables = [_bind(t, r) for t in self._tables]

    def final_values(self) -> list[U64]:
        """t_i(r) for every table, once all rounds are bound."""
        return [_final(t) for t in self._tables]

    def final_eq(self) -> U64:
        """eq(tau, r) once all rounds are bound."""
        return _final(self._eq)


def _final(t: U64) -> U64:
    if _size(t) != 1:
        raise ValueError(f"table still has {_size(t)} entries; not all rounds are bound")
    return ext_from_base(t[0]) if _is_base(t) else t.reshape(4).copy()


def _dot(a: U64, b: U64) -> U64:
    """<a, b> for any mix of base and ext vectors, as an ext scalar."""
    if _is_base(a) and _is_base(b):
        return ext_scalar(bdot(a, b))
    if _is_base(a):
        return edot_base(b, a)
    if _is_base(b):
        return edot_base(a, b)
    return edot(a, b)


class ProductSumcheckProver:
    """Prover for sum_x a(x) b(x) (degree 2); a, b base or ext tables of equal size."""

    def __init__(self, a: U64, b: U64) -> None:
        if _size(a) != _size(b):
            raise ValueError(f"table sizes differ: {_size(a)} vs {_size(b)}")
        self._k = _num_vars(_size(a))
        self._a, self._b = a, b

    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return 2

    def round_evals(self) -> list[U64]:
        # s(0) = <a_even, b_even>, s(1) = <a_odd, b_odd>, s(2) = <2 a_odd - a_even, 2 b_odd - b_even>
        pa = _line_points_raw(self._a)
        pb = _line_points_raw(self._b)
        return [_dot(pa[x], pb[x]) for x in range(3)]

    def bind(self, r: U64) -> None:
        self._a = _bind(self._a, r)
        self._b = _bind(self._b, r)

    def final_values(self) -> list[U64]:
        """[a(r), b(r)] once all rounds are bound."""
        return [_final(self._a), _final(self._b)]


def _line_points_raw(t: U64) -> list[U64]:
    """t at X = 0, 1, 2 keeping base tables base (so base x base dots stay in F)."""
    if _is_base(t):
        even, odd = t[0::2], t[1::2]
        return [even, odd, sub(add(odd, odd), even)]
    even, odd = t[:, 0::2], t[:, 1::2]
    return [even, odd, esub(eadd(odd, odd), even)]


# ---------------------------------------------------------------------------- split eq (Gruen)


def _eq_factor(t: U64, x: U64) -> U64:
    """eq(t, x) = t x + (1 - t)(1 - x) for ext scalars."""
    one = ext_scalar(1)
    return eadd(emul(t, x), emul(esub(one, t), esub(one, x)))


class SplitEq:
    """eq(tau, x) for an eq-weighted degree-3 sumcheck, split as in Gruen (eprint 2024/108).

    In round i the sum is s_i(X) = prefix_i * eq(tau_i, X) * q_i(X) with
    q_i(X) = sum_{x'} eq(tau_{>i}, x') C(r_{<i}, X, x') of degree 2, and
    prefix_i = prod_{l<i} eq(tau_l, r_l). The prover computes only q_i(0) and q_i(inf), the
    X^2 coefficient (for a product of two linear-in-X factors it is the product of their
    differences odd - even); q_i(1) follows from the running claim. ``table()`` is
    eq(tau_{>i}, .) with tau_{i+1} on bit 0 (size 2^(k-i-1)); all suffix tables are built once.
    """

    def __init__(self, tau: Point, claim: U64) -> None:
        self._tau = list(tau)
        k = len(self._tau)
        self._round = 0
        self._prefix = ext_scalar(1)
        self._qclaim = claim  # claim_i / prefix_i = q_{i-1}(r_{i-1})
        self._q: list[U64] = []
        tables: list[U64] = [ext_scalar(1).reshape(4, 1)]
        for i in range(k - 1, 0, -1):  # add tau_i as the new bit 0 of eq(tau_{>i-1}, .)
            prev = tables[-1]
            hi = emul(prev, self._tau[i])
            lo = esub(prev, hi)
            t = np.empty((4, 2 * prev.shape[1]), dtype=np.uint64)
            t[:, 0::2], t[:, 1::2] = lo, hi
            tables.append(t)
        tables.reverse()  # tables[i] = eq(tau_{>i}, .)
        self._tables = tables
        # one batched inversion instead of one per round (q(1) divides by tau_i)
        self._tau_inv = list(einv(np.stack(self._tau, axis=1)).T) if k else []

    def table(self) -> U64:
        """eq(tau_{>i}, x') for the current round i, ext (4, 2^(k-i-1))."""
        return self._tables[self._round]

    def round_evals(self, q0: U64, q_inf: U64) -> list[U64]:
        """s_i(0..3) from q_i(0) and the leading coefficient q_i(inf)."""
        t = self._tau[self._round]
        one = ext_scalar(1)
        # qclaim = (1 - t) q(0) + t q(1)
        q1 = emul(esub(self._qclaim, emul(esub(one, t), q0)), self._tau_inv[self._round])
        lin = esub(esub(q1, q0), q_inf)  # q(X) = q0 + lin X + q_inf X^2
        q2 = eadd(eadd(q0, emul_base(lin, 2)), emul_base(q_inf, 4))
        q3 = eadd(eadd(q0, emul_base(lin, 3)), emul_base(q_inf, 9))
        self._q = [q0, q1, q2]
        return [emul(self._prefix, emul(_eq_factor(t, ext_scalar(x)), q)) for x, q in enumerate((q0, q1, q2, q3))]

    def bind(self, r: U64) -> None:
        self._qclaim = interpolate_eval(self._q, r)
        self._prefix = emul(self._prefix, _eq_factor(self._tau[self._round], r))
        self._tables[self._round] = ext_scalar(0).reshape(4, 1)  # free the consumed table
        self._round += 1
