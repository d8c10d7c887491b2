"""The reference interpreter: the executable semantics of the VM, written for clarity, not speed.

Public names
- ``VMError``: a fault (pc outside the program, RAM address >= M, no HALT in time), with
  ``pc`` and ``cycle``;
- ``Row`` / ``ROW_FIELDS``: one trace row (docs/protocol.md, "Trace rows"), plus ``addr``;
- ``Machine``: state + ``step()`` (one cycle, returns its ``Row``), ``trace(T)``;
- ``RunResult`` and ``run(program, ram_init, max_cycles)``: run to HALT.

The fast tracer (``prover.tracer``) must agree with ``Machine.step`` row for row; the tests
check it. Sits in ``prover.vm`` above ``isa``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

from prover.vm.isa import (
    BRANCH_OPS,
    MEM_OPS,
    NUM_REGS,
    RAM_WORDS,
    WORD_MASK,
    WRITES_RD,
    Op,
    Program,
)


class VMError(Exception):
    """A VM fault; no trace is produced. ``pc`` and ``cycle`` locate it."""

    def __init__(self, message: str, *, pc: int, cycle: int) -> None:
        super().__init__(f"{message} (pc {pc}, cycle {cycle})")
        self.pc = pc
        self.cycle = cycle


class Row(NamedTuple):
    """One cycle of the trace. ``addr`` = RAM address on LOAD/STORE cycles, else 0."""

    pc: int
    x: int
    y: int
    z: int
    w: int
    mold: int
    addr: int
    tB_prev: int
    tA_prev: int
    tM_prev: int


ROW_FIELDS: tuple[str, ...] = Row._fields


def alu(op: Op, x: int, y: int, imm: int) -> int:
    """The result z of a non-memory, non-control op (docs/protocol.md table)."""
    if op is Op.ADD:
        return (x + y) & WORD_MASK
    if op is Op.SUB:
        return (x - y) & WORD_MASK
    if op is Op.AND:
        return x & y
    if op is Op.OR:
        return x | y
    if op is Op.XOR:
        return x ^ y
    if op is Op.ANDN:
        return x & ~y & WORD_MASK
    if op is Op.MOV:
        return y
    if op is Op.SHL:
        return (x << imm) & WORD_MASK
    if op is Op.SHR:
        return x >> imm
    if op is Op.ROTR:
        return ((x >> imm) | (x << (32 - imm))) & WORD_MASK
    raise ValueError(f"{op.name} is not an ALU op")


def initial_ram(program: Program, ram_init: Mapping[int, int] | None) -> list[int]:
    """RAM at time 0: the program's image, then ``ram_init`` (e.g. the input) on top."""
    ram = [0] * RAM_WORDS
    for image in (program.ram_init, ram_init or {}):
        for addr, word in image.items():
            if not (0 <= addr < RAM_WORDS and 0 <= word <= WORD_MASK):
                raise VMError(f"initial RAM entry {addr}: {word} outside RAM or not a word", pc=0, cycle=0)
            ram[addr] = word
    return ram


class Machine:
    """VM state: registers (all 0 at start), RAM, pc, cycle, and last-access times.

    Timestamps (docs/protocol.md): cycle c reads rs at 2c+1 (only when use_imm = 0) and accesses
    rd at 2c+2; a RAM access at cycle c is at time c+1; everything starts at time 0.
    """

    def __init__(self, program: Program, ram_init: Mapping[int, int] | None = None) -> None:
        self.program = program
        self.regs = [0] * NUM_REGS
        self.reg_times = [0] * NUM_REGS
        self.ram = initial_ram(program, ram_init)
        self.ram_times = [0] * RAM_WORDS
        self.pc = 0
        self.cycle = 0
        self.halted = False  # the last executed instruction was HALT

    def step(self) -> Row:
        """Execute one cycle and return its trace row; raise ``VMError`` on a fault."""
        c, pc = self.cycle, self.pc
        if not 0 <= pc < len(self.program):
            raise VMError(f"pc {pc} outside the program of length {len(self.program)}", pc=pc, cycle=c)
        ins = self.program.instructions[pc]
        op, rd, rs, imm = ins.op, ins.rd, ins.rs, ins.imm

        # Register reads, in timestamp order: rs at 2c+1, then rd at 2c+2.
        if ins.use_imm:
            y, t_b = imm, 0
        else:
            y, t_b = self.regs[rs], self.reg_times[rs]
            self.reg_times[rs] = 2 * c + 1
        x, t_a = self.regs[rd], self.reg_times[rd]
        self.reg_times[rd] = 2 * c + 2

        mold = addr = t_m = 0
        next_pc = pc + 1
        if op in MEM_OPS:
            addr = y + imm
            if addr >= RAM_WORDS:
                raise VMError(f"{op.name} address {addr} >= M = {RAM_WORDS}", pc=pc, cycle=c)
            mold, t_m = self.ram[addr], self.ram_times[addr]
            self.ram_times[addr] = c + 1
            if op is Op.LOAD:
                z = mold
            else:
                z = x
                self.ram[addr] = x
        elif op in BRANCH_OPS:
            z = (x - y) & WORD_MASK
            taken = {Op.BEQ: x == y, Op.BNE: x != y, Op.BLTU: x < y}[op]
            if taken:
                next_pc = imm
        elif op is Op.JAL:
            z = pc + 1
            next_pc = imm
        elif op is Op.HALT:
            z = x
            next_pc = pc
        else:
            z = alu(op, x, y, imm)
        w = z if op in WRITES_RD else x
        self.regs[rd] = w

        self.pc = next_pc
        self.cycle = c + 1
        self.halted = op is Op.HALT
        return Row(pc, x, y, z, w, mold, addr, t_b, t_a, t_m)

    def trace(self, num_rows: int) -> list[Row]:
        """Exactly ``num_rows`` rows; after HALT the HALT row repeats (with its timestamps)."""
        return [self.step() for _ in range(num_rows)]


@dataclass(frozen=True)
class RunResult:
    """The state after HALT: ``cycles`` counts every executed cycle including the HALT."""

    cycles: int
    regs: tuple[int, ...]
    ram: tuple[int, ...]

    def words(self, base: int, length: int) -> tuple[int, ...]:
        return self.ram[base : base + length]


def run(program: Program, ram_init: Mapping[int, int] | None = None, *, max_cycles: int = 1 << 24) -> RunResult:
    """Run to the first HALT (inclusive); ``VMError`` if it takes more than ``max_cycles``."""
    m = Machine(program, ram_init)
    while not m.halted:
        if m.cycle >= max_cycles:
            raise VMError(f"no HALT within {max_cycles} cycles", pc=m.pc, cycle=m.cycle)
        m.step()
    return RunResult(cycles=m.cycle, regs=tuple(m.regs), ram=tuple(m.ram))
