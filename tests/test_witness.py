"""The witness source: the chunked view equals the materialized one, chunks come from replay (not
the cache) in any order, and any ``TraceSource`` can be plugged in."""

from __future__ import annotations

import random
from typing import Collection, Iterator, Mapping

import numpy as np
import pytest

from prover.tracer import Tracer
from prover.vm.programs import fib
from prover.witness import TraceSource, WitnessError, WitnessSource


def toy_builder(rows: Mapping[str, np.ndarray], start_cycle: int,
                names: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """Three made-up columns; computes only what is asked (and records what was asked)."""
    makers = {
        "pc": lambda: rows["pc"].astype(np.uint64),
        "x_xor_y": lambda: (rows["x"] ^ rows["y"]).astype(np.uint64),
        "cycle": lambda: np.arange(start_cycle, start_cycle + len(rows["pc"]), dtype=np.uint64),
    }
    toy_builder.calls.append(None if names is None else sorted(names))  # type: ignore[attr-defined]
    return {k: make() for k, make in makers.items() if names is None or k in names}


toy_builder.calls = []  # type: ignore[attr-defined]


def fib_source(chunk_log: int = 3) -> WitnessSource:
    return WitnessSource(Tracer(fib.program(), fib.ram_input(25), 256, chunk_log), toy_builder)


def test_chunked_equals_materialized_every_chunk() -> None:
    ws = fib_source()
    full = ws.materialized(["pc", "x_xor_y", "cycle"])
    assert all(col.dtype == np.uint64 and col.shape == (256,) for col in full.values())
    assert np.array_equal(full["cycle"], np.arange(256, dtype=np.uint64))
    C = ws.chunk_size
    for i, cols in ws.chunks(["pc", "x_xor_y", "cycle"]):
        for name, col in cols.items():
            assert np.array_equal(col, full[name][i * C : (i + 1) * C]), (i, name)


def test_random_order_and_name_filter() -> None:
    ws = fib_source(chunk_log=4)
    full = ws.materialized(["x_xor_y"])
    assert list(full) == ["x_xor_y"]
    assert toy_builder.calls[-1] == ["x_xor_y"]  # type: ignore[attr-defined]
    order = list(range(ws.num_chunks))
    random.Random(3).shuffle(order)
    seen = [i for i, _ in ws.chunks(["x_xor_y"], order=order)]
    assert seen == order
    for i, cols in ws.chunks(["x_xor_y"], order=order):
        assert np.array_equal(cols["x_xor_y"], full["x_xor_y"][i * 16 : (i + 1) * 16])


class ToyTracer:
    """A TraceSource that is not the VM: row r holds (r * 7) mod 11; counts run/replay calls."""

    def __init__(self, T: int, chunk_log: int) -> None:
        self.T, self.chunk_log, self.num_chunks = T, chunk_log, T >> chunk_log
        self.runs = 0
        self.replays: list[int] = []

    def _chunk(self, i: int) -> dict[str, np.ndarray]:
        r = np.arange(i << self.chunk_log, (i + 1) << self.chunk_log, dtype=np.int64)
        return {"v": (r * 7) % 11}

    def run(self) -> Iterator[dict[str, np.ndarray]]:
        self.runs += 1
        for i in range(self.num_chunks):
            yield self._chunk(i)

    def replay(self, i: int) -> dict[str, np.ndarray]:
        self.replays.append(i)
        return self._chunk(i)


def square_builder(rows: Mapping[str, np.ndarray], start_cycle: int) -> dict[str, np.ndarray]:
    """A builder without a ``names`` parameter: the source filters for it."""
    v = rows["v"].astype(np.uint64)
    return {"v": v, "v2": v * v, "start": np.full(len(v), start_cycle, dtype=np.uint64)}


def test_other_tracer_plugs_in_and_chunks_come_from_replay() -> None:
    toy = ToyTracer(64, 3)
    source: TraceSource = toy
    ws = WitnessSource(source, square_builder)
    full = ws.materialized(["v2"])
    assert list(full) == ["v2"] and toy.runs == 1
    ws.materialized(["v", "v2"])
    assert toy.runs == 1  # rows are cached
    for i, cols in ws.chunks(["v2", "start"], order=[5, 2]):
        assert np.array_equal(cols["v2"], full["v2"][i * 8 : (i + 1) * 8])
        assert set(cols["start"]) == {i * 8}
    assert toy.replays == [5, 2]  # the chunked view never reads the cache
    ws.drop_rows()
    assert not ws.rows_materialized


def test_builder_contract_violations() -> None:
    ws = WitnessSource(ToyTracer(16, 2), square_builder)
    with pytest.raises(WitnessError, match="missing|did not produce"):
        ws.materialized(["nope"])
    bad_dtype = WitnessSource(ToyTracer(16, 2), lambda rows, start: {"v": rows["v"]})  # int64
    with pytest.raises(WitnessError, match="uint64"):
        bad_dtype.chunk(0, ["v"])
    with pytest.raises(IndexError):
        ws.chunk(4, ["v"])
