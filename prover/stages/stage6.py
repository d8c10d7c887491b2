"""Stage 6: every cycle executes the program's instruction at its pc (docs/protocol.md, stage 6).

logUp: sum over the T cycles of 1 / (alpha - sum_k g^k field_k(c)) over the 18 bytecode
columns, plus sum over the padded program table of -m_bc(i) / (alpha - fp(row i)), is 0 (w.h.p.)
iff every cycle's decoded instruction tuple (pc included) is a program row.

Transcript: alpha <- "s6/alpha"; g <- "s6/gamma"; GKR "s6/leaves" over the T leaves
(``fingerprints.BYTECODE_SLOTS``) -> r_cycle; GKR "s6/table" over the 2^log_n program rows
(n = -m_bc) -> r_t; send the 18 bytecode columns at r_cycle ("s6/values").
Section: GKR(leaves, log T vars), GKR(table, log_n vars), 18 ext values (protocol order).
Claims: (r_cycle, bytecode columns); m_bc at r_t.
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.gkr import prove_fraction_sum
from prover.backends.dense.reduction import evaluate_columns
from prover.field import eneg, neg
from prover.proof import Claim
from prover.relations.fingerprints import BYTECODE_SLOTS, bytecode_table_den, leaves, slot_columns
from prover.stages.common import ProverContext

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)

COLUMNS: tuple[str, ...] = slot_columns(BYTECODE_SLOTS)


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 6 has no {ctx.backend!r} backend")
    t, T = ctx.transcript, ctx.T
    alpha = t.challenge_ext("s6/alpha")
    g = t.challenge_ext("s6/gamma")

    cols = ctx.witness.materialized(COLUMNS)
    num, den = leaves(BYTECODE_SLOTS, cols, T, alpha, g)
    leaf_proof, leaf = prove_fraction_sum(num, den, t, "s6/leaves")
    del num, den

    table_num = neg(ctx.mult["m_bc"].values)
    table_proof, table = prove_fraction_sum(table_num, bytecode_table_den(ctx.bytecode, alpha, g), t, "s6/table")
    del table_num

    r_cycle = leaf.point  # one slot: the leaf point is the cycle point
    finals = evaluate_columns(cols, r_cycle)
    del cols
    vals = np.stack([finals[n] for n in COLUMNS], axis=1)
    ctx.section.put_gkr(leaf_proof)
    ctx.section.put_gkr(table_proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s6/values", vals)
    ctx.claims.append(Claim(r_cycle, {n: finals[n] for n in COLUMNS}, "stage 6 bytecode"))
    ctx.mult_claims["m_bc"] = (table.point, eneg(table.leaf_num))
