"""Seeded random VM programs, sized as workloads, for the differential tests of backend mixes.

``random_workload(seed, kind)`` builds a ``Workload`` that no stage was written for: straight-line
code over every non-control op, data-dependent forward branches, JALs, loads and stores
(``kind="straight"``), or the same inside a counted loop (``kind="loop"``). The program reads
its two input words and stores four registers in its output region before HALT; the expected
output comes from the reference machine (``prover.vm.machine.run``), never from the prover.

``registered(workload)`` lets the verifier resolve the program by the workload's name (the
verifier knows programs by name only, ``relations.layout.program_of``); it patches the name
table, not any check.
"""

from __future__ import annotations

import contextlib
import random
import types
from collections.abc import Iterator

import pytest

from prover.relations import layout
from prover.vm.assembler import Assembler
from prover.vm.isa import Op, Program, Region, words_to_bytes
from prover.vm.machine import run
from prover.workloads import Workload

INPUT = Region(200, 2)
OUTPUT = Region(210, 4)
NAME_PREFIX = "random-"


def _body(a: Assembler, rng: random.Random, length: int, tag: str) -> None:
    """Random non-control work on r0..r7 (r8 is the load/store base; r9, r10 stay the loop's)."""
    for i in range(length):
        kind = rng.randrange(6)
        rd, rs = rng.randrange(8), rng.randrange(8)
        if kind == 0:
            op = rng.choice([Op.ADD, Op.SUB, Op.AND, Op.OR, Op.XOR, Op.ANDN, Op.MOV])
            if rng.random() < 0.5:
                a.emit(op, rd, rs)
            else:
                a.emit(op, rd, 0, rng.getrandbits(32), True)
        elif kind == 1:
            a.emit(rng.choice([Op.SHL, Op.SHR, Op.ROTR]), rd, 0, rng.randrange(32), True)
        elif kind == 2:  # an address in RAM words 0 .. 127, away from the input and output
            a.li(8, rng.randrange(64))
            a.emit(rng.choice([Op.LOAD, Op.STORE]), rd, 8, rng.randrange(64))
        elif kind == 3:
            label = f"{tag}skip{i}"
            a.emit(rng.choice([Op.BEQ, Op.BNE, Op.BLTU]), rd, rs, label)
            a.xori(rd, rng.getrandbits(32))
            a.label(label)
        elif kind == 4:
            label = f"{tag}j{i}"
            a.jal(rd, label)
            a.label(label)
        else:
            a.addi(rd, rng.getrandbits(32))


def random_program(seed: int, kind: str) -> tuple[Program, dict[int, int]]:
    """(program, input RAM words) for one seed; ``kind`` is "straight" or "loop"."""
    if kind not in ("straight", "loop"):
        raise ValueError(f"kind {kind!r}: expected 'straight' or 'loop'")
    rng = random.Random(f"{kind}:{seed}")
    a = Assembler()
    a.li(8, INPUT.base)
    a.load(1, 8, 0)
    a.load(2, 8, 1)
    for r in range(3, 8):
        a.li(r, rng.getrandbits(32))
    if kind == "straight":
        _body(a, rng, rng.randrange(60, 160), "s")
    else:
        a.li(9, rng.randrange(3, 9))  # iterations
        a.li(10, 0)
        a.label("loop")
        _body(a, rng, rng.randrange(15, 40), "l")
        a.subi(9, 1)
        a.bne(9, 10, "loop")
    a.li(8, OUTPUT.base)
    for i in range(OUTPUT.length):
        a.store(1 + i, 8, i)
    a.halt()
    ram = {addr: rng.getrandbits(32) for addr in range(0, 128, 3)}
    program = a.build(ram_init=ram, regions={"input": INPUT, "output": OUTPUT}, name=f"{NAME_PREFIX}{kind}-{seed}")
    n = rng.randrange(1, 1 << 16)
    return program, {INPUT.base: n, INPUT.base + 1: rng.getrandbits(32)}


def random_workload(seed: int, kind: str, min_log_t: int = 8) -> Workload:
    """The program of ``random_program(seed, kind)`` as a workload of the smallest T >= its cycles."""
    program, inputs = random_program(seed, kind)
    ram_init = {**program.ram_init, **inputs}
    result = run(program, ram_init)
    log_t = max(min_log_t, (result.cycles - 1).bit_length())
    return Workload(
        name=program.name,
        log_t=log_t,
        T=1 << log_t,
        n=inputs[INPUT.base],
        program=program,
        ram_init=ram_init,
        input_bytes=b"",
        expected_output=words_to_bytes(list(result.words(OUTPUT.base, OUTPUT.length))),
        real_cycles=result.cycles,
    )


@contextlib.contextmanager
def registered(workload: Workload) -> Iterator[None]:
    """The verifier resolves ``workload.name`` to its program while the block runs."""
    original = layout._programs
    entry = types.SimpleNamespace(NAME=workload.name, program=lambda: workload.program)

    def programs() -> dict[str, object]:
        return {**original(), workload.name: entry}

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(layout, "_programs", programs)
        yield
