"""Stage 0 / stage 8 figures of one tree, baseline vs a variant, through the gates' own probe.

    .venv/bin/python benchmarks/stage_pair.py memory --log-t 20 [--tree DIR] [--variant '{"0": "streaming"}']
    .venv/bin/python benchmarks/stage_pair.py time --log-t 20 --rounds 2 [--tree DIR] [--variant ...]

memory: memray in-stage peaks of stages 0 and 8 (``gates.measuring.probe.memory_capture``: one fresh
process per tracked stage), for the variant given (default: all materialized).
time: ``--rounds`` rounds of one baseline and one variant prove, each a fresh process
(``gates.measuring.probe.time_run``), the order reversed every round; prints each run, the per-round
ratios of the stage 0 + 8 unit (sum of their seconds) and of the whole prove, and medians.
``--tree`` is the subject tree (default: this repository); the spec is this repository's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import collect  # noqa: E402  (this folder's library: workload ids, params, stage ids)


def _full(spec: object, variant: dict[str, str]) -> dict[str, str]:
    out = {str(s.id): "materialized" for s in spec.stages}  # type: ignore[attr-defined]
    out.update(variant)
    return out


def memory(tree: Path, log_t: int, variant: dict[str, str]) -> None:
    from gates.measuring import probe
    from gates.contract.spec import load_spec

    spec = load_spec(collect.SPEC_PATH)
    tmp = Path(tempfile.mkdtemp(prefix="stage-pair-memray-"))
    try:
        for track in (0, 8):
            cap = probe.memory_capture(spec.subject, tree, collect.workload_id(log_t), collect.params_of(log_t),
                                       _full(spec, variant), collect.stage_ids(spec), track, tmp, label="pair")
            print(f"log_t={log_t} variant={variant} stage={track} in-stage peak={probe.peak_bytes(cap) / 2**20:.1f} MiB",
                  flush=True)
            cap.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def timing(tree: Path, log_t: int, variant: dict[str, str], rounds: int) -> None:
    from gates.measuring import probe
    from gates.contract.spec import load_spec

    spec = load_spec(collect.SPEC_PATH)
    runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "variant": []}
    for r in range(rounds):
        order = ["baseline", "variant"] if r % 2 == 0 else ["variant", "baseline"]
        for name in order:
            v = _full(spec, variant if name == "variant" else {})
            tr = probe.time_run(spec.subject, tree, collect.workload_id(log_t), collect.params_of(log_t), v,
                                collect.stage_ids(spec))
            unit = tr.stage_seconds[0] + tr.stage_seconds[8]
            runs[name].append((tr.total_seconds, unit))
            print(f"log_t={log_t} {name} total={tr.total_seconds:.2f}s stage0={tr.stage_seconds[0]:.2f}s "
                  f"stage8={tr.stage_seconds[8]:.2f}s unit0+8={unit:.2f}s proof sha256={tr.proof_sha256[:16]}",
                  flush=True)
    for r in range(rounds):
        (bt, bu), (vt, vu) = runs["baseline"][r], runs["variant"][r]
        print(f"round {r}: unit 0+8 ratio {vu / bu:.3f}, end-to-end ratio {vt / bt:.3f}")
    ratios_u = [v[1] / b[1] for b, v in zip(runs["baseline"], runs["variant"])]
    ratios_t = [v[0] / b[0] for b, v in zip(runs["baseline"], runs["variant"])]
    print(f"median: unit 0+8 ratio {statistics.median(ratios_u):.3f}, end-to-end ratio {statistics.median(ratios_t):.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("memory", "time"))
    ap.add_argument("--log-t", type=int, required=True)
    ap.add_argument("--tree", type=Path, default=collect.REPO)
    ap.add_argument("--variant", default='{"0": "streaming"}', help="JSON stage -> backend (memory: '{}' = baseline)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    try:
        variant = {str(k): str(v) for k, v in json.loads(args.variant).items()}
    except (ValueError, AttributeError) as exc:
        print(f"stage_pair.py: --variant {args.variant!r} is not a JSON object: {exc}", file=sys.stderr)
        return 2
    if args.mode == "memory":
        memory(args.tree, args.log_t, variant)
    else:
        timing(args.tree, args.log_t, variant, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
