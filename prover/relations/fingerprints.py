"""Tuple fingerprints and the logUp leaves of stages 3-6 (docs/protocol.md, "Stages" 3-6).

Every logUp instance sums fractions n / (alpha - fp) where fp = sum_k g^k t_k fingerprints a
tuple (t_0, t_1, ...). A leaf side is a list of *slots*; slot s holds T leaves (slot-major: leaf
index = s T + c) whose numerator and tuple fields are linear forms over trace columns. Writing
each slot once as data (``Slot``) and evaluating it twice keeps prover and verifier in step:
- ``leaves`` evaluates the slots on the columns (prover; vectorized, ``lincomb_base``);
- ``leaves_at`` evaluates them on the claimed column values at a point and folds the slot bits
  with eq (verifier): the MLE of an affine form of columns is that form of their MLEs.

Public names
- ``Lin`` (column -> int coefficient, ``ONE`` for the constant, ``CYCLE`` for the public cycle
  index c), ``Slot``; slot lists ``LOOKUP_SLOTS``, ``REGISTER_SLOTS``, ``RAM_SLOTS``,
  ``BYTECODE_SLOTS``; ``slot_columns(slots)`` (the committed columns they read, batch order);
- ``leaves``, ``leaves_at``, ``fingerprint_at``, ``powers``;
- table sides: ``lookup_table_den``/``_at``, ``range_table_den``/``_at``,
  ``bytecode_table_den``/``_at`` (over ``layout.BytecodeTable``);
- multiplicities (stage 0): ``MULT_SOURCES``, ``range_multiplicities``,
  ``bytecode_multiplicities`` (and ``lookup_table.multiplicities``);
- init/final states: ``state_fraction_sum`` (verifier).

Sits in ``relations``: imports ``field``, ``mle``, ``lookup_table``, ``columns`` and ``layout``.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from prover.field import (
    P,
    U64,
    add,
    eadd,
    edot,
    einv,
    eneg,
    emul,
    emul_base,
    esub,
    esum,
    ext_scalar,
    ext_zero,
    lincomb_base,
    mul,
)
from prover.mle import Point, eq_table, identity_eval
from prover.relations import lookup_table
from prover.relations.columns import COLUMN_INDEX
from prover.relations.layout import BYTECODE_COLUMNS, BytecodeTable

ONE = "1"  # the constant term of a ``Lin``
CYCLE = "@cycle"  # the public column c (cycle index); its MLE is ``identity_eval``

Lin = Mapping[str, int]

RANGE_BITS = 11  # timestamp differences are two 11-bit limbs
RANGE_SIZE = 1 << RANGE_BITS
RANGE_TAG = 4  # range tuples carry g^4, which no memory/lookup tuple (4 fields) reaches


@dataclasses.dataclass(frozen=True)
class Slot:
    """One slot of a leaf side: T leaves n(c) / (alpha - sum_k g^k fields[k](c))."""

    name: str
    num: Lin
    fields: tuple[Lin, ...]

    def __post_init__(self) -> None:
        # Slots are shared module constants: freeze their linear forms.
        object.__setattr__(self, "num", MappingProxyType(dict(self.num)))
        object.__setattr__(self, "fields", tuple(MappingProxyType(dict(f)) for f in self.fields))


def _lo(prefix: str) -> Lin:
    """The low 16-bit limb of a byte-decomposed word: prefix0 + 256 prefix1."""
    return {f"{prefix}0": 1, f"{prefix}1": 256}


def _hi(prefix: str) -> Lin:
    return {f"{prefix}2": 1, f"{prefix}3": 256}


def _col(name: str) -> Lin:
    return {name: 1}


def _range_slot(name: str, col: str) -> Slot:
    fields: list[Lin] = [_col(col)] + [{}] * (RANGE_TAG - 1) + [{ONE: 1}]
    return Slot(name, {ONE: 1}, tuple(fields))


# Stage 3: the 4 key tuples of every cycle, n = 1.
LOOKUP_SLOTS: tuple[Slot, ...] = tuple(
    Slot(f"LK{j}", {ONE: 1}, (_col(f"a{j}"), _col(f"b{j}"), _col(f"o1_{j}"), _col(f"o2_{j}")))
    for j in range(4)
)

_B_ACTIVE = {ONE: 1, "use_imm": -1}  # rs is read iff !use_imm
_DB = {"dB_lo": 1, "dB_hi": RANGE_SIZE}
_DA = {"dA_lo": 1, "dA_hi": RANGE_SIZE}

# Stage 4: registers. rs read at 2c+1 (its previous access at 2c - dB), rd access at 2c+2
# (previous at 2c+1 - dA). Reads subtract, writes add; init and final states close the sum.
REGISTER_SLOTS: tuple[Slot, ...] = (
    Slot("RS_B", {k: -v for k, v in _B_ACTIVE.items()},
         (_col("rs"), _lo("y"), _hi("y"), {CYCLE: 2, **{k: -v for k, v in _DB.items()}})),
    Slot("WS_B", _B_ACTIVE, (_col("rs"), _lo("y"), _hi("y"), {CYCLE: 2, ONE: 1})),
    Slot("RS_A", {ONE: -1},
         (_col("rd"), _lo("x"), _hi("x"), {CYCLE: 2, ONE: 1, **{k: -v for k, v in _DA.items()}})),
    Slot("WS_A", {ONE: 1}, (_col("rd"), _col("w_lo"), _col("w_hi"), {CYCLE: 2, ONE: 2})),
    _range_slot("RG_Blo", "dB_lo"),
    _range_slot("RG_Bhi", "dB_hi"),
    _range_slot("RG_Alo", "dA_lo"),
    _range_slot("RG_Ahi", "dA_hi"),
)

_ADDR = {"y0": 1, "y1": 256, "imm_lo": 1}  # y_lo + imm_lo (mem cycles have y_hi = imm_hi = 0)
_MEM = {"f_load": 1, "f_store": 1}

# Stage 5: RAM. The access at cycle c happens at time c+1; the previous one at c - dM.
RAM_SLOTS: tuple[Slot, ...] = (
    Slot("RS_M", {k: -v for k, v in _MEM.items()},
         (_ADDR, _col("mold_lo"), _col("mold_hi"), {CYCLE: 1, "dM_lo": -1, "dM_hi": -RANGE_SIZE})),
    Slot("WS_M", _MEM, (_ADDR, _lo("z"), _hi("z"), {CYCLE: 1, ONE: 1})),
    _range_slot("RG_Mlo", "dM_lo"),
    _range_slot("RG_Mhi", "dM_hi"),
)

BYTECODE_FIELDS: tuple[str, ...] = BYTECODE_COLUMNS  # protocol order: pc, rd, ..., f_halt

# Stage 6: the fetched instruction of every cycle, n = 1.
BYTECODE_SLOTS: tuple[Slot, ...] = (
    Slot("BC", {ONE: 1}, tuple(_col(name) for name in BYTECODE_FIELDS)),
)

# Which committed columns each multiplicity polynomial counts (stage 0 materializes these).
MULT_SOURCES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "m_instr": tuple(f"a{j}" for j in range(4)) + tuple(f"b{j}" for j in range(4)),
    "m_rangeB": ("dB_lo", "dB_hi", "dA_lo", "dA_hi"),
    "m_rangeM": ("dM_lo", "dM_hi"),
    "m_bc": ("pc",),
})


def slot_columns(slots: Sequence[Slot]) -> tuple[str, ...]:
    """The committed columns the slots read (no ONE, no CYCLE), in the batch order ``COLUMNS``.

    This is also the order in which a stage sends their values, so the section layout reads
    straight off the protocol's column list.
    """
    names = {name for slot in slots for lin in (slot.num, *slot.fields) for name in lin}
    names -= {ONE, CYCLE}
    return tuple(sorted(names, key=COLUMN_INDEX.__getitem__))


def powers(g: U64, n: int) -> U64:
    """[1, g, ..., g^(n-1)] as an ext vector (4, n)."""
    out = ext_zero(n)
    acc = ext_scalar(1)
    for k in range(n):
        out[:, k] = acc
        acc = emul(acc, g)
    return out


def _den_form(slot: Slot, alpha: U64, g: U64) -> tuple[U64, dict[str, U64]]:
    """alpha - fp as an affine form: (constant, column -> ext coefficient)."""
    gk = powers(g, len(slot.fields))
    const = alpha.copy()
    coeffs: dict[str, U64] = {}
    for k, lin in enumerate(slot.fields):
        for name, c in lin.items():
            term = emul_base(gk[:, k], int(c) % P)
            if name == ONE:
                const = esub(const, term)
            else:
                coeffs[name] = esub(coeffs.get(name, ext_scalar(0)), term)
    return const, coeffs


# ----------------------------------------------------------------------------- prover side


def _den_of(cols: Sequence[U64], alpha: U64, g: U64) -> U64:
    """alpha - sum_k g^k cols[k] over base columns -> (4, n).

    One exact BLAS pass with the coefficients -g^k, then alpha added: no separate negation pass.
    """
    stacked = np.stack([np.asarray(c, dtype=np.uint64) for c in cols])
    return eadd(lincomb_base(stacked, eneg(powers(g, len(cols)))), alpha)


def _column(cols: Mapping[str, U64], name: str, cycle: U64) -> U64:
    return cycle if name == CYCLE else np.asarray(cols[name], dtype=np.uint64)


def leaves(
    slots: Sequence[Slot], cols: Mapping[str, U64], T: int, alpha: U64, g: U64
) -> tuple[U64 | None, U64]:
    """Slot-major leaves of a leaf side: numerators (base, len S T) and denominators (4, S T).

    ``cols`` maps each name of ``slot_columns(slots)`` to its T base values. The numerators are
    None when every slot has n = 1 (the GKR prover then skips them).
    """
    cycle = np.arange(T, dtype=np.uint64)
    unit = all(dict(slot.num) == {ONE: 1} for slot in slots)
    num = None if unit else np.empty(len(slots) * T, dtype=np.uint64)
    den = np.empty((4, len(slots) * T), dtype=np.uint64)
    for s, slot in enumerate(slots):
        part = slice(s * T, (s + 1) * T)
        if num is not None:
            acc = np.full(T, int(slot.num.get(ONE, 0)) % P, dtype=np.uint64)
            for name, c in slot.num.items():
                if name != ONE:
                    acc = add(acc, mul(_column(cols, name, cycle), int(c) % P))
            num[part] = acc
        const, coeffs = _den_form(slot, alpha, g)
        names = list(coeffs)
        stacked = np.stack([_column(cols, name, cycle) for name in names])
        coeff_mat = np.stack([coeffs[name] for name in names], axis=1)
        den[:, part] = eadd(lincomb_base(stacked, coeff_mat), const)
    return num, den


# ----------------------------------------------------------------------------- verifier side


def _lin_at(lin: Lin, values: Mapping[str, U64]) -> U64:
    acc = ext_scalar(int(lin.get(ONE, 0)) % P)
    for name, c in lin.items():
        if name != ONE:
            acc = eadd(acc, emul_base(values[name], int(c) % P))
    return acc


def fingerprint_at(fields: Sequence[U64], g: U64) -> U64:
    """sum_k g^k fields[k] for ext scalars (the verifier's twin of the prover's lincomb)."""
    acc = ext_scalar(0)
    for f in reversed(fields):  # Horner
        acc = eadd(emul(acc, g), f)
    return acc


def leaves_at(
    slots: Sequence[Slot],
    values: Mapping[str, U64],
    cycle_point: Point,
    slot_point: Point,
    alpha: U64,
    g: U64,
) -> tuple[U64, U64]:
    """The MLEs of the leaf numerators and denominators at (cycle_point, slot_point).

    ``values`` holds the claimed value at cycle_point of every column in ``slot_columns``; the
    public cycle column is ``identity_eval(cycle_point)``. Slots past len(slots) (padding to a
    power of two) would be zero; the slot lists here are powers of two already.
    """
    if 1 << len(slot_point) != len(slots):
        raise ValueError(f"{len(slots)} slots but a {len(slot_point)}-bit slot point")
    vals = dict(values)
    vals[CYCLE] = identity_eval(cycle_point)
    eq_s = eq_table(slot_point)
    n_acc, d_acc = ext_scalar(0), ext_scalar(0)
    for s, slot in enumerate(slots):
        n_s = _lin_at(slot.num, vals)
        d_s = esub(alpha, fingerprint_at([_lin_at(f, vals) for f in slot.fields], g))
        n_acc = eadd(n_acc, emul(eq_s[:, s], n_s))
        d_acc = eadd(d_acc, emul(eq_s[:, s], d_s))
    return n_acc, d_acc


# ----------------------------------------------------------------------------- table sides


def lookup_table_den(alpha: U64, g: U64) -> U64:
    """alpha - fp(a, b, o1, o2) over the 2^19 lookup entries (prover)."""
    return _den_of(lookup_table.table_columns(), alpha, g)


def lookup_table_den_at(point: Point, alpha: U64, g: U64) -> U64:
    """The MLE of ``lookup_table_den`` at a 19-variable point (verifier)."""
    return esub(alpha, fingerprint_at(list(lookup_table.table_mle(point)), g))


def _range_tag(g: U64) -> U64:
    return powers(g, RANGE_TAG + 1)[:, RANGE_TAG]


def range_table_den(alpha: U64, g: U64) -> U64:
    """alpha - (g^4 + v) for v = 0 .. 2^11 - 1 (prover)."""
    zero = np.zeros(RANGE_SIZE, dtype=np.uint64)
    tuple_cols = [np.arange(RANGE_SIZE, dtype=np.uint64)] + [zero] * (RANGE_TAG - 1)
    return _den_of(tuple_cols + [np.ones(RANGE_SIZE, dtype=np.uint64)], alpha, g)


def range_table_den_at(point: Point, alpha: U64, g: U64) -> U64:
    """The MLE of ``range_table_den`` at an 11-variable point (verifier)."""
    if len(point) != RANGE_BITS:
        raise ValueError(f"range table point has {len(point)} variables, expected {RANGE_BITS}")
    return esub(esub(alpha, _range_tag(g)), identity_eval(point))


def bytecode_table_den(table: BytecodeTable, alpha: U64, g: U64) -> U64:
    """alpha - fp(bytecode fields) over the padded program table (prover)."""
    return _den_of([table.columns[name] for name in BYTECODE_FIELDS], alpha, g)


def bytecode_table_den_at(table: BytecodeTable, point: Point, alpha: U64, g: U64) -> U64:
    """The MLE of ``bytecode_table_den`` at a log_n-variable point (verifier).

    The program is public, so the verifier evaluates its table itself: one eq table over the
    padded program (at most 2^16 rows) against the fingerprinted rows.
    """
    if len(point) != table.log_n:
        raise ValueError(f"bytecode point has {len(point)} variables, expected {table.log_n}")
    cols = np.stack([table.columns[name] for name in BYTECODE_FIELDS])
    fp_table = lincomb_base(cols, powers(g, len(BYTECODE_FIELDS)))
    return esub(alpha, edot(fp_table, eq_table(point)))  # scalar - scalar


# ----------------------------------------------------------------------------- multiplicities


def range_multiplicities(limb_cols: Sequence[U64]) -> U64:
    """How often each v < 2^11 occurs over the given limb columns (m_rangeB / m_rangeM).

    Raises ValueError naming the first limb >= 2^11 (an honest trace has none).
    """
    counts = np.zeros(RANGE_SIZE, dtype=np.uint64)
    for j, col in enumerate(limb_cols):
        c = np.asarray(col, dtype=np.uint64)
        bad = np.flatnonzero(c >= np.uint64(RANGE_SIZE))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"range limb {j} at cycle {i} is {int(c[i])} >= 2^{RANGE_BITS}")
        counts += np.bincount(c.astype(np.int64), minlength=RANGE_SIZE).astype(np.uint64)
    return counts


def bytecode_multiplicities(pc: U64, table: BytecodeTable) -> U64:
    """m_bc[i] = number of cycles with pc = i, over the padded program table (2^log_n)."""
    size, program_len = 1 << table.log_n, table.length
    p = np.asarray(pc, dtype=np.uint64)
    bad = np.flatnonzero(p >= np.uint64(program_len))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"pc {int(p[i])} at cycle {i} is outside the program (length {program_len})")
    return np.bincount(p.astype(np.int64), minlength=size).astype(np.uint64)


# ----------------------------------------------------------------------------- init / final


def state_fraction_sum(
    addr: U64, v_lo: U64, v_hi: U64, t: U64, alpha: U64, g: U64
) -> U64:
    """sum_i 1 / (alpha - (addr_i + g v_lo_i + g^2 v_hi_i + g^3 t_i)) over a memory state.

    Used by the verifier for the init and final register/RAM states. Raises ZeroDivisionError
    if a denominator vanishes (negligible for honest challenges; the caller rejects).
    """
    return esum(einv(_den_of([addr, v_lo, v_hi, t], alpha, g)))
