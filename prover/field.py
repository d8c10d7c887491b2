"""BabyBear field F and its quartic extension E = F[X]/(X^4 - 11), vectorized over numpy.

This is the only module in ``prover`` that writes modular arithmetic (docs/protocol.md,
"Conventions"); everything above it (mle, transcript, sumcheck, pcs, stages) calls these
functions. ``prover.field_ref`` is a plain-int twin used by the shared test suite.

Representations
- base vector: ``uint64`` array of shape (n,), every entry reduced (< P);
- base scalar: ``np.uint64`` (Python ints are accepted as inputs and reduced);
- ext vector: ``uint64`` array of shape (4, n), component-major: ``e[k]`` is the coefficient of X^k;
- ext scalar: ``uint64`` array of shape (4,).

Why uint64 is safe: P < 2^31, so a product of two reduced values is < 2^62 and a sum of four such
products is < 4 P^2 < 2^64. Ext multiplication therefore reduces once per output component
(lazy reduction). Numpy 2 treats a Python int operand of a uint64 array op more slowly than a
``np.uint64``, so every constant below is a ``np.uint64``.
"""

from __future__ import annotations

import functools
import threading
from typing import Iterable, Sequence, Union, cast

import numba
import numpy as np
from numba import types as _nt
from numpy.typing import NDArray

U64 = NDArray[np.uint64]
BaseLike = Union[U64, np.uint64, int]

P: int = 2013265921  # 2^31 - 2^27 + 1
TWO_ADICITY: int = 27  # P - 1 = 2^27 * 15
GENERATOR: int = 31  # generates F^*; the 2-adic root below is derived from it
W_EXT: int = 11  # X^4 = W_EXT in E
W: int = pow(GENERATOR, (P - 1) >> TWO_ADICITY, P)  # primitive 2^27-th root of unity

_P = np.uint64(P)
_W_EXT = np.uint64(W_EXT)
_ONE = np.uint64(1)


def _miller_rabin(n: int, bases: Iterable[int]) -> bool:
    """Deterministic for n < 3.4e14 with bases 2..17 (Jaeschke); P is far below that."""
    if n < 2 or n % 2 == 0:
        return n == 2
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _check_constants() -> None:
    """Cheap checks of the constants every proof relies on; raise if any is wrong."""
    if not _miller_rabin(P, (2, 3, 5, 7, 11, 13, 17)):
        raise ImportError(f"field modulus {P} is not prime")
    if (P - 1) % (1 << TWO_ADICITY) != 0:
        raise ImportError(f"2^{TWO_ADICITY} does not divide P - 1")
    # W^(2^27) = 1 and W^(2^26) = -1 together mean the order is exactly 2^27.
    if pow(W, 1 << TWO_ADICITY, P) != 1 or pow(W, 1 << (TWO_ADICITY - 1), P) != P - 1:
        raise ImportError("root of unity W does not have order exactly 2^27")
    # For P = 1 mod 4, X^4 - a is irreducible iff a is a non-square (Capelli; -4 is a square).
    if P % 4 != 1 or pow(W_EXT, (P - 1) // 2, P) != P - 1:
        raise ImportError(f"X^4 - {W_EXT} is not irreducible over F_P")


_check_constants()

# ---------------------------------------------------------------------------- compiled twins
#
# numba twins of the hottest kernels (ext multiplication by a vector or a scalar, ext dot,
# eq-weighted row sums, few-column linear combinations). Each is one pass over its operands
# instead of ~10-20 numpy passes, and computes the same reduced residues, so the bytes never
# change; the numpy code beside each stays as the reference, and the shared suite
# (tests/test_field.py) runs with the twins on and off (``_JIT_KERNELS``, patched only by tests).
# The signatures are explicit (uint64, inputs read-only, which also accepts writable arrays), so
# each kernel is compiled once, or loaded from numba's on-disk cache (``cache=True``), when this
# module is imported: before any stage, never inside one (an explicit-signature dispatcher
# never compiles again; an operand it does not fit raises TypeError).
_JIT_KERNELS = True
# C-contiguous operands only: that loop vectorizes, and was measured ~5x faster than numba's
# any-layout loop; a strided view is copied contiguous first (one pass, still far cheaper).
_R1 = _nt.Array(_nt.uint64, 1, "A", readonly=True)
_C1 = _nt.Array(_nt.uint64, 1, "C", readonly=True)
_C2 = _nt.Array(_nt.uint64, 2, "C", readonly=True)
_W1 = _nt.Array(_nt.uint64, 1, "A")
_W2 = _nt.Array(_nt.uint64, 2, "C")
_JIT = {"cache": True, "nogil": True, "boundscheck": False}
_INV_P = 1.0 / P
_P_I64 = np.int64(P)


@numba.njit(inline="always", cache=True)
def _modp(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # x mod P for any uint64 x, exactly, without a division: q = trunc(x * fl(1/P)) in float64 is
    # within 1 of floor(x / P) (relative error < 2^-51 on a quotient < 2^33, so off only when
    # x / P lies within 2^-17 of an integer), hence x - q P lies in [-P, 2P) and one
    # correction step either way gives the residue. tests/test_field.py checks it against %.
    q = np.uint64(np.float64(x) * _INV_P)
    r = np.int64(x - q * _P)  # wraps in uint64; as int64 it is the true value in [-P, 2P)
    if r < 0:
        r += _P_I64
    elif r >= _P_I64:
        r -= _P_I64
    return np.uint64(r)


@numba.njit(_nt.void(_R1, _W1), **_JIT)
def _modp_vec_jit(x: U64, out: U64) -> None:  # pragma: no cover - compiled
    # out <- x mod P via _modp, for the tests of _modp itself
    for i in range(x.shape[0]):
        out[i] = _modp(x[i])


@numba.njit(_nt.void(_C2, _C2, _W2), **_JIT)
def _emul2_jit(a: U64, b: U64, out: U64) -> None:  # pragma: no cover - compiled
    # out <- a * b for (4, n) ext arrays of one shape. Every component is a sum of four
    # products < 4 P^2 < 2^64, reduced once, as in _emul_block.
    for i in range(out.shape[1]):
        x0, x1, x2, x3 = a[0, i], a[1, i], a[2, i], a[3, i]
        y0, y1, y2, y3 = b[0, i], b[1, i], b[2, i], b[3, i]
        w1, w2, w3 = _modp(y1 * _W_EXT), _modp(y2 * _W_EXT), _modp(y3 * _W_EXT)
        out[0, i] = _modp(x0 * y0 + x1 * w3 + x2 * w2 + x3 * w1)
        out[1, i] = _modp(x0 * y1 + x1 * y0 + x2 * w3 + x3 * w2)
        out[2, i] = _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * w3)
        out[3, i] = _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0)


@numba.njit(_nt.void(_C2, _C1, _W2), **_JIT)
def _emul2s_jit(a: U64, b: U64, out: U64) -> None:  # pragma: no cover - compiled
    # out <- a * b for a (4, n) ext array and an ext scalar b (4,).
    y0, y1, y2, y3 = b[0], b[1], b[2], b[3]
    w1, w2, w3 = _modp(y1 * _W_EXT), _modp(y2 * _W_EXT), _modp(y3 * _W_EXT)
    for i in range(out.shape[1]):
        x0, x1, x2, x3 = a[0, i], a[1, i], a[2, i], a[3, i]
        out[0, i] = _modp(x0 * y0 + x1 * w3 + x2 * w2 + x3 * w1)
        out[1, i] = _modp(x0 * y1 + x1 * y0 + x2 * w3 + x3 * w2)
        out[2, i] = _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * w3)
        out[3, i] = _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0)


@numba.njit(_nt.void(_C2, _C2, _W1), **_JIT)
def _edot2_jit(a: U64, b: U64, out: U64) -> None:  # pragma: no cover - compiled
    # out <- sum_i a[:, i] * b[:, i] (4,), for n < 2^33: reduced products summed in uint64.
    c0 = c1 = c2 = c3 = np.uint64(0)
    for i in range(a.shape[1]):
        x0, x1, x2, x3 = a[0, i], a[1, i], a[2, i], a[3, i]
        y0, y1, y2, y3 = b[0, i], b[1, i], b[2, i], b[3, i]
        w1, w2, w3 = _modp(y1 * _W_EXT), _modp(y2 * _W_EXT), _modp(y3 * _W_EXT)
        c0 += _modp(x0 * y0 + x1 * w3 + x2 * w2 + x3 * w1)
        c1 += _modp(x0 * y1 + x1 * y0 + x2 * w3 + x3 * w2)
        c2 += _modp(x0 * y2 + x1 * y1 + x2 * y0 + x3 * w3)
        c3 += _modp(x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0)
    out[0], out[1], out[2], out[3] = _modp(c0), _modp(c1), _modp(c2), _modp(c3)


@numba.njit([_nt.void(_C2, _C2, _W2), _nt.void(_C2, _nt.Array(_nt.uint32, 2, "C", readonly=True), _W2)], **_JIT)
def _edot_base_many_jit(e: U64, rows: U64, out: U64) -> None:  # pragma: no cover - compiled
    # out[:, q] <- sum_x e[:, x] * rows[q, x]: reduced products summed in uint64 (n < 2^33).
    # rows may be uint64 or uint32 (the commitment's codeword rows).
    for q in range(rows.shape[0]):
        t0 = t1 = t2 = t3 = np.uint64(0)
        for x in range(rows.shape[1]):
            v = rows[q, x]
            t0 += _modp(e[0, x] * v)
            t1 += _modp(e[1, x] * v)
            t2 += _modp(e[2, x] * v)
            t3 += _modp(e[3, x] * v)
        out[0, q], out[1, q], out[2, q], out[3, q] = _modp(t0), _modp(t1), _modp(t2), _modp(t3)


@numba.njit(_nt.void(_C2, _C2, _W2), **_JIT)
def _lincomb_jit(cols: U64, coeffs: U64, out: U64) -> None:  # pragma: no cover - compiled
    # out[:, i] <- sum_j coeffs[:, j] * cols[j, i], in blocks of rows that stay in cache; the
    # accumulator is reduced every 3 terms (P + 3 P^2 < 2^64), as in _lincomb_direct.
    m, n = cols.shape
    blk = 2048
    acc = np.empty((4, blk), dtype=np.uint64)
    for i0 in range(0, n, blk):
        w = min(n, i0 + blk) - i0
        acc[:, :w] = 0
        for j in range(m):
            c0, c1, c2, c3 = coeffs[0, j], coeffs[1, j], coeffs[2, j], coeffs[3, j]
            red = j % 3 == 2 or j == m - 1
            for i in range(w):
                v = cols[j, i0 + i]
                a0 = acc[0, i] + c0 * v
                a1 = acc[1, i] + c1 * v
                a2 = acc[2, i] + c2 * v
                a3 = acc[3, i] + c3 * v
                if red:
                    a0, a1, a2, a3 = _modp(a0), _modp(a1), _modp(a2), _modp(a3)
                acc[0, i], acc[1, i], acc[2, i], acc[3, i] = a0, a1, a2, a3
        out[:, i0 : i0 + w] = acc[:, :w]


# ---------------------------------------------------------------------------- fast reduction
#
# numpy's ``%`` on uint64 runs a hardware division per element; ``x // P`` by a uint64 scalar
# uses libdivide (multiply-high and shift), so x - (x // P) * P is about twice as fast for any
# x < 2^64. A sum of two reduced values (< 2P) is reduced cheaper still: x - P wraps to a huge
# value when x < P, so min(x, x - P) is the reduced value. All of these are exact (bit-equal
# to ``%``); they only change how fast the same residue is found.


def _reduce_into(x: U64, out: U64, q: U64) -> U64:
    """out <- x mod P for any uint64 array x; q is scratch of x's shape (may not alias x)."""
    np.floor_divide(x, _P, out=q)
    np.multiply(q, _P, out=q)
    return np.subtract(x, q, out=out)


# Fresh large temporaries are expensive (every new page faults in and is zeroed), so the kernels
# below work on blocks of about ``_BLK`` entries with a small per-thread scratch buffer.
_BLK = 1 << 14
_tls = threading.local()


def _scratch(n: int, slot: int = 0) -> U64:
    """A per-thread reusable uint64 buffer of at least n entries (contents undefined)."""
    bufs: list[U64] | None = getattr(_tls, "bufs", None)
    if bufs is None:
        bufs = _tls.bufs = [np.empty(0, dtype=np.uint64) for _ in range(3)]
    if bufs[slot].size < n:
        bufs[slot] = np.empty(max(n, _BLK), dtype=np.uint64)
    return bufs[slot][:n]


def _reduce(x: U64) -> U64:
    """x mod P in place for a uint64 array (scalars fall back to ``%``)."""
    if not isinstance(x, np.ndarray):
        return cast(U64, np.remainder(x, _P))
    if not x.flags.c_contiguous:
        return _reduce_into(x, x, np.empty_like(x))
    f = x.reshape(-1)
    for i in range(0, f.size, _BLK):
        c = f[i : i + _BLK]
        _reduce_into(c, c, _scratch(c.size))
    return x


def _reduce_2p(x: U64) -> U64:
    """x mod P in place for a uint64 array with entries < 2P (x - P wraps when x < P)."""
    if not x.flags.c_contiguous:
        scratch = np.empty_like(x)
        np.subtract(x, _P, out=scratch)
        return np.minimum(x, scratch, out=x)
    f = x.reshape(-1)
    for i in range(0, f.size, _BLK):
        c = f[i : i + _BLK]
        t = _scratch(c.size)
        np.subtract(c, _P, out=t)
        np.minimum(c, t, out=c)
    return x


def dif_butterfly(a: U64, b: U64, w: U64, t: U64, q: U64) -> None:
    """In place (a, b) <- (a + b, (a - b) * w) mod P for reduced inputs; t, q are scratch.

    The fused DIF butterfly of ``prover.pcs.ntt``. All operands are uint64 arrays of one
    broadcast shape (w may broadcast). The difference is offset by P so it never wraps:
    a + P - b < 2P < 2^32, times w < 2^31 stays below 2^63, reduced via libdivide ``//``.
    (A numba twin was measured no faster here: the encoder's operands are strided views, which
    keep the compiled loop from vectorizing, while numpy's passes already run at memory speed.)
    """
    np.add(a, _P, out=t)
    np.subtract(t, b, out=t)
    np.add(a, b, out=a)
    np.subtract(a, _P, out=b)  # wraps to a huge value when a < P, so the minimum picks a
    np.minimum(a, b, out=a)
    np.multiply(t, w, out=t)
    np.floor_divide(t, _P, out=q)
    np.multiply(q, _P, out=q)
    np.subtract(t, q, out=b)


def mul_into(a: U64, b: U64, out: U64, q: U64) -> None:
    """out <- a * b mod P for reduced inputs (b may broadcast); q is scratch of out's shape."""
    np.multiply(a, b, out=out)
    np.floor_divide(out, _P, out=q)
    np.multiply(q, _P, out=q)
    np.subtract(out, q, out=out)


# ---------------------------------------------------------------------------- base field


def to_base(ints: object) -> U64:
    """Reduce integers (array, list, or scalar; any sign, any size) into a base vector."""
    if isinstance(ints, np.ndarray) and ints.dtype.kind in "ui":
        if ints.dtype == np.uint64:
            return np.remainder(ints, _P)
        # every other integer dtype fits int64; numpy's remainder takes the divisor's sign (>= 0)
        return np.remainder(ints.astype(np.int64), np.int64(P)).astype(np.uint64)
    arr = np.asarray(ints, dtype=object)
    return np.asarray(arr % P, dtype=np.uint64)


def _s(a: BaseLike) -> U64 | np.uint64:
    """Coerce a Python int into a reduced ``np.uint64``; arrays pass through."""
    if isinstance(a, int):
        return np.uint64(a % P)
    return a


def add(a: BaseLike, b: BaseLike) -> U64:
    """a + b mod P, elementwise."""
    s = np.add(_s(a), _s(b))
    if isinstance(s, np.ndarray):
        return _reduce_2p(s)
    return cast(U64, np.remainder(s, _P))


def sub(a: BaseLike, b: BaseLike) -> U64:
    """a - b mod P, elementwise (adds P first so uint64 never wraps)."""
    s = np.add(_s(a), _P)
    s = np.subtract(s, _s(b), out=s) if isinstance(s, np.ndarray) else np.subtract(s, _s(b))
    if isinstance(s, np.ndarray):
        return _reduce_2p(s)
    return cast(U64, np.remainder(s, _P))


def neg(a: BaseLike) -> U64:
    """-a mod P, elementwise."""
    return sub(np.uint64(0), a)


def mul(a: BaseLike, b: BaseLike) -> U64:
    """a * b mod P, elementwise; the product of two reduced values is < 2^62."""
    s = np.multiply(_s(a), _s(b))
    return _reduce(s)


def pow_(a: BaseLike, e: int) -> U64:
    """a^e mod P elementwise for a non-negative Python int exponent (square-and-multiply)."""
    if e < 0:
        raise ValueError(f"negative exponent {e}; use inv")
    base = np.asarray(_s(a), dtype=np.uint64)
    if base.size <= 16:  # a few scalars: Python's pow beats ~60 numpy calls
        return np.array([pow(int(x), e, P) for x in base.flat], dtype=np.uint64).reshape(base.shape)
    result = np.ones_like(base)
    while e:
        if e & 1:
            result = mul(result, base)
        e >>= 1
        if e:
            base = mul(base, base)
    return result


def inv(a: BaseLike) -> U64:
    """1/a elementwise via Fermat (a^(P-2)); raises ZeroDivisionError naming the first zero."""
    arr = np.asarray(_s(a), dtype=np.uint64)
    zeros = np.flatnonzero(arr == 0)
    if zeros.size:
        raise ZeroDivisionError(f"inverse of zero at index {int(zeros[0])}")
    return pow_(arr, P - 2)


SMALL_INV_LOG = 17  # inputs below 2^17 (e.g. the 16-bit halves sum of a word) use one cached table
_SMALL_INV_MIN = 64  # below this many entries, checking the range costs more than it saves


@functools.lru_cache(maxsize=1)
def small_inv_table() -> U64:
    """inv_or_zero(v) for every v < 2^SMALL_INV_LOG, computed once per process (1 MiB, read-only)."""
    table = pow_(np.arange(1 << SMALL_INV_LOG, dtype=np.uint64), P - 2)
    table.flags.writeable = False
    return table


def inv_or_zero(a: BaseLike) -> U64:
    """1/a elementwise, with 0 mapped to 0 (Fermat gives that for free).

    A vector whose entries are all below 2^SMALL_INV_LOG is looked up in ``small_inv_table``:
    the same values as Fermat (the table is Fermat's), at one gather instead of ~45 products, so
    a chunk of any size pays no modular exponentiation."""
    arr = np.asarray(_s(a), dtype=np.uint64)
    if arr.size >= _SMALL_INV_MIN and int(arr.max()) < (1 << SMALL_INV_LOG):
        return small_inv_table()[arr.astype(np.intp)]
    return pow_(arr, P - 2)


def bsum(a: U64) -> int:
    """Sum of a base vector as a reduced Python int (exact for n < 2^33)."""
    return int(np.sum(a, dtype=np.uint64)) % P


def bdot(a: U64, b: U64) -> int:
    """Inner product of two base vectors as a reduced Python int."""
    return bsum(mul(a, b))


# ---------------------------------------------------------------------------- extension


def ext_zero(n: int) -> U64:
    """The zero ext vector of length n, shape (4, n)."""
    return np.zeros((4, n), dtype=np.uint64)


def ext_from_base(a: BaseLike) -> U64:
    """Embed a base vector (n,) -> (4, n), or a base scalar -> (4,)."""
    arr = np.asarray(_s(a), dtype=np.uint64)
    out = np.zeros((4,) + arr.shape, dtype=np.uint64)
    out[0] = arr
    return out


def ext_scalar(c0: int, c1: int = 0, c2: int = 0, c3: int = 0) -> U64:
    """The ext scalar c0 + c1 X + c2 X^2 + c3 X^3 (ints reduced), shape (4,)."""
    return np.array([c0 % P, c1 % P, c2 % P, c3 % P], dtype=np.uint64)


def ext_to_ints(e: U64) -> tuple[int, int, int, int]:
    """An ext scalar as four Python ints (for error messages and the reference twin)."""
    return (int(e[0]), int(e[1]), int(e[2]), int(e[3]))


def _pair(a: U64, b: U64) -> tuple[U64, U64, tuple[int, ...]]:
    """Align two ext operands (4, ...): a scalar (4,) gets singleton axes to broadcast."""
    if a.shape == b.shape:
        return a, b, a.shape
    if a.ndim == 1 and b.ndim > 1:
        a = a.reshape((4,) + (1,) * (b.ndim - 1))
    elif b.ndim == 1 and a.ndim > 1:
        b = b.reshape((4,) + (1,) * (a.ndim - 1))
    return a, b, (4,) + np.broadcast_shapes(a.shape[1:], b.shape[1:])


_M64 = (1 << 64) - 1


def _scalar_2p(sums: list[int]) -> U64:
    """Two ext scalars: the vector path's min(s, s - P) in Python ints (a few numpy calls on
    4-element arrays cost several times more), bit for bit the same for any uint64 s."""
    return np.array([v - P if v >= P else v for v in sums], dtype=np.uint64)


def eadd(a: U64, b: U64) -> U64:
    """a + b in E, elementwise over (4, ...) arrays; a (4,) scalar broadcasts against vectors."""
    if a.shape == b.shape == (4,):
        return _scalar_2p([(x + y) & _M64 for x, y in zip(a.tolist(), b.tolist())])
    a, b, _ = _pair(a, b)
    s = np.add(a, b)
    return _reduce_2p(s)


def esub(a: U64, b: U64) -> U64:
    """a - b in E, elementwise, with broadcasting as in ``eadd`` (adds P so uint64 never wraps)."""
    if a.shape == b.shape == (4,):
        return _scalar_2p([(x + P - y) & _M64 for x, y in zip(a.tolist(), b.tolist())])
    a, b, _ = _pair(a, b)
    s = np.add(a, _P)
    np.subtract(s, b, out=s)
    return _reduce_2p(s)


def eneg(a: U64) -> U64:
    """-a in E, elementwise."""
    s = np.subtract(_P, a)
    return _reduce_2p(s)  # maps P (from a = 0) back to 0


def emul(a: U64, b: U64) -> U64:
    """a * b in E, elementwise over (4, ...) arrays; a (4,) scalar broadcasts against vectors.

    c_k = sum_{i+j=k} a_i b_j + 11 sum_{i+j=k+4} a_i b_j. The factor 11 is folded into b before
    multiplying (b is the smaller operand, so for a scalar this is free), making each c_k a sum
    of four products (< 4 P^2 < 2^64) reduced once.
    """
    if a.ndim == 1 and b.ndim == 1:
        return _emul_scalar(a, b)
    a, b, shape = _pair(a, b)
    if a.size < b.size:
        a, b = b, a
    if _JIT_KERNELS and a.shape == shape and (b.shape == shape or b.size == 4):
        out_c = np.empty(shape, dtype=np.uint64)
        flat = np.ascontiguousarray(a).reshape(4, -1)
        if b.shape == shape:
            _emul2_jit(flat, np.ascontiguousarray(b).reshape(4, -1), out_c.reshape(4, -1))
        else:
            _emul2s_jit(flat, np.ascontiguousarray(b.reshape(4)), out_c.reshape(4, -1))
        return out_c
    out = np.empty(shape, dtype=np.uint64)
    n_last = shape[-1]
    inner = 1
    for d in shape[1:-1]:
        inner *= d
    step = max(1, _BLK // max(inner, 1))
    a_sliced = a.shape[-1] == n_last and n_last != 1
    b_sliced = b.shape[-1] == n_last and n_last != 1
    b11_all = None if b_sliced else _reduce(np.multiply(b[1:], _W_EXT))
    for i0 in range(0, n_last, step):
        sl = slice(i0, min(i0 + step, n_last))
        ac = a[..., sl] if a_sliced else a
        bc = b[..., sl] if b_sliced else b
        oc = out[..., sl]
        cshape = oc.shape[1:]
        size = 1
        for d in cshape:
            size *= d
        if b11_all is None:
            b11 = _scratch(3 * bc[0].size, 1).reshape((3,) + bc.shape[1:])
            np.multiply(bc[1:], _W_EXT, out=b11)
            _reduce_into(b11, b11, _scratch(b11.size).reshape(b11.shape))
        else:
            b11 = b11_all
        tmp = _scratch(size).reshape(cshape)
        _emul_block(ac, bc, b11, oc, tmp)
    return out


def _emul_block(a: U64, b: U64, b11: U64, out: U64, tmp: U64) -> None:
    """out <- a * b for ext blocks, with b11 = 11 * b[1:] reduced; tmp is scratch of out[0]."""
    b0, b1, b2, b3 = b[0], b[1], b[2], b[3]
    w1, w2, w3 = b11[0], b11[1], b11[2]
    terms = (
        ((0, b0), (1, w3), (2, w2), (3, w1)),
        ((0, b1), (1, b0), (2, w3), (3, w2)),
        ((0, b2), (1, b1), (2, b0), (3, w3)),
        ((0, b3), (1, b2), (2, b1), (3, b0)),
    )
    for k, row in enumerate(terms):
        acc = out[k]
        (i0, y0), *rest = row
        np.multiply(a[i0], y0, out=acc)
        for i, y in rest:
            np.multiply(a[i], y, out=tmp)
            np.add(acc, tmp, out=acc)
        _reduce_into(acc, acc, tmp)


def efold(even: U64, slope: U64, r: U64) -> U64:
    """even + r * slope for ext vectors even, slope of one shape and an ext scalar r.

    The bind step of a multilinear fold; the sum is formed in the product's buffer.
    """
    out = emul(slope, r)
    np.add(out, even, out=out)
    return _reduce_2p(out)


def efold_base(even: U64, slope: U64, r: U64) -> U64:
    """ext_from_base(even) + r * slope for base vectors even, slope and an ext scalar r."""
    out = emul_base(r, slope)
    row = out[0]
    np.add(row, even, out=row)
    _reduce_2p(row)
    return out


def _emul_scalar(a: U64, b: U64) -> U64:
    """Two ext scalars: Python ints beat ~30 numpy calls on 4-element arrays by far."""
    x0, x1, x2, x3 = a.tolist()
    y0, y1, y2, y3 = b.tolist()
    c0 = x0 * y0 + W_EXT * (x1 * y3 + x2 * y2 + x3 * y1)
    c1 = x0 * y1 + x1 * y0 + W_EXT * (x2 * y3 + x3 * y2)
    c2 = x0 * y2 + x1 * y1 + x2 * y0 + W_EXT * x3 * y3
    c3 = x0 * y3 + x1 * y2 + x2 * y1 + x3 * y0
    return np.array([c0 % P, c1 % P, c2 % P, c3 % P], dtype=np.uint64)


def emul_base(e: U64, b: BaseLike) -> U64:
    """e * b for an ext e (4, ...) or (4,) and a base b (...) or scalar, elementwise."""
    bb = np.asarray(_s(b), dtype=np.uint64)
    if e.ndim == 1:
        e = e.reshape((4,) + (1,) * bb.ndim)
    out = np.multiply(e, bb[None, ...])
    return _reduce(out)


def _norm_parts(a: U64) -> tuple[U64, U64, U64]:
    """For a = A(Y) + X B(Y), Y = X^2: q = A^2 - Y B^2 = q0 + q1 Y and the norm q0^2 - 11 q1^2."""
    a0, a1, a2, a3 = a[0], a[1], a[2], a[3]
    q0 = sub(add(mul(a0, a0), mul(_W_EXT, mul(a2, a2))), mul(np.uint64(2 * W_EXT), mul(a1, a3)))
    q1 = sub(mul(np.uint64(2), mul(a0, a2)), add(mul(a1, a1), mul(_W_EXT, mul(a3, a3))))
    norm = sub(mul(q0, q0), mul(_W_EXT, mul(q1, q1)))
    return q0, q1, norm


def einv(a: U64) -> U64:
    """1/a in E elementwise: conj(a) * conj(q) / N(a), one base Fermat inversion per element.

    Raises ZeroDivisionError (naming the first zero) if any element is 0.
    """
    q0, q1, norm = _norm_parts(a)
    ninv = inv(norm)
    a0, a1, a2, a3 = a[0], a[1], a[2], a[3]
    # conj(a) = A(Y) - X B(Y); multiplied by q0 - q1 Y and split back into X-powers.
    c0 = sub(mul(a0, q0), mul(_W_EXT, mul(a2, q1)))
    c2 = sub(mul(a2, q0), mul(a0, q1))
    c1 = sub(mul(_W_EXT, mul(a3, q1)), mul(a1, q0))
    c3 = sub(mul(a1, q1), mul(a3, q0))
    out = np.stack([np.asarray(c) for c in (c0, c1, c2, c3)]).astype(np.uint64)
    return emul_base(out, ninv).reshape(a.shape)


def esum(e: U64) -> U64:
    """Sum of an ext vector (4, n) -> ext scalar (4,)."""
    return np.array([bsum(e[k]) for k in range(4)], dtype=np.uint64)


def edot_base(e: U64, b: U64) -> U64:
    """sum_i e[:, i] * b[i] for an ext vector (4, n) and a base vector (n,) -> (4,)."""
    return esum(emul_base(e, b))


def edot(a: U64, b: U64) -> U64:
    """sum_i a[:, i] * b[:, i] for two ext vectors -> ext scalar (4,).

    Blockwise (no full-length product is materialized): each block's reduced products are
    summed into a uint64 accumulator, exact while the total count stays below 2^33.
    """
    if a.ndim != 2 or a.shape != b.shape:
        return esum(emul(a, b))
    n = a.shape[1]
    if _JIT_KERNELS:
        res = np.empty(4, dtype=np.uint64)
        _edot2_jit(np.ascontiguousarray(a), np.ascontiguousarray(b), res)
        return res
    acc = [0, 0, 0, 0]
    for i0 in range(0, n, _BLK):
        ac, bc = a[:, i0 : i0 + _BLK], b[:, i0 : i0 + _BLK]
        m = ac.shape[1]
        b11 = _scratch(3 * m, 1).reshape(3, m)
        np.multiply(bc[1:], _W_EXT, out=b11)
        _reduce_into(b11, b11, _scratch(3 * m).reshape(3, m))
        out = _scratch(4 * m, 2).reshape(4, m)
        _emul_block(ac, bc, b11, out, _scratch(m))
        part = cast(list[int], np.sum(out, axis=1, dtype=np.uint64).tolist())
        for k in range(4):
            acc[k] += part[k]
    return np.array([x % P for x in acc], dtype=np.uint64)


def epow(a: U64, e: int) -> U64:
    """a^e for an ext scalar or vector and a non-negative Python int exponent."""
    if e < 0:
        raise ValueError(f"negative exponent {e}; use einv")
    result = np.zeros_like(a)
    result[0] = 1
    base = a
    while e:
        if e & 1:
            result = emul(result, base)
        e >>= 1
        if e:
            base = emul(base, base)
    return result


def eq_scalar(a: U64, b: U64) -> bool:
    """True iff two ext scalars (or vectors) are equal."""
    return bool(np.array_equal(a, b))


# ---------------------------------------------------------------------------- linear combos

_DIRECT_M = 8  # up to this many columns, lazy uint64 products beat the float64 matmul
_DIRECT_M_JIT = 32  # compiled, up to this many (measured: 1.2-1.3x faster at 12-16, even at 32)
_LIMB = 16  # coefficient limb width for the float64 matmul path
_CHUNK_M = 64  # with 16-bit limbs, 64 * (2^31 * 2^16) < 2^53: float64 sums stay exact
_CHUNK_N = 1 << 15  # rows per matmul block; bounds the float64 temporaries to ~16 MiB


def _lincomb_direct(cols: U64, coeffs: U64) -> U64:
    """Few columns (e.g. folding 2^i bound corners): products < 2^62, reduced every 4 terms."""
    m, n = cols.shape
    out = np.zeros((4, n), dtype=np.uint64)
    if _JIT_KERNELS and m and cols.dtype == np.uint64 and coeffs.dtype == np.uint64:
        _lincomb_jit(np.ascontiguousarray(cols), np.ascontiguousarray(coeffs), out)
        return out
    tmp = np.empty(n, dtype=np.uint64)
    for k in range(4):
        acc = out[k]
        for j in range(m):
            np.multiply(cols[j], coeffs[k, j], out=tmp)
            np.add(acc, tmp, out=acc)
            if j % 3 == 2:  # acc < P + 3 * P^2 < 2^64 here
                _reduce_into(acc, acc, tmp)
        _reduce_into(acc, acc, tmp)
    return out


def lincomb_base(cols: U64, coeffs: U64) -> U64:
    """sum_j coeffs[:, j] * cols[j] for base columns (m, n) and ext coefficients (4, m) -> (4, n).

    Exact through float64 BLAS: each coefficient is split into 16-bit limbs so that every
    product is < 2^47 and a sum of 64 of them is < 2^53 (exact in a double). Columns are used
    unsplit (< 2^31). Larger m is processed 64 columns at a time and accumulated mod P.
    For m <= 8 plain uint64 products with lazy reduction are faster (no float conversions).
    """
    m, n = cols.shape
    if coeffs.shape != (4, m):
        raise ValueError(f"coeffs shape {coeffs.shape} does not match {m} columns")
    lo_mask = np.uint64((1 << _LIMB) - 1)
    if m <= _DIRECT_M or (_JIT_KERNELS and m <= _DIRECT_M_JIT):
        return _lincomb_direct(cols, coeffs)
    out = np.zeros((4, n), dtype=np.uint64)
    for j0 in range(0, m, _CHUNK_M):
        c = coeffs[:, j0 : j0 + _CHUNK_M]
        # rows 0..3: low limbs of the 4 components; rows 4..7: high limbs
        k = np.concatenate([c & lo_mask, c >> np.uint64(_LIMB)]).astype(np.float64)
        block = cols[j0 : j0 + _CHUNK_M]
        for i0 in range(0, n, _CHUNK_N):
            cf = block[:, i0 : i0 + _CHUNK_N].astype(np.float64)
            r = (k @ cf).astype(np.uint64)  # exact: every entry < 2^53
            _reduce(r)
            hi = r[4:]
            np.left_shift(hi, np.uint64(_LIMB), out=hi)  # < 2^47
            np.add(hi, r[:4], out=hi)
            np.add(hi, out[:, i0 : i0 + _CHUNK_N], out=hi)
            _reduce_into(hi, out[:, i0 : i0 + _CHUNK_N], r[:4])
    return out


def small_lincomb(arrays: Sequence[U64], coeffs: Sequence[int], const: int = 0) -> U64:
    """const + sum_j coeffs[j] * arrays[j] mod P for integer coefficients (any sign), any shape.

    Meant for constraint factors like x0 + 256 x1 - 65536 c0: coefficients are taken as signed
    representatives in (-P/2, P/2], accumulated in int64 and reduced only when the running
    bound could pass 2^63. Works on base vectors and, componentwise, on ext vectors.
    """
    if len(arrays) != len(coeffs):
        raise ValueError(f"{len(arrays)} arrays but {len(coeffs)} coefficients")
    if not arrays:
        raise ValueError("empty linear combination")
    const %= P
    acc = np.full(np.shape(arrays[0]), const, dtype=np.int64)
    bound = const
    for arr, c in zip(arrays, coeffs):
        c %= P
        if c > P // 2:
            c -= P
        if c == 0:
            continue
        term_bound = abs(c) * (P - 1)
        if bound + term_bound >= 1 << 63:
            np.remainder(acc, np.int64(P), out=acc)
            bound = P - 1
        view = arr.view(np.int64)  # reduced values < 2^31: the bits mean the same
        if c == 1:
            acc += view
        elif c == -1:
            acc -= view
        else:
            acc += view * np.int64(c)
        bound += term_bound
    np.remainder(acc, np.int64(P), out=acc)  # sign of the divisor: result in [0, P)
    return acc.view(np.uint64)


_DOT_LIMB = 8  # ext limbs of 8 bits: limb x row product < 2^39
_DOT_BLOCK = 1 << 14  # 2^14 such products sum below 2^53, exact in float64


def edot_base_many(e: U64, rows: U64) -> U64:
    """sum_x e[:, x] * rows[q, x] for every q: ext vector (4, n), base rows (Q, n) -> (4, Q).

    The transposed twin of ``lincomb_base``, and how provers take many eq-weighted sums at
    once: rows are used unsplit (< 2^31) and the ext side is split into four 8-bit limbs, so a
    block of 2^14 products sums exactly in float64 BLAS; blocks are recombined mod P.
    """
    q, n = rows.shape
    if e.shape != (4, n):
        raise ValueError(f"ext vector shape {e.shape} does not match rows of length {n}")
    if _JIT_KERNELS and e.dtype == np.uint64 and rows.dtype in (np.uint64, np.uint32):
        res = np.empty((4, q), dtype=np.uint64)
        _edot_base_many_jit(np.ascontiguousarray(e), np.ascontiguousarray(rows), res)
        return res
    mask = np.uint64((1 << _DOT_LIMB) - 1)
    acc = np.zeros((4, q), dtype=np.uint64)
    pending = 0  # blocks added to acc since its last reduction; each adds < 2^53
    for i0 in range(0, n, _DOT_BLOCK):
        eb = e[:, i0 : i0 + _DOT_BLOCK]
        # limb l of component k sits in row 4 l + k
        el = np.concatenate([(eb >> np.uint64(_DOT_LIMB * l)) & mask for l in range(4)])
        # (Q, c) @ (c, 16): this orientation is several times faster in OpenBLAS than el @ rows.T
        m = (rows[:, i0 : i0 + _DOT_BLOCK].astype(np.float64) @ el.astype(np.float64).T).T.astype(np.uint64)
        _reduce(m)
        # sum_l 2^(8 l) m[4 l + k] < 4 * 2^24 * 2^31 = 2^57
        part = m[0:4] + (m[4:8] << np.uint64(8)) + (m[8:12] << np.uint64(16)) + (m[12:16] << np.uint64(24))
        acc += part
        pending += 1
        if pending == 64:  # 64 * 2^57 would reach 2^63: reduce before that
            _reduce(acc)
            pending = 0
    return _reduce(acc)


# ---------------------------------------------------------------------------- encoding


def encode_base(arr: U64) -> bytes:
    """Base elements as u32 little-endian, in order."""
    return np.asarray(arr, dtype=np.uint64).astype("<u4").tobytes()


def decode_base(buf: bytes, n: int) -> U64:
    """Exactly n base elements from buf; ValueError on a wrong length or a value >= P."""
    if len(buf) != 4 * n:
        raise ValueError(f"expected {4 * n} bytes for {n} base elements, got {len(buf)}")
    arr = np.frombuffer(buf, dtype="<u4").astype(np.uint64)
    bad = np.flatnonzero(arr >= _P)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"non-canonical base element {int(arr[i])} >= P at index {i}")
    return arr


def encode_ext(e: U64) -> bytes:
    """Ext elements (scalar (4,) or vector (4, n)) as 4 x u32 LE each, element after element."""
    return encode_base(np.asarray(e).reshape(4, -1).T.reshape(-1))


def decode_ext(buf: bytes, n: int) -> U64:
    """Exactly n ext elements -> (4, n); ValueError on a wrong length or a component >= P."""
    flat = decode_base(buf, 4 * n)
    return np.ascontiguousarray(flat.reshape(n, 4).T)


def decode_ext_scalar(buf: bytes) -> U64:
    """Exactly one ext element -> (4,)."""
    return decode_ext(buf, 1).reshape(4)


# ---------------------------------------------------------------------------- roots of unity


def root_of_unity(log_n: int) -> int:
    """A primitive 2^log_n-th root of unity (W squared 27 - log_n times)."""
    if not 0 <= log_n <= TWO_ADICITY:
        raise ValueError(f"log_n = {log_n} outside 0..{TWO_ADICITY}")
    return pow(W, 1 << (TWO_ADICITY - log_n), P)
