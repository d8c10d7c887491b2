"""Adversarial review of the compiled column builder (``columns_kernel``) against the numpy
reference ``build_columns_reference``: random rows over real programs' bytecode (every pc of the
program, 32-bit and wider values, negative int64 fields), random name subsets with duplicates,
start cycles near 2^31, 2^32 and the kernel's 2^62 limit, timestamp differences exactly at the
22-bit limit and one past it. Either both builders give the same columns, or both raise the
same error."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest

from prover import workloads
from prover.relations.columns import COLUMNS, build_columns, build_columns_reference
from prover.relations.layout import BytecodeTable, bytecode_table


@cache
def _bc(name: str) -> BytecodeTable:
    return bytecode_table(workloads.build(name, 12 if name != "fib" else 8).program)


def _rows(bc: BytecodeTable, n: int, start: int, rng: np.random.Generator, *, wide: bool = False,
          ts_top: int = (1 << 22) - 1) -> dict[str, np.ndarray]:
    hi = 1 << 40 if wide else 1 << 32
    c = np.arange(start, start + n, dtype=np.int64)
    d = rng.integers(0, ts_top + 1, (3, n))
    d[:, : min(n, 3)] = ts_top  # the limit itself, on the first rows
    return {
        "pc": rng.integers(0, bc.length, n).astype(np.int64),
        "x": rng.integers(0, hi, n).astype(np.int64),
        "y": rng.integers(0, hi, n).astype(np.int64),
        "z": np.where(rng.random(n) < 0.2, 0, rng.integers(0, hi, n)).astype(np.int64),
        "w": rng.integers(0, hi, n).astype(np.int64),
        "mold": rng.integers(0, hi, n).astype(np.int64),
        "tB_prev": 2 * c - d[0],
        "tA_prev": 2 * c + 1 - d[1],
        "tM_prev": c - d[2],
    }


def _same_or_same_error(bc: BytecodeTable, rows: dict[str, np.ndarray], start: Any,
                        names: tuple[str, ...] | None) -> None:
    try:
        want = build_columns_reference(bc, rows, start, names)
    except Exception as e:  # noqa: BLE001 - the kernel must raise the same
        with pytest.raises(type(e)) as got_e:
            build_columns(bc, rows, start, names)
        assert str(got_e.value) == str(e)
        return
    got = build_columns(bc, rows, start, names)
    assert list(got) == list(want)
    for name in want:
        assert got[name].dtype == np.uint64 and got[name].shape == want[name].shape, name
        assert np.array_equal(got[name], want[name]), (name, start, np.flatnonzero(got[name] != want[name])[:5])


def _names(rng: np.random.Generator) -> tuple[str, ...] | None:
    k = int(rng.integers(0, 4))
    if k == 0:
        return None
    if k == 1:
        return ()
    picks = rng.integers(0, len(COLUMNS), int(rng.integers(1, 20)))
    names = [COLUMNS[int(i)] for i in picks]
    return tuple(names + names[: int(rng.integers(0, len(names) + 1))])  # duplicates


STARTS = [0, 1, (1 << 31) - 5, 1 << 31, (1 << 32) - 3, 1 << 40, (1 << 62) - 7, (1 << 62) - 1]


@pytest.mark.parametrize("program", ["fib", "sha2-chain"])
@pytest.mark.parametrize("start", STARTS)
def test_random_rows_and_name_subsets(program: str, start: int) -> None:
    bc = _bc(program)
    rng = np.random.default_rng(start % 100_003 + len(program))
    for n in (1, 2, 7, 64, 300):
        rows = _rows(bc, n, start, rng)
        for _ in range(6):
            _same_or_same_error(bc, rows, start, _names(rng))


@pytest.mark.parametrize("program", ["fib", "sha2-chain"])
def test_wide_and_negative_fields(program: str) -> None:
    bc = _bc(program)
    rng = np.random.default_rng(7)
    rows = _rows(bc, 200, 1000, rng, wide=True)
    for _ in range(10):
        _same_or_same_error(bc, rows, 1000, _names(rng))
    neg = {k: v.copy() for k, v in rows.items()}
    neg["x"][5] = -1
    neg["w"][6] = -(1 << 40)
    neg["mold"][7] = -3
    for names in (None, ("x3", "c1", "taken", "w_hi", "mold_hi", "a3", "o1_3")):
        _same_or_same_error(bc, neg, 1000, names)


@pytest.mark.parametrize("key,field", [("dB", "tB_prev"), ("dA", "tA_prev"), ("dM", "tM_prev")])
def test_one_past_the_22_bit_limit(key: str, field: str) -> None:
    bc = _bc("sha2-chain")
    rng = np.random.default_rng(3)
    start = (1 << 31) + 11
    rows = _rows(bc, 50, start, rng)
    _same_or_same_error(bc, rows, start, None)  # at the limit: builds
    over = {k: v.copy() for k, v in rows.items()}
    over[field][9] -= 1  # the difference is now 2^22 on some rows at least
    over[field][:] = over[field] - (1 << 22) + rng.integers(0, 2, 50)
    for names in (None, (f"{key}_lo",), (f"{key}_hi", "pc"), ("pc", "x0")):
        _same_or_same_error(bc, over, start, names)


def test_numpy_integer_and_odd_start_types() -> None:
    bc = _bc("fib")
    rng = np.random.default_rng(11)
    rows = _rows(bc, 40, 12345, rng)
    for start in (np.int64(12345), np.uint64(12345), np.int32(12345)):
        _same_or_same_error(bc, rows, start, None)
    names = ["dA_lo", "pc", "dA_lo"]
    got = build_columns(bc, rows, 12345, iter(names))  # a one-shot iterator
    want = build_columns_reference(bc, rows, 12345, names)
    assert list(got) == list(want) == ["dA_lo", "pc"]
    assert all(np.array_equal(got[k], want[k]) for k in want)
