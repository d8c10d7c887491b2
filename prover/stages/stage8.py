"""Stage 8: open the commitments at the reduced points (docs/protocol.md, stage 8).

1. the trace batch at stage 7's point s to the 64 values stage 7 sent (``pcs.open``);
2. each multiplicity poly, in ``MULT_ORDER``, at the point of its claim from stages 3-6.
Section: per opening, u32 length + ``OpeningProof.encode()``. The values are not resent: the
verifier already holds them (stage 7's section and the stages' mult claims).
"""

from __future__ import annotations

import numpy as np

from prover import pcs
from prover.relations.columns import COLUMNS
from prover.relations.commitments import MULT_ORDER
from prover.stages.common import ProverContext

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)



def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 8 has no {ctx.backend!r} backend")
    t = ctx.transcript
    if ctx.reduced is None:
        raise RuntimeError("stage 8 needs stage 7's reduced claim")
    vals = np.stack([ctx.reduced.values[n] for n in COLUMNS], axis=1)
    proof = pcs.open(ctx.trace_prover_data, ctx.reduced.point, t, vals)
    ctx.section.put_blob(proof.encode())
    ctx.trace_prover_data = None  # the largest thing the prover keeps; done with it
    for name in MULT_ORDER:
        point, value = ctx.mult_claims[name]
        mp = ctx.mult[name]
        proof = pcs.open(mp.prover_data, point, t, np.asarray(value).reshape(4, 1))
        ctx.section.put_blob(proof.encode())
        mp.prover_data = None
