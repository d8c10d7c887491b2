"""The streaming trace commitment (``prover.backends.streaming``) against the materialized one.

Real witnesses (the VM's tracer, the relations' column builder, the chunked view replaying from
checkpoints) at log T 8..16 and several chunk sizes, including odd log T (another matrix shape)
and chunks longer than a row-group: the root must be the materialized ``CommitBuilder``'s, and
``pcs.open`` on the streaming prover data must give the same opening bytes. Then whole proofs
with stage 0 streaming: byte-identical to the all-materialized proof, and verifying.
"""

from __future__ import annotations

import numpy as np
import pytest

from prover import field, pcs
from prover.backends.streaming import commit_columns
from prover.backends.streaming.commit import SPAN_ROWS
from prover.pipeline import prove, statement_of
from prover.relations.columns import COLUMNS, make_builder
from prover.relations.layout import bytecode_table
from prover.tracer import Tracer
from prover.transcript import Transcript
from prover.verifier import verify
from prover.vm.programs import fib
from prover.witness import WitnessSource
from prover.workloads import build


def _witness(log_t: int, chunk_log: int) -> WitnessSource:
    program = fib.program()
    ram = {**program.ram_init, **fib.ram_input(40)}
    ws = WitnessSource(Tracer(program, ram, 1 << log_t, chunk_log), make_builder(bytecode_table(program)))
    ws.materialize_rows()  # the first run records the checkpoints, as the pipeline does
    return ws


def _materialized(ws: WitnessSource) -> tuple[pcs.Commitment, pcs.ProverData]:
    cols = ws.materialized(COLUMNS)
    builder = pcs.CommitBuilder(ws.T.bit_length() - 1, len(COLUMNS))
    p = builder.params
    for j, name in enumerate(COLUMNS):
        builder.add_rows(j, 0, cols[name].reshape(p.num_rows, p.num_cols))
    return builder.finish()


def _open(data: object, point: list[np.ndarray], values: np.ndarray | None) -> bytes:
    tr = Transcript(b"streaming-commit-test")
    pcs.absorb_commitment(tr, data.commitment)  # type: ignore[attr-defined]
    return pcs.open(data, point, tr, values).encode()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "log_t,chunk_log",
    [(8, 4), (8, 8), (9, 2), (10, 5), (11, 6), (11, 11), (12, 3), (13, 7), (14, 7), (15, 8), (16, 8)],
)
def test_streaming_commitment_is_byte_identical(log_t: int, chunk_log: int) -> None:
    ws = _witness(log_t, chunk_log)
    com, data = _materialized(ws)
    seen: list[int] = []
    scom, sdata = commit_columns(ws, COLUMNS, on_chunk=lambda cols: seen.append(len(cols["pc"])))
    assert scom == com
    # one pass, every row once, in order: whole chunks, built SPAN_ROWS rows (or one chunk) at a time
    span = max(ws.chunk_size, min(ws.T, SPAN_ROWS))
    assert seen == [span] * (ws.T // span)
    p = data.params
    assert sdata.params == p
    rng = np.random.default_rng(log_t * 100 + chunk_log)
    point = [rng.integers(0, field.P, 4, dtype=np.uint64) for _ in range(log_t)]
    assert np.array_equal(pcs.evaluate(sdata, point), pcs.evaluate(data, point))  # row_values
    values = pcs.evaluate(data, point)
    assert _open(sdata, point, values) == _open(data, point, values)
    idx = sorted(set(int(i) for i in rng.integers(0, p.codeword_len, 40)))
    assert np.array_equal(sdata.opened_columns(idx), data.opened_columns(idx))


def test_streaming_commitment_reads_only_the_chunked_view(monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _witness(10, 5)
    com, _ = _materialized(ws)
    ws.drop_rows()  # no cached rows: every chunk must come from tracer.replay

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("the streaming path must not materialize the trace")

    monkeypatch.setattr(WitnessSource, "materialized", refuse)
    monkeypatch.setattr(WitnessSource, "materialize_rows", refuse)
    scom, sdata = commit_columns(ws, COLUMNS)
    assert scom == com
    rng = np.random.default_rng(5)
    point = [rng.integers(0, field.P, 4, dtype=np.uint64) for _ in range(10)]
    _open(sdata, point, None)  # u, row values and columns: all from replayed chunks


def test_wrong_params_rejected() -> None:
    ws = _witness(8, 4)
    with pytest.raises(ValueError, match="params are for"):
        commit_columns(ws, COLUMNS, pcs.LigeroParams.for_shape(9, 64))


@pytest.mark.parametrize("log_t", [12, 13])
def test_proof_with_streaming_stage0_is_byte_identical_and_verifies(log_t: int) -> None:
    w = build("sha2-chain", log_t)
    baseline = prove(w)
    streamed = prove(w, {0: "streaming"})
    assert streamed == baseline
    verify(streamed, statement_of(w).encode())


@pytest.mark.parametrize("edits", [{}, {"b0": 5000, "dB_lo": 4000, "a1": 300}, {"pc": 60000, "dM_hi": 2049}])
def test_streaming_stage0_matches_on_faulty_traces(edits: dict[str, int]) -> None:
    # Off-table keys: stage 0 must still commit (in-range counts, the materialized fallback) and
    # give the same bytes chunk by chunk; the verifier rejects these proofs later.
    from forgery import LOG_T, WORKLOAD, point_tamper

    w = build(WORKLOAD, LOG_T)
    tamper = point_tamper(w.T // 2 + 3, edits)
    assert prove(w, {0: "streaming"}, tamper=tamper) == prove(w, tamper=tamper)


def test_span_view_equals_the_chunks_it_joins() -> None:
    # WitnessSource.span (one replay from checkpoint ``first``, one builder call) must be the
    # concatenation of chunk() of each chunk it covers, also without the tracer's replay_span.
    ws = _witness(10, 5)
    names = ["pc", "inv", "dB_lo", "o1_2", "taken"]
    whole = ws.span(4, 8, names)
    for name in names:
        joined = np.concatenate([ws.chunk(i, [name])[name] for i in range(4, 12)])
        assert np.array_equal(whole[name], joined), name

    class ChunkOnly:  # a TraceSource with replay() alone
        def __init__(self, tracer: Tracer) -> None:
            self.inner = tracer
            self.T, self.chunk_log, self.num_chunks = tracer.T, tracer.chunk_log, tracer.num_chunks

        def run(self):  # type: ignore[no-untyped-def]
            return self.inner.run()

        def replay(self, i: int):  # type: ignore[no-untyped-def]
            return self.inner.replay(i)

    plain = WitnessSource(ChunkOnly(ws.tracer), ws.builder)  # type: ignore[arg-type]
    other = plain.span(4, 8, names)
    for name in names:
        assert np.array_equal(other[name], whole[name]), name
    with pytest.raises(IndexError):
        ws.span(30, 3, names)


def test_commitment_without_the_kernel_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # The leaf-major kernel and its fallback (row-major coset encode plus a transposed copy, what
    # a witness with unreduced entries takes) give one root.
    from prover.pcs import ntt

    ws = _witness(12, 6)
    com, _ = commit_columns(ws, COLUMNS)
    monkeypatch.setattr(ntt, "_USE_KERNEL", False)
    again, _ = commit_columns(ws, COLUMNS)
    assert again == com == _materialized(ws)[0]
