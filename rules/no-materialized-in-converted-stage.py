# Test cases for rules/no-materialized-in-converted-stage.yaml (run by `semgrep --test rules/`).
import numpy as np

from prover.backends import materialized
from prover.witness import materialized as materialized_view


def prove_stage(ctx, names):
    w = ctx.witness
    # ruleid: no-materialized-in-converted-stage
    columns = ctx.witness.materialized(names)
    # ruleid: no-materialized-in-converted-stage
    rows = w.materialize_rows()
    # ruleid: no-materialized-in-converted-stage
    view = w.materialized
    # ruleid: no-materialized-in-converted-stage
    view2 = getattr(w, "materialized")
    # ruleid: no-materialized-in-converted-stage
    table = np.concatenate([c["x0"] for _, c in w.chunks(names)])
    # ruleid: no-materialized-in-converted-stage
    all_chunks = list(w.chunks(names))
    # ruleid: no-materialized-in-converted-stage
    kept = [c for _, c in w.chunks(names)]
    # ruleid: no-materialized-in-converted-stage
    more = materialized_view(names)
    return columns, rows, view, view2, table, all_chunks, kept, more


def stream_stage(ctx, names, fold):
    acc = 0
    # ok: no-materialized-in-converted-stage
    for _, chunk in ctx.witness.chunks(names):
        acc = fold(acc, chunk)
    # ok: no-materialized-in-converted-stage
    sums = [chunk_sum(c) for _, c in ctx.witness.chunks(names)]
    # ok: no-materialized-in-converted-stage
    first = ctx.witness.chunk(0, names)
    # ok: no-materialized-in-converted-stage
    dense = materialized.compute(0, {})
    # ok: no-materialized-in-converted-stage
    flag = ctx.rows_materialized
    # ok: no-materialized-in-converted-stage
    joined = np.concatenate([first["x0"], first["x1"]])
    return acc, sums, dense, flag, joined


def chunk_sum(chunk):
    return sum(int(v.sum()) for v in chunk.values())
