"""Adversarial review of ``Tracer.replay_span`` and ``WitnessSource.span`` (8b5e41e): every span
equals the chunks it joins, through the HALT row and the last chunk, on a fresh tracer given
only checkpoints, and the bounds raise IndexError."""

from __future__ import annotations

import numpy as np
import pytest

from prover.relations.columns import COLUMNS, make_builder
from prover.relations.layout import bytecode_table
from prover.tracer import ROW_FIELDS, Tracer
from prover.vm.programs import fib
from prover.witness import WitnessSource


def _tracer(log_t: int, chunk_log: int, n: int = 40) -> Tracer:
    program = fib.program()
    return Tracer(program, {**program.ram_init, **fib.ram_input(n)}, 1 << log_t, chunk_log)


def _final_equal(a: Tracer, b: Tracer) -> None:
    fa, fb = a.final_state(), b.final_state()
    assert fa.halted == fb.halted and fa.halt_cycles == fb.halt_cycles
    for name in ("regs", "reg_times", "ram", "ram_times"):
        assert np.array_equal(getattr(fa, name), getattr(fb, name)), name


@pytest.mark.parametrize("log_t,chunk_log", [(9, 3), (10, 0), (11, 5), (9, 9)])
def test_every_span_equals_its_chunks(log_t: int, chunk_log: int) -> None:
    ref = _tracer(log_t, chunk_log)
    rows = ref.rows()
    halt = ref.final_state().halt_cycles
    assert 0 < halt < ref.T  # the HALT row and its repeats lie inside the trace
    n, chunks = ref.chunk_size, ref.num_chunks
    pairs = {(f, c) for f in range(chunks) for c in (1, 2, 3, chunks - f) if 1 <= c <= chunks - f}
    h = (halt - 1) // n  # the chunk holding the HALT row
    pairs |= {(max(0, h - 1), min(3, chunks - max(0, h - 1))), (h, chunks - h)}
    for first, count in sorted(pairs)[:200]:
        got = ref.replay_span(first, count)
        for f in ROW_FIELDS:
            assert np.array_equal(got[f], rows[f][first * n : (first + count) * n]), (first, count, f)


def test_a_fresh_tracer_with_checkpoints_spans_to_the_end_and_finishes() -> None:
    ref = _tracer(10, 4)
    rows = ref.rows()
    fresh = _tracer(10, 4)
    fresh.load_checkpoints(ref.checkpoints)
    first = fresh.num_chunks - 5
    got = fresh.replay_span(first, 5)  # the last chunk: final_state from this span, no run
    for f in ROW_FIELDS:
        assert np.array_equal(got[f], rows[f][first * 16 :])
    _final_equal(fresh, ref)


def test_a_tracer_without_checkpoints_spans_from_the_middle() -> None:
    ref = _tracer(10, 4)
    rows = ref.rows()
    fresh = _tracer(10, 4)
    got = fresh.replay_span(30, 20)
    for f in ROW_FIELDS:
        assert np.array_equal(got[f], rows[f][30 * 16 : 50 * 16])
    whole = _tracer(10, 4).replay_span(0, 64)  # one span over everything, no checkpoints yet
    for f in ROW_FIELDS:
        assert np.array_equal(whole[f], rows[f])
    _final_equal(fresh, ref)


def test_only_the_first_checkpoint_loaded() -> None:
    ref = _tracer(9, 3)
    rows = ref.rows()
    fresh = _tracer(9, 3)
    fresh.load_checkpoints(ref.checkpoints[:1])
    got = fresh.replay_span(0, fresh.num_chunks)
    for f in ROW_FIELDS:
        assert np.array_equal(got[f], rows[f])
    _final_equal(fresh, ref)
    again = fresh.replay_span(fresh.num_chunks - 1, 1)  # a second finish changes nothing
    for f in ROW_FIELDS:
        assert np.array_equal(again[f], rows[f][-8:])
    _final_equal(fresh, ref)


@pytest.mark.parametrize("first,count", [(0, 0), (-1, 2), (62, 3), (64, 1), (0, 65), (5, -1)])
def test_bounds(first: int, count: int) -> None:
    t = _tracer(10, 4)
    ws = WitnessSource(t, make_builder(bytecode_table(t.program)))
    with pytest.raises(IndexError):
        t.replay_span(first, count)
    with pytest.raises(IndexError):
        ws.span(first, count, ["pc"])


def test_witness_spans_through_the_halt_equal_the_chunks() -> None:
    t = _tracer(10, 3)
    ws = WitnessSource(t, make_builder(bytecode_table(t.program)))
    ws.materialize_rows()
    halt = t.final_state().halt_cycles
    h = (halt - 1) // ws.chunk_size
    full = ws.materialized(COLUMNS)
    n = ws.chunk_size
    for first, count in [(h, 1), (max(0, h - 2), 4), (h, ws.num_chunks - h), (0, ws.num_chunks),
                         (ws.num_chunks - 1, 1)]:
        got = ws.span(first, count, None)
        assert list(got) == list(COLUMNS)
        for name in COLUMNS:
            assert np.array_equal(got[name], full[name][first * n : (first + count) * n]), (first, count, name)
    dup = ws.span(h, 2, ["taken", "pc", "taken"])
    assert list(dup) == ["taken", "pc"]
    assert ws.span(h, 2, []) == {}


def test_a_truncated_trace_spans_to_the_end_without_halting() -> None:
    program = fib.program()
    ram = {**program.ram_init, **fib.ram_input(10_000)}  # far more cycles than T
    ref = Tracer(program, ram, 1 << 9, 3, require_halt=False)
    rows = ref.rows()
    assert not ref.final_state().halted
    fresh = Tracer(program, ram, 1 << 9, 3, require_halt=False)
    got = fresh.replay_span(60, 4)
    for f in ROW_FIELDS:
        assert np.array_equal(got[f], rows[f][480:])
    _final_equal(fresh, ref)
