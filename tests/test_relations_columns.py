"""The committed columns and the stage-1/2 relations on honest traces of fib and sha2-chain."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from prover import workloads
from prover.field import P, U64, mul
from prover.relations.columns import COLUMNS, NUM_COLUMNS, build_columns, make_builder
from prover.relations.constraints import (
    check_rows,
    constraints,
    cross_cycle_constraints,
    eval_base,
    next_pc_base,
    stage1_columns,
)
from prover.relations.layout import bytecode_table
from prover.relations.lookup_table import table_columns
from prover.tracer import Tracer

CASES = [("fib", 8), ("sha2-chain", 12)]


@lru_cache(maxsize=None)
def trace(name: str, log_t: int) -> tuple[workloads.Workload, dict[str, np.ndarray], dict[str, U64]]:
    w = workloads.build(name, log_t)
    rows = Tracer(w.program, w.ram_init, w.T, 4).rows()
    return w, rows, build_columns(bytecode_table(w.program), rows, 0)


def test_layout_is_64_columns_in_protocol_order() -> None:
    assert NUM_COLUMNS == 64 and len(set(COLUMNS)) == 64
    assert COLUMNS[:3] == ("pc", "rd", "rs") and COLUMNS[-3:] == ("pad0", "pad1", "pad2")
    assert COLUMNS.index("x0") == 18 and COLUMNS.index("a0") == 39 and COLUMNS.index("dB_lo") == 55


@pytest.mark.parametrize("name, log_t", CASES)
def test_every_constraint_holds_on_an_honest_trace(name: str, log_t: int) -> None:
    _, _, cols = trace(name, log_t)
    assert check_rows(cols) == {}
    for c in cols.values():
        assert c.dtype == np.uint64 and int(c.max()) < P


@pytest.mark.parametrize("name, log_t", CASES)
def test_cross_cycle_relation_holds_and_run_halts(name: str, log_t: int) -> None:
    w, _, cols = trace(name, log_t)
    extra = dict(cols)
    extra["pc_shift"] = np.concatenate([cols["pc"][1:], np.zeros(1, dtype=np.uint64)])
    last = np.zeros(w.T, dtype=np.uint64)
    last[-1] = 1
    extra["last"] = last
    for c in cross_cycle_constraints():
        assert not eval_base(c, extra).any(), c.name
    assert np.array_equal(next_pc_base(cols)[:-1], cols["pc"][1:])
    assert int(cols["pc"][0]) == 0 and int(cols["f_halt"][-1]) == 1


@pytest.mark.parametrize("name, log_t", CASES)
def test_lookup_tuples_are_table_entries(name: str, log_t: int) -> None:
    _, _, cols = trace(name, log_t)
    ta, tb, to1, to2 = table_columns()
    for j in range(4):
        idx = (cols[f"a{j}"] + (cols[f"b{j}"] << np.uint64(8))).astype(np.int64)
        assert np.array_equal(ta[idx], cols[f"a{j}"]) and np.array_equal(tb[idx], cols[f"b{j}"])
        assert np.array_equal(to1[idx], cols[f"o1_{j}"]) and np.array_equal(to2[idx], cols[f"o2_{j}"])


@pytest.mark.parametrize("name, log_t", CASES)
def test_values_decompose_the_rows(name: str, log_t: int) -> None:
    _, rows, cols = trace(name, log_t)
    for v in ("x", "y", "z"):
        word = sum(cols[f"{v}{j}"].astype(np.int64) << (8 * j) for j in range(4))
        assert np.array_equal(word, rows[v])
    assert np.array_equal(cols["w_lo"] + (cols["w_hi"] << np.uint64(16)), rows["w"].astype(np.uint64))
    zs = (rows["z"] & 0xFFFF) + (rows["z"] >> 16)
    assert np.array_equal(cols["e"], (zs == 0).astype(np.uint64))
    nz = zs != 0
    assert np.all(mul(cols["inv"][nz], zs[nz].astype(np.uint64)) == 1)
    for d in ("dB", "dA", "dM"):
        assert int(cols[f"{d}_lo"].max()) < 2048 and int(cols[f"{d}_hi"].max()) < 2048


@pytest.mark.parametrize("name, log_t", CASES)
def test_chunked_and_filtered_builds_match_the_full_build(name: str, log_t: int) -> None:
    w, rows, cols = trace(name, log_t)
    builder = make_builder(bytecode_table(w.program))
    size = 1 << 5
    for start in (0, size * 3, w.T - size):
        chunk = {k: v[start : start + size] for k, v in rows.items()}
        part = builder(chunk, start, names=["dB_lo", "dA_hi", "dM_lo", "o1_2", "taken", "pad1"])
        assert list(part) == ["dB_lo", "dA_hi", "dM_lo", "o1_2", "taken", "pad1"]
        for k, v in part.items():
            assert np.array_equal(v, cols[k][start : start + size]), (k, start)


def test_stage1_reads_53_columns_and_36_products() -> None:
    assert len(stage1_columns()) == 53
    assert sum(len(c.products) for c in constraints()) == 36
