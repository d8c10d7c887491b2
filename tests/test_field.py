"""One suite for both field implementations: ``prover.field`` (numpy) and ``prover.field_ref``.

Each test takes the ``impl`` fixture, builds its inputs as plain ints, converts them with
``impl.vec``/``impl.ext`` and reads results back as plain ints, so the same assertions hold for
both twins. ``test_twins_agree_*`` cross-check the two on random data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from prover import field, field_ref

P = 2013265921


@dataclass
class Impl:
    m: ModuleType
    numpy: bool

    def vec(self, xs: list[int]) -> Any:
        return np.array(xs, dtype=np.uint64) if self.numpy else list(xs)

    def ext(self, comps: list[Any]) -> Any:
        """comps: 4 ints (a scalar) or 4 lists (a vector)."""
        return np.array(comps, dtype=np.uint64) if self.numpy else [c if isinstance(c, int) else list(c) for c in comps]

    @staticmethod
    def ints(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, (np.integer,)):
            return int(x)
        return x


@pytest.fixture(params=["numpy", "numpy_nojit", "ref"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Impl:
    """``numpy`` uses field's compiled kernels, ``numpy_nojit`` the numpy reference beside each."""
    if request.param == "numpy_nojit":
        monkeypatch.setattr(field, "_JIT_KERNELS", False)
    return Impl(field_ref if request.param == "ref" else field, request.param != "ref")


def rand_vec(rng: random.Random, n: int, edge: bool = True) -> list[int]:
    # include the extremes: products of P-1 values are the worst case for lazy reduction
    xs = [rng.randrange(P) for _ in range(n)]
    if edge and n >= 3:
        xs[0], xs[1], xs[2] = 0, 1, P - 1
    return xs


def rand_ext(rng: random.Random, n: int) -> list[list[int]]:
    comps = [rand_vec(rng, n, edge=False) for _ in range(4)]
    if n >= 2:
        for k in range(4):
            comps[k][0] = P - 1  # the all-(P-1) element
    return comps


def elem(comps: list[list[int]], i: int) -> list[int]:
    return [comps[k][i] for k in range(4)]


# ---------------------------------------------------------------------------- constants


def test_constants(impl: Impl) -> None:
    assert impl.m.P == P == 2**31 - 2**27 + 1
    assert impl.m.TWO_ADICITY == 27
    assert pow(impl.m.W, 2**27, P) == 1 and pow(impl.m.W, 2**26, P) == P - 1


@pytest.mark.parametrize("log_n", [0, 1, 5, 27])
def test_root_of_unity_has_exact_order(impl: Impl, log_n: int) -> None:
    w = impl.m.root_of_unity(log_n)
    assert pow(w, 1 << log_n, P) == 1
    if log_n:
        assert pow(w, 1 << (log_n - 1), P) == P - 1


def test_root_of_unity_out_of_range(impl: Impl) -> None:
    with pytest.raises(ValueError):
        impl.m.root_of_unity(28)


# ---------------------------------------------------------------------------- base field


def test_to_base_reduces(impl: Impl) -> None:
    got = impl.ints(impl.m.to_base([-1, P, P + 5, 2**70, 3]))
    assert got == [P - 1, 0, 5, 2**70 % P, 3]


def test_base_ring_laws(impl: Impl) -> None:
    rng = random.Random(1)
    a, b, c = (rand_vec(rng, 40) for _ in range(3))
    m = impl.m
    A, B, C = impl.vec(a), impl.vec(b), impl.vec(c)
    assert impl.ints(m.add(A, B)) == [(x + y) % P for x, y in zip(a, b)]
    assert impl.ints(m.sub(A, B)) == [(x - y) % P for x, y in zip(a, b)]
    assert impl.ints(m.mul(A, B)) == [x * y % P for x, y in zip(a, b)]
    assert impl.ints(m.neg(A)) == [(-x) % P for x in a]
    lhs = m.mul(A, m.add(B, C))
    rhs = m.add(m.mul(A, B), m.mul(A, C))
    assert impl.ints(lhs) == impl.ints(rhs)
    assert impl.ints(m.pow_(A, 5)) == [pow(x, 5, P) for x in a]
    assert impl.ints(m.pow_(A, 0)) == [1] * 40


def test_inv(impl: Impl) -> None:
    rng = random.Random(2)
    a = [x or 1 for x in rand_vec(rng, 30)]
    A = impl.vec(a)
    assert impl.ints(impl.m.mul(impl.m.inv(A), A)) == [1] * 30
    with pytest.raises(ZeroDivisionError, match="index 2"):
        impl.m.inv(impl.vec([1, 2, 0, 3]))
    assert impl.ints(impl.m.inv_or_zero(impl.vec([0, 2]))) == [0, (P + 1) // 2]


@pytest.mark.parametrize("top", [1 << 17, P], ids=["small_values_table", "any_values_fermat"])
def test_inv_or_zero_long_vectors(impl: Impl, top: int) -> None:
    """Long vectors take the table path when every entry is < 2^17 (the `inv` column's case);
    either path must give Fermat's answer, 0 for 0, at the range edges too."""
    rng = random.Random(21)
    a = [rng.randrange(top) for _ in range(300)] + [0, 1, (1 << 17) - 1, min(top - 1, P - 1)]
    got = impl.ints(impl.m.inv_or_zero(impl.vec(a)))
    assert got == [pow(x, P - 2, P) for x in a]
    assert [g * x % P for g, x in zip(got, a)] == [1 if x else 0 for x in a]


def test_bsum_bdot(impl: Impl) -> None:
    rng = random.Random(3)
    a, b = rand_vec(rng, 100), rand_vec(rng, 100)
    assert impl.m.bsum(impl.vec(a)) == sum(a) % P
    assert impl.m.bdot(impl.vec(a), impl.vec(b)) == sum(x * y for x, y in zip(a, b)) % P


# ---------------------------------------------------------------------------- extension


def test_x_to_the_fourth_is_eleven(impl: Impl) -> None:
    x = impl.ext([0, 1, 0, 0])
    x3 = impl.ext([0, 0, 0, 1])
    assert impl.ints(impl.m.emul(x, x3)) == [11, 0, 0, 0]
    assert impl.ints(impl.m.emul(x3, x3)) == [0, 0, 11, 0]


def test_ext_ring_laws(impl: Impl) -> None:
    rng = random.Random(4)
    n = 12
    a, b, c = (rand_ext(rng, n) for _ in range(3))
    m = impl.m
    A, B, C = impl.ext(a), impl.ext(b), impl.ext(c)
    assert impl.ints(m.emul(A, B)) == impl.ints(m.emul(B, A))
    assert impl.ints(m.emul(m.emul(A, B), C)) == impl.ints(m.emul(A, m.emul(B, C)))
    assert impl.ints(m.emul(A, m.eadd(B, C))) == impl.ints(m.eadd(m.emul(A, B), m.emul(A, C)))
    assert impl.ints(m.esub(m.eadd(A, B), B)) == a
    assert impl.ints(m.eadd(A, m.eneg(A))) == [[0] * n for _ in range(4)]
    assert impl.ints(m.ext_zero(3)) == [[0] * 3 for _ in range(4)]


def test_ext_scalar_broadcasts_against_vector(impl: Impl) -> None:
    rng = random.Random(5)
    a = rand_ext(rng, 7)
    s = [rng.randrange(P) for _ in range(4)]
    m = impl.m
    got = impl.ints(m.emul(impl.ext(s), impl.ext(a)))
    got_swapped = impl.ints(m.emul(impl.ext(a), impl.ext(s)))
    each = [impl.ints(m.emul(impl.ext(s), impl.ext(elem(a, i)))) for i in range(7)]
    assert got == got_swapped == [[e[k] for e in each] for k in range(4)]
    add_each = [impl.ints(m.eadd(impl.ext(s), impl.ext(elem(a, i)))) for i in range(7)]
    assert impl.ints(m.eadd(impl.ext(s), impl.ext(a))) == [[e[k] for e in add_each] for k in range(4)]
    sub_each = [impl.ints(m.esub(impl.ext(elem(a, i)), impl.ext(s))) for i in range(7)]
    assert impl.ints(m.esub(impl.ext(a), impl.ext(s))) == [[e[k] for e in sub_each] for k in range(4)]


def test_einv(impl: Impl) -> None:
    rng = random.Random(6)
    a = rand_ext(rng, 5)
    m = impl.m
    one = [[1] * 5] + [[0] * 5 for _ in range(3)]
    assert impl.ints(m.emul(m.einv(impl.ext(a)), impl.ext(a))) == one
    s = impl.ext([3, 0, 0, 0])
    assert impl.ints(m.einv(s)) == [pow(3, P - 2, P), 0, 0, 0]
    with pytest.raises(ZeroDivisionError):
        m.einv(impl.ext([[1, 0], [1, 0], [0, 0], [0, 0]]))


def test_emul_base_esum_edot(impl: Impl) -> None:
    rng = random.Random(7)
    e, b = rand_ext(rng, 9), rand_vec(rng, 9)
    m = impl.m
    got = impl.ints(m.emul_base(impl.ext(e), impl.vec(b)))
    assert got == [[e[k][i] * b[i] % P for i in range(9)] for k in range(4)]
    assert impl.ints(m.esum(impl.ext(e))) == [sum(e[k]) % P for k in range(4)]
    assert impl.ints(m.edot_base(impl.ext(e), impl.vec(b))) == [sum(x * y for x, y in zip(e[k], b)) % P for k in range(4)]
    assert impl.ints(m.ext_from_base(impl.vec(b))) == [b, [0] * 9, [0] * 9, [0] * 9]
    assert impl.ints(m.ext_scalar(-1, P, 2)) == [P - 1, 0, 2, 0]
    assert m.eq_scalar(impl.ext([1, 2, 3, 4]), impl.ext([1, 2, 3, 4]))
    assert not m.eq_scalar(impl.ext([1, 2, 3, 4]), impl.ext([1, 2, 3, 5]))


@pytest.mark.parametrize("m_cols", [1, 64, 130])
def test_lincomb_base(impl: Impl, m_cols: int) -> None:
    rng = random.Random(8 + m_cols)
    n = 5
    cols = [rand_vec(rng, n) for _ in range(m_cols)]
    cols[0] = [P - 1] * n  # worst case for the float64 exactness bound
    coeffs = rand_ext(rng, m_cols)
    got = impl.m.lincomb_base(np.array(cols, dtype=np.uint64) if impl.numpy else cols, impl.ext(coeffs))
    want = [[sum(coeffs[k][j] * cols[j][i] for j in range(m_cols)) % P for i in range(n)] for k in range(4)]
    assert impl.ints(got) == want


def test_edot_base_many(impl: Impl) -> None:
    rng = random.Random(11)
    n = 6
    e, rows = rand_ext(rng, n), [rand_vec(rng, n) for _ in range(3)]
    got = impl.m.edot_base_many(impl.ext(e), np.array(rows, dtype=np.uint64) if impl.numpy else rows)
    assert impl.ints(got) == [[sum(e[k][i] * r[i] for i in range(n)) % P for r in rows] for k in range(4)]


def test_small_lincomb(impl: Impl) -> None:
    rng = random.Random(12)
    a, b = rand_vec(rng, 8), rand_vec(rng, 8)
    coeffs = [-65536, P - 1]  # a negative and a "reduced negative" coefficient
    got = impl.m.small_lincomb([impl.vec(a), impl.vec(b)], coeffs)
    assert impl.ints(got) == [(-65536 * x + (P - 1) * y) % P for x, y in zip(a, b)]
    with_const = impl.m.small_lincomb([impl.vec(a)], [3], -5)
    assert impl.ints(with_const) == [(3 * x - 5) % P for x in a]
    e = rand_ext(rng, 3)
    got_e = impl.m.small_lincomb([impl.ext(e)] * 3, [2**40, 3, -1])
    assert impl.ints(got_e) == [[(2**40 + 2) * v % P for v in comp] for comp in e]


# ---------------------------------------------------------------------------- encoding


def test_encoding_round_trip(impl: Impl) -> None:
    m = impl.m
    assert m.encode_base(impl.vec([1, P - 1])) == b"\x01\x00\x00\x00" + (P - 1).to_bytes(4, "little")
    assert impl.ints(m.decode_base(m.encode_base(impl.vec([5, 6, 7])), 3)) == [5, 6, 7]
    e = [[1, 2], [3, 4], [5, 6], [7, 8]]
    buf = m.encode_ext(impl.ext(e))
    assert buf[:16] == b"".join(x.to_bytes(4, "little") for x in (1, 3, 5, 7))  # element-major
    assert impl.ints(m.decode_ext(buf, 2)) == e
    assert impl.ints(m.decode_ext_scalar(m.encode_ext(impl.ext([9, 8, 7, 6])))) == [9, 8, 7, 6]


def test_non_canonical_element_rejected(impl: Impl) -> None:
    with pytest.raises(ValueError, match="non-canonical"):
        impl.m.decode_base(P.to_bytes(4, "little"), 1)
    with pytest.raises(ValueError, match="non-canonical"):
        impl.m.decode_ext(b"\x00" * 12 + (2**32 - 1).to_bytes(4, "little"), 1)


def test_short_read_and_trailing_bytes_rejected(impl: Impl) -> None:
    with pytest.raises(ValueError):
        impl.m.decode_base(b"\x00" * 7, 2)
    with pytest.raises(ValueError):
        impl.m.decode_base(b"\x00" * 9, 2)
    with pytest.raises(ValueError):
        impl.m.decode_ext(b"\x00" * 20, 1)


# ---------------------------------------------------------------------------- twins agree


def test_twins_agree_on_random_ext_ops() -> None:
    rng = random.Random(9)
    a, b = rand_ext(rng, 50), rand_ext(rng, 50)
    A, B = np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64)
    assert field.emul(A, B).tolist() == field_ref.emul(a, b)
    assert field.einv(A[:, :8]).tolist() == field_ref.einv([c[:8] for c in a])
    assert field.esub(A, B).tolist() == field_ref.esub(a, b)


def test_large_dot_and_lincomb_exact_at_the_worst_case() -> None:
    # every entry P - 1 and more rows than one float64 block: the exactness bounds are tight here
    n = (1 << 14) * 2 + 5
    e = np.full((4, n), P - 1, dtype=np.uint64)
    rows = np.full((2, n), P - 1, dtype=np.uint64)
    want = (P - 1) * (P - 1) * n % P
    assert field.edot_base_many(e, rows).tolist() == [[want, want]] * 4
    many = [rows[0]] * 200  # forces intermediate reductions in small_lincomb
    assert field.small_lincomb(many, [P // 2] * 200)[:1].tolist() == [(P - 1) * (P // 2) * 200 % P]


def test_twins_agree_on_large_vectors() -> None:
    # sizes past the lincomb row chunk, so the blocked path is exercised too
    rng = np.random.default_rng(10)
    n = (1 << 15) + 3
    cols = rng.integers(0, P, (3, n), dtype=np.uint64)
    coeffs = rng.integers(0, P, (4, 3), dtype=np.uint64)
    got = field.lincomb_base(cols, coeffs)
    want = field.ext_zero(n)
    for j in range(3):
        want = field.eadd(want, field.emul_base(coeffs[:, j], cols[j]))
    assert np.array_equal(got, want)
    idx = [0, 1, n // 2, n - 1]
    ref = field_ref.lincomb_base([[int(c[i]) for i in idx] for c in cols], coeffs.tolist())
    assert got[:, idx].tolist() == ref


# ---------------------------------------------------------------------------- fast kernels


def _worst_ext(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    e = rng.integers(0, P, (4,) + shape, dtype=np.uint64)
    flat = e.reshape(4, -1)
    flat[:, 0] = P - 1  # worst case for lazy reduction
    flat[:, 1] = 0
    return e


def _ref_ext_cols(e: np.ndarray, idx: list[int]) -> list[list[int]]:
    flat = e.reshape(4, -1)
    return [[int(flat[k, i]) for i in idx] for k in range(4)]


def test_dif_butterfly_and_mul_into_match_the_twin() -> None:
    rng = np.random.default_rng(11)
    n = 3000
    a = rng.integers(0, P, n, dtype=np.uint64)
    b = rng.integers(0, P, n, dtype=np.uint64)
    w = rng.integers(0, P, n, dtype=np.uint64)
    a[:4], b[:4], w[:4] = [0, P - 1, P - 1, 0], [P - 1, 0, P - 1, 0], [P - 1] * 4
    want_a = field_ref.add(a.tolist(), b.tolist())
    want_b = field_ref.mul(field_ref.sub(a.tolist(), b.tolist()), w.tolist())
    t, q = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
    aa, bb = a.copy(), b.copy()
    field.dif_butterfly(aa, bb, w, t, q)
    assert aa.tolist() == want_a and bb.tolist() == want_b
    out = np.empty(n, dtype=np.uint64)
    field.mul_into(a, w, out, q)
    assert out.tolist() == field_ref.mul(a.tolist(), w.tolist())


def test_blocked_ext_ops_match_the_twin_past_one_block() -> None:
    # lengths past the kernel block (2^14), strided views, and scalar broadcasting
    rng = np.random.default_rng(12)
    m = (1 << 15) + 7
    a = _worst_ext(rng, (2, 2 * m))[..., 0::2]  # (4, 2, m), non-contiguous
    b = _worst_ext(rng, (2, 2 * m))[..., 1::2]
    s = np.array([P - 1, 5, P - 1, 7], dtype=np.uint64)
    idx = [0, 1, 2, (1 << 14) - 1, 1 << 14, m + (1 << 14) + 1, 2 * m - 1]
    ra, rb = _ref_ext_cols(a, idx), _ref_ext_cols(b, idx)
    for got, want in (
        (field.emul(a, b), field_ref.emul(ra, rb)),
        (field.emul(a, s), field_ref.emul(ra, s.tolist())),
        (field.emul(s, b), field_ref.emul(s.tolist(), rb)),
        (field.eadd(a, b), field_ref.eadd(ra, rb)),
        (field.esub(a, b), field_ref.esub(ra, rb)),
        (field.eneg(a), field_ref.eneg(ra)),
    ):
        assert got.shape == (4, 2, m)
        assert _ref_ext_cols(got, idx) == want
    x, y = a[:, 0], b[:, 1]
    assert field.edot(x, y).tolist() == field.esum(field.emul(x, y)).tolist()
    assert field.edot(x, y).tolist() == field_ref.edot(_ref_ext_cols(x, list(range(m))), _ref_ext_cols(y, list(range(m))))
    xs, ys = x[:, :50].tolist(), y[:, :50].tolist()
    assert field.edot(x[:, :50], y[:, :50]).tolist() == field_ref.edot(xs, ys)


def test_blocked_base_ops_match_the_twin() -> None:
    rng = np.random.default_rng(13)
    n = (1 << 15) + 11
    a = rng.integers(0, P, n, dtype=np.uint64)
    b = rng.integers(0, P, n, dtype=np.uint64)
    a[:3], b[:3] = [P - 1, 0, P - 1], [P - 1, P - 1, 0]
    al, bl = a.tolist(), b.tolist()
    assert field.add(a, b).tolist() == field_ref.add(al, bl)
    assert field.sub(a, b).tolist() == field_ref.sub(al, bl)
    assert field.mul(a, b).tolist() == field_ref.mul(al, bl)
    assert field.mul(a[::2], b[::2]).tolist() == field_ref.mul(al[::2], bl[::2])
    assert field.neg(a).tolist() == field_ref.neg(al)
    assert field.emul_base(np.stack([a, b, a, b]), b).tolist() == field_ref.emul_base([al, bl, al, bl], bl)


def test_efold_matches_add_of_scaled_slope() -> None:
    rng = np.random.default_rng(14)
    m = (1 << 14) + 9
    even = _worst_ext(rng, (2, 2 * m))[..., 0::2]
    slope = _worst_ext(rng, (2, m))
    r = np.array([P - 1, 3, 0, P - 1], dtype=np.uint64)
    assert np.array_equal(field.efold(even, slope, r), field.eadd(even, field.emul(slope, r)))
    idx = [0, 1, m - 1]
    ref = field_ref.eadd(_ref_ext_cols(even[:, 0], idx), field_ref.emul(_ref_ext_cols(slope[:, 0], idx), r.tolist()))
    assert _ref_ext_cols(field.efold(even, slope, r)[:, 0], idx) == ref
    be = rng.integers(0, P, 2 * m, dtype=np.uint64)[0::2]
    bs = rng.integers(0, P, m, dtype=np.uint64)
    be[0], bs[0] = P - 1, P - 1
    want = field.eadd(field.ext_from_base(be), field.emul_base(r, bs))
    assert np.array_equal(field.efold_base(be, bs, r), want)
    assert _ref_ext_cols(field.efold_base(be, bs, r), idx) == field_ref.eadd(
        field_ref.ext_from_base([int(be[i]) for i in idx]), field_ref.emul_base(r.tolist(), [int(bs[i]) for i in idx])
    )


@pytest.mark.parametrize("n", [2, 7, (1 << 14) + 3])
def test_compiled_kernels_equal_the_numpy_reference(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """field's numba twins (emul on (4, n), by a vector or an ext scalar; edot) against the numpy
    code beside them, bit for bit, at worst-case values, on contiguous and strided operands and
    every broadcast the callers use (an ext scalar as (4,) or (4, 1) on either side)."""
    rng = np.random.default_rng(n)
    a = _worst_ext(rng, (2 * n,))[:, ::2]  # non-contiguous
    b = _worst_ext(rng, (n,))
    s = np.array([P - 1, P - 1, 0, P - 1], dtype=np.uint64)
    ac = np.ascontiguousarray(a)
    a3 = _worst_ext(rng, (3, 2 * n))[..., 1::2]  # rank 3, strided, as the folds pass it
    cols = rng.integers(0, P, (8, n), dtype=np.uint64)  # lincomb_base's direct path (m <= 8)
    cols[:, 0] = P - 1
    coeffs = np.full((4, 8), P - 1, dtype=np.uint64)

    def run() -> list[np.ndarray]:
        return [field.emul(a, b), field.emul(ac, b), field.emul(a, s), field.emul(ac, s), field.emul(s, b),
                field.emul(a, s.reshape(4, 1)), field.emul(s.reshape(4, 1), b), field.edot(a, b),
                field.edot(ac, b), field.edot(b, b), field.emul(a3, s), field.emul(a3, a3), field.emul(s, a3),
                field.lincomb_base(cols, coeffs), field.lincomb_base(cols[::2], coeffs[:, ::2]),
                field.lincomb_base(np.tile(cols, (4, 1)), np.tile(coeffs, (1, 4))),  # m = 32
                field.edot_base_many(a, cols), field.edot_base_many(b, cols.astype(np.uint32))]

    compiled = run()
    monkeypatch.setattr(field, "_JIT_KERNELS", False)
    reference = run()
    for i, (got, want) in enumerate(zip(compiled, reference)):
        assert got.dtype == want.dtype == np.uint64 and got.shape == want.shape, i
        assert np.array_equal(got, want), f"output {i} differs"
    idx = [0, 1, n - 1]
    assert _ref_ext_cols(compiled[0], idx) == field_ref.emul(_ref_ext_cols(a, idx), _ref_ext_cols(b, idx))


def test_compiled_modp_is_exact_over_the_whole_uint64_range() -> None:
    """The division-free reduction of the compiled kernels (float64 quotient estimate plus one
    correction) against numpy's %, at the edges and where x / P sits closest to an integer."""
    rng = np.random.default_rng(99)
    q = rng.integers(0, (1 << 64) // P, 20000, dtype=np.uint64)
    near = np.concatenate([q * np.uint64(P) + np.uint64(d) for d in (0, 1, P - 1)])  # around multiples of P
    edges = np.array([0, 1, P - 1, P, P + 1, (P - 1) ** 2, 4 * (P - 1) ** 2, 2**63, 2**64 - 1], dtype=np.uint64)
    x = np.concatenate([edges, near, rng.integers(0, 2**64 - 1, 200000, dtype=np.uint64, endpoint=True)])
    out = np.empty_like(x)
    field._modp_vec_jit(x, out)
    assert np.array_equal(out, x % np.uint64(P))


def test_ext_scalar_add_sub_fast_path_equals_the_vector_path() -> None:
    """eadd/esub on two (4,) scalars take a Python-int path; it must give the vector path's bits
    for any uint64 inputs, reduced or not (wrap-around included)."""
    rng = random.Random(5)
    edge = [0, 1, P - 1, P, 2 * P - 1, 1 << 32, 1 << 63, (1 << 64) - 1]
    for _ in range(2000):
        a = np.array([rng.choice(edge + [rng.randrange(P)]) for _ in range(4)], dtype=np.uint64)
        b = np.array([rng.choice(edge + [rng.randrange(P)]) for _ in range(4)], dtype=np.uint64)
        for op in (field.eadd, field.esub):
            got = op(a, b)
            assert got.dtype == np.uint64 and got.shape == (4,)
            assert np.array_equal(got, op(a.reshape(4, 1), b.reshape(4, 1))[:, 0]), (op.__name__, a, b)
