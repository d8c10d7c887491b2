"""Stage 2: consecutive rows follow the program's control flow (docs/protocol.md, stage 2).

Transcript: rho <- "s2/rho"; tau <- "s2/tau"; zero-check ("s2/zc", degree 3) of
  pc_shift(x) + last(x) pc(x) - N(x) + rho last(x) (1 - f_halt(x)) = 0
(``relations.constraints.cross_cycle_constraints``) -> r2; send pc_shift(r2) and
``STAGE2_COLUMNS`` at r2 ("s2/values"); shift sumcheck ("s2/shift", degree 2) of
sum_y next(r2, y) pc(y) = pc_shift(r2) -> r'; send pc(r') ("s2/pc_shift_point").
Claims: (r2, STAGE2_COLUMNS), (r', {pc}) and the boundary pc(0) = 0 (nothing sent).
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.quadratic import QuadraticZeroCheck
from prover.backends.dense.reduction import evaluate_columns
from prover.backends.dense.sumcheck import ProductSumcheckProver
from prover.field import ext_scalar
from prover.mle import eq_table
from prover.proof import Claim
from prover.relations.constraints import STAGE2_COLUMNS, cross_cycle_constraints, rho_powers
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 2 has no {ctx.backend!r} backend")
    t, T = ctx.transcript, ctx.T
    rho = t.challenge_ext("s2/rho")
    tau = t.challenge_exts("s2/tau", ctx.log_t)
    cols = dict(ctx.witness.materialized(STAGE2_COLUMNS))
    pc = cols["pc"]
    cols["pc_shift"] = np.concatenate([pc[1:], np.zeros(1, dtype=np.uint64)])
    last = np.zeros(T, dtype=np.uint64)
    last[-1] = 1
    cols["last"] = last
    cons = cross_cycle_constraints()
    zc = QuadraticZeroCheck(tau, cols, cons, rho_powers(rho, len(cons)), ext_scalar(0))
    proof, r2 = sumcheck_prove(zc, t, "s2/zc")
    del zc
    finals = evaluate_columns({n: cols[n] for n in ("pc_shift",) + STAGE2_COLUMNS}, r2)
    del cols
    vals = np.stack([finals["pc_shift"]] + [finals[n] for n in STAGE2_COLUMNS], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s2/values", vals)

    # next(r2, y) = eq(r2, y - 1) for y >= 1 and 0 at y = 0: the eq table shifted by one row.
    eq = eq_table(r2)
    nxt = np.concatenate([np.zeros((4, 1), dtype=np.uint64), eq[:, :-1]], axis=1)
    del eq
    sh = ProductSumcheckProver(nxt, pc)
    proof2, r_sh = sumcheck_prove(sh, t, "s2/shift")
    pc_at = sh.final_values()[1]
    del sh, nxt, pc
    ctx.section.put_sumcheck(proof2)
    ctx.section.put_ext(pc_at)
    t.absorb_ext("s2/pc_shift_point", pc_at)
    ctx.claims.append(Claim(r2, {n: finals[n] for n in STAGE2_COLUMNS}, "stage 2 cross-cycle"))
    ctx.claims.append(Claim(r_sh, {"pc": pc_at}, "stage 2 shift"))
    ctx.claims.append(Claim([ext_scalar(0) for _ in range(ctx.log_t)], {"pc": ext_scalar(0)}, "stage 2 pc(0) = 0"))
