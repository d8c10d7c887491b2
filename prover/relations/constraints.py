"""The per-cycle constraints (stage 1) and the cross-cycle relation (stage 2), docs/protocol.md.

Every stage-1 constraint has the form C = sum_t L_t * R_t + L_0 with L_t, R_t, L_0 affine forms
(small integer coefficients) in the committed columns, so deg C <= 2. One symbolic description
serves both sides:
- the prover evaluates constraints over column arrays (``eval_base`` on base columns, exact
  mod p; ``quadratic_part_base`` gives the t^2 coefficient on per-row differences, what a
  zero-check round needs once C vanishes on the cube);
- the verifier evaluates them on the claimed column values at a point (``combine_at``:
  sum_k rho^k C_k(values), ext scalars).

Public names: ``Affine``, ``Constraint``, ``constraints()``, ``stage1_columns()``,
``stage1_constraints()``, ``stage1_combine_at``, ``eval_base``,
``eval_ext``, ``affine_base``, ``affine_ext``, ``quadratic_part_base``, ``combine_at``,
``rho_powers``, ``check_rows`` (all
residuals on concrete columns, for tests), and the stage-2 relation: ``STAGE2_COLUMNS``,
``VIRTUAL``, ``cross_cycle_constraints()``, ``next_pc_base``, ``last_row_eval``, ``cross_cycle_at``.

Sits in ``relations``: imports ``field`` and ``relations.columns``.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

from prover.field import (
    P,
    U64,
    add,
    eadd,
    emul,
    emul_base,
    ext_scalar,
    mul,
    sub,
)
from prover.relations.columns import COLUMN_INDEX, COLUMNS

# ----------------------------------------------------------------------------- affine forms

# Public per-row tables that are not committed: the shifted pc column (0 past the end) and the
# last-row indicator, used by the stage-2 relation.
VIRTUAL: tuple[str, ...] = ("pc_shift", "last")


@dataclasses.dataclass(frozen=True)
class Affine:
    """sum_name coeff * column + const, with Python-int coefficients (reduced when evaluated)."""

    terms: tuple[tuple[str, int], ...] = ()
    const: int = 0

    @staticmethod
    def of(x: Affine | str | int) -> Affine:
        if isinstance(x, Affine):
            return x
        if isinstance(x, str):
            if x not in COLUMN_INDEX and x not in VIRTUAL:
                raise KeyError(f"unknown column {x!r}")
            return Affine(((x, 1),))
        return Affine((), int(x))

    def __add__(self, other: Affine | str | int) -> Affine:
        o = Affine.of(other)
        acc: dict[str, int] = dict(self.terms)
        for name, c in o.terms:
            acc[name] = acc.get(name, 0) + c
        return Affine(tuple((n, c) for n, c in acc.items() if c), self.const + o.const)

    def __radd__(self, other: Affine | str | int) -> Affine:
        return Affine.of(other) + self

    def __sub__(self, other: Affine | str | int) -> Affine:
        return self + Affine.of(other) * -1

    def __rsub__(self, other: Affine | str | int) -> Affine:
        return Affine.of(other) + self * -1

    def __mul__(self, k: int) -> Affine:
        return Affine(tuple((n, c * k) for n, c in self.terms if c * k), self.const * k)

    __rmul__ = __mul__

    def names(self) -> set[str]:
        return {n for n, _ in self.terms}


def _a(x: Affine | str | int) -> Affine:
    return Affine.of(x)


@dataclasses.dataclass(frozen=True)
class Constraint:
    """C = sum_t left_t * right_t + linear; must vanish on every row of an honest trace."""

    name: str
    products: tuple[tuple[Affine, Affine], ...]
    linear: Affine = Affine()

    def names(self) -> set[str]:
        out = set(self.linear.names())
        for left, right in self.products:
            out |= left.names() | right.names()
        return out


def _prod(name: str, left: Affine | str | int, right: Affine | str | int) -> Constraint:
    return Constraint(name, ((_a(left), _a(right)),))


# ----------------------------------------------------------------------------- the constraints

_OP_FLAGS = ("f_add", "f_sub", "f_bitwise", "f_shift", "f_load", "f_store",
             "f_beq", "f_bne", "f_bltu", "f_jal", "f_halt")


def _lo(v: str) -> Affine:
    return _a(f"{v}0") + 256 * _a(f"{v}1")


def _hi(v: str) -> Affine:
    return _a(f"{v}2") + 256 * _a(f"{v}3")


def _sum(names: tuple[str, ...] | list[str]) -> Affine:
    acc = Affine()
    for n in names:
        acc = acc + n
    return acc


@lru_cache(maxsize=1)
def constraints() -> tuple[Constraint, ...]:
    """The stage-1 constraints in protocol order (index k pairs with rho^k).

    Why so few: the 18 bytecode columns equal a program row (stage 6), so the op flags and
    use_imm are boolean and lcode is 0 outside bitwise/shift rows without a constraint here; the
    one-hot sum stays because the zero rows padding the program table carry no flag. e and
    taken are boolean by their defining equations. Selector pairs are merged where exactly one of
    two cases holds (a = sel_z ? z : x is a - x - sel_z (z - x)), so the zero-check evaluates 32
    products instead of 75. Key bytes a_j are looked up (stage 3), hence bytes, so a limb equation
    a_lo = ... pins them as canonical bytes of that limb; only the b keys stay per byte.
    """
    out: list[Constraint] = []
    for b in ("c0", "c1"):
        out.append(_prod(f"bool {b}", b, _a(b) - 1))
    out.append(Constraint("one-hot op flags", (), _sum(_OP_FLAGS) - 1))
    out.append(_prod("imm lo", "use_imm", _lo("y") - "imm_lo"))
    out.append(_prod("imm hi", "use_imm", _hi("y") - "imm_hi"))
    two16 = 1 << 16
    out.append(_prod("add lo", "f_add", _lo("x") + _lo("y") - _lo("z") - two16 * _a("c0")))
    out.append(_prod("add hi", "f_add", _hi("x") + _hi("y") + "c0" - _hi("z") - two16 * _a("c1")))
    subs = _sum(["f_sub", "f_beq", "f_bne", "f_bltu"])
    out.append(_prod("sub lo", subs, _lo("x") - _lo("y") - _lo("z") + two16 * _a("c0")))
    out.append(_prod("sub hi", subs, _hi("x") - _hi("y") - "c0" - _hi("z") + two16 * _a("c1")))
    sel_z = _sum(["f_add", "f_sub", "f_beq", "f_bne", "f_bltu"])
    # a = z on sel_z rows (range check of z), else x
    out.append(Constraint("key a lo", ((sel_z * -1, _lo("z") - _lo("x")),), _lo("a") - _lo("x")))
    out.append(Constraint("key a hi", ((sel_z * -1, _hi("z") - _hi("x")),), _hi("a") - _hi("x")))
    # b_j = 0 (sel_z), y_j + lcode (bitwise), lcode + j (shift), y_j (others); lcode is 0 off
    # bitwise/shift rows, so b_j = (1 - sel_z - f_shift) y_j + lcode + j f_shift on every row.
    for j in range(4):
        y = f"y{j}"
        out.append(Constraint(
            f"key b{j}", ((sel_z + "f_shift", _a(y)),), _a(f"b{j}") - y - "lcode" - j * _a("f_shift"),
        ))
    out.append(_prod("bitwise lo", "f_bitwise", _lo("z") - "o1_0" - 256 * _a("o1_1")))
    out.append(_prod("bitwise hi", "f_bitwise", _hi("z") - "o1_2" - 256 * _a("o1_3")))
    # y_j is a byte in this row's op region: bitwise entries carry o2 = 2^16 + v and no other
    # entry reaches 2^16, so o2_j = y_j + 2^16 forces a bitwise entry with v = y_j; with the key
    # b_j = y_j + lcode that entry is in the row's own op region. Without it a prover could move
    # 256 between y_0 and y_1 (y_lo unchanged) and land a byte in the next op's region.
    for j in range(4):
        out.append(_prod(f"bitwise y{j} byte", "f_bitwise", _a(f"o2_{j}") - f"y{j}" - two16))
    out.append(_prod("shift lo", "f_shift", _lo("z") - _sum([f"o1_{j}" for j in range(4)])))
    out.append(_prod("shift hi", "f_shift", _hi("z") - _sum([f"o2_{j}" for j in range(4)])))
    out.append(_prod("load lo", "f_load", _lo("z") - "mold_lo"))
    out.append(_prod("load hi", "f_load", _hi("z") - "mold_hi"))
    keep = _a("f_store") + "f_halt"  # z = x
    out.append(_prod("store/halt lo", keep, _lo("z") - _lo("x")))
    out.append(_prod("store/halt hi", keep, _hi("z") - _hi("x")))
    out.append(_prod("jal lo", "f_jal", _lo("z") - "pc" - 1))
    out.append(_prod("jal hi", "f_jal", _hi("z")))
    zsum = _lo("z") + _hi("z")
    out.append(_prod("e zero", "e", zsum))
    out.append(Constraint("e inverse", ((zsum * -1, _a("inv")),), 1 - _a("e")))
    out.append(Constraint(
        "taken",
        ((_a("f_beq") * -1, _a("e")), (_a("f_bne") * -1, 1 - _a("e")), (_a("f_bltu") * -1, _a("c1"))),
        _a("taken") - "f_jal",
    ))
    wr = _sum(["f_add", "f_sub", "f_bitwise", "f_shift", "f_load", "f_jal"])
    # w = wr ? z : x
    out.append(Constraint("write lo", ((wr * -1, _lo("z") - _lo("x")),), _a("w_lo") - _lo("x")))
    out.append(Constraint("write hi", ((wr * -1, _hi("z") - _hi("x")),), _a("w_hi") - _hi("x")))
    # y_hi, imm_hi < 2^16 each, so their sum is 0 iff both are
    out.append(_prod("mem hi", _sum(["f_load", "f_store"]), _hi("y") + "imm_hi"))
    return tuple(out)


@lru_cache(maxsize=1)
def stage1_columns() -> tuple[str, ...]:
    """The columns the stage-1 constraints read, in ``COLUMNS`` order (sent at r1)."""
    used: set[str] = set()
    for c in constraints():
        used |= c.names()
    return tuple(n for n in COLUMNS if n in used)


# ----------------------------------------------------------------------------- evaluation
# Base: columns are reduced uint64 vectors (or scalars); results are exact mod p.
# Ext: values are ext scalars (4,) or ext vectors (4, n).


def affine_base(f: Affine, cols: Mapping[str, U64], homogeneous: bool = False) -> U64:
    """f on base columns; ``homogeneous`` drops the constant (f evaluated on differences)."""
    acc: U64 | None = None
    for name, c in f.terms:
        t = mul(cols[name], c % P)
        acc = t if acc is None else add(acc, t)
    if acc is None:
        n = next(iter(cols.values())).shape
        acc = np.zeros(n, dtype=np.uint64)
    if f.const and not homogeneous:
        acc = add(acc, f.const % P)
    return acc


def affine_ext(f: Affine, vals: Mapping[str, U64], homogeneous: bool = False) -> U64:
    """f on ext values (all (4,) or all (4, n))."""
    acc: U64 | None = None
    for name, c in f.terms:
        t = emul_base(vals[name], c % P).reshape(vals[name].shape)
        acc = t if acc is None else eadd(acc, t)
    if acc is None:
        acc = np.zeros_like(next(iter(vals.values())))
    if f.const and not homogeneous:
        acc = eadd(acc, ext_scalar(f.const))
    return acc


def eval_base(c: Constraint, cols: Mapping[str, U64]) -> U64:
    """C on base columns, row by row (zero everywhere on an honest trace)."""
    acc = affine_base(c.linear, cols)
    for left, right in c.products:
        acc = add(acc, mul(affine_base(left, cols), affine_base(right, cols)))
    return acc


def quadratic_part_base(c: Constraint, deltas: Mapping[str, U64]) -> U64:
    """The t^2 coefficient of C(v + t d) for per-row differences d (base columns)."""
    acc: U64 | None = None
    for left, right in c.products:
        t = mul(affine_base(left, deltas, True), affine_base(right, deltas, True))
        acc = t if acc is None else add(acc, t)
    if acc is None:
        acc = np.zeros(next(iter(deltas.values())).shape, dtype=np.uint64)
    return acc


def eval_ext(c: Constraint, vals: Mapping[str, U64], homogeneous: bool = False) -> U64:
    """C on ext values; ``homogeneous`` gives the t^2 coefficient when vals are differences."""
    acc = None if homogeneous else affine_ext(c.linear, vals)
    for left, right in c.products:
        t = emul(affine_ext(left, vals, homogeneous), affine_ext(right, vals, homogeneous))
        acc = t if acc is None else eadd(acc, t)
    if acc is None:
        acc = np.zeros_like(next(iter(vals.values())))
    return acc


def rho_powers(rho: U64, k: int) -> U64:
    """(1, rho, ..., rho^{k-1}) as an ext vector (4, k)."""
    out = np.zeros((4, k), dtype=np.uint64)
    cur = ext_scalar(1)
    for i in range(k):
        out[:, i] = cur
        cur = emul(cur, rho)
    return out


def combine_at(values: Mapping[str, U64], rho: U64) -> U64:
    """sum_k rho^k C_k(values) for claimed column values at one point (the verifier's side)."""
    cs = constraints()
    pw = rho_powers(rho, len(cs))
    acc = ext_scalar(0)
    for k, c in enumerate(cs):
        acc = eadd(acc, emul(pw[:, k], eval_ext(c, values)))
    return acc


def check_rows(cols: Mapping[str, U64]) -> dict[str, np.ndarray]:
    """Constraint name -> indices of the rows where it fails (empty dict: all hold)."""
    bad: dict[str, np.ndarray] = {}
    for c in constraints():
        rows = np.flatnonzero(eval_base(c, cols))
        if rows.size:
            bad[c.name] = rows
    return bad


# ----------------------------------------------------------------------------- stage 2
# pc(c+1) + last(c) pc(c) - N(c) = 0 and last(c) (1 - f_halt(c)) = 0 on every row, where
# N = pc + 1 + taken (imm_lo - pc - 1) - f_halt is the next pc the instruction asks for and
# pc(c+1) is the shifted column ``pc_shift`` (0 past the end): the last row must be a HALT,
# which keeps its pc. ``last`` is the public last-row indicator.

STAGE2_COLUMNS: tuple[str, ...] = ("pc", "taken", "imm_lo", "f_halt")


@lru_cache(maxsize=1)
def cross_cycle_constraints() -> tuple[Constraint, ...]:
    """The two stage-2 relations over STAGE2_COLUMNS + ``pc_shift``, ``last`` (index k: rho^k)."""
    next_pc = Constraint(
        "next pc",
        ((_a("last"), _a("pc")), (_a("taken") * -1, _a("imm_lo") - "pc" - 1)),
        _a("pc_shift") - "pc" - 1 + "f_halt",
    )
    halted = _prod("last row halted", "last", 1 - _a("f_halt"))
    return (next_pc, halted)


def next_pc_base(cols: Mapping[str, U64]) -> U64:
    """N(c) = pc + 1 + taken (imm_lo - pc - 1) - f_halt on base columns (for tests)."""
    pc = cols["pc"]
    jump = mul(cols["taken"], sub(sub(cols["imm_lo"], pc), 1))
    return sub(add(add(pc, 1), jump), cols["f_halt"])


def last_row_eval(point: Sequence[U64]) -> U64:
    """MLE of the last-row indicator [x = 2^k - 1] at a point: prod_j r_j."""
    acc = ext_scalar(1)
    for r in point:
        acc = emul(acc, r)
    return acc


def stage1_constraints() -> tuple[Constraint, ...]:
    """Protocol v3's stage 1: the per-cycle constraints, then the two cross-cycle relations.

    One zero-check carries both (rho^0 .. rho^34 per-cycle, rho^35 next pc, rho^36 last row
    halted); it reads the 53 ``stage1_columns()`` (which include pc, taken, imm_lo and f_halt)
    and the virtual ``pc_shift`` and ``last``.
    """
    return constraints() + cross_cycle_constraints()


def stage1_combine_at(values: Mapping[str, U64], pc_shift: U64, last: U64, rho: U64) -> U64:
    """sum_k rho^k C_k over ``stage1_constraints()`` at one point (the verifier's side)."""
    full = dict(values)
    full["pc_shift"] = pc_shift
    full["last"] = last
    cs = stage1_constraints()
    pw = rho_powers(rho, len(cs))
    acc = ext_scalar(0)
    for k, c in enumerate(cs):
        acc = eadd(acc, emul(pw[:, k], eval_ext(c, full)))
    return acc


def cross_cycle_at(vals: Mapping[str, U64], pc_shift: U64, last: U64, rho: U64) -> U64:
    """sum_k rho^k R_k at one point (the verifier's side)."""
    full = dict(vals)
    full["pc_shift"] = pc_shift
    full["last"] = last
    acc = ext_scalar(0)
    cur = ext_scalar(1)
    for c in cross_cycle_constraints():
        acc = eadd(acc, emul(cur, eval_ext(c, full)))
        cur = emul(cur, rho)
    return acc
