"""Sumcheck protocol + dense provers: completeness for degrees 1..4 and named attacks."""

from __future__ import annotations

import random
from typing import Callable

import numpy as np
import pytest

from prover import field as F
from prover.backends.dense.sumcheck import EqSumcheckProver, ProductSumcheckProver
from prover.mle import eq_eval, eq_table, mle_eval_base, mle_eval_ext
from prover.sumcheck.protocol import SumcheckError, SumcheckProof, interpolate_eval, prove, verify
from prover.transcript import Transcript

P = F.P
K = 4


def rext(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, P, (4, *shape), dtype=np.uint64)


def product(ts: list[np.ndarray]) -> np.ndarray:
    acc = ts[0]
    for t in ts[1:]:
        acc = F.emul(acc, t)
    return acc


def instance(degree: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], Callable, np.ndarray]:
    """tau, tables (one base, the rest ext), g = eq * t_1 ... t_{d-1} (g = t_1 for degree 1)."""
    rng = np.random.default_rng(seed)
    tau = [rext(rng) for _ in range(K)]
    tables = [rng.integers(0, P, 1 << K, dtype=np.uint64)] + [rext(rng, 1 << K) for _ in range(max(degree - 1, 1) - 1)]

    def g(eq: np.ndarray, t: list[np.ndarray]) -> np.ndarray:
        return t[0] if degree == 1 else F.emul(eq, product(t))

    full = [F.ext_from_base(tables[0])] + tables[1:]
    claim = F.esum(g(eq_table(tau), full))
    return tau, tables, g, claim


def run(degree: int) -> tuple[SumcheckProof, np.ndarray, EqSumcheckProver]:
    tau, tables, g, claim = instance(degree)
    prover = EqSumcheckProver(tau, tables, g, degree)
    proof, _ = prove(prover, Transcript(b"t"), "sc")
    return proof, claim, prover


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_completeness(degree: int) -> None:
    tau, tables, g, claim = instance(degree)
    proof, _, prover = run(degree)
    final, point = verify(proof, claim, K, degree, Transcript(b"t"), "sc")
    vals = prover.final_values()
    assert F.eq_scalar(vals[0], mle_eval_base(tables[0], point))
    for t, v in zip(tables[1:], vals[1:]):
        assert F.eq_scalar(v, mle_eval_ext(t, point))
    assert F.eq_scalar(prover.final_eq(), eq_eval(tau, point))
    assert F.eq_scalar(final, g(eq_eval(tau, point).reshape(4, 1), [v.reshape(4, 1) for v in vals]).reshape(4))


def test_product_sumcheck_completeness() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, P, 32, dtype=np.uint64), rext(rng, 32)
    prover = ProductSumcheckProver(a, b)
    proof, _ = prove(prover, Transcript(b"t"), "p")
    final, point = verify(proof, F.edot_base(b, a), 5, 2, Transcript(b"t"), "p")
    va, vb = prover.final_values()
    assert F.eq_scalar(final, F.emul(va, vb))
    assert F.eq_scalar(va, mle_eval_base(a, point)) and F.eq_scalar(vb, mle_eval_ext(b, point))


def test_encode_decode_round_trip() -> None:
    proof, _, _ = run(3)
    buf = proof.encode()
    assert len(buf) == SumcheckProof.byte_len(K, 3)
    again = SumcheckProof.decode(buf, K, 3)
    assert again.encode() == buf
    with pytest.raises(ValueError):
        SumcheckProof.decode(buf + b"\x00", K, 3)
    with pytest.raises(ValueError):
        SumcheckProof.decode(buf[:-1], K, 3)


def test_interpolate_eval_recovers_the_polynomial() -> None:
    rng = random.Random(2)
    coeffs = [F.ext_scalar(*(rng.randrange(P) for _ in range(4))) for _ in range(4)]

    def poly(x: np.ndarray) -> np.ndarray:
        acc = F.ext_scalar(0)
        for c in reversed(coeffs):
            acc = F.eadd(F.emul(acc, x), c)
        return acc

    evals = [poly(F.ext_scalar(i)) for i in range(4)]
    r = F.ext_scalar(*(rng.randrange(P) for _ in range(4)))
    assert F.eq_scalar(interpolate_eval(evals, r), poly(r))
    assert F.eq_scalar(interpolate_eval(evals, F.ext_scalar(2)), evals[2])


# ---------------------------------------------------------------------------- attacks


@pytest.mark.parametrize("bad_round", [0, 2, K - 1])
def test_tampered_round_value_rejected(bad_round: int) -> None:
    proof, claim, _ = run(3)
    rounds = [list(r) for r in proof.rounds]
    rounds[bad_round][0] = F.eadd(rounds[bad_round][0], F.ext_scalar(1))
    with pytest.raises(SumcheckError) as err:
        verify(SumcheckProof(rounds), claim, K, 3, Transcript(b"t"), "sc")
    assert err.value.round == bad_round
    assert not F.eq_scalar(err.value.expected, err.value.actual)


def test_tampered_high_evaluation_caught_by_final_check() -> None:
    # s(2) of the last round does not enter any round sum; only the final claim exposes it
    tau, tables, g, claim = instance(3)
    proof, _, prover = run(3)
    rounds = [list(r) for r in proof.rounds]
    rounds[-1][2] = F.eadd(rounds[-1][2], F.ext_scalar(1))
    final, point = verify(SumcheckProof(rounds), claim, K, 3, Transcript(b"t"), "sc")
    honest = g(eq_eval(tau, point).reshape(4, 1), [v.reshape(4, 1) for v in prover.final_values()]).reshape(4)
    assert not F.eq_scalar(final, honest)


def test_swapped_round_order_rejected() -> None:
    proof, claim, _ = run(3)
    rounds = list(proof.rounds)
    rounds[1], rounds[2] = rounds[2], rounds[1]
    with pytest.raises(SumcheckError) as err:
        verify(SumcheckProof(rounds), claim, K, 3, Transcript(b"t"), "sc")
    assert err.value.round == 1


def test_wrong_claim_rejected() -> None:
    proof, claim, _ = run(2)
    with pytest.raises(SumcheckError) as err:
        verify(proof, F.eadd(claim, F.ext_scalar(0, 1)), K, 2, Transcript(b"t"), "sc")
    assert err.value.round == 0


def test_truncated_proof_rejected() -> None:
    proof, claim, _ = run(2)
    with pytest.raises(SumcheckError, match="number of rounds"):
        verify(SumcheckProof(proof.rounds[:-1]), claim, K, 2, Transcript(b"t"), "sc")


def test_different_transcript_changes_challenges() -> None:
    # a proof replayed under another label draws other challenges: the round sums then fail
    proof, claim, _ = run(3)
    with pytest.raises(SumcheckError):
        verify(proof, claim, K, 3, Transcript(b"t"), "other-label")
