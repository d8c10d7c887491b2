"""A small program builder: one method per instruction form, labels with forward references.

Public names: ``Assembler``, ``Target`` (a label name or an absolute pc).

    a = Assembler()
    a.li(1, 10)               # MOV r1, #10 (any 32-bit immediate)
    a.label("loop")
    a.subi(1, 1)
    a.bne(1, 15, "loop")      # branch while r1 != r15
    a.halt()
    program = a.build(regions={"input": Region(0, 1), "output": Region(1, 1)})

Register-operand forms take ``rs``; the ``...i`` forms take an immediate. Labels resolve at
``build()``; an unknown or duplicate label raises ``ISAError``. Sits in ``prover.vm`` above ``isa``.
"""

from __future__ import annotations

from typing import Mapping, Union

from prover.vm.isa import WORD_MASK, Instruction, ISAError, Op, Program, Region

Target = Union[str, int]


class Assembler:
    """Collects instructions; ``build()`` resolves labels and returns a validated ``Program``."""

    def __init__(self) -> None:
        # Pending entries: (op, rd, rs, imm or label, use_imm).
        self._code: list[tuple[Op, int, int, Target, bool]] = []
        self._labels: dict[str, int] = {}

    @property
    def pc(self) -> int:
        """The pc of the next emitted instruction."""
        return len(self._code)

    def label(self, name: str) -> None:
        if name in self._labels:
            raise ISAError(f"label {name!r} defined twice")
        self._labels[name] = self.pc

    def emit(self, op: Op, rd: int = 0, rs: int = 0, imm: Target = 0, use_imm: bool = False) -> None:
        """Append one instruction; ``imm`` may be a label (resolved at ``build``)."""
        if not isinstance(imm, str):
            # Validate now, so a bad operand points at the emitting line, not at build().
            Instruction(op, rd, rs, imm, use_imm)
        self._code.append((op, rd, rs, imm, use_imm))

    # -- ALU, register and immediate forms --------------------------------------------------
    def add(self, rd: int, rs: int) -> None:
        self.emit(Op.ADD, rd, rs)

    def addi(self, rd: int, imm: int) -> None:
        self.emit(Op.ADD, rd, 0, imm & WORD_MASK, True)

    def sub(self, rd: int, rs: int) -> None:
        self.emit(Op.SUB, rd, rs)

    def subi(self, rd: int, imm: int) -> None:
        self.emit(Op.SUB, rd, 0, imm & WORD_MASK, True)

    def and_(self, rd: int, rs: int) -> None:
        self.emit(Op.AND, rd, rs)

    def andi(self, rd: int, imm: int) -> None:
        self.emit(Op.AND, rd, 0, imm, True)

    def or_(self, rd: int, rs: int) -> None:
        self.emit(Op.OR, rd, rs)

    def ori(self, rd: int, imm: int) -> None:
        self.emit(Op.OR, rd, 0, imm, True)

    def xor(self, rd: int, rs: int) -> None:
        self.emit(Op.XOR, rd, rs)

    def xori(self, rd: int, imm: int) -> None:
        self.emit(Op.XOR, rd, 0, imm, True)

    def andn(self, rd: int, rs: int) -> None:
        """rd <- rd & ~rs."""
        self.emit(Op.ANDN, rd, rs)

    def andni(self, rd: int, imm: int) -> None:
        self.emit(Op.ANDN, rd, 0, imm, True)

    def mov(self, rd: int, rs: int) -> None:
        self.emit(Op.MOV, rd, rs)

    def li(self, rd: int, imm: int) -> None:
        """Load a 32-bit immediate (MOVI); negative values wrap mod 2^32."""
        self.emit(Op.MOV, rd, 0, imm & WORD_MASK, True)

    def shl(self, rd: int, amount: int) -> None:
        self.emit(Op.SHL, rd, 0, amount, True)

    def shr(self, rd: int, amount: int) -> None:
        self.emit(Op.SHR, rd, 0, amount, True)

    def rotr(self, rd: int, amount: int) -> None:
        self.emit(Op.ROTR, rd, 0, amount, True)

    # -- memory and control -----------------------------------------------------------------
    def load(self, rd: int, base: int, offset: int = 0) -> None:
        """rd <- RAM[R[base] + offset]."""
        self.emit(Op.LOAD, rd, base, offset)

    def store(self, src: int, base: int, offset: int = 0) -> None:
        """RAM[R[base] + offset] <- R[src]."""
        self.emit(Op.STORE, src, base, offset)

    def beq(self, ra: int, rb: int, target: Target) -> None:
        self.emit(Op.BEQ, ra, rb, target)

    def bne(self, ra: int, rb: int, target: Target) -> None:
        self.emit(Op.BNE, ra, rb, target)

    def bltu(self, ra: int, rb: int, target: Target) -> None:
        self.emit(Op.BLTU, ra, rb, target)

    def jal(self, rd: int, target: Target) -> None:
        """rd <- pc + 1; pc <- target."""
        self.emit(Op.JAL, rd, 0, target, True)

    def halt(self, rd: int = 0) -> None:
        """HALT; every padding row accesses rd, so pass a register the program used recently:
        a register's first access at cycle c has a timestamp gap of 2c + 1 (range-checked)."""
        # use_imm=1 so the padding HALT rows read no rs (y = imm = 0).
        self.emit(Op.HALT, rd, 0, 0, True)

    # -- output ----------------------------------------------------------------------------
    def build(
        self,
        *,
        ram_init: Mapping[int, int] | None = None,
        regions: Mapping[str, Region] | None = None,
        name: str = "",
    ) -> Program:
        """Resolve labels and return the validated ``Program``."""
        instructions = []
        for pc, (op, rd, rs, imm, use_imm) in enumerate(self._code):
            if isinstance(imm, str):
                if imm not in self._labels:
                    raise ISAError(f"pc {pc}: undefined label {imm!r}")
                imm = self._labels[imm]
            instructions.append(Instruction(op, rd, rs, imm, use_imm))
        return Program(tuple(instructions), dict(ram_init or {}), dict(regions or {}), name)
