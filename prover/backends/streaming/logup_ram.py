"""The trace side of a streamed logUp helper stage, as one call (stage 5 first; any helper stage).

``stream_trace_side(ctx, stage)`` runs what every streamed helper stage sends before its table
side, in the transcript's order: S ("s{stage}/S"), rho and tau, the helper sumcheck
("s{stage}/sc", ``backends.streaming.logup_registers.WindowedHelperSumcheck``: stage 3's helper
sumcheck with the streamed rounds in small windows, 3 + windows passes, O(sqrt T)), then the
helpers and the stage's columns at the sumcheck's point r (the values pass). The helper rows come
from ``ctx.helpers`` while stage 2 leaves them there, else they are recomputed per span. The
caller proves its table side (constant in T) and writes the section, exactly as the
materialized backend does after the same sumcheck.

Public names: ``stream_trace_side``.
Sits in ``backends.streaming``: imports ``logup_registers``, ``relations.fingerprints``,
``sumcheck.protocol``.
"""

from __future__ import annotations

from typing import Any

from prover.backends.streaming.logup_registers import WindowedHelperSumcheck
from prover.field import U64
from prover.relations.fingerprints import stage_helpers
from prover.sumcheck.protocol import prove as sumcheck_prove

__all__ = ["stream_trace_side"]


def stream_trace_side(ctx: Any, stage: int) -> tuple[Any, list[U64], list[U64], dict[str, U64]]:
    """(sumcheck proof, point r, helpers at r, the stage's columns at r) of helper stage
    ``stage``, with S, rho, tau and the sumcheck on ``ctx.transcript`` and S in ``ctx.section``."""
    if ctx.alpha is None or ctx.gamma is None:
        raise ValueError(f"stage {stage} needs stage 2's alpha and gamma")
    t = ctx.transcript
    names = stage_helpers(stage)
    helpers = [ctx.helpers[n] for n in names] if all(n in ctx.helpers for n in names) else None
    prover = WindowedHelperSumcheck(ctx.witness, stage, ctx.alpha, ctx.gamma, helpers)
    del helpers
    S = prover.fraction_sum()
    ctx.section.put_ext(S)
    t.absorb_ext(f"s{stage}/S", S)
    rho = t.challenge_ext(f"s{stage}/rho")
    tau = t.challenge_exts(f"s{stage}/tau", ctx.log_t)
    prover.start(tau, rho)
    proof, r = sumcheck_prove(prover, t, f"s{stage}/sc")
    return proof, r, prover.final_helpers(), prover.final_values(r)
