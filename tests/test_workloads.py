"""Workload sizing: cycles(n) <= 2^K < cycles(n + 1), the cycle model matches real runs, the
expected output matches a VM run, and out-of-range K is refused."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from prover.tracer import Tracer
from prover.vm import run, words_to_bytes
from prover.vm.programs import fib, sha2_chain
from prover.workloads import WORKLOADS, WorkloadError, build, cycle_model, describe


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_sizing_fills_T(name: str) -> None:
    a, b = cycle_model(name)
    spec = WORKLOADS[name]
    for k in range(spec.min_log_t, spec.max_log_t + 1):
        w = build(name, k)
        assert w.T == 1 << k and w.real_cycles == a + b * w.n
        assert w.n >= 1 and a + b * w.n <= w.T < a + b * (w.n + 1)


def test_cycle_model_matches_runs() -> None:
    for n in (0, 3):
        a, b = cycle_model("sha2-chain")
        msg = bytes(32)
        assert run(sha2_chain.program(), sha2_chain.ram_input(n, msg)).cycles == a + b * n
        a, b = cycle_model("fib")
        assert run(fib.program(), fib.ram_input(n)).cycles == a + b * n == fib.cycles(n)


def test_sha2_chain_at_smallest_T_traces_to_expected_output() -> None:
    w = build("sha2-chain", 12)
    assert w.input_bytes == hashlib.sha256(b"stagegate sha2-chain input").digest()
    assert w.expected_output == sha2_chain.expected_output(w.n, w.input_bytes)
    tr = Tracer(w.program, w.ram_init, w.T, 8)
    final = tr.final_state()
    out = w.program.region("output")
    assert words_to_bytes(final.ram[out.base : out.end]) == w.expected_output
    assert tr.halt_cycles == w.real_cycles


def test_fib_traces_to_expected_output() -> None:
    w = build("fib", 10)
    final = Tracer(w.program, w.ram_init, w.T, 4).final_state()
    assert words_to_bytes(final.ram[1:2]) == w.expected_output == fib.expected_output(w.n)
    assert final.halt_cycles == w.real_cycles


@pytest.mark.parametrize("name, k", [("sha2-chain", 11), ("sha2-chain", 22), ("fib", 7), ("fib", 22),
                                     ("fib", "16"), ("nope", 16)])
def test_bad_log_t_or_name_rejected(name: str, k: object) -> None:
    with pytest.raises(WorkloadError) as err:
        build(name, k)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


def test_describe() -> None:
    d = describe(build("sha2-chain", 16))
    assert d["T"] == 65536 and d["workload"] == "sha2-chain"
    assert len(bytes.fromhex(str(d["output"]))) == 32
    assert int(d["real_cycles"]) + int(d["padding_rows"]) == 65536  # type: ignore[call-overload]


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_timestamp_gaps_do_not_grow_with_T(name: str) -> None:
    """The gaps dB, dA are range-checked in 22 bits; they must stay small at any T (e.g. HALT's rd
    must not be a register first touched at the end), so check them well below 2^22 here."""
    w = build(name, 14)
    rows = Tracer(w.program, w.ram_init, w.T, 10).rows()
    table = w.program.table()
    c = np.arange(w.T)
    reads_rs = table.use_imm[rows["pc"]] == 0
    assert (2 * c - rows["tB_prev"])[reads_rs].max() < 1 << 13
    assert (2 * c + 1 - rows["tA_prev"]).max() < 1 << 13
