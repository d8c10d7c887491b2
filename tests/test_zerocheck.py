"""Fast zero-check prover against the verifier and a plain evaluation of the constraints."""

from __future__ import annotations

import random

import numpy as np
import pytest

from prover import field as F
from prover.backends.dense.zerocheck import Linear, Term, ZeroCheckProver, combined_value
from prover.mle import eq_eval, eq_table, mle_eval_base
from prover.sumcheck.protocol import prove, verify
from prover.transcript import Transcript

P = F.P
M = 5  # columns


def random_constraints(seed: int) -> list[list[Term]]:
    rng = random.Random(seed)

    def lin() -> Linear:
        terms = tuple((rng.randrange(M), rng.choice([1, -1, 256, -65536, P - 3])) for _ in range(rng.randrange(1, 4)))
        return Linear(terms, rng.choice([0, 1, -7]))

    cons = [[Term(tuple(lin() for _ in range(rng.randrange(0, 3))), rng.choice([1, -1, 5])) for _ in range(rng.randrange(1, 4))] for _ in range(6)]
    booleanity = [Term((Linear(((4, 1),)), Linear(((4, 1),), -1)))]  # c4 (c4 - 1)
    return cons + [booleanity]


def setup(k: int, seed: int = 0) -> tuple[list[np.ndarray], list[list[Term]], list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    cols = [rng.integers(0, P, 1 << k, dtype=np.uint64) for _ in range(M)]
    cols[4] = rng.integers(0, 2, 1 << k, dtype=np.uint64)
    cons = random_constraints(seed)
    coeffs = [rng.integers(0, P, 4, dtype=np.uint64) for _ in cons]
    tau = [rng.integers(0, P, 4, dtype=np.uint64) for _ in range(k)]
    return cols, cons, coeffs, tau


def honest_claim(cols: list[np.ndarray], cons: list[list[Term]], coeffs: list[np.ndarray], tau: list[np.ndarray]) -> np.ndarray:
    n = cols[0].shape[0]
    c = F.ext_zero(n)
    for x in range(n):
        c[:, x] = combined_value(cons, coeffs, {j: F.ext_from_base(cols[j][x]) for j in range(M)})
    return F.edot(eq_table(tau), c)


@pytest.mark.parametrize("base_rounds", [0, 1, 2, 3, 6, 9])
def test_completeness_any_number_of_base_rounds(base_rounds: int) -> None:
    k = 6
    cols, cons, coeffs, tau = setup(k)
    claim = honest_claim(cols, cons, coeffs, tau)
    prover = ZeroCheckProver(cols, cons, coeffs, tau, claim=claim, base_rounds=base_rounds)
    proof, _ = prove(prover, Transcript(b"z"), "zc")
    final, point = verify(proof, claim, k, 3, Transcript(b"z"), "zc")
    values = prover.final_values()
    assert sorted(values) == list(range(M))
    for j, v in values.items():
        assert F.eq_scalar(v, mle_eval_base(cols[j], point))
    assert F.eq_scalar(final, F.emul(eq_eval(tau, point), combined_value(cons, coeffs, values)))


def satisfied_instance(k: int) -> tuple[list[np.ndarray], list[list[Term]], list[np.ndarray], list[np.ndarray]]:
    """Columns a, b, c = a + 256 b, flag f in {0,1}, g = f a: all constraints hold on every row."""
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, 1 << k, dtype=np.uint64)
    b = rng.integers(0, 256, 1 << k, dtype=np.uint64)
    f = rng.integers(0, 2, 1 << k, dtype=np.uint64)
    cols = [a, b, a + 256 * b, f, f * a]
    A, B, C, Fl, G = (Linear(((j, 1),)) for j in range(5))
    cons = [
        [Term((Linear(((0, 1), (1, 256), (2, -1))),))],  # a + 256 b - c
        [Term((Fl, Linear(((3, 1),), -1)))],  # f (f - 1)
        [Term((Fl, A)), Term((G,), -1)],  # f a - g
    ]
    coeffs = [F.ext_scalar(7, 1), F.ext_scalar(3, 0, 2), F.ext_scalar(1, 1, 1, 1)]
    tau = [rng.integers(0, P, 4, dtype=np.uint64) for _ in range(k)]
    return cols, cons, coeffs, tau


def test_satisfied_trace_proves_zero() -> None:
    k = 8
    cols, cons, coeffs, tau = satisfied_instance(k)
    assert F.eq_scalar(honest_claim(cols, cons, coeffs, tau), F.ext_scalar(0))
    prover = ZeroCheckProver(cols, cons, coeffs, tau)  # claim defaults to 0
    proof, _ = prove(prover, Transcript(b"z"), "zc")
    final, point = verify(proof, F.ext_scalar(0), k, 3, Transcript(b"z"), "zc")
    assert F.eq_scalar(final, F.emul(eq_eval(tau, point), combined_value(cons, coeffs, prover.final_values())))


def test_violated_constraint_fails_final_check() -> None:
    # one row breaks f a - g = 0; the prover still claims 0 and its proof must not verify
    k = 8
    cols, cons, coeffs, tau = satisfied_instance(k)
    cols[4] = cols[4].copy()
    cols[4][17] = (int(cols[4][17]) + 1) % P
    prover = ZeroCheckProver(cols, cons, coeffs, tau)
    proof, _ = prove(prover, Transcript(b"z"), "zc")
    final, point = verify(proof, F.ext_scalar(0), k, 3, Transcript(b"z"), "zc")
    honest = F.emul(eq_eval(tau, point), combined_value(cons, coeffs, {j: mle_eval_base(cols[j], point) for j in range(5)}))
    assert not F.eq_scalar(final, honest)


def test_degree_three_term_rejected() -> None:
    cols, _, _, tau = setup(3)
    cubic = [[Term((Linear(((0, 1),)),) * 3)]]
    with pytest.raises(ValueError, match="degree 3"):
        ZeroCheckProver(cols, cubic, [F.ext_scalar(1)], tau)
