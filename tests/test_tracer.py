"""The tracer agrees with the reference interpreter row for row, and every chunk replayed from its
checkpoint equals the first run's rows (fib, a short sha2 run, random programs).

Every test runs once per interpreter kernel (``prover.vm.kernel``: the plain-Python reference and
its numba twin): the autouse ``kernel`` fixture rebinds this module's ``Tracer`` to one with that
kernel, so one suite checks both."""

from __future__ import annotations

import functools
import hashlib
import random
import sys
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from prover.tracer import KERNELS, ROW_FIELDS, Tracer
from prover.vm import RAM_WORDS, Assembler, Machine, Op, Program, VMError, words_to_bytes
from prover.vm.programs import fib, sha2_chain

MSG = hashlib.sha256(b"stagegate sha2-chain input").digest()
_TracerClass = Tracer


@pytest.fixture(params=sorted(KERNELS), autouse=True)
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(sys.modules[__name__], "Tracer", functools.partial(_TracerClass, kernel=request.param))
    yield request.param


def count_kernel_calls(tr: Any) -> list[int]:
    """Wrap tr's kernel so that every chunk it interprets is counted (a forward run shows up)."""
    calls = [0]
    inner: Callable[..., Any] = tr._interpret

    def counted(*args: Any) -> Any:
        calls[0] += 1
        return inner(*args)

    tr._interpret = counted
    return calls


def reference_rows(program: Program, ram: dict[int, int] | None, T: int) -> dict[str, np.ndarray]:
    rows = Machine(program, ram).trace(T)
    return {f: np.array([getattr(r, f) for r in rows], dtype=np.int64) for f in ROW_FIELDS}


def assert_rows_equal(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(ROW_FIELDS)
    for f in ROW_FIELDS:
        bad = np.flatnonzero(got[f] != want[f])
        assert bad.size == 0, f"{f} differs first at row {bad[0]}: {got[f][bad[0]]} != {want[f][bad[0]]}"


def assert_replays_match(tr: Tracer, rows: dict[str, np.ndarray], order: list[int]) -> None:
    C = tr.chunk_size
    for i in order:
        chunk = tr.replay(i)
        assert_rows_equal(chunk, {f: rows[f][i * C : (i + 1) * C] for f in ROW_FIELDS})


def random_program(rng: random.Random, length: int, halt_form: tuple[int, int, bool]) -> Program:
    """Straight-line code over every non-control op, a data-dependent branch, then a HALT."""
    a = Assembler()
    for r in range(1, 8):
        a.li(r, rng.getrandbits(32))
    for _ in range(length):
        kind = rng.randrange(5)
        rd, rs = rng.randrange(8), rng.randrange(8)
        if kind == 0:
            op = rng.choice([Op.ADD, Op.SUB, Op.AND, Op.OR, Op.XOR, Op.ANDN, Op.MOV])
            if rng.random() < 0.5:
                a.emit(op, rd, rs)
            else:
                a.emit(op, rd, 0, rng.getrandbits(32), True)
        elif kind == 1:
            a.emit(rng.choice([Op.SHL, Op.SHR, Op.ROTR]), rd, 0, rng.randrange(32), True)
        elif kind == 2:  # a valid address: r8 = small base
            a.li(8, rng.randrange(64))
            a.emit(rng.choice([Op.LOAD, Op.STORE]), rd, 8, rng.randrange(64))
        elif kind == 3:
            label = f"skip{a.pc}"
            a.emit(rng.choice([Op.BEQ, Op.BNE, Op.BLTU]), rd, rs, label)
            a.xori(rd, 1)
            a.label(label)
        else:
            label = f"j{a.pc}"
            a.jal(rd, label)
            a.label(label)
    hrd, hrs, himm = halt_form
    a.emit(Op.HALT, hrd, hrs, 0, himm)
    return a.build(ram_init={addr: rng.getrandbits(32) for addr in range(0, 128, 3)})


@pytest.mark.parametrize("halt_form", [(0, 0, True), (3, 5, False), (4, 4, False)])
def test_random_programs_match_reference(halt_form: tuple[int, int, bool]) -> None:
    rng = random.Random(hash(halt_form) & 0xFFFF)
    for _ in range(3):
        program = random_program(rng, 120, halt_form)
        T = 512
        tr = Tracer(program, None, T, 5)
        rows = tr.rows()
        assert_rows_equal(rows, reference_rows(program, None, T))
        assert_replays_match(tr, rows, list(range(tr.num_chunks)))


def test_fib_rows_and_replay_every_chunk() -> None:
    program, ram = fib.program(), fib.ram_input(30)
    tr = Tracer(program, ram, 256, 4)
    rows = tr.rows()
    assert_rows_equal(rows, reference_rows(program, ram, 256))
    assert_replays_match(tr, rows, list(range(tr.num_chunks)))
    assert tr.halt_cycles == fib.cycles(30)
    final = tr.final_state()
    assert words_to_bytes(final.ram[fib.OUTPUT.base : fib.OUTPUT.end]) == fib.expected_output(30)


def test_sha2_short_run_rows_replay_and_digest() -> None:
    program, ram = sha2_chain.program(), sha2_chain.ram_input(1, MSG)
    T = 4096
    tr = Tracer(program, ram, T, 9)
    rows = tr.rows()
    assert_rows_equal(rows, reference_rows(program, ram, T))
    order = list(range(tr.num_chunks))
    random.Random(7).shuffle(order)
    assert_replays_match(tr, rows, order)
    final = tr.final_state()
    out = sha2_chain.OUTPUT
    assert words_to_bytes(final.ram[out.base : out.end]) == hashlib.sha256(MSG).digest()
    # Checkpoints keep only the touched RAM words, not all of RAM.
    assert max(len(c.ram_addrs) for c in tr.checkpoints) < 100


def test_replay_before_run_builds_checkpoints_lazily() -> None:
    program, ram = fib.program(), fib.ram_input(40)
    rows = Tracer(program, ram, 256, 3).rows()
    fresh = Tracer(program, ram, 256, 3)
    assert_replays_match(fresh, rows, [17, 3, 31, 0, 17])
    assert fresh.final_state().halt_cycles == fib.cycles(40)


def test_checkpoint_state_matches_reference_machine() -> None:
    program, ram = sha2_chain.program(), sha2_chain.ram_input(1, MSG)
    tr = Tracer(program, ram, 4096, 10)
    for _ in tr.run():
        pass
    m = Machine(program, ram)
    for ckpt in tr.checkpoints:
        while m.cycle < ckpt.cycle:
            m.step()
        assert (ckpt.pc, list(ckpt.regs), list(ckpt.reg_times)) == (m.pc, m.regs, m.reg_times)
        for addr, value, time in zip(ckpt.ram_addrs, ckpt.ram_values, ckpt.ram_times):
            assert (m.ram[addr], m.ram_times[addr]) == (value, time)
        assert sum(1 for t in m.ram_times if t) == len(ckpt.ram_addrs)


def test_faults_raise() -> None:
    a = Assembler()
    a.li(1, RAM_WORDS)
    a.store(2, 1, 0)
    a.halt()
    with pytest.raises(VMError) as err:
        Tracer(a.build(), None, 16, 2).rows()
    assert (err.value.pc, err.value.cycle) == (1, 1)
    off_end = Assembler()
    off_end.li(1, 1)
    with pytest.raises(VMError):
        Tracer(off_end.build(), None, 16, 2).rows()


def test_no_halt_within_T() -> None:
    program, ram = fib.program(), fib.ram_input(1000)
    with pytest.raises(VMError, match="did not halt"):
        Tracer(program, ram, 64, 3).rows()
    rows = Tracer(program, ram, 64, 3, require_halt=False).rows()
    assert_rows_equal(rows, reference_rows(program, ram, 64))


def test_bad_shapes_rejected() -> None:
    with pytest.raises(ValueError):
        Tracer(fib.program(), None, 100, 2)
    with pytest.raises(ValueError):
        Tracer(fib.program(), None, 64, 7)
    with pytest.raises(IndexError):
        Tracer(fib.program(), fib.ram_input(3), 64, 3).replay(8)


def test_loaded_checkpoints_replay_without_a_forward_run() -> None:
    program, ram = sha2_chain.program(), sha2_chain.ram_input(1, MSG)
    first = Tracer(program, ram, 4096, 8)
    rows = first.rows()
    fresh = Tracer(program, ram, 4096, 8)
    fresh.load_checkpoints(first.checkpoints)
    calls = count_kernel_calls(fresh)
    order = [15, 0, 9, 15, 3]
    assert_replays_match(fresh, rows, order)
    assert calls[0] == len(order)  # one interpreted chunk per replay, none to reach the checkpoint
    assert fresh.halt_cycles == first.halt_cycles  # chunk 15 holds T: its replay kept the final state
    assert calls[0] == len(order)


def test_final_state_after_a_replay_pass_does_not_rerun() -> None:
    program, ram = fib.program(), fib.ram_input(40)
    want = Tracer(program, ram, 256, 3)
    want_rows = want.rows()
    tr = Tracer(program, ram, 256, 3)
    for i in range(tr.num_chunks):  # a replay-driven pass, as a streaming stage makes it
        tr.replay(i)
    calls = count_kernel_calls(tr)
    final, ref = tr.final_state(), want.final_state()
    assert calls[0] == 0
    for f in ("regs", "reg_times", "ram", "ram_times"):
        assert np.array_equal(getattr(final, f), getattr(ref, f)), f
    assert (final.halted, final.halt_cycles) == (ref.halted, ref.halt_cycles) == (True, fib.cycles(40))
    # without the last chunk's replay, final_state runs only that chunk, from its checkpoint
    part = Tracer(program, ram, 256, 3)
    part.load_checkpoints(want.checkpoints)
    calls = count_kernel_calls(part)
    assert part.final_state().halt_cycles == fib.cycles(40)
    assert calls[0] == 1
    assert_rows_equal(part.rows(), want_rows)


def test_load_checkpoints_checks_their_shape() -> None:
    program, ram = fib.program(), fib.ram_input(3)
    tr = Tracer(program, ram, 64, 3)
    for _ in tr.run():
        pass
    other = Tracer(program, ram, 64, 2)
    with pytest.raises(ValueError, match="checkpoint 1 is at cycle 8, expected 4"):
        other.load_checkpoints(tr.checkpoints)
    with pytest.raises(ValueError, match="16 checkpoints for 8 chunks"):
        Tracer(program, ram, 64, 3).load_checkpoints(tr.checkpoints + tr.checkpoints)
    with pytest.raises(ValueError, match="kernel"):
        _TracerClass(program, ram, 64, 3, kernel="fortran")


@pytest.mark.parametrize("seed", range(4))
def test_kernels_agree_on_state_rows_and_faults(seed: int) -> None:
    """The two kernels called directly: same rows, same state afterwards, same error triple,
    including a chunk that stops at a RAM fault, a bad pc, and an unknown opcode."""
    from prover.vm.kernel import decode, interpret_jit, interpret_ref

    rng = random.Random(seed)
    program = random_program(rng, 80, (1, 2, False))
    prog = decode(program)
    if seed == 1:
        prog[3, 7] = RAM_WORDS  # pc 7 (straight-line, after the li block) becomes a far LOAD
        prog[0, 7] = int(Op.LOAD)
        prog[4, 7] = 0
    if seed == 2:
        prog[0, 12] = 99
    if seed == 3:
        prog[0, 5], prog[3, 5], prog[4, 5] = int(Op.JAL), prog.shape[1] + 3, 1
    results = []
    for fn in (interpret_ref, interpret_jit):
        regs = np.arange(16, dtype=np.int64) * 7
        rt = np.arange(16, dtype=np.int64)
        ram = np.array([rng.getrandbits(32) for _ in range(RAM_WORDS)], dtype=np.int64) if fn is interpret_ref \
            else results[0][2].copy()
        ram0 = ram.copy()
        mt = np.zeros(RAM_WORDS, dtype=np.int64)
        out = np.zeros((9, 300), dtype=np.int64)
        res = fn(prog, regs, rt, ram, mt, 0, 40, 300, out)
        results.append((tuple(int(v) for v in res), out, ram0, regs, rt, ram, mt))
    (r_ref, *arrs_ref), (r_jit, *arrs_jit) = results
    assert r_ref == r_jit
    assert r_ref[2] == {0: 0, 1: 2, 2: 3, 3: 1}[seed]
    for a, b in zip(arrs_ref, arrs_jit):
        assert np.array_equal(a, b)


def test_warm_compiles_the_only_signature_the_tracer_uses(kernel: str) -> None:
    """What warm() compiles (at Tracer construction, before any stage) is what every later run
    and replay calls: no chunk ever triggers a compilation."""
    from prover.vm.kernel import interpret_jit, warm

    warm()
    before = list(interpret_jit.signatures)
    program, ram = sha2_chain.program(), sha2_chain.ram_input(1, MSG)
    tr = _TracerClass(program, ram, 4096, 7, kernel="jit")
    tr.rows()
    fresh = _TracerClass(program, ram, 4096, 7, kernel="jit")
    fresh.load_checkpoints(tr.checkpoints)
    fresh.replay(31)
    fresh.final_state()
    assert list(interpret_jit.signatures) == before and len(before) == 1
