"""Stage 7 verifier: the claim reduction (docs/protocol.md, stage 7).

beta <- "s7/beta"; the sumcheck ("s7/sc", degree 2) starts from sum_ij beta^idx v_ij over the
trace claims, the helper claims and stage 1's shift claim (that order); reads the 64 trace
columns and the 36 helper polys at the sumcheck point s ("s7/values"), rebuilds each helper's
ext value sum_c X^c h.c(s), and checks sum_i eq(r_i, s) sum_j beta_ij col_j(s) +
beta_shift next(r1, s) pc(s) against the final claim. Sets ``vctx.reduced``.
"""

from __future__ import annotations

from prover.field import eq_scalar, ext_to_ints
from prover.proof import Claim
from prover.relations.claims import batched_claim, ext_of_components, reduced_value
from prover.relations.columns import COLUMNS
from prover.relations.fingerprints import HELPER_NAMES, HELPER_POLYS
from prover.sumcheck.protocol import SumcheckError
from prover.sumcheck.protocol import verify as sumcheck_verify
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError

STAGE = 7


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    beta = t.challenge_ext("s7/beta")
    if not vctx.claims or vctx.shift_claim is None:
        raise VerificationError(STAGE, "claims", "no claims to reduce")
    claims = list(vctx.claims) + list(vctx.helper_claims)
    proof = rd.get_sumcheck(k, 2, "claim-reduction sumcheck")
    try:
        final, s = sumcheck_verify(proof, batched_claim(claims + [vctx.shift_claim], beta), k, 2, t, "s7/sc")
    except SumcheckError as exc:
        raise VerificationError(STAGE, "claim-reduction round", str(exc)) from None
    order = COLUMNS + HELPER_POLYS
    vals = rd.get_exts(len(order), "trace and helper values at s")
    t.absorb_ext("s7/values", vals)
    values = {name: vals[:, j].copy() for j, name in enumerate(order)}
    at_s = dict(values)
    for h in HELPER_NAMES:
        at_s[h] = ext_of_components([values[f"{h}.{c}"] for c in range(4)])
    expected = reduced_value(claims, beta, s, at_s, shift=vctx.shift_claim)
    if not eq_scalar(expected, final):
        raise VerificationError(
            STAGE, "claim-reduction final",
            f"sum_i w_i(s) claims_i(values) = {ext_to_ints(expected)}, sumcheck claims {ext_to_ints(final)}",
        )
    vctx.reduced = Claim(s, values, "stage 7 reduced")
    rd.expect_end()
