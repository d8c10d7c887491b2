"""Sumcheck and fraction-sum (logUp-GKR) protocols: proof formats and verifier checks.

Sits above ``field``/``mle``/``transcript`` and below ``backends`` (which implement the provers)
and the stages. Public names:
- ``protocol``: ``SumcheckProof``, ``RoundProver``, ``prove``, ``verify``, ``interpolate_eval``,
  ``SumcheckError`` (PROTECTED API: keep it small and stable).
- ``gkr``: ``GKRProof``, ``GKRLayerProof``, ``verify_fraction_sum``, ``GKRResult``, ``GKRError``.
"""

from __future__ import annotations

from prover.sumcheck.protocol import (
    RoundProver,
    SumcheckError,
    SumcheckProof,
    interpolate_eval,
    prove,
    verify,
)

__all__ = ["RoundProver", "SumcheckError", "SumcheckProof", "interpolate_eval", "prove", "verify"]
