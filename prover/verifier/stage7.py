"""Stage 7 verifier: the claim reduction (docs/protocol.md, stage 7).

beta <- "s7/beta"; the sumcheck ("s7/sc", degree 2) starts from sum_ij beta^idx v_ij over every
claim so far; reads the 64 column values at the sumcheck point s ("s7/values") and checks
sum_i eq(r_i, s) sum_j beta_ij col_j(s) against the final claim. Sets ``vctx.reduced``.
"""

from __future__ import annotations

from prover.field import eq_scalar, ext_to_ints
from prover.proof import Claim
from prover.relations.claims import batched_claim, reduced_value
from prover.relations.columns import COLUMNS
from prover.sumcheck.protocol import SumcheckError
from prover.sumcheck.protocol import verify as sumcheck_verify
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError

STAGE = 7


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    beta = t.challenge_ext("s7/beta")
    if not vctx.claims:
        raise VerificationError(STAGE, "claims", "no claims to reduce")
    proof = rd.get_sumcheck(k, 2, "claim-reduction sumcheck")
    try:
        final, s = sumcheck_verify(proof, batched_claim(vctx.claims, beta), k, 2, t, "s7/sc")
    except SumcheckError as exc:
        raise VerificationError(STAGE, "claim-reduction round", str(exc)) from None
    vals = rd.get_exts(len(COLUMNS), "column values at s")
    t.absorb_ext("s7/values", vals)
    values = {name: vals[:, j].copy() for j, name in enumerate(COLUMNS)}
    expected = reduced_value(vctx.claims, beta, s, values)
    if not eq_scalar(expected, final):
        raise VerificationError(
            STAGE, "claim-reduction final",
            f"sum_i eq(r_i, s) claims_i(values) = {ext_to_ints(expected)}, sumcheck claims {ext_to_ints(final)}",
        )
    vctx.reduced = Claim(s, values, "stage 7 reduced")
    rd.expect_end()
