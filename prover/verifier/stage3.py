"""Stage 3 verifier: the instruction lookups (docs/protocol.md, stage 3).

Replays: alpha, g <- transcript; GKR "s3/leaves" (2 + log T vars) -> root (pL, qL), leaf point
(r_cycle, r_slot), leaf claims (nL, dL); GKR "s3/table" (19 vars) -> root (pT, qT), point r_t,
claims (nT, dT); reads the 16 lookup columns at r_cycle.
Checks: qL, qT != 0 and pL/qL + pT/qT = 0 ("roots cancel"); (nL, dL) equal the slot formulas
on the claimed values folded by eq(r_slot) ("leaf claim"); dT equals the table's own MLE at r_t
("table claim"). Appends Claim(r_cycle, lookup columns) and m_instr(r_t) = -nT.
"""

from __future__ import annotations

from prover.field import eneg
from prover.proof import Claim
from prover.relations.fingerprints import LOOKUP_SLOTS, leaves_at, lookup_table_den_at, slot_columns
from prover.relations.lookup_table import LOG_SIZE
from prover.verifier.context import VerifierContext
from prover.verifier.logup import check_roots, check_value, run_gkr

STAGE = 3
COLUMNS: tuple[str, ...] = slot_columns(LOOKUP_SLOTS)
SLOT_BITS = 2


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    alpha = t.challenge_ext("s3/alpha")
    g = t.challenge_ext("s3/gamma")
    leaf = run_gkr(STAGE, rd, t, k + SLOT_BITS, "s3/leaves", "leaf GKR")
    table = run_gkr(STAGE, rd, t, LOG_SIZE, "s3/table", "table GKR")
    check_roots(STAGE, [leaf, table])

    vals = rd.get_exts(len(COLUMNS), "lookup columns at r_cycle")
    t.absorb_ext("s3/values", vals)
    values = {name: vals[:, j].copy() for j, name in enumerate(COLUMNS)}
    r_cycle, r_slot = leaf.point[:k], leaf.point[k:]
    n_exp, d_exp = leaves_at(LOOKUP_SLOTS, values, r_cycle, r_slot, alpha, g)
    check_value(STAGE, "leaf claim numerator", n_exp, leaf.leaf_num)
    check_value(STAGE, "leaf claim denominator", d_exp, leaf.leaf_den)
    check_value(STAGE, "table claim", lookup_table_den_at(table.point, alpha, g), table.leaf_den)

    vctx.claims.append(Claim(r_cycle, values, "stage 3 lookups"))
    vctx.mult_claims["m_instr"] = (table.point, eneg(table.leaf_num))
    rd.expect_end()
