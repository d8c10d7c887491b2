"""Time the pre-commit hook on a one-line stage edit (issue 17.2): median of N runs.

    .venv/bin/python benchmarks/hook_timing.py [--runs 5] [--engine PYTHON] [--cold] [--old-engine DIR]

Clones this repository into a temporary folder, stages a one-line edit of the stage file of the
stage under conversion (what ``gates next`` names: a comment at the end of its ``def prove(``
line, so every gate judges a change the scope allows), and runs ``gates check --tier
pre-commit --staged --json`` there ``--runs`` times, each a fresh engine process, printing the
1-minute load average before and after each run, each run's wall time and per-gate seconds, and
the median. The first run fills the user's cache store (``$STAGEGATE_CACHE_DIR`` or
``~/.cache/stagegate``); pass ``--cold`` to point each run at an empty store instead.
``--old-engine DIR`` runs the engine found in DIR (its ``gates`` package) with the same
interpreter, interleaved with this one, for a before/after on the same load.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load() -> float:
    return os.getloadavg()[0]


def run_once(clone: Path, python: str, engine_dir: Path | None, store: Path) -> tuple[float, dict[str, float], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'PYTHON'))}
    env['STAGEGATE_CACHE_DIR'] = str(store)
    if engine_dir is not None:
        env['PYTHONPATH'] = str(engine_dir)   # ahead of the editable install's finder
    argv = [python, '-P', '-m', 'gates']
    start = time.perf_counter()
    proc = subprocess.run(
        [*argv, 'check', '--tier', 'pre-commit', '--staged', '--json'],
        cwd=clone, env=env, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - start
    try:
        doc = json.loads(proc.stdout)
        gates = {v['gate']: float(v['seconds']) for v in doc['verdicts']}
    except (ValueError, KeyError):
        gates = {}
    return wall, gates, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--engine', default=sys.executable, help='the interpreter with stagegate installed')
    ap.add_argument('--cold', action='store_true', help='an empty cache store for every run')
    ap.add_argument('--old-engine', type=Path, default=None, help='a folder holding another gates/ to compare')
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix='stagegate-hooktiming-') as tmp:
        clone = Path(tmp) / 'clone'
        subprocess.run(['git', 'clone', '-q', str(ROOT), str(clone)], check=True)
        # the stage `gates next` names (an accepted stage's room is closed: editing it would
        # time a refusal, not the hook on an honest edit)
        from gates.contract.ledger import read_ledger, stage_under_conversion
        from gates.contract.spec import load_spec

        spec = load_spec(clone / 'specs' / 'streaming-prover.yaml')
        under = stage_under_conversion(spec, read_ledger(clone / 'specs' / 'ledger.json'))
        if under is None:
            sys.exit('hook_timing: every stage is accepted; no stage under conversion to edit')
        stage = clone / 'prover' / 'stages' / f'stage{under.id}.py'
        lines = stage.read_text(encoding='utf-8').splitlines(keepends=True)
        # The first line of the stage's prove: stable across protocol versions (v3 moved the
        # transcript line this used to look for).
        at = next(i for i, t in enumerate(lines) if t.startswith('def prove('))
        lines[at] = lines[at].rstrip('\n') + '  # one-line edit\n'
        stage.write_text(''.join(lines), encoding='utf-8')
        subprocess.run(['git', 'add', str(stage)], cwd=clone, check=True)
        store = Path(os.environ.get('STAGEGATE_CACHE_DIR') or Path.home() / '.cache' / 'stagegate')
        engines: list[tuple[str, Path | None]] = [('new', None)]
        if args.old_engine is not None:
            engines.append(('old', args.old_engine.resolve()))
        walls: dict[str, list[float]] = {name: [] for name, _ in engines}
        for i in range(args.runs):
            for name, engine_dir in engines:
                run_store = Path(tmp) / f'store-{name}-{i}' if args.cold else store
                before = load()
                wall, gates, code = run_once(clone, args.engine, engine_dir, run_store)
                walls[name].append(wall)
                per_gate = ', '.join(f'{g} {s:.1f}' for g, s in gates.items())
                print(f'{name} run {i + 1}: {wall:.1f} s (exit {code}; {per_gate}); load {before:.2f} -> {load():.2f}',
                      flush=True)
                if args.cold:
                    shutil.rmtree(run_store, ignore_errors=True)
        for name, values in walls.items():
            print(f'{name}: median {statistics.median(values):.1f} s over {len(values)} runs '
                  f'(min {min(values):.1f}, max {max(values):.1f})')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
