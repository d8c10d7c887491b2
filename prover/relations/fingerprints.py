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
- init/final states: ``state_fraction_sum`` (verifier);
- committed logUp helpers (protocol v3, stages 2-6): ``STAGE_SLOTS``, ``HELPER_PAIRS``,
  ``HELPER_NAMES``, ``HELPER_POLYS``, ``HELPER_COLUMNS``, ``stage_helpers``; per slot
  ``slot_den`` / ``slot_num`` (prover tables over a row range) and ``slot_at`` (verifier);
  ``batch_einv`` (one tree inversion for a whole vector); ``helpers_chunk`` (all nine helpers
  of a row range with one ``batch_einv``); ``helper_terms_at`` (the stage sumcheck's summand at
  a point, verifier).

Sits in ``relations``: imports ``field``, ``mle``, ``lookup_table``, ``columns`` and ``layout``.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from prover.field import (
    U64,
    P,
    add,
    eadd,
    edot,
    einv,
    emul,
    emul_base,
    eneg,
    esub,
    esum,
    ext_scalar,
    ext_zero,
    lincomb_base,
    mul,
    small_lincomb,
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


# ----------------------------------------------------------------------------- committed helpers (v3)
#
# Protocol v3 replaces the leaf-side GKR of stages 3-6 by committed helper columns: the slots of
# each stage are paired, and h = 1 / (D_a D_b) (h = 1 / D for a slot alone) is committed in
# stage 2, right after alpha and g. A pair's fractions n_a / D_a + n_b / D_b are then
# (n_a D_b + n_b D_a) h, a degree-3 product of committed columns, and the helper is pinned by the
# zero-check h D_a D_b - 1 = 0, which an honest prover fails only if some D vanishes (the
# event logUp already charges). Both live in one sumcheck per stage (``backends.dense.logup``).

STAGE_SLOTS: Mapping[int, tuple[Slot, ...]] = MappingProxyType(
    {3: LOOKUP_SLOTS, 4: REGISTER_SLOTS, 5: RAM_SLOTS, 6: BYTECODE_SLOTS}
)
HELPER_STAGES: tuple[int, ...] = (3, 4, 5, 6)

# Per stage, the slot indices (into ``STAGE_SLOTS[stage]``) each helper covers.
HELPER_PAIRS: Mapping[int, tuple[tuple[int, ...], ...]] = MappingProxyType({
    3: ((0, 1), (2, 3)),  # LK0 LK1, LK2 LK3
    4: ((0, 1), (2, 3), (4, 5), (6, 7)),  # RS_B WS_B, RS_A WS_A, RG_Blo RG_Bhi, RG_Alo RG_Ahi
    5: ((0, 1), (2, 3)),  # RS_M WS_M, RG_Mlo RG_Mhi
    6: ((0,),),  # BC alone: h = 1 / D
})


def stage_helpers(stage: int) -> tuple[str, ...]:
    """The helper names of one stage, in pair order: h{stage}_0, h{stage}_1, ..."""
    return tuple(f"h{stage}_{i}" for i in range(len(HELPER_PAIRS[stage])))


# The 9 ext helper columns, in commitment order, and their 36 base component polys (poly 4 i + c
# is component c of helper i: the coefficient of X^c).
HELPER_NAMES: tuple[str, ...] = tuple(n for s in HELPER_STAGES for n in stage_helpers(s))
HELPER_POLYS: tuple[str, ...] = tuple(f"{h}.{c}" for h in HELPER_NAMES for c in range(4))
if HELPER_NAMES != ("h3_0", "h3_1", "h4_0", "h4_1", "h4_2", "h4_3", "h5_0", "h5_1", "h6_0"):
    raise ImportError(f"helper names drifted from the protocol: {HELPER_NAMES}")
# Every committed column some helper reads (what stage 2 materializes), in ``COLUMNS`` order.
HELPER_COLUMNS: tuple[str, ...] = slot_columns(tuple(s for st in HELPER_STAGES for s in STAGE_SLOTS[st]))

NumForm = tuple[int, "tuple[tuple[str, int], ...] | None"]


def num_form(slot: Slot) -> NumForm:
    """The numerator as c * L: L canonical (constant term positive, else the first coefficient by
    name positive) as sorted (name, coeff) pairs, or None for a constant n = c.

    Pairs whose slots share L (RS/WS: -sel and +sel) need one numerator table, not two.
    """
    items = sorted((k, int(v)) for k, v in slot.num.items() if v)
    if all(k == ONE for k, _ in items):
        return (items[0][1] if items else 0), None
    lead = dict(items).get(ONE) or next(v for k, v in items if k != ONE)
    sign = 1 if lead > 0 else -1
    return sign, tuple((k, v * sign) for k, v in items)


def num_table(form: tuple[tuple[str, int], ...], cols: Mapping[str, U64], cycle: U64) -> U64:
    """The base table of a canonical numerator form L over the rows of ``cols`` (``cycle`` = c)."""
    const = sum(v for k, v in form if k == ONE)
    terms = [(k, v) for k, v in form if k != ONE]
    return small_lincomb([_column(cols, k, cycle) for k, _ in terms], [v for _, v in terms], const)


@dataclasses.dataclass(frozen=True)
class DenForm:
    """alpha - fp of one slot as sum_j coeffs[:, j] names[j] + coeffs[:, -1] (the constant):
    ext coefficients (4, len(names) + 1)."""

    names: tuple[str, ...]
    coeffs: U64


def den_form(slot: Slot, alpha: U64, g: U64) -> DenForm:
    const, coeffs = _den_form(slot, alpha, g)
    names = tuple(coeffs)
    return DenForm(names, np.stack([coeffs[n] for n in names] + [const], axis=1))


def slot_den(form: DenForm, cols: Mapping[str, U64], cycle: U64) -> U64:
    """D = alpha - fp over the rows of ``cols`` (``cycle`` = the rows' cycle indices): (4, rows).

    One compiled linear-combination pass, the constant riding along as a column of ones."""
    stacked = np.empty((len(form.names) + 1, cycle.shape[0]), dtype=np.uint64)
    for j, n in enumerate(form.names):
        stacked[j] = _column(cols, n, cycle)
    stacked[-1] = 1
    return lincomb_base(stacked, form.coeffs)


def batch_einv(a: U64) -> U64:
    """1/a for an ext vector (4, n) with ONE field inversion (a product tree; Montgomery's trick).

    Up: level l+1 = level l's first half times its second half (an odd last entry rides up
    alone), until one entry is left; that one is inverted (``einv``); down: the inverse of a
    left child is its parent's inverse times its right sibling, and vice versa. About 3n ext
    products, all vectorized, against one base Fermat exponentiation per entry for ``einv``
    (measured ~3 ms for 9 x 2^14 entries; a prefix-product layout of contiguous rows was no
    faster). Raises ZeroDivisionError naming the first zero entry.
    """
    a = np.ascontiguousarray(a, dtype=np.uint64)
    n = a.shape[1]
    if n == 0:
        return a.copy()
    zeros = np.flatnonzero(~a.any(axis=0))
    if zeros.size:
        raise ZeroDivisionError(f"inverse of zero at index {int(zeros[0])}")
    levels: list[U64] = []
    cur = a
    while cur.shape[1] > 1:
        m = cur.shape[1]
        half = m // 2
        levels.append(cur)
        nxt = emul(cur[:, :half], cur[:, half : 2 * half])
        if m & 1:
            nxt = np.concatenate([nxt, cur[:, m - 1 :]], axis=1)
        cur = nxt
    inv_cur = einv(cur)
    for lev in reversed(levels):
        m = lev.shape[1]
        half = m // 2
        out = np.empty_like(lev)
        ip = np.ascontiguousarray(inv_cur[:, :half])
        out[:, :half] = emul(ip, lev[:, half : 2 * half])
        out[:, half : 2 * half] = emul(ip, lev[:, :half])
        if m & 1:
            out[:, m - 1] = inv_cur[:, half]
        inv_cur = out
    return inv_cur


def helper_den_forms(alpha: U64, g: U64) -> dict[int, list[DenForm]]:
    """Per helper stage, the den forms of its slots (computed once per alpha, g)."""
    return {st: [den_form(s, alpha, g) for s in STAGE_SLOTS[st]] for st in HELPER_STAGES}


def helpers_chunk(
    cols: Mapping[str, U64],
    start: int,
    alpha: U64,
    g: U64,
    out: U64 | None = None,
    forms: Mapping[int, Sequence[DenForm]] | None = None,
) -> dict[str, U64]:
    """All nine helpers over the rows start .. start + rows - 1 of ``cols`` (``HELPER_COLUMNS``).

    One ``batch_einv`` for the whole chunk: the nine products D_a D_b (or D) side by side.
    Returns name -> (4, rows) ext; with ``out`` (36, rows) given, the helpers are written there
    (helper i in rows 4 i .. 4 i + 3: the committed polys' order) and the views returned.
    Raises ZeroDivisionError if some D vanishes (an honest prover then cannot prove).
    """
    rows = int(np.asarray(cols[HELPER_COLUMNS[0]]).shape[0])
    cycle = np.arange(start, start + rows, dtype=np.uint64)
    forms = forms if forms is not None else helper_den_forms(alpha, g)
    prods = np.empty((4, len(HELPER_NAMES) * rows), dtype=np.uint64)
    i = 0
    for st in HELPER_STAGES:
        dens = [slot_den(f, cols, cycle) for f in forms[st]]
        for pair in HELPER_PAIRS[st]:
            d = dens[pair[0]]
            for s in pair[1:]:
                d = emul(d, dens[s])
            prods[:, i * rows : (i + 1) * rows] = d
            i += 1
        del dens
    inv_all = batch_einv(prods)
    del prods
    if out is None:
        out = np.empty((4 * len(HELPER_NAMES), rows), dtype=np.uint64)
    for i in range(len(HELPER_NAMES)):
        out[4 * i : 4 * i + 4] = inv_all[:, i * rows : (i + 1) * rows]
    return {name: out[4 * i : 4 * i + 4] for i, name in enumerate(HELPER_NAMES)}


def slot_at(slot: Slot, values: Mapping[str, U64], cycle_point: Point, alpha: U64, g: U64) -> tuple[U64, U64]:
    """(n, D) of one slot at a cycle point from the claimed column values (verifier)."""
    vals = dict(values)
    vals[CYCLE] = identity_eval(cycle_point)
    n = _lin_at(slot.num, vals)
    d = esub(alpha, fingerprint_at([_lin_at(f, vals) for f in slot.fields], g))
    return n, d


def helper_terms_at(
    stage: int,
    values: Mapping[str, U64],
    helper_values: Sequence[U64],
    cycle_point: Point,
    alpha: U64,
    g: U64,
    rho: U64,
) -> tuple[U64, U64]:
    """The two parts of a helper stage's summand at a point, from the claimed values:
    zero = sum_i rho^i (h_i prod_{s in pair i} D_s - 1) and frac = sum_i h_i N_i with
    N_i = n_a D_b + n_b D_a (n_a for a slot alone). The sumcheck's final claim must equal
    eq(tau, r) zero + rho^P frac (P = number of pairs)."""
    slots, pairs = STAGE_SLOTS[stage], HELPER_PAIRS[stage]
    if len(helper_values) != len(pairs):
        raise ValueError(f"stage {stage} has {len(pairs)} helpers, got {len(helper_values)} values")
    nd = [slot_at(s, values, cycle_point, alpha, g) for s in slots]
    one = ext_scalar(1)
    zero, frac, rpow = ext_scalar(0), ext_scalar(0), ext_scalar(1)
    for h, pair in zip(helper_values, pairs):
        prod = one
        for s in pair:
            prod = emul(prod, nd[s][1])
        if len(pair) == 1:
            num = nd[pair[0]][0]
        elif len(pair) == 2:
            (na, da), (nb, db) = nd[pair[0]], nd[pair[1]]
            num = eadd(emul(na, db), emul(nb, da))
        else:
            raise ValueError(f"helpers cover one or two slots, not {len(pair)}")
        zero = eadd(zero, emul(rpow, esub(emul(h, prod), one)))
        frac = eadd(frac, emul(h, num))
        rpow = emul(rpow, rho)
    return zero, frac
