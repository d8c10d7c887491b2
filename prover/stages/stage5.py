"""Stage 5: RAM reads return the last value written (docs/protocol.md, stage 5).

Offline memory checking with logUp, as stage 4, on the M = 2^12 RAM words: a LOAD/STORE at
cycle c (mem = f_load + f_store) reads (addr, mold, c - dM) and writes (addr, z, c + 1) with
addr = y_lo + imm_lo; non-memory cycles have numerator 0. The initial RAM (program image +
input, public) adds, the final RAM (sent in stage 2, where the verifier also checks the
statement's output against it) subtracts; dM's two 11-bit limbs are range checked in the same
sum against the 2^11 table with numerators -m_rangeM. alpha and g are stage 2's; the trace side
(slots ``fingerprints.RAM_SLOTS``) uses stage 2's helpers h5_0 = 1/(D_RS_M D_WS_M) and
h5_1 = 1/(D_RG_Mlo D_RG_Mhi) (``HELPER_PAIRS[5]``), numerators N_0 = mem (D_RS_M - D_WS_M),
N_1 = D_lo + D_hi.

Transcript: send S = sum_c sum_i (N_i h_i)(c) ("s5/S"); rho <- "s5/rho"; tau <- "s5/tau"
(log T); sumcheck "s5/sc" (degree 4, log T rounds) of
    sum_x eq(tau, x) sum_i rho^i (h_i D_a,i D_b,i - 1)(x) + rho^2 sum_x sum_i (N_i h_i)(x) = rho^2 S
-> point r; GKR "s5/range" over the range table (n = -m_rangeM) -> r_t; send h5_0, h5_1 and the
RAM columns at r ("s5/values").
Section: S (ext), sumcheck (log T rounds x 5 ext), GKR(range, 11 vars), 2 + len(``COLUMNS``) ext
(helpers, then ``COLUMNS``). No final state (stage 2 sends it).
Claims: (r, ``COLUMNS``) in ``ctx.claims``; (r, h5_0, h5_1) in ``ctx.helper_claims``; m_rangeM at r_t.

Soundness (|E| ~ 2^124): the logUp identity as in v2 ((4T + 2^11 + 2 M) * 4 / |E|); the helper
zero-check batched with S: (2 + log T) / |E|; the sumcheck 4 log T / |E|; the range GKR
sum_j 3 j / |E| over 11 layers. An honest prover fails only if some D = 0.

Backends: ``materialized`` builds the RAM columns at length T, the dense ``HelperTables`` and
``HelperSumcheck``; ``streaming`` runs the same sumcheck from the witness's chunked view
(``backends.streaming.logup_ram.stream_trace_side``: stage 4's windowed helper sumcheck, 3 +
windows passes, O(sqrt T)), reading the helper rows from ``ctx.helpers`` while stage 2 leaves them
there and recomputing them per span otherwise. The range table side (2^11 entries) is the dense
GKR in both. Both give the same bytes.
"""

from __future__ import annotations

import numpy as np

from prover.backends.dense.gkr import prove_fraction_sum
from prover.backends.dense.logup import HelperSumcheck, HelperTables
from prover.backends.dense.reduction import evaluate_columns
from prover.backends.streaming.logup_ram import stream_trace_side
from prover.field import emul, eneg, epow, neg
from prover.proof import Claim
from prover.relations.fingerprints import (
    RAM_SLOTS,
    range_table_den,
    slot_columns,
    stage_helpers,
)
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized", "streaming")

STAGE = 5
COLUMNS: tuple[str, ...] = slot_columns(RAM_SLOTS)
HELPERS: tuple[str, ...] = stage_helpers(STAGE)


def _finish(ctx: ProverContext, proof: object, r: list, hvals: list, finals: dict) -> None:
    """The table side (the range GKR, constant in T) and the section's tail: both backends."""
    t, alpha, g = ctx.transcript, ctx.alpha, ctx.gamma
    range_num = neg(ctx.mult["m_rangeM"].values)
    range_proof, rng = prove_fraction_sum(range_num, range_table_den(alpha, g), t, "s5/range")
    del range_num
    vals = np.stack(hvals + [finals[n] for n in COLUMNS], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_gkr(range_proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s5/values", vals)
    ctx.claims.append(Claim(r, {n: finals[n] for n in COLUMNS}, "stage 5 RAM"))
    ctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 5 helpers"))
    ctx.mult_claims["m_rangeM"] = (rng.point, eneg(rng.leaf_num))


def prove(ctx: ProverContext) -> None:
    if ctx.backend == "streaming":
        # the trace side in O(sqrt T) (``backends.streaming.logup_ram``); the columns at r come
        # from its values pass, before the range GKR, which does not read them
        _finish(ctx, *stream_trace_side(ctx, STAGE))
    elif ctx.backend == "materialized":
        if ctx.alpha is None or ctx.gamma is None or not ctx.helpers:
            raise ValueError("stage 5 needs stage 2's alpha, gamma and helpers")
        t, T = ctx.transcript, ctx.T
        alpha, g = ctx.alpha, ctx.gamma

        cols = ctx.witness.materialized(COLUMNS)
        tables = HelperTables.build(STAGE, cols, T, alpha, g, [ctx.helpers[n] for n in HELPERS])
        S = tables.fraction_sum()
        ctx.section.put_ext(S)
        t.absorb_ext("s5/S", S)
        rho = t.challenge_ext("s5/rho")
        tau = t.challenge_exts("s5/tau", ctx.log_t)
        prover = HelperSumcheck(tables, tau, rho, emul(epow(rho, len(HELPERS)), S))
        del tables
        proof, r = sumcheck_prove(prover, t, "s5/sc")
        hvals = prover.final_helpers()
        del prover

        finals = evaluate_columns(cols, r)
        del cols
        _finish(ctx, proof, r, hvals, finals)
    else:
        raise NotImplementedError(f"stage 5 has no {ctx.backend!r} backend")
