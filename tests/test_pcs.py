"""Tests of the Ligero PCS (``prover.pcs``): the NTT against a naive DFT, the Merkle multiproofs,
commit/open/verify round trips, and one test per attack, named after it, each expecting the
PCSError check that should catch it. All sizes are small; the whole file runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from prover import field, mle
from prover.pcs import (
    CommitBuilder,
    Commitment,
    LigeroParams,
    OpeningProof,
    PCSError,
    absorb_commitment,
    commit,
    evaluate,
    open as pcs_open,
    verify,
)
from prover.pcs import ligero, merkle, ntt
from prover.transcript import Transcript

P = field.P


def rand_base(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, P, shape, dtype=np.uint64)


def rand_point(rng: np.random.Generator, k: int) -> list[np.ndarray]:
    return [rand_base(rng, (4,)) for _ in range(k)]


def naive_eval(rows: np.ndarray, log_n: int) -> np.ndarray:
    """rows[r] read as coefficients, evaluated at w_n^bitrev(p) for every p, with plain ints."""
    w = field.root_of_unity(log_n)
    exps = [int(e) for e in ntt.eval_exponents(log_n)]
    out = [
        [sum(int(c) * pow(w, i * e, P) for i, c in enumerate(row)) % P for e in exps]
        for row in rows
    ]
    return np.array(out, dtype=np.uint64)


# ------------------------------------------------------------------------------------------ NTT


@pytest.mark.parametrize("log_n", range(0, 9))
def test_ntt_matches_naive_dft(log_n: int) -> None:
    rng = np.random.default_rng(log_n)
    x = rand_base(rng, (3, 1 << log_n))
    assert np.array_equal(ntt.ntt_bitrev(x), naive_eval(x, log_n))


@pytest.mark.parametrize("log_c,log_blowup", [(0, 1), (1, 1), (3, 2), (6, 1), (7, 1), (5, 3)])
def test_rs_encode_matches_naive_evaluation(log_c: int, log_blowup: int) -> None:
    rng = np.random.default_rng(100 + log_c)
    x = rand_base(rng, (5, 1 << log_c))
    expected = naive_eval(x, log_c + log_blowup)
    assert np.array_equal(ntt.rs_encode(x, log_blowup), expected)
    # the leaf-major store used by the commitment: columns col0.. of a wider matrix
    out = np.zeros((expected.shape[1], 9), dtype="<u4")
    ntt.rs_encode_columns(x, out, 3, log_blowup)
    assert np.array_equal(out[:, 3:8].T, expected)
    assert not out[:, :3].any() and not out[:, 8:].any()


def test_rs_encode_columns_many_rows_matches_row_encoder() -> None:
    # > _STORE_ROWS rows and a length above _SPLIT exercise the wide, narrow and staging paths.
    rng = np.random.default_rng(7)
    x = rand_base(rng, (37, 256))
    out = np.empty((512, 37), dtype="<u4")
    ntt.rs_encode_columns(x, out, 0)
    assert np.array_equal(out.T, ntt.rs_encode(x))
    assert np.array_equal(ntt.rs_encode(x[:2]), naive_eval(x[:2], 9))


def test_ntt_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        ntt.rs_encode(np.zeros((2, 3), dtype=np.uint64))
    with pytest.raises(ValueError):
        ntt.rs_encode_columns(np.zeros((2, 4), dtype=np.uint64), np.zeros((8, 1), "<u4"), 0)


# --------------------------------------------------------------------------------------- Merkle


def test_merkle_multiproof_round_trip_and_size() -> None:
    rng = np.random.default_rng(1)
    leaves = rng.integers(0, 2**32, (64, 5), dtype=np.uint64).astype("<u4")
    digests = merkle.hash_leaves(leaves)
    tree = merkle.MerkleTree(digests)
    idx = [0, 1, 5, 17, 40, 63]
    nodes = tree.open(idx)
    assert len(nodes) == merkle.multiproof_size(idx, 64)
    leaf_list = [digests[32 * i : 32 * i + 32] for i in idx]
    merkle.verify_batch(tree.root, 64, idx, leaf_list, nodes)
    with pytest.raises(merkle.MerkleError):
        merkle.verify_batch(tree.root, 64, idx, leaf_list, nodes[:-1])
    with pytest.raises(merkle.MerkleError):
        merkle.verify_batch(tree.root, 64, idx, leaf_list, nodes + [bytes(32)])
    with pytest.raises(merkle.MerkleError):
        merkle.verify_batch(tree.root, 64, [0, 1, 5, 17, 40, 62], leaf_list, nodes)


# ------------------------------------------------------------------------------- round trips


Setup = tuple[np.ndarray, Commitment, ligero.ProverData, list[np.ndarray], np.ndarray]


def _setup(k: int, m: int, seed: int, params: LigeroParams | None = None) -> Setup:
    rng = np.random.default_rng(seed)
    polys = rand_base(rng, (m, 1 << k))
    com, data = commit(polys, params)
    z = rand_point(rng, k)
    values = np.stack([mle.mle_eval_base(polys[j], z) for j in range(m)], axis=1)
    return polys, com, data, z, values


def _prove(com: Commitment, data: ligero.ProverData, z: list[np.ndarray], values: np.ndarray) -> OpeningProof:
    tp = Transcript(b"pcs-test")
    absorb_commitment(tp, com)
    return pcs_open(data, z, tp, values)


def _verify(com: Commitment, z: list[np.ndarray], values: np.ndarray, proof: OpeningProof,
            params: LigeroParams | None = None) -> None:
    tv = Transcript(b"pcs-test")
    absorb_commitment(tv, com)
    verify(com, z, values, proof, tv, params)


@pytest.mark.parametrize(
    "k,m", [(0, 1), (1, 2), (3, 4), (6, 1), (8, 8), (11, 1), (9, 16), (2, 3), (7, 5), (10, 36), (12, 36)]
)
def test_commit_open_verify_round_trip(k: int, m: int) -> None:
    polys, com, data, z, values = _setup(k, m, seed=k * 31 + m)
    assert np.array_equal(evaluate(data, z), values)
    tp = Transcript(b"pcs-test")
    absorb_commitment(tp, com)
    proof = pcs_open(data, z, tp)  # values computed by the prover itself
    tv = Transcript(b"pcs-test")
    absorb_commitment(tv, Commitment.decode(com.encode()))
    verify(com, z, values, OpeningProof.decode(proof.encode()), tv)
    assert tv.state == tp.state  # prover and verifier transcripts stay in step


def test_round_trip_with_custom_params_and_blowup_4() -> None:
    params = LigeroParams(k=7, m=2, log_cols=4, num_queries=40, log_blowup=2)
    _, com, data, z, values = _setup(7, 2, seed=5, params=params)
    _verify(com, z, values, _prove(com, data, z, values), params)


def test_row_by_row_builder_gives_same_root_as_commit() -> None:
    rng = np.random.default_rng(3)
    k, m = 9, 4
    polys = rand_base(rng, (m, 1 << k))
    com, _ = commit(polys)
    builder = CommitBuilder(k, m)
    p = builder.params
    mats = polys.reshape(m, p.num_rows, p.num_cols)
    pieces = [(j, r) for j in range(m) for r in range(p.num_rows)]
    for i in rng.permutation(len(pieces)):
        j, r = pieces[i]
        builder.add_rows(j, r, mats[j, r : r + 1])
    com2, data2 = builder.finish()
    assert com2 == com
    z = rand_point(rng, k)
    values = evaluate(data2, z)
    _verify(com, z, values, _prove(com2, data2, z, values))


def test_leaves_are_time_major_columns_and_absorb_row_group_by_row_group() -> None:
    # v2's layout: stacked row i * m + j is row i of poly j, leaf q is column q of the encoded
    # stacked matrix in that order, so feeding each leaf's SHA-256 one row-group (all m polys'
    # row i) at a time gives the same digest: what a streaming stage 0 relies on.
    import hashlib

    rng = np.random.default_rng(33)
    k, m = 7, 4
    polys = rand_base(rng, (m, 1 << k))
    params = LigeroParams(k=k, m=m, log_cols=4, num_queries=20)
    com, data = commit(polys, params)
    R, C, n = params.num_rows, params.num_cols, params.codeword_len
    enc = ntt.rs_encode(polys.reshape(m * R, C), params.log_blowup).reshape(m, R, n)
    stacked = enc.transpose(1, 0, 2).reshape(R * m, n)  # (i, j) rows, time-major
    assert np.array_equal(data.leaves, stacked.T)
    assert np.array_equal(data.messages, polys.reshape(m, R, C).transpose(1, 0, 2).reshape(R * m, C))
    hashers = [hashlib.sha256(b"\x00") for _ in range(n)]
    for i in range(R):
        group = np.ascontiguousarray(enc[:, i, :].T, dtype="<u4")  # (n, m): leaf q's bytes of row-group i
        for q in range(n):
            hashers[q].update(group[q].tobytes())
    assert merkle.MerkleTree(b"".join(h.digest() for h in hashers)).root == com.root


def test_row_group_builder_gives_same_root_as_commit() -> None:
    rng = np.random.default_rng(34)
    k, m = 10, 8
    polys = rand_base(rng, (m, 1 << k))
    com, data = commit(polys)
    builder = CommitBuilder(k, m)
    p = builder.params
    groups = polys.reshape(m, p.num_rows, p.num_cols).transpose(1, 0, 2)
    order = rng.permutation(p.num_rows)
    for i in order:
        builder.add_row_groups(int(i), groups[i : i + 1])
    with pytest.raises(ValueError, match="builder already finished|twice"):
        builder.add_row_groups(int(order[0]), groups[order[0] : order[0] + 1])
    com2, data2 = builder.finish()
    assert com2 == com and np.array_equal(data2.leaves, data.leaves)


def test_builder_rejects_double_and_missing_rows() -> None:
    builder = CommitBuilder(6, 2)
    p = builder.params
    row = np.zeros((1, p.num_cols), dtype=np.uint64)
    builder.add_rows(0, 0, row)
    with pytest.raises(ValueError, match="twice"):
        builder.add_rows(0, 0, row)
    with pytest.raises(ValueError, match="never added"):
        builder.finish()
    with pytest.raises(ValueError, match="reduced"):
        builder.add_rows(1, 0, np.full((1, p.num_cols), P, dtype=np.uint64))
    with pytest.raises(ValueError, match="out of range"):
        builder.add_rows(2, 0, row)


# ------------------------------------------------------------------------------------- attacks


def _expect(check: str, com: Commitment, z: list[np.ndarray], values: np.ndarray,
            proof: OpeningProof, params: LigeroParams | None = None) -> PCSError:
    with pytest.raises(PCSError) as info:
        _verify(com, z, values, proof, params)
    assert info.value.check == check, str(info.value)
    return info.value


def test_wrong_claimed_value_rejected() -> None:
    _, com, data, z, values = _setup(8, 8, seed=11)
    proof = _prove(com, data, z, values)
    bad = values.copy()
    bad[2, 5] = (int(bad[2, 5]) + 1) % P
    _expect("eval", com, z, bad, proof)


def test_wrong_value_opened_consistently_rejected() -> None:
    # the prover absorbs the wrong value too (same transcript): still caught by eval
    _, com, data, z, values = _setup(8, 8, seed=12)
    bad = values.copy()
    bad[0, 3] = (int(bad[0, 3]) + 7) % P
    _expect("eval", com, z, bad, _prove(com, data, z, bad))


def test_tampered_u_rejected() -> None:
    _, com, data, z, values = _setup(8, 8, seed=13)
    proof = _prove(com, data, z, values)
    proof.u[1, 3] = (int(proof.u[1, 3]) + 1) % P
    _expect("eval", com, z, values, proof)


def _open_with_u_offset(data: ligero.ProverData, com: Commitment, z: list[np.ndarray],
                        values: np.ndarray, delta: np.ndarray) -> OpeningProof:
    """A cheating prover: sends u + delta and runs the rest of the protocol consistently."""
    p = data.params
    tp = Transcript(b"pcs-test")
    absorb_commitment(tp, com)
    ligero._absorb_claim(tp, p, z, values)
    beta = tp.challenge_exts("pcs.beta", p.log_m)
    u = field.eadd(field.lincomb_base(data.messages, ligero.stacked_row_coeffs(p, z, beta)), delta)
    tp.absorb_ext("pcs.u", u)
    nonce, idx = ligero._grind_and_query(tp, p)
    return OpeningProof(u, data.leaves[idx].astype(np.uint64), data.tree.open(idx), nonce)


def test_u_off_the_codeword_caught_by_column_check() -> None:
    # delta is orthogonal to eq(z_col), so the eval check passes; Enc(u) then disagrees with the
    # committed columns in > n/2 places and every column is queried (n = 16 << 244 queries).
    params = LigeroParams(k=6, m=2, log_cols=3, num_queries=244)
    _, com, data, z, values = _setup(6, 2, seed=14, params=params)
    eqc = mle.eq_table(z[:3])
    delta = np.zeros((4, 8), dtype=np.uint64)
    delta[:, 0] = eqc[:, 1]
    delta[:, 1] = field.eneg(eqc[:, 0])
    err = _expect("column", com, z, values, _open_with_u_offset(data, com, z, values, delta), params)
    assert err.query is not None


def test_tampered_column_entry_rejected() -> None:
    _, com, data, z, values = _setup(8, 8, seed=15)
    proof = _prove(com, data, z, values)
    proof.columns[4, 5] = (int(proof.columns[4, 5]) + 1) % P
    _expect("merkle", com, z, values, proof)


def test_tampered_merkle_node_rejected() -> None:
    _, com, data, z, values = _setup(8, 8, seed=16)
    proof = _prove(com, data, z, values)
    assert proof.nodes
    node = bytearray(proof.nodes[len(proof.nodes) // 2])
    node[0] ^= 1
    proof.nodes[len(proof.nodes) // 2] = bytes(node)
    _expect("merkle", com, z, values, proof)


def test_wrong_root_rejected() -> None:
    _, com, data, z, values = _setup(8, 8, seed=17)
    proof = _prove(com, data, z, values)
    other = Commitment(bytes(32), com.k, com.m)
    # the verifier binds the root it was given; the transcript must start from it too
    with pytest.raises(PCSError) as info:
        tv = Transcript(b"pcs-test")
        absorb_commitment(tv, com)
        verify(other, z, values, proof, tv)
    assert info.value.check == "merkle"


def test_wrong_point_rejected() -> None:
    _, com, data, z, values = _setup(8, 8, seed=18)
    proof = _prove(com, data, z, values)
    bad = [c.copy() for c in z]
    bad[0][0] = (int(bad[0][0]) + 1) % P
    _expect("eval", com, bad, values, proof)


def test_non_codeword_commitment_caught_by_column_check() -> None:
    # A prover that commits to a matrix with one corrupted codeword entry: every column is
    # queried at this size, so the corrupted one is, and its combination misses Enc(u).
    params = LigeroParams(k=5, m=2, log_cols=2, num_queries=244)
    _, _, data, z, values = _setup(5, 2, seed=19, params=params)
    data.leaves[3, 1] = (int(data.leaves[3, 1]) + 1) % P
    data.tree = merkle.MerkleTree(merkle.hash_leaves(data.leaves))
    com = Commitment(data.tree.root, 5, 2)
    data.commitment = com
    err = _expect("column", com, z, values, _prove(com, data, z, values), params)
    assert err.query == 3


def test_weaker_params_than_the_verifier_expects_rejected() -> None:
    weak = LigeroParams(k=8, m=8, log_cols=5, num_queries=3)
    _, com, data, z, values = _setup(8, 8, seed=20, params=weak)
    _expect("shape", com, z, values, _prove(com, data, z, values))  # verifier uses for_shape


def test_shape_errors_are_pcs_errors() -> None:
    _, com, data, z, values = _setup(4, 2, seed=21)
    proof = _prove(com, data, z, values)
    _expect("shape", com, z[:-1], values, proof)
    _expect("shape", com, z, values[:, :1], proof)


# ------------------------------------------------------------------------------------ encodings


def test_commitment_encoding_round_trip_and_rejection() -> None:
    com = Commitment(bytes(range(32)), 20, 64)
    assert Commitment.decode(com.encode()) == com
    odd = Commitment(bytes(range(32)), 12, 36)  # v3: any m >= 1 (virtual padding)
    assert Commitment.decode(odd.encode()) == odd
    for bad in (com.encode()[:-1], com.encode() + b"\0", bytes(32) + b"\x05\0\0\0\0\0\0\0",
                bytes(32) + b"\x05\0\0\0\x01\0\0\x01", bytes(32) + b"\x20\0\0\0\x01\0\0\0"):
        with pytest.raises(PCSError):
            Commitment.decode(bad)


def test_opening_proof_decoding_rejects_truncated_and_garbled_input() -> None:
    _, com, data, z, values = _setup(5, 2, seed=22)
    buf = _prove(com, data, z, values).encode()
    again = OpeningProof.decode(buf)
    assert again.encode() == buf
    for cut in list(range(0, 64)) + list(range(len(buf) - 64, len(buf))):
        with pytest.raises(PCSError, match="format"):
            OpeningProof.decode(buf[:cut])
    with pytest.raises(PCSError, match="trailing"):
        OpeningProof.decode(buf + b"\0")
    noncanonical = bytearray(buf)
    noncanonical[4:8] = b"\xff\xff\xff\xff"  # first component of u[0]
    with pytest.raises(PCSError, match="format"):
        OpeningProof.decode(bytes(noncanonical))
    rng = np.random.default_rng(0)
    for _ in range(50):
        junk = rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        with pytest.raises(PCSError):
            OpeningProof.decode(junk)
    huge = (1).to_bytes(4, "little") + bytes(16) + (2**31).to_bytes(4, "little") * 2
    with pytest.raises(PCSError, match="format"):
        OpeningProof.decode(huge)


# ----------------------------------------------------------------------------------- parameters


def test_parameters_meet_the_soundness_target() -> None:
    # v2, no grinding
    assert LigeroParams.queries_for(100, 1, 0) == 244  # ceil(101 / log2(4/3)), rate 1/2
    assert LigeroParams.queries_for(100, 2, 0) == 149  # ceil(101 / log2(8/5)), rate 1/4
    assert LigeroParams.queries_for(100, 3, 0) == 122  # ceil(101 / log2(16/9)), rate 1/8
    # v3: 16 bits of grinding
    assert LigeroParams.queries_for(100, 1) == 205  # ceil(85 / log2(4/3))
    assert LigeroParams.queries_for(100) == 103  # ceil(85 / log2(16/9)), rate 1/8
    p = LigeroParams.for_shape(20, 64)
    assert (p.log_cols, p.log_rows, p.num_queries, p.log_blowup, p.grind_bits) == (15, 5, 103, 3, 16)
    assert p.soundness_error_log2() <= -100
    assert LigeroParams.for_shape(20, 64, grind_bits=0).num_queries == 122  # v2's count
    # eps_prox grows with n: at 2^21 rows the shape needs a few queries more, never fewer
    big = LigeroParams.for_shape(21, 64)
    assert big.num_queries > 103 and big.soundness_error_log2() <= -100
    for k in range(0, 22):
        for m in (1, 64):
            q = LigeroParams.for_shape(k, m)
            assert q.soundness_error_log2() <= -100
            assert q.log_cols == min(k, -(-(k + q.log_m) // 2) + 2)
    assert LigeroParams.for_shape(0, 1).num_cols == 1
    with pytest.raises(ValueError):
        LigeroParams.for_shape(4, 0)


@pytest.mark.parametrize("k", range(0, 22))
def test_any_m_gets_the_shape_of_the_next_power_of_two(k: int) -> None:
    # v3: the helper batch (m = 36) shares C and R with the trace batch (m = 64) at every k
    for m, padded in ((36, 64), (3, 4), (5, 8), (100, 128)):
        p, q = LigeroParams.for_shape(k, m), LigeroParams.for_shape(k, padded)
        assert (p.log_cols, p.log_m, p.padded_m) == (q.log_cols, q.log_m, padded)
        assert p.total_rows == m * p.num_rows
        assert p.soundness_error_log2() <= -100


# ------------------------------------------------------------------------ v3: any m (padding)


def test_odd_batch_is_the_padded_batch_without_its_zero_rows() -> None:
    # m = 36 is committed as 36 R stored rows (the 28 virtual zero polys are never encoded or
    # hashed), and opening it gives the same u as a real 64-batch whose last 28 polys are zero.
    rng = np.random.default_rng(36)
    k, m = 10, 36
    polys = rand_base(rng, (m, 1 << k))
    com, data = commit(polys)
    p = data.params
    assert data.leaves.shape == (p.codeword_len, m * p.num_rows)
    padded = np.zeros((64, 1 << k), dtype=np.uint64)
    padded[:m] = polys
    _, data64 = commit(padded)
    assert data64.params.log_cols == p.log_cols
    z = rand_point(rng, k)
    values = evaluate(data, z)
    values64 = evaluate(data64, z)
    assert np.array_equal(values64[:, :m], values) and not values64[:, m:].any()
    proof = _prove(com, data, z, values)
    # the transcripts differ (m is absorbed), so compare u at one common beta
    beta = [rand_base(rng, (4,)) for _ in range(6)]
    u36 = data.combined_row(ligero.stacked_row_coeffs(p, z, beta))
    u64 = data64.combined_row(ligero.stacked_row_coeffs(data64.params, z, beta))
    assert np.array_equal(u36, u64)
    _verify(com, z, values, OpeningProof.decode(proof.encode()))
    bad = values.copy()
    bad[0, 35] = (int(bad[0, 35]) + 1) % P
    _expect("eval", com, z, bad, proof)


def test_odd_batch_builder_by_row_groups() -> None:
    rng = np.random.default_rng(37)
    k, m = 9, 5
    polys = rand_base(rng, (m, 1 << k))
    com, _ = commit(polys)
    builder = CommitBuilder(k, m)
    p = builder.params
    groups = polys.reshape(m, p.num_rows, p.num_cols).transpose(1, 0, 2)
    builder.add_row_groups(0, groups)
    assert builder.finish()[0] == com


# --------------------------------------------------------------------------- v3: query grinding


def test_grind_nonce_is_the_smallest_and_checked() -> None:
    import hashlib

    tr = Transcript(b"grind-test")
    tr.absorb_bytes("x", b"some state")

    def lead_bits_set(n: int, bits: int) -> int:  # the top ``bits`` bits of the digest
        d = hashlib.sha256(tr.state + b"pcs.grind" + n.to_bytes(8, "little")).digest()
        return int.from_bytes(d, "big") >> (256 - bits) if bits else 0

    for bits in (0, 1, 8, 12):
        n = ligero.grind(tr, bits)
        assert lead_bits_set(n, bits) == 0
        assert all(lead_bits_set(i, bits) != 0 for i in range(n))  # the smallest
        ligero.check_grind(tr, bits, n)
    n = ligero.grind(tr, 12)
    bad = next(i for i in range(n + 1, n + 100) if lead_bits_set(i, 12))
    with pytest.raises(PCSError) as info:
        ligero.check_grind(tr, 12, bad)
    assert info.value.check == "grind"
    with pytest.raises(PCSError):
        ligero.check_grind(tr, 12, 1 << 64)
    assert ligero.grind(tr, 12) == n  # deterministic, and the search leaves the transcript alone


def test_wrong_nonce_rejected() -> None:
    _, com, data, z, values = _setup(8, 8, seed=40)
    proof = _prove(com, data, z, values)
    assert data.params.grind_bits == 16
    for delta in (1, 2, 1 << 40):
        bad = OpeningProof(proof.u, proof.columns, proof.nodes, (proof.nonce + delta) % (1 << 64))
        _expect("grind", com, z, values, bad)


def test_opening_grinds_before_the_queries() -> None:
    # the nonce is the least one at the state after u; the queries are squeezed after absorbing it
    _, com, data, z, values = _setup(7, 4, seed=41)
    proof = _prove(com, data, z, values)
    tp = Transcript(b"pcs-test")
    absorb_commitment(tp, com)
    p = data.params
    ligero._absorb_claim(tp, p, z, values)
    tp.challenge_exts("pcs.beta", p.log_m)
    tp.absorb_ext("pcs.u", proof.u)
    assert proof.nonce == ligero.grind(tp, 16)
    tp.absorb_bytes("pcs.grind", proof.nonce.to_bytes(8, "little"))
    idx = sorted(set(tp.challenge_indices("pcs.queries", p.num_queries, p.codeword_len)))
    assert np.array_equal(proof.columns, data.opened_columns(idx))
