"""Fingerprints and logUp leaves: prover leaves vs. the verifier's formulas at a point, each
against plain-int references; table sides, multiplicities and the state fraction sums."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from prover import field_ref as R
from prover.field import P, ext_scalar, ext_to_ints
from prover.mle import mle_eval_base, mle_eval_ext
from prover.relations import fingerprints as fp
from prover.relations.layout import BytecodeTable

LOG_T = 4
T = 1 << LOG_T


def rand_ext(rng: np.random.Generator) -> np.ndarray:
    return ext_scalar(*(int(v) for v in rng.integers(0, P, 4)))


def random_columns(names: tuple[str, ...], rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {n: rng.integers(0, 1 << 16, T).astype(np.uint64) for n in names}


def ref_fp(fields: list[int], g: list[int]) -> list[int]:
    """sum_k g^k fields[k] with the plain-int field."""
    acc = R.ext_scalar(0)
    gk = R.ext_scalar(1)
    for f in fields:
        acc = R.eadd(acc, R.emul_base(gk, f % P))
        gk = R.emul(gk, g)
    return acc


def lin_int(lin: fp.Lin, cols: dict[str, np.ndarray], c: int) -> int:
    total = 0
    for name, coeff in lin.items():
        v = 1 if name == fp.ONE else c if name == fp.CYCLE else int(cols[name][c])
        total += coeff * v
    return total


ALL_SLOTS = {
    "lookup": fp.LOOKUP_SLOTS,
    "register": fp.REGISTER_SLOTS,
    "ram": fp.RAM_SLOTS,
    "bytecode": fp.BYTECODE_SLOTS,
}


@pytest.mark.parametrize("kind", list(ALL_SLOTS))
def test_leaves_match_plain_int_reference(kind: str) -> None:
    rng = np.random.default_rng(11)
    slots = ALL_SLOTS[kind]
    cols = random_columns(fp.slot_columns(slots), rng)
    alpha, g = rand_ext(rng), rand_ext(rng)
    num, den = fp.leaves(slots, cols, T, alpha, g)
    if num is None:  # every slot counts once
        assert all(slot.num == {fp.ONE: 1} for slot in slots)
        num = np.ones(len(slots) * T, dtype=np.uint64)
    ga = [int(v) for v in g]
    for s, slot in enumerate(slots):
        for c in (0, 5, T - 1):
            assert int(num[s * T + c]) == lin_int(slot.num, cols, c) % P
            fields = [lin_int(f, cols, c) for f in slot.fields]
            want = R.esub([int(v) for v in alpha], ref_fp(fields, ga))
            assert list(ext_to_ints(den[:, s * T + c])) == want, (slot.name, c)


@pytest.mark.parametrize("kind", list(ALL_SLOTS))
def test_leaves_at_is_the_mle_of_leaves(kind: str) -> None:
    """The verifier's formula at (r_cycle, r_slot) equals the MLE of the prover's leaves."""
    rng = np.random.default_rng(12)
    slots = ALL_SLOTS[kind]
    cols = random_columns(fp.slot_columns(slots), rng)
    alpha, g = rand_ext(rng), rand_ext(rng)
    num, den = fp.leaves(slots, cols, T, alpha, g)
    if num is None:
        num = np.ones(len(slots) * T, dtype=np.uint64)
    slot_bits = (len(slots) - 1).bit_length()
    point = [rand_ext(rng) for _ in range(LOG_T + slot_bits)]
    values = {n: mle_eval_base(c, point[:LOG_T]) for n, c in cols.items()}
    n_at, d_at = fp.leaves_at(slots, values, point[:LOG_T], point[LOG_T:], alpha, g)
    assert np.array_equal(n_at, mle_eval_base(num, point))
    assert np.array_equal(d_at, mle_eval_ext(den, point))


def test_range_tuples_cannot_collide_with_memory_tuples() -> None:
    """Range slots carry g^4, memory slots stop at g^3: the fingerprints differ as polynomials."""
    for slot in fp.REGISTER_SLOTS + fp.RAM_SLOTS:
        if slot.name.startswith("RG"):
            assert len(slot.fields) == 5 and slot.fields[4] == {fp.ONE: 1}
        else:
            assert len(slot.fields) == 4


def test_table_dens_match_their_mles() -> None:
    rng = np.random.default_rng(13)
    alpha, g = rand_ext(rng), rand_ext(rng)
    point = [rand_ext(rng) for _ in range(fp.RANGE_BITS)]
    assert np.array_equal(
        fp.range_table_den_at(point, alpha, g), mle_eval_ext(fp.range_table_den(alpha, g), point)
    )
    point19 = [rand_ext(rng) for _ in range(19)]
    assert np.array_equal(
        fp.lookup_table_den_at(point19, alpha, g),
        mle_eval_ext(fp.lookup_table_den(alpha, g), point19),
    )


def small_table(length: int, rng: np.random.Generator) -> BytecodeTable:
    log_n = max(1, (length - 1).bit_length())
    cols = {n: np.zeros(1 << log_n, dtype=np.uint64) for n in fp.BYTECODE_FIELDS}
    for n in fp.BYTECODE_FIELDS:
        cols[n][:length] = rng.integers(0, 16, length).astype(np.uint64)
    cols["pc"][:length] = np.arange(length, dtype=np.uint64)
    return BytecodeTable(cols, length, log_n)


def test_bytecode_table_den_matches_reference_and_mle() -> None:
    rng = np.random.default_rng(14)
    table = small_table(5, rng)
    alpha, g = rand_ext(rng), rand_ext(rng)
    den = fp.bytecode_table_den(table, alpha, g)
    ga = [int(v) for v in g]
    for i in range(1 << table.log_n):
        row = [int(table.columns[n][i]) for n in fp.BYTECODE_FIELDS]
        assert list(ext_to_ints(den[:, i])) == R.esub([int(v) for v in alpha], ref_fp(row, ga))
    point = [rand_ext(rng) for _ in range(table.log_n)]
    assert np.array_equal(fp.bytecode_table_den_at(table, point, alpha, g), mle_eval_ext(den, point))


def test_range_multiplicities() -> None:
    cols = [np.array([0, 3, 3, 2047], dtype=np.uint64), np.array([3, 0, 1, 1], dtype=np.uint64)]
    m = fp.range_multiplicities(cols)
    assert m.shape == (fp.RANGE_SIZE,)
    assert {i: int(m[i]) for i in np.flatnonzero(m)} == {0: 2, 1: 2, 3: 3, 2047: 1}
    with pytest.raises(ValueError, match="cycle 1"):
        fp.range_multiplicities([np.array([0, 2048], dtype=np.uint64)])


def test_bytecode_multiplicities() -> None:
    pc = np.array([0, 1, 2, 1, 4, 4, 4, 4], dtype=np.uint64)
    m = fp.bytecode_multiplicities(pc, small_table(5, np.random.default_rng(0)))
    assert m.tolist() == [1, 2, 1, 0, 4, 0, 0, 0]
    assert Counter(pc.tolist()) == {i: int(v) for i, v in enumerate(m) if v}
    with pytest.raises(ValueError, match="outside the program"):
        fp.bytecode_multiplicities(pc, small_table(4, np.random.default_rng(0)))


def test_state_fraction_sum_matches_reference() -> None:
    rng = np.random.default_rng(15)
    alpha, g = rand_ext(rng), rand_ext(rng)
    n = 16
    addr = np.arange(n, dtype=np.uint64)
    v_lo, v_hi, t = (rng.integers(0, 1 << 16, n).astype(np.uint64) for _ in range(3))
    got = fp.state_fraction_sum(addr, v_lo, v_hi, t, alpha, g)
    want = R.ext_scalar(0)
    for i in range(n):
        d = R.esub([int(v) for v in alpha], ref_fp([i, int(v_lo[i]), int(v_hi[i]), int(t[i])],
                                                   [int(v) for v in g]))
        want = R.eadd(want, R.einv(d))
    assert list(ext_to_ints(got)) == want


def test_state_fraction_sum_raises_on_zero_denominator() -> None:
    g = ext_scalar(0)
    alpha = ext_scalar(3)  # the tuple with addr 3 (and g = 0) hits alpha exactly
    z = np.zeros(4, dtype=np.uint64)
    with pytest.raises(ZeroDivisionError):
        fp.state_fraction_sum(np.arange(4, dtype=np.uint64), z, z, z, alpha, g)


def test_mult_sources_name_committed_columns() -> None:
    assert fp.MULT_SOURCES["m_instr"] == ("a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3")
    assert set(fp.slot_columns(fp.REGISTER_SLOTS)) >= set(fp.MULT_SOURCES["m_rangeB"])
    assert set(fp.slot_columns(fp.RAM_SLOTS)) >= set(fp.MULT_SOURCES["m_rangeM"])


# ----------------------------------------------------------------------------- v3 helpers


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000])
def test_batch_einv_matches_einv(n: int) -> None:
    from prover.field import einv

    rng = np.random.default_rng(n)
    a = rng.integers(1, P, (4, n)).astype(np.uint64)
    assert np.array_equal(fp.batch_einv(a), einv(a))


def test_batch_einv_names_the_first_zero() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(1, P, (4, 9)).astype(np.uint64)
    a[:, 5] = 0
    a[:, 7] = 0
    with pytest.raises(ZeroDivisionError, match="index 5"):
        fp.batch_einv(a)


def test_helper_layout_is_the_protocol() -> None:
    assert fp.HELPER_NAMES == ("h3_0", "h3_1", "h4_0", "h4_1", "h4_2", "h4_3", "h5_0", "h5_1", "h6_0")
    assert len(fp.HELPER_POLYS) == 36 and fp.HELPER_POLYS[:5] == ("h3_0.0", "h3_0.1", "h3_0.2", "h3_0.3", "h3_1.0")
    names = {st: [s.name for s in fp.STAGE_SLOTS[st]] for st in fp.HELPER_STAGES}
    pairs = {st: [tuple(names[st][i] for i in p) for p in fp.HELPER_PAIRS[st]] for st in fp.HELPER_STAGES}
    assert pairs == {
        3: [("LK0", "LK1"), ("LK2", "LK3")],
        4: [("RS_B", "WS_B"), ("RS_A", "WS_A"), ("RG_Blo", "RG_Bhi"), ("RG_Alo", "RG_Ahi")],
        5: [("RS_M", "WS_M"), ("RG_Mlo", "RG_Mhi")],
        6: [("BC",)],
    }
    # every slot is covered exactly once
    for st in fp.HELPER_STAGES:
        assert sorted(i for p in fp.HELPER_PAIRS[st] for i in p) == list(range(len(fp.STAGE_SLOTS[st])))


def test_num_forms_pair_up() -> None:
    """A pair's slots share their numerator form: RS/WS are -L and +L, the rest constants."""
    forms = {s.name: fp.num_form(s) for st in fp.HELPER_STAGES for s in fp.STAGE_SLOTS[st]}
    assert forms["RS_B"] == (-1, (("1", 1), ("use_imm", -1))) and forms["WS_B"] == (1, forms["RS_B"][1])
    assert forms["RS_M"] == (-1, (("f_load", 1), ("f_store", 1))) and forms["WS_M"] == (1, forms["RS_M"][1])
    assert forms["RS_A"] == (-1, None) and forms["WS_A"] == (1, None) and forms["LK2"] == (1, None)
    for st in fp.HELPER_STAGES:
        for p in fp.HELPER_PAIRS[st]:
            assert len({forms[fp.STAGE_SLOTS[st][i].name][1] for i in p}) == 1


@pytest.mark.parametrize("stage", [3, 4, 5, 6])
def test_helper_terms_at_is_the_mle_formula(stage: int) -> None:
    """The verifier's summand at a point equals the same formula on the MLEs of the prover's
    per-slot tables (n and D are affine in the columns, so their MLEs are the slot formulas)."""
    from prover.field import eadd, emul, esub

    rng = np.random.default_rng(20 + stage)
    slots = fp.STAGE_SLOTS[stage]
    cols = random_columns(fp.slot_columns(slots), rng)
    alpha, g, rho = rand_ext(rng), rand_ext(rng), rand_ext(rng)
    num, den = fp.leaves(slots, cols, T, alpha, g)
    num = np.ones(len(slots) * T, dtype=np.uint64) if num is None else num
    point = [rand_ext(rng) for _ in range(LOG_T)]
    n_at = [mle_eval_base(num[s * T : (s + 1) * T], point) for s in range(len(slots))]
    d_at = [mle_eval_ext(den[:, s * T : (s + 1) * T], point) for s in range(len(slots))]
    hv = [rand_ext(rng) for _ in fp.HELPER_PAIRS[stage]]
    values = {n: mle_eval_base(c, point) for n, c in cols.items()}
    zero, frac = fp.helper_terms_at(stage, values, hv, point, alpha, g, rho)
    want_z, want_f, rp = ext_scalar(0), ext_scalar(0), ext_scalar(1)
    for h, p in zip(hv, fp.HELPER_PAIRS[stage]):
        prod, cross = ext_scalar(1), ext_scalar(0)
        for s in p:
            prod = emul(prod, d_at[s])
        if len(p) == 1:
            cross = n_at[p[0]]
        else:
            cross = eadd(emul(n_at[p[0]], d_at[p[1]]), emul(n_at[p[1]], d_at[p[0]]))
        want_z = eadd(want_z, emul(rp, esub(emul(h, prod), ext_scalar(1))))
        want_f = eadd(want_f, emul(h, cross))
        rp = emul(rp, rho)
    assert np.array_equal(zero, want_z) and np.array_equal(frac, want_f)
