"""The compiled twin of the column builder (``columns._RowColumns``, kept there as the reference).

What: ``build(pc, x, y, z, w, mold, tB_prev, tA_prev, tM_prev, start, bct, der, bc_len, keys_ok,
t_o1, t_o2, inv_tab, need, outs)`` writes, for every row k of a block, the value of each column j
with ``need[j]`` into ``outs[j][k]``, in ``COLUMNS`` order (checked against ``columns.COLUMNS``
by the caller). Rows are the tracer's int64 fields viewed as uint64 (the reference's
``astype(np.uint64)``, bit for bit); ``bct`` is the bytecode table as an (18, rows) array,
``der`` its ``derived_table`` and ``keys_ok`` its ``keys_fit``; ``t_o1``/``t_o2`` are the
lookup table's output columns and ``inv_tab`` the 2^17-entry ``field.small_inv_table`` (1/v mod
p, 0 for 0: Fermat's values). Every value is the reference's, in the same wrapping uint64
arithmetic.

Returns 0, or a code > 0 for a block the reference must handle: a pc outside the program (only
checked when a requested column reads the bytecode, as in the reference), a timestamp difference
that does not fit two 11-bit limbs (only when timestamps are requested), a half-word sum outside
the inverse table, or lookups of a program whose lookup codes could make a key outside the table
(``keys_fit`` false; neither of the last two comes from a real tracer or program). The caller
then runs the reference, which raises its own error with its own message, so errors cannot drift.

How (why it is fast): no temporaries (the reference materializes ~60 of them and a uint64 copy of
every field). A column that stands alone (bytecode, bytes, halves, e, inv) is one tight loop; the
columns that share a row's flags (carries and taken, the lookup keys and outputs, the timestamp
limbs) are one row loop per group, branch-free: the flags' selections are precomputed per program
row as masks and coefficients (``derived_table``), a lookup output is gathered only when it is
asked for, and range checks are reductions tested after their loop. Measured: the bytecode
gathers from the (18, rows) table are ~30 % faster than from its transpose; the per-group loops
are ~2.5x faster than one fused loop with a branch per column.

Compiled when this module is imported (explicit signature, ``cache=True``: loaded from numba's
on-disk cache after the first time), which ``columns.make_builder`` does before any stage runs.
Sits in ``relations``; imports numpy and numba only.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types as _nt

__all__ = ["build", "derived_table", "keys_fit", "OK", "ERR_PC", "ERR_TS", "ERR_INV", "ERR_KEY", "LAYOUT_CHECK"]

OK, ERR_PC, ERR_TS, ERR_INV, ERR_KEY = 0, 1, 2, 3, 4

# Column positions the kernel writes (COLUMNS order); ``columns`` compares them with COLUMN_INDEX.
LAYOUT_CHECK: dict[str, int] = {
    "pc": 0, "rd": 1, "f_halt": 17, "x0": 18, "y0": 22, "z0": 26, "w_lo": 30, "w_hi": 31,
    "mold_lo": 32, "mold_hi": 33, "c0": 34, "c1": 35, "e": 36, "inv": 37, "taken": 38,
    "a0": 39, "b0": 43, "o1_0": 47, "o2_0": 51, "dB_lo": 55, "dB_hi": 56, "dA_lo": 57,
    "dA_hi": 58, "dM_lo": 59, "dM_hi": 60, "pad0": 61,
}

_U = np.uint64
_M8 = _U(0xFF)
_M16 = _U(0xFFFF)
_M11 = _U(0x7FF)
_S8 = _U(8)
_S11 = _U(11)
_S16 = _U(16)
_S24 = _U(24)
_Z = _U(0)
_ONE = _U(1)
_TWO = _U(2)
_KEYS = _U(1 << 19)
_INVS = _U(1 << 17)

# The derived table: per program row, the reference's selections as masks and coefficients.
D_AMASK, D_MY, D_AB, D_MJ, D_ADD, D_SUB, D_BMASK, D_MMASK = 0, 1, 2, 3, 4, 5, 6, 7
D_BEQ, D_BNE, D_BLTU, D_JAL = 8, 9, 10, 11
D_WIDTH = 12
_ALL = ~_U(0)


def derived_table(bc: dict[str, np.ndarray]) -> np.ndarray:
    """(rows, D_WIDTH) uint64 from the bytecode columns: what each row's flags select, so that the
    row loops are branch-free. With sel_z = f_add + f_sub + f_beq + f_bne + f_bltu != 0 (the
    reference's precedence: sel_z, then f_bitwise, then f_shift):
    a_j = z_j if sel_z else x_j (AMASK all ones or zero); b_j = MY y_j + AB + MJ j, which is 0,
    y_j + lcode, lcode + j or y_j; c0/c1 take the add carries under ADD, the borrows under SUB
    (f_add = 0 and f_sub + f_beq + f_bne + f_bltu != 0), else 0; dB and dM are masked by
    BMASK (use_imm == 0) and MMASK (f_load + f_store != 0); taken reads BEQ, BNE, BLTU, JAL."""
    u = np.uint64
    zero = np.zeros_like(bc["pc"], dtype=u)
    sel_z = (bc["f_add"] + bc["f_sub"] + bc["f_beq"] + bc["f_bne"] + bc["f_bltu"]) != 0
    f_bw = bc["f_bitwise"] != 0
    f_sh = bc["f_shift"] != 0
    f_add = bc["f_add"] != 0
    f_sub = (bc["f_sub"] + bc["f_beq"] + bc["f_bne"] + bc["f_bltu"]) != 0
    plain = ~sel_z & ~f_bw & ~f_sh
    d = np.zeros((zero.shape[0], D_WIDTH), dtype=u)
    d[:, D_AMASK] = np.where(sel_z, _ALL, u(0))
    d[:, D_MY] = (~sel_z & (f_bw | plain)).astype(u)
    d[:, D_AB] = np.where(~sel_z & (f_bw | f_sh), bc["lcode"], zero)
    d[:, D_MJ] = (~sel_z & ~f_bw & f_sh).astype(u)
    d[:, D_ADD] = np.where(f_add, _ALL, u(0))
    d[:, D_SUB] = np.where(~f_add & f_sub, _ALL, u(0))
    d[:, D_BMASK] = np.where(bc["use_imm"] == 0, _ALL, u(0))
    d[:, D_MMASK] = np.where((bc["f_load"] + bc["f_store"]) != 0, _ALL, u(0))
    d[:, D_BEQ] = bc["f_beq"]
    d[:, D_BNE] = bc["f_bne"]
    d[:, D_BLTU] = bc["f_bltu"]
    d[:, D_JAL] = bc["f_jal"]
    return d


def keys_fit(der: np.ndarray) -> bool:
    """Whether every lookup key b_j = MY y_j + AB + MJ j (y_j < 256, j < 4) stays below 2^11, so
    that a_j + 256 b_j indexes the 2^19-entry table: true for every program the layout makes
    (lcode < 1664). The kernel refuses lookups without it (the reference then builds them)."""
    bound = np.uint64(255) * der[:, D_MY] + np.uint64(3) * der[:, D_MJ]
    return bool(np.all(der[:, D_AB] < np.uint64(1 << 11) - bound)) if der.shape[0] else True

_A = _nt.Array(_nt.uint64, 1, "C")
_AR = _nt.Array(_nt.uint64, 1, "C", readonly=True)
_SIG = _nt.int64(
    _A, _A, _A, _A, _A, _A, _A, _A, _A,  # pc x y z w mold tB_prev tA_prev tM_prev
    _nt.int64,  # start cycle
    _nt.Array(_nt.uint64, 2, "C"), _nt.Array(_nt.uint64, 2, "C"), _nt.int64,  # bytecode, derived, length
    _nt.boolean,  # keys_fit(der)
    _AR, _AR, _AR,  # t_o1, t_o2, inverse table
    _nt.Array(_nt.boolean, 1, "C", readonly=True),  # need
    _nt.UniTuple(_A, 64),  # type: ignore[no-untyped-call]  # outs
)


@numba.njit(inline="always", cache=True)
def _field(src, shift, mask, o):  # type: ignore[no-untyped-def]  # pragma: no cover
    # One value column: (src >> shift) & mask, a loop the compiler vectorizes.
    for k in range(src.shape[0]):
        o[k] = (src[k] >> shift) & mask


@numba.njit(_SIG, cache=True, nogil=True, boundscheck=False)
def build(pc, x, y, z, w, mold, tb, ta, tm, start, bct, der, bc_len, keys_ok, t_o1, t_o2, inv_tab, need, outs):  # type: ignore[no-untyped-def]  # noqa: E501  # pragma: no cover
    # Column-major where a column stands alone (tight loops the compiler vectorizes), one row loop
    # per group where columns share the row's flags (carries, lookups, timestamps). The need
    # flags of a row loop are copied to locals first: the stores could alias ``need`` for all
    # the compiler knows, and it would reload them every row.
    n = pc.shape[0]
    nd = need
    need_bc = False
    for j in range(1, 18):
        need_bc = need_bc or nd[j]
    need_c = nd[34] or nd[35] or nd[38]
    need_lk = False
    for j in range(39, 55):
        need_lk = need_lk or nd[j]
    need_ts = False
    for j in range(55, 61):
        need_ts = need_ts or nd[j]
    # Every column computed from the flags reads the bytecode, so the pc check comes with them.
    need_idx = need_bc or need_c or need_lk or need_ts

    if need_idx:
        top = _Z
        for k in range(n):
            top = max(top, pc[k])
        if n and top >= _U(bc_len):
            return ERR_PC
    if need_lk and not keys_ok:
        return ERR_KEY
    if nd[0]:
        o = outs[0]
        for k in range(n):
            o[k] = pc[k]
    for j in range(1, 18):
        if nd[j]:
            o = outs[j]
            col = bct[j]
            for k in range(n):
                o[k] = col[np.intp(pc[k])]

    for j in range(4):
        sh = _S8 * _U(j)
        if nd[18 + j]:
            _field(x, sh, _M8, outs[18 + j])
        if nd[22 + j]:
            _field(y, sh, _M8, outs[22 + j])
        if nd[26 + j]:
            _field(z, sh, _M8, outs[26 + j])
    all_bits = ~_Z
    if nd[30]:
        _field(w, _Z, _M16, outs[30])
    if nd[31]:
        _field(w, _S16, all_bits, outs[31])
    if nd[32]:
        _field(mold, _Z, _M16, outs[32])
    if nd[33]:
        _field(mold, _S16, all_bits, outs[33])

    if nd[36] or nd[38]:
        # e first: taken reads it from its column
        o_e = outs[36] if nd[36] else outs[38]
        for k in range(n):
            zv = z[k]
            o_e[k] = _ONE if (zv & _M16) + (zv >> _S16) == _Z else _Z
    if nd[37]:
        # every half-word sum inside the table first (an OR of values < 2^17 stays < 2^17)
        bits = _Z
        for k in range(n):
            zv = z[k]
            bits |= (zv & _M16) + (zv >> _S16)
        if bits >= _INVS:
            return ERR_INV
        o = outs[37]
        for k in range(n):
            zv = z[k]
            o[k] = inv_tab[np.intp((zv & _M16) + (zv >> _S16))]

    if need_c:
        w_c0, w_c1, w_tk = nd[34], nd[35], nd[38]
        o_c0, o_c1, o_tk = outs[34], outs[35], outs[38]
        o_e = outs[36] if nd[36] else outs[38]
        for k in range(n):
            dq = der[np.intp(pc[k])]
            xv = x[k]
            yv = y[k]
            x_lo, x_hi = xv & _M16, xv >> _S16
            y_lo, y_hi = yv & _M16, yv >> _S16
            a0 = (x_lo + y_lo) >> _S16
            a1 = (x_hi + y_hi + a0) >> _S16
            s0 = _ONE if x_lo < y_lo else _Z
            s1 = _ONE if x_hi < y_hi + s0 else _Z
            c0 = (a0 & dq[D_ADD]) | (s0 & dq[D_SUB])
            c1 = (a1 & dq[D_ADD]) | (s1 & dq[D_SUB])
            if w_c0:
                o_c0[k] = c0
            if w_c1:
                o_c1[k] = c1
            if w_tk:
                e = o_e[k]
                o_tk[k] = dq[D_BEQ] * e + dq[D_BNE] * (_ONE - e) + dq[D_BLTU] * c1 + dq[D_JAL]

    if need_lk:
        w_a0, w_a1, w_a2, w_a3 = nd[39], nd[40], nd[41], nd[42]
        w_b0, w_b1, w_b2, w_b3 = nd[43], nd[44], nd[45], nd[46]
        w_p0, w_p1, w_p2, w_p3 = nd[47], nd[48], nd[49], nd[50]
        w_q0, w_q1, w_q2, w_q3 = nd[51], nd[52], nd[53], nd[54]
        o_a0, o_a1, o_a2, o_a3 = outs[39], outs[40], outs[41], outs[42]
        o_b0, o_b1, o_b2, o_b3 = outs[43], outs[44], outs[45], outs[46]
        o_p0, o_p1, o_p2, o_p3 = outs[47], outs[48], outs[49], outs[50]
        o_q0, o_q1, o_q2, o_q3 = outs[51], outs[52], outs[53], outs[54]
        for k in range(n):
            dq = der[np.intp(pc[k])]
            am = dq[D_AMASK]
            my = dq[D_MY]
            ab = dq[D_AB]
            mj = dq[D_MJ]
            xv = x[k]
            yv = y[k]
            zv = z[k]
            # a_j = z_j under sel_z else x_j; b_j = my y_j + ab + mj j (see derived_table)
            a0 = (zv & _M8 & am) | (xv & _M8 & ~am)
            a1 = ((zv >> _S8) & _M8 & am) | ((xv >> _S8) & _M8 & ~am)
            a2 = ((zv >> _S16) & _M8 & am) | ((xv >> _S16) & _M8 & ~am)
            a3 = ((zv >> _S24) & _M8 & am) | ((xv >> _S24) & _M8 & ~am)
            b0 = my * (yv & _M8) + ab
            b1 = my * ((yv >> _S8) & _M8) + ab + mj
            b2 = my * ((yv >> _S16) & _M8) + ab + mj * _TWO
            b3 = my * ((yv >> _S24) & _M8) + ab + mj * _U(3)
            i0 = a0 + (b0 << _S8)
            i1 = a1 + (b1 << _S8)
            i2 = a2 + (b2 << _S8)
            i3 = a3 + (b3 << _S8)  # < 2^19: a_j < 256 and keys_fit bounds b_j below 2^11
            if w_a0:
                o_a0[k] = a0
            if w_a1:
                o_a1[k] = a1
            if w_a2:
                o_a2[k] = a2
            if w_a3:
                o_a3[k] = a3
            if w_b0:
                o_b0[k] = b0
            if w_b1:
                o_b1[k] = b1
            if w_b2:
                o_b2[k] = b2
            if w_b3:
                o_b3[k] = b3
            if w_p0:
                o_p0[k] = t_o1[np.intp(i0)]
            if w_p1:
                o_p1[k] = t_o1[np.intp(i1)]
            if w_p2:
                o_p2[k] = t_o1[np.intp(i2)]
            if w_p3:
                o_p3[k] = t_o1[np.intp(i3)]
            if w_q0:
                o_q0[k] = t_o2[np.intp(i0)]
            if w_q1:
                o_q1[k] = t_o2[np.intp(i1)]
            if w_q2:
                o_q2[k] = t_o2[np.intp(i2)]
            if w_q3:
                o_q3[k] = t_o2[np.intp(i3)]

    if need_ts:
        w_bl, w_bh, w_al, w_ah, w_ml, w_mh = nd[55], nd[56], nd[57], nd[58], nd[59], nd[60]
        o_bl, o_bh, o_al, o_ah, o_ml, o_mh = outs[55], outs[56], outs[57], outs[58], outs[59], outs[60]
        c = _U(start)
        high = _Z
        for k in range(n):
            dq = der[np.intp(pc[k])]
            d_b = (_TWO * c - tb[k]) & dq[D_BMASK]
            d_a = _TWO * c + _ONE - ta[k]
            d_m = (c - tm[k]) & dq[D_MMASK]
            c += _ONE
            h_b, h_a, h_m = d_b >> _S11, d_a >> _S11, d_m >> _S11
            high |= h_b | h_a | h_m  # checked after the loop: the block is dropped on an error
            if w_bl:
                o_bl[k] = d_b & _M11
            if w_bh:
                o_bh[k] = h_b
            if w_al:
                o_al[k] = d_a & _M11
            if w_ah:
                o_ah[k] = h_a
            if w_ml:
                o_ml[k] = d_m & _M11
            if w_mh:
                o_mh[k] = h_m
        if (high >> _S11) != _Z:
            return ERR_TS
    return OK
