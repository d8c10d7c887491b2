"""Checks shared by the logUp stages' verifiers (3-6): read and replay one fraction-sum GKR
(the table sides), replay a stage's helper sumcheck, check that the trace side's sum S and the
table roots (and init - final) cancel, compare a final claim with its expected value.

Each stage still calls these in its own transcript order; they only turn ``GKRError``,
``SumcheckError`` and failed comparisons into ``VerificationError`` with the evidence.

Public names: ``run_gkr``, ``run_helper_sumcheck``, ``check_helper_final``, ``check_sum``,
``check_value``, ``stage_challenges``, ``HELPER_DEGREE``.
"""

from __future__ import annotations

from typing import Sequence

from prover.field import U64, eadd, einv, emul, epow, eq_scalar, ext_scalar, ext_to_ints
from prover.mle import Point, eq_eval
from prover.proof import SectionReader
from prover.relations.fingerprints import HELPER_PAIRS, helper_terms_at
from prover.sumcheck.gkr import GKRError, GKRResult, verify_fraction_sum
from prover.sumcheck.protocol import SumcheckError
from prover.sumcheck.protocol import verify as sumcheck_verify
from prover.transcript import Transcript
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError

# The helper sumcheck of stages 3-6: eq h D_a D_b has degree 4 per variable.
HELPER_DEGREE = 4


def stage_challenges(stage: int, vctx: VerifierContext) -> tuple[U64, U64]:
    """Stage 2's alpha, g (one pair for stages 3-6); an error if stage 2 has not run."""
    if vctx.alpha is None or vctx.gamma is None:
        raise VerificationError(stage, "challenges", "stage 2's alpha and gamma are missing")
    return vctx.alpha, vctx.gamma


def run_helper_sumcheck(
    stage: int, reader: SectionReader, transcript: Transcript, log_t: int, S: U64, rho: U64, label: str
) -> tuple[U64, list[U64]]:
    """Read and replay the stage's helper sumcheck from the claim rho^P S; (final claim, point r)."""
    proof = reader.get_sumcheck(log_t, HELPER_DEGREE, "helper sumcheck")
    claim = emul(epow(rho, len(HELPER_PAIRS[stage])), S)
    try:
        return sumcheck_verify(proof, claim, log_t, HELPER_DEGREE, transcript, label)
    except SumcheckError as exc:
        raise VerificationError(stage, "helper sumcheck round", str(exc)) from None


def check_helper_final(
    stage: int,
    final: U64,
    values: dict[str, U64],
    helper_values: list[U64],
    tau: Point,
    r: Point,
    alpha: U64,
    g: U64,
    rho: U64,
) -> None:
    """The sumcheck's final claim = eq(tau, r) zero + rho^P frac, every D and n recomputed at r
    from the claimed column values (``fingerprints.helper_terms_at``)."""
    zero, frac = helper_terms_at(stage, values, helper_values, r, alpha, g, rho)
    expected = eadd(emul(eq_eval(tau, r), zero), emul(epow(rho, len(HELPER_PAIRS[stage])), frac))
    if not eq_scalar(expected, final):
        raise VerificationError(
            stage, "helper sumcheck final",
            f"eq(tau, r) zero + rho^P frac = {ext_to_ints(expected)} from the claimed values, "
            f"sumcheck claims {ext_to_ints(final)}",
        )


def check_sum(stage: int, S: U64, roots: Sequence[GKRResult], state: U64 | None = None) -> None:
    """S + sum_i root_num_i / root_den_i (+ init - final) = 0, every root denominator non-zero."""
    total = S if state is None else eadd(S, state)
    for i, res in enumerate(roots):
        if eq_scalar(res.root_den, ext_scalar(0)):
            raise VerificationError(stage, "root denominator is zero", f"GKR instance {i}")
        total = eadd(total, emul(res.root_num, einv(res.root_den)))
    if not eq_scalar(total, ext_scalar(0)):
        parts = ", ".join(f"{ext_to_ints(r.root_num)}/{ext_to_ints(r.root_den)}" for r in roots)
        more = "" if state is None else f" + init - final {ext_to_ints(state)}"
        raise VerificationError(
            stage, "roots cancel",
            f"S {ext_to_ints(S)} + table roots {parts}{more} = {ext_to_ints(total)}, expected 0",
        )


def run_gkr(
    stage: int, reader: SectionReader, transcript: Transcript, num_vars: int, label: str, what: str
) -> GKRResult:
    """Read a GKR proof over 2^num_vars leaves from the section and replay it."""
    proof = reader.get_gkr(num_vars, what)
    try:
        return verify_fraction_sum(proof, num_vars, transcript, label)
    except GKRError as exc:
        raise VerificationError(stage, f"{what} layer {exc.layer}", str(exc)) from None


def check_value(stage: int, check: str, expected: U64, actual: U64) -> None:
    """expected == actual, else reject with both values."""
    if not eq_scalar(expected, actual):
        raise VerificationError(
            stage, check, f"expected {ext_to_ints(expected)}, proof gives {ext_to_ints(actual)}"
        )
