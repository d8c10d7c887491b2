"""The 64 committed trace columns (docs/protocol.md, "Committed trace columns") and their builder.

``COLUMNS`` is the batch order of stage 0's commitment (column j = row j of the Ligero batch).
``make_builder(bytecode, tamper)`` returns the witness builder that turns tracer rows (plain
ints: pc, x, y, z, w, mold, tB_prev, tA_prev, tM_prev) into field columns, vectorized: the
bytecode group is the program's ``BytecodeTable`` indexed by pc; values are bytes/limbs of the
row; lookup keys and outputs follow the instruction lookup table; timestamp diffs are
2c - tB_prev, 2c+1 - tA_prev, c - tM_prev (0 for an inactive slot) split into 11-bit limbs.

Public names: ``COLUMNS``, ``NUM_COLUMNS``, ``COLUMN_INDEX``, ``BYTECODE``, ``VALUES``,
``LOOKUP``, ``TIMESTAMPS``, ``PADDING``, ``Tamper``, ``Builder``, ``make_builder``,
``build_columns``, ``build_columns_reference``.

The ``tamper`` hook exists for soundness tests only: ``tamper(cols, start_cycle)`` may edit the
freshly built columns in place (cols maps name -> uint64 array for cycles start_cycle..). It must
be a pure function of (name, cycle) so every chunking of the trace sees the same fault.

Two builders, one set of values: ``build_columns`` (and the builders of ``make_builder``) run the
compiled kernel of ``columns_kernel``, one loop over the rows computing only the requested
columns; ``build_columns_reference`` is the numpy reference (``_RowColumns``), the executable
specification the kernel is tested against (tests/test_columns_kernel.py). Whenever the kernel
reports a row it does not handle (a pc outside the program, a timestamp difference over 22 bits,
inputs no tracer produces), or the rows are not plain 1-D arrays of one length, the reference
builds the block, so it also raises every error, with its messages. ``make_builder`` loads the
kernel (compiled, or from numba's cache) and the lookup and inverse tables it reads, so that no
stage pays for them.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from prover.field import P, U64, inv_or_zero, small_inv_table
from prover.relations.layout import BYTECODE_COLUMNS, BytecodeTable
from prover.relations.lookup_table import LOG_A, table_columns

BYTECODE: tuple[str, ...] = BYTECODE_COLUMNS
VALUES: tuple[str, ...] = (
    "x0", "x1", "x2", "x3", "y0", "y1", "y2", "y3", "z0", "z1", "z2", "z3",
    "w_lo", "w_hi", "mold_lo", "mold_hi", "c0", "c1", "e", "inv", "taken",
)
LOOKUP: tuple[str, ...] = tuple(
    f"{k}{j}" for k in ("a", "b") for j in range(4)
) + tuple(f"{k}_{j}" for k in ("o1", "o2") for j in range(4))
TIMESTAMPS: tuple[str, ...] = ("dB_lo", "dB_hi", "dA_lo", "dA_hi", "dM_lo", "dM_hi")
PADDING: tuple[str, ...] = ("pad0", "pad1", "pad2")
COLUMNS: tuple[str, ...] = BYTECODE + VALUES + LOOKUP + TIMESTAMPS + PADDING
NUM_COLUMNS = len(COLUMNS)
COLUMN_INDEX: dict[str, int] = {name: j for j, name in enumerate(COLUMNS)}
LOG_NUM_COLUMNS = 6
if NUM_COLUMNS != 1 << LOG_NUM_COLUMNS or len(COLUMN_INDEX) != NUM_COLUMNS:
    raise ImportError(f"column layout has {NUM_COLUMNS} (distinct: {len(COLUMN_INDEX)}) columns, expected 64")

TS_LIMB_BITS = 11

Tamper = Callable[[dict[str, U64], int], None]
Builder = Callable[..., dict[str, U64]]

_U = np.uint64
_M8 = _U(0xFF)
_M16 = _U(0xFFFF)


def _bytes(v: U64) -> list[U64]:
    return [(v >> _U(8 * j)) & _M8 for j in range(4)]


class _RowColumns:
    """Computes columns of one chunk on demand, each at most once (a per-call memo)."""

    def __init__(self, bytecode: BytecodeTable, rows: Mapping[str, np.ndarray], start: int) -> None:
        self.bc = bytecode
        self.rows = {k: np.asarray(v).astype(np.uint64) for k, v in rows.items()}
        self.n = int(self.rows["pc"].shape[0])
        self.start = start
        self.memo: dict[str, U64] = {}
        self._pc_idx: np.ndarray | None = None

    def get(self, name: str) -> U64:
        if name not in self.memo:
            self._compute(name)
        return self.memo[name]

    def _idx(self) -> np.ndarray:
        if self._pc_idx is None:
            pc = self.rows["pc"]
            if self.n and int(pc.max()) >= self.bc.length:
                raise ValueError(f"trace pc {int(pc.max())} outside the program of length {self.bc.length}")
            self._pc_idx = pc.astype(np.intp)
        return self._pc_idx

    def _compute(self, name: str) -> None:
        m = self.memo
        if name in BYTECODE:
            m[name] = self.rows["pc"].copy() if name == "pc" else self.bc.columns[name][self._idx()]
            return
        if name in PADDING:
            m[name] = np.zeros(self.n, dtype=np.uint64)
            return
        r = self.rows
        if name[0] in "xyz" and len(name) == 2:
            for j, b in enumerate(_bytes(r[name[0]])):
                m[f"{name[0]}{j}"] = b
            return
        if name in ("w_lo", "w_hi", "mold_lo", "mold_hi"):
            src, part = name.split("_")
            v = r[src]
            m[name] = v & _M16 if part == "lo" else v >> _U(16)
            return
        if name in ("c0", "c1"):
            self._carries()
            return
        if name in ("e", "inv"):
            zs = (r["z"] & _M16) + (r["z"] >> _U(16))  # < 2^17 < p: zero iff z == 0
            m["e"] = (zs == 0).astype(np.uint64)
            m["inv"] = _small_inverse(zs)
            return
        if name == "taken":
            g = self.get
            e = g("e")
            m[name] = (g("f_beq") * e + g("f_bne") * (_U(1) - e) + g("f_bltu") * g("c1") + g("f_jal"))
            return
        if name in LOOKUP:
            self._lookup()
            return
        if name in TIMESTAMPS:
            self._timestamps()
            return
        raise KeyError(f"unknown column {name!r}")

    def _carries(self) -> None:
        r, g = self.rows, self.get
        x_lo, x_hi = r["x"] & _M16, r["x"] >> _U(16)
        y_lo, y_hi = r["y"] & _M16, r["y"] >> _U(16)
        f_add = g("f_add").astype(bool)
        f_sub = (g("f_sub") + g("f_beq") + g("f_bne") + g("f_bltu")).astype(bool)
        add_c0 = (x_lo + y_lo) >> _U(16)
        add_c1 = (x_hi + y_hi + add_c0) >> _U(16)
        sub_c0 = (x_lo < y_lo).astype(np.uint64)
        sub_c1 = (x_hi < y_hi + sub_c0).astype(np.uint64)
        zero = np.zeros(self.n, dtype=np.uint64)
        self.memo["c0"] = np.where(f_add, add_c0, np.where(f_sub, sub_c0, zero))
        self.memo["c1"] = np.where(f_add, add_c1, np.where(f_sub, sub_c1, zero))

    def _lookup(self) -> None:
        g = self.get
        sel_z = (g("f_add") + g("f_sub") + g("f_beq") + g("f_bne") + g("f_bltu")).astype(bool)
        f_bw = g("f_bitwise").astype(bool)
        f_sh = g("f_shift").astype(bool)
        lcode = g("lcode")
        zero = np.zeros(self.n, dtype=np.uint64)
        _, _, t_o1, t_o2 = table_columns()
        for j in range(4):
            xj, yj, zj = g(f"x{j}"), g(f"y{j}"), g(f"z{j}")
            a = np.where(sel_z, zj, xj)
            b = np.where(sel_z, zero, np.where(f_bw, yj + lcode, np.where(f_sh, lcode + _U(j), yj)))
            idx = (a + (b << _U(LOG_A))).astype(np.intp)
            self.memo[f"a{j}"] = a
            self.memo[f"b{j}"] = b
            self.memo[f"o1_{j}"] = t_o1[idx]
            self.memo[f"o2_{j}"] = t_o2[idx]

    def _timestamps(self) -> None:
        r, g = self.rows, self.get
        c = np.arange(self.start, self.start + self.n, dtype=np.uint64)
        active_b = g("use_imm") == 0
        mem = (g("f_load") + g("f_store")).astype(bool)
        zero = np.zeros(self.n, dtype=np.uint64)
        diffs = {
            "dB": np.where(active_b, _U(2) * c - r["tB_prev"], zero),
            "dA": _U(2) * c + _U(1) - r["tA_prev"],
            "dM": np.where(mem, c - r["tM_prev"], zero),
        }
        mask = _U((1 << TS_LIMB_BITS) - 1)
        for key, d in diffs.items():
            # uint64 wrap-around would show up as a huge hi limb: a tracer bug, not a fault to hide
            hi = d >> _U(TS_LIMB_BITS)
            if self.n and int(hi.max()) >> TS_LIMB_BITS:
                raise ValueError(f"timestamp difference {key} does not fit two 11-bit limbs")
            self.memo[f"{key}_lo"] = d & mask
            self.memo[f"{key}_hi"] = hi


def _small_inverse(v: U64) -> U64:
    """1/v mod p (0 for 0) for v < 2^17 via a table when the chunk is large, else directly."""
    if v.shape[0] >= (1 << 17):
        table = inv_or_zero(np.arange(1 << 17, dtype=np.uint64))
        return table[v.astype(np.intp)]
    return inv_or_zero(v)


def build_columns_reference(
    bytecode: BytecodeTable,
    rows: Mapping[str, np.ndarray],
    start_cycle: int,
    names: Iterable[str] | None = None,
    tamper: Tamper | None = None,
) -> dict[str, U64]:
    """The numpy reference builder: columns ``names`` (default: all 64) for a chunk of rows."""
    wanted = _wanted(names)
    rc = _RowColumns(bytecode, rows, start_cycle)
    out = {name: rc.get(name) for name in wanted}
    _apply_tamper(out, start_cycle, tamper)
    return out


def _wanted(names: Iterable[str] | None) -> list[str]:
    wanted = list(COLUMNS if names is None else names)
    for name in wanted:
        if name not in COLUMN_INDEX:
            raise KeyError(f"unknown column {name!r}")
    return wanted


def _apply_tamper(out: dict[str, U64], start_cycle: int, tamper: Tamper | None) -> None:
    if tamper is not None:
        tamper(out, start_cycle)
        for name, col in out.items():
            if col.dtype != np.uint64 or (col.size and int(col.max()) >= P):
                raise ValueError(f"tampered column {name} is not a reduced uint64 vector")


# -- the compiled builder -------------------------------------------------------------------

# The row fields the kernel reads, in its argument order.
_KERNEL_FIELDS = ("pc", "x", "y", "z", "w", "mold", "tB_prev", "tA_prev", "tM_prev")
_DIRECT = (np.dtype(np.int64), np.dtype(np.uint64))
# Stands for every column not asked for: the kernel never touches it.
_UNUSED_ALL = (np.empty(0, dtype=np.uint64),) * NUM_COLUMNS
_U64 = np.dtype(np.uint64)
_MAX_START = 1 << 62


@lru_cache(maxsize=1)
def _kernel() -> tuple[ModuleType, U64, U64, U64]:
    """The kernel module (importing it compiles or loads the kernel) and the tables it reads."""
    from prover.relations import columns_kernel

    for name, j in columns_kernel.LAYOUT_CHECK.items():
        if COLUMN_INDEX[name] != j:
            raise ImportError(f"columns_kernel writes {name} at {j}, COLUMNS has it at {COLUMN_INDEX[name]}")
    _, _, t_o1, t_o2 = table_columns()
    return columns_kernel, t_o1, t_o2, small_inv_table()


class _Plan:
    """What a tuple of requested names asks of the kernel (made once per distinct tuple)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        wanted = _wanted(names)  # KeyError for an unknown name, before any work, as the reference
        distinct = tuple(dict.fromkeys(wanted))
        need = np.zeros(NUM_COLUMNS, dtype=np.bool_)
        for name in distinct:
            if name not in PADDING:  # zeros: np.zeros is cheaper than any kernel store
                need[COLUMN_INDEX[name]] = True
        need.flags.writeable = False
        self.need = need
        self.written = tuple(int(j) for j in np.flatnonzero(need))
        # (name, position in outs) in the reference's output order; -1: a padding column
        self.order = tuple((name, -1 if name in PADDING else COLUMN_INDEX[name]) for name in distinct)


@lru_cache(maxsize=256)
def _plan(names: tuple[str, ...]) -> _Plan:
    return _Plan(names)


class _Compiled:
    """What the kernel needs of one program: the bytecode table as (18, rows), the derived
    table (``columns_kernel.derived_table``), the program length, the kernel and its tables."""

    def __init__(self, bytecode: BytecodeTable) -> None:
        self.bytecode = bytecode
        self.kernel = _kernel()
        self.bct = np.ascontiguousarray(np.stack([bytecode.columns[name] for name in BYTECODE]),
                                        dtype=np.uint64)
        self.der = self.kernel[0].derived_table(bytecode.columns)
        self.keys_fit = self.kernel[0].keys_fit(self.der)
        self.length = int(bytecode.length)

    def build(self, rows: Mapping[str, np.ndarray], start_cycle: int, names: Iterable[str] | None,
              tamper: Tamper | None) -> dict[str, U64]:
        key = COLUMNS if names is None else tuple(names)  # names may be a one-shot iterator
        plan = _plan(key)
        fields = _kernel_rows(rows)
        start = int(start_cycle) if isinstance(start_cycle, (int, np.integer)) else -1
        if fields is None or not 0 <= start < _MAX_START:
            return build_columns_reference(self.bytecode, rows, start_cycle, key, tamper)
        n = fields[0].shape[0]
        outs: list[Any] = list(_UNUSED_ALL)
        for j in plan.written:
            outs[j] = np.empty(n, dtype=_U64)
        module, t_o1, t_o2, inv = self.kernel
        code = module.build(*fields, start, self.bct, self.der, self.length, self.keys_fit,
                            t_o1, t_o2, inv, plan.need, tuple(outs))
        if code != module.OK:
            # The reference raises the error (or handles the exotic row) in its own words.
            return build_columns_reference(self.bytecode, rows, start_cycle, key, tamper)
        out: dict[str, U64] = {name: outs[j] if j >= 0 else np.zeros(n, dtype=_U64) for name, j in plan.order}
        _apply_tamper(out, start_cycle, tamper)
        return out


def _kernel_rows(rows: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    """The nine fields as 1-D uint64 arrays of one length (int64 viewed, bit for bit what the
    reference's ``astype(np.uint64)`` gives), or None if the rows are not that shape."""
    out: list[np.ndarray] = []
    for f in _KERNEL_FIELDS:
        if f not in rows:
            return None
        v = rows[f]
        if isinstance(v, np.ndarray) and v.dtype in _DIRECT and v.flags.c_contiguous and v.flags.writeable:
            u = v.view(np.uint64)
        else:
            try:
                u = np.ascontiguousarray(np.asarray(v).astype(np.uint64))
            except (TypeError, ValueError, OverflowError):
                return None
        if u.ndim != 1 or (out and u.shape != out[0].shape):
            return None
        out.append(u)
    return out


def build_columns(
    bytecode: BytecodeTable,
    rows: Mapping[str, np.ndarray],
    start_cycle: int,
    names: Iterable[str] | None = None,
    tamper: Tamper | None = None,
) -> dict[str, U64]:
    """Columns ``names`` (default: all 64, in ``COLUMNS`` order) for a chunk of tracer rows."""
    return _Compiled(bytecode).build(rows, start_cycle, names, tamper)


def make_builder(bytecode: BytecodeTable, tamper: Tamper | None = None) -> Builder:
    """The witness builder ``builder(rows, start_cycle, names=None) -> dict[str, uint64 array]``.

    Loads the compiled kernel and its tables now, so that the first build inside a stage pays
    neither compilation nor a table."""
    compiled = _Compiled(bytecode)

    def builder(
        rows: Mapping[str, np.ndarray], start_cycle: int, names: Iterable[str] | None = None
    ) -> dict[str, U64]:
        return compiled.build(rows, start_cycle, names, tamper)

    return builder
