"""Stage 5 verifier: RAM (docs/protocol.md, stage 5).

Replays (alpha, g and the final RAM are stage 2's, which also checked the statement's output
against it): read S ("s5/S"); rho <- "s5/rho", tau <- "s5/tau"; the helper sumcheck "s5/sc"
(degree 4, log T rounds) from rho^2 S -> final claim, point r; GKR "s5/range" (11 vars) -> root,
r_t, claims; read h5_0, h5_1 and the RAM columns at r ("s5/values").
Checks: "roots cancel": S + range root + init - final = 0, init = the public initial RAM
(program image + input) at time 0; "helper sumcheck final"; the range claim.
Appends Claim(r, RAM columns), the helper claim (r, h5_0, h5_1) and m_rangeM(r_t) = -n_range.
"""

from __future__ import annotations

import numpy as np

from prover.field import eneg, esub
from prover.proof import Claim
from prover.relations.fingerprints import (
    RAM_SLOTS,
    RANGE_BITS,
    range_table_den_at,
    slot_columns,
    stage_helpers,
    state_fraction_sum,
)
from prover.relations.layout import RAM_WORDS
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

STAGE = 5
COLUMNS: tuple[str, ...] = slot_columns(RAM_SLOTS)
HELPERS: tuple[str, ...] = stage_helpers(STAGE)
_M16 = np.uint64(0xFFFF)


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    alpha, g = stage_challenges(STAGE, vctx)
    if vctx.final_ram is None:
        raise VerificationError(STAGE, "final state", "stage 2's final RAM is missing")
    S = rd.get_ext("trace fraction sum S")
    t.absorb_ext("s5/S", S)
    rho = t.challenge_ext("s5/rho")
    tau = t.challenge_exts("s5/tau", k)
    final, r = run_helper_sumcheck(STAGE, rd, t, k, S, rho, "s5/sc")
    rng = run_gkr(STAGE, rd, t, RANGE_BITS, "s5/range", "range GKR")

    addr = np.arange(RAM_WORDS, dtype=np.uint64)
    init = np.asarray(vctx.init_ram, dtype=np.uint64)
    zero = np.zeros(RAM_WORDS, dtype=np.uint64)
    v = np.asarray(vctx.final_ram.values, dtype=np.uint64)
    times = np.asarray(vctx.final_ram.times, dtype=np.uint64)
    try:
        init_sum = state_fraction_sum(addr, init & _M16, init >> np.uint64(16), zero, alpha, g)
        final_sum = state_fraction_sum(addr, v & _M16, v >> np.uint64(16), times, alpha, g)
    except ZeroDivisionError as exc:
        raise VerificationError(STAGE, "init/final denominator is zero", str(exc)) from None
    check_sum(STAGE, S, [rng], esub(init_sum, final_sum))

    vals = rd.get_exts(len(HELPERS) + len(COLUMNS), "helpers and RAM columns at r")
    t.absorb_ext("s5/values", vals)
    hvals = [vals[:, i].copy() for i in range(len(HELPERS))]
    values = {name: vals[:, len(HELPERS) + j].copy() for j, name in enumerate(COLUMNS)}
    check_helper_final(STAGE, final, values, hvals, tau, r, alpha, g, rho)
    check_value(STAGE, "range table claim", range_table_den_at(rng.point, alpha, g), rng.leaf_den)

    vctx.claims.append(Claim(r, values, "stage 5 RAM"))
    vctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 5 helpers"))
    vctx.mult_claims["m_rangeM"] = (rng.point, eneg(rng.leaf_num))
    rd.expect_end()
