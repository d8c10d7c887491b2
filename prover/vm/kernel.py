"""The tracer's interpreter loop, twice: a plain-Python reference and a numba-compiled twin.

Both run up to ``n`` cycles of a pre-decoded program from a state held in int64 arrays and write
the rows into ``out`` (int64, shape (9, n), zero-filled by the caller), in the order of
``OUT_FIELDS``; ``z`` is not written (the tracer derives it). They stop after the first HALT row.
Both return ``(pc, k_halt, err, err_pc, err_cycle, err_value)``:

- ``pc``: the pc after the last executed cycle (the HALT's own pc if one ran);
- ``k_halt``: the row index of that HALT, or -1;
- ``err``: 0, or ``ERR_PC`` (pc outside the program), ``ERR_ADDR`` (RAM address >= M; value is
  the address, err_pc the op's pc), ``ERR_OP`` (unknown opcode; value is the opcode). On an error
  the state is partly advanced and must be discarded (the tracer raises ``VMError``).

Registers, register times, RAM and RAM times are updated in place; ``cycle`` is the cycle of row
0. The program arrays are ``decode(program)``. ``interpret_ref`` is the executable specification
of this loop (beside ``Machine.step``, which specifies the VM); ``interpret_jit`` must agree with
it on every input, and the tests run one suite against both.

The JIT is compiled once per machine and loaded from numba's on-disk cache afterwards
(``cache=True``); ``warm()`` triggers that load with a one-cycle run so that whoever calls it (the
tracer, at construction, outside every stage) pays it instead of the first chunk.

Public names: ``OUT_FIELDS``, ``ERR_PC``, ``ERR_ADDR``, ``ERR_OP``, ``decode``, ``interpret_ref``,
``interpret_jit``, ``warm``. Sits in ``prover.vm`` above ``isa``.
"""

from __future__ import annotations

from typing import Any, Callable

import numba
import numpy as np

from prover.vm.isa import RAM_WORDS, Op, Program

__all__ = ["OUT_FIELDS", "ERR_PC", "ERR_ADDR", "ERR_OP", "decode", "interpret_ref", "interpret_jit", "warm",
           "Kernel"]

OUT_FIELDS: tuple[str, ...] = ("pc", "x", "y", "w", "mold", "addr", "tB_prev", "tA_prev", "tM_prev")
ERR_PC, ERR_ADDR, ERR_OP = 1, 2, 3

_ADD, _SUB, _AND, _OR, _XOR, _ANDN, _MOV = (int(o) for o in (Op.ADD, Op.SUB, Op.AND, Op.OR, Op.XOR,
                                                              Op.ANDN, Op.MOV))
_SHL, _SHR, _ROTR, _LOAD, _STORE = (int(o) for o in (Op.SHL, Op.SHR, Op.ROTR, Op.LOAD, Op.STORE))
_BEQ, _BNE, _BLTU, _JAL, _HALT = (int(o) for o in (Op.BEQ, Op.BNE, Op.BLTU, Op.JAL, Op.HALT))
_M32 = 0xFFFFFFFF
_MW = RAM_WORDS

Result = tuple[int, int, int, int, int, int]
Kernel = Callable[..., Any]


def decode(program: Program) -> np.ndarray:
    """The program as an int64 array of shape (6, len): op, rd, rs, imm, use_imm, 32 - imm."""
    t = program.table()
    return np.ascontiguousarray(np.stack([t.op, t.rd, t.rs, t.imm, t.use_imm, 32 - t.imm]).astype(np.int64))


def interpret_ref(prog: np.ndarray, regs: np.ndarray, reg_times: np.ndarray, ram: np.ndarray,
                  ram_times: np.ndarray, pc: int, cycle: int, n: int, out: np.ndarray) -> Result:
    """The reference loop (plain Python ints; reads and writes the arrays once per call)."""
    ops = [tuple(int(v) for v in col) for col in prog.T]
    R = [int(v) for v in regs]
    RT = [int(v) for v in reg_times]
    ram_l = ram.tolist()
    mt_l = ram_times.tolist()
    cols: list[list[int]] = [[0] * n for _ in range(9)]
    P, X, Y, W, MOLD, ADDR, TB, TA, TM = cols
    c = cycle
    k_halt = -1
    err = (0, 0, 0, 0)
    for k in range(n):
        if not 0 <= pc < len(ops):
            err = (ERR_PC, pc, c, pc)
            break
        op, rd, rs, imm, ui, aux = ops[pc]
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
        if op == _XOR:
            w = x ^ y
            pc += 1
        elif op == _ADD:
            w = (x + y) & _M32
            pc += 1
        elif op == _ROTR:
            w = ((x >> imm) | (x << aux)) & _M32
            pc += 1
        elif op == _MOV:
            w = y
            pc += 1
        elif op == _LOAD or op == _STORE:
            a = y + imm
            if a >= _MW:
                err = (ERR_ADDR, pc, c - 1, a)
                break
            MOLD[k] = w = ram_l[a]
            ADDR[k] = a
            TM[k] = mt_l[a]
            mt_l[a] = c
            if op == _STORE:
                ram_l[a] = w = x
            pc += 1
        elif op == _AND:
            w = x & y
            pc += 1
        elif op == _SHR:
            w = x >> imm
            pc += 1
        elif op == _SHL:
            w = (x << imm) & _M32
            pc += 1
        elif op == _SUB:
            w = (x - y) & _M32
            pc += 1
        elif op == _BNE:
            w = x
            pc = imm if x != y else pc + 1
        elif op == _BEQ:
            w = x
            pc = imm if x == y else pc + 1
        elif op == _BLTU:
            w = x
            pc = imm if x < y else pc + 1
        elif op == _OR:
            w = x | y
            pc += 1
        elif op == _ANDN:
            w = x & ~y & _M32
            pc += 1
        elif op == _JAL:
            w = pc + 1
            pc = imm
        elif op == _HALT:
            W[k] = x
            k_halt = k
            break
        else:
            err = (ERR_OP, pc, c - 1, op)
            break
        W[k] = w
        R[rd] = w
    regs[:] = R
    reg_times[:] = RT
    ram[:] = ram_l
    ram_times[:] = mt_l
    out[:] = np.array(cols, dtype=np.int64)
    return pc, k_halt, err[0], err[1], err[2], err[3]


def _loop(prog: np.ndarray, regs: np.ndarray, reg_times: np.ndarray, ram: np.ndarray,
          ram_times: np.ndarray, pc: int, cycle: int, n: int, out: np.ndarray) -> Result:
    # The same loop as interpret_ref over int64 arrays. Words are < 2^32, so every intermediate
    # below fits int64 except x << aux in ROTR (up to 2^64), whose wrap only touches bits >= 32,
    # which the mask drops: the low 32 bits are exact.
    length = prog.shape[1]
    c = cycle
    k_halt = -1
    for k in range(n):
        if pc < 0 or pc >= length:
            return pc, k_halt, ERR_PC, pc, c, pc
        op = prog[0, pc]
        rd = prog[1, pc]
        rs = prog[2, pc]
        imm = prog[3, pc]
        x = regs[rd]
        t = c + c + 1
        if prog[4, pc]:
            y = imm
        else:
            y = regs[rs]
            out[6, k] = reg_times[rs]
            reg_times[rs] = t
        out[7, k] = reg_times[rd]
        reg_times[rd] = t + 1
        out[0, k] = pc
        out[1, k] = x
        out[2, k] = y
        c += 1
        if op == _XOR:
            w = x ^ y
            pc += 1
        elif op == _ADD:
            w = (x + y) & _M32
            pc += 1
        elif op == _ROTR:
            w = ((x >> imm) | (x << prog[5, pc])) & _M32
            pc += 1
        elif op == _MOV:
            w = y
            pc += 1
        elif op == _LOAD or op == _STORE:
            a = y + imm
            if a >= _MW:
                return pc, k_halt, ERR_ADDR, pc, c - 1, a
            w = ram[a]
            out[4, k] = w
            out[5, k] = a
            out[8, k] = ram_times[a]
            ram_times[a] = c
            if op == _STORE:
                ram[a] = x
                w = x
            pc += 1
        elif op == _AND:
            w = x & y
            pc += 1
        elif op == _SHR:
            w = x >> imm
            pc += 1
        elif op == _SHL:
            w = (x << imm) & _M32
            pc += 1
        elif op == _SUB:
            w = (x - y) & _M32
            pc += 1
        elif op == _BNE:
            w = x
            pc = imm if x != y else pc + 1
        elif op == _BEQ:
            w = x
            pc = imm if x == y else pc + 1
        elif op == _BLTU:
            w = x
            pc = imm if x < y else pc + 1
        elif op == _OR:
            w = x | y
            pc += 1
        elif op == _ANDN:
            w = x & ~y & _M32
            pc += 1
        elif op == _JAL:
            w = pc + 1
            pc = imm
        elif op == _HALT:
            out[3, k] = x
            k_halt = k
            break
        else:
            return pc, k_halt, ERR_OP, pc, c - 1, op
        out[3, k] = w
        regs[rd] = w
    return pc, k_halt, 0, 0, 0, 0


interpret_jit: Kernel = numba.njit(cache=True, nogil=True, boundscheck=False)(_loop)


def warm() -> None:
    """Compile or load ``interpret_jit`` from its cache now: one cycle of a one-HALT program."""
    prog = np.zeros((6, 1), dtype=np.int64)
    prog[0, 0] = _HALT
    prog[4, 0] = 1
    prog[5, 0] = 32
    z16 = np.zeros(16, dtype=np.int64)
    zm = np.zeros(_MW, dtype=np.int64)
    interpret_jit(prog, z16, z16.copy(), zm, zm.copy(), 0, 0, 1, np.zeros((9, 1), dtype=np.int64))
