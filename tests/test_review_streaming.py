"""Adversarial review of the streaming commitment (8b5e41e): synthetic chunk sources with
boundary entries the VM never produces, against the materialized ``pcs.CommitBuilder``.

A synthetic source holds its own (m, T) uint64 columns and hands them out chunk by chunk (and,
when asked, span by span), so entries at the 11-bit limb boundaries, P - 1, all-zero columns and
chunk sizes above C, SPAN_ROWS and OPEN_SPAN_ROWS are all reachable. Each case compares the
root, ``opened_columns`` (all positions), ``combined_row`` and ``row_values`` of the streaming
prover data with the materialized ``ProverData``, and ``pcs.open``'s bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from prover import field, pcs
from prover.backends.streaming import commit_columns
from prover.backends.streaming.commit import OPEN_SPAN_ROWS, SPAN_ROWS
from prover.transcript import Transcript

P = field.P


class Synthetic:
    """A ChunkSource over fixed columns; ``with_span`` adds the ``span`` fast path."""

    def __init__(self, cols: np.ndarray, chunk_log: int, with_span: bool) -> None:
        self.cols = cols
        self.names = [f"c{j}" for j in range(cols.shape[0])]
        self.T = cols.shape[1]
        self.chunk_size = 1 << chunk_log
        self.num_chunks = self.T // self.chunk_size
        self.calls: list[tuple[int, int]] = []
        if with_span:
            self.span = self._span  # type: ignore[method-assign]

    def _block(self, first: int, count: int, names: Sequence[str] | None) -> Mapping[str, np.ndarray]:
        if count < 1 or first < 0 or first + count > self.num_chunks:
            raise IndexError(first, count)
        self.calls.append((first, count))
        lo, hi = first * self.chunk_size, (first + count) * self.chunk_size
        wanted = self.names if names is None else names
        return {n: self.cols[self.names.index(n), lo:hi].copy() for n in wanted}

    def chunk(self, i: int, names: Sequence[str] | None = None) -> Mapping[str, np.ndarray]:
        return self._block(i, 1, names)

    def _span(self, first: int, count: int, names: Sequence[str] | None = None) -> Mapping[str, np.ndarray]:
        return self._block(first, count, names)


def _materialized(cols: np.ndarray) -> pcs.ProverData:
    m, t = cols.shape
    builder = pcs.CommitBuilder(t.bit_length() - 1, m)
    p = builder.params
    for j in range(m):
        builder.add_rows(j, 0, cols[j].reshape(p.num_rows, p.num_cols))
    return builder.finish()[1]


def _open(data: object, point: list[np.ndarray]) -> bytes:
    tr = Transcript(b"review-streaming")
    pcs.absorb_commitment(tr, data.commitment)  # type: ignore[attr-defined]
    return pcs.open(data, point, tr, None).encode()  # type: ignore[arg-type]


def _compare(cols: np.ndarray, chunk_log: int, with_span: bool, seed: int = 0) -> None:
    src = Synthetic(cols, chunk_log, with_span)
    ref = _materialized(cols)
    com, data = commit_columns(src, src.names)
    assert com == ref.commitment
    p = ref.params
    idx = list(range(p.codeword_len))
    assert np.array_equal(data.opened_columns(idx), ref.opened_columns(idx))
    rng = np.random.default_rng(seed)
    coeffs = rng.integers(0, P, (4, p.total_rows), dtype=np.uint64)
    assert np.array_equal(data.combined_row(coeffs), ref.combined_row(coeffs))
    eq = rng.integers(0, P, (4, p.num_cols), dtype=np.uint64)
    assert np.array_equal(data.row_values(eq), ref.row_values(eq))
    log_t = cols.shape[1].bit_length() - 1
    point = [rng.integers(0, P, 4, dtype=np.uint64) for _ in range(log_t)]
    assert _open(data, point) == _open(ref, point)


# entries at every limb boundary of opened_columns (11, 22 bits) and the field's top
BOUNDARY = np.array([0, 1, 2047, 2048, 2049, (1 << 22) - 1, 1 << 22, (1 << 22) + 1,
                     (1 << 31) - (1 << 27), P - 2, P - 1], dtype=np.uint64)


def _columns(m: int, log_t: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = 1 << log_t
    cols = np.empty((m, t), dtype=np.uint64)
    kinds = ["zeros", "p-1", "2^11-1", "2^22-1", "2^11", "2^22", "boundary", "random", "bits"]
    for j in range(m):
        kind = kinds[j % len(kinds)]
        if kind == "zeros":
            cols[j] = 0
        elif kind == "p-1":
            cols[j] = P - 1
        elif kind == "2^11-1":
            cols[j] = (1 << 11) - 1
        elif kind == "2^22-1":
            cols[j] = (1 << 22) - 1
        elif kind == "2^11":
            cols[j] = 1 << 11
        elif kind == "2^22":
            cols[j] = 1 << 22
        elif kind == "boundary":
            cols[j] = rng.choice(BOUNDARY, t)
        elif kind == "random":
            cols[j] = rng.integers(0, P, t, dtype=np.uint64)
        else:
            cols[j] = rng.integers(0, 2, t, dtype=np.uint64)
    return cols


@pytest.mark.parametrize("with_span", [True, False], ids=["span", "chunks"])
@pytest.mark.parametrize(
    "m,log_t,chunk_log",
    [(16, 8, 0), (16, 8, 8), (16, 9, 3), (16, 10, 10), (16, 11, 4), (16, 11, 11),
     (1, 8, 2), (2, 9, 9), (4, 10, 1), (32, 9, 5), (64, 8, 3), (64, 11, 7)],
)
def test_boundary_entries_match_the_materialized_commitment(m: int, log_t: int, chunk_log: int,
                                                            with_span: bool) -> None:
    _compare(_columns(m, log_t, m * 1000 + log_t * 10 + chunk_log), chunk_log, with_span, seed=log_t)


@pytest.mark.parametrize("log_t,chunk_log", [(12, 12), (13, 12), (13, 11), (12, 10)])
def test_chunks_longer_than_the_span_sizes(log_t: int, chunk_log: int) -> None:
    # chunk_size >= SPAN_ROWS / OPEN_SPAN_ROWS and > C: one chunk fills several row-groups and
    # several opening blocks
    cols = _columns(8, log_t, log_t)
    src = Synthetic(cols, chunk_log, True)
    assert src.chunk_size >= OPEN_SPAN_ROWS and src.chunk_size >= pcs.LigeroParams.for_shape(log_t, 8).num_cols
    _compare(cols, chunk_log, True)


def test_a_span_covers_spanrows_rows_in_time_order() -> None:
    cols = _columns(4, 13, 7)
    src = Synthetic(cols, 4, True)
    commit_columns(src, src.names)
    per = SPAN_ROWS // src.chunk_size
    assert src.calls == [(i, per) for i in range(0, src.num_chunks, per)]


def test_the_kernel_off_path_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    from prover.pcs import ntt

    cols = _columns(16, 10, 3)
    monkeypatch.setattr(ntt, "_USE_KERNEL", False)
    _compare(cols, 5, True)


def test_one_column_all_p_minus_one_and_the_rest_zero() -> None:
    cols = np.zeros((8, 1 << 9), dtype=np.uint64)
    cols[3] = P - 1
    _compare(cols, 4, True)
    _compare(np.zeros((8, 1 << 9), dtype=np.uint64), 4, True)  # no limbs at all


def test_an_unreduced_entry_is_refused_or_committed_by_its_residue() -> None:
    wrong = []
    for value in [P, P + 1, (1 << 31) + 5, 2 * P - 1, 2 * P, (1 << 32) - 1, (1 << 32) + 7, (1 << 40) + 3]:
        cols = _columns(8, 9, 1)
        cols[7, 200] = value  # column 7 is random residues
        src = Synthetic(cols, 4, True)
        try:
            com, data = commit_columns(src, src.names)
        except ValueError:
            continue  # refused, as pcs.CommitBuilder refuses unreduced rows: fine
        ref = _materialized(cols % np.uint64(P))
        idx = list(range(ref.params.codeword_len))
        if com != ref.commitment or not np.array_equal(data.opened_columns(idx), ref.opened_columns(idx)):
            wrong.append(hex(value))
    assert not wrong, f"committed neither refused nor as residues: {wrong}"


@pytest.mark.parametrize("m", [1, 2, 64])
@pytest.mark.parametrize("log_t", [0, 1, 2, 3, 5, 7])
def test_tiny_shapes(m: int, log_t: int) -> None:
    # C as small as 1 (the leaf encoder's kernel needs log C >= 1; the fallback takes the rest)
    for chunk_log in sorted({0, log_t // 2, log_t}):
        _compare(_columns(m, log_t, log_t + m), chunk_log, True)
        _compare(_columns(m, log_t, log_t + m), chunk_log, False)


def _whole_column_tamper(values: dict[str, int]):  # type: ignore[no-untyped-def]
    def tamper(cols: dict[str, np.ndarray], start: int) -> None:
        for name, value in values.items():
            if name in cols:
                cols[name][:] = np.uint64(value)
    return tamper


@pytest.mark.parametrize("values", [
    {"pad1": P - 1, "x0": 0, "dB_hi": 2047, "o1_0": (1 << 22) - 1},
    {"pc": P - 1, "inv": 1 << 11, "a2": 1 << 22, "pad0": P - 2},
])
def test_whole_column_tampers_prove_alike_streaming_and_materialized(values: dict[str, int]) -> None:
    from forgery import LOG_T, WORKLOAD

    from prover.pipeline import prove
    from prover.workloads import build

    w = build(WORKLOAD, LOG_T)
    tamper = _whole_column_tamper(values)
    assert prove(w, {0: "streaming"}, tamper=tamper) == prove(w, tamper=tamper)


def test_uint32_columns_are_read_as_their_values() -> None:
    _compare(_columns(8, 10, 3).astype(np.uint32), 4, True)


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_signed_integer_columns_open_like_the_materialized(dtype: type) -> None:
    _compare(_columns(8, 10, 3).astype(dtype), 4, True)  # every entry < P < 2^31


@pytest.mark.parametrize("log_t,chunk_log", [(13, 12), (13, 13), (12, 11), (11, 0), (9, 1)])
def test_real_trace_every_position_and_both_combinations(log_t: int, chunk_log: int) -> None:
    from prover.relations.columns import COLUMNS, make_builder
    from prover.relations.layout import bytecode_table
    from prover.tracer import Tracer
    from prover.vm.programs import fib
    from prover.witness import WitnessSource

    program = fib.program()
    ram = {**program.ram_init, **fib.ram_input(40)}
    ws = WitnessSource(Tracer(program, ram, 1 << log_t, chunk_log), make_builder(bytecode_table(program)))
    cols = ws.materialized(COLUMNS)
    stacked = np.stack([cols[n] for n in COLUMNS])
    ws.drop_rows()
    ref = _materialized(stacked)
    com, data = commit_columns(ws, COLUMNS)
    assert com == ref.commitment
    p = ref.params
    idx = list(range(p.codeword_len))
    assert np.array_equal(data.opened_columns(idx), ref.opened_columns(idx))
    rng = np.random.default_rng(log_t)
    coeffs = rng.integers(0, P, (4, p.total_rows), dtype=np.uint64)
    assert np.array_equal(data.combined_row(coeffs), ref.combined_row(coeffs))
    eq = rng.integers(0, P, (4, p.num_cols), dtype=np.uint64)
    assert np.array_equal(data.row_values(eq), ref.row_values(eq))
