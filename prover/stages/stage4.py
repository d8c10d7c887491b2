"""Stage 4: register reads return the last value written (docs/protocol.md, stage 4).

Offline memory checking with logUp: every access reads (reg, value, previous time) and writes
(reg, value', now); reads subtract, writes add, the initial state (r, 0, 0) adds and the final
state (sent in stage 2) subtracts, so the total is 0 (w.h.p.) iff reads and writes match up.
The read times are 2c - dB and 2c+1 - dA with dB, dA split into 11-bit limbs that are range
checked in the same sum (range tuples carry g^4; the range table's numerators are -m_rangeB).
alpha and g are stage 2's; the trace side (slots ``fingerprints.REGISTER_SLOTS``) uses stage 2's
helpers h4_0 = 1/(D_RS_B D_WS_B), h4_1 = 1/(D_RS_A D_WS_A), h4_2 = 1/(D_RG_Blo D_RG_Bhi),
h4_3 = 1/(D_RG_Alo D_RG_Ahi) (``HELPER_PAIRS[4]``); the pairs' numerators are
N_0 = (1 - use_imm)(D_RS_B - D_WS_B), N_1 = D_RS_A - D_WS_A, N_2 = D_lo + D_hi, N_3 likewise.

Transcript: send S = sum_c sum_i (N_i h_i)(c) ("s4/S"); rho <- "s4/rho"; tau <- "s4/tau"
(log T); sumcheck "s4/sc" (degree 4, log T rounds) of
    sum_x eq(tau, x) sum_i rho^i (h_i D_a,i D_b,i - 1)(x) + rho^4 sum_x sum_i (N_i h_i)(x) = rho^4 S
-> point r; GKR "s4/range" over the 2^11 range entries (n = -m_rangeB) -> r_t; send h4_0..h4_3 at
r and the register columns at r ("s4/values").
Section: S (ext), sumcheck (log T rounds x 5 ext), GKR(range, 11 vars), 4 + len(``COLUMNS``) ext
(helpers, then ``COLUMNS``). No final state (stage 2 sends it).
Claims: (r, ``COLUMNS``) in ``ctx.claims``; (r, h4_0..h4_3) in ``ctx.helper_claims``; m_rangeB at r_t.

Soundness (|E| ~ 2^124): the logUp identity as in v2 ((8T + 2^11 + 32) * 4 / |E|, fingerprints
of degree 4 in g); the helper zero-check batched with S: (4 + log T) / |E|; the sumcheck
4 log T / |E|; the range GKR sum_j 3 j / |E| over 11 layers. An honest prover fails only if
some D = 0 (charged by the logUp term).
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.gkr import prove_fraction_sum
from prover.backends.dense.logup import HelperSumcheck, HelperTables
from prover.backends.dense.reduction import evaluate_columns
from prover.backends.streaming.logup_registers import WindowedHelperSumcheck
from prover.field import emul, eneg, epow, neg
from prover.proof import Claim
from prover.relations.fingerprints import (
    REGISTER_SLOTS,
    range_table_den,
    slot_columns,
    stage_helpers,
)
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized", "streaming")

STAGE = 4
COLUMNS: tuple[str, ...] = slot_columns(REGISTER_SLOTS)
HELPERS: tuple[str, ...] = stage_helpers(STAGE)


def _finish(ctx: ProverContext, proof: object, r: list, hvals: list, finals: dict) -> None:
    """The table side (the range GKR, constant in T) and the section's tail: both backends."""
    t, alpha, g = ctx.transcript, ctx.alpha, ctx.gamma
    range_num = neg(ctx.mult["m_rangeB"].values)
    range_proof, rng = prove_fraction_sum(range_num, range_table_den(alpha, g), t, "s4/range")
    del range_num
    vals = np.stack(hvals + [finals[n] for n in COLUMNS], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_gkr(range_proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s4/values", vals)
    ctx.claims.append(Claim(r, {n: finals[n] for n in COLUMNS}, "stage 4 registers"))
    ctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 4 helpers"))
    ctx.mult_claims["m_rangeB"] = (rng.point, eneg(rng.leaf_num))


def _prove_streaming(ctx: ProverContext) -> None:
    """The trace side through the witness's chunked view (``WindowedHelperSumcheck``: stage 3's
    helper sumcheck with its streamed rounds in small windows, 3 + windows passes, O(sqrt T)); the helper rows from ``ctx.helpers`` while stage 2 leaves them there,
    else recomputed per span. The column values at r come from the values pass, which the range
    GKR does not touch, so they are taken before it (the transcript order is unchanged: the
    values are absorbed after the GKR in both backends)."""
    if ctx.alpha is None or ctx.gamma is None:
        raise ValueError("stage 4 needs stage 2's alpha and gamma")
    t = ctx.transcript
    helpers = [ctx.helpers[n] for n in HELPERS] if all(n in ctx.helpers for n in HELPERS) else None
    prover = WindowedHelperSumcheck(ctx.witness, STAGE, ctx.alpha, ctx.gamma, helpers)
    S = prover.fraction_sum()
    ctx.section.put_ext(S)
    t.absorb_ext("s4/S", S)
    rho = t.challenge_ext("s4/rho")
    tau = t.challenge_exts("s4/tau", ctx.log_t)
    prover.start(tau, rho)
    proof, r = sumcheck_prove(prover, t, "s4/sc")
    hvals = prover.final_helpers()
    finals = prover.final_values(r)
    del prover, helpers
    _finish(ctx, proof, r, hvals, finals)


def prove(ctx: ProverContext) -> None:
    if ctx.backend == "streaming":
        _prove_streaming(ctx)
    elif ctx.backend == "materialized":
        if ctx.alpha is None or ctx.gamma is None or not ctx.helpers:
            raise ValueError("stage 4 needs stage 2's alpha, gamma and helpers")
        t, T = ctx.transcript, ctx.T
        alpha, g = ctx.alpha, ctx.gamma

        cols = ctx.witness.materialized(COLUMNS)
        tables = HelperTables.build(STAGE, cols, T, alpha, g, [ctx.helpers[n] for n in HELPERS])
        S = tables.fraction_sum()
        ctx.section.put_ext(S)
        t.absorb_ext("s4/S", S)
        rho = t.challenge_ext("s4/rho")
        tau = t.challenge_exts("s4/tau", ctx.log_t)
        prover = HelperSumcheck(tables, tau, rho, emul(epow(rho, len(HELPERS)), S))
        del tables
        proof, r = sumcheck_prove(prover, t, "s4/sc")
        hvals = prover.final_helpers()
        del prover

        finals = evaluate_columns(cols, r)
        del cols
        _finish(ctx, proof, r, hvals, finals)
    else:
        raise NotImplementedError(f"stage 4 has no {ctx.backend!r} backend")
