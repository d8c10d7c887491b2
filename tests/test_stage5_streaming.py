"""Stage 5's streaming backend (``prover.backends.streaming.logup_ram``) against the materialized one.

- Whole proofs with stage 5 streaming are the baseline's bytes (the golden digest at sha2-12) and
  verify, with the stages converted before it (0, 1, 3, 4) streaming or materialized.
- Both helper paths (read from ``ctx.helpers``, recomputed per span) give the stage's bytes; a
  counting tracer sees 3 + windows passes, every chunk once a pass, in order; the materialized
  view is never touched.
- Soundness: a tampered helper gives a section the verifier rejects at stage 5; the streaming
  bytes equal the materialized ones there too.
(The windowed prover itself is checked against the dense prover on stage 5's slots in
``tests/test_stage4_streaming.py``.)
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_stage3_streaming import _stages_0_to_2

from prover import workloads
from prover.backends.streaming.logup_registers import windows_for
from prover.field import P
from prover.pipeline import prove, statement_of
from prover.proof import SectionWriter
from prover.stages import stage3, stage4, stage5
from prover.stages.common import ProverContext
from prover.verifier import VerificationError, context_for, run_stages
from prover.verify_entry import verify
from prover.witness import WitnessSource

ROOT = Path(__file__).resolve().parent.parent
BEFORE = {"0": "streaming", "1": "streaming", "3": "streaming", "4": "streaming"}


@pytest.mark.parametrize("name,log_t", [("fib", 8), ("fib", 10), ("sha2-chain", 12), ("sha2-chain", 14)])
def test_whole_proofs_are_byte_identical_and_verify(name: str, log_t: int) -> None:
    w = workloads.build(name, log_t)
    ref = prove(w, variant=BEFORE)
    got = prove(w, variant={**BEFORE, "5": "streaming"})
    assert got == ref
    assert prove(w, variant={"5": "streaming"}) == ref  # the earlier stages materialized
    assert verify({"workload": name, "log_t": log_t}, got) == (True, "accepted")
    if (name, log_t) == ("sha2-chain", 12):
        golden = json.loads((ROOT / "specs" / "golden.json").read_text())["workloads"]["sha2-12"]
        assert hashlib.sha256(got).hexdigest() == golden["sha256"]
    assert stage5.BACKENDS == ("materialized", "streaming")


def _after_stage4(name: str, log_t: int) -> tuple[ProverContext, Any, list[bytes]]:
    ctx, tracer, sections = _stages_0_to_2(name, log_t)
    for k, mod in ((3, stage3), (4, stage4)):
        ctx.backend = "streaming"
        ctx.section = SectionWriter(k)
        mod.prove(ctx)
        sections.append(ctx.section.payload())
    return ctx, tracer, sections


def _stage5(ctx: ProverContext, backend: str, helpers: dict[str, Any] | None = None) -> bytes:
    c = copy.copy(ctx)
    c.transcript = copy.deepcopy(ctx.transcript)
    c.claims, c.helper_claims, c.mult_claims = list(ctx.claims), list(ctx.helper_claims), dict(ctx.mult_claims)
    c.helpers = dict(ctx.helpers) if helpers is None else helpers
    c.backend = backend
    c.section = SectionWriter(5)
    stage5.prove(c)
    return c.section.payload()


def test_helper_paths_passes_and_no_materialization(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, tracer, _ = _after_stage4("sha2-chain", 12)
    ref = _stage5(ctx, "materialized")
    passes = 3 + len(windows_for(12))
    for helpers in (None, {}):
        tracer.replayed[:] = 0
        tracer.order.clear()
        assert _stage5(ctx, "streaming", helpers=helpers) == ref
        assert np.all(tracer.replayed == passes), tracer.replayed
        assert tracer.order == list(range(tracer.num_chunks)) * passes
    ctx.witness.drop_rows()

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("the streaming stage 5 must not materialize the trace")

    monkeypatch.setattr(WitnessSource, "materialized", refuse)
    monkeypatch.setattr(WitnessSource, "materialize_rows", refuse)
    assert _stage5(ctx, "streaming") == ref


def test_tampered_helper_is_rejected() -> None:
    ctx, _, sections = _after_stage4("fib", 8)
    honest = _stage5(ctx, "streaming")
    bad = dict(ctx.helpers)
    h = bad["h5_0"].copy()
    h[2, 101] = (int(h[2, 101]) + 1) % P
    bad["h5_0"] = h
    got = _stage5(ctx, "streaming", helpers=bad)
    assert got != honest
    assert got == _stage5(ctx, "materialized", helpers=bad)
    v = context_for(statement_of(workloads.build("fib", 8)).encode())
    with pytest.raises(VerificationError) as info:
        run_stages(v, sections + [got], 0, 6)
    assert info.value.stage == 5, info.value
    v = context_for(statement_of(workloads.build("fib", 8)).encode())
    run_stages(v, sections + [honest], 0, 6)
