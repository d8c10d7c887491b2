"""Stage 5: RAM reads return the last value written (docs/protocol.md, stage 5).

Offline memory checking with logUp, as stage 4, on the M = 2^12 RAM words: a LOAD/STORE at
cycle c (mem = f_load + f_store) reads (addr, mold, c - dM) and writes (addr, z, c + 1) with
addr = y_lo + imm_lo; non-memory cycles have numerator 0. The initial RAM (program image +
input, public) adds, the final RAM (sent here) subtracts; dM's two 11-bit limbs are range
checked in the same sum against the 2^11 table with numerators -m_rangeM. The verifier also
checks the statement's output against the final RAM's output region.

Transcript: absorb the final RAM ("s5/final": v_lo[M], v_hi[M], t[M]) before alpha <-
"s5/alpha", g <- "s5/gamma"; GKR "s5/leaves" over the 4T slot-major leaves
(``fingerprints.RAM_SLOTS``) -> (r_cycle, r_slot); GKR "s5/range" over the range table -> r_t;
send the RAM columns at r_cycle ("s5/values").
Section: 3M base elements, GKR(leaves, 2 + log T vars), GKR(range, 11 vars), ``COLUMNS``.
Claims: (r_cycle, ``COLUMNS``); m_rangeM at r_t.
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.gkr import prove_fraction_sum
from prover.backends.dense.reduction import evaluate_columns
from prover.field import eneg, neg
from prover.proof import Claim
from prover.relations.fingerprints import RAM_SLOTS, leaves, range_table_den, slot_columns
from prover.stages.common import ProverContext

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)

COLUMNS: tuple[str, ...] = slot_columns(RAM_SLOTS)
_M16 = np.uint64(0xFFFF)


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 5 has no {ctx.backend!r} backend")
    if ctx.final_ram is None:
        raise ValueError("stage 5 needs the final RAM state (ctx.final_ram)")
    t, T = ctx.transcript, ctx.T
    ram = np.asarray(ctx.final_ram.values, dtype=np.uint64)
    final = np.concatenate([ram & _M16, ram >> np.uint64(16), np.asarray(ctx.final_ram.times, dtype=np.uint64)])
    ctx.section.put_bases(final)
    t.absorb_base("s5/final", final)
    alpha = t.challenge_ext("s5/alpha")
    g = t.challenge_ext("s5/gamma")

    cols = ctx.witness.materialized(COLUMNS)
    num, den = leaves(RAM_SLOTS, cols, T, alpha, g)
    leaf_proof, leaf = prove_fraction_sum(num, den, t, "s5/leaves")
    del num, den

    range_num = neg(ctx.mult["m_rangeM"].values)
    range_proof, rng = prove_fraction_sum(range_num, range_table_den(alpha, g), t, "s5/range")
    del range_num

    r_cycle = leaf.point[: ctx.log_t]  # slot-major leaves: the low bits are the cycle
    finals = evaluate_columns(cols, r_cycle)
    del cols
    vals = np.stack([finals[n] for n in COLUMNS], axis=1)
    ctx.section.put_gkr(leaf_proof)
    ctx.section.put_gkr(range_proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s5/values", vals)
    ctx.claims.append(Claim(r_cycle, {n: finals[n] for n in COLUMNS}, "stage 5 RAM"))
    ctx.mult_claims["m_rangeM"] = (rng.point, eneg(rng.leaf_num))
