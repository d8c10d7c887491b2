"""Batching of evaluation claims on trace columns (stage 7's formula, shared by both sides).

Claims (r_i, {col_j: v_ij}) in the order the stages made them; with beta from the transcript the
coefficient of the idx-th (claim, column) pair (claims in order, columns in each claim's insertion
order) is beta^idx. Stage 7 proves
    sum_ij beta_ij v_ij = sum_x sum_i w_i(x) sum_j beta_ij col_j(x),
with w_i = eq(r_i, .) for every claim but stage 1's pc(c + 1) claim, which comes last and has
w = next(r1, .) (protocol v3: no shift sumcheck of its own). In v3 the claims are, in order: the
trace-column claims of stages 1-6, the helper claims of stages 3-6 (a "column" there is an ext
helper column h = sum_c X^c h.c, whose four base components are committed polys), then the shift
claim. ``ext_of_components`` gives h(s) from the four component values.

Public names: ``claim_coefficients``, ``batched_claim``, ``reduced_value``, ``ext_of_components``.
Sits in ``relations``: imports ``field``, ``mle`` and ``proof`` (the ``Claim`` type).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from prover.field import U64, eadd, emul, ext_scalar
from prover.mle import eq_eval, next_eval
from prover.proof import Claim


def claim_coefficients(claims: Sequence[Claim], beta: U64) -> list[U64]:
    """Per claim, an ext vector (4, m_i) of beta powers (running over all pairs)."""
    out: list[U64] = []
    cur = ext_scalar(1)
    for c in claims:
        cs = np.zeros((4, len(c.values)), dtype=np.uint64)
        for j in range(len(c.values)):
            cs[:, j] = cur
            cur = emul(cur, beta)
        out.append(cs)
    return out


def batched_claim(claims: Sequence[Claim], beta: U64) -> U64:
    """sum_ij beta_ij v_ij: the claimed sum stage 7's sumcheck starts from."""
    acc = ext_scalar(0)
    for c, cs in zip(claims, claim_coefficients(claims, beta)):
        for j, v in enumerate(c.values.values()):
            acc = eadd(acc, emul(cs[:, j], v))
    return acc


def reduced_value(
    claims: Sequence[Claim],
    beta: U64,
    point: Sequence[U64],
    values: Mapping[str, U64],
    shift: Claim | None = None,
) -> U64:
    """sum_i w_i(s) sum_j beta_ij col_j(s) from the column values at the reduced point s.

    w_i = eq(r_i, s) for ``claims``; ``shift``, if given, is the last claim, weighted by
    next(r1, s) (its coefficients continue the beta powers, as in ``batched_claim(claims + [shift])``).
    """
    every = list(claims) + ([shift] if shift is not None else [])
    acc = ext_scalar(0)
    for i, (c, cs) in enumerate(zip(every, claim_coefficients(every, beta))):
        inner = ext_scalar(0)
        for j, name in enumerate(c.values):
            inner = eadd(inner, emul(cs[:, j], values[name]))
        shifted = shift is not None and i == len(every) - 1
        w = next_eval(list(c.point), list(point)) if shifted else eq_eval(c.point, list(point))
        acc = eadd(acc, emul(w, inner))
    return acc


_XPOW = tuple(np.eye(4, dtype=np.uint64)[:, u].copy() for u in range(4))  # X^0..X^3


def ext_of_components(components: Sequence[U64]) -> U64:
    """sum_c X^c v_c: an ext column's value from the values of its four base components."""
    if len(components) != 4:
        raise ValueError(f"an ext column has 4 components, got {len(components)}")
    acc = ext_scalar(0)
    for c, v in enumerate(components):
        acc = eadd(acc, emul(_XPOW[c], v))
    return acc
