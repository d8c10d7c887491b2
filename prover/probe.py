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

from prover.pipeline import Observer, prove as pipeline_prove
from prover.proof import NUM_SECTIONS
from prover.verify_entry import sections, verify, workload_of
from prover.workloads import Workload

__all__ = ["prove", "verify", "sections", "capabilities"]


def _workload(params: Mapping[str, Any]) -> Workload:
    return workload_of(params)


def prove(params: Mapping[str, Any], variant: Mapping[str, str] | None, observer: Observer | None) -> bytes:
    return pipeline_prove(_workload(params), variant, observer)


def capabilities() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k in range(NUM_SECTIONS):
        # Each stage declares what it offers; a stage without the constant offers the baseline only.
        module = importlib.import_module(f"prover.stages.stage{k}")
        out[str(k)] = [str(b) for b in getattr(module, "BACKENDS", ("materialized",))]
    return out
