"""Stage 2 verifier: the cross-cycle relation (docs/protocol.md, stage 2).

Replays: rho, tau <- transcript; zero-check (degree 3, log T rounds) of
  pc_shift(x) + last(x) pc(x) - N(x) + rho last(x) (1 - f_halt(x)) = 0,  N = next pc,
-> r2; reads pc_shift(r2) and ``STAGE2_COLUMNS`` at r2 (last(r2) = prod_j r2_j is public);
then the shift sumcheck sum_y next(r2, y) pc(y) = pc_shift(r2) (degree 2) -> r', reads pc(r')
and checks it against next(r2, r') (``mle.next_eval``). Appends Claim(r2, STAGE2_COLUMNS),
Claim(r', {pc}) and the boundary claim pc(0) = 0 as Claim(0, {pc: 0}).
"""

from __future__ import annotations

from prover.field import emul, eq_scalar, ext_scalar, ext_to_ints
from prover.mle import eq_eval, next_eval
from prover.proof import Claim
from prover.relations.constraints import STAGE2_COLUMNS, cross_cycle_at, last_row_eval
from prover.sumcheck.protocol import SumcheckError
from prover.sumcheck.protocol import verify as sumcheck_verify
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError

STAGE = 2


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    rho = t.challenge_ext("s2/rho")
    tau = t.challenge_exts("s2/tau", k)
    zc = rd.get_sumcheck(k, 3, "cross-cycle zero-check")
    try:
        final, r2 = sumcheck_verify(zc, ext_scalar(0), k, 3, t, "s2/zc")
    except SumcheckError as exc:
        raise VerificationError(STAGE, "cross-cycle zero-check round", str(exc)) from None
    vals = rd.get_exts(1 + len(STAGE2_COLUMNS), "values at r2")
    t.absorb_ext("s2/values", vals)
    pc_shift = vals[:, 0].copy()
    values = {name: vals[:, 1 + j].copy() for j, name in enumerate(STAGE2_COLUMNS)}
    expected = emul(eq_eval(tau, r2), cross_cycle_at(values, pc_shift, last_row_eval(r2), rho))
    if not eq_scalar(expected, final):
        raise VerificationError(
            STAGE, "cross-cycle zero-check final",
            f"eq(tau, r2) * relation(values) = {ext_to_ints(expected)}, sumcheck claims {ext_to_ints(final)}",
        )
    sh = rd.get_sumcheck(k, 2, "shift sumcheck")
    try:
        final2, r_sh = sumcheck_verify(sh, pc_shift, k, 2, t, "s2/shift")
    except SumcheckError as exc:
        raise VerificationError(STAGE, "shift sumcheck round", str(exc)) from None
    pc_at = rd.get_ext("pc at the shift point")
    t.absorb_ext("s2/pc_shift_point", pc_at)
    expected2 = emul(next_eval(r2, r_sh), pc_at)
    if not eq_scalar(expected2, final2):
        raise VerificationError(
            STAGE, "shift sumcheck final",
            f"next(r2, r') * pc(r') = {ext_to_ints(expected2)}, sumcheck claims {ext_to_ints(final2)}",
        )
    vctx.claims.append(Claim(r2, values, "stage 2 cross-cycle"))
    vctx.claims.append(Claim(r_sh, {"pc": pc_at}, "stage 2 shift"))
    vctx.claims.append(Claim([ext_scalar(0) for _ in range(k)], {"pc": ext_scalar(0)}, "stage 2 pc(0) = 0"))
    rd.expect_end()
