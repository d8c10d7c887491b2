"""The tracer: runs the VM for exactly T rows, chunk by chunk, and replays any chunk on demand.

Rows are plain integers (no field): int64 numpy columns named by ``ROW_FIELDS`` = pc, x, y, z,
w, mold, addr, tB_prev, tA_prev, tM_prev (docs/protocol.md, "Trace rows"; ``addr`` is the RAM
address on LOAD/STORE cycles, else 0). After HALT the HALT row repeats up to T.

At the start of every chunk of C = 2^chunk_log rows the tracer takes a ``Checkpoint`` (cycle,
pc, registers and their last-access times, the RAM words touched so far with their values and
times, halted) from which ``replay(i)`` regenerates chunk i alone, identical to the first run.

The interpreter loop is ``prover.vm.kernel``'s: numba-compiled by default (``kernel="jit"``,
loaded from its on-disk cache when the tracer is constructed, which the pipeline does before any
stage), or its plain-Python reference (``kernel="ref"``); both give the same rows. A tracer handed
another run's checkpoints (``load_checkpoints``) replays any chunk without a forward run, and a
replay of the last chunk keeps the final state, so ``final_state()`` after a replay-driven pass
costs nothing.

Public names: ``Tracer``, ``Checkpoint``, ``FinalState``, ``ROW_FIELDS``, ``VMError``
(re-exported), ``KERNELS``. Sits above ``prover.vm``; knows nothing of fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np

from prover.vm.isa import NUM_REGS, RAM_WORDS, Op, Program
from prover.vm.kernel import ERR_ADDR, ERR_PC, OUT_FIELDS, Kernel, decode, interpret_jit, interpret_ref, warm
from prover.vm.machine import ROW_FIELDS, VMError, initial_ram

__all__ = ["Tracer", "Checkpoint", "FinalState", "ROW_FIELDS", "VMError", "KERNELS"]

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
    halt_cycles: int = -1  # cycles up to and including the first HALT, if it ran before ``cycle``


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
    """Mutable VM state of one pass: registers, RAM and their times as int64 arrays (the
    interpreter kernels update them in place)."""

    __slots__ = ("cycle", "pc", "halted", "regs", "reg_times", "ram", "ram_times")

    def __init__(self, cycle: int, pc: int, halted: bool, regs: np.ndarray, reg_times: np.ndarray,
                 ram: np.ndarray, ram_times: np.ndarray) -> None:
        self.cycle = cycle
        self.pc = pc
        self.halted = halted
        self.regs = regs
        self.reg_times = reg_times
        self.ram = ram
        self.ram_times = ram_times


KERNELS: Mapping[str, Kernel] = {"jit": interpret_jit, "ref": interpret_ref}


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
                 *, require_halt: bool = True, kernel: str = "jit") -> None:
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
        if kernel not in KERNELS:
            raise ValueError(f"kernel {kernel!r} is not one of {', '.join(sorted(KERNELS))}")
        self.kernel = kernel
        self._interpret = KERNELS[kernel]
        if kernel == "jit":
            warm()  # load the compiled loop now (the tracer is built before any stage), not in a chunk
        self._ram0 = np.array(initial_ram(program, ram_init), dtype=_I64)
        self._decoded = decode(program)
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
        rows, st = self._replay_state(i)
        if i == self.num_chunks - 1 and self._final is None and (st.halted or not self.require_halt):
            self._finish(st)  # the replay reached T: final_state() needs no further run
        return rows

    def replay_span(self, first: int, count: int) -> dict[str, np.ndarray]:
        """Chunks first .. first + count - 1 regenerated from checkpoint ``first`` alone, their
        rows concatenated per field (count * C rows): one restore, then the kernel runs on.

        The same rows as ``replay`` of each chunk (a checkpoint is the state a run reaches);
        a pass that builds columns over several chunks at once pays the per-chunk overhead of
        the column builder once per span instead of once per chunk."""
        if count < 1 or not 0 <= first or first + count > self.num_chunks:
            raise IndexError(f"chunks {first} .. {first + count - 1} outside [0, {self.num_chunks})")
        self._ensure_checkpoint(first)
        st = self._restore(self._checkpoints[first])
        n = self.chunk_size
        out = {f: np.empty(count * n, dtype=_I64) for f in ROW_FIELDS}
        for j in range(count):
            rows = self._run_chunk(st, first + j)
            for f in ROW_FIELDS:
                out[f][j * n : (j + 1) * n] = rows[f]
        if first + count == self.num_chunks and self._final is None and (st.halted or not self.require_halt):
            self._finish(st)
        return out

    def _replay_state(self, i: int) -> tuple[dict[str, np.ndarray], _State]:
        self._ensure_checkpoint(i)
        st = self._restore(self._checkpoints[i])
        return self._run_chunk(st, i), st

    def checkpoint(self, i: int) -> Checkpoint:
        """The state before chunk i (computed by running on if the first pass has not got there)."""
        if not 0 <= i < self.num_chunks:
            raise IndexError(f"chunk {i} outside [0, {self.num_chunks})")
        self._ensure_checkpoint(i)
        return self._checkpoints[i]

    def load_checkpoints(self, checkpoints: Sequence[Checkpoint]) -> None:
        """Take the checkpoints of an earlier run of the same program, input, T and chunk size
        (e.g. another tracer's ``checkpoints``), so that ``replay`` needs no forward run.

        Only their shape is checked (chunk i starts at cycle i*C); a checkpoint from a different
        run replays that run's rows."""
        ckpts = list(checkpoints)
        if len(ckpts) > self.num_chunks:
            raise ValueError(f"{len(ckpts)} checkpoints for {self.num_chunks} chunks")
        for i, ck in enumerate(ckpts):
            if ck.cycle != i * self.chunk_size:
                raise ValueError(f"checkpoint {i} is at cycle {ck.cycle}, expected {i * self.chunk_size}")
        self._checkpoints = ckpts
        for ck in ckpts:
            self._note_halt(ck.halt_cycles)

    def final_state(self) -> FinalState:
        """State after all T rows: kept from the last run or replay that reached T; otherwise
        runs on from the last checkpoint (not from cycle 0)."""
        if self._final is None:
            self._ensure_checkpoint(self.num_chunks - 1)
        if self._final is None:
            self._finish(self._replay_state(self.num_chunks - 1)[1])  # VMError if it never halted
        if self._final is None:  # run() always sets it; keeps mypy and -O honest
            raise RuntimeError("tracer finished without a final state")
        return self._final

    @property
    def halt_cycles(self) -> int:
        """Cycles up to and including the first HALT (the program's real length)."""
        return self.final_state().halt_cycles

    # -- state and checkpoints --------------------------------------------------------------
    def _fresh_state(self) -> _State:
        return _State(0, 0, False, np.zeros(NUM_REGS, dtype=_I64), np.zeros(NUM_REGS, dtype=_I64),
                      self._ram0.copy(), np.zeros(RAM_WORDS, dtype=_I64))

    def _record_checkpoint(self, i: int, st: _State) -> None:
        times = st.ram_times
        touched = np.flatnonzero(times)
        ckpt = Checkpoint(
            cycle=st.cycle, pc=st.pc, halted=st.halted,
            regs=tuple(int(v) for v in st.regs), reg_times=tuple(int(v) for v in st.reg_times),
            ram_addrs=touched,
            ram_values=st.ram[touched],
            ram_times=times[touched],
            halt_cycles=self._halt_cycles if st.halted else -1,
        )
        if i < len(self._checkpoints):
            self._checkpoints[i] = ckpt  # a rerun recomputes the same state
        elif i == len(self._checkpoints):
            self._checkpoints.append(ckpt)
        else:
            raise RuntimeError(f"checkpoint {i} recorded before checkpoint {len(self._checkpoints)}")

    def _restore(self, ckpt: Checkpoint) -> _State:
        st = _State(ckpt.cycle, ckpt.pc, ckpt.halted, np.array(ckpt.regs, dtype=_I64),
                    np.array(ckpt.reg_times, dtype=_I64), self._ram0.copy(), np.zeros(RAM_WORDS, dtype=_I64))
        st.ram[ckpt.ram_addrs] = ckpt.ram_values
        st.ram_times[ckpt.ram_addrs] = ckpt.ram_times
        return st

    def _note_halt(self, halt_cycles: int) -> None:
        if halt_cycles >= 0 and (self._halt_cycles < 0 or halt_cycles < self._halt_cycles):
            self._halt_cycles = halt_cycles

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
            regs=st.regs.copy(), reg_times=st.reg_times.copy(),
            ram=st.ram.copy(), ram_times=st.ram_times.copy(),
            halted=st.halted, halt_cycles=self._halt_cycles,
        )

    # -- the interpreter loop (the hot path) ------------------------------------------------
    def _run_chunk(self, st: _State, i: int) -> dict[str, np.ndarray]:
        """Execute C cycles from ``st`` (mutated), returning the rows of chunk i."""
        n = self.chunk_size
        if st.cycle != i * n:
            raise RuntimeError(f"state at cycle {st.cycle} cannot produce chunk {i}")
        rows, k_halt = self._execute(st, n)
        if k_halt >= 0:
            self._note_halt(i * n + k_halt + 1)
            _fill_halt_rows(rows, st, k_halt, n, tuple(int(v) for v in self._decoded[:, st.pc]))
        # z = w except on branches (z = x - y): rebuilt here so the loop stores one column less.
        branch = self._is_branch[rows["pc"]]
        rows["z"] = rows["w"].copy()
        rows["z"][branch] = (rows["x"][branch] - rows["y"][branch]) & 0xFFFFFFFF
        return {f: rows[f] for f in ROW_FIELDS}

    def _execute(self, st: _State, n: int) -> tuple[dict[str, np.ndarray], int]:
        """Run up to n cycles with the kernel; stop after the first HALT row. Returns the row
        columns (z not filled) and the row index of that HALT (-1 if none). On return st is
        advanced by n cycles as if the HALT had repeated (the caller fills those rows);
        registers do not change under HALT."""
        out = np.zeros((len(OUT_FIELDS), n), dtype=_I64)
        pc, k_halt, err, err_pc, err_cycle, err_value = self._interpret(
            self._decoded, st.regs, st.reg_times, st.ram, st.ram_times, st.pc, st.cycle, n, out)
        if err == ERR_PC:
            raise VMError(f"pc {err_pc} outside the program of length {self._decoded.shape[1]}",
                          pc=err_pc, cycle=err_cycle)
        if err == ERR_ADDR:
            name = Op(int(self._decoded[0, err_pc])).name
            raise VMError(f"{name} address {err_value} >= M = {RAM_WORDS}", pc=err_pc, cycle=err_cycle)
        if err:
            raise VMError(f"unknown opcode {err_value}", pc=err_pc, cycle=err_cycle)
        st.pc = int(pc)
        st.halted = k_halt >= 0
        st.cycle = st.cycle + n
        return {f: out[j] for j, f in enumerate(OUT_FIELDS)}, int(k_halt)


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
