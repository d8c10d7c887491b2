"""Stage 1: the per-cycle constraints hold on every row (docs/protocol.md, stage 1).

Transcript: rho <- "s1/rho"; tau <- "s1/tau" (log T); zero-check of
sum_x eq(tau, x) sum_k rho^k C_k(x) = 0 (degree 3, label "s1/zc") -> r1; then the values of
``stage1_columns()`` at r1 are sent and absorbed ("s1/values"). Appends Claim(r1, values).
Section: the sumcheck proof, then the column values (ext each, ``stage1_columns()`` order).
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.quadratic import QuadraticZeroCheck
from prover.backends.dense.reduction import evaluate_columns
from prover.field import ext_scalar
from prover.proof import Claim
from prover.relations.constraints import constraints, rho_powers, stage1_columns
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 1 has no {ctx.backend!r} backend")
    t = ctx.transcript
    rho = t.challenge_ext("s1/rho")
    tau = t.challenge_exts("s1/tau", ctx.log_t)
    names = stage1_columns()
    cols = ctx.witness.materialized(names)
    cons = constraints()
    prover = QuadraticZeroCheck(tau, cols, cons, rho_powers(rho, len(cons)), ext_scalar(0))
    proof, r1 = sumcheck_prove(prover, t, "s1/zc")
    del prover
    finals = evaluate_columns(cols, r1)
    del cols
    vals = np.stack([finals[n] for n in names], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s1/values", vals)
    ctx.claims.append(Claim(r1, {n: finals[n] for n in names}, "stage 1 constraints"))
