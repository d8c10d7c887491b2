"""Stage 3: every cycle's four lookup tuples lie in the instruction table (docs/protocol.md, stage 3).

logUp: sum over the 4T leaves (slot j, cycle c) of 1 / (alpha - fp(a_j, b_j, o1_j, o2_j)(c)) plus
sum over the 2^19 table entries of -m_instr(i) / (alpha - fp(table)(i)) is 0 (w.h.p. over alpha)
iff the multiset of looked-up tuples is the table with multiplicities m_instr.

Transcript: alpha <- "s3/alpha"; g <- "s3/gamma"; fraction-sum GKR "s3/leaves" over the
slot-major leaves (``fingerprints.LOOKUP_SLOTS``, numerators 1) -> leaf point (r_cycle, r_slot);
fraction-sum GKR "s3/table" over the table (n = -m_instr) -> table point r_t; send the 16 lookup
columns at r_cycle ("s3/values").
Section: GKR(leaves, 2 + log T vars), GKR(table, 19 vars), 16 ext values (``COLUMNS`` order).
Claims: (r_cycle, a0..a3, b0..b3, o1_*, o2_*); m_instr at r_t.
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.gkr import prove_fraction_sum
from prover.backends.dense.reduction import evaluate_columns
from prover.field import eneg, neg
from prover.proof import Claim
from prover.relations.fingerprints import LOOKUP_SLOTS, leaves, lookup_table_den, slot_columns
from prover.stages.common import ProverContext

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)

COLUMNS: tuple[str, ...] = slot_columns(LOOKUP_SLOTS)


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 3 has no {ctx.backend!r} backend")
    t, T = ctx.transcript, ctx.T
    alpha = t.challenge_ext("s3/alpha")
    g = t.challenge_ext("s3/gamma")

    cols = ctx.witness.materialized(COLUMNS)
    num, den = leaves(LOOKUP_SLOTS, cols, T, alpha, g)
    leaf_proof, leaf = prove_fraction_sum(num, den, t, "s3/leaves")
    del num, den

    table_num = neg(ctx.mult["m_instr"].values)
    table_den = lookup_table_den(alpha, g)
    table_proof, table = prove_fraction_sum(table_num, table_den, t, "s3/table")
    del table_num, table_den

    # The leaf point's low log T coordinates are the cycle bits (slot-major leaves); the verifier
    # folds the slot bits itself, so only the columns at r_cycle are sent.
    r_cycle = leaf.point[: ctx.log_t]
    finals = evaluate_columns(cols, r_cycle)
    del cols
    vals = np.stack([finals[n] for n in COLUMNS], axis=1)
    ctx.section.put_gkr(leaf_proof)
    ctx.section.put_gkr(table_proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s3/values", vals)
    ctx.claims.append(Claim(r_cycle, {n: finals[n] for n in COLUMNS}, "stage 3 lookups"))
    ctx.mult_claims["m_instr"] = (table.point, eneg(table.leaf_num))
