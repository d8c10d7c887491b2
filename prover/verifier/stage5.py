"""Stage 5 verifier: RAM (docs/protocol.md, stage 5).

Replays: read and absorb the final RAM ("s5/final": v_lo[M], v_hi[M], t[M]); check the
statement's output against the final RAM's output region ("output"); alpha, g <- transcript;
GKR "s5/leaves" (2 + log T vars) -> root, (r_cycle, r_slot), leaf claims; GKR "s5/range"
(11 vars) -> root, r_t, claims; read the RAM columns at r_cycle.
Checks: "roots cancel": leaves + range + init - final = 0, init = the public initial RAM
(program image + input) at time 0; the leaf claim against the slot formulas; the range claim.
Appends Claim(r_cycle, RAM columns) and m_rangeM(r_t) = -n_range.
"""

from __future__ import annotations

import numpy as np

from prover.field import eneg, esub
from prover.proof import Claim
from prover.relations.fingerprints import (
    RAM_SLOTS,
    RANGE_BITS,
    leaves_at,
    range_table_den_at,
    slot_columns,
    state_fraction_sum,
)
from prover.relations.layout import RAM_WORDS, FinalState
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError
from prover.verifier.logup import check_roots, check_value, run_gkr

STAGE = 5
COLUMNS: tuple[str, ...] = slot_columns(RAM_SLOTS)
SLOT_BITS = 2
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


def verify(vctx: VerifierContext) -> None:
    t, rd, k = vctx.transcript, vctx.reader, vctx.log_t
    final = rd.get_bases(3 * RAM_WORDS, "final RAM")
    t.absorb_base("s5/final", final)
    v_lo, v_hi, times = final[:RAM_WORDS], final[RAM_WORDS : 2 * RAM_WORDS], final[2 * RAM_WORDS :]
    _check_output(vctx, v_lo, v_hi)
    alpha = t.challenge_ext("s5/alpha")
    g = t.challenge_ext("s5/gamma")
    leaf = run_gkr(STAGE, rd, t, k + SLOT_BITS, "s5/leaves", "leaf GKR")
    rng = run_gkr(STAGE, rd, t, RANGE_BITS, "s5/range", "range GKR")

    addr = np.arange(RAM_WORDS, dtype=np.uint64)
    init = np.asarray(vctx.init_ram, dtype=np.uint64)
    zero = np.zeros(RAM_WORDS, dtype=np.uint64)
    try:
        init_sum = state_fraction_sum(addr, init & _M16, init >> np.uint64(16), zero, alpha, g)
        final_sum = state_fraction_sum(addr, v_lo, v_hi, times, alpha, g)
    except ZeroDivisionError as exc:
        raise VerificationError(STAGE, "init/final denominator is zero", str(exc)) from None
    check_roots(STAGE, [leaf, rng], esub(init_sum, final_sum))

    vals = rd.get_exts(len(COLUMNS), "RAM columns at r_cycle")
    t.absorb_ext("s5/values", vals)
    values = {name: vals[:, j].copy() for j, name in enumerate(COLUMNS)}
    r_cycle, r_slot = leaf.point[:k], leaf.point[k:]
    n_exp, d_exp = leaves_at(RAM_SLOTS, values, r_cycle, r_slot, alpha, g)
    check_value(STAGE, "leaf claim numerator", n_exp, leaf.leaf_num)
    check_value(STAGE, "leaf claim denominator", d_exp, leaf.leaf_den)
    check_value(STAGE, "range table claim", range_table_den_at(rng.point, alpha, g), rng.leaf_den)

    vctx.final_ram = FinalState(v_lo + (v_hi << np.uint64(16)), times)
    vctx.claims.append(Claim(r_cycle, values, "stage 5 RAM"))
    vctx.mult_claims["m_rangeM"] = (rng.point, eneg(rng.leaf_num))
    rd.expect_end()
