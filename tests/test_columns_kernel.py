"""The compiled column builder against its numpy reference, on real tracer rows.

``build_columns`` / ``make_builder`` run ``columns_kernel.build``; ``build_columns_reference``
is the numpy builder it must equal bit for bit: whole traces of both workloads over several
sizes (each ends in its HALT rows), chunks and spans replayed from checkpoints at starts other
than 0, name subsets, tampered builds, and the errors on rows a tracer bug could produce.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np
import pytest

from prover import workloads
from prover.field import P, U64
from prover.relations import columns as C
from prover.relations import columns_kernel
from prover.relations.columns import (
    COLUMNS,
    BYTECODE,
    LOOKUP,
    PADDING,
    TIMESTAMPS,
    VALUES,
    build_columns,
    build_columns_reference,
    make_builder,
)
from prover.relations.layout import BytecodeTable, bytecode_table
from prover.tracer import Tracer
from prover.vm.isa import Op
from prover.witness import WitnessSource

from forgery import point_tamper

Rows = dict[str, np.ndarray]

# fib from 2^8, sha2-chain from its smallest size; both to 2^16
WHOLE = [("fib", 8), ("fib", 11), ("fib", 14), ("fib", 16),
         ("sha2-chain", 12), ("sha2-chain", 13), ("sha2-chain", 16)]

SUBSETS: list[tuple[str, ...]] = [
    ("x0",), ("pc",), ("pad1",), ("inv",), ("e",), ("taken",), ("c1",), ("o2_3",), ("b2",),
    ("dM_hi",), ("f_halt", "lcode"), BYTECODE, VALUES, LOOKUP, TIMESTAMPS, PADDING,
    ("dB_lo", "dA_hi", "dM_lo", "o1_2", "taken", "pad1"),
    ("taken", "e", "taken", "x3", "x3"),  # duplicates: first occurrence decides the order
    tuple(reversed(COLUMNS)),
    COLUMNS[::3], COLUMNS[1::5],
]


@lru_cache(maxsize=None)
def trace(name: str, log_t: int) -> tuple[workloads.Workload, BytecodeTable, Rows]:
    w = workloads.build(name, log_t)
    rows = Tracer(w.program, w.ram_init, w.T, max(4, log_t // 2)).rows()
    return w, bytecode_table(w.program), rows


def assert_same(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]) -> None:
    assert list(got) == list(want)
    for name in want:
        g, r = got[name], want[name]
        assert g.dtype == np.uint64 and r.dtype == np.uint64, name
        assert g.shape == r.shape, name
        assert np.array_equal(g, r), (name, np.flatnonzero(g != r)[:5])


def kernel_direct(bc: BytecodeTable, rows: Rows, start: int, names: tuple[str, ...]) -> tuple[int, dict[str, U64]]:
    """The kernel called by hand (no fallback), so a test sees its own values and return code."""
    comp = C._Compiled(bc)
    plan = C._plan(names)
    fields = C._kernel_rows(rows)
    assert fields is not None
    n = fields[0].shape[0]
    outs: list[Any] = list(C._UNUSED_ALL)
    for j in plan.written:
        outs[j] = np.full(n, 0xDEAD, dtype=np.uint64)  # not zeros: an unwritten column shows
    module, t_o1, t_o2, inv = comp.kernel
    code = module.build(*fields, start, comp.bct, comp.der, comp.length, comp.keys_fit, t_o1, t_o2, inv, plan.need, tuple(outs))
    return code, {name: outs[j] if j >= 0 else np.zeros(n, dtype=np.uint64) for name, j in plan.order}


@pytest.mark.parametrize("name, log_t", WHOLE)
def test_kernel_equals_reference_on_whole_traces(name: str, log_t: int) -> None:
    w, bc, rows = trace(name, log_t)
    want = build_columns_reference(bc, rows, 0)
    code, got = kernel_direct(bc, rows, 0, COLUMNS)
    assert code == columns_kernel.OK
    assert_same(got, want)
    assert_same(build_columns(bc, rows, 0), want)
    # the trace runs into its HALT rows, and the builds cover them
    assert int(want["f_halt"][-1]) == 1 and int(want["f_halt"][0]) == 0
    for c in want.values():
        assert int(c.max()) < P


@pytest.mark.parametrize("name, log_t", [("fib", 12), ("sha2-chain", 14)])
def test_chunks_and_spans_replayed_from_checkpoints(name: str, log_t: int) -> None:
    w, bc, _ = trace(name, log_t)
    chunk_log = 7
    fast = WitnessSource(Tracer(w.program, w.ram_init, w.T, chunk_log), make_builder(bc))
    ref = WitnessSource(Tracer(w.program, w.ram_init, w.T, chunk_log),
                        lambda rows, start, names=None: build_columns_reference(bc, rows, start, names))
    n = fast.num_chunks
    for i in (1, 2, n // 2, n - 1):  # n - 1: the halting tail
        assert_same(fast.chunk(i), ref.chunk(i))
        assert_same(fast.chunk(i, ["dA_lo", "o1_0", "pc"]), ref.chunk(i, ["dA_lo", "o1_0", "pc"]))
    for first, count in ((1, 3), (5, 8), (n - 4, 4)):
        assert_same(fast.span(first, count), ref.span(first, count))
        assert_same(fast.span(first, count, TIMESTAMPS), ref.span(first, count, TIMESTAMPS))


@pytest.mark.parametrize("names", SUBSETS, ids=lambda s: ",".join(s)[:40])
@pytest.mark.parametrize("name, log_t", [("fib", 10), ("sha2-chain", 12)])
def test_name_subsets_at_a_chunk_start_other_than_zero(name: str, log_t: int, names: tuple[str, ...]) -> None:
    w, bc, rows = trace(name, log_t)
    start, size = 3 * 256, 512
    block = {k: v[start:start + size] for k, v in rows.items()}
    want = build_columns_reference(bc, block, start, names)
    code, got = kernel_direct(bc, block, start, names)
    assert code == columns_kernel.OK
    assert_same(got, want)
    assert_same(make_builder(bc)(block, start, names=names), want)
    assert_same(build_columns(bc, block, start, iter(names)), want)  # a one-shot iterator of names


def test_columns_are_fresh_separate_arrays() -> None:
    # A stage that keeps one column (stage 2 keeps pc) must not keep the others alive, and a
    # tamper edit of one column must not show in another: every column owns its buffer.
    _, bc, rows = trace("sha2-chain", 12)
    cols = build_columns(bc, rows, 0)
    arrays = list(cols.values())
    for a in arrays:
        assert a.flags.owndata and a.flags.writeable and a.flags.c_contiguous
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)
    assert not np.shares_memory(cols["pc"], rows["pc"])


def test_tampered_builds_equal_the_tampered_reference() -> None:
    _, bc, rows = trace("fib", 10)
    seen: list[tuple[list[str], int]] = []
    edits = point_tamper(300, {"o1_2": 7, "x0": P - 1, "dB_hi": 3, "pad0": 1, "taken": 5})

    def tamper(cols: dict[str, U64], start: int) -> None:
        seen.append((list(cols), start))
        edits(cols, start)

    start, size = 256, 256
    block = {k: v[start:start + size] for k, v in rows.items()}
    for names in (None, ("x0", "pad0", "y1"), ("o1_2",)):
        want = build_columns_reference(bc, block, start, names, edits)
        got = make_builder(bc, tamper)(block, start, names=names)
        assert_same(got, want)
        assert seen[-1] == (list(want), start)  # called once, on the freshly built dict
        assert int(got[next(iter(got))].shape[0]) == size
    full = make_builder(bc, tamper)(block, start)
    assert int(full["o1_2"][300 - start]) == 7 and int(full["pad0"][300 - start]) == 1


def test_a_tamper_leaving_an_unreduced_value_is_refused_alike() -> None:
    _, bc, rows = trace("fib", 8)
    bad = point_tamper(5, {"w_lo": 1})

    def unreduced(cols: dict[str, U64], start: int) -> None:
        bad(cols, start)
        cols["w_lo"][5] = np.uint64(P)

    msg = "tampered column w_lo is not a reduced uint64 vector"
    with pytest.raises(ValueError, match=msg):
        build_columns_reference(bc, rows, 0, None, unreduced)
    with pytest.raises(ValueError, match=msg):
        make_builder(bc, unreduced)(rows, 0)


def _bad(rows: Rows, field: str, k: int, value: int) -> Rows:
    out = {name: col.copy() for name, col in rows.items()}
    out[field][k] = value
    return out


def _same_error(bc: BytecodeTable, rows: Rows, start: int, names: tuple[str, ...] | None) -> str:
    with pytest.raises(ValueError) as ref_info:
        build_columns_reference(bc, rows, start, names)
    with pytest.raises(ValueError) as got_info:
        build_columns(bc, rows, start, names)
    assert str(got_info.value) == str(ref_info.value)
    code, _ = kernel_direct(bc, rows, start, COLUMNS if names is None else names)
    assert code != columns_kernel.OK  # the kernel saw it too, and handed the block over
    return str(got_info.value)


def test_a_pc_outside_the_program_raises_the_reference_error() -> None:
    _, bc, rows = trace("sha2-chain", 12)
    for value in (bc.length, bc.length + 1, (1 << bc.log_n) + 7, -1):
        bad = _bad(rows, "pc", 17, value)
        for names in (None, ("rd",), ("c0",), ("taken",), ("a1",), ("dA_lo",)):
            msg = _same_error(bc, bad, 0, names)
            assert msg.startswith("trace pc ") and f"outside the program of length {bc.length}" in msg
        # columns that never read the bytecode build as the reference builds them
        for names in (("pc",), ("x0", "w_hi", "mold_lo"), ("e", "inv"), ("pad2",)):
            assert_same(build_columns(bc, bad, 0, names), build_columns_reference(bc, bad, 0, names))


def test_a_timestamp_difference_over_22_bits_raises_the_reference_error() -> None:
    w, bc, rows = trace("sha2-chain", 12)
    ops = w.program.table().op[rows["pc"]]
    k_reg = int(np.flatnonzero(bc.columns["use_imm"][rows["pc"]] == 0)[3])
    k_mem = int(np.flatnonzero((ops == int(Op.LOAD)) | (ops == int(Op.STORE)))[2])
    cases = [
        ("tB_prev", k_reg, 2 * k_reg + 1, "dB"),  # 2c - tB wraps around
        ("tA_prev", 40, 2 * 40 + 2, "dA"),
        ("tM_prev", k_mem, k_mem + 1, "dM"),
    ]
    for field, k, value, key in cases:
        bad = _bad(rows, field, k, value)
        for names in (None, TIMESTAMPS, (f"{key}_lo",), ("dB_hi",)):
            msg = _same_error(bc, bad, 0, names)
            assert msg == f"timestamp difference {key} does not fit two 11-bit limbs"
        assert_same(build_columns(bc, bad, 0, VALUES + LOOKUP), build_columns_reference(bc, bad, 0, VALUES + LOOKUP))
    # a difference of exactly 2^22 - 1 fits; 2^22 does not
    k = 40
    fits = _bad(rows, "tA_prev", k, 2 * k + 1 - ((1 << 22) - 1))
    assert_same(build_columns(bc, fits, 0, TIMESTAMPS), build_columns_reference(bc, fits, 0, TIMESTAMPS))
    _same_error(bc, _bad(rows, "tA_prev", k, 2 * k + 1 - (1 << 22)), 0, TIMESTAMPS)


def test_rows_no_tracer_makes_are_built_by_the_reference() -> None:
    _, bc, rows = trace("fib", 8)
    # a half-word sum past the inverse table (z >= 2^33): the kernel hands the block over
    big = _bad(rows, "z", 9, (1 << 33) + 5)
    code, _ = kernel_direct(bc, big, 0, ("inv",))
    assert code == columns_kernel.ERR_INV
    assert_same(build_columns(bc, big, 0), build_columns_reference(bc, big, 0))
    # other dtypes and plain lists convert exactly as the reference converts them
    as_i32 = {k: v.astype(np.int32) for k, v in rows.items()}
    assert_same(build_columns(bc, as_i32, 0), build_columns_reference(bc, as_i32, 0))
    as_lists = {k: v[:40].tolist() for k, v in rows.items()}
    assert_same(build_columns(bc, as_lists, 0), build_columns_reference(bc, as_lists, 0))
    readonly = {k: v.copy() for k, v in rows.items()}
    for v in readonly.values():
        v.flags.writeable = False
    assert_same(build_columns(bc, readonly, 0), build_columns_reference(bc, readonly, 0))
    # an empty block, and a start cycle far from 0
    empty = {k: v[:0] for k, v in rows.items()}
    assert_same(build_columns(bc, empty, 0), build_columns_reference(bc, empty, 0))
    assert_same(build_columns(bc, rows, 1 << 20, ("dA_lo", "dA_hi")),
                build_columns_reference(bc, rows, 1 << 20, ("dA_lo", "dA_hi")))


def test_unknown_names_raise_before_any_work() -> None:
    _, bc, rows = trace("fib", 8)
    for builder in (make_builder(bc), lambda r, s, names: build_columns_reference(bc, r, s, names)):
        with pytest.raises(KeyError, match="unknown column 'nope'"):
            builder(rows, 0, names=["x0", "nope"])


def test_the_kernel_never_compiles_on_a_call() -> None:
    # One explicit signature, compiled (or loaded from the cache) at import: a call with other
    # types would be refused, not compiled, so no stage can pay a compilation.
    _, bc, rows = trace("sha2-chain", 12)
    build_columns(bc, rows, 0)
    make_builder(bc)({k: v[64:128] for k, v in rows.items()}, 64, names=["a0"])
    assert len(columns_kernel.build.signatures) == 1
    assert len(columns_kernel.build.overloads) == 1


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the outcome compared is the exception itself
        return (type(exc), str(exc))


def test_lookup_codes_that_could_leave_the_table_are_left_to_the_reference() -> None:
    w, bc, rows = trace("sha2-chain", 12)
    assert columns_kernel.keys_fit(C._Compiled(bc).der)
    assert columns_kernel.keys_fit(C._Compiled(trace("fib", 8)[1]).der)
    # a bitwise row whose lcode pushes y_j + lcode past 2^11: keys may leave the 2^19 entries
    cols = {k: v.copy() for k, v in bc.columns.items()}
    pc_bw = int(np.flatnonzero(cols["f_bitwise"])[0])
    cols["lcode"][pc_bw] = 2000
    odd = BytecodeTable(cols, bc.length, bc.log_n)
    assert not columns_kernel.keys_fit(C._Compiled(odd).der)
    code, _ = kernel_direct(odd, rows, 0, ("o1_0",))
    assert code == columns_kernel.ERR_KEY
    for names in (None, ("a0", "b3"), ("o2_1",)):
        got = _outcome(lambda: build_columns(odd, rows, 0, names))
        want = _outcome(lambda: build_columns_reference(odd, rows, 0, names))
        if isinstance(want, tuple):
            assert got == want
        else:
            assert_same(got, want)
    # columns that do not read the lookup still come from the kernel
    code, got = kernel_direct(odd, rows, 0, ("lcode", "dA_lo", "taken"))
    assert code == columns_kernel.OK
    assert_same(got, build_columns_reference(odd, rows, 0, ("lcode", "dA_lo", "taken")))
