"""Compiled Reed-Solomon encoder over BabyBear: numba twins of ``prover.pcs.ntt``'s encoders.

Public names: ``encode_columns`` (twin of ``ntt.rs_encode_columns``) and ``encode_coset`` (twin
of ``ntt.encode_coset``, one coset into a row-major (B, C) array); each returns False, touching
nothing, when it does not apply, and the caller then runs the reference.

What: ``encode_columns(rows, out, col0, log_blowup)`` gives exactly the residues of the numpy
reference (``prover.pcs.ntt``, kept there as the reference and run against this by
tests/test_ntt_kernel.py): row r of (B, C), read as coefficients, is evaluated on the order
n = C * 2^b subgroup, and position p = beta * C + p' of its codeword, the evaluation at
w_n^bitrev_n(p), is stored at ``out[p, col0 + r]``. As in the reference, coset beta is the row
scaled by w_n^(i * bitrev_b(beta)) followed by a size-C DIF (natural in, bit-reversed out), which
is what a size-n DIF of the zero-padded row computes block by block, so the order is the same.

How (why it is fast): ``_GROUP`` = 16 rows are encoded together in an entry-major u32 buffer
(C, 16), the layout of the Merkle leaves: every butterfly then works on one 64-byte line (16 rows,
one twiddle), which the compiler turns into AVX vector code at every layer, however narrow, and
every store into the leaf-major matrix is one whole line. The coset scaling is fused into the
first pass, layers run in fused radix-4 pairs (one read and write of the buffer per two layers),
and the last one or two (twiddle-free but for w_4) are fused with the store. Products use
Montgomery multiplication with R = 2^32: twiddles and shifts are kept as w * R mod P, so
mont(a * wR) = a * w mod P exactly and canonically (< P); every operand is below 2^32, so the
compiler uses 32x32->64 vector multiplies.

Where it sits: a field module (modular arithmetic lives only in the field modules); it imports
numpy, numba and ``prover.field`` for the constants, nothing from ``prover.pcs``. The kernels have
explicit signatures, so they are compiled (or loaded from numba's on-disk cache, ``cache=True``)
when this module is imported, before any stage runs, never inside one.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np
from numba import types as _nt

from prover import field
from prover.field import U64

P: int = field.P
_R_LOG = 32
_R_MOD_P = (1 << _R_LOG) % P
# -P^-1 mod 2^32, the Montgomery constant: t + ((t * _PINV) mod 2^32) * P is divisible by 2^32.
_PINV_INT = (-pow(P, -1, 1 << _R_LOG)) % (1 << _R_LOG)
# Import-time checks of the constants the exactness argument rests on (see _mont).
if (P * _PINV_INT + 1) % (1 << _R_LOG) or not 2 * P < (1 << _R_LOG) or not P.bit_length() == 31:
    raise ImportError("fieldntt: Montgomery constants do not fit the modulus")

_P64 = np.uint64(P)
_MASK = np.uint64((1 << _R_LOG) - 1)
_PINV = np.uint64(_PINV_INT)
_S32 = np.uint64(_R_LOG)

# Rows stored together: 16 u32 entries of one leaf are one 64-byte line.
_GROUP = 16
# Largest supported codeword, as in the reference (the subgroup order 2^27).
_MAX_LOG_N = field.TWO_ADICITY

_JIT = {"cache": True, "nogil": True, "boundscheck": False}


@numba.njit(inline="always", cache=True)
def _mont(t: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # t * 2^-32 mod P for t < 2P * P, exactly and reduced. m = t * (-P^-1) mod 2^32 makes
    # t + m P divisible by 2^32; (t + m P) / 2^32 < (2 P^2 + 2^32 P) / 2^32 < 2P (as 2P < 2^32),
    # and it is congruent to t 2^-32, so one conditional subtraction gives the residue.
    m = ((t & _MASK) * _PINV) & _MASK
    u = (t + m * _P64) >> _S32
    return min(u, u - _P64)  # u - P wraps to above 2^63 when u < P: branch-free, vectorizes


@numba.njit(inline="always", cache=True)
def _add(a: np.uint64, b: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    s = a + b
    return min(s, s - _P64)


@numba.njit(inline="always", cache=True)
def _sub(a: np.uint64, b: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # a - b mod P as a value in [0, P): a + P - b < 2P never wraps.
    d = a + _P64 - b
    return min(d, d - _P64)


_U32_1R = _nt.Array(_nt.uint32, 1, "C", readonly=True)
_U32_2R = _nt.Array(_nt.uint32, 2, "C", readonly=True)
_U32_2 = _nt.Array(_nt.uint32, 2, "C")
_U64_2R = _nt.Array(_nt.uint64, 2, "C", readonly=True)
_U64_2 = _nt.Array(_nt.uint64, 2, "C")
_I64 = _nt.int64


@numba.njit(_nt.void(_U32_2, _I64, _I64, _I64, _U32_1R), inline="always", **_JIT)
def _radix4(x: np.ndarray, lo: int, hi: int, h: int, tw: np.ndarray) -> None:  # pragma: no cover
    # The DIF layers of half-size h and h/2 on entries lo..hi of x (C, _GROUP), fused: one read
    # and one write of each entry for two layers. Layer h pairs (i, i + h) at w_{2h}^j for i = j
    # and i = j + h/2; layer h/2 then pairs (j, j + h/2) in both halves at w_h^j. The inner loop
    # runs over the _GROUP rows of one entry (one 64-byte line), the same twiddle for all.
    # Every difference a + P - b lies in (0, 2P) and fits 32 bits; the masks say so to the compiler.
    q = h >> 1
    for blk in range(lo, hi, 2 * h):
        for j in range(q):
            w1 = np.uint64(tw[h - 1 + j])
            w2 = np.uint64(tw[h - 1 + j + q])
            w3 = np.uint64(tw[q - 1 + j])
            r0 = x[blk + j]
            r1 = x[blk + j + q]
            r2 = x[blk + j + h]
            r3 = x[blk + j + h + q]
            for r in range(_GROUP):
                a0 = np.uint64(r0[r])
                a1 = np.uint64(r1[r])
                a2 = np.uint64(r2[r])
                a3 = np.uint64(r3[r])
                b0 = _add(a0, a2)
                b2 = _mont(((a0 + _P64 - a2) & _MASK) * w1)
                b1 = _add(a1, a3)
                b3 = _mont(((a1 + _P64 - a3) & _MASK) * w2)
                r0[r] = _add(b0, b1)
                r1[r] = _mont(((b0 + _P64 - b1) & _MASK) * w3)
                r2[r] = _add(b2, b3)
                r3[r] = _mont(((b2 + _P64 - b3) & _MASK) * w3)


@numba.njit(_nt.void(_U32_2R, _U32_1R, _U32_2, _U32_1R), **_JIT)
def _scaled_first_pass(src: np.ndarray, sh: np.ndarray, x: np.ndarray, tw: np.ndarray) -> None:  # pragma: no cover
    # x <- the first two DIF layers (h = C/2, C/4) of src scaled entry-wise by sh (Montgomery
    # form): the coset scaling fused into the load, saving one pass over the 2 MiB buffer. C >= 4.
    n = x.shape[0]
    h = n >> 1
    q = h >> 1
    for j in range(q):
        w1 = np.uint64(tw[h - 1 + j])
        w2 = np.uint64(tw[h - 1 + j + q])
        w3 = np.uint64(tw[q - 1 + j])
        s0 = np.uint64(sh[j])
        s1 = np.uint64(sh[j + q])
        s2 = np.uint64(sh[j + h])
        s3 = np.uint64(sh[j + h + q])
        u0 = src[j]
        u1 = src[j + q]
        u2 = src[j + h]
        u3 = src[j + h + q]
        r0 = x[j]
        r1 = x[j + q]
        r2 = x[j + h]
        r3 = x[j + h + q]
        for r in range(_GROUP):
            a0 = _mont(np.uint64(u0[r]) * s0)
            a1 = _mont(np.uint64(u1[r]) * s1)
            a2 = _mont(np.uint64(u2[r]) * s2)
            a3 = _mont(np.uint64(u3[r]) * s3)
            b0 = _add(a0, a2)
            b2 = _mont(((a0 + _P64 - a2) & _MASK) * w1)
            b1 = _add(a1, a3)
            b3 = _mont(((a1 + _P64 - a3) & _MASK) * w2)
            r0[r] = _add(b0, b1)
            r1[r] = _mont(((b0 + _P64 - b1) & _MASK) * w3)
            r2[r] = _add(b2, b3)
            r3[r] = _mont(((b2 + _P64 - b3) & _MASK) * w3)


@numba.njit(_nt.void(_U32_2, _U32_1R, _I64), **_JIT)
def _dif_group(x: np.ndarray, tw: np.ndarray, h0: int) -> None:  # pragma: no cover - compiled
    # The DIF layers of half-size h0, h0/2, ... down to 4 or 8 in place along axis 0 of x
    # (C, _GROUP), entries < P, in radix-4 pairs; ``_store_pass`` does the last one or two
    # (h = 2, 1). tw holds the Montgomery twiddles w_{2h}^j R, j < h, of the layer of half-size
    # h at offset h - 1. (Finishing each L2-sized block depth-first was measured no faster.)
    n = x.shape[0]
    h = h0
    while h >= 4:
        _radix4(x, 0, n, h, tw)
        h >>= 2


@numba.njit(inline="always", cache=True)
def _store_pass(x, out, base, c0, g, h, tw):  # type: ignore[no-untyped-def]  # pragma: no cover
    # The last DIF layers (h = 2 and 1, or 1 alone, or none when h = 0) of x, written straight
    # into the leaf rows out[base + p, c0 : c0 + g] instead of back into x: one pass fewer.
    # Both have twiddle 1 but for w_4 (layer 2, j = 1, at tw[2]). Output order is bit-reversed.
    n = x.shape[0]
    if h == 2:
        w = np.uint64(tw[2])
        for blk in range(0, n, 4):
            r0 = x[blk]
            r1 = x[blk + 1]
            r2 = x[blk + 2]
            r3 = x[blk + 3]
            o0 = out[base + blk]
            o1 = out[base + blk + 1]
            o2 = out[base + blk + 2]
            o3 = out[base + blk + 3]
            for r in range(g):
                a0 = np.uint64(r0[r])
                a1 = np.uint64(r1[r])
                a2 = np.uint64(r2[r])
                a3 = np.uint64(r3[r])
                b0 = _add(a0, a2)
                b2 = _sub(a0, a2)
                b1 = _add(a1, a3)
                b3 = _mont(((a1 + _P64 - a3) & _MASK) * w)
                o0[c0 + r] = _add(b0, b1)
                o1[c0 + r] = _sub(b0, b1)
                o2[c0 + r] = _add(b2, b3)
                o3[c0 + r] = _sub(b2, b3)
    elif h == 1:
        for i in range(0, n, 2):
            r0 = x[i]
            r1 = x[i + 1]
            o0 = out[base + i]
            o1 = out[base + i + 1]
            for r in range(g):
                a = np.uint64(r0[r])
                b = np.uint64(r1[r])
                o0[c0 + r] = _add(a, b)
                o1[c0 + r] = _sub(a, b)
    else:
        for p in range(n):
            xp = x[p]
            line = out[base + p]
            for r in range(g):
                line[c0 + r] = xp[r]


@numba.njit(
    [
        _nt.void(_U64_2R, _U32_2, _I64, _U32_2R, _U32_1R, _U32_2, _U32_2),
        _nt.void(_U64_2R, _U64_2, _I64, _U32_2R, _U32_1R, _U32_2, _U32_2),
    ],
    **_JIT,
)
def _encode_kernel(
    rows: np.ndarray,
    out: np.ndarray,
    col0: int,
    shifts: np.ndarray,
    tw: np.ndarray,
    src: np.ndarray,
    x: np.ndarray,
) -> None:  # pragma: no cover - compiled
    # rows (B, C) reduced; shifts (2^b, C) Montgomery coset shifts; src, x (C, _GROUP) scratch.
    # _GROUP rows at a time: transposed once into src (entry-major, row innermost), then per
    # coset scaled into x, transformed, and stored as whole lines out[beta C + p, c0 : c0 + g].
    # A short last group is padded with zero rows, computed and never stored. (The coset scaling
    # fused into the first radix-4 pass was measured ~15 % faster than a pass of its own.)
    batch, c = rows.shape
    cosets = shifts.shape[0]
    for g0 in range(0, batch, _GROUP):
        g = min(_GROUP, batch - g0)
        c0 = col0 + g0
        for i in range(c):
            line = src[i]
            for r in range(g):
                line[r] = rows[g0 + r, i]
            for r in range(g, _GROUP):
                line[r] = 0
        for beta in range(cosets):
            sh = shifts[beta]
            if c >= 4:
                _scaled_first_pass(src, sh, x, tw)
                h = c >> 3
            else:
                for i in range(c):
                    s = np.uint64(sh[i])
                    for r in range(_GROUP):
                        x[i, r] = _mont(np.uint64(src[i, r]) * s)
                h = c >> 1
            _dif_group(x, tw, h)
            while h >= 4:  # the layers _dif_group did
                h >>= 2
            _store_pass(x, out, beta * c, c0, g, h, tw)


@numba.njit(_nt.void(_U64_2R, _U64_2, _U32_1R, _U32_1R, _U32_2, _U32_2), **_JIT)
def _coset_kernel(
    rows: np.ndarray, out: np.ndarray, sh: np.ndarray, tw: np.ndarray, src: np.ndarray, x: np.ndarray
) -> None:  # pragma: no cover - compiled
    # One coset, row-major: out[r, p'] = codeword_r[beta C + p'] for rows (B, C) reduced, sh the
    # coset's Montgomery shifts. Same passes as _encode_kernel, then a transposed store.
    batch, c = rows.shape
    for g0 in range(0, batch, _GROUP):
        g = min(_GROUP, batch - g0)
        for i in range(c):
            line = src[i]
            for r in range(g):
                line[r] = rows[g0 + r, i]
            for r in range(g, _GROUP):
                line[r] = 0
        if c >= 4:
            _scaled_first_pass(src, sh, x, tw)
            h = c >> 3
        else:
            for i in range(c):
                s = np.uint64(sh[i])
                for r in range(_GROUP):
                    x[i, r] = _mont(np.uint64(src[i, r]) * s)
            h = c >> 1
        _dif_group(x, tw, h)
        while h >= 4:
            h >>= 2
        _store_pass(x, x, 0, 0, _GROUP, h, tw)  # in place: each entry is read before written
        for r in range(g):
            orow = out[g0 + r]
            for p in range(c):
                orow[p] = x[p, r]


def _powers(step: int, count: int) -> U64:
    """[step^i mod P]_{i < count} by doubling (products of reduced values < 2^62 fit uint64)."""
    out = np.ones(count, dtype=np.uint64)
    k = 1
    while k < count:
        out[k : 2 * k] = out[:k] * np.uint64(pow(step, k, P)) % _P64
        k *= 2
    return out


def _to_mont(values: U64) -> np.ndarray:
    return (values * np.uint64(_R_MOD_P) % _P64).astype(np.uint32)


@lru_cache(maxsize=32)
def _mont_twiddles(log_c: int) -> np.ndarray:
    """Layer h (half-size, h < C) of the size-C DIF at offset h - 1: w_{2h}^j R mod P, j < h."""
    c = 1 << log_c
    top = _powers(field.root_of_unity(log_c), max(c // 2, 1))
    parts = [top[:: (c // 2) // h] for h in (1 << lvl for lvl in range(log_c))]
    flat = _to_mont(np.concatenate(parts)) if parts else np.zeros(1, dtype=np.uint32)
    flat.setflags(write=False)
    return flat


def _bitrev(x: int, bits: int) -> int:
    return int(format(x, f"0{bits}b")[::-1], 2) if bits else 0


@lru_cache(maxsize=32)
def _mont_shifts(log_c: int, log_blowup: int) -> np.ndarray:
    """Row beta: w_n^(i * bitrev_b(beta)) R mod P for i < C (n = C 2^b), the coset scaling."""
    w = field.root_of_unity(log_c + log_blowup)
    c = 1 << log_c
    out = np.stack([_to_mont(_powers(pow(w, _bitrev(beta, log_blowup), P), c)) for beta in range(1 << log_blowup)])
    out.setflags(write=False)
    return out


def encode_columns(rows: U64, out: np.ndarray, col0: int, log_blowup: int) -> bool:
    """Encode reduced rows (B, C) into out[p, col0 + r] (the reference's layout and residues).

    ``out`` is C-contiguous uint32 or uint64 of shape (C * 2^b, >= col0 + B); the caller has
    checked the shapes. Returns False, touching nothing, when the kernel does not apply (an
    entry not reduced, another dtype, an out-of-range size): the caller then runs the reference.
    """
    c = rows.shape[1]
    if out.dtype not in (np.uint32, np.uint64) or not 0 <= log_blowup or c < 2:
        return False
    log_c = c.bit_length() - 1
    if log_c + log_blowup > _MAX_LOG_N:
        return False
    msg = np.ascontiguousarray(rows, dtype=np.uint64)
    if msg.size and int(msg.max()) >= P:
        return False
    scratch = np.empty((2, c, _GROUP), dtype=np.uint32)
    _encode_kernel(msg, out, col0, _mont_shifts(log_c, log_blowup), _mont_twiddles(log_c), scratch[0], scratch[1])
    return True


def encode_coset(rows: U64, beta: int, log_blowup: int, out: U64) -> bool:
    """Codeword positions beta C .. beta C + C - 1 of every reduced row of (B, C) into out (B, C).

    The residues of ``prover.pcs.ntt.encode_coset`` (the caller has checked the shapes; ``out``
    is C-contiguous uint64). Returns False, touching nothing, when the kernel does not apply.
    """
    c = rows.shape[1]
    if c < 2 or not 0 <= beta < (1 << log_blowup):
        return False
    log_c = c.bit_length() - 1
    if log_c + log_blowup > _MAX_LOG_N:
        return False
    msg = np.ascontiguousarray(rows, dtype=np.uint64)
    if msg.size and int(msg.max()) >= P:
        return False
    scratch = np.empty((2, c, _GROUP), dtype=np.uint32)
    sh = _mont_shifts(log_c, log_blowup)[beta]
    _coset_kernel(msg, out, sh, _mont_twiddles(log_c), scratch[0], scratch[1])
    return True
