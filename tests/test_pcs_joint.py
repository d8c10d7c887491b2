"""Protocol v3 of the pcs: any batch size, query grinding, and the joint opening with a committed
combined row (``prover.pcs.joint``).

Completeness for m in {1, 4, 36, 64} (single and joint), the joint opening of a 64-batch and a
36-batch at k = 10 and 12 (one of them the streaming stage 0's ``StreamingProverData``), every
field of a small joint proof flipped byte by byte, wrong nonces, a cheating prover whose combined
row is off, shape mismatches, and determinism across processes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prover import field, pcs
from prover.pcs import (
    Commitment,
    JointOpeningProof,
    LigeroParams,
    OpeningProof,
    PCSError,
    absorb_commitment,
    commit,
    evaluate,
    joint_params,
    open_joint,
    verify_joint,
)
from prover.transcript import Transcript

P = field.P
DOMAIN = b"pcs-joint-test"


def rand_polys(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    return rng.integers(0, P, (m, 1 << k), dtype=np.uint64)


def rand_point(rng: np.random.Generator, k: int) -> list[np.ndarray]:
    return [rng.integers(0, P, 4, dtype=np.uint64) for _ in range(k)]


def _transcript(coms: list[Commitment]) -> Transcript:
    t = Transcript(DOMAIN)
    for c in coms:
        absorb_commitment(t, c)
    return t


def _prove(datas: list, z: list[np.ndarray], values: list[np.ndarray]) -> JointOpeningProof:
    return open_joint(datas, z, values, _transcript([d.commitment for d in datas]))


def _verify(coms: list[Commitment], z: list[np.ndarray], values: list[np.ndarray],
            proof: JointOpeningProof, params: list[LigeroParams] | None = None) -> Transcript:
    t = _transcript(coms)
    verify_joint(coms, z, values, proof, t, params)
    return t


def _expect(check: str, coms: list[Commitment], z: list[np.ndarray], values: list[np.ndarray],
            proof: JointOpeningProof) -> PCSError:
    with pytest.raises(PCSError) as info:
        _verify(coms, z, values, proof)
    assert info.value.check == check, str(info.value)
    return info.value


def _batches(k: int, sizes: tuple[int, ...], seed: int) -> tuple[list, list, list, list]:
    rng = np.random.default_rng(seed)
    coms, datas = [], []
    for m in sizes:
        com, data = commit(rand_polys(rng, m, k))
        coms.append(com)
        datas.append(data)
    z = rand_point(rng, k)
    values = [evaluate(d, z) for d in datas]
    return coms, datas, z, values


# ---------------------------------------------------------------------------------- completeness


@pytest.mark.parametrize("m", [1, 4, 36, 64])
@pytest.mark.parametrize("k", [3, 9])
def test_single_batch_completeness(k: int, m: int) -> None:
    rng = np.random.default_rng(1000 * k + m)
    polys = rand_polys(rng, m, k)
    com, data = commit(polys)
    z = rand_point(rng, k)
    from prover import mle

    values = np.stack([mle.mle_eval_base(polys[j], z) for j in range(m)], axis=1)
    assert np.array_equal(evaluate(data, z), values)
    tp = _transcript([com])
    proof = pcs.open(data, z, tp, values)
    tv = _transcript([com])
    pcs.verify(com, z, values, OpeningProof.decode(proof.encode()), tv)
    assert tv.state == tp.state


@pytest.mark.parametrize("m", [1, 4, 36, 64])
def test_joint_completeness_one_batch(m: int) -> None:
    coms, datas, z, values = _batches(8, (m,), seed=m)
    proof = _prove(datas, z, values)
    t = _verify(coms, z, values, JointOpeningProof.decode(proof.encode()))
    assert t.state == _after_prove(datas, z, values).state


def _after_prove(datas: list, z: list[np.ndarray], values: list[np.ndarray]) -> Transcript:
    t = _transcript([d.commitment for d in datas])
    open_joint(datas, z, values, t)
    return t


@pytest.mark.parametrize("k", [10, 12])
def test_joint_trace_and_helper_batches(k: int) -> None:
    # the v3 stage 8 shape: the 64-column batch and the 36-column helper batch share C and R
    coms, datas, z, values = _batches(k, (64, 36), seed=k)
    assert datas[0].params.log_cols == datas[1].params.log_cols
    tp = _transcript(coms)
    proof = open_joint(datas, z, values, tp)
    buf = proof.encode()
    assert len(buf) == len(JointOpeningProof.decode(buf).encode())
    tv = _verify(coms, z, values, JointOpeningProof.decode(buf))
    assert tv.state == tp.state
    # the values default to the batches' own evaluations
    assert open_joint(datas, z, None, _transcript(coms)).encode() == buf
    # the same polys in the other order are another statement, also complete
    _verify(coms[::-1], z, values[::-1], _prove(datas[::-1], z, values[::-1]))


def test_joint_with_many_batches_and_odd_sizes() -> None:
    coms, datas, z, values = _batches(7, (3, 5, 4, 7), seed=77)  # all log C = 7
    assert joint_params([d.params for d in datas]).outer.padded_m == 32
    _verify(coms, z, values, _prove(datas, z, values))


def test_joint_with_a_streaming_prover_data_stand_in() -> None:
    # stage 0's streaming trace commitment keeps no matrix; the joint opening must reach it only
    # through combined_row / opened_columns / merkle_nodes, and give the materialized bytes.
    from prover.backends.streaming import commit_columns
    from prover.relations.columns import COLUMNS, make_builder
    from prover.relations.layout import bytecode_table
    from prover.tracer import Tracer
    from prover.vm.programs import fib
    from prover.witness import WitnessSource

    log_t = 10
    program = fib.program()
    ram = {**program.ram_init, **fib.ram_input(40)}
    ws = WitnessSource(Tracer(program, ram, 1 << log_t, 5), make_builder(bytecode_table(program)))
    ws.materialize_rows()
    cols = ws.materialized(COLUMNS)
    trace = np.stack([np.asarray(cols[name], dtype=np.uint64) for name in COLUMNS])
    com, data = commit(trace)
    scom, sdata = commit_columns(ws, COLUMNS)
    assert scom == com
    rng = np.random.default_rng(5)
    hcom, hdata = commit(rand_polys(rng, 36, log_t))
    z = rand_point(rng, log_t)
    values = [evaluate(data, z), evaluate(hdata, z)]
    proof = _prove([sdata, hdata], z, values)
    assert proof.encode() == _prove([data, hdata], z, values).encode()
    _verify([com, hcom], z, values, JointOpeningProof.decode(proof.encode()))


# ------------------------------------------------------------------------------------- soundness


def test_wrong_value_rejected() -> None:
    coms, datas, z, values = _batches(8, (4, 3), seed=21)
    proof = _prove(datas, z, values)
    for b, j in ((0, 0), (1, 2)):
        bad = [v.copy() for v in values]
        bad[b][1, j] = (int(bad[b][1, j]) + 1) % P
        # the values are absorbed first: the honest nonce no longer fits the verifier's transcript
        _expect("grind", coms, z, bad, proof)
        # a prover that opens to the wrong value consistently is caught by the gamma^Q term of
        # the batched claim (sum_g eq(beta, g) v_g != <u, eq(z_col)>)
        _expect("sumcheck", coms, z, bad, _prove(datas, z, bad))


def test_wrong_point_rejected() -> None:
    coms, datas, z, values = _batches(8, (4, 3), seed=22)
    proof = _prove(datas, z, values)
    bad = [c.copy() for c in z]
    bad[-1][2] = (int(bad[-1][2]) + 1) % P
    _expect("grind", coms, bad, values, proof)
    _expect("sumcheck", coms, bad, values, _prove(datas, bad, values))  # consistent prover


def test_combined_row_off_the_claims_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    # A prover whose committed u differs from the true combination by a vector orthogonal to
    # eq(z_col) keeps the evaluation claim true, but Enc(u) then agrees with the combined columns
    # in at most C - 1 of the n = 8 C positions: the batched claim is false (unless gamma hits one
    # of <= Q roots) and the honest sumcheck of the wrong u fails its first round.
    coms, datas, z, values = _batches(6, (4, 3), seed=23)
    jp = joint_params([d.params for d in datas])
    eqc = pcs.ligero.eq_table(z[: jp.log_cols])
    delta = np.zeros((4, jp.outer.num_cols), dtype=np.uint64)
    delta[:, 0] = eqc[:, 1]
    delta[:, 1] = field.eneg(eqc[:, 0])
    assert not field.edot(delta, eqc).any()
    honest = type(datas[0]).combined_row
    calls = []

    def skewed(self, coeffs):  # type: ignore[no-untyped-def]
        out = honest(self, coeffs)
        if self is datas[0]:
            calls.append(1)
            return field.eadd(out, delta)
        return out

    monkeypatch.setattr(type(datas[0]), "combined_row", skewed)
    proof = _prove(datas, z, values)
    assert calls
    monkeypatch.setattr(type(datas[0]), "combined_row", honest)
    err = _expect("sumcheck", coms, z, values, proof)
    assert "round 0" in str(err)


def test_wrong_nonces_rejected() -> None:
    coms, datas, z, values = _batches(8, (4, 3), seed=24)
    proof = _prove(datas, z, values)
    buf = proof.encode()
    for delta in (1, 7, 1 << 33):
        bad = JointOpeningProof.decode(buf)
        bad.nonce = (bad.nonce + delta) % (1 << 64)
        _expect("grind", coms, z, values, bad)
        bad = JointOpeningProof.decode(buf)
        bad.u_opening.nonce = (bad.u_opening.nonce + delta) % (1 << 64)
        err = _expect("grind", coms, z, values, bad)
        assert "u opening" in str(err)


def test_tampered_u_values_rejected() -> None:
    coms, datas, z, values = _batches(8, (4, 3), seed=25)
    buf = _prove(datas, z, values).encode()
    for k in range(4):
        bad = JointOpeningProof.decode(buf)
        bad.u_values[0, k] = (int(bad.u_values[0, k]) + 1) % P
        _expect("sumcheck", coms, z, values, bad)


def test_opening_of_another_u_batch_rejected() -> None:
    # The final check binds sum_k X^k u^(k)(s') only; the u opening binds the four values to the
    # committed u. An opening of another u batch (right shape, valid on its own) is rejected.
    coms, datas, z, values = _batches(8, (4, 3), seed=26)
    proof = _prove(datas, z, values)
    other = _prove(*_batches(8, (4, 3), seed=27)[1:])
    bad = JointOpeningProof.decode(proof.encode())
    bad.u_opening = other.u_opening
    with pytest.raises(PCSError) as info:
        _verify(coms, z, values, bad)
    assert "u opening" in str(info.value)


def _field_spans(proof: JointOpeningProof) -> list[tuple[str, int, int]]:
    """(name, start, end) of every field of the encoding, in order."""
    spans: list[tuple[str, int, int]] = []
    pos = 0

    def add(name: str, n: int) -> None:
        nonlocal pos
        spans.append((name, pos, pos + n))
        pos += n

    add("u_root", 32)
    add("nonce", 8)
    add("count", 4)
    for b, (cols, nodes) in enumerate(zip(proof.columns, proof.nodes)):
        add(f"b{b}.shape", 8)
        add(f"b{b}.columns", 4 * cols.size)
        add(f"b{b}.node_count", 4)
        add(f"b{b}.nodes", 32 * len(nodes))
    add("rounds", 4)
    add("sumcheck", 48 * len(proof.sumcheck.rounds))
    add("u_values", 64)
    add("inner_len", 4)
    inner = proof.u_opening
    add("inner.C", 4)
    add("inner.u", 16 * inner.u.shape[1])
    add("inner.nonce", 8)
    add("inner.shape", 8)
    add("inner.columns", 4 * inner.columns.size)
    add("inner.node_count", 4)
    add("inner.nodes", 32 * len(inner.nodes))
    assert pos == len(proof.encode())
    return spans


def test_every_byte_flipped_is_rejected() -> None:
    coms, datas, z, values = _batches(6, (4, 3), seed=28)
    proof = _prove(datas, z, values)
    buf = proof.encode()
    _verify(coms, z, values, JointOpeningProof.decode(buf))
    spans = _field_spans(proof)
    offsets = set(np.linspace(0, len(buf) - 1, 240).astype(int).tolist())
    for _, lo, hi in spans:  # every field: its first, middle and last byte
        offsets |= {lo, (lo + hi - 1) // 2, hi - 1}
    assert len(offsets) >= 200
    accepted = []
    for off in sorted(offsets):
        for mask in (0x01, 0x80):
            bad = bytearray(buf)
            bad[off] ^= mask
            try:
                _verify(coms, z, values, JointOpeningProof.decode(bytes(bad)))
            except PCSError:
                continue
            accepted.append((off, mask))
    assert not accepted, [(o, m, next(n for n, lo, hi in spans if lo <= o < hi)) for o, m in accepted]
    # truncation and trailing bytes
    for cut in (0, 31, 40, len(buf) // 2, len(buf) - 1):
        with pytest.raises(PCSError, match="format"):
            JointOpeningProof.decode(buf[:cut])
    with pytest.raises(PCSError, match="trailing"):
        JointOpeningProof.decode(buf + b"\0")


def test_decoding_rejects_garbage() -> None:
    rng = np.random.default_rng(29)
    for _ in range(100):
        junk = rng.integers(0, 256, int(rng.integers(0, 400)), dtype=np.uint8).tobytes()
        with pytest.raises(PCSError):
            JointOpeningProof.decode(junk)
    huge = bytes(40) + (2**31).to_bytes(4, "little") + bytes(16)
    with pytest.raises(PCSError, match="format"):
        JointOpeningProof.decode(huge)


def test_shape_mismatch_refused() -> None:
    rng = np.random.default_rng(30)
    ca, da = commit(rand_polys(rng, 4, 8))
    cb, db = commit(rand_polys(rng, 4, 9))  # another k
    z = rand_point(rng, 8)
    with pytest.raises(PCSError) as info:
        open_joint([da, db], z, None, _transcript([ca, cb]))
    assert info.value.check == "shape"
    # the same k but another log C (custom params)
    pc = LigeroParams(k=8, m=4, log_cols=4, num_queries=103)
    cc, dc = commit(rand_polys(rng, 4, 8), pc)
    assert pc.log_cols != da.params.log_cols
    with pytest.raises(PCSError) as info:
        open_joint([da, dc], z, None, _transcript([ca, cc]))
    assert info.value.check == "shape"
    # the verifier refuses mismatched commitments before reading the proof
    coms, datas, z, values = _batches(8, (4, 3), seed=31)
    proof = _prove(datas, z, values)
    for bad_coms, bad_values in (
        ([coms[0], Commitment(coms[1].root, 9, 3)], values),
        (coms, [values[0], values[1][:, :2]]),
        (coms[:1], values[:1]),
    ):
        with pytest.raises(PCSError) as info:
            _verify(bad_coms, z, bad_values, proof)
        assert info.value.check == "shape"
    with pytest.raises(PCSError) as info:
        _verify(coms, z, values, proof, [datas[0].params, pc])
    assert info.value.check == "shape"


# ------------------------------------------------------------------------------------ parameters


def test_joint_parameters() -> None:
    for k in range(4, 22):
        p64, p36 = LigeroParams.for_shape(k, 64), LigeroParams.for_shape(k, 36)
        jp = joint_params([p64, p36])
        assert jp.outer.padded_m == 128 and jp.batch_sizes == (64, 36) and jp.offsets == (0, 64)
        # the u batch: 4 polys of log C variables, opened at 105 bits (2^-105 of the budget)
        assert jp.inner == LigeroParams.for_shape(p64.log_cols, 4, security_bits=105)
        assert jp.inner.num_queries == 109
        # the outer query count stays at the single-batch t0 = 103 up to 2^20; at 2^21 the
        # 128-poly tensor's eps_prox (2^-100.04) leaves little room: t = 117
        assert jp.num_queries == (103 if k <= 20 else 117)
        assert jp.meets_target and jp.soundness_error_log2() <= -100
    jp = joint_params([LigeroParams.for_shape(20, 64), LigeroParams.for_shape(20, 36)])
    assert (jp.log_cols, jp.outer.num_rows, jp.outer.codeword_len) == (15, 32, 1 << 18)
    assert jp.expected_proof_bytes() < 1_600_000


def test_expected_size_matches_the_encoding() -> None:
    _, datas, z, values = _batches(12, (64, 36), seed=32)
    size = len(_prove(datas, z, values).encode())
    expected = joint_params([d.params for d in datas]).expected_proof_bytes()
    assert abs(size - expected) < 0.05 * expected, (size, expected)


# ----------------------------------------------------------------------------------- determinism


_CHILD = """
import hashlib, sys
import numpy as np
from prover import pcs
from prover.transcript import Transcript
rng = np.random.default_rng(33)
k = 9
coms, datas = [], []
for m in (64, 36):
    c, d = pcs.commit(rng.integers(0, pcs.ligero.field.P, (m, 1 << k), dtype=np.uint64))
    coms.append(c); datas.append(d)
z = [rng.integers(0, pcs.ligero.field.P, 4, dtype=np.uint64) for _ in range(k)]
t = Transcript(b"pcs-joint-test")
for c in coms:
    pcs.absorb_commitment(t, c)
print(hashlib.sha256(pcs.open_joint(datas, z, None, t).encode()).hexdigest())
"""


def test_deterministic_across_processes() -> None:
    root = Path(__file__).resolve().parent.parent
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-c", _CHILD], cwd=root, env=env, capture_output=True,
                           timeout=300, check=False)
        assert r.returncode == 0, r.stderr.decode()
        outs.append(r.stdout.decode().strip())
    assert outs[0] == outs[1] and len(outs[0]) == 64
    # and this process agrees
    rng = np.random.default_rng(33)
    datas = [commit(rand_polys(rng, m, 9))[1] for m in (64, 36)]
    z = rand_point(rng, 9)
    here = hashlib.sha256(_prove(datas, z, [None, None]).encode()).hexdigest()  # type: ignore[list-item]
    assert here == outs[0]
