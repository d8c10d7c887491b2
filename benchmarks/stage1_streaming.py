"""Stage 1 (protocol v3) figures, materialized vs streaming, one figure per fresh process.

    .venv/bin/python benchmarks/stage1_streaming.py --log-t 20 --backend streaming --mode time
    PYTHONMALLOC=malloc .venv/bin/python benchmarks/stage1_streaming.py --log-t 20 --backend streaming --mode memory

Runs like ``prover.pipeline.prove`` (inside ``runtime.tuned()``, rows materialized before stage 0)
but only stages 0 and 1 (stages 2-8 of v3 are not on this branch yet). Stage 0 runs on
``--stage0`` (default streaming: the cheaper one). mode time: perf_counter around stage 1;
mode memory: one memray Tracker (aggregated) from stage 1's start to its end, the high-water mark
of what stage 1 allocated (the memory gate's in-stage peak). Prints one JSON line: the figure
(time: wall and CPU seconds; CPU time is the steadier figure on a shared machine), the section's
sha256, the passes (chunks replayed / chunk count) and, for the streaming backend in time mode,
each pass's wall and CPU seconds (its reads and its compute). ``--window`` and ``--span-rows``
override the backend's choices, for sweeps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log-t", type=int, required=True)
    ap.add_argument("--backend", default="streaming")
    ap.add_argument("--stage0", default="streaming")
    ap.add_argument("--mode", choices=("time", "memory", "none"), default="time")
    ap.add_argument("--workload", default=None)
    ap.add_argument("--window", type=int, default=None, help="streamed rounds j (default: the backend's policy)")
    ap.add_argument("--span-rows", type=int, default=None, help="rows per column build (default: the backend's)")
    a = ap.parse_args()

    from prover import workloads
    from prover.backends.streaming import zerocheck
    from prover.pipeline import _stage_module, chunk_log_for, statement_of
    from prover.proof import SectionWriter
    from prover.relations.columns import make_builder
    from prover.relations.layout import FinalState, bytecode_table
    from prover.runtime import tuned
    from prover.stages.common import ProverContext
    from prover.tracer import Tracer
    from prover.transcript import Transcript
    from prover.verifier import DOMAIN
    from prover.witness import WitnessSource

    pass_times: dict[str, list[float]] = {}
    if a.backend == "streaming" and a.mode == "time":  # per-pass wall and CPU seconds (reads + compute)
        cls = zerocheck.StreamingQuadraticZeroCheck

        def timed(label: str, f):  # type: ignore[no-untyped-def]
            def run(*args, **kw):  # type: ignore[no-untyped-def]
                t0, c0 = time.perf_counter(), time.process_time()
                out = f(*args, **kw)
                pass_times[label] = [round(time.perf_counter() - t0, 3), round(time.process_time() - c0, 3)]
                return out
            return run

        for label, attr in (("window", "_window_pass"), ("handoff", "_handoff"), ("values", "final_values")):
            setattr(cls, attr, timed(label, getattr(cls, attr)))
    if a.window is not None:
        zerocheck.window_for = lambda log_t: a.window
    if a.span_rows is not None:
        zerocheck.SPAN_ROWS = a.span_rows
    name = a.workload or ("sha2-chain" if a.log_t >= 12 else "fib")
    w = workloads.build(name, a.log_t)
    with tuned():
        st = statement_of(w)
        bc = bytecode_table(w.program)
        tr = Tracer(w.program, w.ram_init, w.T, chunk_log_for(w.log_t))
        replays = {"chunks": 0}
        inner_span, inner_one = tr.replay_span, tr.replay

        def span(first: int, count: int):  # type: ignore[no-untyped-def]
            replays["chunks"] += count
            return inner_span(first, count)

        def one(i: int):  # type: ignore[no-untyped-def]
            replays["chunks"] += 1
            return inner_one(i)

        tr.replay_span, tr.replay = span, one  # type: ignore[method-assign]
        wit = WitnessSource(tr, make_builder(bc, None))
        wit.materialize_rows()
        fs = tr.final_state()
        ctx = ProverContext(
            transcript=Transcript(DOMAIN), workload=w, statement=st, log_t=w.log_t, T=w.T, program=w.program,
            bytecode=bc, witness=wit, section=SectionWriter(0),
            final_regs=FinalState(fs.regs.astype(np.uint64), fs.reg_times.astype(np.uint64)),
            final_ram=FinalState(fs.ram.astype(np.uint64), fs.ram_times.astype(np.uint64)))
        ctx.backend = a.stage0
        t0 = time.perf_counter()
        _stage_module(0).prove(ctx)
        s0 = time.perf_counter() - t0
        ctx.backend = a.backend
        ctx.section = SectionWriter(1)
        stage1 = _stage_module(1)
        replays["chunks"] = 0
        out: dict[str, object] = {"log_t": a.log_t, "workload": name, "backend": a.backend, "stage0_s": round(s0, 3),
                                  "window": zerocheck.window_for(a.log_t), "span_rows": zerocheck.SPAN_ROWS}
        if a.mode == "memory":
            import memray

            cap = os.path.join(tempfile.mkdtemp(prefix="s1mem-"), "cap.bin")
            with memray.Tracker(cap, file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS):
                stage1.prove(ctx)
            reader = memray.FileReader(cap)
            out["peak_mib"] = round(int(reader.metadata.peak_memory) / 2**20, 2)
            reader.close()
            os.unlink(cap)
        else:
            t0, c0 = time.perf_counter(), time.process_time()
            stage1.prove(ctx)
            out["stage1_s"] = round(time.perf_counter() - t0, 3)
            out["stage1_cpu_s"] = round(time.process_time() - c0, 3)
        out["passes"] = replays["chunks"] / tr.num_chunks
        if pass_times:
            out["pass_wall_cpu_s"] = pass_times
        out["section_sha256"] = hashlib.sha256(ctx.section.payload()).hexdigest()[:16]
        out["load"] = os.getloadavg()[0]
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
