"""Stage 4's streaming backend (``prover.backends.streaming.logup_registers``) against the
materialized one and the dense prover.

- The windowed prover alone, on random full-field columns and helpers (and on honest helpers,
  given and recomputed), against the dense ``HelperSumcheck``: the same S, round polynomials
  (proof bytes), point, helpers and column values at r, for every split of the streamed rounds
  into windows that the tests' sizes allow, for the slots of stages 3-6 (the schedule is written
  for any helper stage), at several span and chunk sizes; passes 3 + len(windows), every row read
  once a pass.
- Round by round against the dense prover, across the window boundary and the hand-off.
- Whole proofs with stage 4 streaming are the baseline's bytes (the golden digest at sha2-12) and
  verify, with stages 0, 1 and 3 streaming or materialized; both helper paths give the stage's
  bytes; the materialized view is never touched; passes are counted on a counting tracer.
- Soundness: a tampered helper gives a section the verifier rejects at stage 4, and the streaming
  bytes equal the materialized ones there too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from test_helper_stages_streaming import _before_stage, _run
from test_stage3_streaming import (
    ArrayWitness,
    _dense_reference,
    _random_case,
)

from prover import workloads
from prover.backends.dense.logup import HelperSumcheck, HelperTables
from prover.backends.streaming.logup_registers import (
    WindowedHelperSumcheck,
    windows_for,
)
from prover.field import P, emul, epow
from prover.pipeline import prove, statement_of
from prover.stages import stage4
from prover.sumcheck.protocol import prove as sumcheck_prove
from prover.transcript import Transcript
from prover.verifier import VerificationError, context_for, run_stages
from prover.verify_entry import verify
from prover.witness import WitnessSource

ROOT = Path(__file__).resolve().parent.parent
BEFORE = {"0": "streaming", "1": "streaming", "3": "streaming"}


def _splits(total: int) -> list[tuple[int, ...]]:
    """Every composition of 1 .. total streamed rounds into windows (at most 3 windows)."""
    out: list[tuple[int, ...]] = []
    for J in range(1, total + 1):
        for a in range(1, J + 1):
            if a == J:
                out.append((a,))
            for b in range(1, J - a + 1):
                if a + b == J:
                    out.append((a, b))
                elif J - a - b >= 1:
                    out.append((a, b, J - a - b))
    return out


@pytest.mark.parametrize(
    "stage,log_t,chunk_log,span_rows,honest_helpers",
    [
        (4, 6, 2, 8, False),
        (4, 7, 2, 32, True),
        (3, 7, 3, 16, False),
        (5, 7, 3, 16, True),
        (6, 6, 1, 8, False),
    ],
)
def test_every_split_against_the_dense_prover(stage: int, log_t: int, chunk_log: int, span_rows: int,
                                              honest_helpers: bool) -> None:
    cols, alpha, g, helpers, tau, rho = _random_case(stage, log_t, 100 + 10 * stage + log_t, honest_helpers)
    S_ref, proof_ref, r_ref, h_ref, vals_ref = _dense_reference(stage, cols, alpha, g, helpers, tau, rho)
    variants = [helpers] + ([None] if honest_helpers else [])
    splits = _splits(log_t - 1)
    assert (2, 2) in splits and (1, 1, 1) in splits
    for wins in splits:
        for given in variants:
            wit = ArrayWitness(cols, chunk_log)
            prover = WindowedHelperSumcheck(wit, stage, alpha, g, given, windows=wins, span_rows=span_rows)
            assert np.array_equal(prover.fraction_sum(), S_ref), wins
            prover.start(tau, rho)
            proof, r = sumcheck_prove(prover, Transcript(b"stage3-streaming-test"), "sc")
            assert proof.encode() == proof_ref, (wins, given is None)
            assert all(np.array_equal(a, b) for a, b in zip(r, r_ref))
            assert all(np.array_equal(a, b) for a, b in zip(prover.final_helpers(), h_ref))
            vals = prover.final_values(r)
            for n, v in vals_ref.items():
                assert np.array_equal(vals[n], v), (wins, n)
            assert prover.passes == 3 + len(wins)
            assert wit.rows_read == prover.passes * (1 << log_t)
            assert (prover.helper_spans == 0) == (given is not None)


def test_round_polynomials_one_by_one() -> None:
    stage, log_t = 4, 9
    cols, alpha, g, helpers, tau, rho = _random_case(stage, log_t, 7, False)
    tables = HelperTables.build(stage, cols, 1 << log_t, alpha, g, helpers)
    S = tables.fraction_sum()
    dense = HelperSumcheck(tables, tau, rho, emul(epow(rho, 4), S))
    stream = WindowedHelperSumcheck(ArrayWitness(cols, 3), stage, alpha, g, helpers, windows=(2, 2))
    assert np.array_equal(stream.fraction_sum(), S)
    stream.start(tau, rho)
    rng = np.random.default_rng(11)
    for i in range(log_t):
        a, b = dense.round_evals(), stream.round_evals()
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), i
        r = rng.integers(0, P, 4, dtype=np.uint64)
        dense.bind(r)
        stream.bind(r)
    assert all(np.array_equal(x, y) for x, y in zip(dense.final_helpers(), stream.final_helpers()))


def test_window_policy() -> None:
    # J = ceil(log T / 2) - 5 in [1, log T - 1], windows (2, J - 2) from J = 3
    got = {k: windows_for(k) for k in (2, 8, 12, 14, 16, 17, 18, 19, 20, 22)}
    assert got == {2: (1,), 8: (1,), 12: (1,), 14: (2,), 16: (2, 1), 17: (2, 2), 18: (2, 2), 19: (2, 3),
                   20: (2, 3), 22: (2, 4)}
    cols, alpha, g, helpers, _, _ = _random_case(4, 6, 1, False)
    with pytest.raises(ValueError, match="window"):
        WindowedHelperSumcheck(ArrayWitness(cols, 2), 4, alpha, g, helpers, windows=(3, 3))
    with pytest.raises(ValueError, match="windows"):
        WindowedHelperSumcheck(ArrayWitness(cols, 2), 4, alpha, g, helpers, windows=(2, 0))


# ----------------------------------------------------------------------------- whole proofs


@pytest.mark.parametrize("name,log_t", [("fib", 8), ("fib", 10), ("sha2-chain", 12), ("sha2-chain", 14)])
def test_whole_proofs_are_byte_identical_and_verify(name: str, log_t: int) -> None:
    w = workloads.build(name, log_t)
    ref = prove(w, variant=BEFORE)
    got = prove(w, variant={**BEFORE, "4": "streaming"})
    assert got == ref
    assert prove(w, variant={"4": "streaming"}) == ref  # stages 0, 1, 3 materialized
    assert verify({"workload": name, "log_t": log_t}, got) == (True, "accepted")
    if (name, log_t) == ("sha2-chain", 12):
        golden = json.loads((ROOT / "specs" / "golden.json").read_text())["workloads"]["sha2-12"]
        assert hashlib.sha256(got).hexdigest() == golden["sha256"]
    assert stage4.BACKENDS == ("materialized", "streaming")


def test_helper_paths_passes_and_no_materialization(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, tracer, _ = _before_stage(4, "sha2-chain", 12)
    ref = _run(4, ctx, "materialized")
    for helpers in (None, {}):  # read from ctx.helpers, then recomputed per span
        tracer.replayed[:] = 0
        tracer.order.clear()
        assert _run(4, ctx, "streaming", helpers=helpers) == ref
        passes = 3 + len(windows_for(12))
        assert np.all(tracer.replayed == passes), tracer.replayed
        assert tracer.order == list(range(tracer.num_chunks)) * passes
    ctx.witness.drop_rows()

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("the streaming stage 4 must not materialize the trace")

    monkeypatch.setattr(WitnessSource, "materialized", refuse)
    monkeypatch.setattr(WitnessSource, "materialize_rows", refuse)
    assert _run(4, ctx, "streaming") == ref


def test_tampered_helper_is_rejected() -> None:
    ctx, _, sections = _before_stage(4, "fib", 8)
    honest = _run(4, ctx, "streaming")
    bad = dict(ctx.helpers)
    h = bad["h4_2"].copy()
    h[1, 33] = (int(h[1, 33]) + 1) % P
    bad["h4_2"] = h
    got = _run(4, ctx, "streaming", helpers=bad)
    assert got != honest
    assert got == _run(4, ctx, "materialized", helpers=bad)
    v = context_for(statement_of(workloads.build("fib", 8)).encode())
    with pytest.raises(VerificationError) as info:
        run_stages(v, sections + [got], 0, 5)
    assert info.value.stage == 4, info.value
    v = context_for(statement_of(workloads.build("fib", 8)).encode())
    run_stages(v, sections + [honest], 0, 5)
