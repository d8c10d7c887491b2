"""Stage 6 verifier: bytecode (docs/protocol.md, stage 6).

Replays (alpha, g are stage 2's): read S ("s6/S"); rho <- "s6/rho", tau <- "s6/tau"; the helper
sumcheck "s6/sc" (degree 4, log T rounds) from rho S -> final claim, point r; GKR "s6/table"
(log_n vars of the padded program) -> root, r_t, claims; read h6_0(r) and the 18 bytecode
columns at r ("s6/values").
Checks: "roots cancel" (S + table root = 0); "helper sumcheck final" (eq(tau, r)(h D - 1) + rho h
with D = alpha - fp(columns)); the table claim against the program table's MLE, which the
verifier computes from the public program.
Appends Claim(r, bytecode columns), the helper claim (r, h6_0) and m_bc(r_t) = -n_table.
"""

from __future__ import annotations

from prover.field import eneg
from prover.proof import Claim
from prover.relations.fingerprints import (
    BYTECODE_SLOTS,
    bytecode_table_den_at,
    slot_columns,
    stage_helpers,
)
from prover.verifier.context import VerifierContext
from prover.verifier.logup import (
    check_helper_final,
    check_sum,
    check_value,
    run_gkr,
    run_helper_sumcheck,
    stage_challenges,
)

STAGE = 6
COLUMNS: tuple[str, ...] = slot_columns(BYTECODE_SLOTS)
HELPERS: tuple[str, ...] = stage_helpers(STAGE)


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    alpha, g = stage_challenges(STAGE, vctx)
    S = rd.get_ext("trace fraction sum S")
    t.absorb_ext("s6/S", S)
    rho = t.challenge_ext("s6/rho")
    tau = t.challenge_exts("s6/tau", k)
    final, r = run_helper_sumcheck(STAGE, rd, t, k, S, rho, "s6/sc")
    table = run_gkr(STAGE, rd, t, vctx.bytecode.log_n, "s6/table", "table GKR")
    check_sum(STAGE, S, [table])

    vals = rd.get_exts(len(HELPERS) + len(COLUMNS), "helper and bytecode columns at r")
    t.absorb_ext("s6/values", vals)
    hvals = [vals[:, i].copy() for i in range(len(HELPERS))]
    values = {name: vals[:, len(HELPERS) + j].copy() for j, name in enumerate(COLUMNS)}
    check_helper_final(STAGE, final, values, hvals, tau, r, alpha, g, rho)
    check_value(
        STAGE, "table claim", bytecode_table_den_at(vctx.bytecode, table.point, alpha, g), table.leaf_den
    )

    vctx.claims.append(Claim(r, values, "stage 6 bytecode"))
    vctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 6 helpers"))
    vctx.mult_claims["m_bc"] = (table.point, eneg(table.leaf_num))
    rd.expect_end()
