"""``gates merge RESULT...``: the one verdict of a tier run as N shards (issue 18).

Each ``gates check --shard K/N --out RESULT`` wrote a partial result (gates/reports/shard.py);
this checks that the N files are one complete, consistent run (same head, trees, oracle, engine,
tier and spec; every shard once; the plan's units; digests intact) and prints what an unsharded
``gates check`` of the same tree prints: the table or ``--json`` document (same schema), the
GitHub annotations and job summary, and the same exit code (0, 1 or 4; 2 on a refusal).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gates.checks.memory import judge_growth
from gates.reports import report
from gates.reports import shard as sharding


def merge(paths: Sequence[Path], as_json: bool, out: TextIO) -> int:
    merged = sharding.combine(paths, judge_growth)
    info, verdicts, seconds = merged.info, merged.verdicts, merged.seconds
    if as_json:
        out.write(report.dumps(report.document(info, verdicts, seconds)))
    else:
        out.write(report.table(info, verdicts, seconds))
    report.emit_github(info, verdicts, seconds, sys.stderr if as_json else out, os.environ)
    return report.exit_code(verdicts)
