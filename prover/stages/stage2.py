"""Stage 2: final states, the lookup challenges and the committed logUp helpers (protocol v3).

Transcript: absorb the final register state ("s2/final_regs": v_lo[16], v_hi[16], t[16]) and
the final RAM ("s2/final_ram": v_lo[M], v_hi[M], t[M]) *before* alpha <- "s2/alpha",
g <- "s2/gamma", so neither can depend on them; alpha and g serve stages 3-6 (one pair for all
four logUp instances). Then the nine helper columns (``fingerprints.HELPER_NAMES``; helper i
of a stage's pair (a, b) is h = 1 / (D_a D_b), of a slot alone 1 / D, with D = alpha - fp) are
committed as ONE Ligero batch of 36 base polys (poly 4 i + c = component c of helper i;
``pcs.commit`` with ``LigeroParams.for_shape(log T, 36)``: the trace batch's C and R) and the
commitment is absorbed (``pcs.absorb_commitment``).
Section: 48 base (final registers), 3 M base (final RAM), the helper batch's Merkle root (32
bytes; its shape (log T, 36) is public, as stage 0's roots).
Sets ``ctx.alpha``, ``ctx.gamma``, ``ctx.helpers`` (name -> (4, T) ext), ``ctx.helper_commitment``,
``ctx.helper_prover_data`` (stage 8 opens the batch jointly with the trace batch).

v2's stage 2 (the cross-cycle zero-check and the shift sumcheck) moved to stages 1 and 7.

Cost (dense): the 56 columns the slots read, 17 denominators, 8 pair products and one batch
inversion (``fingerprints.batch_einv``, a product tree: ~3 ext products per entry and one field
inversion) per chunk of 2^14 rows; then the commitment of 36 polys (encoding and hashing: the
bulk of the stage).

Soundness: everything the four logUp identities depend on (trace columns and multiplicities
from stage 0, the final states here) is absorbed before alpha, g; sharing one alpha, g among
stages 3-6 adds their four Schwartz-Zippel terms (each stage's docstring) exactly as four
separate draws did in v2. The helpers are bound before the challenges of stages 3-6 (rho, tau)
by the commitment (the helper batch's Ligero error, same parameters as the trace batch, is
charged in stage 8). Nothing is checked here; the helpers are pinned by the zero-checks of
stages 3-6.
"""

from __future__ import annotations

import numpy as np

from prover import pcs
from prover.backends.dense.logup import compute_helpers
from prover.relations.fingerprints import HELPER_COLUMNS, HELPER_NAMES
from prover.stages.common import ProverContext

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized",)

_M16 = np.uint64(0xFFFF)


def _state_words(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """v_lo[n], v_hi[n], t[n] (base) of a final state."""
    v = np.asarray(values, dtype=np.uint64)
    return np.concatenate([v & _M16, v >> np.uint64(16), np.asarray(times, dtype=np.uint64)])


def prove(ctx: ProverContext) -> None:
    if ctx.backend != "materialized":
        raise NotImplementedError(f"stage 2 has no {ctx.backend!r} backend")
    if ctx.final_regs is None or ctx.final_ram is None:
        raise ValueError("stage 2 needs the final register and RAM states (ctx.final_regs, ctx.final_ram)")
    t = ctx.transcript
    regs = _state_words(ctx.final_regs.values, ctx.final_regs.times)
    ctx.section.put_bases(regs)
    t.absorb_base("s2/final_regs", regs)
    ram = _state_words(ctx.final_ram.values, ctx.final_ram.times)
    ctx.section.put_bases(ram)
    t.absorb_base("s2/final_ram", ram)
    alpha = t.challenge_ext("s2/alpha")
    g = t.challenge_ext("s2/gamma")

    cols = ctx.witness.materialized(HELPER_COLUMNS)
    polys = compute_helpers(cols, ctx.T, alpha, g)
    del cols
    params = pcs.LigeroParams.for_shape(ctx.log_t, polys.shape[0])
    commitment, data = pcs.commit(polys, params)
    ctx.section.put_digest(commitment.root)
    pcs.absorb_commitment(t, commitment)

    ctx.alpha, ctx.gamma = alpha, g
    # views into the committed polys: rows 4 i .. 4 i + 3 are helper i's components
    ctx.helpers = {name: polys[4 * i : 4 * i + 4] for i, name in enumerate(HELPER_NAMES)}
    ctx.helper_commitment, ctx.helper_prover_data = commitment, data
