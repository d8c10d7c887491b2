"""How often the memory gate catches a kept copy of the trace on a small prover, and how often it
fails an unchanged one (issue 13.6; docs/gates.md, "Memory on a small prover").

Subject: examples/listprover (a pure-Python prover whose trace is a Python list), judged three
ways: by memray heap counts (specs/listprover.yaml, kind python, ci tier 2^12..2^14) and by the
RSS of its process (kind command, ci tier 2^14..2^16), sampled (specs/listprover-rss.yaml,
measure rss) or read at its boundaries while it waits (specs/listprover-rss-sync.yaml, measure
rss-sync). Each run builds a
fresh throw-away repository (baseline committed and tagged ``listprover-v1``, the change on a
branch) and runs the real ``gates check --tier ci --gate memory --json``:

- ``unchanged``: the change edits README.md only; any memory failure is a false alarm;
- ``trace-copy``: candidates/stage1_leak.py over listprover/stage1.py (stage 1 keeps a copy of
  the trace: 8 bytes a row); a memory failure is a catch.

Usage: python benchmarks/memory_catch_rate.py [--leak-runs 10] [--clean-runs 20]
[--measure heap,rss,rss-sync] [--json OUT]. Prints one table row per (case, measure).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / 'examples' / 'listprover'
SPECS = {'heap': 'specs/listprover.yaml', 'rss': 'specs/listprover-rss.yaml',
         'rss-sync': 'specs/listprover-rss-sync.yaml'}
ENV = {'GIT_AUTHOR_NAME': 'bench', 'GIT_AUTHOR_EMAIL': 'bench@example.invalid',
       'GIT_COMMITTER_NAME': 'bench', 'GIT_COMMITTER_EMAIL': 'bench@example.invalid',
       'GIT_CONFIG_NOSYSTEM': '1', 'GIT_CONFIG_GLOBAL': os.devnull}


def git(repo: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith('GIT_')} | ENV
    subprocess.run(('git', *args), cwd=repo, env=env, check=True, capture_output=True)


def repo_for(case: str, parent: Path) -> Path:
    repo = parent / 'listprover'
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns('__pycache__', '.stagegate'))
    git(repo, 'init', '-q', '-b', 'main')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-qm', 'listprover: baseline')
    git(repo, 'tag', 'listprover-v1')
    git(repo, 'checkout', '-q', '-b', 'change')
    if case == 'trace-copy':
        shutil.copyfile(repo / 'candidates' / 'stage1_leak.py', repo / 'listprover' / 'stage1.py')
    else:
        (repo / 'README.md').write_text('An unchanged prover: only this line differs.\n', encoding='utf-8')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-qm', case)
    return repo


def one_run(case: str, measure: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix='stagegate-catch-') as tmp:
        repo = repo_for(case, Path(tmp))
        start = time.perf_counter()
        proc = subprocess.run(
            (sys.executable, '-m', 'gates', 'check', '--spec', SPECS[measure], '--tier', 'ci',
             '--gate', 'memory', '--json'),
            cwd=repo, capture_output=True, text=True, check=False, timeout=1200,
        )
        seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f'gates check exited {proc.returncode} ({case}, {measure}): {proc.stderr.strip()[-400:]}')
    verdict = next(v for v in json.loads(proc.stdout)['verdicts'] if v['gate'] == 'memory')
    return {'failed': not verdict['passed'], 'seconds': seconds,
            'findings': [f['message'][:200] for f in verdict['findings']]}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--leak-runs', type=int, default=10)
    ap.add_argument('--clean-runs', type=int, default=20)
    ap.add_argument('--measure', default='heap,rss')
    ap.add_argument('--json', type=Path, default=None)
    args = ap.parse_args(argv)
    measures = [m for m in args.measure.split(',') if m]
    if any(m not in SPECS for m in measures) or args.leak_runs < 0 or args.clean_runs < 0:
        print('memory_catch_rate: --measure takes heap, rss and/or rss-sync, runs >= 0', file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    print(f'{"case":<11} {"measure":<7} {"runs":>4} {"caught":>6} {"false alarms":>12} {"s/run":>6}', flush=True)
    for measure in measures:
        for case, runs in (('trace-copy', args.leak_runs), ('unchanged', args.clean_runs)):
            results = [one_run(case, measure) for _ in range(runs)]
            failed = sum(r['failed'] for r in results)
            row = {'case': case, 'measure': measure, 'runs': runs,
                   'caught': failed if case == 'trace-copy' else None,
                   'false_alarms': failed if case == 'unchanged' else None,
                   'seconds_per_run': sum(r['seconds'] for r in results) / max(runs, 1),
                   'findings': [r['findings'] for r in results if r['failed']]}
            rows.append(row)
            caught = '-' if row['caught'] is None else str(row['caught'])
            alarms = '-' if row['false_alarms'] is None else str(row['false_alarms'])
            print(f'{case:<11} {measure:<7} {runs:>4} {caught:>6} {alarms:>12} '
                  f'{row["seconds_per_run"]:>6.1f}', flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + '\n', encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
