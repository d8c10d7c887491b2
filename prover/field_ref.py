"""Plain-int reference twin of ``prover.field`` (same names, same semantics, no numpy).

It exists so that ``tests/test_field.py`` can run one suite against both implementations and
cross-check them; it is far too slow for proving. Representations mirror the numpy ones:
a base vector is ``list[int]``, an ext scalar is ``list[int]`` of length 4, and an ext vector
is a list of 4 component lists (component-major, like the (4, n) arrays).

Algorithms deliberately differ where cheap to do so: ``emul`` multiplies schoolbook and then
reduces X^4 = 11; ``einv`` raises to the power |E| - 2 instead of going through the norm.
"""

from __future__ import annotations

from typing import Any, Union

P: int = 2013265921
TWO_ADICITY: int = 27
GENERATOR: int = 31
W_EXT: int = 11
W: int = pow(GENERATOR, (P - 1) >> TWO_ADICITY, P)

Base = Union[int, list[int]]
Ext = list[Any]  # ext scalar: list[int] of 4; ext vector: list[list[int]] of 4 components


def _pair(a: Base, b: Base) -> tuple[list[int], list[int], bool]:
    """Broadcast two base operands (int or list) to equal-length lists."""
    if isinstance(a, int) and isinstance(b, int):
        return [a], [b], True
    if isinstance(a, int):
        a = [a] * len(b)  # type: ignore[arg-type]
    if isinstance(b, int):
        b = [b] * len(a)
    if len(a) != len(b):
        raise ValueError(f"length mismatch {len(a)} vs {len(b)}")
    return list(a), list(b), False


def _unwrap(xs: list[int], scalar: bool) -> Base:
    return xs[0] if scalar else xs


def to_base(ints: object) -> list[int]:
    if isinstance(ints, int):
        return [ints % P]
    return [int(x) % P for x in ints]  # type: ignore[attr-defined]


def add(a: Base, b: Base) -> Base:
    xs, ys, s = _pair(a, b)
    return _unwrap([(x + y) % P for x, y in zip(xs, ys)], s)


def sub(a: Base, b: Base) -> Base:
    xs, ys, s = _pair(a, b)
    return _unwrap([(x - y) % P for x, y in zip(xs, ys)], s)


def neg(a: Base) -> Base:
    return sub(0, a)


def mul(a: Base, b: Base) -> Base:
    xs, ys, s = _pair(a, b)
    return _unwrap([x * y % P for x, y in zip(xs, ys)], s)


def pow_(a: Base, e: int) -> Base:
    if e < 0:
        raise ValueError(f"negative exponent {e}; use inv")
    if isinstance(a, int):
        return pow(a, e, P)
    return [pow(x, e, P) for x in a]


def inv(a: Base) -> Base:
    xs = [a] if isinstance(a, int) else list(a)
    for i, x in enumerate(xs):
        if x % P == 0:
            raise ZeroDivisionError(f"inverse of zero at index {i}")
    out = [pow(x, P - 2, P) for x in xs]
    return out[0] if isinstance(a, int) else out


def inv_or_zero(a: Base) -> Base:
    return pow_(a, P - 2)


def bsum(a: list[int]) -> int:
    return sum(a) % P


def bdot(a: list[int], b: list[int]) -> int:
    return sum(x * y for x, y in zip(a, b)) % P


# ---------------------------------------------------------------------------- extension


def _is_vec(e: Ext) -> bool:
    return isinstance(e[0], list)


def _elems(e: Ext) -> list[list[int]]:
    """An ext scalar or vector as a list of 4-coefficient elements."""
    return [list(t) for t in zip(*e)] if _is_vec(e) else [list(e)]


def _from_elems(xs: list[list[int]], vec: bool) -> Ext:
    return [[x[k] for x in xs] for k in range(4)] if vec else xs[0]


def _epair(a: Ext, b: Ext) -> tuple[list[list[int]], list[list[int]], bool]:
    ea, eb = _elems(a), _elems(b)
    vec = _is_vec(a) or _is_vec(b)
    if len(ea) == 1 and not _is_vec(a):
        ea = ea * len(eb)
    if len(eb) == 1 and not _is_vec(b):
        eb = eb * len(ea)
    if len(ea) != len(eb):
        raise ValueError(f"length mismatch {len(ea)} vs {len(eb)}")
    return ea, eb, vec


def ext_zero(n: int) -> Ext:
    return [[0] * n for _ in range(4)]


def ext_from_base(a: Base) -> Ext:
    if isinstance(a, int):
        return [a % P, 0, 0, 0]
    return [[x % P for x in a]] + [[0] * len(a) for _ in range(3)]


def ext_scalar(c0: int, c1: int = 0, c2: int = 0, c3: int = 0) -> Ext:
    return [c0 % P, c1 % P, c2 % P, c3 % P]


def _mul1(x: list[int], y: list[int]) -> list[int]:
    prod = [0] * 7
    for i in range(4):
        for j in range(4):
            prod[i + j] += x[i] * y[j]
    for k in range(6, 3, -1):  # X^k = 11 X^(k-4)
        prod[k - 4] += W_EXT * prod[k]
    return [c % P for c in prod[:4]]


def eadd(a: Ext, b: Ext) -> Ext:
    ea, eb, v = _epair(a, b)
    return _from_elems([[(x + y) % P for x, y in zip(s, t)] for s, t in zip(ea, eb)], v)


def esub(a: Ext, b: Ext) -> Ext:
    ea, eb, v = _epair(a, b)
    return _from_elems([[(x - y) % P for x, y in zip(s, t)] for s, t in zip(ea, eb)], v)


def eneg(a: Ext) -> Ext:
    return _from_elems([[(-x) % P for x in s] for s in _elems(a)], _is_vec(a))


def emul(a: Ext, b: Ext) -> Ext:
    ea, eb, v = _epair(a, b)
    return _from_elems([_mul1(s, t) for s, t in zip(ea, eb)], v)


def emul_base(e: Ext, b: Base) -> Ext:
    return emul(e, ext_from_base(b))


def _epow1(x: list[int], e: int) -> list[int]:
    result, base = [1, 0, 0, 0], x
    while e:
        if e & 1:
            result = _mul1(result, base)
        base = _mul1(base, base)
        e >>= 1
    return result


def einv(a: Ext) -> Ext:
    xs = _elems(a)
    for i, x in enumerate(xs):
        if not any(c % P for c in x):
            raise ZeroDivisionError(f"inverse of zero at index {i}")
    return _from_elems([_epow1(x, P**4 - 2) for x in xs], _is_vec(a))


def epow(a: Ext, e: int) -> Ext:
    if e < 0:
        raise ValueError(f"negative exponent {e}; use einv")
    return _from_elems([_epow1(x, e) for x in _elems(a)], _is_vec(a))


def esum(e: Ext) -> Ext:
    return [sum(comp) % P for comp in e]


def edot_base(e: Ext, b: list[int]) -> Ext:
    return esum(emul_base(e, b))


def edot(a: Ext, b: Ext) -> Ext:
    return esum(emul(a, b))


def eq_scalar(a: Ext, b: Ext) -> bool:
    return [x % P for x in _elems(a)[0]] == [x % P for x in _elems(b)[0]] and len(a) == len(b)


def lincomb_base(cols: list[list[int]], coeffs: Ext) -> Ext:
    n = len(cols[0]) if cols else 0
    acc = ext_zero(n)
    for j, col in enumerate(cols):
        acc = eadd(acc, emul_base([coeffs[k][j] for k in range(4)], col))
    return acc


def edot_base_many(e: Ext, rows: list[list[int]]) -> Ext:
    return [[sum(x * y for x, y in zip(comp, row)) % P for row in rows] for comp in e]


def small_lincomb(arrays: list[Any], coeffs: list[int], const: int = 0) -> list[Any]:
    """Works on base vectors (list[int]) and ext vectors (4 lists) alike."""
    if len(arrays) != len(coeffs):
        raise ValueError(f"{len(arrays)} arrays but {len(coeffs)} coefficients")
    if isinstance(arrays[0][0], list):
        return [small_lincomb([a[k] for a in arrays], coeffs, const) for k in range(4)]
    return [(const + sum(c * a[i] for a, c in zip(arrays, coeffs))) % P for i in range(len(arrays[0]))]


# ---------------------------------------------------------------------------- encoding


def encode_base(arr: list[int]) -> bytes:
    return b"".join(int(x).to_bytes(4, "little") for x in arr)


def decode_base(buf: bytes, n: int) -> list[int]:
    if len(buf) != 4 * n:
        raise ValueError(f"expected {4 * n} bytes for {n} base elements, got {len(buf)}")
    out = [int.from_bytes(buf[4 * i : 4 * i + 4], "little") for i in range(n)]
    for i, x in enumerate(out):
        if x >= P:
            raise ValueError(f"non-canonical base element {x} >= P at index {i}")
    return out


def encode_ext(e: Ext) -> bytes:
    return b"".join(encode_base(x) for x in _elems(e))


def decode_ext(buf: bytes, n: int) -> Ext:
    flat = decode_base(buf, 4 * n)
    return [[flat[4 * i + k] for i in range(n)] for k in range(4)]


def decode_ext_scalar(buf: bytes) -> Ext:
    return [c[0] for c in decode_ext(buf, 1)]


def root_of_unity(log_n: int) -> int:
    if not 0 <= log_n <= TWO_ADICITY:
        raise ValueError(f"log_n = {log_n} outside 0..{TWO_ADICITY}")
    return pow(W, 1 << (TWO_ADICITY - log_n), P)
