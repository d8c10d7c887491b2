"""Do the gates' verdicts hold when the machine is busy? (issue 13.2)

Starts K busy processes itself (pure-Python spin loops, one per unit of load), runs the
judgement N times under that load, stops the load (also on Ctrl-C and errors), and prints one
row per (load, what): runs, verdicts as expected, flips, inconclusive, seconds, and the 1-minute
load average seen. Two kinds of judgement:

- ``--selftest CASE,...``: ``gates selftest --case ... --json`` (the self-test corpus on the toy
  subject; every gate's verdict of each case must equal the corpus's expectation). The time
  cases: ``benign-comment`` (stage 0 converted, same speed: time must pass), ``slowdown-3x``
  (time must fail), ``child-process-leak`` (time must pass, memory fail).
- ``--check CLONE``: ``gates check --tier ci --json`` in a clone of an unchanged main (every gate
  must pass, exit 0); ``--gate`` narrows it (e.g. ``--gate time --gate memory``).

A flip is a verdict that differs from the expected one; an inconclusive time verdict (exit 4)
is counted apart, and is a flip for a case that expects a decision.

    .venv/bin/python benchmarks/verdicts_under_load.py --loads 0,4 --runs 10 \\
        --selftest benign-comment,slowdown-3x,child-process-leak
    .venv/bin/python benchmarks/verdicts_under_load.py --loads 4 --runs 10 --check /tmp/clone

The project must not depend on anything outside it: the load is this script's own processes.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

SPIN = 'import os\nos.nice(0)\nx = 0\nwhile True:\n    x = (x * 1103515245 + 12345) & 0xffffffff\n'


@contextlib.contextmanager
def busy(load: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``load`` spinning processes for the length of the block, killed on every way out."""
    procs = [subprocess.Popen([sys.executable, '-c', SPIN], start_new_session=True) for _ in range(load)]
    try:
        time.sleep(1.0 if load else 0.0)
        yield procs
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _gates() -> str:
    here = Path(sys.executable).parent / 'gates'
    return str(here) if here.is_file() else 'gates'


def selftest_once(cases: list[str]) -> list[tuple[str, bool, bool, str]]:
    """(case, as expected, inconclusive, detail) per case."""
    argv = [_gates(), 'selftest', '--json']
    for c in cases:
        argv += ['--case', c]
    proc = subprocess.run(argv, capture_output=True, text=True)
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return [(c, False, False, f'exit {proc.returncode}: {proc.stderr[-300:]}') for c in cases]
    out = []
    for case in doc.get('cases', []):
        ok = bool(case.get('matched'))
        inconclusive = case.get('exit_code') == 4
        detail = '; '.join(case.get('mismatches') or [])
        out.append((case['case'], ok, inconclusive, detail))
    return out


def check_once(clone: Path, gates: list[str]) -> tuple[bool, bool, str]:
    argv = [_gates(), 'check', '--tier', 'ci', '--json']
    for g in gates:
        argv += ['--gate', g]
    proc = subprocess.run(argv, cwd=clone, capture_output=True, text=True)
    detail = ''
    try:
        doc = json.loads(proc.stdout)
        detail = '; '.join(f['message'][:160] for v in doc['verdicts'] for f in v['findings'])
        for v in doc['verdicts']:
            if v['gate'] == 'time':
                for wid, w in v['details'].get('workloads', {}).items():
                    detail += f' [{wid}: total {w.get("ratio_total", 0):.3f}, {w.get("pairs")} pairs]'
    except (json.JSONDecodeError, KeyError):
        detail = proc.stderr[-300:]
    return proc.returncode == 0, proc.returncode == 4, detail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--loads', default='0,2,4', help='comma-separated numbers of busy processes')
    ap.add_argument('--runs', type=int, default=10)
    ap.add_argument('--selftest', default='', help='comma-separated corpus cases')
    ap.add_argument('--check', type=Path, help='a clone of an unchanged main to run `gates check --tier ci` in')
    ap.add_argument('--gate', action='append', default=[], help='with --check: only these gates')
    ap.add_argument('--log', type=Path, help='append every run as a JSON line here')
    args = ap.parse_args()
    cases = [c for c in args.selftest.split(',') if c]
    if not cases and args.check is None:
        ap.error('give --selftest CASES and/or --check CLONE')
    rows = []
    for load in [int(x) for x in args.loads.split(',')]:
        tally: dict[str, list[int]] = {}
        seconds: dict[str, float] = {}
        seen_load: list[float] = []
        with busy(load):
            for run in range(args.runs):
                start = time.perf_counter()
                results: list[tuple[str, bool, bool, str]] = []
                if cases:
                    results += selftest_once(cases)
                if args.check is not None:
                    ok, inconclusive, detail = check_once(args.check, args.gate)
                    results.append(('ci tier (unchanged main)', ok, inconclusive, detail))
                took = time.perf_counter() - start
                seen_load.append(os.getloadavg()[0])
                for name, ok, inconclusive, detail in results:
                    t = tally.setdefault(name, [0, 0, 0, 0])
                    t[0] += 1
                    t[1] += ok
                    t[2] += not ok
                    t[3] += inconclusive
                    seconds[name] = seconds.get(name, 0.0) + took / len(results)
                    line = {'load': load, 'run': run, 'what': name, 'ok': ok, 'inconclusive': inconclusive,
                            'detail': detail, 'loadavg': seen_load[-1]}
                    print(json.dumps(line), file=sys.stderr, flush=True)
                    if args.log is not None:
                        with args.log.open('a', encoding='utf-8') as fh:
                            fh.write(json.dumps(line) + '\n')
        for name, (n, ok, flips, inconclusive) in tally.items():
            rows.append((load, name, n, ok, flips, inconclusive, seconds[name] / n,
                         sum(seen_load) / len(seen_load)))
    print('| busy processes | what | runs | as expected | flips | of which inconclusive | s/run | 1-min load avg |')
    print('|---|---|---|---|---|---|---|---|')
    for load, name, n, ok, flips, inconclusive, secs, avg in rows:
        print(f'| {load} | {name} | {n} | {ok} | {flips} | {inconclusive} | {secs:.0f} | {avg:.1f} |')
    return 0 if all(r[4] == 0 for r in rows) else 1


if __name__ == '__main__':
    raise SystemExit(main())
