"""Transparent hash-based polynomial commitment: batched multilinear Ligero over BabyBear.

What it proves: that a batch of m >= 1 committed multilinear polynomials (2^k evaluations each;
padded virtually to a power of two) takes claimed values at one point. Rows of each poly's R x C
matrix are stacked time-major (row-group by row-group) and Reed-Solomon encoded at rate 1/8
(``ntt``), the encoded columns are the leaves of a SHA-256 Merkle tree (``merkle``), and an
opening sends one tensor-combined row plus 103 authenticated columns after a 16-bit proof of work
(``ligero``; its ``LigeroParams`` docstring carries the soundness computation). ``joint`` opens
several batches of one shape at one point with the combined row committed as a small batch and
checked by a sumcheck (v3 stage 8: the trace and helper batches).

Public names (from ``ligero``): ``PCSError``, ``LigeroParams``, ``Commitment``, ``ProverData``,
``CommitBuilder``, ``commit``, ``absorb_commitment``, ``evaluate``, ``OpeningProof``, ``open``,
``verify``, ``stacked_row_coeffs``; (from ``joint``): ``JointParams``, ``joint_params``,
``JointOpeningProof``, ``open_joint``, ``verify_joint``.

Where it sits: after ``field``, ``mle``, ``transcript`` and ``sumcheck.protocol`` (the only
``prover`` modules it imports), before ``relations`` and ``stages`` (stage 0 commits, stage 8
opens).
"""

from __future__ import annotations

from prover.pcs.ligero import (
    CommitBuilder,
    Commitment,
    LigeroParams,
    OpeningProof,
    PCSError,
    ProverData,
    absorb_commitment,
    commit,
    evaluate,
    open,
    stacked_row_coeffs,
    verify,
)
from prover.pcs.joint import (
    JointOpeningProof,
    JointParams,
    joint_params,
    open_joint,
    verify_joint,
)

__all__ = [
    "CommitBuilder",
    "Commitment",
    "JointOpeningProof",
    "JointParams",
    "LigeroParams",
    "OpeningProof",
    "PCSError",
    "ProverData",
    "absorb_commitment",
    "commit",
    "evaluate",
    "joint_params",
    "open",
    "open_joint",
    "stacked_row_coeffs",
    "verify",
    "verify_joint",
]
