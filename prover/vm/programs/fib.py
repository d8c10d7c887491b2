"""fib(n) mod 2^32 in a loop: a small program for fast tests.

RAM: input region = [n] at word 0; output region = [fib(n) mod 2^32] at word 1 (big-endian bytes).
cycles(n) = 6 + 5 n, including the final HALT (control flow depends on n only).

Public names: ``NAME``, ``INPUT``, ``OUTPUT``, ``program()``, ``ram_input(n)``,
``expected_output(n)``, ``cycles(n)``.
"""

from __future__ import annotations

from functools import lru_cache

from prover.vm.assembler import Assembler
from prover.vm.isa import WORD_MASK, Program, Region, words_to_bytes

NAME = "fib"
INPUT = Region(0, 1)
OUTPUT = Region(1, 1)

_N, _A, _B, _TMP, _ZERO = 1, 2, 3, 4, 15


@lru_cache(maxsize=1)
def program() -> Program:
    a = Assembler()
    a.load(_N, _ZERO, INPUT.base)
    a.li(_A, 0)
    a.li(_B, 1)
    a.beq(_N, _ZERO, "done")
    a.label("loop")  # (a, b) <- (b, a + b), n times
    a.mov(_TMP, _B)
    a.add(_B, _A)
    a.mov(_A, _TMP)
    a.subi(_N, 1)
    a.bne(_N, _ZERO, "loop")
    a.label("done")
    a.store(_A, _ZERO, OUTPUT.base)
    a.halt(_A)  # not r0: its first access would come ~T cycles late (a timestamp gap of ~2T)
    return a.build(regions={"input": INPUT, "output": OUTPUT}, name=NAME)


def ram_input(n: int) -> dict[int, int]:
    """The input region's words for fib(n)."""
    if not 0 <= n <= WORD_MASK:
        raise ValueError(f"fib: n = {n} is not a 32-bit word")
    return {INPUT.base: n}


def expected_output(n: int) -> bytes:
    """fib(n) mod 2^32 computed in plain Python (independent of the VM), as the output bytes."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) & WORD_MASK
    return words_to_bytes([a])


def cycles(n: int) -> int:
    """Cycles of the run including the final HALT (checked against the VM in the tests)."""
    return 6 + 5 * n
