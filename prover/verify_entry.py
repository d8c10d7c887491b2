"""The verifier's entry points for the gate engine: ``verify`` and ``sections``, and the public
statement they check against, with no prover code on their import path.

The engine verifies every proof in a process of its own that imports only the spec's
``subject.verify`` and ``subject.sections`` (docs/gates.md, "The verifier runs where the prover
cannot reach it"). Through ``prover.probe`` those entries imported the whole pipeline, so prover
code could still run, at import, in the verifier's process; from here they import the verifier,
the proof format, the relations' layout and the workloads (the VM that yields the claimed
output), all outside every stage's paths. ``statement_of`` lives here for the same reason: the
statement a proof is checked against must not be prover code a stage may edit.
"""

from __future__ import annotations

from typing import Any, Mapping

from prover.proof import NUM_SECTIONS, ProofFormatError, decode_proof
from prover.relations.layout import Statement, words_to_bytes
from prover.verifier import VerificationError
from prover.verifier import verify as verify_proof
from prover.workloads import Workload, WorkloadError, build

__all__ = ["verify", "sections", "statement_of", "workload_of"]


def workload_of(params: Mapping[str, Any]) -> Workload:
    """The workload ``params`` name; ValueError with one sentence if they are unusable."""
    if not isinstance(params, Mapping) or "workload" not in params or "log_t" not in params:
        raise ValueError(f"params must name a workload and log_t, got {params!r}")
    try:
        return build(str(params["workload"]), int(params["log_t"]))
    except WorkloadError as exc:
        raise ValueError(str(exc)) from None


def statement_of(workload: Workload) -> Statement:
    """The public statement of a workload: name, n, input region bytes, claimed output, log T."""
    region = workload.program.region("input")
    words = [int(workload.ram_init.get(a, 0)) for a in range(region.base, region.end)]
    return Statement(
        workload=workload.name,
        params={"n": int(workload.n)},
        input=words_to_bytes(words),
        output=bytes(workload.expected_output),
        log_t=workload.log_t,
    )


def verify(params: Mapping[str, Any], proof: bytes) -> tuple[bool, str]:
    """(ok, message): the proof checked against the statement rebuilt from ``params`` (never
    the statement inside the proof alone); never raises on bad bytes."""
    try:
        expected = statement_of(workload_of(params)).encode()
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
    """(stage, absolute offset, length) of the nine sections."""
    pf = decode_proof(bytes(proof))
    return [(k, pf.offsets[k], len(pf.sections[k])) for k in range(NUM_SECTIONS)]
