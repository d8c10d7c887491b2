"""The tracer: runs the VM for exactly T rows, chunk by chunk, and replays any chunk on demand.

Rows are plain integers (no field): int64 numpy columns named by ``ROW_FIELDS`` = pc, x, y, z,
w, mold, addr, tB_prev, tA_prev, tM_prev (docs/protocol.md, "Trace rows"; ``addr`` is the RAM
address on LOAD/STORE cycles, else 0). After HALT the HALT row repeats up to T.

At the start of every chunk of C = 2^chunk_log rows the tracer takes a ``Checkpoint`` (cycle,
pc, registers and their last-access times, the RAM words touched so far with their values and
times, halted) from which ``replay(i)`` regenerates chunk i alone, identical to the first run.

Public names: ``Tracer``, ``Checkpoint``, ``FinalState``, ``ROW_FIELDS``, ``VMError``
(re-exported). Sits above ``prover.vm``; knows nothing of fields.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np

from prover.vm.isa import NUM_REGS, RAM_WORDS, Op, Program
from prover.vm.machine import ROW_FIELDS, VMError, initial_ram

__all__ = ["Tracer", "Checkpoint", "FinalState", "ROW_FIELDS", "VMError"]

_I64 = np.int64


@dataclass(frozen=True)
class Checkpoint:
    """VM state before cycle ``cycle``. RAM is stored sparsely: only the words accessed so far
    (last-access time > 0) with their value and time; every other word still holds its
    initial value at time 0. That keeps T/C checkpoints small for any chunk size."""

    cycle: int
    pc: int
    halted: bool
    regs: tuple[int, ...]
    reg_times: tuple[int, ...]
    ram_addrs: np.ndarray
    ram_values: np.ndarray
    ram_times: np.ndarray


@dataclass(frozen=True)
class FinalState:
    """The state after T rows, dense: registers and RAM with their last-access times (int64)."""

    regs: np.ndarray
    reg_times: np.ndarray
    ram: np.ndarray
    ram_times: np.ndarray
    halted: bool
    halt_cycles: int  # cycles up to and including the first HALT


class _State:
    """Mutable VM state of one pass. RAM lives in array('q') so numpy can view it without copies."""

    __slots__ = ("cycle", "pc", "halted", "regs", "reg_times", "ram", "ram_times")

    def __init__(self, cycle: int, pc: int, halted: bool, regs: list[int], reg_times: list[int],
                 ram: array[int], ram_times: array[int]) -> None:
        self.cycle = cycle
        self.pc = pc
        self.halted = halted
        self.regs = regs
        self.reg_times = reg_times
        self.ram = ram
        self.ram_times = ram_times


class Tracer:
    """Runs ``program`` on ``ram_init`` for exactly ``T`` rows in chunks of 2^``chunk_log``.

    ``run()`` yields every chunk (dict of int64 columns) and records the checkpoints;
    ``replay(i)`` regenerates chunk i from its checkpoint (running the first pass without
    keeping rows if the checkpoint is missing); ``rows()`` concatenates a full run.
    If the program has not halted within T rows, ``VMError`` is raised after the last chunk
    (``require_halt=False`` allows a truncated trace, for tests; ``halt_cycles`` is then -1).
    The final state (stages 4/5 send it in the clear) is ``final_state()``.
    """

    def __init__(self, program: Program, ram_init: Mapping[int, int] | None, T: int, chunk_log: int,
                 *, require_halt: bool = True) -> None:
        if T < 1 or T & (T - 1):
            raise ValueError(f"T = {T} must be a power of two")
        log_t = T.bit_length() - 1
        if not 0 <= chunk_log <= log_t:
            raise ValueError(f"chunk_log = {chunk_log} must be in [0, log T = {log_t}]")
        self.program = program
        self.T = T
        self.log_t = log_t
        self.chunk_log = chunk_log
        self.chunk_size = 1 << chunk_log
        self.num_chunks = T >> chunk_log
        self.require_halt = require_halt
        self._ram0 = array("q", initial_ram(program, ram_init))
        # Pre-decoded program: tuples of small ints, for the interpreter loop.
        self._decoded = [
            (int(ins.op), ins.rd, ins.rs, ins.imm, 1 if ins.use_imm else 0, 32 - ins.imm)
            for ins in program.instructions
        ]
        table = program.table()
        self._is_branch = np.isin(table.op, [Op.BEQ, Op.BNE, Op.BLTU])
        self._checkpoints: list[Checkpoint] = []
        self._final: FinalState | None = None
        self._halt_cycles = -1

    # -- public views -----------------------------------------------------------------------
    @property
    def checkpoints(self) -> tuple[Checkpoint, ...]:
        return tuple(self._checkpoints)

    def run(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield chunk 0 .. num_chunks-1 of a fresh run, recording each chunk's checkpoint."""
        st = self._fresh_state()
        for i in range(self.num_chunks):
            self._record_checkpoint(i, st)
            yield self._run_chunk(st, i)
        self._finish(st)

    def rows(self) -> dict[str, np.ndarray]:
        """All T rows of a fresh run, concatenated per column."""
        out = {f: np.empty(self.T, dtype=_I64) for f in ROW_FIELDS}
        for i, chunk in enumerate(self.run()):
            sl = slice(i * self.chunk_size, (i + 1) * self.chunk_size)
            for f in ROW_FIELDS:
                out[f][sl] = chunk[f]
        return out

    def replay(self, i: int) -> dict[str, np.ndarray]:
        """Chunk i regenerated from its checkpoint alone."""
        if not 0 <= i < self.num_chunks:
            raise IndexError(f"chunk {i} outside [0, {self.num_chunks})")
        self._ensure_checkpoint(i)
        return self._run_chunk(self._restore(self._checkpoints[i]), i)

    def checkpoint(self, i: int) -> Checkpoint:
        """The state before chunk i (computed by running on if the first pass has not got there)."""
        if not 0 <= i < self.num_chunks:
            raise IndexError(f"chunk {i} outside [0, {self.num_chunks})")
        self._ensure_checkpoint(i)
        return self._checkpoints[i]

    def final_state(self) -> FinalState:
        """State after all T rows (runs the first pass without keeping rows if needed)."""
        if self._final is None:
            for _ in self.run():
                pass
        if self._final is None:  # run() always sets it; keeps mypy and -O honest
            raise RuntimeError("tracer finished without a final state")
        return self._final

    @property
    def halt_cycles(self) -> int:
        """Cycles up to and including the first HALT (the program's real length)."""
        return self.final_state().halt_cycles

    # -- state and checkpoints --------------------------------------------------------------
    def _fresh_state(self) -> _State:
        return _State(0, 0, False, [0] * NUM_REGS, [0] * NUM_REGS, array("q", self._ram0),
                      array("q", bytes(8 * RAM_WORDS)))

    def _record_checkpoint(self, i: int, st: _State) -> None:
        times = np.frombuffer(st.ram_times, dtype=_I64)
        touched = np.flatnonzero(times)
        ckpt = Checkpoint(
            cycle=st.cycle, pc=st.pc, halted=st.halted,
            regs=tuple(st.regs), reg_times=tuple(st.reg_times),
            ram_addrs=touched,
            ram_values=np.frombuffer(st.ram, dtype=_I64)[touched],
            ram_times=times[touched],
        )
        if i < len(self._checkpoints):
            self._checkpoints[i] = ckpt  # a rerun recomputes the same state
        elif i == len(self._checkpoints):
            self._checkpoints.append(ckpt)
        else:
            raise RuntimeError(f"checkpoint {i} recorded before checkpoint {len(self._checkpoints)}")

    def _restore(self, ckpt: Checkpoint) -> _State:
        st = _State(ckpt.cycle, ckpt.pc, ckpt.halted, list(ckpt.regs), list(ckpt.reg_times),
                    array("q", self._ram0), array("q", bytes(8 * RAM_WORDS)))
        np.frombuffer(st.ram, dtype=_I64)[ckpt.ram_addrs] = ckpt.ram_values
        np.frombuffer(st.ram_times, dtype=_I64)[ckpt.ram_addrs] = ckpt.ram_times
        return st

    def _ensure_checkpoint(self, i: int) -> None:
        """Extend the checkpoint list up to chunk i by running on from the last one we have."""
        if i < len(self._checkpoints):
            return
        if not self._checkpoints:
            st = self._fresh_state()
            self._record_checkpoint(0, st)
        k = len(self._checkpoints) - 1
        st = self._restore(self._checkpoints[k])
        while len(self._checkpoints) <= i:
            self._run_chunk(st, k)
            k += 1
            if k == self.num_chunks:
                self._finish(st)
                break
            self._record_checkpoint(k, st)

    def _finish(self, st: _State) -> None:
        if self.require_halt and not st.halted:
            raise VMError(f"the program did not halt within T = {self.T} cycles", pc=st.pc, cycle=st.cycle)
        self._final = FinalState(
            regs=np.array(st.regs, dtype=_I64), reg_times=np.array(st.reg_times, dtype=_I64),
            ram=np.frombuffer(st.ram, dtype=_I64).copy(),
            ram_times=np.frombuffer(st.ram_times, dtype=_I64).copy(),
            halted=st.halted, halt_cycles=self._halt_cycles,
        )

    # -- the interpreter loop (the hot path) ------------------------------------------------
    def _run_chunk(self, st: _State, i: int) -> dict[str, np.ndarray]:
        """Execute C cycles from ``st`` (mutated), returning the rows of chunk i."""
        n = self.chunk_size
        if st.cycle != i * n:
            raise RuntimeError(f"state at cycle {st.cycle} cannot produce chunk {i}")
        rows, k_halt = _interpret(self._decoded, st, n)
        if k_halt >= 0:
            if self._halt_cycles < 0 or i * n + k_halt + 1 < self._halt_cycles:
                self._halt_cycles = i * n + k_halt + 1
            _fill_halt_rows(rows, st, k_halt, n, self._decoded[st.pc])
        # z = w except on branches (z = x - y): rebuilt here so the loop stores one column less.
        branch = self._is_branch[rows["pc"]]
        rows["z"] = rows["w"].copy()
        rows["z"][branch] = (rows["x"][branch] - rows["y"][branch]) & 0xFFFFFFFF
        return {f: rows[f] for f in ROW_FIELDS}


def _fill_halt_rows(rows: dict[str, np.ndarray], st: _State, k_halt: int, n: int,
                    halt: tuple[int, int, int, int, int, int]) -> None:
    """Rows k_halt+1 .. n-1 repeat the HALT at row k_halt; fill them without the loop.

    Each repeat reads rs at 2c+1 (if use_imm = 0) and rd at 2c+2, so after the first HALT the
    previous access times follow a fixed pattern (see Machine.step), and st must advance too."""
    first = k_halt + 1
    if first >= n:
        return
    _op, rd, rs, imm, ui, _aux = halt
    c0 = st.cycle - (n - first)  # cycle of row `first`; st.cycle was already advanced to the end
    c = np.arange(c0, st.cycle, dtype=_I64)
    x = st.regs[rd]
    sl = slice(first, n)
    rows["pc"][sl] = st.pc
    rows["x"][sl] = x
    rows["w"][sl] = x
    if ui:
        rows["y"][sl] = imm
        rows["tA_prev"][sl] = 2 * c
    elif rs == rd:
        rows["y"][sl] = x
        rows["tB_prev"][sl] = 2 * c
        rows["tA_prev"][sl] = 2 * c + 1
    else:
        rows["y"][sl] = st.regs[rs]
        rows["tB_prev"][sl] = 2 * c - 1
        rows["tA_prev"][sl] = 2 * c
    last = st.cycle - 1
    if not ui:
        st.reg_times[rs] = 2 * last + 1
    st.reg_times[rd] = 2 * last + 2


def _interpret(prog: list[tuple[int, int, int, int, int, int]], st: _State,
               n: int) -> tuple[dict[str, np.ndarray], int]:
    """Run up to n cycles; stop after the first HALT row. Returns the row columns (z not filled)
    and the row index of that HALT (-1 if none). On return st is advanced by n cycles as if the
    HALT had repeated (the caller fills those rows); registers do not change under HALT."""
    ADD, SUB, AND, OR, XOR, ANDN, MOV = Op.ADD.value, Op.SUB.value, Op.AND.value, Op.OR.value, \
        Op.XOR.value, Op.ANDN.value, Op.MOV.value
    SHL, SHR, ROTR, LOAD, STORE = Op.SHL.value, Op.SHR.value, Op.ROTR.value, Op.LOAD.value, Op.STORE.value
    BEQ, BNE, BLTU, JAL, HALT = Op.BEQ.value, Op.BNE.value, Op.BLTU.value, Op.JAL.value, Op.HALT.value
    M32 = 0xFFFFFFFF
    MW = RAM_WORDS

    R = st.regs
    RT = st.reg_times
    ram = st.ram
    MT = st.ram_times
    pc = st.pc
    c = st.cycle
    # Preallocated lists written by index: cheaper per row than append or array stores.
    P = [0] * n
    X = [0] * n
    Y = [0] * n
    W = [0] * n
    TB = [0] * n
    TA = [0] * n
    MOLD = [0] * n
    ADDR = [0] * n
    TM = [0] * n
    k_halt = -1
    k = 0
    try:
        for k in range(n):
            op, rd, rs, imm, ui, aux = prog[pc]
            x = R[rd]
            t = c + c + 1
            if ui:
                y = imm
            else:
                y = R[rs]
                TB[k] = RT[rs]
                RT[rs] = t
            TA[k] = RT[rd]
            RT[rd] = t + 1
            P[k] = pc
            X[k] = x
            Y[k] = y
            c += 1
            # Ops ordered by frequency in sha2-chain.
            if op == XOR:
                w = x ^ y
                pc += 1
            elif op == ADD:
                w = (x + y) & M32
                pc += 1
            elif op == ROTR:
                w = ((x >> imm) | (x << aux)) & M32
                pc += 1
            elif op == MOV:
                w = y
                pc += 1
            elif op == LOAD or op == STORE:
                a = y + imm
                if a >= MW:
                    raise VMError(f"{Op(op).name} address {a} >= M = {MW}", pc=pc, cycle=c - 1)
                MOLD[k] = w = ram[a]
                ADDR[k] = a
                TM[k] = MT[a]
                MT[a] = c
                if op == STORE:
                    ram[a] = w = x
                pc += 1
            elif op == AND:
                w = x & y
                pc += 1
            elif op == SHR:
                w = x >> imm
                pc += 1
            elif op == SHL:
                w = (x << imm) & M32
                pc += 1
            elif op == SUB:
                w = (x - y) & M32
                pc += 1
            elif op == BNE:
                w = x
                pc = imm if x != y else pc + 1
            elif op == BEQ:
                w = x
                pc = imm if x == y else pc + 1
            elif op == BLTU:
                w = x
                pc = imm if x < y else pc + 1
            elif op == OR:
                w = x | y
                pc += 1
            elif op == ANDN:
                w = x & ~y & M32
                pc += 1
            elif op == JAL:
                w = pc + 1
                pc = imm
            elif op == HALT:
                W[k] = x
                k_halt = k
                break
            else:
                raise VMError(f"unknown opcode {op}", pc=pc, cycle=c - 1)
            W[k] = w
            R[rd] = w
    except IndexError:
        # prog[pc] is the only index that can fail: registers and addresses are checked.
        raise VMError(f"pc {pc} outside the program of length {len(prog)}", pc=pc, cycle=c) from None
    st.pc = pc
    st.halted = k_halt >= 0
    st.cycle = st.cycle + n
    rows = {
        "pc": np.array(P, dtype=_I64), "x": np.array(X, dtype=_I64), "y": np.array(Y, dtype=_I64),
        "w": np.array(W, dtype=_I64), "mold": np.array(MOLD, dtype=_I64),
        "addr": np.array(ADDR, dtype=_I64), "tB_prev": np.array(TB, dtype=_I64),
        "tA_prev": np.array(TA, dtype=_I64), "tM_prev": np.array(TM, dtype=_I64),
    }
    return rows, k_halt
