"""Stage 4 verifier: registers (docs/protocol.md, stage 4).

Replays (alpha, g and the final register state are stage 2's): read S ("s4/S"); rho <- "s4/rho",
tau <- "s4/tau"; the helper sumcheck "s4/sc" (degree 4, log T rounds) from rho^4 S -> final
claim, point r; GKR "s4/range" (11 vars) -> root, r_t, claims; read h4_0..h4_3 at r and the
register columns at r ("s4/values").
Checks: "roots cancel": S + range root + init - final = 0 with init = sum_r 1/(alpha - fp(r, 0,
0, 0)) and final = sum_r 1/(alpha - fp(r, v_lo, v_hi, t)); "helper sumcheck final" against every
D and n recomputed at r; the range claim against alpha - g^4 - id(r_t).
Appends Claim(r, register columns), the helper claim (r, h4_0..h4_3), m_rangeB(r_t) = -n_range.
"""

from __future__ import annotations

import numpy as np

from prover.field import eneg, esub
from prover.proof import Claim
from prover.relations.fingerprints import (
    RANGE_BITS,
    REGISTER_SLOTS,
    range_table_den_at,
    slot_columns,
    stage_helpers,
    state_fraction_sum,
)
from prover.relations.layout import NUM_REGS
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError
from prover.verifier.logup import (
    check_helper_final,
    check_sum,
    check_value,
    run_gkr,
    run_helper_sumcheck,
    stage_challenges,
)

STAGE = 4
COLUMNS: tuple[str, ...] = slot_columns(REGISTER_SLOTS)
HELPERS: tuple[str, ...] = stage_helpers(STAGE)
_M16 = np.uint64(0xFFFF)


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    alpha, g = stage_challenges(STAGE, vctx)
    if vctx.final_regs is None:
        raise VerificationError(STAGE, "final state", "stage 2's final register state is missing")
    S = rd.get_ext("trace fraction sum S")
    t.absorb_ext("s4/S", S)
    rho = t.challenge_ext("s4/rho")
    tau = t.challenge_exts("s4/tau", k)
    final, r = run_helper_sumcheck(STAGE, rd, t, k, S, rho, "s4/sc")
    rng = run_gkr(STAGE, rd, t, RANGE_BITS, "s4/range", "range GKR")

    regs = np.arange(NUM_REGS, dtype=np.uint64)
    zero = np.zeros(NUM_REGS, dtype=np.uint64)
    v = np.asarray(vctx.final_regs.values, dtype=np.uint64)
    times = np.asarray(vctx.final_regs.times, dtype=np.uint64)
    try:
        init_sum = state_fraction_sum(regs, zero, zero, zero, alpha, g)
        final_sum = state_fraction_sum(regs, v & _M16, v >> np.uint64(16), times, alpha, g)
    except ZeroDivisionError as exc:
        raise VerificationError(STAGE, "init/final denominator is zero", str(exc)) from None
    check_sum(STAGE, S, [rng], esub(init_sum, final_sum))

    vals = rd.get_exts(len(HELPERS) + len(COLUMNS), "helpers and register columns at r")
    t.absorb_ext("s4/values", vals)
    hvals = [vals[:, i].copy() for i in range(len(HELPERS))]
    values = {name: vals[:, len(HELPERS) + j].copy() for j, name in enumerate(COLUMNS)}
    check_helper_final(STAGE, final, values, hvals, tau, r, alpha, g, rho)
    check_value(STAGE, "range table claim", range_table_den_at(rng.point, alpha, g), rng.leaf_den)

    vctx.claims.append(Claim(r, values, "stage 4 registers"))
    vctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 4 helpers"))
    vctx.mult_claims["m_rangeB"] = (rng.point, eneg(rng.leaf_num))
    rd.expect_end()
