"""Stage 1 verifier: the zero-check of the per-cycle and cross-cycle constraints (docs/protocol.md).

Replays: rho, tau <- transcript; sumcheck of sum_x eq(tau, x) sum_k rho^k C_k(x) = 0 over
``stage1_constraints()`` (degree 3, log T rounds) -> r1; reads the claimed values of
``stage1_columns()`` and pc_shift at r1, absorbs them and checks
eq(tau, r1) sum_k rho^k C_k(values, pc_shift, last(r1)) against the final claim, with
last(r1) = prod_j r1_j public. Appends Claim(r1, values); sets ``vctx.shift_claim`` to
(r1, pc: pc_shift(r1)), which stage 7 reduces through next(r1, y) pc(y).
"""

from __future__ import annotations

from prover.field import emul, eq_scalar, ext_scalar, ext_to_ints
from prover.mle import eq_eval
from prover.proof import Claim
from prover.relations.constraints import last_row_eval, stage1_columns, stage1_combine_at
from prover.sumcheck.protocol import SumcheckError
from prover.sumcheck.protocol import verify as sumcheck_verify
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError

STAGE = 1
DEGREE = 3


def verify(vctx: VerifierContext) -> None:
    t, rd = vctx.transcript, vctx.reader
    rho = t.challenge_ext("s1/rho")
    tau = t.challenge_exts("s1/tau", vctx.log_t)
    proof = rd.get_sumcheck(vctx.log_t, DEGREE, "zero-check")
    try:
        final, r1 = sumcheck_verify(proof, ext_scalar(0), vctx.log_t, DEGREE, t, "s1/zc")
    except SumcheckError as exc:
        raise VerificationError(STAGE, "zero-check round", str(exc)) from None
    names = stage1_columns()
    vals = rd.get_exts(len(names) + 1, "column values and pc_shift at r1")
    t.absorb_ext("s1/values", vals)
    values = {name: vals[:, j].copy() for j, name in enumerate(names)}
    pc_shift = vals[:, len(names)].copy()
    expected = emul(eq_eval(tau, r1), stage1_combine_at(values, pc_shift, last_row_eval(r1), rho))
    if not eq_scalar(expected, final):
        raise VerificationError(
            STAGE, "zero-check final",
            f"eq(tau, r1) * constraints(values) = {ext_to_ints(expected)}, sumcheck claims {ext_to_ints(final)}",
        )
    vctx.claims.append(Claim(r1, values, "stage 1 constraints"))
    vctx.shift_claim = Claim(r1, {"pc": pc_shift}, "stage 1 pc(c + 1)")
    vctx.claims.append(Claim([ext_scalar(0)] * vctx.log_t, {"pc": ext_scalar(0)}, "pc(0) = 0"))
    rd.expect_end()
