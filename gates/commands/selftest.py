"""``gates selftest [--engine PATH] [--case NAME]... [--json]``: judge an engine by the corpus.

Runs the engine (the installed one, or the ``gates`` package in PATH) over every case of
``gates.selftest.corpus`` and compares each per-gate verdict with the corpus's. Exit 0 when all
match, 1 naming every case whose verdict changed, 2 when PATH holds no engine.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gates.selftest.runner import engine_root
from gates.selftest.runner import run_corpus


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def selftest(engine: Path | None, names: Sequence[str], as_json: bool, out: TextIO) -> int:
    root = engine_root(engine)
    start = time.perf_counter()
    outcomes = run_corpus(engine, names, _progress)
    seconds = time.perf_counter() - start
    bad = [o for o in outcomes if not o.matched]
    if as_json:
        doc = {'schema': 1, 'engine': str(root), 'passed': not bad, 'seconds': round(seconds, 1),
               'cases': [o.to_dict() for o in outcomes]}
        out.write(json.dumps(doc, indent=2) + '\n')
        return 1 if bad else 0
    out.write(f'gates selftest: engine {root}, {len(outcomes)} case(s) in {seconds:.0f} s\n')
    for o in outcomes:
        verdict = 'pass' if o.case.exit_code == 0 else 'fail ' + ','.join(g for g, p in o.case.expect.items() if not p)
        out.write(f'  {"ok " if o.matched else "BAD"} {o.case.name:<22} expected {verdict:<22} ({o.seconds:.1f}s)\n')
    for o in bad:
        for m in o.mismatches:
            out.write(f'selftest: case {o.case.name} ({o.case.what}): {m}\n')
    out.write('selftest: every verdict as expected\n' if not bad else
              f'selftest: {len(bad)} case(s) changed verdict: the engine under test judges them '
              f'differently from the corpus\n')
    return 1 if bad else 0
