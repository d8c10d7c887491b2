"""Stage 3: every cycle's four lookup tuples lie in the instruction table (docs/protocol.md, stage 3).

logUp: sum over the 4T trace fractions (slot j, cycle c) of 1 / (alpha - fp(a_j, b_j, o1_j, o2_j)(c))
plus sum over the 2^19 table entries of -m_instr(i) / (alpha - fp(table)(i)) is 0 (w.h.p. over
alpha) iff the multiset of looked-up tuples is the table with multiplicities m_instr. alpha and g
are stage 2's; the trace side uses stage 2's committed helpers h3_0 = 1 / (D_0 D_1),
h3_1 = 1 / (D_2 D_3) (slots ``fingerprints.LOOKUP_SLOTS``, pairs ``HELPER_PAIRS[3]``).

Transcript: send S = sum_c sum_i (D_a + D_b) h_i (c) ("s3/S"); rho <- "s3/rho"; tau <- "s3/tau"
(log T); sumcheck "s3/sc" (degree 4, log T rounds) of
    sum_x eq(tau, x) sum_i rho^i (h_i D_a,i D_b,i - 1)(x) + rho^2 sum_x sum_i ((D_a,i + D_b,i) h_i)(x)
  = rho^2 S  -> point r  (``backends.dense.logup.HelperSumcheck``; degree 4 = eq h D D, sent
as s(0..4): the split eq is used inside the prover only);
fraction-sum GKR "s3/table" over the table (n = -m_instr) -> table point r_t; send h3_0(r),
h3_1(r) and the 16 lookup columns at r ("s3/values").
Section: S (ext), sumcheck (log T rounds x 5 ext), GKR(table, 19 vars), 2 + 16 ext values
(helpers in pair order, then the columns in ``COLUMNS`` order).
Claims: (r, a0..a3, b0..b3, o1_*, o2_*) in ``ctx.claims``; (r, h3_0, h3_1) in
``ctx.helper_claims``; m_instr at r_t.

Soundness (|E| ~ 2^124): the logUp identity at alpha, g as in v2 ((4T + 2^19) * 3 / |E|, the
fingerprint being of degree 3 in g); the helper zero-check with S batched by rho: if some
h_i D_a D_b != 1 on the hypercube or S is not the trace side's sum, the claim fails as a
polynomial in (rho, tau) of degree <= P + log T = 2 + log T, so w.p. <= (2 + log T) / |E|
(S is absorbed before rho, tau; an honest prover fails only if some D = 0, the event logUp
charges); the sumcheck 4 log T / |E|; the table GKR as v2 (sum_j 3 j / |E| over its 19 layers).

Backends: ``materialized`` builds the 16 columns at length T, the dense ``HelperTables`` and
``HelperSumcheck``; ``streaming`` (``prover.backends.streaming.logup``, written once for stages
3-6) reads the trace span by span in four passes (S with the fraction grid; a window of the first
j rounds on the {0, 1, 2, inf}^j grid; the hand-off of T / 2^j-entry tables to the dense
``HelperSumcheck``; the 16 columns at r), O(sqrt T) memory on the trace side. It reads the helper
rows from ``ctx.helpers`` while stage 2 leaves them there, and recomputes them per span (one batch
inversion, the same values) when it does not. The table side (2^19 entries, constant in T) is the
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
    LOOKUP_SLOTS,
    lookup_table_den,
    slot_columns,
    stage_helpers,
)
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized", "streaming")

STAGE = 3
COLUMNS: tuple[str, ...] = slot_columns(LOOKUP_SLOTS)
HELPERS: tuple[str, ...] = stage_helpers(STAGE)


def _prove_streaming(ctx: ProverContext) -> None:
    if ctx.alpha is None or ctx.gamma is None:
        raise ValueError("stage 3 needs stage 2's alpha and gamma")
    t = ctx.transcript
    alpha, g = ctx.alpha, ctx.gamma
    # While stage 2 is materialized it leaves the helpers in ctx.helpers: read their rows from
    # there. Without them (a streaming stage 2 keeps nothing), recompute them per span.
    helpers = [ctx.helpers[n] for n in HELPERS] if all(n in ctx.helpers for n in HELPERS) else None
    prover = StreamingHelperSumcheck(ctx.witness, STAGE, alpha, g, helpers)
    S = prover.fraction_sum()
    ctx.section.put_ext(S)
    t.absorb_ext("s3/S", S)
    rho = t.challenge_ext("s3/rho")
    tau = t.challenge_exts("s3/tau", ctx.log_t)
    prover.start(tau, rho)
    proof, r = sumcheck_prove(prover, t, "s3/sc")
    hvals = prover.final_helpers()
    finals = prover.final_values(r)
    del prover, helpers

    table_num = neg(ctx.mult["m_instr"].values)
    table_den = lookup_table_den(alpha, g)
    table_proof, table = prove_fraction_sum(table_num, table_den, t, "s3/table")
    del table_num, table_den

    vals = np.stack(hvals + [finals[n] for n in COLUMNS], axis=1)
    ctx.section.put_sumcheck(proof)
    ctx.section.put_gkr(table_proof)
    ctx.section.put_exts(vals)
    t.absorb_ext("s3/values", vals)
    ctx.claims.append(Claim(r, {n: finals[n] for n in COLUMNS}, "stage 3 lookups"))
    ctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 3 helpers"))
    ctx.mult_claims["m_instr"] = (table.point, eneg(table.leaf_num))


def prove(ctx: ProverContext) -> None:
    if ctx.backend == "streaming":
        _prove_streaming(ctx)
    elif ctx.backend == "materialized":
        if ctx.alpha is None or ctx.gamma is None or not ctx.helpers:
            raise ValueError("stage 3 needs stage 2's alpha, gamma and helpers")
        t, T = ctx.transcript, ctx.T
        alpha, g = ctx.alpha, ctx.gamma

        cols = ctx.witness.materialized(COLUMNS)
        tables = HelperTables.build(STAGE, cols, T, alpha, g, [ctx.helpers[n] for n in HELPERS])
        S = tables.fraction_sum()
        ctx.section.put_ext(S)
        t.absorb_ext("s3/S", S)
        rho = t.challenge_ext("s3/rho")
        tau = t.challenge_exts("s3/tau", ctx.log_t)
        prover = HelperSumcheck(tables, tau, rho, emul(epow(rho, len(HELPERS)), S))
        del tables
        proof, r = sumcheck_prove(prover, t, "s3/sc")
        hvals = prover.final_helpers()
        del prover

        table_num = neg(ctx.mult["m_instr"].values)
        table_den = lookup_table_den(alpha, g)
        table_proof, table = prove_fraction_sum(table_num, table_den, t, "s3/table")
        del table_num, table_den

        finals = evaluate_columns(cols, r)
        del cols
        vals = np.stack(hvals + [finals[n] for n in COLUMNS], axis=1)
        ctx.section.put_sumcheck(proof)
        ctx.section.put_gkr(table_proof)
        ctx.section.put_exts(vals)
        t.absorb_ext("s3/values", vals)
        ctx.claims.append(Claim(r, {n: finals[n] for n in COLUMNS}, "stage 3 lookups"))
        ctx.helper_claims.append(Claim(r, dict(zip(HELPERS, hvals)), "stage 3 helpers"))
        ctx.mult_claims["m_instr"] = (table.point, eneg(table.leaf_num))
    else:
        raise NotImplementedError(f"stage 3 has no {ctx.backend!r} backend")
