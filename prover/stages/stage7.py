"""Stage 7: reduce every claim on committed polys to one point (docs/protocol.md, stage 7).

Claims come from stages 1-6 in order: ``ctx.claims`` on trace columns, ``ctx.helper_claims`` on
the ext helper columns of stages 3-6 (each a combination sum_c X^c h.c of four committed base
polys), and last stage 1's ``ctx.shift_claim`` pc(c + 1) at r1. Transcript: beta <- "s7/beta";
coefficients beta_ij = beta^idx with idx running over all (claim, column) pairs in that order.
Sumcheck ("s7/sc", degree 2, log T rounds) of
  sum_ij beta_ij v_ij = sum_x [sum_i eq(r_i, x) sum_j beta_ij col_j(x) + beta_shift next(r1, x) pc(x)]
-> point s; then the 64 trace columns (``COLUMNS`` order) and the 36 helper polys
(``HELPER_POLYS`` order) at s are sent and absorbed ("s7/values").
Section: the sumcheck proof, then 100 ext values. Sets ``ctx.reduced`` (point s, 100 values).
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.reduction import EqBatchProver, SumOfProvers, evaluate_columns, next_table
from prover.backends.dense.sumcheck import ProductSumcheckProver
from prover.field import emul
from prover.proof import Claim
from prover.relations.claims import claim_coefficients
from prover.relations.columns import COLUMNS
from prover.relations.fingerprints import HELPER_POLYS
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)

_XPOW = tuple(np.eye(4, dtype=np.uint64)[:, u].copy() for u in range(4))  # X^0..X^3


def _helper_pair(claim: Claim, cs: np.ndarray, helpers: dict[str, np.ndarray]) -> tuple:
    """A helper claim as an eq-weighted pair over base polys: h_j -> h_j.0..3 with beta_ij X^c."""
    cols, coeffs = [], []
    for j, name in enumerate(claim.values):
        table = helpers[name]
        for c in range(4):
            cols.append(table[c])
            coeffs.append(emul(cs[:, j], _XPOW[c]))
    return claim.point, cols, np.stack(coeffs, axis=1)


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 7 has no {ctx.backend!r} backend")
    if ctx.shift_claim is None:
        raise RuntimeError("stage 7 needs stage 1's shift claim")
    t = ctx.transcript
    beta = t.challenge_ext("s7/beta")
    every = list(ctx.claims) + list(ctx.helper_claims) + [ctx.shift_claim]
    coeffs = claim_coefficients(every, beta)  # per claim: (4, m_i) in its values' order
    n_trace = len(ctx.claims)
    cols = ctx.witness.materialized(COLUMNS)
    pairs = [(c.point, [cols[n] for n in c.values], cs) for c, cs in zip(ctx.claims, coeffs)]
    pairs += [
        _helper_pair(c, cs, ctx.helpers)
        for c, cs in zip(ctx.helper_claims, coeffs[n_trace : n_trace + len(ctx.helper_claims)])
    ]
    shift_w = emul(next_table(ctx.shift_claim.point), np.ascontiguousarray(coeffs[-1][:, 0]))
    prover = SumOfProvers([EqBatchProver(pairs), ProductSumcheckProver(shift_w, cols["pc"])])
    del pairs, shift_w
    proof, s = sumcheck_prove(prover, t, "s7/sc")
    del prover
    named = dict(cols)
    for poly in HELPER_POLYS:
        name, comp = poly.rsplit(".", 1)
        named[poly] = ctx.helpers[name][int(comp)]
    values = evaluate_columns(named, s)
    del cols, named
    order = COLUMNS + HELPER_POLYS
    vals = np.stack([values[n] for n in order], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s7/values", vals)
    ctx.reduced = Claim(s, {n: values[n] for n in order}, "stage 7 reduced")
