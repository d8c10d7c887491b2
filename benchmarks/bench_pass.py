"""pytest-benchmark figures for one pass over the trace at sha2-chain sizes given by ``--log-t``.

The same quantities as ``benchmarks/pass_cost.py`` (its docstring says why they matter), in
pytest-benchmark's storage so that ``pytest-benchmark compare`` can set two runs side by side:

- ``test_replay_pass``: ``tracer.replay(i)`` for every chunk (checkpoints recorded beforehand);
- ``test_witness_pass``: ``witness.chunk(i, COLUMNS)`` for every chunk (replay + 64 columns);
- ``test_first_run``: a fresh tracer's ``run()`` over all chunks;
- ``test_materialized_build``: the 64 columns over all T rows from cached rows.

Chunks are ~sqrt T rows (``pipeline.chunk_log_for``). Run it explicitly, never under xdist:

    .venv/bin/python -m pytest benchmarks/bench_pass.py --log-t 16,18,20 --benchmark-json out/pass.json
"""

from __future__ import annotations

from typing import Any

import pytest

from prover.pipeline import chunk_log_for
from prover.relations.columns import COLUMNS, make_builder
from prover.relations.layout import bytecode_table
from prover.tracer import Tracer
from prover.witness import WitnessSource
from prover.workloads import Workload, build

_CACHE: dict[int, tuple[Workload, Tracer, WitnessSource]] = {}


def _setup(log_t: int) -> tuple[Workload, Tracer, WitnessSource]:
    if log_t not in _CACHE:
        w = build("sha2-chain", log_t)
        tracer = Tracer(w.program, w.ram_init, w.T, chunk_log_for(log_t))
        for _ in tracer.run():  # the checkpoints every replay below starts from
            pass
        _CACHE[log_t] = (w, tracer, WitnessSource(tracer, make_builder(bytecode_table(w.program))))
    return _CACHE[log_t]


def _rounds(log_t: int) -> int:
    return 5 if log_t <= 16 else 3 if log_t <= 18 else 2


def test_replay_pass(benchmark: Any, log_t: int) -> None:
    _, tracer, _ = _setup(log_t)

    def run() -> None:
        for i in range(tracer.num_chunks):
            tracer.replay(i)

    benchmark.pedantic(run, rounds=_rounds(log_t), iterations=1)
    benchmark.extra_info.update(chunks=tracer.num_chunks, chunk_rows=tracer.chunk_size)


def test_witness_pass(benchmark: Any, log_t: int) -> None:
    _, tracer, witness = _setup(log_t)

    def run() -> None:
        for i in range(tracer.num_chunks):
            witness.chunk(i, COLUMNS)

    benchmark.pedantic(run, rounds=_rounds(log_t), iterations=1)
    benchmark.extra_info.update(chunks=tracer.num_chunks, chunk_rows=tracer.chunk_size, columns=len(COLUMNS))


def test_first_run(benchmark: Any, log_t: int) -> None:
    w, tracer, _ = _setup(log_t)

    def run() -> None:
        for _ in Tracer(w.program, w.ram_init, w.T, tracer.chunk_log).run():
            pass

    benchmark.pedantic(run, rounds=_rounds(log_t), iterations=1)


def test_materialized_build(benchmark: Any, log_t: int) -> None:
    _, _, witness = _setup(log_t)
    witness.materialize_rows()
    try:
        cols = benchmark.pedantic(lambda: witness.materialized(COLUMNS), rounds=_rounds(log_t), iterations=1)
    finally:
        witness.drop_rows()
    if len(cols) != len(COLUMNS):
        pytest.fail(f"materialized build returned {len(cols)} columns, expected {len(COLUMNS)}")
