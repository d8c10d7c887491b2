"""Stage 3 verifier: the instruction lookups (docs/protocol.md, stage 3).

Replays (alpha, g are stage 2's): read S ("s3/S"); rho <- "s3/rho", tau <- "s3/tau"; the helper
sumcheck "s3/sc" (degree 4, log T rounds) from rho^2 S -> final claim, point r; GKR "s3/table"
(19 vars) -> root (pT, qT), point r_t, claims (nT, dT); read h3_0(r), h3_1(r) and the 16 lookup
columns at r ("s3/values").
Checks: qT != 0 and S + pT/qT = 0 ("roots cancel"); the final claim equals
eq(tau, r) sum_i rho^i (h_i D_a D_b - 1) + rho^2 sum_i (D_a + D_b) h_i with every D recomputed from
the claimed columns ("helper sumcheck final"); dT equals the table's own MLE at r_t ("table claim").
Appends Claim(r, lookup columns), the helper claim (r, h3_0, h3_1) and m_instr(r_t) = -nT.
"""

from __future__ import annotations

from prover.field import eneg
from prover.proof import Claim
from prover.relations.fingerprints import (
    LOOKUP_SLOTS,
    lookup_table_den_at,
    slot_columns,
    stage_helpers,
)
from prover.relations.lookup_table import LOG_SIZE
from prover.verifier.context import VerifierContext
from prover.verifier.logup import (
    check_helper_final,
    check_sum,
    check_value,
    run_gkr,
    run_helper_sumcheck,
    stage_challenges,
)

STAGE = 3
COLUMNS: tuple[str, ...] = slot_columns(LOOKUP_SLOTS)
HELPERS: tuple[str, ...] = stage_helpers(STAGE)


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    alpha, g = stage_challenges(STAGE, vctx)
    S = rd.get_ext("trace fraction sum S")
    t.absorb_ext("s3/S", S)
    rho = t.challenge_ext("s3/rho")
    tau = t.challenge_exts("s3/tau", k)
    final, r = run_helper_sumcheck(STAGE, rd, t, k, S, rho, "s3/sc")
    table = run_gkr(STAGE, rd, t, LOG_SIZE, "s3/table", "table GKR")
    check_sum(STAGE, S, [table])

    vals = rd.get_exts(len(HELPERS) + len(COLUMNS), "helpers and lookup columns at r")
    t.absorb_ext("s3/values", vals)
    hvals = [vals[:, i].copy() for i in range(len(HELPERS))]
    values = {name: vals[:, len(HELPERS) + j].copy() for j, name in enumerate(COLUMNS)}
    check_helper_final(STAGE, final, values, hvals, tau, r, alpha, g, rho)
    check_value(STAGE, "table claim", lookup_table_den_at(table.point, alpha, g), table.leaf_den)

    vctx.claims.append(Claim(r, values, "stage 3 lookups"))
    vctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 3 helpers"))
    vctx.mult_claims["m_instr"] = (table.point, eneg(table.leaf_num))
    rd.expect_end()
