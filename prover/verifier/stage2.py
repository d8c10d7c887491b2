"""Stage 2 verifier: final states, the lookup challenges, the helper commitment (protocol v3).

Replays: read and absorb the final register state ("s2/final_regs": v_lo[16], v_hi[16], t[16])
and the final RAM ("s2/final_ram": v_lo[M], v_hi[M], t[M]); check every limb is < 2^16
("final register limbs", "final RAM limbs") and the statement's output
against the final RAM's output region ("output"); alpha <- "s2/alpha", g <- "s2/gamma"; read
the helper batch's root, rebuild its commitment (public shape: log T, 36 polys) and absorb it.
Sets ``vctx.final_regs``, ``vctx.final_ram`` (stages 4 and 5 close their memory sums with them),
``vctx.alpha``, ``vctx.gamma`` and ``vctx.commitments.helpers``.
"""

from __future__ import annotations

import numpy as np

from prover import pcs
from prover.relations.fingerprints import HELPER_POLYS
from prover.relations.layout import NUM_REGS, RAM_WORDS, FinalState
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError

STAGE = 2
_M16 = np.uint64(0xFFFF)


def _check_output(vctx: VerifierContext, v_lo: np.ndarray, v_hi: np.ndarray) -> None:
    """The claimed output must be exactly the final RAM's output region (limb by limb)."""
    region = vctx.program.region("output")
    claimed = vctx.statement.output
    if len(claimed) != 4 * region.length:
        raise VerificationError(
            STAGE, "output", f"statement output has {len(claimed)} bytes, the region {4 * region.length}"
        )
    words = np.frombuffer(claimed, dtype=">u4").astype(np.uint64)
    lo, hi = v_lo[region.base : region.end], v_hi[region.base : region.end]
    bad = np.flatnonzero((lo != (words & _M16)) | (hi != (words >> np.uint64(16))))
    if bad.size:
        i = int(bad[0])
        raise VerificationError(
            STAGE, "output",
            f"word {i} (RAM {region.base + i}): statement {int(words[i]):#010x}, final RAM limbs "
            f"({int(lo[i]):#x}, {int(hi[i]):#x})",
        )


def _state(words: np.ndarray, n: int, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v_lo, v_hi, t) of a final state; every limb must be < 2^16 (a word's 16-bit halves), so
    ``FinalState``'s 32-bit values give back exactly the limbs that were absorbed."""
    lo, hi = words[:n], words[n : 2 * n]
    bad = np.flatnonzero((lo > _M16) | (hi > _M16))
    if bad.size:
        i = int(bad[0])
        raise VerificationError(STAGE, f"{what} limbs", f"entry {i}: limbs ({int(lo[i])}, {int(hi[i])}) not both < 2^16")
    return lo, hi, words[2 * n :]


def verify(vctx: VerifierContext) -> None:
    t, rd = vctx.transcript, vctx.reader
    regs = rd.get_bases(3 * NUM_REGS, "final register state")
    t.absorb_base("s2/final_regs", regs)
    ram = rd.get_bases(3 * RAM_WORDS, "final RAM")
    t.absorb_base("s2/final_ram", ram)
    r_lo, r_hi, r_t = _state(regs, NUM_REGS, "final register")
    m_lo, m_hi, m_t = _state(ram, RAM_WORDS, "final RAM")
    _check_output(vctx, m_lo, m_hi)
    vctx.alpha = t.challenge_ext("s2/alpha")
    vctx.gamma = t.challenge_ext("s2/gamma")
    helpers = pcs.Commitment(rd.get_digest("helper root"), vctx.log_t, len(HELPER_POLYS))
    vctx.commitments.helpers = helpers
    pcs.absorb_commitment(t, helpers)
    vctx.final_regs = FinalState(r_lo + (r_hi << np.uint64(16)), r_t)
    vctx.final_ram = FinalState(m_lo + (m_hi << np.uint64(16)), m_t)
    rd.expect_end()
