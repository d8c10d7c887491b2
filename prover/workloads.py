"""Workloads: a program, its input and the trace length T = 2^log_t it is sized to fill.

- ``sha2-chain``: SHA-256 applied N times to sha256(b"stagegate sha2-chain input"); N is the
  largest with cycles(N) <= T (cycles include the final HALT). log_t in 12..21: one hash takes
  about 2.6k cycles, so 2^12 already holds N = 1.
- ``fib``: fib(n) mod 2^32 with the largest n that fits; log_t in 8..21.

cycles(n) = a + b n exactly (control flow depends on n only); a and b are measured once per
process by running n = 1 and n = 2 on the reference interpreter.

Public names: ``WORKLOADS`` (name -> ``WorkloadSpec``), ``build(name, log_t) -> Workload``,
``describe(workload) -> dict``, ``cycle_model(name) -> (a, b)``, ``Workload``, ``WorkloadError``.
Sits above ``prover.vm`` (next to the tracer); the CLI prints ``describe``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping

from prover.vm.isa import Program, bytes_to_words
from prover.vm.machine import run
from prover.vm.programs import fib, sha2_chain

__all__ = ["WORKLOADS", "Workload", "WorkloadError", "WorkloadSpec", "build", "cycle_model", "describe"]

SHA2_SEED = b"stagegate sha2-chain input"


class WorkloadError(ValueError):
    """An unknown workload or a log_t outside its valid range."""


@dataclass(frozen=True, eq=False)
class Workload:
    """One sized instance. ``ram_init`` is the whole initial RAM image (program data + input);
    ``expected_output`` the output region's bytes (big-endian words) computed without the VM;
    ``real_cycles`` the cycles up to and including HALT (<= T; the rest is HALT padding)."""

    name: str
    log_t: int
    T: int
    n: int
    program: Program
    ram_init: Mapping[int, int]
    input_bytes: bytes
    expected_output: bytes
    real_cycles: int

    def output_words(self) -> list[int]:
        return bytes_to_words(self.expected_output)


@dataclass(frozen=True)
class WorkloadSpec:
    """How to size and build one workload: ``make(n)`` -> (program, input RAM words, input bytes,
    expected output bytes)."""

    name: str
    min_log_t: int
    max_log_t: int
    summary: str
    make: Callable[[int], tuple[Program, dict[int, int], bytes, bytes]]


def _sha2_message() -> bytes:
    return hashlib.sha256(SHA2_SEED).digest()


def _make_sha2(n: int) -> tuple[Program, dict[int, int], bytes, bytes]:
    msg = _sha2_message()
    return sha2_chain.program(), sha2_chain.ram_input(n, msg), msg, sha2_chain.expected_output(n, msg)


def _make_fib(n: int) -> tuple[Program, dict[int, int], bytes, bytes]:
    return fib.program(), fib.ram_input(n), b"", fib.expected_output(n)


WORKLOADS: Mapping[str, WorkloadSpec] = {
    "sha2-chain": WorkloadSpec("sha2-chain", 12, 21, "SHA-256 applied N times to a 32-byte message", _make_sha2),
    "fib": WorkloadSpec("fib", 8, 21, "fib(n) mod 2^32", _make_fib),
}


def _spec(name: str) -> WorkloadSpec:
    if name not in WORKLOADS:
        raise WorkloadError(f"unknown workload {name!r}; choose one of {', '.join(sorted(WORKLOADS))}")
    return WORKLOADS[name]


@lru_cache(maxsize=None)
def cycle_model(name: str) -> tuple[int, int]:
    """(a, b) with cycles(n) = a + b n, measured from runs with n = 1 and n = 2."""
    spec = _spec(name)
    counts = []
    for n in (1, 2):
        program, ram, _, _ = spec.make(n)
        counts.append(run(program, ram).cycles)
    b = counts[1] - counts[0]
    return counts[0] - b, b


def build(name: str, log_t: int) -> Workload:
    """The workload ``name`` sized for T = 2^log_t: the largest n with cycles(n) <= T."""
    spec = _spec(name)
    if not (isinstance(log_t, int) and spec.min_log_t <= log_t <= spec.max_log_t):
        raise WorkloadError(f"{name}: log T = {log_t!r} is outside the valid range "
                            f"{spec.min_log_t}..{spec.max_log_t}")
    T = 1 << log_t
    a, b = cycle_model(name)
    n = (T - a) // b
    if n < 1:  # the ranges above are chosen so this cannot happen
        raise WorkloadError(f"{name}: log T = {log_t} is too small for a single iteration "
                            f"({a + b} cycles)")
    program, input_ram, input_bytes, expected = spec.make(n)
    ram_init = {**program.ram_init, **input_ram}
    return Workload(name=name, log_t=log_t, T=T, n=n, program=program, ram_init=ram_init,
                    input_bytes=input_bytes, expected_output=expected, real_cycles=a + b * n)


def describe(workload: Workload) -> dict[str, object]:
    """A JSON-ready summary for ``prover trace``."""
    return {
        "workload": workload.name,
        "log_t": workload.log_t,
        "T": workload.T,
        "n": workload.n,
        "real_cycles": workload.real_cycles,
        "padding_rows": workload.T - workload.real_cycles,
        "program_length": len(workload.program),
        "input": workload.input_bytes.hex(),
        "output": workload.expected_output.hex(),
    }
