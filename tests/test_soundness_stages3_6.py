"""Soundness of stages 3-6: one forged trace per stage's fault class, each rejected at that stage.

Every attack edits a few committed columns at one cycle through the pipeline's ``tamper`` hook
and keeps all per-cycle constraints and the control flow (the cross-cycle relation) satisfied,
so the only check left to catch it is the stage the fault belongs to. The edits are fixed values
per (column, cycle), so every chunking of the trace sees the same forged witness. Protocol v3:
stage 2 commits the logUp helpers (and sends the final states), so a forged trace gets honest
helpers of its own tuples, passes the helper zero-check, and fails the stage's sum ("roots
cancel"). Byte-level edits of values and S are in ``test_logup_stages.py`` too.
"""

from __future__ import annotations

import dataclasses
import struct
from functools import lru_cache
from typing import Callable

import numpy as np
import pytest
from forgery import WORKLOAD, Edits, forged_columns, honest, point_tamper

from prover.field import U64, P, inv
from prover.pipeline import prove
from prover.proof import decode_proof
from prover.relations.constraints import check_rows, next_pc_base
from prover.relations.layout import RAM_WORDS
from prover.tracer import FinalState as TracerFinal
from prover.tracer import Tracer
from prover.verifier import VerificationError, verify
from prover.vm.isa import Op


def first_cycle(op: Op, use_imm: int, ok: Callable[[dict[str, U64], int], bool]) -> int:
    """The first cycle executing ``op`` with ``use_imm`` for which ``ok(cols, c)`` holds."""
    w, cols = honest()
    tab = w.program.table()
    for c in range(w.T):
        pc = int(cols["pc"][c])
        if int(tab.op[pc]) == op and int(tab.use_imm[pc]) == use_imm and ok(cols, c):
            return c
    raise LookupError(f"{WORKLOAD} has no suitable {op.name} cycle")


def z_changed(cols: dict[str, U64], c: int, dz_lo: int) -> Edits:
    """Edits that keep e/inv consistent when z_lo grows by dz_lo (z_lo + z_hi stays non-zero)."""
    s = int(cols["z0"][c]) + 256 * int(cols["z1"][c]) + int(cols["z2"][c]) + 256 * int(cols["z3"][c])
    s += dz_lo
    return {"e": 0, "inv": int(inv(np.uint64(s)))}


def assert_stages_1_2_hold(cols: dict[str, U64]) -> None:
    assert check_rows(cols) == {}
    pc_next = np.concatenate([cols["pc"][1:], np.zeros(1, dtype=np.uint64)])
    assert np.array_equal(pc_next[:-1], next_pc_base(cols)[:-1])


def rejected_at(cycle: int, edits: Edits) -> VerificationError:
    assert_stages_1_2_hold(forged_columns(cycle, edits))
    w, _ = honest()
    proof = prove(w, tamper=point_tamper(cycle, edits))
    with pytest.raises(VerificationError) as info:
        verify(proof)
    return info.value


# ----------------------------------------------------------------------------- attacks


def mov_reg_cycle() -> int:
    """A MOV rd, rs cycle whose low result byte can grow by one without a carry."""
    return first_cycle(Op.MOV, 0, lambda cols, c: int(cols["y0"][c]) < 255)


@lru_cache(maxsize=1)
def honest_proof() -> bytes:
    w, _ = honest()
    return prove(w)


def test_honest_proof_verifies() -> None:
    verify(honest_proof())


def with_word(proof: bytes, stage: int, offset: int, value: int) -> bytes:
    """The proof with the u32 at ``offset`` in section ``stage`` (negative: from its end) replaced."""
    pf = decode_proof(proof)
    pos = pf.offsets[stage] + (offset if offset >= 0 else len(pf.sections[stage]) + offset)
    return proof[:pos] + struct.pack("<I", value % P) + proof[pos + 4 :]


def old_word(proof: bytes, stage: int, offset: int) -> int:
    pf = decode_proof(proof)
    sec = pf.sections[stage]
    pos = offset if offset >= 0 else len(sec) + offset
    return int(struct.unpack("<I", sec[pos : pos + 4])[0])


@pytest.mark.parametrize("stage", [3, 4, 5, 6])
def test_wrong_claimed_column_value_rejected(stage: int) -> None:
    """The last column value a stage sends (first component) is off by one: the D's recomputed
    from it miss the helper sumcheck's final claim."""
    proof = honest_proof()
    forged = with_word(proof, stage, -16, old_word(proof, stage, -16) + 1)
    with pytest.raises(VerificationError) as info:
        verify(forged)
    assert (info.value.stage, info.value.check) == (stage, "helper sumcheck final"), info.value


@pytest.mark.parametrize("which", ["registers", "ram"])
def test_forged_final_state_bytes_rejected(which: str) -> None:
    """Final-state bytes (stage 2's section) edited after proving: absorbed before alpha, they
    change every later challenge, and stage 3's sumcheck no longer starts from its claim."""
    offset = 4 * 2 * 16 if which == "registers" else 4 * (3 * 16 + 2 * RAM_WORDS)  # t of entry 0
    proof = honest_proof()
    forged = with_word(proof, 2, offset, old_word(proof, 2, offset) + 1)
    with pytest.raises(VerificationError) as info:
        verify(forged)
    assert (info.value.stage, info.value.check) == (3, "helper sumcheck round"), info.value


@pytest.mark.parametrize("stage", [4, 5])
def test_wrong_final_state_rejected(stage: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prover claims r3 (stage 4) or RAM word 2 (stage 5, outside the output) ends one higher
    (sent in stage 2): the transcript is consistent, so only the memory sum (init + writes =
    reads + final) fails, in the stage that closes it."""
    original = Tracer.final_state

    def forged(self: Tracer) -> TracerFinal:
        fs = original(self)
        if stage == 4:
            regs = fs.regs.copy()
            regs[3] += 1
            return dataclasses.replace(fs, regs=regs)
        ram = fs.ram.copy()
        ram[2] += 1
        return dataclasses.replace(fs, ram=ram)

    monkeypatch.setattr(Tracer, "final_state", forged)
    w, _ = honest()
    with pytest.raises(VerificationError) as info:
        verify(prove(w))
    assert (info.value.stage, info.value.check) == (stage, "roots cancel"), info.value


def test_wrong_claimed_output_rejected() -> None:
    """The statement claims an output the final RAM (stage 2's section) does not hold."""
    w, _ = honest()
    out = bytearray(w.expected_output)
    out[-1] ^= 1
    proof = prove(dataclasses.replace(w, expected_output=bytes(out)))
    with pytest.raises(VerificationError) as info:
        verify(proof)
    assert (info.value.stage, info.value.check) == (2, "output"), info.value


def test_wrong_lookup_result_rejected() -> None:
    """MOV returns y + 1 in its low byte: the lookup tuple (x0, y0 + 1024, y0 + 1) is off-table."""
    c = mov_reg_cycle()
    _, cols = honest()
    edits = {
        "o1_0": int(cols["o1_0"][c]) + 1,
        "z0": int(cols["z0"][c]) + 1,
        "w_lo": int(cols["w_lo"][c]) + 1,
        **z_changed(cols, c, 1),
    }
    err = rejected_at(c, edits)
    assert err.stage == 3, err


def test_wrong_register_read_rejected() -> None:
    """MOV reads rs as y + 1 (and consistently moves it): a register read with no matching write."""
    c = mov_reg_cycle()
    _, cols = honest()
    edits = {
        "y0": int(cols["y0"][c]) + 1,
        "b0": int(cols["b0"][c]) + 1,
        "o1_0": int(cols["o1_0"][c]) + 1,
        "o2_0": int(cols["o2_0"][c]) + 1,  # bitwise entries carry o2 = 2^16 + v
        "z0": int(cols["z0"][c]) + 1,
        "w_lo": int(cols["w_lo"][c]) + 1,
        **z_changed(cols, c, 1),
    }
    err = rejected_at(c, edits)
    assert err.stage == 4, err


def test_wrong_ram_read_rejected() -> None:
    """STORE claims the word it overwrites held another value: a RAM read with no matching write."""
    c = first_cycle(Op.STORE, 0, lambda cols, c: True)
    _, cols = honest()
    err = rejected_at(c, {"mold_lo": (int(cols["mold_lo"][c]) + 1) & 0xFFFF})
    assert err.stage == 5, err


def test_wrong_fetched_instruction_rejected() -> None:
    """An ADD rd, rs cycle claims an immediate the program's instruction at that pc lacks."""
    c = first_cycle(Op.ADD, 0, lambda cols, c: True)
    _, cols = honest()
    err = rejected_at(c, {"imm_lo": int(cols["imm_lo"][c]) + 1})
    assert err.stage == 6, err
