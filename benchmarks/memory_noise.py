"""Measure the memory gate's noise: the same tree's in-stage peaks, repeated, in fresh processes.

Usage: python benchmarks/memory_noise.py REV WORKLOAD[,WORKLOAD] RUNS
Exports REV twice (``base`` and ``copy``, as the gate's two trees would be), runs the probe's
memray measurement RUNS times per tree and workload, and prints per stage the min, max and
spread (max - min) over all runs of both trees, plus the whole-run peak. The spread is what
the gate's absolute tolerance (budgets.memory.tolerance_bytes) must cover.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from gates.measuring import probe
from gates.contract.spec import load_spec


def export(rev: str, dest: Path) -> None:
    dest.mkdir(parents=True)
    archive = subprocess.run(['git', 'archive', rev], check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', str(dest)], input=archive, check=True)


def main(argv: list[str]) -> int:
    rev, workloads, runs = argv[1], argv[2].split(','), int(argv[3])
    spec = load_spec(Path('specs/streaming-prover.yaml'))
    stages = [s.id for s in spec.stages]
    variant = spec.variant(())
    out: dict[str, dict[str, list[int]]] = {}
    with tempfile.TemporaryDirectory(prefix='stagegate-noise-') as tmp:
        trees = {'base': Path(tmp) / 'base', 'copy': Path(tmp) / 'copy'}
        for tree in trees.values():
            export(rev, tree)
        for wid in workloads:
            wl = spec.workload(wid)
            series: dict[str, list[int]] = {}
            for i in range(runs):
                for name, tree in trees.items():
                    cap = Path(tmp) / f'cap-{wid}-{name}-{i}'
                    run = probe.memory_run(spec.subject, tree, wid, wl.params, variant, stages, cap)
                    for k, v in run.stage_peaks.items():
                        series.setdefault(str(k), []).append(v)
                    series.setdefault('whole', []).append(run.whole_run_peak)
                    print(f'{wid} {name} run {i}: {dict(run.stage_peaks)} whole {run.whole_run_peak}',
                          flush=True)
            out[wid] = series
            for key, vals in series.items():
                print(f'{wid} {key:>5}: min {min(vals):>12,} max {max(vals):>12,} '
                      f'spread {max(vals) - min(vals):>9,} B over {len(vals)} runs', flush=True)
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    raise SystemExit(main(sys.argv))
