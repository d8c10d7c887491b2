"""What stage 2 streaming would cost stages 3-7: the unit 2-6 with the helpers kept vs recomputed.

    nice -n 19 PYTHONPATH=. .venv/bin/python benchmarks/stage2_recompute.py --log-t 16 [--rounds 3]
        [--variants a,b,c] [--pass-costs] [--json out.jsonl]

In ONE process per size (so a size's figures compare as ratios; sha2-chain), rounds of three
proves (``prover.pipeline.prove`` with a perf_counter observer, the time gate's in-stage clock),
the order rotated every round (a b c, b c a, c a b, ...), after one discarded warm-up round:
- (a) ``materialized``: the all-materialized baseline variant;
- (b) ``kept``: every stage that offers ``streaming`` (``prover.probe.capabilities``) streaming,
  except stage 2, which stays materialized and leaves the helpers in ``ctx.helpers``;
- (c) ``recomputed``: (b) with ``ctx.helpers`` emptied ({}) right after stage 2, so the streaming
  stages 3-7 recompute their helpers per span (one ``batch_einv`` per span and pass): what stage
  2 streaming costs them, stage 2's own time apart. A materialized stage 7 cannot recompute, so
  the wrapper hands it the stashed helpers back (its time is then (b)'s).
Only this script wraps the stage modules' ``prove`` (stage 2 and 7; never a protected module).
Per round: the ratios (b)/(a) and (c)/(a) of the unit 2-6 (the sum of in-stage seconds, the time
rule's unit), of stage 7 and of the unit 0 + 8; the medians over rounds are printed with the
1-minute load average at each prove.
``--pass-costs``: then one helper pass alone, as the streaming stages make it (``witness.span``
over 2^11-row spans of the helper columns; ``fingerprints.helpers_chunk`` for all nine helpers;
``batch_einv`` alone on the same (4, 9 x rows) products), to say which cost dominates.
Run with another tree on PYTHONPATH (e.g. convert-s8, stages 7 and 8 streaming) to see stage 7
recompute too.

Measured on main 0801798 (stages 0, 1, 3-6 streaming; 7 and 8 materialized), sha2-chain, this
2-core machine shared with a `gates accept` and pytest runs (load 3-7), 2026-12-08, nice 19;
(a) all materialized, (b) stage 2 materialized (helpers kept), (c) helpers emptied after stage 2;
ratios are medians of per-round ratios to (a); "3-6 +s" is the median of (c) - (b) over stages
3-6 per round, the helper recompute alone; a = (a)'s unit 2-6 in seconds (median).
    | log T | rounds, clock, load      | unit 2-6 (b)/(a) | (c)/(a) | 3-6 +s | a s   | stage 7 (c)/(a) | 0+8 (c)/(a) |
    | 16    | 3, 00:28:54-00:29:26, 5.5 | 1.37 | 1.50 | +0.26 | 1.45  | 1.27 | 0.91 |
    | 16    | 6, 00:53:33-00:54:32, 3.0 | 1.28 | 1.78 | +0.36 | 1.25  | 1.04 | 1.15 |
    | 18    | 3, 00:29:42-00:32:25, 6.0 | 1.48 | 1.60 | +1.30 | 5.92  | 0.72 | 1.06 |
    | 18    | 4, 00:47:25-00:49:42, 4.9 | 1.34 | 1.45 | +0.29 | 4.54  | 0.56 | 1.42 |
    | 20    | 2, 00:33:34-00:38:29, 6.2 | 1.53 | 1.84 | +4.92 | 17.45 | 0.95 | 0.88 |
    | 20    | 3, 00:41:11-00:47:09, 4.2 | 1.83 | 2.21 | +4.87 | 11.08 | 1.05 | 0.57 |
(the first 2^18 batch's third round ran beside a pytest run: (c)/(a) 5.25 there; every proof the
golden digest.) One helper pass alone (all nine helpers, 2^11-row spans): span builds / helpers
/ batch_einv alone 0.023 / 0.116 / 0.046 s at 2^16, 0.18 / 0.51 / 0.27 s at 2^18, 0.69 / 1.86 /
0.77 s at 2^20. So recomputing costs stages 3-6 about 0.3-0.45 of the baseline unit at 2^16 and
2^20 (+0.3-0.4 s, +4.9 s: ~3 passes' worth of all nine helpers), on top of (b)'s 1.3-1.8:
(c) reaches 2.2 at 2^20, before stage 2's own streaming time is counted.
Caveat: one process proving many times is not the gate's fresh process. There the baseline's
stages 2-6 ran faster (2^20: 7.9-8.2 s, not 11-17 s) and stage 2 streaming itself is 0.82-0.87x
the materialized stage, so the converted unit came out at 1.6-1.86 on a quiet machine
(benchmarks/stage2_streaming.py, which measures what the gate measures).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

UNIT = (2, 3, 4, 5, 6)
UNIT08 = (0, 8)
NAMES = {"a": "materialized", "b": "kept", "c": "recomputed"}


def _variants() -> dict[str, dict[str, str]]:
    from prover import probe

    caps = probe.capabilities()
    stream = {k: "streaming" for k, b in caps.items() if "streaming" in b and k != "2"}
    return {"a": {}, "b": dict(stream), "c": dict(stream)}


class _Wrap:
    """Stage 2's prove empties ctx.helpers when ``on``; a materialized stage 7 gets them back."""

    def __init__(self) -> None:
        self.on = False
        self.stash: dict[str, Any] | None = None
        self.s2 = importlib.import_module("prover.stages.stage2")
        self.s7 = importlib.import_module("prover.stages.stage7")
        inner2: Callable[[Any], None] = self.s2.prove
        inner7: Callable[[Any], None] = self.s7.prove

        def prove2(ctx: Any) -> None:
            inner2(ctx)
            if self.on:
                self.stash, ctx.helpers = ctx.helpers, {}

        def prove7(ctx: Any) -> None:
            if self.on and ctx.backend == "materialized" and self.stash is not None:
                ctx.helpers = self.stash
            self.stash = None
            inner7(ctx)

        self.s2.prove = prove2
        self.s7.prove = prove7


def _one(w: Any, variant: dict[str, str]) -> dict[str, Any]:
    from prover.pipeline import prove

    marks: dict[int, float] = {}
    sec: dict[int, float] = {}

    class Clock:
        def enter(self, k: int) -> None:
            marks[k] = time.perf_counter()

        def exit(self, k: int) -> None:
            sec[k] = time.perf_counter() - marks[k]

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proof = prove(w, variant=variant, observer=Clock())
    total = time.perf_counter() - t0
    return {"stage_s": {k: round(v, 4) for k, v in sorted(sec.items())}, "total_s": round(total, 3),
            "load": round(load, 2), "clock": time.strftime("%H:%M:%S"),
            "sha256": hashlib.sha256(proof).hexdigest()[:16]}


def _sum(r: dict[str, Any], ks: tuple[int, ...]) -> float:
    return sum(r["stage_s"][k] for k in ks)


def pass_costs(log_t: int) -> dict[str, float]:
    """One helper pass alone: the span builds, all nine helpers, batch_einv alone (seconds)."""
    from prover import workloads
    from prover.pipeline import chunk_log_for
    from prover.relations import fingerprints as fp
    from prover.relations.columns import make_builder
    from prover.relations.layout import bytecode_table
    from prover.runtime import tuned
    from prover.tracer import Tracer
    from prover.witness import WitnessSource

    w = workloads.build("sha2-chain", log_t)
    with tuned():
        wit = WitnessSource(Tracer(w.program, w.ram_init, w.T, chunk_log_for(log_t)),
                            make_builder(bytecode_table(w.program), None))
        wit.materialize_rows()  # records the checkpoints; spans never read the cached rows
        rng = np.random.default_rng(1)
        alpha = rng.integers(0, 2**30, 4).astype(np.uint64)
        g = rng.integers(0, 2**30, 4).astype(np.uint64)
        forms = fp.helper_den_forms(alpha, g)
        per = max(1, (1 << 11) // wit.chunk_size)
        out = {"span_s": 0.0, "helpers_s": 0.0, "batch_einv_s": 0.0}
        for first in range(0, wit.num_chunks, per):
            count = min(per, wit.num_chunks - first)
            t = time.perf_counter()
            cols = wit.span(first, count, fp.HELPER_COLUMNS)
            out["span_s"] += time.perf_counter() - t
            t = time.perf_counter()
            fp.helpers_chunk(cols, first * wit.chunk_size, alpha, g, forms=forms)
            out["helpers_s"] += time.perf_counter() - t
            prods = rng.integers(1, 2**31 - 1, (4, len(fp.HELPER_NAMES) * count * wit.chunk_size)).astype(np.uint64)
            t = time.perf_counter()
            fp.batch_einv(prods)
            out["batch_einv_s"] += time.perf_counter() - t
    return {k: round(v, 4) for k, v in out.items()}


def measure(log_t: int, rounds: int, which: list[str], costs: bool) -> dict[str, Any]:
    from prover import workloads

    variants = _variants()
    wrap = _Wrap()
    runs: list[dict[str, dict[str, Any]]] = []
    warm = workloads.build("sha2-chain", min(log_t, 12))
    for v in which:  # warm-up (numba, BLAS, tables): discarded
        wrap.on = v == "c"
        _one(warm, variants[v])
    w = workloads.build("sha2-chain", log_t)
    for i in range(rounds):
        order = which[i % len(which):] + which[: i % len(which)]
        rec: dict[str, dict[str, Any]] = {}
        for v in order:
            wrap.on = v == "c"
            rec[v] = _one(w, variants[v])
            rec[v]["order"] = order.index(v)
            print(json.dumps({"log_t": log_t, "round": i, "v": NAMES[v], **rec[v]}), flush=True)
        runs.append(rec)
    out: dict[str, Any] = {"log_t": log_t, "variants": {NAMES[v]: variants[v] for v in which}, "runs": runs}
    if costs:
        out["pass_costs"] = pass_costs(log_t)
        print(json.dumps({"log_t": log_t, "pass_costs": out["pass_costs"]}), flush=True)
    return out


def table(rec: dict[str, Any]) -> str:
    runs = rec["runs"]
    which = [v for v in "abc" if v in runs[0]]
    loads = [r[v]["load"] for r in runs for v in which]
    clocks = [r[v]["clock"] for r in runs for v in which]
    lines = [f"log T {rec['log_t']}: {len(runs)} rounds, {clocks[0]}-{clocks[-1]}, load {min(loads):.1f}-{max(loads):.1f}",
             "| metric | " + " | ".join(f"{NAMES[v]} s (median)" for v in which) + " | "
             + " | ".join(f"{NAMES[v]}/materialized (median; per round)" for v in which if v != "a") + " |",
             "|---|" + "---|" * (2 * len(which) - 1)]
    metrics = [("unit 2-6", UNIT), ("stage 2", (2,)), ("stages 3-6", (3, 4, 5, 6)), ("stage 7", (7,)),
               ("stage 8", (8,)), ("unit 0+8", UNIT08), ("all stages", tuple(range(9)))]
    for name, ks in metrics:
        med = [statistics.median(_sum(r[v], ks) for r in runs) for v in which]
        cells = [f"{m:.3f}" for m in med]
        for v in which:
            if v == "a":
                continue
            rs = [_sum(r[v], ks) / _sum(r["a"], ks) for r in runs]
            cells.append(f"{statistics.median(rs):.3f} ({', '.join(f'{x:.2f}' for x in rs)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    shas = sorted({r[v]["sha256"] for r in runs for v in which})
    lines.append(f"proof sha256 (every run): {shas}")
    if "pass_costs" in rec:
        lines.append(f"one helper pass alone: {rec['pass_costs']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log-t", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default="a,b,c")
    ap.add_argument("--pass-costs", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    rec = measure(a.log_t, a.rounds, a.variants.split(","), a.pass_costs)
    print(table(rec), flush=True)
    if a.json:
        with open(a.json, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
