"""The public statement, the memory layout and the program (bytecode) table.

What a proof is about: a program (named by its workload), its input and claimed output (the
words of the program's ``input``/``output`` RAM regions, big-endian bytes) and the trace length
T = 2^log_t. The statement is encoded as canonical JSON (sorted keys, no spaces) and absorbed
first into the transcript; its bytes sit in the proof header.

Public names
- ``NUM_REGS``, ``RAM_WORDS`` (M), ``MIN_LOG_T``, ``MAX_LOG_T``;
- ``Statement`` (``encode()`` / ``Statement.decode(bytes)``; decode rejects non-canonical bytes);
- ``StatementError``: a statement that is malformed or names an unknown workload;
- ``program_of(name)``: the VM program of a workload; ``initial_ram(statement)``: RAM at time 0;
- ``BYTECODE_COLUMNS`` (the 18 bytecode column names, protocol order) and ``BytecodeTable``
  (those columns per program row, padded with zero rows to 2^log_n; ``bytecode_table(program)``);
- ``lcode_of(op, imm)``: the lookup code of an instruction;
- ``FinalState``: final (value, timestamp) of every register or RAM word (sent by stages 4/5).

Sits in ``relations``: imports ``field`` and ``vm`` (ISA and program definitions) only.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from prover.field import U64
from prover.vm.isa import (
    BITWISE_INDEX,
    NUM_REGS,
    RAM_WORDS,
    SHIFT_KIND,
    Op,
    Program,
    bytes_to_words,
    words_to_bytes,
)

__all__ = [
    "NUM_REGS", "RAM_WORDS", "MIN_LOG_T", "MAX_LOG_T", "Statement", "StatementError",
    "program_of", "initial_ram", "BYTECODE_COLUMNS", "BytecodeTable", "bytecode_table",
    "lcode_of", "FinalState", "words_to_bytes",
]

MIN_LOG_T = 4
MAX_LOG_T = 21  # timestamp diffs are two 11-bit limbs: 2T must stay <= 2^22

BYTECODE_COLUMNS: tuple[str, ...] = (
    "pc", "rd", "rs", "imm_lo", "imm_hi", "use_imm", "lcode",
    "f_add", "f_sub", "f_bitwise", "f_shift", "f_load", "f_store",
    "f_beq", "f_bne", "f_bltu", "f_jal", "f_halt",
)
# op -> its one-hot flag column (MOV counts as bitwise, docs/protocol.md)
FLAG_OF_OP: dict[Op, str] = {
    Op.ADD: "f_add", Op.SUB: "f_sub",
    Op.AND: "f_bitwise", Op.OR: "f_bitwise", Op.XOR: "f_bitwise", Op.ANDN: "f_bitwise",
    Op.MOV: "f_bitwise",
    Op.SHL: "f_shift", Op.SHR: "f_shift", Op.ROTR: "f_shift",
    Op.LOAD: "f_load", Op.STORE: "f_store",
    Op.BEQ: "f_beq", Op.BNE: "f_bne", Op.BLTU: "f_bltu", Op.JAL: "f_jal", Op.HALT: "f_halt",
}
FLAGS: tuple[str, ...] = BYTECODE_COLUMNS[7:]

SHIFT_LCODE_BASE = 1280


class StatementError(ValueError):
    """A statement that cannot be decoded or names something unknown (one sentence)."""


def _programs() -> dict[str, Any]:
    # Imported lazily: building a program is work, and no work happens at import.
    from prover.vm.programs import fib, sha2_chain

    return {sha2_chain.NAME: sha2_chain, fib.NAME: fib}


def workload_names() -> list[str]:
    return sorted(_programs())


def program_of(name: str) -> Program:
    """The program a workload runs (programs are fixed per workload; N comes from the input)."""
    mods = _programs()
    if name not in mods:
        raise StatementError(f"unknown workload {name!r} (known: {', '.join(sorted(mods))})")
    prog: Program = mods[name].program()
    return prog


@dataclasses.dataclass(frozen=True)
class Statement:
    """The public statement: workload name, its parameters, input/output region bytes, log T."""

    workload: str
    params: dict[str, int]
    input: bytes
    output: bytes
    log_t: int

    @property
    def T(self) -> int:
        return 1 << self.log_t

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "params": dict(self.params),
            "input": self.input.hex(),
            "output": self.output.hex(),
            "log_t": self.log_t,
        }

    def encode(self) -> bytes:
        """Canonical JSON bytes: sorted keys, no whitespace, ASCII."""
        return json.dumps(self.to_json_obj(), sort_keys=True, separators=(",", ":")).encode("ascii")

    @staticmethod
    def decode(data: bytes) -> Statement:
        """Parse statement bytes; ``StatementError`` unless they are exactly the canonical form."""
        try:
            obj = json.loads(data.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise StatementError(f"statement is not ASCII JSON: {exc}") from None
        if not isinstance(obj, dict) or set(obj) != {"workload", "params", "input", "output", "log_t"}:
            raise StatementError("statement must be an object with keys input, log_t, output, params, workload")
        params = obj["params"]
        if not isinstance(obj["workload"], str) or not isinstance(params, dict):
            raise StatementError("statement workload must be a string and params an object")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in params.values()):
            raise StatementError("statement params must be integers")
        log_t = obj["log_t"]
        if not isinstance(log_t, int) or isinstance(log_t, bool) or not MIN_LOG_T <= log_t <= MAX_LOG_T:
            raise StatementError(f"statement log_t {log_t!r} outside {MIN_LOG_T}..{MAX_LOG_T}")
        try:
            inp, out = bytes.fromhex(obj["input"]), bytes.fromhex(obj["output"])
        except (TypeError, ValueError):
            raise StatementError("statement input/output must be hex strings") from None
        st = Statement(obj["workload"], params, inp, out, log_t)
        if st.encode() != data:
            raise StatementError("statement bytes are not in canonical form")
        return st


def initial_ram(statement: Statement, program: Program) -> U64:
    """RAM at time 0 as M words: the program's image, then the input region from the statement."""
    region = program.region("input")
    if len(statement.input) != 4 * region.length:
        raise StatementError(
            f"input of {len(statement.input)} bytes does not fill the {region.length}-word input region"
        )
    ram = np.zeros(RAM_WORDS, dtype=np.uint64)
    for addr, word in program.ram_init.items():
        ram[addr] = word
    words = bytes_to_words(statement.input)
    # The statement's params must say what the input says (both programs read N from input word
    # 0); otherwise a proof about n = 50 could carry a statement claiming n = 10^6 (review).
    if statement.params != {"n": words[0]}:
        raise StatementError(
            f"statement params {statement.params} disagree with the input, whose word 0 is n = {words[0]}"
        )
    ram[region.base : region.end] = np.array(words, dtype=np.uint64)
    return ram


def lcode_of(op: Op, imm: int) -> int:
    """lcode (docs/protocol.md): 256*index for bitwise ops, 1280 + 4*(32 kind + amount) for shifts."""
    if op in BITWISE_INDEX:
        return 256 * BITWISE_INDEX[op]
    if op in SHIFT_KIND:
        return SHIFT_LCODE_BASE + 4 * (32 * SHIFT_KIND[op] + imm)
    return 0


@dataclasses.dataclass(frozen=True)
class BytecodeTable:
    """The 18 bytecode columns per program row (row = pc), zero-padded to 2^log_n rows.

    Stage 6's table side; the trace builder decodes a cycle by indexing these columns with pc.
    ``length`` is the real program length.
    """

    columns: dict[str, U64]
    length: int
    log_n: int


def bytecode_table(program: Program) -> BytecodeTable:
    tab = program.table()
    n = len(tab)
    if n >= 1 << 16:
        # JAL writes pc + 1 as a 16-bit limb without a range check: pc + 1 must stay < 2^16.
        raise StatementError(f"program of {n} instructions: at most 2^16 - 1 are supported")
    log_n = max(1, (n - 1).bit_length())
    size = 1 << log_n
    op = tab.op.astype(np.int64)
    imm = tab.imm.astype(np.uint64)
    cols: dict[str, U64] = {name: np.zeros(size, dtype=np.uint64) for name in BYTECODE_COLUMNS}
    cols["pc"][:n] = np.arange(n, dtype=np.uint64)
    cols["rd"][:n] = tab.rd.astype(np.uint64)
    cols["rs"][:n] = tab.rs.astype(np.uint64)
    cols["imm_lo"][:n] = imm & np.uint64(0xFFFF)
    cols["imm_hi"][:n] = imm >> np.uint64(16)
    cols["use_imm"][:n] = tab.use_imm.astype(np.uint64)
    cols["lcode"][:n] = np.array(
        [lcode_of(Op(int(o)), int(i)) for o, i in zip(op, tab.imm)], dtype=np.uint64
    )
    for o, flag in FLAG_OF_OP.items():
        cols[flag][:n] |= (op == int(o)).astype(np.uint64)
    for c in cols.values():
        c.flags.writeable = False
    return BytecodeTable(cols, n, log_n)


@dataclasses.dataclass(frozen=True)
class FinalState:
    """Final value and last-access timestamp of each cell (16 registers or M RAM words)."""

    values: U64
    times: U64
