"""The dense helper sumcheck of stages 3-6 (``backends.dense.logup``) on random columns.

Against references built from v2's leaves (``fingerprints.leaves``, ``field.einv``): the
helpers are 1 / (D_a D_b), S is the trace side's fraction sum, the sumcheck verifies from
rho^P S, its final claim is the verifier's formula at r (``fingerprints.helper_terms_at``) and
the borrowed helper tables come back untouched.
"""

from __future__ import annotations

import numpy as np
import pytest

from prover.backends.dense.logup import HelperSumcheck, HelperTables, compute_helpers
from prover.field import P, eadd, einv, emul, emul_base, epow, esum
from prover.mle import eq_eval, mle_eval_base, mle_eval_ext
from prover.relations import fingerprints as fp
from prover.sumcheck.protocol import prove as sumcheck_prove
from prover.sumcheck.protocol import verify
from prover.transcript import Transcript


def rext(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, P, 4).astype(np.uint64)


def setup(log_t: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    T = 1 << log_t
    cols = {n: rng.integers(0, 1 << 11, T).astype(np.uint64) for n in fp.HELPER_COLUMNS}
    alpha, g = rext(rng), rext(rng)
    return cols, alpha, g, compute_helpers(cols, T, alpha, g), rng


def helper_rows(polys: np.ndarray, stage: int) -> list[np.ndarray]:
    return [polys[4 * fp.HELPER_NAMES.index(n) : 4 * fp.HELPER_NAMES.index(n) + 4] for n in fp.stage_helpers(stage)]


@pytest.mark.parametrize("log_t", [1, 5, 9])
@pytest.mark.parametrize("stage", fp.HELPER_STAGES)
def test_helper_sumcheck_against_references(stage: int, log_t: int) -> None:
    cols, alpha, g, polys, rng = setup(log_t, 100 * stage + log_t)
    T = 1 << log_t
    slots = fp.STAGE_SLOTS[stage]
    num, den = fp.leaves(slots, cols, T, alpha, g)
    num = np.ones(len(slots) * T, dtype=np.uint64) if num is None else num
    hs = helper_rows(polys, stage)
    for h, pair in zip(hs, fp.HELPER_PAIRS[stage]):  # h = 1 / prod D
        prod = den[:, pair[0] * T : (pair[0] + 1) * T]
        for s in pair[1:]:
            prod = emul(prod, den[:, s * T : (s + 1) * T])
        assert np.array_equal(h, einv(prod))
    keep = [h.copy() for h in hs]

    stage_cols = {n: cols[n] for n in fp.slot_columns(slots)}
    tables = HelperTables.build(stage, stage_cols, T, alpha, g, hs)
    S = tables.fraction_sum()
    assert np.array_equal(S, esum(emul_base(einv(den), num)))  # the v2 leaves' fraction sum

    rho, tau = rext(rng), [rext(rng) for _ in range(log_t)]
    rp = epow(rho, len(hs))
    prover = HelperSumcheck(tables, tau, rho, emul(rp, S))
    proof, r = sumcheck_prove(prover, Transcript(b"t"), "sc")
    final, r2 = verify(proof, emul(rp, S), log_t, 4, Transcript(b"t"), "sc")
    assert all(np.array_equal(a, b) for a, b in zip(r, r2))
    hvals = prover.final_helpers()
    assert all(np.array_equal(mle_eval_ext(h, r), v) for h, v in zip(hs, hvals))
    values = {n: mle_eval_base(c, r) for n, c in stage_cols.items()}
    zero, frac = fp.helper_terms_at(stage, values, hvals, r, alpha, g, rho)
    assert np.array_equal(eadd(emul(eq_eval(tau, r), zero), emul(rp, frac)), final)
    assert all(np.array_equal(a, b) for a, b in zip(hs, keep))  # borrowed tables untouched


def test_wrong_helper_fails_the_first_round() -> None:
    cols, alpha, g, polys, rng = setup(6, 7)
    hs = helper_rows(polys, 4)
    hs[1] = hs[1].copy()
    hs[1][0, 9] = (hs[1][0, 9] + 1) % P
    stage_cols = {n: cols[n] for n in fp.slot_columns(fp.REGISTER_SLOTS)}
    tables = HelperTables.build(4, stage_cols, 64, alpha, g, hs)
    S = tables.fraction_sum()
    rho, tau = rext(rng), [rext(rng) for _ in range(6)]
    claim = emul(epow(rho, 4), S)
    prover = HelperSumcheck(tables, tau, rho, claim)
    evals = prover.round_evals()
    assert not np.array_equal(eadd(evals[0], evals[1]), claim)


def test_helpers_do_not_depend_on_the_chunking() -> None:
    cols, alpha, g, polys, _ = setup(6, 3)
    parts = [
        fp.helpers_chunk({n: c[lo : lo + 16] for n, c in cols.items()}, lo, alpha, g) for lo in range(0, 64, 16)
    ]
    for i, name in enumerate(fp.HELPER_NAMES):
        whole = np.concatenate([p[name] for p in parts], axis=1)
        assert np.array_equal(whole, polys[4 * i : 4 * i + 4]), name
