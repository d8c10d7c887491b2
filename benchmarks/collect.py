"""Collect the prover's figures for given sha2-chain sizes into one JSON, plus a markdown table.

What it measures, per log T (workload ``sha2-chain``, T = 2^log T):
- prove seconds, end to end and per stage: ``--runs`` runs, each in a FRESH process through the
  gates' own probe (``gates.measuring.probe.time_run``: ``gates/measuring/_probe_child.py`` run by path, the probe's
  observer takes ``perf_counter`` at ``enter(k)`` / ``exit(k)`` and around the ``prove`` call,
  imports excluded), so the figures are taken exactly as the time gate takes them. Reported:
  the median (and every run). Runs are interleaved across sizes, the size order reversing each
  round, so drift in the machine's load hits every size alike (the ratio between sizes is what
  is comparable; absolute seconds on this shared machine are not).
- verify seconds: ``--runs`` fresh processes, each timing ``prover.verifier.verify(proof,
  expected statement)`` with ``perf_counter`` (imports, reading the proof file and rebuilding
  the expected statement excluded).
- proof bytes (and per-section bytes), from one untimed prove (``gates.measuring.probe.proof_run``), which
  also checks the subject's own verify verdict and serves as the warm-up run (page cache) before
  the timed runs; every timed run's proof digest must equal it (determinism).
- memray heap peaks: the gates' memory mode (``gates.measuring.probe.memory_run``): one fresh process per
  stage k with a Tracker from enter(k) to exit(k) (the in-stage peak), plus one process tracking
  the whole run. Never timed: memray slows allocation-heavy code down.

Where the numbers go: ``--out FILE`` (default ``.benchmarks/prover-<UTC time>_<commit>[_dirty].json``,
git-ignored), layout in benchmarks/README.md; a markdown summary goes to stdout, progress to stderr.

    .venv/bin/python benchmarks/collect.py --log-t 16,18,20 --runs 3 --out out/bench.json

Cost: per size, (1 + runs) proves + runs verifies + about five proves' worth under memray
(stage k's process runs stages 0..k). Use ``--no-memory`` to skip the memray part.

This module is also the library of ``bench_prover.py`` (sizes, variants, memory figures, machine
info). Its top-level imports are the standard library only: the verify child (``python -P
collect.py _verify-child REQUEST``) must carry nothing but the prover into its process; the
engine (``gates``) is imported inside the functions that drive the runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:
    from gates.measuring.probe import MemoryRun, ProofRun, TimeRun
    from gates.contract.spec import Spec

REPO = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO / "specs" / "streaming-prover.yaml"
WORKLOAD = "sha2-chain"
CHILD_MODE = "_verify-child"
SCHEMA = 1
KIND = "stagegate-prover-bench"

# The targets on the 2-core development machine (all judged at 2^20; the scaling target
# against 2^16 measured in the same run). "2 MB" is read as 2,000,000 bytes (the stricter one).
TARGET_LOG_T = 20
SCALING_FROM_LOG_T = 16
PROVE_LIMIT_S = 60.0
PROVE_AIM_S = 30.0
SCALING_LIMIT = 20.0
VERIFY_LIMIT_S = 2.0
PROOF_LIMIT_BYTES = 2_000_000

Progress = Callable[[str], None]


# ----------------------------------------------------------------------------- options


def parse_log_ts(text: str) -> list[int]:
    """``"16,18,20"`` -> ``[16, 18, 20]`` (sorted, unique); ValueError with one sentence if bad.
    Sorted: the tables and the scaling ratios read from small to big."""
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"--log-t expects comma-separated integers such as 16,18,20, got {text!r}") from None
    if not values:
        raise ValueError("--log-t names no size")
    bad = [v for v in values if not 12 <= v <= 22]
    if bad:
        raise ValueError(f"--log-t {bad}: sha2-chain supports log T 12..22")
    return values


def parse_variant(
        text: str, stages: Sequence[int], default: str = "materialized", option: str = "--variant",
) -> dict[str, str]:
    """The stage -> backend mapping the probe passes to ``prove``: every stage ``default`` unless
    ``text`` says otherwise, e.g. ``"0=streaming"``, ``"0-3=streaming"``, ``"all=streaming"``."""
    variant = {str(k): default for k in stages}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        where, sep, backend = item.partition("=")
        if not sep or not backend:
            raise ValueError(f"{option} item {item!r}: expected STAGES=BACKEND, e.g. 0-3=streaming")
        if where == "all":
            chosen = list(stages)
        else:
            lo, dash, hi = where.partition("-")
            try:
                chosen = list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
            except ValueError:
                raise ValueError(f"{option} item {item!r}: stages must be N, N-M or all") from None
        unknown = [k for k in chosen if k not in stages]
        if unknown:
            raise ValueError(f"{option} item {item!r}: no stage {unknown[0]}; stages are {list(stages)}")
        for k in chosen:
            variant[str(k)] = backend
    return variant


# ----------------------------------------------------------------------------- the engine's pieces


def load_spec() -> Spec:
    """The machine spec: the subject's entry points and the stage ids/names, as the gates see them."""
    from gates.contract.spec import load_spec as load

    return load(SPEC_PATH, display=str(SPEC_PATH.relative_to(REPO)))


def stage_ids(spec: Spec) -> list[int]:
    return [s.id for s in spec.stages]


def params_of(log_t: int) -> dict[str, Any]:
    return {"workload": WORKLOAD, "log_t": log_t}


def workload_id(log_t: int) -> str:
    return f"sha2-{log_t}"


def effective_variant(spec: Spec, wanted: Mapping[str, str]) -> dict[str, str]:
    """What really runs: a backend the tree's prover does not offer falls back to the baseline
    backend, exactly as the gates do (``gates.measuring.probe.effective_variant``)."""
    from gates.measuring import probe

    caps = probe.capabilities(spec.subject, REPO)
    return probe.effective_variant(wanted, caps, spec.baseline_variant)


def memory_figures(
        spec: Spec, log_t: int, variant: Mapping[str, str], progress: Progress,
) -> dict[str, Any]:
    """In-stage memray peaks of every stage and the whole-run peak, in bytes (fresh processes)."""
    from gates.measuring import probe

    capture_dir = Path(tempfile.mkdtemp(prefix="stagegate-bench-memray-"))
    try:
        run: MemoryRun = probe.memory_run(
            spec.subject, REPO, workload_id(log_t), params_of(log_t), variant, stage_ids(spec),
            capture_dir, label="bench", progress=progress,
        )
    finally:
        # Captures of a 2^20 run take hundreds of MB; only their peaks are kept.
        for path in capture_dir.glob("*"):
            path.unlink(missing_ok=True)
        capture_dir.rmdir()
    return {
        "whole_run_peak": int(run.whole_run_peak),
        "stage_peaks": {str(k): int(v) for k, v in sorted(run.stage_peaks.items())},
    }


def time_prove(spec: Spec, log_t: int, variant: Mapping[str, str]) -> TimeRun:
    from gates.measuring import probe

    return probe.time_run(spec.subject, REPO, workload_id(log_t), params_of(log_t), variant, stage_ids(spec))


def proof_of(spec: Spec, log_t: int, variant: Mapping[str, str]) -> ProofRun:
    from gates.measuring import probe

    return probe.proof_run(spec.subject, REPO, workload_id(log_t), params_of(log_t), variant, stage_ids(spec))


def time_verify(log_t: int, proof: bytes, timeout: float = 600.0) -> dict[str, Any]:
    """One verify in a fresh process (this file's ``_verify-child`` mode); its JSON result."""
    from gates.measuring import proc

    with tempfile.TemporaryDirectory(prefix="stagegate-bench-verify-") as tmp:
        work = Path(tmp)
        (work / "proof.bin").write_bytes(proof)
        request = {
            "root": str(REPO), "workload": WORKLOAD, "log_t": log_t,
            "proof": str(work / "proof.bin"), "result": str(work / "result.json"),
        }
        (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
        # Same interpreter settings as the probe's children (clean env, fixed hash seed, own
        # process group killed on every way out); -P keeps this folder off the child's sys.path.
        argv = (sys.executable, "-P", str(Path(__file__).resolve()), CHILD_MODE, str(work / "request.json"))
        log = work / "child.log"
        with proc.started(argv, REPO, proc.child_env(), log, stderr_pipe=False) as child:
            code = proc.wait(child, timeout, f"the verify run at log T {log_t}", log)
        result_path = work / "result.json"
        if not result_path.is_file():
            raise proc.ProbeFailed(f"the verify child exited with {code} and wrote no result", proc.tail(log))
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    return result


def _verify_child(request_path: str) -> int:
    """In a fresh process: time one verification of the proof file against the statement
    rebuilt from the workload parameters (what ``prover.probe.verify`` checks)."""
    req = json.loads(Path(request_path).read_text(encoding="utf-8"))
    sys.path.insert(0, req["root"])  # the tree under test wins over the editable install's finder
    from prover.pipeline import statement_of
    from prover.verifier import ProofFormatError, VerificationError, verify
    from prover.workloads import build

    proof = Path(req["proof"]).read_bytes()
    expected = statement_of(build(req["workload"], int(req["log_t"]))).encode()
    out: dict[str, Any] = {"ok": False}
    try:
        start = time.perf_counter()
        verify(proof, expected)
        out["seconds"] = time.perf_counter() - start
        out["ok"] = True
        out["message"] = "accepted"
    except (ProofFormatError, VerificationError) as exc:
        out["message"] = f"{type(exc).__name__}: {exc}"
    Path(req["result"]).write_text(json.dumps(out), encoding="utf-8")
    return 0 if out["ok"] else 1


# ----------------------------------------------------------------------------- machine and commit


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "MemAvailable"):
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine(volatile: bool = True) -> dict[str, Any]:
    """CPU model, cores, memory, interpreter and library versions; with ``volatile`` also the
    current load and available memory (left out where a tool compares machine infos)."""
    from gates.reports import benchjson

    info = benchjson.machine_info()
    mem = _meminfo()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    out: dict[str, Any] = {
        "cpu_model": info["cpu"]["brand_raw"],
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_bytes": mem.get("MemTotal"),
        "node": platform.node(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "versions": benchjson.tool_versions(),  # python, numpy, memray
    }
    if volatile:
        out["memory_available_bytes"] = mem.get("MemAvailable")
        out["load_average"] = load_average()
    return out


def commit() -> dict[str, Any]:
    from gates.reports import benchjson

    try:
        info = benchjson.commit_info(REPO)
    except Exception as exc:  # not a git checkout: the figures are still worth keeping
        return {"id": "unversioned", "dirty": True, "branch": None, "error": str(exc)}
    return {"id": info["id"], "dirty": info["dirty"], "branch": info["branch"], "time": info["time"]}


# ----------------------------------------------------------------------------- the run


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _order(log_ts: Sequence[int], round_no: int) -> list[int]:
    """Ascending on even rounds, descending on odd ones (as the time gate alternates A B, B A)."""
    return list(log_ts) if round_no % 2 == 0 else list(reversed(log_ts))


def collect(
        spec: Spec,
        log_ts: Sequence[int],
        runs: int,
        wanted: Mapping[str, str],
        with_memory: bool = True,
        progress: Progress = lambda _msg: None,
) -> dict[str, Any]:
    """Measure every size; the JSON document (see benchmarks/README.md)."""
    from prover.workloads import build

    stages = stage_ids(spec)
    variant = effective_variant(spec, wanted)
    if variant != wanted:
        progress(f"the prover does not offer every wanted backend; running {variant}")
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": KIND,
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "machine": machine(),
        "commit": commit(),
        "settings": {
            "workload": WORKLOAD, "runs": runs, "variant_wanted": dict(wanted), "variant": variant,
            "memory": with_memory, "timer": "perf_counter", "fresh_process": True,
            "stage_names": {str(s.id): s.name for s in spec.stages},
        },
        "sizes": {},
    }
    sizes: dict[str, dict[str, Any]] = doc["sizes"]

    # 1. One untimed prove per size: proof bytes, verdict, sections; also the warm-up.
    for log_t in log_ts:
        wl = build(WORKLOAD, log_t)
        progress(f"2^{log_t}: proof run (untimed warm-up; n = {wl.n})")
        pr = proof_of(spec, log_t, variant)
        if not pr.verify_ok:
            raise SystemExit(f"collect: the prover's proof at log T {log_t} is rejected: {pr.verify_message}")
        sizes[str(log_t)] = {
            "log_t": log_t, "T": wl.T, "n": wl.n, "real_cycles": wl.real_cycles,
            "proof": {
                "bytes": pr.size, "sha256": pr.sha256,
                "sections": {str(s): n for s, _, n in (pr.sections or ())},
            },
            "_proof": pr.proof,
        }

    # 2. Timed proves, interleaved across sizes.
    timed: dict[int, list[TimeRun]] = {lt: [] for lt in log_ts}
    load_before = load_average()
    for r in range(runs):
        for log_t in _order(log_ts, r):
            run = time_prove(spec, log_t, variant)
            if run.proof_sha256 != sizes[str(log_t)]["proof"]["sha256"]:
                raise SystemExit(f"collect: log T {log_t}: a timed run's proof differs from the proof run's")
            timed[log_t].append(run)
            progress(f"2^{log_t}: prove run {r + 1}/{runs}: {run.total_seconds:.2f} s (load {load_average()})")
    load_after = load_average()
    for log_t in log_ts:
        totals = [t.total_seconds for t in timed[log_t]]
        per_stage = {str(k): [t.stage_seconds[k] for t in timed[log_t]] for k in stages}
        outside = [t.total_seconds - sum(t.stage_seconds.values()) for t in timed[log_t]]
        sizes[str(log_t)]["prove"] = {
            "seconds": _median(totals), "min": min(totals), "max": max(totals), "runs": totals,
            "stage_seconds": {k: _median(v) for k, v in per_stage.items()},
            "stage_runs": per_stage,
            # Outside every stage: building the workload, the trace rows (witness.materialize_rows)
            # and encoding the proof file.
            "outside_stages_seconds": _median(outside),
            "load_average": {"before": load_before, "after": load_after},
        }

    # 3. Timed verifies (also interleaved).
    verified: dict[int, list[float]] = {lt: [] for lt in log_ts}
    for r in range(runs):
        for log_t in _order(log_ts, r):
            res = time_verify(log_t, sizes[str(log_t)]["_proof"])
            if not res.get("ok"):
                raise SystemExit(f"collect: log T {log_t}: the verify run rejected the proof: {res.get('message')}")
            verified[log_t].append(float(res["seconds"]))
            progress(f"2^{log_t}: verify run {r + 1}/{runs}: {res['seconds']:.3f} s")
    for log_t in log_ts:
        v = verified[log_t]
        sizes[str(log_t)]["verify"] = {"seconds": _median(v), "min": min(v), "max": max(v), "runs": v}

    # 4. Memory, last: memray runs are slow and need no quiet machine.
    for log_t in log_ts:
        entry = sizes[str(log_t)]
        del entry["_proof"]
        entry["memory"] = memory_figures(spec, log_t, variant, progress) if with_memory else None
        if entry["memory"] is not None:
            progress(f"2^{log_t}: whole-run peak {entry['memory']['whole_run_peak'] / 2**20:.1f} MiB")

    doc["load_average_end"] = load_average()
    doc["scaling"] = scaling(sizes)
    doc["checks"] = checks(sizes)
    return doc


def scaling(sizes: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Ratios between consecutive measured sizes (all from this run, so comparable)."""
    keys = sorted(sizes, key=int)
    out = []
    for a, b in zip(keys, keys[1:]):
        sa, sb = sizes[a], sizes[b]
        row: dict[str, Any] = {
            "from": int(a), "to": int(b), "T_ratio": sb["T"] / sa["T"],
            "prove_ratio": sb["prove"]["seconds"] / sa["prove"]["seconds"],
            "verify_ratio": sb["verify"]["seconds"] / sa["verify"]["seconds"],
            "proof_ratio": sb["proof"]["bytes"] / sa["proof"]["bytes"],
        }
        if sa.get("memory") and sb.get("memory"):
            row["peak_ratio"] = sb["memory"]["whole_run_peak"] / sa["memory"]["whole_run_peak"]
        out.append(row)
    return out


def checks(sizes: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets; ``passed`` is None when the sizes they need were not measured."""
    big = sizes.get(str(TARGET_LOG_T))
    small = sizes.get(str(SCALING_FROM_LOG_T))
    need = f"needs log T {TARGET_LOG_T}"

    def row(name: str, value: float | None, limit: float, unit: str, note: str = "",
            aim: float | None = None) -> dict[str, Any]:
        return {
            "name": name, "value": value, "limit": limit, "aim": aim, "unit": unit,
            "passed": None if value is None else value <= limit,
            "aim_met": None if value is None or aim is None else value <= aim,
            "note": note if value is not None else f"not measured ({note})",
        }

    ratio = None
    if big is not None and small is not None:
        ratio = big["prove"]["seconds"] / small["prove"]["seconds"]
    return [
        row(f"prove 2^{TARGET_LOG_T}", big["prove"]["seconds"] if big else None, PROVE_LIMIT_S, "s",
            "" if big else need, aim=PROVE_AIM_S),
        row(f"prove 2^{TARGET_LOG_T} / prove 2^{SCALING_FROM_LOG_T}", ratio, SCALING_LIMIT, "x",
            "same run" if ratio is not None else f"needs log T {SCALING_FROM_LOG_T} and {TARGET_LOG_T}"),
        row(f"verify 2^{TARGET_LOG_T}", big["verify"]["seconds"] if big else None, VERIFY_LIMIT_S, "s",
            "" if big else need),
        row(f"proof 2^{TARGET_LOG_T}", float(big["proof"]["bytes"]) if big else None, PROOF_LIMIT_BYTES,
            "bytes", "2 MB = 2,000,000 bytes" if big else need),
    ]


# ----------------------------------------------------------------------------- output


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB"


def _load(values: Sequence[float] | None) -> str:
    return "?" if not values else f"{values[0]:.2f}"


def _spread(e: Mapping[str, Any], digits: int) -> str:
    """Median, with min-max in brackets when there was more than one run."""
    text = f"{e['seconds']:.{digits}f}"
    if len(e["runs"]) > 1:
        text += f" ({e['min']:.{digits}f}-{e['max']:.{digits}f})"
    return text


def _kb(n: int) -> str:
    return f"{n / 1000:.1f} kB"


def markdown(doc: Mapping[str, Any]) -> str:
    """Tables the lead can paste into the README."""
    m, c, s = doc["machine"], doc["commit"], doc["settings"]
    sizes = doc["sizes"]
    keys = sorted(sizes, key=int)
    runs = s["runs"]
    dirty = ", dirty" if c.get("dirty") else ""
    mem = m.get("memory_bytes")
    ram = f"{mem / 2**30:.1f} GiB" if mem else "?"
    lines = [
        f"Measured {doc['datetime'][:16].replace('T', ' ')} UTC at commit `{str(c['id'])[:12]}`{dirty}; "
        f"{m['cpu_model']}, {m['cores']} cores, {ram} RAM; "
        f"Python {m['versions'].get('python')}, numpy {m['versions'].get('numpy')}, "
        f"memray {m['versions'].get('memray')}; 1-min load average {_load(m.get('load_average'))} "
        f"at start, {_load(doc.get('load_average_end'))} at end. Every figure comes from fresh "
        f"processes; seconds are medians of {runs} run{'s' if runs != 1 else ''}"
        + (" (min-max in brackets)." if runs > 1 else "."),
        "",
        "| log T | N (hashes) | prove s | verify s | proof | whole-run peak |",
        "|---|---|---|---|---|---|",
    ]
    for k in keys:
        e = sizes[k]
        p, v = e["prove"], e["verify"]
        peak = e["memory"]["whole_run_peak"] if e.get("memory") else None
        lines.append(
            f"| {k} | {e['n']} | {_spread(p, 2)} | {_spread(v, 3)} | {_kb(e['proof']['bytes'])} "
            f"| {_mib(peak)} |"
        )
    names = s["stage_names"]
    lines += [
        "",
        "Per stage: prove seconds (median) / in-stage peak heap (memray).",
        "",
        "| stage | " + " | ".join(f"2^{k} s | 2^{k} peak" for k in keys) + " |",
        "|---|" + "---|---|" * len(keys),
    ]
    for sid in sorted(names, key=int):
        cells = []
        for k in keys:
            e = sizes[k]
            peak = e["memory"]["stage_peaks"].get(sid) if e.get("memory") else None
            cells += [f"{e['prove']['stage_seconds'][sid]:.2f}", _mib(peak)]
        lines.append(f"| {sid} {names[sid]} | " + " | ".join(cells) + " |")
    lines.append(
        "| outside stages (trace rows, workload, encoding) | "
        + " | ".join(f"{sizes[k]['prove']['outside_stages_seconds']:.2f} | -" for k in keys) + " |"
    )
    if doc.get("scaling"):
        lines += ["", "| sizes | T ratio | prove ratio | verify ratio | proof ratio | peak ratio |",
                  "|---|---|---|---|---|---|"]
        for r in doc["scaling"]:
            peak = f"{r['peak_ratio']:.2f}" if "peak_ratio" in r else "-"
            lines.append(
                f"| 2^{r['from']} -> 2^{r['to']} | {r['T_ratio']:.0f} | {r['prove_ratio']:.2f} "
                f"| {r['verify_ratio']:.2f} | {r['proof_ratio']:.2f} | {peak} |"
            )
    lines += ["", "| target | measured | limit | result |", "|---|---|---|---|"]
    for chk in doc["checks"]:
        limit = _fmt(chk["limit"], chk["unit"])
        if chk["aim"] is not None:
            limit += f" (aim {_fmt(chk['aim'], chk['unit'])})"
        if chk["passed"] is None:
            result = chk["note"]
        else:
            result = "pass" if chk["passed"] else "FAIL"
            if chk["aim_met"] is not None:
                result += ", aim met" if chk["aim_met"] else ", aim missed"
            if chk["note"]:
                result += f" ({chk['note']})"
        lines.append(f"| {chk['name']} | {_fmt(chk['value'], chk['unit'])} | <= {limit} | {result} |")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{int(value):,} B"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.2f} {unit}"


def default_out(doc: Mapping[str, Any]) -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    c = doc["commit"]
    dirty = "_dirty" if c.get("dirty") else ""
    return REPO / ".benchmarks" / f"prover-{stamp}_{str(c['id'])[:12]}{dirty}.json"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [CHILD_MODE]:
        return _verify_child(args[1])
    # The tree holding this file is the one measured (also in the parent, for the engine's
    # modules and the workload sizes), whatever the editable install points at.
    sys.path.insert(0, str(REPO))
    parser = argparse.ArgumentParser(
        description="Measure the prover (fresh processes) and write one JSON plus a markdown table.",
    )
    parser.add_argument("--log-t", default="16,18,20", help="comma-separated log T sizes (default 16,18,20)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per size, each a fresh process (default 3)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default .benchmarks/prover-<time>_<commit>.json)")
    parser.add_argument("--variant", default="", help="backends, e.g. 0-3=streaming (default: every stage materialized)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memray runs")
    parser.add_argument("--check", action="store_true", help="exit 1 when a measured target fails")
    ns = parser.parse_args(args)
    if ns.runs < 1:
        parser.error("--runs must be >= 1")
    spec = load_spec()
    try:
        log_ts = parse_log_ts(ns.log_t)
        wanted = parse_variant(ns.variant, stage_ids(spec), spec.baseline_variant)
    except ValueError as exc:
        parser.error(str(exc))
    start = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[collect +{time.perf_counter() - start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    from gates.measuring.proc import ProbeFailed

    try:
        doc = collect(spec, log_ts, ns.runs, wanted, not ns.no_memory, progress)
    except ProbeFailed as exc:  # the prover crashed or timed out in a child: say so, with its log
        print(f"collect: {exc.message}\n{exc.log}", file=sys.stderr)
        return 2
    out: Path = ns.out or default_out(doc)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    progress(f"wrote {out}")
    sys.stdout.write(markdown(doc))
    failed = [chk["name"] for chk in doc["checks"] if chk["passed"] is False]
    if failed:
        progress(f"targets missed: {', '.join(failed)}")
    return 1 if ns.check and failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
