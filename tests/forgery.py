"""Shared helpers of the soundness tests: the honest witness of a small run and point forgeries.

Faults enter through the pipeline's ``tamper`` hook: fixed values per (column, cycle), so every
stage and every chunking sees the same forged witness. Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from prover import workloads
from prover.field import P, U64
from prover.pipeline import chunk_log_for
from prover.relations.columns import build_columns
from prover.relations.layout import bytecode_table
from prover.tracer import Tracer

WORKLOAD, LOG_T = "fib", 8
Edits = dict[str, int]
Tamper = Callable[[dict[str, U64], int], None]


@lru_cache(maxsize=1)
def honest() -> tuple[workloads.Workload, dict[str, U64]]:
    """The workload and its honest 64 columns (built the way the pipeline builds them)."""
    w = workloads.build(WORKLOAD, LOG_T)
    rows = Tracer(w.program, w.ram_init, w.T, chunk_log_for(LOG_T)).rows()
    return w, build_columns(bytecode_table(w.program), rows, 0)


def point_tamper(cycle: int, edits: Edits) -> Tamper:
    """Set column[cycle] = value for each edit present in the chunk being built."""

    def tamper(cols: dict[str, U64], start: int) -> None:
        for name, value in edits.items():
            col = cols.get(name)
            if col is not None and start <= cycle < start + col.shape[0]:
                col[cycle - start] = np.uint64(value % P)

    return tamper


def forged_columns(cycle: int, edits: Edits) -> dict[str, U64]:
    """A copy of the honest columns with the edits applied."""
    _, cols = honest()
    out = {k: v.copy() for k, v in cols.items()}
    point_tamper(cycle, edits)(out, 0)
    return out
