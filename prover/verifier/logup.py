"""Checks shared by the logUp stages' verifiers (3-6): read and replay one fraction-sum GKR,
check that the root fractions cancel, compare a leaf claim with its expected value.

Each stage still calls these in its own transcript order; they only turn ``GKRError`` and
failed comparisons into ``VerificationError`` with the evidence.

Public names: ``run_gkr``, ``check_roots``, ``check_value``.
"""

from __future__ import annotations

from typing import Sequence

from prover.field import U64, eadd, einv, emul, eq_scalar, ext_scalar, ext_to_ints
from prover.proof import SectionReader
from prover.sumcheck.gkr import GKRError, GKRResult, verify_fraction_sum
from prover.transcript import Transcript
from prover.verifier.errors import VerificationError


def run_gkr(
    stage: int, reader: SectionReader, transcript: Transcript, num_vars: int, label: str, what: str
) -> GKRResult:
    """Read a GKR proof over 2^num_vars leaves from the section and replay it."""
    proof = reader.get_gkr(num_vars, what)
    try:
        return verify_fraction_sum(proof, num_vars, transcript, label)
    except GKRError as exc:
        raise VerificationError(stage, f"{what} layer {exc.layer}", str(exc)) from None


def check_roots(stage: int, roots: Sequence[GKRResult], extra: U64 | None = None) -> None:
    """sum_i root_num_i / root_den_i (+ extra) = 0, with every root denominator non-zero.

    A zero root denominator means some leaf denominator vanished: the sum would be meaningless.
    """
    total = ext_scalar(0) if extra is None else extra
    for i, res in enumerate(roots):
        if eq_scalar(res.root_den, ext_scalar(0)):
            raise VerificationError(stage, "root denominator is zero", f"GKR instance {i}")
        total = eadd(total, emul(res.root_num, einv(res.root_den)))
    if not eq_scalar(total, ext_scalar(0)):
        parts = ", ".join(
            f"{ext_to_ints(r.root_num)}/{ext_to_ints(r.root_den)}" for r in roots
        )
        more = "" if extra is None else f" + init - final {ext_to_ints(extra)}"
        raise VerificationError(
            stage, "roots cancel", f"sum of roots {parts}{more} = {ext_to_ints(total)}, expected 0"
        )


def check_value(stage: int, check: str, expected: U64, actual: U64) -> None:
    """expected == actual, else reject with both values."""
    if not eq_scalar(expected, actual):
        raise VerificationError(
            stage, check, f"expected {ext_to_ints(expected)}, proof gives {ext_to_ints(actual)}"
        )
