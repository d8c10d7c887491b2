"""Stage 1: the per-cycle and cross-cycle constraints hold on every row (docs/protocol.md, stage 1).

Protocol v3 folds v2 stage 2's zero-check in here: one zero-check carries the 35 per-cycle
constraints and the two cross-cycle relations (next pc, last row halted), which read the
shifted pc column ``pc_shift`` (pc(c + 1), 0 past the end) and the public last-row indicator.
Transcript: rho <- "s1/rho"; tau <- "s1/tau" (log T); zero-check of
sum_x eq(tau, x) sum_k rho^k C_k(x) = 0 (degree 3, label "s1/zc") -> r1; then the values of
``stage1_columns()`` at r1 and pc_shift(r1) are sent and absorbed ("s1/values").
Claims: Claim(r1, the 53 columns) on ``ctx.claims``; pc_shift(r1) = sum_y next(r1, y) pc(y) is
``ctx.shift_claim``, which stage 7 reduces with the others (no shift sumcheck of its own).
Section: the sumcheck proof, then 53 + 1 ext values (``stage1_columns()`` order, then pc_shift).

Backends: ``materialized`` builds the 53 columns (and pc_shift, last) at length T and runs the
dense ``QuadraticZeroCheck``; ``streaming`` (``prover.backends.streaming.zerocheck``) reads the
trace span by span in three passes (a window of the first j rounds on the {0, 1, inf}^j grid,
the hand-off of T / 2^j-entry tables to the dense prover, the values at r1), O(sqrt T) memory.
Both give the same bytes.
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.quadratic import QuadraticZeroCheck
from prover.backends.dense.reduction import evaluate_columns
# (its kernels are compiled or loaded from numba's cache here, at import, never inside the stage)
from prover.backends.streaming.zerocheck import StreamingQuadraticZeroCheck
from prover.field import U64, ext_scalar
from prover.proof import Claim
from prover.relations.constraints import rho_powers, stage1_columns, stage1_constraints
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import SumcheckProof
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized", "streaming")


def _finish(ctx: ProverContext, proof: SumcheckProof, r1: list[U64], finals: dict[str, U64]) -> None:
    """Section, transcript and claims from the sumcheck proof and the values at r1."""
    names = stage1_columns()
    vals = np.stack([finals[n] for n in names + ("pc_shift",)], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_exts(vals)
    ctx.transcript.absorb_ext("s1/values", vals)
    ctx.claims.append(Claim(r1, {n: finals[n] for n in names}, "stage 1 constraints"))
    ctx.shift_claim = Claim(r1, {"pc": finals["pc_shift"]}, "stage 1 pc(c + 1)")
    ctx.claims.append(Claim([ext_scalar(0)] * ctx.log_t, {"pc": ext_scalar(0)}, "pc(0) = 0"))


def _prove_streaming(ctx: ProverContext) -> None:
    t = ctx.transcript
    rho = t.challenge_ext("s1/rho")
    tau = t.challenge_exts("s1/tau", ctx.log_t)
    cons = stage1_constraints()
    prover = StreamingQuadraticZeroCheck(
        ctx.witness, tau, cons, rho_powers(rho, len(cons)), stage1_columns(),
        shift=("pc_shift", "pc"), last="last", claim=ext_scalar(0),
    )
    proof, r1 = sumcheck_prove(prover, t, "s1/zc")
    finals = prover.final_values(r1)
    _finish(ctx, proof, r1, finals)


def prove(ctx: ProverContext) -> None:
    if ctx.backend == "streaming":
        _prove_streaming(ctx)
    elif ctx.backend == "materialized":
        # The baseline: the 53 columns, pc_shift and last at length T, the dense zero-check.
        t, T = ctx.transcript, ctx.T
        rho = t.challenge_ext("s1/rho")
        tau = t.challenge_exts("s1/tau", ctx.log_t)
        names = stage1_columns()
        cols = dict(ctx.witness.materialized(names))
        pc = cols["pc"]
        shifted = np.zeros(T, dtype=np.uint64)
        shifted[:-1] = pc[1:]
        last = np.zeros(T, dtype=np.uint64)
        last[-1] = 1
        cols["pc_shift"] = shifted
        cols["last"] = last
        cons = stage1_constraints()
        prover = QuadraticZeroCheck(tau, cols, cons, rho_powers(rho, len(cons)), ext_scalar(0))
        proof, r1 = sumcheck_prove(prover, t, "s1/zc")
        del prover
        finals = evaluate_columns({n: cols[n] for n in names + ("pc_shift",)}, r1)
        del cols, shifted, last
        _finish(ctx, proof, r1, finals)
    else:
        raise NotImplementedError(f"stage 1 has no {ctx.backend!r} backend")
