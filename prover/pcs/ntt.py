"""Batched radix-2 NTTs over BabyBear and the Reed-Solomon encoder of the Ligero PCS.

What: the forward transform of many rows at once (decimation in frequency, natural-order input,
bit-reversed output, so no permutation pass is ever made) and ``rs_encode``, which evaluates each
row, read as the coefficients of a polynomial of degree < C, on all n = C * 2^b points of the
order-n subgroup. Position p of a codeword holds the evaluation at w_n^bitrev(p) (``eval_exponents``);
the order is a fixed permutation of the subgroup, which is all a Reed-Solomon code needs.

Public names: ``twiddles``, ``dif_rows``, ``ntt_bitrev``, ``eval_exponents``, ``rs_encode``,
``rs_encode_columns``, and ``dif_butterfly`` / ``mul_into`` (re-exported from ``prover.field``).

Where it sits: ``prover.pcs`` imports ``prover.field`` (constants, roots of unity, ``mul``, and the
fused DIF butterfly and multiply-into kernels the encoder spends nearly all its time in), nothing
above it. No modular arithmetic is written here.

Speed (the prover's biggest fixed cost): every layer is a handful of whole-array numpy calls on
preallocated buffers. Layers with wide butterflies (half-size h >= ``_SPLIT``) run on the rows as
they lie, a few rows at a time so they stay in cache; the narrow ones would give numpy inner loops
of length h, so the rows are cut into blocks of ``_SPLIT`` entries and transposed (entry in block
major) so that every call again streams long contiguous runs, slab by slab. ``rs_encode_columns``
transposes with the row index innermost, which is also the layout of the Merkle leaves, and writes
``_STORE_ROWS`` rows (one 64-byte line of u32) per leaf at a time.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from prover import field, fieldntt
from prover.field import U64

_P = np.uint64(field.P)

# Narrow layers (h < _SPLIT) run on transposed blocks; 64 keeps wide-layer inner loops >= 64 long.
_SPLIT = 64
# Entries per slab of the transposed narrow-layer phase: 2^17 * 8 bytes = 1 MiB, about L2.
_SLAB = 1 << 17
# Rows per wide-layer pass of ``rs_encode_columns``: at most 4, and at most _WIDE_ENTRIES codeword
# entries (2 MiB of u64) so the pass stays cache resident (v1: 4 rows of n = 2^17 measured best,
# 16 slower; at rate 1/8, n = 2^18 at 2^20, 1 row measured ~15 % faster than 2 and 4).
_WIDE_ROWS = 4
_WIDE_ENTRIES = 1 << 18
# Leaf columns per store into the commitment matrix: 16 u32 entries are one 64-byte line.
_STORE_ROWS = 16
# rs_encode_columns and encode_coset run the compiled encoder of ``prover.fieldntt`` (same
# residues, ~5x less CPU); the numpy code below stays as their reference. Only
# tests/test_ntt_kernel.py turns it off.
_USE_KERNEL = True


# The fused butterfly and multiply-into kernels live in ``prover.field`` (the only module that
# writes modular arithmetic); re-exported here under their historical names.
dif_butterfly = field.dif_butterfly
mul_into = field.mul_into


# ----------------------------------------------------------------------------------- twiddles


@lru_cache(maxsize=64)
def twiddles(log_n: int) -> tuple[U64, ...]:
    """Per-layer twiddles of the size-2^log_n DIF: entry l holds w_{2h}^j, j < h, for h = 2^l.

    Cached per size (read-only arrays); built by doubling with ``field.mul``.
    """
    if not 0 <= log_n <= field.TWO_ADICITY:
        raise ValueError(f"NTT size 2^{log_n} outside 1..2^{field.TWO_ADICITY}")
    half = (1 << log_n) >> 1
    top = np.ones(max(half, 1), dtype=np.uint64)
    if half:
        w = field.root_of_unity(log_n)
        k = 1
        while k < half:
            top[k : 2 * k] = field.mul(top[:k], np.uint64(pow(w, k, field.P)))
            k *= 2
    layers: list[U64] = []
    for lvl in range(log_n):
        h = 1 << lvl
        arr = np.ascontiguousarray(top[:: half // h]) if half else top
        arr.setflags(write=False)
        layers.append(arr)
    return tuple(layers)


# ------------------------------------------------------------------------------- the transform


def _check_rows(rows: U64) -> int:
    if rows.ndim != 2 or rows.dtype != np.uint64 or not rows.flags.c_contiguous:
        raise ValueError("expected a C-contiguous uint64 array of shape (batch, n)")
    n = int(rows.shape[1])
    if n < 1 or n & (n - 1):
        raise ValueError(f"row length {n} is not a power of two")
    return n.bit_length() - 1


def dif_rows(rows: U64) -> U64:
    """In-place DIF NTT of every row of a contiguous (batch, n) array; returns ``rows``.

    Row r becomes [sum_i x_i w_n^(i * bitrev(p))]_p (bit-reversed output order).
    """
    log_n = _check_rows(rows)
    batch, n = rows.shape
    if n == 1 or batch == 0:
        return rows
    tw = twiddles(log_n)
    split = min(_SPLIT, n)
    t = np.empty(batch * n // 2, dtype=np.uint64)
    q = np.empty(batch * n // 2, dtype=np.uint64)
    _dif_wide(rows, tw, split, t, q)
    if split == 1:
        return rows
    # Narrow layers: blocks of `split` entries, transposed so the block entry index is major.
    blocks = rows.reshape(-1, split)
    nblk = blocks.shape[0]
    slab = max(1, _SLAB // split)
    log_split = split.bit_length() - 1
    for s0 in range(0, nblk, slab):
        z = np.ascontiguousarray(blocks[s0 : s0 + slab].T)
        _dif_columns(z, log_split, tw, t, q)
        blocks[s0 : s0 + slab] = z.T
    return rows


def _dif_columns(z: U64, log_s: int, tw: tuple[U64, ...], t: U64, q: U64) -> None:
    """All layers of a size-2^log_s DIF along axis 0 of a contiguous (2^log_s, K) array."""
    s, k = z.shape
    size = s * k // 2
    for lvl in range(log_s - 1, -1, -1):
        h = 1 << lvl
        v = z.reshape(s // (2 * h), 2, h, k)
        shape = (s // (2 * h), h, k)
        dif_butterfly(
            v[:, 0], v[:, 1], tw[lvl][:, None], t[:size].reshape(shape), q[:size].reshape(shape)
        )


def _dif_wide(rows: U64, tw: tuple[U64, ...], split: int, t: U64, q: U64) -> None:
    """The layers of a DIF over each row of (batch, n) whose half-size h is >= split."""
    batch, n = rows.shape
    lvl = n.bit_length() - 2
    while lvl >= 0 and (1 << lvl) >= split:
        h = 1 << lvl
        v = rows.reshape(batch, n // (2 * h), 2, h)
        shape = (batch, n // (2 * h), h)
        size = batch * n // 2
        dif_butterfly(v[:, :, 0], v[:, :, 1], tw[lvl], t[:size].reshape(shape), q[:size].reshape(shape))
        lvl -= 1


def ntt_bitrev(values: U64) -> U64:
    """Forward NTT of each row of (batch, n) (or of one (n,) vector), output in bit-reversed order."""
    arr = np.array(values, dtype=np.uint64, copy=True, order="C")
    flat = arr.reshape(1, -1) if arr.ndim == 1 else arr
    dif_rows(flat)
    return arr


@lru_cache(maxsize=64)
def eval_exponents(log_n: int) -> U64:
    """e[p] = bitrev_{log_n}(p): codeword position p holds the evaluation at w_n^e[p]."""
    n = 1 << log_n
    idx = np.arange(n, dtype=np.uint64)
    rev = np.zeros(n, dtype=np.uint64)
    for bit in range(log_n):
        rev |= ((idx >> np.uint64(bit)) & np.uint64(1)) << np.uint64(log_n - 1 - bit)
    rev.setflags(write=False)
    return rev


@lru_cache(maxsize=64)
def _coset_shifts(log_c: int, log_blowup: int) -> U64:
    """Row beta (of 2^b): w_n^(i * bitrev_b(beta)) for i < C, n = C * 2^b.

    DIF over a row zero-padded from C to n entries: after its first b layers, block beta holds
    x_i w_n^(i * bitrev_b(beta)) (the upper entries being zero, those layers are plain scalings);
    each block then finishes as a size-C DIF. Output position beta * C + p' evaluates at
    w_n^bitrev_n(beta * C + p'), the same as a full size-n DIF.
    """
    log_n = log_c + log_blowup
    c = 1 << log_c
    w = field.root_of_unity(log_n)
    rev_b = eval_exponents(log_blowup)
    out = np.empty((1 << log_blowup, c), dtype=np.uint64)
    for beta in range(1 << log_blowup):
        step = pow(w, int(rev_b[beta]), field.P)
        row = np.ones(c, dtype=np.uint64)
        k = 1
        while k < c:
            row[k : 2 * k] = field.mul(row[:k], np.uint64(pow(step, k, field.P)))
            k *= 2
        out[beta] = row
    out.setflags(write=False)
    return out


def _check_message(rows: U64) -> int:
    if rows.ndim != 2 or rows.dtype != np.uint64:
        raise ValueError("expected a uint64 array of shape (batch, C)")
    c = int(rows.shape[1])
    if c < 1 or c & (c - 1):
        raise ValueError(f"message length {c} is not a power of two")
    return c


def rs_encode(rows: U64, log_blowup: int = 1) -> U64:
    """Reed-Solomon encode each row of (B, C): -> (B, C * 2^b), entry p = row(w_n^bitrev(p)).

    The row is read as coefficients (row[i] pairs with X^i). Linear over F, so an ext vector
    is encoded component by component.
    """
    c = _check_message(rows)
    out = np.empty((c << log_blowup, rows.shape[0]), dtype=np.uint64)
    rs_encode_columns(rows, out, 0, log_blowup)
    return np.ascontiguousarray(out.T)


def rs_encode_columns(rows: U64, out: np.ndarray, col0: int, log_blowup: int = 1) -> None:
    """Encode reduced rows (B, C) and store them transposed: out[p, col0 + r] = codeword_r[p].

    ``out`` is the (C * 2^b, total rows) leaf-major matrix of the commitment (an unsigned dtype
    of at least 32 bits); each of its rows is one Merkle leaf. ``_STORE_ROWS`` rows share one
    buffer; they go through the wide layers ``_WIDE_ROWS`` at a time (cache resident), then
    through the narrow layers together, slab by slab, in the transposed layout (position-in-block,
    block, row) whose innermost runs of ``_STORE_ROWS`` rows land in ``out`` as whole 64-byte lines.
    """
    c = _check_message(rows)
    batch = rows.shape[0]
    n = c << log_blowup
    if out.ndim != 2 or out.shape[0] != n or not 0 <= col0 <= out.shape[1] - batch:
        raise ValueError(f"output of shape {out.shape} cannot take {batch} codewords of {n} at {col0}")
    if not out.flags.c_contiguous:
        raise ValueError("output must be C-contiguous (it is written through a reshaped view)")
    if batch == 0:
        return
    if _USE_KERNEL and fieldntt.encode_columns(rows, out, col0, log_blowup):
        return
    split = min(_SPLIT, c)
    log_split = split.bit_length() - 1
    tw = twiddles(c.bit_length() - 1)
    store = min(batch, _STORE_ROWS)
    wide = max(1, min(store, _WIDE_ROWS, _WIDE_ENTRIES // n))
    y = np.empty((store, 1 << log_blowup, c), dtype=np.uint64)
    t = np.empty(max(wide * n // 2, _SLAB // 2), dtype=np.uint64)
    q = np.empty_like(t)
    leaves = out.reshape(n // split, split, out.shape[1])
    for s0 in range(0, batch, store):
        ns = min(store, batch - s0)
        ys = y[:ns]
        for r0 in range(0, ns, wide):
            yb = ys[r0 : r0 + wide]
            nb = yb.shape[0]
            _scale_into(rows[s0 + r0 : s0 + r0 + nb], log_blowup, yb, t)
            _dif_wide(yb.reshape(nb << log_blowup, c), tw, split, t, q)
        blocks = ys.reshape(ns, n // split, split)
        group = max(1, _SLAB // (split * ns))
        for g0 in range(0, n // split, group):
            z = np.ascontiguousarray(blocks[:, g0 : g0 + group].transpose(2, 1, 0))
            _dif_columns(z.reshape(split, -1), log_split, tw, t, q)
            leaves[g0 : g0 + group, :, col0 + s0 : col0 + s0 + ns] = z.transpose(1, 0, 2)


# Entries per in-place DIF call of ``encode_coset`` (2 MiB of u64: cache sized like the wide-layer
# passes above); also the size of its scratch.
_COSET_ENTRIES = 1 << 18


def coset_step(batch: int, c: int) -> int:
    """Rows per DIF call of ``encode_coset`` for a (batch, C) block; its scratch is (step, C)."""
    return max(1, min(batch, _COSET_ENTRIES // c))


def encode_coset(rows: U64, beta: int, log_blowup: int, out: U64, scratch: U64) -> U64:
    """Codeword positions beta*C .. beta*C + C - 1 of every row of (B, C) into ``out`` (B, C).

    A row's codeword is the size-n DIF of the zero-padded row; its block beta is the size-C DIF
    of row * w_n^(i bitrev_b(beta)) (``_coset_shifts``) in the same bit-reversed order, so the 2^b
    blocks together are exactly ``rs_encode``'s output. One coset of a block of rows at a time
    stays in cache, which is why both commitment provers encode this way. ``scratch`` is
    (``coset_step(B, C)``, C).
    """
    c = _check_message(rows)
    batch = rows.shape[0]
    if out.shape != rows.shape or out.dtype != np.uint64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous uint64 array of shape {rows.shape}")
    if batch and _USE_KERNEL and fieldntt.encode_coset(rows, beta, log_blowup, out):
        return out
    step = coset_step(batch, c)
    shifts = _coset_shifts(c.bit_length() - 1, log_blowup)
    for r0 in range(0, batch, step):
        part = out[r0 : r0 + step]
        if beta == 0:
            np.copyto(part, rows[r0 : r0 + step])
        else:
            mul_into(rows[r0 : r0 + step], shifts[beta], part, scratch[: part.shape[0]])
        dif_rows(part)
    return out


def _scale_into(rows: U64, log_blowup: int, y: U64, scratch: U64) -> None:
    """y[:, beta] = row * w_n^(i * bitrev_b(beta)) for (B, C) rows into y (B, 2^b, C)."""
    c = rows.shape[1]
    shifts = _coset_shifts(c.bit_length() - 1, log_blowup)
    y[:, 0] = rows
    for beta in range(1, 1 << log_blowup):
        mul_into(rows, shifts[beta], y[:, beta], scratch[: rows.size].reshape(rows.shape))
