"""The cost of one pass over the trace, the currency of the streaming conversion (issue 7, item 2).

A pass regenerates every chunk from its tracer checkpoint (``tracer.replay(i)``) and builds the
columns a stage needs (``witness.chunk(i, names)``). For each log T this script reports, for the
sha2-chain workload and a chunk of 2^chunk_log rows (default ``pipeline.chunk_log_for``, ~sqrt T):

- ``init``: constructing the tracer (includes loading any JIT kernel from its cache);
- ``first_run``: a fresh tracer's ``run()`` over all chunks (records the checkpoints);
- ``replay_chunk``: ``tracer.replay(i)`` per chunk, mean over all chunks;
- ``build_chunk``: the 64-column build of one replayed chunk, mean over all chunks;
- ``pass``: one full pass, ``witness.chunk(i)`` (replay + 64 columns) for every i;
- ``materialized_build``: the all-rows build of the 64 columns from cached rows (what the
  baseline does once per stage that needs them);
- ``cold_replay``: replay of the last chunk on a fresh tracer handed the recorded checkpoints
  (None if this tracer has no way to take them), then ``final_state()`` after it.

Measured inside ``runtime.tuned()``, as ``prove()`` runs (without it the all-rows build mostly
measures first-touch page faults and varies 4x between repeats). Every figure is the best of ``--repeat`` runs in this one process, by default in process CPU
seconds (``--clock cpu``: on a shared machine wall time mostly measures the neighbours; the work
here is single-threaded), or wall seconds with ``--clock wall``. Compare two trees by running this script against each with
PYTHONPATH, interleaved in one session, and take ratios, never absolute seconds across sessions.

    .venv/bin/python benchmarks/pass_cost.py --log-t 16,18,20 [--chunk-log 10] [--repeat 3] [--json out.json]

Measured on the shared 2-core machine (load average ~6-11), CPU seconds, best of 2, v1 (main at
ee3ec50) and this branch interleaved in one session, chunk = 2^ceil(log T / 2) rows:

    log T  tree  first run  replay/chunk  64-col build/chunk  one pass  all-rows build
    16     v1    0.043 s    0.150 ms      0.68-1.16 ms        0.224 s   0.042 s
    16     new   0.007 s    0.012 ms      0.195 ms            0.063 s   0.033 s
    18     v1    0.158 s    0.290 ms      0.524 ms            0.510 s   0.151 s
    18     new   0.016 s    0.015 ms      0.246 ms            0.149 s   0.128 s
    20     v1    0.601 s    0.560 ms      0.636 ms            1.564 s   0.28-0.37 s
    20     new   0.037 s    0.019 ms      0.364 ms            0.426 s   0.27-0.58 s

(The all-rows build at 2^20 was measured before this script ran inside ``tuned()``; its spread is
page faults. What is left of a pass is the column builder, ``prover.relations.columns``.)

The compiled column builder (``prover.relations.columns_kernel``) against the numpy builder it
replaced (main at 8b5e41e), same machine (load ~1.4-5), CPU seconds, best of 3, three interleaved
runs of each tree in one session (ranges over the runs):

    log T  builder  64-col build/chunk  one pass        all-rows build  2048-row span build
    16     numpy    0.165-0.172 ms      0.052-0.056 s   0.010-0.011 s   0.294-0.307 ms
    16     kernel   0.045-0.052 ms      0.022-0.023 s   0.006 s         0.118-0.141 ms
    20     numpy    0.270-0.285 ms      0.306-0.331 s   0.127-0.134 s   0.299-0.304 ms
    20     kernel   0.092-0.116 ms      0.142-0.170 s   0.065-0.075 s   0.119-0.122 ms

(The span build is one ``builder(rows, start, names=COLUMNS)`` call on ``replay_span`` rows; of
the ~0.1 ms a 1024-row build now costs, ~45 us is the kernel and ~35 us is Python: 61 fresh
arrays, one per column, and the call.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable

from prover.pipeline import chunk_log_for
from prover.relations.columns import COLUMNS, make_builder
from prover.relations.layout import bytecode_table
from prover.runtime import tuned
from prover.tracer import Tracer
from prover.witness import WitnessSource
from prover.workloads import build


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def _best(fn: Callable[[], Any], repeat: int, clock: Callable[[], float]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


def measure(workload: str, log_t: int, chunk_log: int | None, repeat: int,
            clock: str = "cpu") -> dict[str, Any]:
    _clock = CLOCKS[clock]
    w = build(workload, log_t)
    cl = chunk_log_for(log_t) if chunk_log is None else chunk_log
    bytecode = bytecode_table(w.program)
    builder = make_builder(bytecode)

    t = _clock()
    tracer = Tracer(w.program, w.ram_init, w.T, cl)
    init = _clock() - t

    def first_run() -> None:
        fresh = Tracer(w.program, w.ram_init, w.T, cl)
        for _ in fresh.run():
            pass

    first = _best(first_run, repeat, _clock)
    for _ in tracer.run():  # checkpoints for the replays below
        pass
    n = tracer.num_chunks

    def replay_all() -> None:
        for i in range(n):
            tracer.replay(i)

    replay = _best(replay_all, repeat, _clock) / n
    chunks = [tracer.replay(i) for i in range(min(n, 64))]  # a sample: builds do not depend on i much

    def build_sample() -> None:
        for i, rows in enumerate(chunks):
            builder(rows, i << cl, names=COLUMNS)

    build_chunk = _best(build_sample, repeat, _clock) / len(chunks)
    witness = WitnessSource(tracer, builder)

    def one_pass() -> None:
        for i in range(n):
            witness.chunk(i, COLUMNS)

    pass_s = _best(one_pass, repeat, _clock)
    witness.materialize_rows()
    mat = _best(lambda: witness.materialized(COLUMNS), repeat, _clock)
    witness.drop_rows()

    cold: dict[str, float] | None = None
    ckpts = tracer.checkpoints
    fresh = Tracer(w.program, w.ram_init, w.T, cl)
    load = getattr(fresh, "load_checkpoints", None)
    if callable(load):
        load(ckpts)
        t = _clock()
        fresh.replay(n - 1)
        t_replay = _clock() - t
        t = _clock()
        fresh.final_state()
        cold = {"replay_last": t_replay, "final_state_after": _clock() - t}
    return {
        "workload": workload, "log_t": log_t, "chunk_log": cl, "chunks": n,
        "init_s": init, "first_run_s": first, "replay_chunk_ms": replay * 1e3,
        "build_chunk_ms": build_chunk * 1e3, "pass_s": pass_s, "materialized_build_s": mat,
        "cold_replay": cold, "clock": clock,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log-t", default="16,18,20", help="comma-separated log T values")
    ap.add_argument("--chunk-log", type=int, default=None, help="log2 rows per chunk (default ~sqrt T)")
    ap.add_argument("--workload", default="sha2-chain")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s) for s in args.log_t.split(",") if s.strip()]
    except ValueError:
        print(f"pass_cost: --log-t {args.log_t!r} is not a comma-separated list of integers", file=sys.stderr)
        return 2
    results = []
    print(f"{'logT':>4} {'chunk':>6} {'init s':>7} {'first s':>8} {'replay ms':>9} {'build ms':>9} "
          f"{'pass s':>7} {'mat s':>7}  cold replay/final_state s")
    for log_t in sizes:
        with tuned():  # as prove() runs: one BLAS thread, freed tables kept (else page faults dominate)
            r = measure(args.workload, log_t, args.chunk_log, args.repeat, args.clock)
        results.append(r)
        cold = r["cold_replay"]
        cold_s = "n/a" if cold is None else f"{cold['replay_last']:.4f} / {cold['final_state_after']:.4f}"
        print(f"{log_t:>4} {1 << r['chunk_log']:>6} {r['init_s']:>7.3f} {r['first_run_s']:>8.3f} "
              f"{r['replay_chunk_ms']:>9.3f} {r['build_chunk_ms']:>9.3f} {r['pass_s']:>7.3f} "
              f"{r['materialized_build_s']:>7.3f}  {cold_s}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"schema": 1, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
