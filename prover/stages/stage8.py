"""Stage 8: open the commitments at the reduced points (docs/protocol.md, stage 8).

1. the trace batch (64 polys, stage 0) and the helper batch (36 polys, stage 2) at stage 7's
   point s, jointly (``pcs.open_joint``): one combined row over both batches, committed rather
   than sent, and one set of grinded queries into both trees;
2. each multiplicity poly, in ``MULT_ORDER``, at the point of its claim from stages 3-6
   (``pcs.open``, the combined row sent, grinded queries).
Section: u32 length + ``JointOpeningProof.encode()``, then per multiplicity poly u32 length +
``OpeningProof.encode()``. The values are not resent: the verifier holds them (stage 7's section
and the stages' mult claims).
"""

from __future__ import annotations

import numpy as np

from prover import pcs
from prover.relations.columns import COLUMNS
from prover.relations.commitments import MULT_ORDER
from prover.relations.fingerprints import HELPER_POLYS
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
    trace_vals = np.stack([ctx.reduced.values[n] for n in COLUMNS], axis=1)
    helper_vals = np.stack([ctx.reduced.values[n] for n in HELPER_POLYS], axis=1)
    joint = pcs.open_joint(
        [ctx.trace_prover_data, ctx.helper_prover_data], ctx.reduced.point, [trace_vals, helper_vals], t
    )
    ctx.section.put_blob(joint.encode())
    # the largest things the prover keeps; done with them
    ctx.trace_prover_data = None
    ctx.helper_prover_data = None
    for name in MULT_ORDER:
        point, value = ctx.mult_claims[name]
        mp = ctx.mult[name]
        proof = pcs.open(mp.prover_data, point, t, np.asarray(value).reshape(4, 1))
        ctx.section.put_blob(proof.encode())
        mp.prover_data = None
