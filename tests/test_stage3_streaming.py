"""Stage 3's streaming backend (``prover.backends.streaming.logup``) against the materialized one.

- Whole proofs are byte-identical with stage 3 streaming and materialized, stages 0 and 1
  streaming or materialized, at fib 8, 9, 10 and sha2-chain 12, 13, 14 (sha2-12 against the golden
  digest too), and they verify.
- Both helper paths: the helpers read from ``ctx.helpers`` (stage 2 materialized: no recompute) or
  recomputed per span when ``ctx.helpers`` lacks them (a streaming stage 2 keeps nothing); the
  stage-3 sections are the same bytes and verify.
- Passes: a tracer that counts replayed chunks sees exactly ``PASSES`` (4) passes in stage 3,
  every chunk once per pass and in order, at two sizes; helpers are recomputed in passes 1-3
  only, and never when given; the materialized view is never touched.
- Soundness: a tampered helper value and a tampered lookup column each give a proof the verifier
  rejects at stage 3, and the streaming prover's bytes are the materialized prover's on those
  inputs too (it is exact off the honest case).
- The prover alone, on random full-field columns and helpers (not 1 / (D_a D_b): every "- 1" and
  S far from the honest case), against the dense ``HelperSumcheck``: the same round polynomials
  (the proof bytes), S, helpers and column values at r, for every window j = 1 .. log T - 1 and
  several span sizes, for the slots of stages 3, 4, 5 and 6 (pairs, single slots, numerator forms
  and the cycle column: the backend is written once for the four stages).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from counting_tracer import CountingTracer

from prover import workloads
from prover.backends.dense.logup import HelperSumcheck, HelperTables
from prover.backends.dense.reduction import evaluate_columns
from prover.backends.streaming import logup
from prover.backends.streaming.logup import PASSES, StreamingHelperSumcheck, window_for
from prover.field import P, einv, emul, epow, ext_scalar
from prover.pipeline import _stage_module, chunk_log_for, prove, statement_of
from prover.proof import SectionWriter
from prover.relations import fingerprints as fp
from prover.relations.columns import make_builder
from prover.relations.layout import FinalState, bytecode_table
from prover.stages import stage3
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove
from prover.tracer import Tracer
from prover.transcript import Transcript
from prover.verifier import DOMAIN, VerificationError, context_for, run_stages
from prover.verify_entry import verify
from prover.witness import WitnessSource

ROOT = Path(__file__).resolve().parent.parent
STREAM01 = {"0": "streaming", "1": "streaming"}


# ----------------------------------------------------------------------------- whole proofs


@pytest.mark.parametrize(
    "name,log_t",
    [("fib", 8), ("fib", 9), ("fib", 10), ("sha2-chain", 12), ("sha2-chain", 13), ("sha2-chain", 14)],
)
def test_whole_proofs_are_byte_identical_and_verify(name: str, log_t: int) -> None:
    w = workloads.build(name, log_t)
    ref = prove(w, variant=STREAM01)  # stage 3 materialized
    got = prove(w, variant={**STREAM01, "3": "streaming"})
    assert got == ref
    got_mat01 = prove(w, variant={"3": "streaming"})  # stages 0 and 1 materialized
    assert got_mat01 == ref
    assert verify({"workload": name, "log_t": log_t}, got) == (True, "accepted")
    if (name, log_t) == ("sha2-chain", 12):
        golden = json.loads((ROOT / "specs" / "golden.json").read_text())["workloads"]["sha2-12"]
        assert hashlib.sha256(got).hexdigest() == golden["sha256"]


# ----------------------------------------------------------------------------- stage-level runs


def _stages_0_to_2(name: str, log_t: int, tamper: Any = None, chunk_log: int | None = None) -> tuple[ProverContext, CountingTracer, list[bytes]]:
    """Stages 0 (streaming), 1 (streaming) and 2 (materialized) on a context built as the pipeline
    builds it, over a counting tracer."""
    w = workloads.build(name, log_t)
    bc = bytecode_table(w.program)
    tracer = CountingTracer(Tracer(w.program, w.ram_init, w.T, chunk_log_for(log_t) if chunk_log is None else chunk_log))
    wit = WitnessSource(tracer, make_builder(bc, tamper))
    wit.materialize_rows()
    fs = tracer.final_state()
    ctx = ProverContext(
        transcript=Transcript(DOMAIN), workload=w, statement=statement_of(w), log_t=w.log_t, T=w.T,
        program=w.program, bytecode=bc, witness=wit, section=SectionWriter(0), tamper=tamper,
        final_regs=FinalState(fs.regs.astype(np.uint64), fs.reg_times.astype(np.uint64)),
        final_ram=FinalState(fs.ram.astype(np.uint64), fs.ram_times.astype(np.uint64)),
    )
    sections = []
    for k, backend in ((0, "streaming"), (1, "streaming"), (2, "materialized")):
        ctx.backend = backend
        ctx.section = SectionWriter(k)
        _stage_module(k).prove(ctx)
        sections.append(ctx.section.payload())
    return ctx, tracer, sections


def _stage3(ctx: ProverContext, backend: str, helpers: dict[str, Any] | None = None) -> bytes:
    """Stage 3 on a copy of the context's state after stage 2 (``helpers`` replaces ctx.helpers)."""
    import copy

    c = copy.copy(ctx)
    c.transcript = copy.deepcopy(ctx.transcript)
    c.claims, c.helper_claims, c.mult_claims = list(ctx.claims), list(ctx.helper_claims), dict(ctx.mult_claims)
    c.helpers = dict(ctx.helpers) if helpers is None else helpers
    c.backend = backend
    c.section = SectionWriter(3)
    stage3.prove(c)
    return c.section.payload()


def _verify_0_to_3(name: str, log_t: int, sections: list[bytes]) -> None:
    v = context_for(statement_of(workloads.build(name, log_t)).encode())
    run_stages(v, sections, 0, 4)


@pytest.mark.parametrize("name,log_t", [("fib", 8), ("sha2-chain", 12)])
def test_both_helper_paths_give_the_bytes(name: str, log_t: int, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, tracer, sections = _stages_0_to_2(name, log_t)
    ref = _stage3(ctx, "materialized")
    spans: list[int] = []
    real = StreamingHelperSumcheck.final_helpers

    def record(self: StreamingHelperSumcheck) -> list[Any]:
        spans.append(self.helper_spans)
        return real(self)

    monkeypatch.setattr(StreamingHelperSumcheck, "final_helpers", record)
    read = _stage3(ctx, "streaming")  # helpers sliced from ctx.helpers
    without = {k: v for k, v in ctx.helpers.items() if k not in stage3.HELPERS}
    recomputed = _stage3(ctx, "streaming", helpers=without)  # helpers recomputed per span
    assert read == ref and recomputed == ref
    assert spans[0] == 0  # read: never recomputed
    nspans = tracer.num_chunks // max(1, min(tracer.num_chunks, logup.SPAN_ROWS >> tracer.chunk_log))
    assert spans[1] == 3 * nspans  # recomputed in the fraction, window and hand-off passes
    _verify_0_to_3(name, log_t, sections + [recomputed])


@pytest.mark.parametrize("log_t", [10, 13])
def test_passes_are_counted(log_t: int) -> None:
    name = "fib" if log_t < 12 else "sha2-chain"
    ctx, tracer, _ = _stages_0_to_2(name, log_t)
    for helpers in (None, {}):
        tracer.replayed[:] = 0
        tracer.order.clear()
        _stage3(ctx, "streaming", helpers=helpers)
        assert np.all(tracer.replayed == PASSES), tracer.replayed
        assert tracer.order == list(range(tracer.num_chunks)) * PASSES  # each pass in time order
    assert PASSES == 4


def test_streaming_never_materializes(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _, _ = _stages_0_to_2("fib", 10)
    ref = _stage3(ctx, "materialized")
    ctx.witness.drop_rows()  # no cached rows: every span must come from tracer replays

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("the streaming stage 3 must not materialize the trace")

    monkeypatch.setattr(WitnessSource, "materialized", refuse)
    monkeypatch.setattr(WitnessSource, "materialize_rows", refuse)
    assert _stage3(ctx, "streaming") == ref
    assert _stage3(ctx, "streaming", helpers={}) == ref


@pytest.mark.parametrize("log_t,chunk_log", [(8, 2), (9, 9), (10, 3), (12, 4)])
def test_other_chunk_sizes(log_t: int, chunk_log: int) -> None:
    name = "fib" if log_t < 12 else "sha2-chain"
    ctx, _, _ = _stages_0_to_2(name, log_t, chunk_log=chunk_log)
    ref = _stage3(ctx, "materialized")
    assert _stage3(ctx, "streaming") == ref
    assert _stage3(ctx, "streaming", helpers={}) == ref


# ----------------------------------------------------------------------------- soundness


def test_tampered_helper_value_is_rejected() -> None:
    """One helper entry off by one (the committed helpers stay honest): h D_a D_b != 1 there, so
    the sumcheck cannot start from rho^2 S; the streaming bytes are the materialized ones."""
    ctx, _, sections = _stages_0_to_2("fib", 8)
    honest = _stage3(ctx, "streaming")
    bad = dict(ctx.helpers)
    h = bad["h3_1"].copy()
    h[0, 77] = (int(h[0, 77]) + 1) % P
    bad["h3_1"] = h
    got = _stage3(ctx, "streaming", helpers=bad)
    assert got != honest
    assert got == _stage3(ctx, "materialized", helpers=bad)
    with pytest.raises(VerificationError) as info:
        _verify_0_to_3("fib", 8, sections + [got])
    assert info.value.stage == 3, info.value
    _verify_0_to_3("fib", 8, sections + [honest])  # the same run, honest, is accepted


def test_tampered_lookup_column_is_rejected() -> None:
    """A MOV whose lookup result o1_0 is y0 + 1 (stages 1 and 2 consistent with it: the constraints
    hold and the committed helpers are the forged tuples' own): off-table, so stage 3's sum does
    not cancel. Whole proofs, stage 3 streaming, with helpers read and recomputed."""
    from forgery import point_tamper
    from test_soundness_stages3_6 import honest as forged_honest
    from test_soundness_stages3_6 import mov_reg_cycle, z_changed

    c = mov_reg_cycle()
    w, cols = forged_honest()
    edits = {
        "o1_0": int(cols["o1_0"][c]) + 1,
        "z0": int(cols["z0"][c]) + 1,
        "w_lo": int(cols["w_lo"][c]) + 1,
        **z_changed(cols, c, 1),
    }
    tamper = point_tamper(c, edits)
    ref = prove(w, variant=STREAM01, tamper=tamper)
    got = prove(w, variant={**STREAM01, "3": "streaming"}, tamper=tamper)
    assert got == ref  # exact off the honest case too
    ok, msg = verify({"workload": w.name, "log_t": w.log_t}, got)
    assert not ok and "stage 3" in msg, msg
    # the recompute path on the same forged trace
    ctx, _, sections = _stages_0_to_2(w.name, w.log_t, tamper=tamper)
    rec = _stage3(ctx, "streaming", helpers={})
    assert rec == _stage3(ctx, "materialized")
    with pytest.raises(VerificationError) as info:
        _verify_0_to_3(w.name, w.log_t, sections + [rec])
    assert info.value.stage == 3, info.value


# ----------------------------------------------------------------------------- the prover alone


class ArrayWitness:
    """A chunked view over given columns (``span`` only): what the streaming prover reads."""

    def __init__(self, cols: dict[str, np.ndarray], chunk_log: int) -> None:
        self.cols = cols
        self.T = len(next(iter(cols.values())))
        self.chunk_size = 1 << chunk_log
        self.num_chunks = self.T // self.chunk_size
        self.rows_read = 0

    def span(self, first: int, count: int, names):  # type: ignore[no-untyped-def]
        lo, hi = first * self.chunk_size, (first + count) * self.chunk_size
        self.rows_read += hi - lo
        return {n: self.cols[n][lo:hi].copy() for n in names}


def _random_case(stage: int, log_t: int, seed: int, honest_helpers: bool):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    T = 1 << log_t
    names = fp.slot_columns(fp.STAGE_SLOTS[stage])
    cols = {}
    for i, name in enumerate(names):
        if i % 3 == 0:  # near P - 1: the kernels' lazy reductions at their bounds
            cols[name] = rng.integers(P - 64, P, T, dtype=np.uint64)
        elif i % 3 == 1:
            cols[name] = rng.integers(0, P, T, dtype=np.uint64)
        else:  # small and sparse, like flags and bytes
            cols[name] = np.where(rng.random(T) < 0.3, rng.integers(0, 256, T), 0).astype(np.uint64)
    alpha = rng.integers(0, P, 4, dtype=np.uint64)
    g = rng.integers(0, P, 4, dtype=np.uint64)
    pairs = fp.HELPER_PAIRS[stage]
    if honest_helpers:
        cycle = np.arange(T, dtype=np.uint64)
        dens = [fp.slot_den(fp.den_form(s, alpha, g), cols, cycle) for s in fp.STAGE_SLOTS[stage]]
        helpers = []
        for pair in pairs:
            d = dens[pair[0]]
            for s in pair[1:]:
                d = emul(d, dens[s])
            helpers.append(einv(d))  # elementwise, not the prover's batch inversion
    else:
        helpers = [rng.integers(0, P, (4, T), dtype=np.uint64) for _ in pairs]
    tau = [rng.integers(0, P, 4, dtype=np.uint64) for _ in range(log_t)]
    rho = rng.integers(0, P, 4, dtype=np.uint64)
    return cols, alpha, g, helpers, tau, rho


def _dense_reference(stage, cols, alpha, g, helpers, tau, rho):  # type: ignore[no-untyped-def]
    T = len(next(iter(cols.values())))
    tables = HelperTables.build(stage, cols, T, alpha, g, helpers)
    S = tables.fraction_sum()
    prover = HelperSumcheck(tables, tau, rho, emul(epow(rho, len(helpers)), S))
    proof, r = sumcheck_prove(prover, Transcript(b"stage3-streaming-test"), "sc")
    return S, proof.encode(), r, prover.final_helpers(), evaluate_columns(cols, r)


@pytest.mark.parametrize(
    "stage,log_t,chunk_log,span_rows,honest_helpers",
    [
        (3, 6, 2, 8, False),
        (3, 7, 3, 1 << 12, True),
        (3, 8, 1, 16, False),
        (4, 6, 2, 8, False),
        (4, 7, 2, 32, True),
        (5, 7, 3, 16, False),
        (6, 6, 1, 8, False),
        (6, 7, 4, 64, True),
    ],
)
def test_every_window_against_the_dense_prover(stage: int, log_t: int, chunk_log: int, span_rows: int,
                                               honest_helpers: bool) -> None:
    cols, alpha, g, helpers, tau, rho = _random_case(stage, log_t, 10 * stage + log_t, honest_helpers)
    S_ref, proof_ref, r_ref, h_ref, vals_ref = _dense_reference(stage, cols, alpha, g, helpers, tau, rho)
    variants = [helpers] + ([None] if honest_helpers else [])  # None: recompute them per span
    for j in range(1, log_t):
        for given in variants:
            wit = ArrayWitness(cols, chunk_log)
            prover = StreamingHelperSumcheck(wit, stage, alpha, g, given, window=j, span_rows=span_rows)
            assert np.array_equal(prover.fraction_sum(), S_ref), j
            prover.start(tau, rho)
            proof, r = sumcheck_prove(prover, Transcript(b"stage3-streaming-test"), "sc")
            assert proof.encode() == proof_ref, (j, given is None)  # every round polynomial
            assert all(np.array_equal(a, b) for a, b in zip(r, r_ref))
            assert all(np.array_equal(a, b) for a, b in zip(prover.final_helpers(), h_ref))
            vals = prover.final_values(r)
            assert list(vals) == list(fp.slot_columns(fp.STAGE_SLOTS[stage]))
            for n, v in vals_ref.items():
                assert np.array_equal(vals[n], v), (j, n)
            assert prover.passes == PASSES
            assert wit.rows_read == PASSES * (1 << log_t)
            assert (prover.helper_spans == 0) == (given is not None)


def test_round_polynomials_one_by_one() -> None:
    """Round by round (not just the transcript's bytes): the streaming rounds equal the dense
    prover's, the window rounds and the dense finish alike, at the default window."""
    stage, log_t = 3, 9
    cols, alpha, g, helpers, tau, rho = _random_case(stage, log_t, 5, False)
    T = 1 << log_t
    tables = HelperTables.build(stage, cols, T, alpha, g, helpers)
    S = tables.fraction_sum()
    dense = HelperSumcheck(tables, tau, rho, emul(epow(rho, 2), S))
    stream = StreamingHelperSumcheck(ArrayWitness(cols, 3), stage, alpha, g, helpers, window=3)
    assert np.array_equal(stream.fraction_sum(), S)
    stream.start(tau, rho)
    rng = np.random.default_rng(9)
    for i in range(log_t):
        a, b = dense.round_evals(), stream.round_evals()
        assert len(a) == len(b) == 5
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), i
        r = rng.integers(0, P, 4, dtype=np.uint64)
        dense.bind(r)
        stream.bind(r)


def test_window_policy() -> None:
    # j = ceil(log T / 2) - 6 (hand-off tables of 64 sqrt T entries at even log T), in [1, log T - 1]
    assert [window_for(k) for k in (2, 3, 8, 12, 14, 16, 17, 18, 19, 20, 22)] == [1, 1, 1, 1, 1, 2, 3, 3, 4, 4, 5]


def test_bad_arguments() -> None:
    cols, alpha, g, helpers, tau, rho = _random_case(3, 6, 1, False)
    wit = ArrayWitness(cols, 2)
    with pytest.raises(ValueError, match="window"):
        StreamingHelperSumcheck(wit, 3, alpha, g, helpers, window=6)
    with pytest.raises(ValueError, match="helpers"):
        StreamingHelperSumcheck(wit, 3, alpha, g, helpers[:1])
    with pytest.raises(ValueError, match="shape"):
        StreamingHelperSumcheck(wit, 3, alpha, g, [h[:, :32] for h in helpers])
    prover = StreamingHelperSumcheck(wit, 3, alpha, g, helpers)
    with pytest.raises(RuntimeError, match="fraction_sum"):
        prover.start(tau, rho)
    with pytest.raises(RuntimeError, match="start"):
        prover.round_evals()
    prover.fraction_sum()
    with pytest.raises(ValueError, match="variable"):
        prover.start(tau[:5], rho)
    with pytest.raises(ValueError, match="bound"):
        prover.final_helpers()
    assert stage3.BACKENDS == ("materialized", "streaming")
    assert ext_scalar(0).shape == (4,)
