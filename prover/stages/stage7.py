"""Stage 7: reduce every claim on trace columns to one point (docs/protocol.md, stage 7).

Claims (r_i, {col_j: v_ij}) come from stages 1..6 in order. Transcript: beta <- "s7/beta";
coefficients beta_ij = beta^idx with idx running over all (claim, column) pairs in order.
Sumcheck ("s7/sc", degree 2, log T rounds) of
  sum_i sum_j beta_ij v_ij = sum_x sum_i eq(r_i, x) sum_j beta_ij col_j(x)
-> point s; then all 64 column values col_j(s) are sent (``COLUMNS`` order) and absorbed
("s7/values"). Section: the sumcheck proof, then 64 ext values. Sets ``ctx.reduced``.
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.reduction import EqBatchProver, evaluate_columns
from prover.proof import Claim
from prover.relations.claims import claim_coefficients
from prover.relations.columns import COLUMNS
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 7 has no {ctx.backend!r} backend")
    t = ctx.transcript
    beta = t.challenge_ext("s7/beta")
    coeffs = claim_coefficients(ctx.claims, beta)  # per claim: (4, m_i) in its values' order
    cols = ctx.witness.materialized(COLUMNS)
    # L_i = sum_j beta_ij col_j, folded by the prover in its first round
    pairs = [(c.point, [cols[n] for n in c.values], cs) for c, cs in zip(ctx.claims, coeffs)]
    prover = EqBatchProver(pairs)
    del pairs
    proof, s = sumcheck_prove(prover, t, "s7/sc")
    del prover
    values = evaluate_columns(cols, s)
    del cols
    vals = np.stack([values[n] for n in COLUMNS], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s7/values", vals)
    ctx.reduced = Claim(s, values, "stage 7 reduced")
