"""The VM's instruction set (docs/protocol.md, "The VM"): opcodes, instructions, programs.

Public names
- constants ``NUM_REGS`` (16), ``RAM_WORDS`` (M = 2^12), ``WORD_MASK`` (2^32 - 1),
  ``MAX_PROGRAM_LEN`` (2^16), ``MAX_MEM_OFFSET`` (2^16);
- ``Op`` (opcode numbers, also the ``op`` column of the program table) and the op groups
  ``BITWISE_OPS``, ``SHIFT_OPS``, ``MEM_OPS``, ``BRANCH_OPS``, ``WRITES_RD``, plus the protocol's
  sub-codes ``BITWISE_INDEX`` (AND=0 .. MOV=4) and ``SHIFT_KIND`` (SHL=0, SHR=1, ROTR=2);
- ``Instruction`` (validated, frozen), ``Region``, ``Program`` (instructions + initial RAM image +
  named RAM regions ``input``/``output``), ``ProgramTable`` (numpy arrays per pc for vectorized
  decode), ``ISAError`` (a malformed instruction or program);
- ``words_to_bytes`` / ``bytes_to_words``: the big-endian word <-> byte convention of RAM regions.

Sits at the bottom of ``prover.vm``; imports numpy only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

import numpy as np

NUM_REGS = 16
RAM_WORDS = 1 << 12
WORD_MASK = (1 << 32) - 1
MAX_PROGRAM_LEN = 1 << 16
MAX_MEM_OFFSET = 1 << 16


class ISAError(ValueError):
    """An instruction or program that does not follow the ISA of docs/protocol.md."""


class Op(enum.IntEnum):
    """Opcodes; the numbers are the ``op`` column of ``ProgramTable``."""

    ADD = 0
    SUB = 1
    AND = 2
    OR = 3
    XOR = 4
    ANDN = 5
    MOV = 6
    SHL = 7
    SHR = 8
    ROTR = 9
    LOAD = 10
    STORE = 11
    BEQ = 12
    BNE = 13
    BLTU = 14
    JAL = 15
    HALT = 16


BITWISE_OPS = frozenset({Op.AND, Op.OR, Op.XOR, Op.ANDN, Op.MOV})
SHIFT_OPS = frozenset({Op.SHL, Op.SHR, Op.ROTR})
MEM_OPS = frozenset({Op.LOAD, Op.STORE})
BRANCH_OPS = frozenset({Op.BEQ, Op.BNE, Op.BLTU})
WRITES_RD = frozenset({Op.ADD, Op.SUB, Op.LOAD, Op.JAL}) | BITWISE_OPS | SHIFT_OPS
# The protocol's lcode numbering (docs/protocol.md, "Committed trace columns").
BITWISE_INDEX = {Op.AND: 0, Op.OR: 1, Op.XOR: 2, Op.ANDN: 3, Op.MOV: 4}
SHIFT_KIND = {Op.SHL: 0, Op.SHR: 1, Op.ROTR: 2}


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class Instruction:
    """One two-address instruction (op, rd, rs, imm, use_imm); invalid fields raise ``ISAError``.

    x = R[rd], y = imm if use_imm else R[rs]. Jump/branch targets are absolute pcs in ``imm``.
    """

    op: Op
    rd: int = 0
    rs: int = 0
    imm: int = 0
    use_imm: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "op", Op(self.op))
        except ValueError:
            raise ISAError(f"unknown opcode {self.op!r}") from None
        if self.use_imm not in (0, 1):  # also accepts bools
            raise ISAError(f"{self.op.name}: use_imm must be 0 or 1, got {self.use_imm!r}")
        object.__setattr__(self, "use_imm", bool(self.use_imm))
        for name in ("rd", "rs"):
            reg = getattr(self, name)
            if not _is_int(reg) or not 0 <= reg < NUM_REGS:
                raise ISAError(f"{self.op.name}: {name} must be a register 0..15, got {reg!r}")
        if not _is_int(self.imm) or not 0 <= self.imm <= WORD_MASK:
            raise ISAError(f"{self.op.name}: imm must be in [0, 2^32), got {self.imm!r}")
        op = self.op
        if op in SHIFT_OPS and (not self.use_imm or self.imm >= 32):
            raise ISAError(f"{op.name}: the shift amount is an immediate < 32 (use_imm=1)")
        if op in MEM_OPS and (self.use_imm or self.imm >= MAX_MEM_OFFSET):
            raise ISAError(f"{op.name}: needs use_imm=0 and an offset imm < 2^16, got {self}")
        if op is Op.JAL and not self.use_imm:
            raise ISAError("JAL: needs use_imm=1 (the target is the immediate)")

    def __str__(self) -> str:
        operand = f"#{self.imm:#x}" if self.use_imm else f"r{self.rs}"
        if self.op in MEM_OPS:
            operand = f"[r{self.rs} + {self.imm}]"
        elif self.op in BRANCH_OPS:
            operand = f"{operand}, @{self.imm}"
        elif self.op is Op.JAL:
            operand = f"@{self.imm}"
        return f"{self.op.name} r{self.rd}, {operand}"


@dataclass(frozen=True)
class Region:
    """A named run of RAM words [base, base + length)."""

    base: int
    length: int

    @property
    def end(self) -> int:
        return self.base + self.length


@dataclass(frozen=True)
class ProgramTable:
    """The program as int64 columns indexed by pc (read-only), for vectorized decode."""

    op: np.ndarray
    rd: np.ndarray
    rs: np.ndarray
    imm: np.ndarray
    use_imm: np.ndarray

    def __len__(self) -> int:
        return int(self.op.shape[0])


@dataclass(frozen=True, eq=False)
class Program:
    """Instructions (pc = index) + initial RAM image (addr -> word) + named RAM regions.

    ``regions`` holds at least ``input`` and ``output``. Static checks: 1 <= length <= 2^16,
    branch/JAL targets inside the program, RAM image and regions inside RAM.
    """

    instructions: tuple[Instruction, ...]
    ram_init: Mapping[int, int] = field(default_factory=dict)
    regions: Mapping[str, Region] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        n = len(self.instructions)
        if not 1 <= n <= MAX_PROGRAM_LEN:
            raise ISAError(f"program {self.name!r}: length {n} not in [1, 2^16]")
        for pc, ins in enumerate(self.instructions):
            if not isinstance(ins, Instruction):
                raise ISAError(f"program {self.name!r}: pc {pc} is not an Instruction: {ins!r}")
            if (ins.op in BRANCH_OPS or ins.op is Op.JAL) and ins.imm >= n:
                raise ISAError(f"program {self.name!r}: pc {pc} ({ins}) jumps outside [0, {n})")
        for addr, word in self.ram_init.items():
            if not (_is_int(addr) and 0 <= addr < RAM_WORDS and _is_int(word) and 0 <= word <= WORD_MASK):
                raise ISAError(f"program {self.name!r}: bad RAM image entry {addr!r}: {word!r}")
        for rname, reg in self.regions.items():
            if not (0 <= reg.base and reg.length >= 0 and reg.end <= RAM_WORDS):
                raise ISAError(f"program {self.name!r}: region {rname!r} {reg} is outside RAM")

    def __len__(self) -> int:
        return len(self.instructions)

    def region(self, name: str) -> Region:
        try:
            return self.regions[name]
        except KeyError:
            raise ISAError(f"program {self.name!r} has no RAM region {name!r}") from None

    @cached_property
    def _table(self) -> ProgramTable:
        cols = {
            "op": [int(i.op) for i in self.instructions],
            "rd": [i.rd for i in self.instructions],
            "rs": [i.rs for i in self.instructions],
            "imm": [i.imm for i in self.instructions],
            "use_imm": [int(i.use_imm) for i in self.instructions],
        }
        arrays = {k: np.array(v, dtype=np.int64) for k, v in cols.items()}
        for a in arrays.values():
            a.flags.writeable = False  # shared by every caller
        return ProgramTable(**arrays)

    def table(self) -> ProgramTable:
        """The program table (cached; arrays are read-only)."""
        return self._table

    def listing(self) -> str:
        """A human-readable listing, one instruction per line."""
        return "\n".join(f"{pc:5d}: {ins}" for pc, ins in enumerate(self.instructions))


def bytes_to_words(data: bytes) -> list[int]:
    """Big-endian 32-bit words of ``data`` (length must be a multiple of 4)."""
    if len(data) % 4:
        raise ISAError(f"byte string of length {len(data)} is not a whole number of words")
    return [int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data), 4)]


def words_to_bytes(words: list[int] | tuple[int, ...] | np.ndarray) -> bytes:
    """Inverse of ``bytes_to_words``."""
    return b"".join(int(w).to_bytes(4, "big") for w in words)
