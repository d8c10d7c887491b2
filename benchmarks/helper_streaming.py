"""A logUp helper stage (3-6, protocol v3) materialized vs streaming: memory and time of every stage, fresh processes.

    PYTHONPATH=. .venv/bin/python benchmarks/helper_streaming.py --stage 4 --log-t 16 [--pairs 3]
        [--stages 0-8] [--skip-time] [--skip-memory] [--json out.jsonl]

Two variants of the whole pipeline (``prover.pipeline.prove`` on sha2-chain), the stages converted
before stage K (``--stage``, in the spec's conversion order: 0, 1, then 3, 4, 5, 6) streaming in
both: "materialized" (stage K materialized) and "streaming" (stage K streaming). In what follows
"stage 3" reads "stage K" (``benchmarks/stage3_streaming.py`` is this with ``--stage 3``).
As the memory gate measures (docs/gates.md, "Measuring"; specs/streaming-prover.md, Evaluation):
- **in-stage peak and kept bytes** of stage k: one fresh process per (variant, k) with
  ``PYTHONMALLOC=malloc``, a memray Tracker opened in the observer's enter(k) and closed in
  exit(k), the run stopped there; the peak is the capture's ``metadata.peak_memory``, the kept
  bytes the sum of its leaked allocation records (what stage k allocated and left alive);
- **whole run**: one more process per variant tracking the whole prove;
- **stage 3's trace side** (track ``3-trace``): as stage 3's, but the capture ends where the stage
  starts its table side (the numerators -m_instr, then the denominators and the GKR "s3/table" over
  the 2^19-entry table: constant in T), so the peak is
  what the trace side (S, the helper sumcheck, the column values) needs; the table side's own
  figure is then stage 3's peak (it is the larger at every size measured);
- **time**: fresh processes without memray, interleaved (materialized, streaming, then streaming,
  materialized, ...), perf_counter at every stage boundary; per pair the ratio streaming /
  materialized of stage 3, of the unit of stages 2-6 (the sum of their in-stage times, the time
  rule's unit) and end to end; the medians are printed.
Prints one JSON line per process and a table at the end. Every process also reports the proof's
sha256 (time runs) so the two variants can be seen to give the same bytes.
``--child`` runs one measurement in this process (what the driver starts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

VARIANTS = ("materialized", "streaming")
BEFORE = {3: (0, 1), 4: (0, 1, 3), 5: (0, 1, 3, 4), 6: (0, 1, 3, 4, 5)}


def variant_of(stage: int, name: str) -> dict[str, str]:
    """The backends of one variant: the stages converted before ``stage`` streaming, and
    ``stage`` itself streaming in the "streaming" variant only."""
    ks = BEFORE[stage] + ((stage,) if name == "streaming" else ())
    return {str(k): "streaming" for k in ks}


class _Stop(Exception):
    pass


def child(a: argparse.Namespace) -> dict[str, Any]:
    from prover import workloads
    from prover.pipeline import prove

    w = workloads.build(a.workload, a.log_t)
    variant = variant_of(a.stage, a.variant)
    K = a.stage
    out: dict[str, Any] = {"log_t": a.log_t, "variant": a.variant, "mode": a.child}
    if a.child == "time":
        marks: dict[int, float] = {}
        seconds: dict[int, float] = {}

        class Clock:
            def enter(self, k: int) -> None:
                marks[k] = time.perf_counter()

            def exit(self, k: int) -> None:
                seconds[k] = time.perf_counter() - marks[k]

        t0 = time.perf_counter()
        proof = prove(w, variant=variant, observer=Clock())
        out["total_s"] = time.perf_counter() - t0
        out["stage_s"] = {str(k): round(v, 4) for k, v in sorted(seconds.items())}
        out["sha256"] = hashlib.sha256(proof).hexdigest()[:16]
        return out
    import memray

    cap = os.path.join(tempfile.mkdtemp(prefix=f"s{K}mem-"), "cap.bin")
    track = a.track
    state: dict[str, Any] = {"tracker": None}

    def make() -> Any:
        return memray.Tracker(cap, file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS)

    class Window:
        def enter(self, k: int) -> None:
            if str(k) == track or (track == f"{K}-trace" and k == K):
                state["tracker"] = make()
                state["tracker"].__enter__()

        def exit(self, k: int) -> None:
            if str(k) == track:
                state["tracker"].__exit__(None, None, None)
                state["tracker"] = None
                raise _Stop

    if track == f"{K}-trace":  # end the capture where the table side starts
        import importlib

        mod = importlib.import_module(f"prover.stages.stage{K}")
        inner = mod.neg  # the table side's first call: the table's numerators -m (both backends)

        def table_side(*args: Any, **kw: Any) -> Any:
            if state["tracker"] is not None:
                state["tracker"].__exit__(None, None, None)
                state["tracker"] = None
                raise _Stop
            return inner(*args, **kw)

        mod.neg = table_side  # type: ignore[attr-defined]
    try:
        if track == "whole":
            with make():
                prove(w, variant=variant)
        else:
            prove(w, variant=variant, observer=Window())
    except _Stop:
        pass
    reader = memray.FileReader(cap)
    out["track"] = track
    out["peak_b"] = int(reader.metadata.peak_memory)
    out["kept_b"] = sum(int(r.size) for r in reader.get_leaked_allocation_records(merge_threads=True))
    reader.close()
    os.unlink(cap)
    os.rmdir(os.path.dirname(cap))
    return out


def _run(args: list[str], memory: bool) -> dict[str, Any]:
    env = dict(os.environ)
    if memory:
        env["PYTHONMALLOC"] = "malloc"
    res = subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{res.stderr[-3000:]}")
    line = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(line), flush=True)
    return line


def _stages(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def driver(a: argparse.Namespace) -> int:
    base = ["--stage", str(a.stage), "--log-t", str(a.log_t), "--workload", a.workload]
    mem: dict[str, dict[str, dict[str, int]]] = {v: {} for v in VARIANTS}
    if not a.skip_memory:
        for track in [str(k) for k in _stages(a.stages)] + [f"{a.stage}-trace", "whole"]:
            for v in VARIANTS:
                r = _run(base + ["--child", "memory", "--variant", v, "--track", track], True)
                mem[v][track] = {"peak_b": r["peak_b"], "kept_b": r["kept_b"]}
    times: list[dict[str, dict[str, Any]]] = []
    if not a.skip_time:
        for i in range(a.pairs):
            order = list(VARIANTS) if i % 2 == 0 else list(reversed(VARIANTS))
            pair = {v: _run(base + ["--child", "time", "--variant", v], False) for v in order}
            times.append(pair)
    rows = [f"log T {a.log_t} ({a.workload}), load {os.getloadavg()[0]:.1f}"]
    if mem["materialized"]:
        rows.append("| stage | peak mat. B | peak str. B | peak delta B | kept mat. B | kept str. B | kept delta B |")
        rows.append("|---|---|---|---|---|---|---|")
        for track, m in mem["materialized"].items():
            s = mem["streaming"][track]
            rows.append(f"| {track} | {m['peak_b']:,} | {s['peak_b']:,} | {s['peak_b'] - m['peak_b']:+,} | "
                        f"{m['kept_b']:,} | {s['kept_b']:,} | {s['kept_b'] - m['kept_b']:+,} |")
    if times:
        def unit(r: dict[str, Any]) -> float:
            return sum(r["stage_s"][str(k)] for k in (2, 3, 4, 5, 6))

        sk = str(a.stage)
        ratios = {
            f"stage {sk}": [p["streaming"]["stage_s"][sk] / p["materialized"]["stage_s"][sk] for p in times],
            "unit 2-6": [unit(p["streaming"]) / unit(p["materialized"]) for p in times],
            "end to end": [p["streaming"]["total_s"] / p["materialized"]["total_s"] for p in times],
        }
        med = {v: {
            f"stage {sk}": statistics.median(p[v]["stage_s"][sk] for p in times),
            "unit 2-6": statistics.median(unit(p[v]) for p in times),
            "end to end": statistics.median(p[v]["total_s"] for p in times),
        } for v in VARIANTS}
        rows.append("| time (median of pairs) | materialized s | streaming s | ratio (median of pair ratios) |")
        rows.append("|---|---|---|---|")
        for key, rs in ratios.items():
            rows.append(f"| {key} | {med['materialized'][key]:.3f} | {med['streaming'][key]:.3f} | "
                        f"{statistics.median(rs):.3f} |")
        same = {p[v]["sha256"] for p in times for v in VARIANTS}
        rows.append(f"proof sha256 (both variants, every run): {sorted(same)}")
    print("\n".join(rows), flush=True)
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps({"stage": a.stage, "log_t": a.log_t, "memory": mem, "time": times}) + "\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", type=int, choices=tuple(BEFORE), default=3)
    ap.add_argument("--log-t", type=int, required=True)
    ap.add_argument("--workload", default="sha2-chain")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--stages", default="0-8", help="stages whose memory is measured, e.g. 0-8 or 2,3,7")
    ap.add_argument("--skip-time", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", choices=("time", "memory"), default=None)
    ap.add_argument("--variant", choices=tuple(VARIANTS), default="streaming")
    ap.add_argument("--track", default="3", help="stage id or 'whole' (memory child)")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a)), flush=True)
        return 0
    return driver(a)


if __name__ == "__main__":
    sys.exit(main())
