"""The compiled Reed-Solomon encoder (``prover.fieldntt``) against the numpy reference
(``prover.pcs.ntt``) and a plain-int evaluation.

One suite, two implementations: every test taking ``impl`` runs once with the kernel dispatched
(``ntt._USE_KERNEL`` on, the default) and once on the numpy code, so the reference itself stays
checked. The kernel must give the same residues (the proof bytes depend on them), at every size
and blowup, into u32 and u64 leaf matrices, at any column offset and any row count around the
16-row store groups.
"""

from __future__ import annotations

from typing import Iterator

import numba
import numpy as np
import pytest

from prover import field, fieldntt
from prover.pcs import ntt

P = field.P


@pytest.fixture(params=["kernel", "numpy"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(ntt, "_USE_KERNEL", request.param == "kernel")
    yield str(request.param)


def rand_rows(seed: int, batch: int, log_c: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, P, (batch, 1 << log_c), dtype=np.uint64)


def bitrev(x: int, bits: int) -> int:
    return int(format(x, f"0{bits}b")[::-1], 2) if bits else 0


def plain_encode(rows: np.ndarray, log_blowup: int) -> np.ndarray:
    """Position p of row r's codeword: sum_i row[i] w_n^(i * bitrev_n(p)), with Python ints."""
    c = rows.shape[1]
    log_n = (c << log_blowup).bit_length() - 1
    w = field.root_of_unity(log_n)
    pts = [pow(w, bitrev(p, log_n), P) for p in range(1 << log_n)]
    return np.array(
        [[sum(int(a) * pow(x, i, P) for i, a in enumerate(row)) % P for x in pts] for row in rows],
        dtype=np.uint64,
    )


def encode_both(rows: np.ndarray, log_blowup: int, width: int, col0: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, reference) leaf matrices of the same call."""
    n = rows.shape[1] << log_blowup
    outs = []
    for use in (True, False):
        out = np.full((n, width), 7, dtype=dtype)  # 7: a marker the encoder must not overwrite
        ntt._USE_KERNEL = use
        try:
            ntt.rs_encode_columns(rows, out, col0, log_blowup)
        finally:
            ntt._USE_KERNEL = True
        outs.append(out)
    return outs[0], outs[1]


# ------------------------------------------------------------------------- both implementations


@pytest.mark.parametrize("log_c", range(0, 6))
@pytest.mark.parametrize("log_blowup", [0, 1, 2, 3])
def test_rs_encode_matches_plain_int_dft(impl: str, log_c: int, log_blowup: int) -> None:
    rows = rand_rows(10 * log_c + log_blowup, 3, log_c)
    assert np.array_equal(ntt.rs_encode(rows, log_blowup), plain_encode(rows, log_blowup))


@pytest.mark.parametrize("batch", [1, 15, 16, 17, 33])
@pytest.mark.parametrize("dtype", ["<u4", "<u8"])
def test_columns_land_at_the_offset_and_nowhere_else(impl: str, batch: int, dtype: str) -> None:
    rows = rand_rows(batch, batch, 4)
    out = np.full((16 << 3, batch + 5), 7, dtype=dtype)
    ntt.rs_encode_columns(rows, out, 3, 3)
    assert np.array_equal(out[:, 3 : 3 + batch].T, plain_encode(rows, 3))
    assert (out[:, :3] == 7).all() and (out[:, 3 + batch :] == 7).all()


def test_extreme_entries(impl: str) -> None:
    # all P - 1 and all 0 rows, and a row of alternating extremes: every sum and difference in
    # the butterflies hits the ends of its range
    c = 32
    rows = np.stack(
        [np.full(c, P - 1, np.uint64), np.zeros(c, np.uint64), np.where(np.arange(c) % 2 == 0, P - 1, 0).astype(np.uint64)]
    )
    assert np.array_equal(ntt.rs_encode(rows, 3), plain_encode(rows, 3))


def test_strided_input(impl: str) -> None:
    base = rand_rows(5, 8, 5)
    view = base[::2]  # rows of a strided view
    assert np.array_equal(ntt.rs_encode(view, 2), plain_encode(np.ascontiguousarray(view), 2))
    fortran = np.asfortranarray(base)
    assert np.array_equal(ntt.rs_encode(fortran, 1), plain_encode(base, 1))


# --------------------------------------------------------------------- kernel against reference


@pytest.mark.parametrize("log_c,log_blowup", [(6, 3), (7, 1), (8, 2), (9, 3), (10, 1), (11, 3), (12, 2)])
@pytest.mark.parametrize("dtype", ["<u4", "<u8"])
def test_kernel_equals_numpy_reference(log_c: int, log_blowup: int, dtype: str) -> None:
    # sizes past the reference's split (64) and slab, row counts off the 16-row groups
    batch = 21 if log_c < 11 else 5
    rows = rand_rows(1000 + log_c, batch, log_c)
    got, ref = encode_both(rows, log_blowup, batch + 11, 6, dtype)
    assert np.array_equal(got, ref)


def test_kernel_equals_reference_at_the_2_20_row_length() -> None:
    # C = 2^15 at rate 1/8, the production shape at log T = 20 (two rows keep it quick)
    rows = rand_rows(2020, 2, 15)
    got, ref = encode_both(rows, 3, 2, 0, "<u4")
    assert np.array_equal(got, ref)


def test_kernel_declines_unreduced_rows_and_the_reference_answers() -> None:
    rows = rand_rows(3, 4, 5)
    rows[2, 7] = P  # not a reduced element: the kernel's exactness argument does not cover it
    out = np.zeros((32 << 1, 4), dtype="<u4")
    assert fieldntt.encode_columns(rows, out, 0, 1) is False
    assert not out.any()
    got, ref = encode_both(rows, 1, 4, 0, "<u4")
    assert np.array_equal(got, ref)


def test_kernel_declines_other_dtypes() -> None:
    rows = rand_rows(4, 2, 4)
    assert fieldntt.encode_columns(rows, np.zeros((32, 2), dtype=np.int64), 0, 1) is False


@numba.njit(cache=False)
def _mont_many(t: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(t.shape[0]):
        out[i] = fieldntt._mont(t[i])


def test_montgomery_reduction_is_exact_over_its_whole_range() -> None:
    # _mont(t) = t 2^-32 mod P, reduced, for every t < 2 P^2 (the largest product it is given)
    rng = np.random.default_rng(9)
    top = 2 * P * P
    edges = [0, 1, P - 1, P, P + 1, 2**32 - 1, 2**32, P * P - 1, P * P, top - 2, top - 1]
    t = np.concatenate([np.array(edges, dtype=np.uint64), rng.integers(0, top, 20000, dtype=np.uint64)])
    out = np.empty_like(t)
    _mont_many(t, out)
    rinv = pow(2**32, -1, P)
    assert [int(v) for v in out] == [int(v) * rinv % P for v in t]


def test_kernels_compiled_at_import_only() -> None:
    # the explicit signatures are compiled (or loaded from cache) when fieldntt is imported; a
    # production call must not add one, or compilation would fall inside stage 0
    before = list(fieldntt._encode_kernel.signatures)
    assert len(before) == 2
    rows = rand_rows(1, 3, 6)
    for dtype in ("<u4", "<u8"):
        fieldntt.encode_columns(rows, np.zeros((64 << 3, 3), dtype=dtype), 0, 3)
    assert list(fieldntt._encode_kernel.signatures) == before
    assert len(fieldntt._dif_group.signatures) == 1 and len(fieldntt._scaled_first_pass.signatures) == 1
    out = np.zeros((3, 64), dtype=np.uint64)
    fieldntt.encode_coset(rows, 5, 3, out)
    assert len(fieldntt._coset_kernel.signatures) == 1


# ------------------------------------------------------------------------------- encode_coset


def coset_blocks(rows: np.ndarray, log_blowup: int) -> np.ndarray:
    """(2^b, B, C): encode_coset for every beta, through the dispatched path."""
    scratch = np.empty((ntt.coset_step(*rows.shape), rows.shape[1]), dtype=np.uint64)
    blocks = []
    for beta in range(1 << log_blowup):
        out = np.full(rows.shape, 7, dtype=np.uint64)
        assert ntt.encode_coset(rows, beta, log_blowup, out, scratch) is out
        blocks.append(out)
    return np.stack(blocks)


@pytest.mark.parametrize("log_c,log_blowup,batch", [(0, 1, 3), (1, 3, 2), (2, 2, 17), (3, 3, 16), (4, 1, 5), (5, 3, 33)])
def test_cosets_are_the_blocks_of_the_codeword(impl: str, log_c: int, log_blowup: int, batch: int) -> None:
    rows = rand_rows(50 + log_c, batch, log_c)
    c = 1 << log_c
    blocks = coset_blocks(rows, log_blowup)
    expected = plain_encode(rows, log_blowup)
    for beta in range(1 << log_blowup):
        assert np.array_equal(blocks[beta], expected[:, beta * c : (beta + 1) * c])


@pytest.mark.parametrize("log_c,log_blowup", [(6, 3), (9, 1), (12, 3), (15, 3)])
def test_coset_kernel_equals_numpy_reference(log_c: int, log_blowup: int) -> None:
    rows = rand_rows(3000 + log_c, 19 if log_c < 12 else 3, log_c)
    got = coset_blocks(rows, log_blowup)
    ntt._USE_KERNEL = False
    try:
        ref = coset_blocks(rows, log_blowup)
    finally:
        ntt._USE_KERNEL = True
    assert np.array_equal(got, ref)
