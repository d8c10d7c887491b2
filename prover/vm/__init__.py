"""The VM: a two-address 32-bit register machine with word-addressed RAM (docs/protocol.md).

Public names
- from ``isa``: ``Op``, ``Instruction``, ``Program``, ``ProgramTable``, ``Region``, ``ISAError``,
  the op groups and constants (``NUM_REGS``, ``RAM_WORDS``, ``WORD_MASK``, ...),
  ``bytes_to_words`` / ``words_to_bytes``;
- from ``assembler``: ``Assembler``;
- from ``machine``: ``Machine``, ``Row``, ``ROW_FIELDS``, ``VMError``, ``run``, ``RunResult``;
- ``programs.sha2_chain`` and ``programs.fib``: the bundled programs.

Sits at the bottom of the prover (imports nothing from it); ``tracer`` builds on it and
``relations`` reads its ISA.
"""

from __future__ import annotations

from prover.vm.assembler import Assembler
from prover.vm.isa import (
    BITWISE_INDEX,
    BITWISE_OPS,
    BRANCH_OPS,
    MAX_MEM_OFFSET,
    MAX_PROGRAM_LEN,
    MEM_OPS,
    NUM_REGS,
    RAM_WORDS,
    SHIFT_KIND,
    SHIFT_OPS,
    WORD_MASK,
    WRITES_RD,
    Instruction,
    ISAError,
    Op,
    Program,
    ProgramTable,
    Region,
    bytes_to_words,
    words_to_bytes,
)
from prover.vm.machine import ROW_FIELDS, Machine, Row, RunResult, VMError, run

__all__ = [
    "Assembler",
    "BITWISE_INDEX",
    "BITWISE_OPS",
    "BRANCH_OPS",
    "MAX_MEM_OFFSET",
    "MAX_PROGRAM_LEN",
    "MEM_OPS",
    "NUM_REGS",
    "RAM_WORDS",
    "SHIFT_KIND",
    "SHIFT_OPS",
    "WORD_MASK",
    "WRITES_RD",
    "Instruction",
    "ISAError",
    "Op",
    "Program",
    "ProgramTable",
    "Region",
    "bytes_to_words",
    "words_to_bytes",
    "ROW_FIELDS",
    "Machine",
    "Row",
    "RunResult",
    "VMError",
    "run",
]
