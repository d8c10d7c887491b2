"""Stage 8 verifier: check the Ligero openings (docs/protocol.md, stage 8).

The trace batch and the helper batch jointly at stage 7's point to stage 7's 64 + 36 values
(``pcs.verify_joint``), then each multiplicity poly (in ``MULT_ORDER``) at its claim point to its
claimed value. A malformed opening is a ``ProofFormatError``; a failed check a
``VerificationError(8, "opening <name>: <check>")``.
"""

from __future__ import annotations

import numpy as np

from prover import pcs
from prover.field import U64
from prover.proof import ProofFormatError
from prover.relations.columns import COLUMNS
from prover.relations.commitments import MULT_ORDER
from prover.relations.fingerprints import HELPER_POLYS
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError

STAGE = 8
_MAX_OPENING = 1 << 26


def _blob(vctx: VerifierContext, what: str) -> bytes:
    return vctx.reader.get_blob(_MAX_OPENING, f"{what} opening")


def _check(vctx: VerifierContext, what: str, commitment: pcs.Commitment, point: list[U64], values: U64) -> None:
    try:
        proof = pcs.OpeningProof.decode(_blob(vctx, what))
    except pcs.PCSError as exc:
        raise ProofFormatError(f"section {STAGE}", f"{what} opening: {exc}") from None
    try:
        pcs.verify(commitment, point, values, proof, vctx.transcript)
    except pcs.PCSError as exc:
        raise VerificationError(STAGE, f"opening {what}: {exc.check}", str(exc)) from None


def verify(vctx: VerifierContext) -> None:
    if vctx.reduced is None:
        raise VerificationError(STAGE, "reduced claim", "stage 7 produced no reduced claim")
    trace_vals = np.stack([vctx.reduced.values[n] for n in COLUMNS], axis=1)
    helper_vals = np.stack([vctx.reduced.values[n] for n in HELPER_POLYS], axis=1)
    commitments = [vctx.commitments.trace, vctx.commitments.helpers]
    what = "trace and helper batches"
    try:
        joint = pcs.JointOpeningProof.decode(_blob(vctx, what))
    except pcs.PCSError as exc:
        raise ProofFormatError(f"section {STAGE}", f"{what} opening: {exc}") from None
    try:
        pcs.verify_joint(commitments, vctx.reduced.point, [trace_vals, helper_vals], joint, vctx.transcript)
    except pcs.PCSError as exc:
        raise VerificationError(STAGE, f"opening {what}: {exc.check}", str(exc)) from None
    for name in MULT_ORDER:
        if name not in vctx.mult_claims:
            raise VerificationError(STAGE, f"opening {name}", "no claim on it from stages 3-6")
        point, value = vctx.mult_claims[name]
        _check(vctx, name, vctx.commitments.mult[name], point, np.asarray(value).reshape(4, 1))
    vctx.reader.expect_end()
