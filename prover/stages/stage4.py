"""Stage 4: register reads return the last value written (docs/protocol.md, stage 4).

Offline memory checking with logUp: every access reads (reg, value, previous time) and writes
(reg, value', now); reads subtract, writes add, the initial state (r, 0, 0) adds and the final
state subtracts, so the total is 0 (w.h.p.) iff reads and writes match up. The read times are
2c - dB and 2c+1 - dA with dB, dA split into 11-bit limbs that are range checked in the same
sum (range tuples carry g^4; the range table's numerators are -m_rangeB).

Transcript: absorb the final register state ("s4/final": v_lo, v_hi, t of r0..r15) *before*
alpha <- "s4/alpha", g <- "s4/gamma", so it cannot depend on them; fraction-sum GKR "s4/leaves"
over the 8T slot-major leaves (``fingerprints.REGISTER_SLOTS``) -> (r_cycle, r_slot); GKR
"s4/range" over the 2^11 range entries -> r_t; send the register columns at r_cycle
("s4/values").
Section: 48 base elements (final v_lo[16], v_hi[16], t[16]), GKR(leaves, 3 + log T vars),
GKR(range, 11 vars), ``COLUMNS`` at r_cycle.
Claims: (r_cycle, ``COLUMNS``); m_rangeB at r_t.
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.gkr import prove_fraction_sum
from prover.backends.dense.reduction import evaluate_columns
from prover.field import eneg, neg
from prover.proof import Claim
from prover.relations.fingerprints import REGISTER_SLOTS, leaves, range_table_den, slot_columns
from prover.stages.common import ProverContext

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)

COLUMNS: tuple[str, ...] = slot_columns(REGISTER_SLOTS)
_M16 = np.uint64(0xFFFF)


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 4 has no {ctx.backend!r} backend")
    if ctx.final_regs is None:
        raise ValueError("stage 4 needs the final register state (ctx.final_regs)")
    t, T = ctx.transcript, ctx.T
    regs = np.asarray(ctx.final_regs.values, dtype=np.uint64)
    final = np.concatenate([regs & _M16, regs >> np.uint64(16), np.asarray(ctx.final_regs.times, dtype=np.uint64)])
    ctx.section.put_bases(final)
    t.absorb_base("s4/final", final)
    alpha = t.challenge_ext("s4/alpha")
    g = t.challenge_ext("s4/gamma")

    cols = ctx.witness.materialized(COLUMNS)
    num, den = leaves(REGISTER_SLOTS, cols, T, alpha, g)
    leaf_proof, leaf = prove_fraction_sum(num, den, t, "s4/leaves")
    del num, den

    range_num = neg(ctx.mult["m_rangeB"].values)
    range_proof, rng = prove_fraction_sum(range_num, range_table_den(alpha, g), t, "s4/range")
    del range_num

    r_cycle = leaf.point[: ctx.log_t]  # slot-major leaves: the low bits are the cycle
    finals = evaluate_columns(cols, r_cycle)
    del cols
    vals = np.stack([finals[n] for n in COLUMNS], axis=1)
    ctx.section.put_gkr(leaf_proof)
    ctx.section.put_gkr(range_proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s4/values", vals)
    ctx.claims.append(Claim(r_cycle, {n: finals[n] for n in COLUMNS}, "stage 4 registers"))
    ctx.mult_claims["m_rangeB"] = (rng.point, eneg(rng.leaf_num))
