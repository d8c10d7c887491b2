"""The VM: ISA validation, the assembler, the reference interpreter's semantics and faults, and the
bundled programs against independent references (hashlib, plain-Python fib)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from prover.vm import (
    RAM_WORDS,
    Assembler,
    Instruction,
    ISAError,
    Machine,
    Op,
    Program,
    Region,
    VMError,
    run,
    words_to_bytes,
)
from prover.vm.programs import fib, sha2_chain

MSG = hashlib.sha256(b"stagegate sha2-chain input").digest()


# -- ISA validation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(op=Op.ADD, rd=16),
        dict(op=Op.ADD, rs=-1),
        dict(op=Op.ADD, imm=1 << 32, use_imm=True),
        dict(op=Op.ADD, imm=-1, use_imm=True),
        dict(op=Op.SHL, imm=3),  # shift amount must be an immediate
        dict(op=Op.ROTR, imm=32, use_imm=True),
        dict(op=Op.LOAD, imm=0, use_imm=True),
        dict(op=Op.STORE, imm=1 << 16),
        dict(op=Op.JAL, imm=0),
        dict(op=99),
        dict(op=Op.ADD, use_imm=2),
    ],
)
def test_invalid_instruction_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ISAError):
        Instruction(**kwargs)  # type: ignore[arg-type]


def test_program_static_checks() -> None:
    with pytest.raises(ISAError):
        Program(())
    with pytest.raises(ISAError):  # branch target outside the program
        Program((Instruction(Op.BEQ, 0, 0, 5), Instruction(Op.HALT)))
    with pytest.raises(ISAError):
        Program((Instruction(Op.HALT),), regions={"output": Region(RAM_WORDS - 1, 2)})
    with pytest.raises(ISAError):
        Program((Instruction(Op.HALT),), ram_init={RAM_WORDS: 1})


def test_assembler_labels() -> None:
    a = Assembler()
    a.jal(1, "end")  # forward reference
    a.label("mid")
    a.halt()
    a.label("end")
    a.beq(0, 0, "mid")
    p = a.build()
    assert [i.imm for i in p.instructions] == [2, 0, 1]
    dup = Assembler()
    dup.label("x")
    with pytest.raises(ISAError):
        dup.label("x")
    undefined = Assembler()
    undefined.jal(0, "nowhere")
    with pytest.raises(ISAError):
        undefined.build()


def test_program_table_is_readonly_and_matches() -> None:
    p = fib.program()
    t = p.table()
    assert len(t) == len(p)
    assert list(t.op) == [int(i.op) for i in p.instructions]
    assert list(t.imm) == [i.imm for i in p.instructions]
    with pytest.raises(ValueError):
        t.op[0] = 1


# -- semantics -----------------------------------------------------------------------------------
def _run_one(op_emit: str, x: int, y: int | None, arg: int | None = None) -> int:
    """r1 = x, r2 = y, then one instruction on r1 (register form if arg is None), result r1."""
    a = Assembler()
    a.li(1, x)
    if y is not None:
        a.li(2, y)
    getattr(a, op_emit)(1, 2 if arg is None else arg)
    a.halt()
    return run(a.build()).regs[1]


M32 = 0xFFFFFFFF


@pytest.mark.parametrize(
    "op_emit, x, y, arg, want",
    [
        ("add", M32, 2, None, 1),
        ("sub", 1, 2, None, M32),
        ("and_", 0b1100, 0b1010, None, 0b1000),
        ("or_", 0b1100, 0b1010, None, 0b1110),
        ("xor", 0b1100, 0b1010, None, 0b0110),
        ("andn", 0b1100, 0b1010, None, 0b0100),
        ("mov", 7, 9, None, 9),
        ("addi", 5, None, M32, 4),
        ("shl", 0x80000001, None, 1, 2),
        ("shr", 0x80000000, None, 31, 1),
        ("rotr", 0x00000001, None, 1, 0x80000000),
        ("rotr", 0x12345678, None, 0, 0x12345678),
    ],
)
def test_alu_semantics(op_emit: str, x: int, y: int | None, arg: int | None, want: int) -> None:
    assert _run_one(op_emit, x, y, arg) == want


@pytest.mark.parametrize("op, x, y, taken", [
    ("beq", 3, 3, True), ("beq", 3, 4, False), ("bne", 3, 4, True), ("bne", 3, 3, False),
    ("bltu", 3, 4, True), ("bltu", 4, 3, False), ("bltu", 1, M32, True), ("bltu", M32, 1, False),
])
def test_branches_unsigned(op: str, x: int, y: int, taken: bool) -> None:
    a = Assembler()
    a.li(1, x)
    a.li(2, y)
    getattr(a, op)(1, 2, "yes")
    a.li(3, 0)
    a.halt()
    a.label("yes")
    a.li(3, 1)
    a.halt()
    assert run(a.build()).regs[3] == int(taken)


def test_jal_links_and_rows() -> None:
    a = Assembler()
    a.jal(5, "there")
    a.halt()
    a.label("there")
    a.halt()
    m = Machine(a.build())
    row = m.step()
    assert (row.z, row.w, m.pc, m.regs[5]) == (1, 1, 2, 1)


def test_timestamps_and_rows() -> None:
    a = Assembler()
    a.li(1, 7)  # cycle 0: rd access at 2
    a.add(1, 1)  # cycle 1: rs read at 3 (prev 2), rd access at 4 sees the rs read (prev 3)
    a.store(1, 15, 10)  # cycle 2: RAM[10] at time 3
    a.load(2, 15, 10)  # cycle 3: RAM[10] prev 3, now 4
    a.beq(2, 1, 5)  # cycle 4: z = x - y = 0, taken
    a.halt()
    m = Machine(a.build())
    rows = m.trace(7)
    assert rows[1][:5] == (1, 7, 7, 14, 14) and (rows[1].tB_prev, rows[1].tA_prev) == (2, 3)
    assert (rows[2].addr, rows[2].mold, rows[2].z, rows[2].w, rows[2].tM_prev) == (10, 0, 14, 14, 0)
    assert (rows[3].mold, rows[3].z, rows[3].w, rows[3].tM_prev) == (14, 14, 14, 3)
    assert (rows[4].z, rows[4].w) == (0, 14)
    assert rows[5].pc == rows[6].pc == 5 and rows[6].tA_prev == 2 * 6  # HALT repeats


# -- faults --------------------------------------------------------------------------------------
def test_fault_address_out_of_ram() -> None:
    a = Assembler()
    a.li(1, RAM_WORDS - 1)
    a.load(2, 1, 1)
    a.halt()
    with pytest.raises(VMError) as err:
        run(a.build())
    assert (err.value.pc, err.value.cycle) == (1, 1)


def test_fault_pc_off_the_end_and_no_halt() -> None:
    a = Assembler()
    a.li(1, 1)
    with pytest.raises(VMError) as err:
        run(a.build())
    assert (err.value.pc, err.value.cycle) == (1, 1)
    loop = Assembler()
    loop.label("top")
    loop.beq(0, 0, "top")
    with pytest.raises(VMError):
        run(loop.build(), max_cycles=100)


# -- programs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_sha2_chain_matches_hashlib(n: int) -> None:
    res = run(sha2_chain.program(), sha2_chain.ram_input(n, MSG))
    out = words_to_bytes(res.words(sha2_chain.OUTPUT.base, sha2_chain.OUTPUT.length))
    want = MSG
    for _ in range(n):
        want = hashlib.sha256(want).digest()
    assert out == want == sha2_chain.expected_output(n, MSG)


def test_sha2_chain_other_message_and_linear_cycles() -> None:
    msg = bytes(range(32))
    counts = [run(sha2_chain.program(), sha2_chain.ram_input(n, msg)).cycles for n in range(4)]
    assert counts[1] - counts[0] == counts[2] - counts[1] == counts[3] - counts[2]
    assert counts[1] - counts[0] < 3500  # the per-hash budget
    res = run(sha2_chain.program(), sha2_chain.ram_input(1, msg))
    assert words_to_bytes(res.words(16, 8)) == hashlib.sha256(msg).digest()


def test_sha2_keeps_r15_zero() -> None:
    assert all(i.rd != 15 for i in sha2_chain.program().instructions)


@pytest.mark.parametrize("n", [0, 1, 2, 47, 100])
def test_fib(n: int) -> None:
    res = run(fib.program(), fib.ram_input(n))
    assert words_to_bytes(res.words(fib.OUTPUT.base, 1)) == fib.expected_output(n)
    assert res.cycles == fib.cycles(n)


def test_fib_reference_values() -> None:
    assert fib.expected_output(10) == (55).to_bytes(4, "big")
    assert fib.expected_output(48) == (4807526976 & M32).to_bytes(4, "big")  # wraps mod 2^32
    assert np.array_equal(np.frombuffer(fib.expected_output(1), ">u4"), [1])
