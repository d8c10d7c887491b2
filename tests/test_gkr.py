"""Fraction-sum (logUp-GKR): dense prover against the verifier, and named attacks."""

from __future__ import annotations

import numpy as np
import pytest

from prover import field as F
from prover.backends.dense.gkr import prove_fraction_sum
from prover.mle import mle_eval_base, mle_eval_ext
from prover.sumcheck.gkr import GKRError, GKRLayerProof, GKRProof, verify_fraction_sum
from prover.sumcheck.protocol import SumcheckProof
from prover.transcript import Transcript

P = F.P


def leaves(k: int, kind: str, seed: int = 0) -> tuple[np.ndarray | None, np.ndarray]:
    rng = np.random.default_rng(seed)
    den = rng.integers(1, P, (4, 1 << k), dtype=np.uint64)
    if kind == "none":
        return None, den
    if kind == "base":
        return rng.integers(0, P, 1 << k, dtype=np.uint64), den
    return rng.integers(0, P, (4, 1 << k), dtype=np.uint64), den


def direct_sum(num: np.ndarray | None, den: np.ndarray) -> np.ndarray:
    n = den.shape[1]
    nn = F.ext_from_base(np.ones(n, dtype=np.uint64)) if num is None else (F.ext_from_base(num) if num.ndim == 1 else num)
    return F.esum(F.emul(nn, F.einv(den)))


def leaf_num_at(num: np.ndarray | None, point: list[np.ndarray]) -> np.ndarray:
    if num is None:
        return F.ext_scalar(1)
    return mle_eval_base(num, point) if num.ndim == 1 else mle_eval_ext(num, point)


CASES = [(k, kind) for k in (1, 2, 3, 7) for kind in ("none", "base", "ext")] + [(12, "base"), (12, "none")]


@pytest.mark.parametrize(("k", "kind"), CASES)
def test_random_fractions_sum(k: int, kind: str) -> None:
    num, den = leaves(k, kind)
    proof, res = prove_fraction_sum(num, den, Transcript(b"g"), "lk")
    buf = proof.encode()
    assert len(buf) == GKRProof.byte_len(k)
    got = verify_fraction_sum(GKRProof.decode(buf, k), k, Transcript(b"g"), "lk")
    assert F.eq_scalar(F.emul(got.root_num, F.einv(got.root_den)), direct_sum(num, den))
    assert len(got.point) == k
    assert F.eq_scalar(got.leaf_den, mle_eval_ext(den, got.point))
    assert F.eq_scalar(got.leaf_num, leaf_num_at(num, got.point))
    # the prover reports what the verifier derives
    assert all(F.eq_scalar(a, b) for a, b in zip(res.point, got.point))
    assert F.eq_scalar(res.leaf_num, got.leaf_num) and F.eq_scalar(res.root_den, got.root_den)


def test_point_is_little_endian_over_leaf_index() -> None:
    # a single nonzero numerator at leaf 6 = 0b110: n(point) must be eq(point, 6)
    k = 3
    num = np.zeros(8, dtype=np.uint64)
    num[6] = 1
    _, den = leaves(k, "none")
    res = verify_fraction_sum(prove_fraction_sum(num, den, Transcript(b"g"), "lk")[0], k, Transcript(b"g"), "lk")
    r = res.point
    one = F.ext_scalar(1)
    want = F.emul(F.emul(F.esub(one, r[0]), r[1]), r[2])
    assert F.eq_scalar(res.leaf_num, want)


def tamper(proof: GKRProof, layer: int, fn) -> GKRProof:  # type: ignore[no-untyped-def]
    layers = list(proof.layers)
    layers[layer] = fn(layers[layer])
    return GKRProof(layers)


def test_tampered_sumcheck_round_rejected() -> None:
    num, den = leaves(4, "base")
    proof, _ = prove_fraction_sum(num, den, Transcript(b"g"), "lk")

    def bump(lp: GKRLayerProof) -> GKRLayerProof:
        rounds = [list(r) for r in lp.sumcheck.rounds]
        rounds[1][1] = F.eadd(rounds[1][1], F.ext_scalar(1))
        return GKRLayerProof(SumcheckProof(rounds), lp.num_lo, lp.num_hi, lp.den_lo, lp.den_hi)

    with pytest.raises(GKRError) as err:
        verify_fraction_sum(tamper(proof, 2, bump), 4, Transcript(b"g"), "lk")
    assert (err.value.layer, err.value.round) == (2, 1)


def test_tampered_child_value_rejected() -> None:
    num, den = leaves(4, "ext")
    proof, _ = prove_fraction_sum(num, den, Transcript(b"g"), "lk")

    def bump(lp: GKRLayerProof) -> GKRLayerProof:
        return GKRLayerProof(lp.sumcheck, lp.num_lo, F.eadd(lp.num_hi, F.ext_scalar(1)), lp.den_lo, lp.den_hi)

    with pytest.raises(GKRError) as err:
        verify_fraction_sum(tamper(proof, 3, bump), 4, Transcript(b"g"), "lk")
    assert (err.value.layer, err.value.round) == (3, None)


def test_forged_root_rejected() -> None:
    # changing the root's children changes the claimed sum; the next layer no longer matches
    num, den = leaves(3, "none")
    proof, _ = prove_fraction_sum(num, den, Transcript(b"g"), "lk")

    def bump(lp: GKRLayerProof) -> GKRLayerProof:
        return GKRLayerProof(lp.sumcheck, F.eadd(lp.num_lo, F.ext_scalar(1)), lp.num_hi, lp.den_lo, lp.den_hi)

    with pytest.raises(GKRError) as err:
        verify_fraction_sum(tamper(proof, 0, bump), 3, Transcript(b"g"), "lk")
    assert err.value.layer == 1


def test_wrong_leaves_give_a_leaf_claim_that_does_not_match() -> None:
    # the proof is for other leaves: verification passes but the caller's leaf check fails
    num, den = leaves(5, "base")
    other = num.copy()
    other[3] = (int(other[3]) + 1) % P
    proof, _ = prove_fraction_sum(other, den, Transcript(b"g"), "lk")
    res = verify_fraction_sum(proof, 5, Transcript(b"g"), "lk")
    assert not F.eq_scalar(res.leaf_num, mle_eval_base(num, res.point))


def test_wrong_layer_count_and_bad_bytes_rejected() -> None:
    num, den = leaves(3, "none")
    proof, _ = prove_fraction_sum(num, den, Transcript(b"g"), "lk")
    with pytest.raises(GKRError):
        verify_fraction_sum(GKRProof(proof.layers[:2]), 3, Transcript(b"g"), "lk")
    buf = proof.encode()
    with pytest.raises(ValueError):
        GKRProof.decode(buf + b"\x00", 3)
    with pytest.raises(ValueError, match="non-canonical"):
        GKRProof.decode(buf[:-4] + (P).to_bytes(4, "little"), 3)
