"""The subject's entry points for the gate engine (docs/gates.md, "Probe").

- ``prove(params, variant, observer) -> bytes``: params ``{"workload": "sha2-chain", "log_t": 16}``;
  the pipeline calls ``observer.enter(k)`` / ``observer.exit(k)`` around stage k (0..8, in
  order, once each); the subject never reports its own figures.
- ``verify(params, proof) -> (ok, message)``: checks the proof against the statement rebuilt
  from ``params`` (the verifier never trusts the statement inside the proof alone).
- ``sections(proof) -> [(stage, absolute offset, length)]`` of the nine sections.
- ``capabilities() -> {"0": ["materialized"], ...}``: backends each stage offers, collected from
  each stage module's ``BACKENDS`` constant (so offering a stage as streaming is an edit inside
  that stage's own paths, ``prover/stages/stageK.py``).

Errors in params raise ``ValueError`` with one sentence; ``verify`` never raises on bad bytes.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from prover.pipeline import Observer, prove as pipeline_prove, statement_of
from prover.proof import NUM_SECTIONS, ProofFormatError, decode_proof
from prover.verifier import VerificationError
from prover.verifier import verify as verify_proof
from prover.workloads import Workload, WorkloadError, build

__all__ = ["prove", "verify", "sections", "capabilities"]


def _workload(params: Mapping[str, Any]) -> Workload:
    if not isinstance(params, Mapping) or "workload" not in params or "log_t" not in params:
        raise ValueError(f"params must name a workload and log_t, got {params!r}")
    try:
        return build(str(params["workload"]), int(params["log_t"]))
    except WorkloadError as exc:
        raise ValueError(str(exc)) from None


def prove(params: Mapping[str, Any], variant: Mapping[str, str] | None, observer: Observer | None) -> bytes:
    return pipeline_prove(_workload(params), variant, observer)


def verify(params: Mapping[str, Any], proof: bytes) -> tuple[bool, str]:
    try:
        expected = statement_of(_workload(params)).encode()
    except ValueError as exc:
        return False, f"unusable params: {exc}"
    try:
        verify_proof(bytes(proof), expected)
    except ProofFormatError as exc:
        return False, f"malformed proof: {exc}"
    except VerificationError as exc:
        return False, f"rejected: {exc}"
    return True, "accepted"


def sections(proof: bytes) -> list[tuple[int, int, int]]:
    pf = decode_proof(bytes(proof))
    return [(k, pf.offsets[k], len(pf.sections[k])) for k in range(NUM_SECTIONS)]


def capabilities() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k in range(NUM_SECTIONS):
        # Each stage declares what it offers; a stage without the constant offers the baseline only.
        module = importlib.import_module(f"prover.stages.stage{k}")
        out[str(k)] = [str(b) for b in getattr(module, "BACKENDS", ("materialized",))]
    return out
