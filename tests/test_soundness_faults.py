"""Soundness of stages 1 and 2: forged traces, each rejected at the stage its fault belongs to.

Faults enter through the pipeline's ``tamper`` hook (``relations.columns.make_builder``): fixed
values per (column, cycle), so every stage and every chunking sees the same forged witness. Each
forgery keeps everything else as consistent as it can (e.g. a wrong ALU result also updates the
written-back value and the range-check key), so the named stage is the first that can object.
"""

from __future__ import annotations


import numpy as np
import pytest

from prover.field import inv
from prover.pipeline import prove, statement_of
from prover.relations.constraints import check_rows
from prover.verifier import VerificationError, verify
from prover.vm.isa import Op

from forgery import Edits, forged_columns, honest, point_tamper


def cycle_of(op: Op, nth: int = 0) -> int:
    """The nth cycle executing ``op``."""
    w, cols = honest()
    ops = w.program.table().op[cols["pc"].astype(np.int64)]
    hits = np.flatnonzero(ops == int(op))
    return int(hits[nth])


def rejected_at(cycle: int, edits: Edits) -> VerificationError:
    w, _ = honest()
    proof = prove(w, tamper=point_tamper(cycle, edits))
    with pytest.raises(VerificationError) as info:
        verify(proof, statement_of(w).encode())
    return info.value


def col(name: str, c: int) -> int:
    return int(honest()[1][name][c])


# ------------------------------------------------------------------------------ stage 1


def test_wrong_alu_result_rejected() -> None:
    """ADD writes x + y + 1: z, w and the range-check key agree with each other, not with x + y."""
    c = cycle_of(Op.ADD, 3)
    z0 = col("z0", c)
    new = (z0 + 1) % 256  # stays a byte; a carry into z1 is not needed for a wrong result
    edits = {"z0": new, "a0": new, "w_lo": col("w_lo", c) - z0 + new}
    zs = col("z0", c) + 256 * col("z1", c) + col("z2", c) + 256 * col("z3", c) - z0 + new
    edits |= {"e": int(zs == 0), "inv": int(inv(np.uint64(zs))) if zs else 0}
    bad = check_rows(forged_columns(c, edits))
    assert set(bad) == {"add lo"}, bad
    err = rejected_at(c, edits)
    assert err.stage == 1, err


def test_wrong_write_back_rejected() -> None:
    """A MOV writes back something other than its result."""
    c = cycle_of(Op.MOV, 2)
    edits = {"w_lo": (col("w_lo", c) + 5) % (1 << 16)}
    assert set(check_rows(forged_columns(c, edits))) == {"write lo"}
    assert rejected_at(c, edits).stage == 1


def test_flipped_branch_outcome_rejected() -> None:
    """The taken bit of a BNE disagrees with its comparison (the pc still follows the truth)."""
    c = cycle_of(Op.BNE, 1)
    edits = {"taken": 1 - col("taken", c)}
    assert set(check_rows(forged_columns(c, edits))) == {"taken"}
    assert rejected_at(c, edits).stage == 1


def test_operand_byte_moved_into_another_op_region_rejected() -> None:
    """MOV rd, rs with 256 moved from y_1 into y_0 (y_lo, so the register read, unchanged).

    The key b_0 = y_0 + lcode then lands past the MOV region, in the shift region, and the
    looked-up outputs (a genuine table entry) replace the moved byte. Every constraint but the
    per-byte y check holds on the forged row; it is stage 1's to reject (found in review: an
    earlier limb-only check could be met by a shift entry whose o2 happened to fit).
    """
    from prover.relations import lookup_table as lt

    _, cols = honest()
    c = next(i for i in np.flatnonzero(cols["f_bitwise"] == 1)
             if cols["use_imm"][i] == 0 and cols["y1"][i] >= 1)
    y0, y1 = col("y0", c), col("y1", c)
    b0, b1 = col("b0", c) + 256, col("b1", c) - 1
    _, _, t_o1, t_o2 = lt.table_columns()
    o1 = [int(t_o1[col(f"a{j}", c) + 256 * b]) for j, b in ((0, b0), (1, b1))]
    o2 = [int(t_o2[col(f"a{j}", c) + 256 * b]) for j, b in ((0, b0), (1, b1))]
    z_lo = o1[0] + 256 * o1[1]
    edits = {"y0": y0 + 256, "y1": y1 - 1, "b0": b0, "b1": b1,
             "o1_0": o1[0], "o1_1": o1[1], "o2_0": o2[0], "o2_1": o2[1],
             "z0": z_lo % 256, "z1": z_lo // 256, "w_lo": z_lo}
    zs = z_lo + col("z2", c) + 256 * col("z3", c)
    edits |= {"e": int(zs == 0), "inv": int(inv(np.uint64(zs))) if zs else 0}
    bad = set(check_rows(forged_columns(c, edits)))
    assert bad and all(name.startswith("bitwise y") for name in bad), bad
    assert rejected_at(c, edits).stage == 1


# ------------------------------------------ the cross-cycle relations (stage 1 since v3)


def test_wrong_next_pc_rejected() -> None:
    """Row c claims a pc that row c-1 does not lead to (no per-row constraint reads pc here)."""
    c = cycle_of(Op.ADD, 2)
    edits = {"pc": col("pc", c) + 1}
    assert check_rows(forged_columns(c, edits)) == {}
    assert rejected_at(c, edits).stage == 1


def test_last_row_not_halted_rejected() -> None:
    """The final row poses as a STORE (same z = x, w = x as HALT), so the run never halts."""
    w, _ = honest()
    c = w.T - 1
    edits = {"f_halt": 0, "f_store": 1}
    assert check_rows(forged_columns(c, edits)) == {}
    assert rejected_at(c, edits).stage == 1


def test_run_starting_at_nonzero_pc_rejected() -> None:
    c = 0
    edits = {"pc": 1}
    assert check_rows(forged_columns(c, edits)) == {}
    assert rejected_at(c, edits).stage == 1
