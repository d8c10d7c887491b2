"""Stage 4 verifier: registers (docs/protocol.md, stage 4).

Replays: read and absorb the final register state ("s4/final": v_lo[16], v_hi[16], t[16]);
alpha, g <- transcript; GKR "s4/leaves" (3 + log T vars) -> root, leaf point (r_cycle, r_slot),
leaf claims; GKR "s4/range" (11 vars) -> root, r_t, claims; read the register columns at r_cycle.
Checks: "roots cancel": leaves + range + init - final = 0 with init = sum_r 1/(alpha - fp(r, 0,
0, 0)) and final = sum_r 1/(alpha - fp(r, v_lo, v_hi, t)); the leaf claim against the slot
formulas folded by eq(r_slot); the range claim against alpha - g^4 - id(r_t).
Appends Claim(r_cycle, register columns) and m_rangeB(r_t) = -n_range.
"""

from __future__ import annotations

import numpy as np

from prover.field import eneg, esub
from prover.proof import Claim
from prover.relations.fingerprints import (
    RANGE_BITS,
    REGISTER_SLOTS,
    leaves_at,
    range_table_den_at,
    slot_columns,
    state_fraction_sum,
)
from prover.relations.layout import NUM_REGS, FinalState
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError
from prover.verifier.logup import check_roots, check_value, run_gkr

STAGE = 4
COLUMNS: tuple[str, ...] = slot_columns(REGISTER_SLOTS)
SLOT_BITS = 3


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    final = rd.get_bases(3 * NUM_REGS, "final register state")
    t.absorb_base("s4/final", final)
    v_lo, v_hi, times = final[:NUM_REGS], final[NUM_REGS : 2 * NUM_REGS], final[2 * NUM_REGS :]
    alpha = t.challenge_ext("s4/alpha")
    g = t.challenge_ext("s4/gamma")
    leaf = run_gkr(STAGE, rd, t, k + SLOT_BITS, "s4/leaves", "leaf GKR")
    rng = run_gkr(STAGE, rd, t, RANGE_BITS, "s4/range", "range GKR")

    regs = np.arange(NUM_REGS, dtype=np.uint64)
    zero = np.zeros(NUM_REGS, dtype=np.uint64)
    try:
        init_sum = state_fraction_sum(regs, zero, zero, zero, alpha, g)
        final_sum = state_fraction_sum(regs, v_lo, v_hi, times, alpha, g)
    except ZeroDivisionError as exc:
        raise VerificationError(STAGE, "init/final denominator is zero", str(exc)) from None
    check_roots(STAGE, [leaf, rng], esub(init_sum, final_sum))

    vals = rd.get_exts(len(COLUMNS), "register columns at r_cycle")
    t.absorb_ext("s4/values", vals)
    values = {name: vals[:, j].copy() for j, name in enumerate(COLUMNS)}
    r_cycle, r_slot = leaf.point[:k], leaf.point[k:]
    n_exp, d_exp = leaves_at(REGISTER_SLOTS, values, r_cycle, r_slot, alpha, g)
    check_value(STAGE, "leaf claim numerator", n_exp, leaf.leaf_num)
    check_value(STAGE, "leaf claim denominator", d_exp, leaf.leaf_den)
    check_value(STAGE, "range table claim", range_table_den_at(rng.point, alpha, g), rng.leaf_den)

    vctx.final_regs = FinalState(v_lo + (v_hi << np.uint64(16)), times)
    vctx.claims.append(Claim(r_cycle, values, "stage 4 registers"))
    vctx.mult_claims["m_rangeB"] = (rng.point, eneg(rng.leaf_num))
    rd.expect_end()
