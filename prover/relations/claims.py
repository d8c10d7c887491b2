"""Batching of evaluation claims on trace columns (stage 7's formula, shared by both sides).

Claims (r_i, {col_j: v_ij}) in the order the stages made them; with beta from the transcript the
coefficient of the idx-th (claim, column) pair (claims in order, columns in each claim's insertion
order) is beta^idx. Stage 7 proves
    sum_ij beta_ij v_ij = sum_x sum_i eq(r_i, x) sum_j beta_ij col_j(x).

Public names: ``claim_coefficients``, ``batched_claim``, ``reduced_value``.
Sits in ``relations``: imports ``field``, ``mle`` and ``proof`` (the ``Claim`` type).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from prover.field import U64, eadd, emul, ext_scalar
from prover.mle import eq_eval
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


def reduced_value(claims: Sequence[Claim], beta: U64, point: Sequence[U64], values: Mapping[str, U64]) -> U64:
    """sum_i eq(r_i, s) sum_j beta_ij col_j(s) from the column values at the reduced point s."""
    acc = ext_scalar(0)
    for c, cs in zip(claims, claim_coefficients(claims, beta)):
        inner = ext_scalar(0)
        for j, name in enumerate(c.values):
            inner = eadd(inner, emul(cs[:, j], values[name]))
        acc = eadd(acc, emul(eq_eval(c.point, list(point)), inner))
    return acc
