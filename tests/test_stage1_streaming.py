"""Stage 1's streaming backend (``prover.backends.streaming.zerocheck``) against the materialized one.

- Whole stage-1 sections (protocol v3: stages 0 and 1 proved, then verified by the verifier's own
  stages 0..1) are byte-identical with the materialized backend at log T 8, 9, 10 (fib) and 12,
  13, 14 (sha2-chain), odd and even, with the pipeline's chunk sizes, and at other chunk sizes.
- The prover alone, on random full-field columns (every constraint far from zero, values near
  P - 1), against the dense ``QuadraticZeroCheck``: same sumcheck bytes and final values for
  every window j = 1 .. log T and several span sizes (so the held-back last block of a span,
  pc_shift across spans and the last-row indicator are all exercised).
- Tampered traces give the same bytes as the materialized backend (the prover must be exact off
  the honest case too), including a pc edit on a span's first row (pc_shift of the row before).
- Passes: a tracer that counts replayed chunks sees exactly ``PASSES`` (3) passes, every chunk
  replayed once per pass, at two sizes; the materialized view is never touched.
"""

from __future__ import annotations

import numpy as np
import pytest
from counting_tracer import CountingTracer

from prover import workloads
from prover.backends.dense.quadratic import QuadraticZeroCheck
from prover.backends.dense.reduction import evaluate_columns
from prover.backends.streaming import zerocheck
from prover.backends.streaming.zerocheck import (
    PASSES,
    StreamingQuadraticZeroCheck,
    window_for,
)
from prover.field import P, ext_scalar
from prover.pipeline import _stage_module, chunk_log_for, statement_of
from prover.proof import SectionWriter
from prover.relations.columns import make_builder
from prover.relations.constraints import rho_powers, stage1_columns, stage1_constraints
from prover.relations.layout import FinalState, bytecode_table
from prover.stages.common import ProverContext
from prover.sumcheck.protocol import prove as sumcheck_prove
from prover.tracer import Tracer
from prover.transcript import Transcript
from prover.verifier import DOMAIN, context_for, run_stages
from prover.witness import WitnessSource


def _context(log_t: int, chunk_log: int | None = None, tamper=None, workload: str | None = None):  # type: ignore[no-untyped-def]
    name = workload or ("sha2-chain" if log_t >= 12 else "fib")
    w = workloads.build(name, log_t)
    bc = bytecode_table(w.program)
    tracer = CountingTracer(Tracer(w.program, w.ram_init, w.T, chunk_log_for(log_t) if chunk_log is None else chunk_log))
    wit = WitnessSource(tracer, make_builder(bc, tamper))
    wit.materialize_rows()  # as the pipeline does: the first run records the checkpoints
    fs = tracer.final_state()
    ctx = ProverContext(
        transcript=Transcript(DOMAIN), workload=w, statement=statement_of(w), log_t=w.log_t, T=w.T,
        program=w.program, bytecode=bc, witness=wit, section=SectionWriter(0),
        final_regs=FinalState(fs.regs.astype(np.uint64), fs.reg_times.astype(np.uint64)),
        final_ram=FinalState(fs.ram.astype(np.uint64), fs.ram_times.astype(np.uint64)),
    )
    return ctx, tracer


def _prove01(log_t: int, backend1: str, chunk_log: int | None = None, tamper=None) -> tuple[list[bytes], ProverContext, CountingTracer]:  # type: ignore[no-untyped-def]
    ctx, tracer = _context(log_t, chunk_log, tamper)
    sections = []
    for k, backend in ((0, "materialized"), (1, backend1)):
        ctx.backend = backend
        ctx.section = SectionWriter(k)
        if k == 1:
            tracer.replayed[:] = 0
            tracer.order.clear()
        _stage_module(k).prove(ctx)
        sections.append(ctx.section.payload())
    return sections, ctx, tracer


@pytest.mark.parametrize("log_t", [8, 9, 10, 12, 13, 14])
def test_streaming_section_is_byte_identical_and_verifies(log_t: int) -> None:
    ref, mctx, _ = _prove01(log_t, "materialized")
    got, sctx, _ = _prove01(log_t, "streaming")
    assert got[1] == ref[1]
    assert sctx.transcript.state == mctx.transcript.state  # type: ignore[attr-defined]
    assert len(sctx.claims) == len(mctx.claims) and sctx.shift_claim is not None
    v = context_for(mctx.statement.encode())
    run_stages(v, got, 0, 2)


@pytest.mark.parametrize("log_t,chunk_log", [(8, 2), (9, 9), (10, 3), (11, 8), (12, 4)])
def test_other_chunk_sizes(log_t: int, chunk_log: int) -> None:
    ref, _, _ = _prove01(log_t, "materialized", chunk_log)
    got, _, _ = _prove01(log_t, "streaming", chunk_log)
    assert got[1] == ref[1]


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


def _random_columns(log_t: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    T = 1 << log_t
    cols = {}
    for i, name in enumerate(stage1_columns()):
        if i % 3 == 0:  # near P - 1: the kernels' lazy reductions at their bounds
            cols[name] = rng.integers(P - 64, P, T, dtype=np.uint64)
        elif i % 3 == 1:
            cols[name] = rng.integers(0, P, T, dtype=np.uint64)
        else:  # small and sparse, like flags and bytes
            cols[name] = np.where(rng.random(T) < 0.3, rng.integers(0, 256, T), 0).astype(np.uint64)
    return cols


def _dense_reference(cols: dict[str, np.ndarray], tau, coeffs):  # type: ignore[no-untyped-def]
    T = len(cols["pc"])
    full = dict(cols)
    full["pc_shift"] = np.zeros(T, dtype=np.uint64)
    full["pc_shift"][:-1] = cols["pc"][1:]
    full["last"] = np.zeros(T, dtype=np.uint64)
    full["last"][-1] = 1
    tr = Transcript(b"stage1-streaming-test")
    proof, r = sumcheck_prove(QuadraticZeroCheck(tau, full, stage1_constraints(), coeffs, ext_scalar(0)), tr, "zc")
    names = stage1_columns() + ("pc_shift",)
    return proof.encode(), r, evaluate_columns({n: full[n] for n in names}, r)


@pytest.mark.parametrize("log_t,chunk_log,span_rows", [(6, 2, 8), (7, 3, 1 << 12), (8, 1, 16), (9, 4, 64)])
def test_every_window_on_random_columns(log_t: int, chunk_log: int, span_rows: int) -> None:
    cols = _random_columns(log_t, log_t)
    rng = np.random.default_rng(100 + log_t)
    tau = [rng.integers(0, P, 4, dtype=np.uint64) for _ in range(log_t)]
    coeffs = rho_powers(rng.integers(0, P, 4, dtype=np.uint64), len(stage1_constraints()))
    ref_proof, _, ref_vals = _dense_reference(cols, tau, coeffs)
    for j in range(1, log_t + 1):
        wit = ArrayWitness(cols, chunk_log)
        prover = StreamingQuadraticZeroCheck(wit, tau, stage1_constraints(), coeffs, stage1_columns(),
                                             shift=("pc_shift", "pc"), last="last", claim=ext_scalar(0),
                                             window=j, span_rows=span_rows)
        proof, r = sumcheck_prove(prover, Transcript(b"stage1-streaming-test"), "zc")
        assert proof.encode() == ref_proof, f"window {j}"
        vals = prover.final_values(r)
        assert set(vals) == set(ref_vals)
        for n, v in ref_vals.items():
            assert np.array_equal(vals[n], v), (j, n)
        passes = PASSES if j < log_t else PASSES - 1  # j = log T: no dense rounds, no hand-off
        assert prover.passes == passes
        assert wit.rows_read == passes * (1 << log_t)


def test_window_policy() -> None:
    # j = ceil(log T / 2) - 4 (hand-off tables of 16 sqrt T entries at even log T), within [1, log T]
    assert [window_for(k) for k in (1, 2, 8, 9, 10, 12, 16, 17, 18, 20, 21)] == [1, 1, 1, 1, 1, 2, 4, 5, 5, 6, 7]


@pytest.mark.parametrize(
    "cycle,edits",
    [
        (40, {"z0": 7, "c0": 3}),  # per-cycle constraints fail on one row
        (128, {"pc": 99}),  # a span's / chunk's first row: pc_shift of the row before
        (255, {"f_halt": 0, "f_add": 1}),  # the last row: the cross-cycle constraints
        (64, {"inv": P - 1, "taken": 5, "b2": 1 << 20}),
    ],
)
def test_tampered_traces_give_the_materialized_bytes(cycle: int, edits: dict[str, int],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from forgery import point_tamper

    monkeypatch.setattr(zerocheck, "SPAN_ROWS", 32)  # 8 spans of 2 chunks: rows 127/128 straddle two
    monkeypatch.setattr(zerocheck, "window_for", lambda log_t: 3)
    tamper = point_tamper(cycle, edits)
    honest, _, _ = _prove01(8, "materialized", 4)
    ref, _, _ = _prove01(8, "materialized", 4, tamper)
    got, _, _ = _prove01(8, "streaming", 4, tamper)
    assert ref[1] != honest[1]  # the edit reached stage 1
    assert got[1] == ref[1]


@pytest.mark.parametrize("log_t", [10, 13])
def test_passes_are_counted(log_t: int) -> None:
    _, _, tracer = _prove01(log_t, "streaming")
    assert np.all(tracer.replayed == PASSES), tracer.replayed
    # each pass reads the chunks in time order
    n = tracer.num_chunks
    assert tracer.order == list(range(n)) * PASSES


def test_streaming_never_materializes(monkeypatch: pytest.MonkeyPatch) -> None:
    ref, _, _ = _prove01(10, "materialized")
    ctx, _ = _context(10)
    ctx.backend = "materialized"
    _stage_module(0).prove(ctx)
    ctx.witness.drop_rows()  # no cached rows: every span must come from tracer replays

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("the streaming stage 1 must not materialize the trace")

    monkeypatch.setattr(WitnessSource, "materialized", refuse)
    monkeypatch.setattr(WitnessSource, "materialize_rows", refuse)
    ctx.backend = "streaming"
    ctx.section = SectionWriter(1)
    _stage_module(1).prove(ctx)
    assert ctx.section.payload() == ref[1]


def test_bad_arguments() -> None:
    cols = _random_columns(6, 1)
    wit = ArrayWitness(cols, 2)
    cons = stage1_constraints()
    tau = [ext_scalar(i + 2) for i in range(6)]
    coeffs = rho_powers(ext_scalar(3), len(cons))
    with pytest.raises(ValueError, match="window"):
        StreamingQuadraticZeroCheck(wit, tau, cons, coeffs, stage1_columns(), ("pc_shift", "pc"), "last", window=7)
    with pytest.raises(ValueError, match="variable"):
        StreamingQuadraticZeroCheck(wit, tau[:5], cons, coeffs, stage1_columns(), ("pc_shift", "pc"), "last")
    with pytest.raises(ValueError, match="streamed columns"):
        StreamingQuadraticZeroCheck(wit, tau, cons, coeffs, stage1_columns())  # pc_shift, last missing
    assert zerocheck.PASSES == 3
