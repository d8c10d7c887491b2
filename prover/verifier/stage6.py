"""Stage 6 verifier: bytecode (docs/protocol.md, stage 6).

Replays: alpha, g <- transcript; GKR "s6/leaves" (log T vars) -> root, r_cycle, leaf claims;
GKR "s6/table" (log_n vars of the padded program) -> root, r_t, claims; read the 18 bytecode
columns at r_cycle.
Checks: "roots cancel"; the leaf claim (n = 1, d = alpha - fp(columns)); the table claim
against the program table's MLE, which the verifier computes from the public program.
Appends Claim(r_cycle, bytecode columns) and m_bc(r_t) = -n_table.
"""

from __future__ import annotations

from prover.field import eneg
from prover.proof import Claim
from prover.relations.fingerprints import (
    BYTECODE_SLOTS,
    bytecode_table_den_at,
    leaves_at,
    slot_columns,
)
from prover.verifier.context import VerifierContext
from prover.verifier.logup import check_roots, check_value, run_gkr

STAGE = 6
COLUMNS: tuple[str, ...] = slot_columns(BYTECODE_SLOTS)


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    alpha = t.challenge_ext("s6/alpha")
    g = t.challenge_ext("s6/gamma")
    leaf = run_gkr(STAGE, rd, t, k, "s6/leaves", "leaf GKR")
    table = run_gkr(STAGE, rd, t, vctx.bytecode.log_n, "s6/table", "table GKR")
    check_roots(STAGE, [leaf, table])

    vals = rd.get_exts(len(COLUMNS), "bytecode columns at r_cycle")
    t.absorb_ext("s6/values", vals)
    values = {name: vals[:, j].copy() for j, name in enumerate(COLUMNS)}
    n_exp, d_exp = leaves_at(BYTECODE_SLOTS, values, leaf.point, [], alpha, g)
    check_value(STAGE, "leaf claim numerator", n_exp, leaf.leaf_num)
    check_value(STAGE, "leaf claim denominator", d_exp, leaf.leaf_den)
    check_value(
        STAGE, "table claim", bytecode_table_den_at(vctx.bytecode, table.point, alpha, g), table.leaf_den
    )

    vctx.claims.append(Claim(leaf.point, values, "stage 6 bytecode"))
    vctx.mult_claims["m_bc"] = (table.point, eneg(table.leaf_num))
    rd.expect_end()
