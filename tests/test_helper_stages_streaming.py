"""The streaming backends of helper stages 5 and 6 against the materialized ones, stage by stage
(stage 5: ``prover.backends.streaming.logup_ram`` driving stage 4's windowed helper sumcheck;
stage 6: stage 3's ``StreamingHelperSumcheck``).

- Whole proofs with the stage streaming are the baseline's bytes (the golden digest at sha2-12)
  and verify, with the stages converted before it streaming or materialized.
- Both helper paths (read from ``ctx.helpers``, recomputed per span) give the stage's bytes; a
  counting tracer sees 3 + windows passes, every chunk once a pass, in order; the materialized
  view is never touched.
- Soundness: a tampered helper gives a section the verifier rejects at that stage; the streaming
  bytes equal the materialized ones there too.
(The windowed prover itself is checked against the dense prover on the slots of stages 3-6 in
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
from prover.backends.streaming import logup
from prover.backends.streaming.logup_registers import windows_for
from prover.field import P
from prover.pipeline import _stage_module, prove, statement_of
from prover.proof import SectionWriter
from prover.stages.common import ProverContext
from prover.verifier import VerificationError, context_for, run_stages
from prover.verify_entry import verify
from prover.witness import WitnessSource

ROOT = Path(__file__).resolve().parent.parent
ORDER = (0, 1, 3, 4, 5, 6)  # the spec's conversion order, up to the helper stages
STAGES = (5, 6)


def _before(stage: int) -> dict[str, str]:
    return {str(k): "streaming" for k in ORDER[: ORDER.index(stage)]}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("name,log_t", [("fib", 8), ("fib", 10), ("sha2-chain", 12), ("sha2-chain", 14)])
def test_whole_proofs_are_byte_identical_and_verify(stage: int, name: str, log_t: int) -> None:
    w = workloads.build(name, log_t)
    before = _before(stage)
    ref = prove(w, variant=before)
    got = prove(w, variant={**before, str(stage): "streaming"})
    assert got == ref
    assert prove(w, variant={str(stage): "streaming"}) == ref  # the earlier stages materialized
    assert verify({"workload": name, "log_t": log_t}, got) == (True, "accepted")
    if (name, log_t) == ("sha2-chain", 12):
        golden = json.loads((ROOT / "specs" / "golden.json").read_text())["workloads"]["sha2-12"]
        assert hashlib.sha256(got).hexdigest() == golden["sha256"]
    assert _stage_module(stage).BACKENDS == ("materialized", "streaming")


def _before_stage(stage: int, name: str, log_t: int) -> tuple[ProverContext, Any, list[bytes]]:
    """Stages 0-2 as the stage-3 tests run them, then 3 .. stage - 1 streaming."""
    ctx, tracer, sections = _stages_0_to_2(name, log_t)
    for k in range(3, stage):
        ctx.backend = "streaming"
        ctx.section = SectionWriter(k)
        _stage_module(k).prove(ctx)
        sections.append(ctx.section.payload())
    return ctx, tracer, sections


def _run(stage: int, ctx: ProverContext, backend: str, helpers: dict[str, Any] | None = None) -> bytes:
    c = copy.copy(ctx)
    c.transcript = copy.deepcopy(ctx.transcript)
    c.claims, c.helper_claims, c.mult_claims = list(ctx.claims), list(ctx.helper_claims), dict(ctx.mult_claims)
    c.helpers = dict(ctx.helpers) if helpers is None else helpers
    c.backend = backend
    c.section = SectionWriter(stage)
    _stage_module(stage).prove(c)
    return c.section.payload()


@pytest.mark.parametrize("stage", STAGES)
def test_helper_paths_passes_and_no_materialization(stage: int, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, tracer, _ = _before_stage(stage, "sha2-chain", 12)
    ref = _run(stage, ctx, "materialized")
    # stage 5: stage 4's windowed schedule (3 + windows passes); stage 6: stage 3's (4 passes)
    passes = logup.PASSES if stage == 6 else 3 + len(windows_for(12))
    for helpers in (None, {}):
        tracer.replayed[:] = 0
        tracer.order.clear()
        assert _run(stage, ctx, "streaming", helpers=helpers) == ref
        assert np.all(tracer.replayed == passes), tracer.replayed
        assert tracer.order == list(range(tracer.num_chunks)) * passes
    ctx.witness.drop_rows()

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError(f"the streaming stage {stage} must not materialize the trace")

    monkeypatch.setattr(WitnessSource, "materialized", refuse)
    monkeypatch.setattr(WitnessSource, "materialize_rows", refuse)
    assert _run(stage, ctx, "streaming") == ref


@pytest.mark.parametrize("stage", STAGES)
def test_tampered_helper_is_rejected(stage: int) -> None:
    ctx, _, sections = _before_stage(stage, "fib", 8)
    honest = _run(stage, ctx, "streaming")
    bad = dict(ctx.helpers)
    name = f"h{stage}_0"
    h = bad[name].copy()
    h[2, 101] = (int(h[2, 101]) + 1) % P
    bad[name] = h
    got = _run(stage, ctx, "streaming", helpers=bad)
    assert got != honest
    assert got == _run(stage, ctx, "materialized", helpers=bad)
    v = context_for(statement_of(workloads.build("fib", 8)).encode())
    with pytest.raises(VerificationError) as info:
        run_stages(v, sections + [got], 0, stage + 1)
    assert info.value.stage == stage, info.value
    v = context_for(statement_of(workloads.build("fib", 8)).encode())
    run_stages(v, sections + [honest], 0, stage + 1)
