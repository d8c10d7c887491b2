"""Stage 6: every cycle executes the program's instruction at its pc (docs/protocol.md, stage 6).

logUp: sum over the T cycles of 1 / (alpha - sum_k g^k field_k(c)) over the 18 bytecode
columns, plus sum over the padded program table of -m_bc(i) / (alpha - fp(row i)), is 0 (w.h.p.)
iff every cycle's decoded instruction tuple (pc included) is a program row. alpha and g are
stage 2's; the one slot (``fingerprints.BYTECODE_SLOTS``) has its own helper h6_0 = 1 / D.

Transcript: send S = sum_c h6_0(c) ("s6/S"); rho <- "s6/rho"; tau <- "s6/tau" (log T);
sumcheck "s6/sc" (degree 4 as the other stages' format, log T rounds; this summand has degree 3) of
    sum_x eq(tau, x) (h D - 1)(x) + rho sum_x h(x) = rho S
-> point r; GKR "s6/table" over the 2^log_n program rows (n = -m_bc) -> r_t; send h6_0(r) and the
18 bytecode columns at r ("s6/values").
Section: S (ext), sumcheck (log T rounds x 5 ext), GKR(table, log_n vars), 1 + 18 ext values.
Claims: (r, bytecode columns) in ``ctx.claims``; (r, h6_0) in ``ctx.helper_claims``; m_bc at r_t.

Soundness (|E| ~ 2^124): the logUp identity as in v2 ((T + 2^log_n) * 17 / |E|); the helper
zero-check batched with S: (1 + log T) / |E|; the sumcheck 4 log T / |E|; the table GKR.

Backends: ``materialized`` builds the 18 bytecode columns at length T, the dense ``HelperTables``
and ``HelperSumcheck``; ``streaming`` runs the same sumcheck from the witness's chunked view
(``backends.streaming.logup.StreamingHelperSumcheck``, stage 3's: 4 passes, O(sqrt T)), reading
h6_0's rows from ``ctx.helpers`` while stage 2 leaves them there and recomputing them per span
otherwise. Stage 3's one window, not stage 4's windowed schedule: stage 6's grids are small (one
slot: h D of degree 2, h alone in the fraction), so a pass (a replay and the 18 columns' build)
costs more than the grid work a second window saves (stage 6 at 2^20, stages 0-5 run once and
the stage repeated on copies, 3 runs each: 0.68-0.73 s with one window, 0.88-0.91 s windowed,
0.34-0.96 s materialized; 2026-12-07 22:50 UTC, load ~1). The program table side (constant in T) is the
dense GKR in both. Both give the same bytes.
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.gkr import prove_fraction_sum
from prover.backends.dense.logup import HelperSumcheck, HelperTables
from prover.backends.dense.reduction import evaluate_columns
from prover.backends.streaming.logup import StreamingHelperSumcheck
from prover.field import emul, eneg, epow, neg
from prover.proof import Claim
from prover.relations.fingerprints import (
    BYTECODE_SLOTS,
    bytecode_table_den,
    slot_columns,
    stage_helpers,
)
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized", "streaming")

STAGE = 6
COLUMNS: tuple[str, ...] = slot_columns(BYTECODE_SLOTS)
HELPERS: tuple[str, ...] = stage_helpers(STAGE)


def _finish(ctx: ProverContext, proof: object, r: list, hvals: list, finals: dict) -> None:
    """The table side (the program table's GKR, constant in T) and the section's tail."""
    t, alpha, g = ctx.transcript, ctx.alpha, ctx.gamma
    table_num = neg(ctx.mult["m_bc"].values)
    table_proof, table = prove_fraction_sum(table_num, bytecode_table_den(ctx.bytecode, alpha, g), t, "s6/table")
    del table_num
    vals = np.stack(hvals + [finals[n] for n in COLUMNS], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_gkr(table_proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s6/values", vals)
    ctx.claims.append(Claim(r, {n: finals[n] for n in COLUMNS}, "stage 6 bytecode"))
    ctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 6 helpers"))
    ctx.mult_claims["m_bc"] = (table.point, eneg(table.leaf_num))


def _prove_streaming(ctx: ProverContext) -> None:
    """The trace side in O(sqrt T) (stage 3's streaming helper sumcheck on the bytecode slot); the
    columns at r come from its values pass, before the table GKR, which does not read them."""
    if ctx.alpha is None or ctx.gamma is None:
        raise ValueError("stage 6 needs stage 2's alpha and gamma")
    t = ctx.transcript
    helpers = [ctx.helpers[n] for n in HELPERS] if all(n in ctx.helpers for n in HELPERS) else None
    prover = StreamingHelperSumcheck(ctx.witness, STAGE, ctx.alpha, ctx.gamma, helpers)
    del helpers
    S = prover.fraction_sum()
    ctx.section.put_ext(S)
    t.absorb_ext("s6/S", S)
    rho = t.challenge_ext("s6/rho")
    tau = t.challenge_exts("s6/tau", ctx.log_t)
    prover.start(tau, rho)
    proof, r = sumcheck_prove(prover, t, "s6/sc")
    _finish(ctx, proof, r, prover.final_helpers(), prover.final_values(r))


def prove(ctx: ProverContext) -> None:
    if ctx.backend == "streaming":
        _prove_streaming(ctx)
    elif ctx.backend == "materialized":
        if ctx.alpha is None or ctx.gamma is None or not ctx.helpers:
            raise ValueError("stage 6 needs stage 2's alpha, gamma and helpers")
        t, T = ctx.transcript, ctx.T
        alpha, g = ctx.alpha, ctx.gamma

        cols = ctx.witness.materialized(COLUMNS)
        tables = HelperTables.build(STAGE, cols, T, alpha, g, [ctx.helpers[n] for n in HELPERS])
        S = tables.fraction_sum()
        ctx.section.put_ext(S)
        t.absorb_ext("s6/S", S)
        rho = t.challenge_ext("s6/rho")
        tau = t.challenge_exts("s6/tau", ctx.log_t)
        prover = HelperSumcheck(tables, tau, rho, emul(epow(rho, len(HELPERS)), S))
        del tables
        proof, r = sumcheck_prove(prover, t, "s6/sc")
        hvals = prover.final_helpers()
        del prover

        finals = evaluate_columns(cols, r)
        del cols
        _finish(ctx, proof, r, hvals, finals)
    else:
        raise NotImplementedError(f"stage 6 has no {ctx.backend!r} backend")
