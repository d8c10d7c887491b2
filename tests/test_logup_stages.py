"""Stages 2-6 of protocol v3 (committed logUp helpers), proved and verified stage by stage.

The prover stages 0..6 run on a ``ProverContext`` built as ``prover.pipeline`` builds it, and the
verifier replays sections 0..6 (``prover.verifier.run_stages`` with ``stop``), so these tests
do not depend on how stages 7 and 8 reduce and open the claims. Covered: completeness at
several sizes (claims equal on both sides, helper claims equal the committed helpers' MLEs),
a wrong helper value, a wrong S, a helper column that is not 1 / (D_a D_b), and determinism.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Callable

import numpy as np
import pytest

from prover import workloads
from prover.backends.dense import logup as dense_logup
from prover.field import P, eadd, ext_scalar
from prover.mle import mle_eval_ext
from prover.pipeline import _stage_module, chunk_log_for, statement_of
from prover.proof import SectionWriter
from prover.relations import fingerprints as fp
from prover.relations.columns import make_builder
from prover.relations.layout import NUM_REGS, RAM_WORDS, FinalState, bytecode_table
from prover.stages.common import ProverContext
from prover.tracer import Tracer
from prover.transcript import Transcript
from prover.verifier import DOMAIN, VerificationError, context_for, run_stages
from prover.verifier.context import VerifierContext
from prover.witness import WitnessSource

STOP = 7  # stages 0..6


def prove_stages(w: workloads.Workload, stop: int = STOP) -> tuple[ProverContext, list[bytes]]:
    """Prover stages 0 .. stop-1 on a context built as the pipeline builds it."""
    bytecode = bytecode_table(w.program)
    tracer = Tracer(w.program, w.ram_init, w.T, chunk_log_for(w.log_t))
    witness = WitnessSource(tracer, make_builder(bytecode, None))
    witness.materialize_rows()
    fs = tracer.final_state()
    ctx = ProverContext(
        transcript=Transcript(DOMAIN), workload=w, statement=statement_of(w), log_t=w.log_t, T=w.T,
        program=w.program, bytecode=bytecode, witness=witness, section=SectionWriter(0),
        final_regs=FinalState(fs.regs.astype(np.uint64), fs.reg_times.astype(np.uint64)),
        final_ram=FinalState(fs.ram.astype(np.uint64), fs.ram_times.astype(np.uint64)),
    )
    sections = []
    for k in range(stop):
        ctx.section = SectionWriter(k)
        _stage_module(k).prove(ctx)
        sections.append(ctx.section.payload())
    return ctx, sections


def verify_stages(w: workloads.Workload, sections: list[bytes]) -> VerifierContext:
    vctx = context_for(statement_of(w).encode())
    run_stages(vctx, sections, start=0, stop=len(sections))
    return vctx


@cache
def honest(name: str = "fib", log_t: int = 8) -> tuple[ProverContext, tuple[bytes, ...]]:
    w = workloads.build(name, log_t)
    ctx, sections = prove_stages(w)
    return ctx, tuple(sections)


def rejection(sections: list[bytes], name: str = "fib", log_t: int = 8) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verify_stages(workloads.build(name, log_t), sections)
    return info.value


def same_claims(a: list, b: list) -> None:
    assert len(a) == len(b)
    for ca, cb in zip(a, b):
        assert len(ca.point) == len(cb.point)
        assert all(np.array_equal(x, y) for x, y in zip(ca.point, cb.point))
        assert list(ca.values) == list(cb.values)
        assert all(np.array_equal(ca.values[n], cb.values[n]) for n in ca.values)


# ----------------------------------------------------------------------------- completeness


@pytest.mark.parametrize(
    "name, log_t",
    [("fib", 8), pytest.param("fib", 10, marks=pytest.mark.slow), ("sha2-chain", 12)],
)
def test_stages_0_to_6_verify_and_claims_agree(name: str, log_t: int) -> None:
    ctx, sections = honest(name, log_t)
    vctx = verify_stages(workloads.build(name, log_t), list(sections))
    same_claims(ctx.claims, vctx.claims)
    same_claims(ctx.helper_claims, vctx.helper_claims)
    assert [list(c.values) for c in vctx.helper_claims] == [list(fp.stage_helpers(s)) for s in fp.HELPER_STAGES]
    assert sorted(vctx.mult_claims) == sorted(ctx.mult_claims)
    assert np.array_equal(vctx.alpha, ctx.alpha) and np.array_equal(vctx.gamma, ctx.gamma)
    assert vctx.commitments.helpers == ctx.helper_commitment
    # the helper claims are the committed helpers' MLEs at the stage's point
    for claim in ctx.helper_claims:
        for h, v in claim.values.items():
            assert np.array_equal(mle_eval_ext(ctx.helpers[h], claim.point), v), h


def test_stage2_section_layout_and_helpers() -> None:
    ctx, sections = honest()
    assert len(sections[2]) == 4 * 3 * NUM_REGS + 4 * 3 * RAM_WORDS + 32
    assert sections[2][-32:] == ctx.helper_commitment.root
    assert (ctx.helper_commitment.k, ctx.helper_commitment.m) == (ctx.log_t, 36)
    assert list(ctx.helpers) == list(fp.HELPER_NAMES)
    # h * D_a * D_b = 1 on every row, against the v2 leaves
    cols = ctx.witness.materialized(fp.HELPER_COLUMNS)
    for st in fp.HELPER_STAGES:
        _, den = fp.leaves(fp.STAGE_SLOTS[st], cols, ctx.T, ctx.alpha, ctx.gamma)
        from prover.field import emul

        for name, pair in zip(fp.stage_helpers(st), fp.HELPER_PAIRS[st]):
            prod = ctx.helpers[name]
            for s in pair:
                prod = emul(prod, den[:, s * ctx.T : (s + 1) * ctx.T])
            assert np.array_equal(prod[0], np.ones(ctx.T, dtype=np.uint64)) and not prod[1:].any(), name


def test_sections_are_deterministic() -> None:
    _, sections = honest()
    _, again = prove_stages(workloads.build("fib", 8))
    assert list(sections) == again


# ----------------------------------------------------------------------------- soundness


def _values_offset(stage: int, log_t: int, bytecode_log_n: int) -> int:
    """Byte offset of the first value (helper h_{stage}_0) in a helper stage's section."""
    from prover.relations.lookup_table import LOG_SIZE
    from prover.sumcheck.gkr import GKRProof
    from prover.sumcheck.protocol import SumcheckProof

    table_vars = {3: LOG_SIZE, 4: fp.RANGE_BITS, 5: fp.RANGE_BITS, 6: bytecode_log_n}[stage]
    return 16 + SumcheckProof.byte_len(log_t, 4) + GKRProof.byte_len(table_vars)


def _bump(sec: bytes, offset: int) -> bytes:
    old = struct.unpack_from("<I", sec, offset)[0]
    return sec[:offset] + struct.pack("<I", (old + 1) % P) + sec[offset + 4 :]


@pytest.mark.parametrize("stage", [3, 4, 5, 6])
def test_wrong_helper_value_rejected(stage: int) -> None:
    """h_0(r) off by one (bytes edited after proving): the final claim no longer matches."""
    ctx, sections = honest()
    forged = list(sections)
    forged[stage] = _bump(sections[stage], _values_offset(stage, ctx.log_t, ctx.bytecode.log_n))
    err = rejection(forged)
    assert (err.stage, err.check) == (stage, "helper sumcheck final"), err


@pytest.mark.parametrize("stage", [3, 4, 5, 6])
def test_wrong_column_value_rejected(stage: int) -> None:
    """The last column value off by one: the recomputed D's miss the final claim."""
    _, sections = honest()
    forged = list(sections)
    forged[stage] = _bump(sections[stage], len(sections[stage]) - 16)
    err = rejection(forged)
    assert (err.stage, err.check) == (stage, "helper sumcheck final"), err


@pytest.mark.parametrize("stage", [3, 4, 5, 6])
def test_wrong_S_bytes_rejected(stage: int) -> None:
    """S edited after proving: rho, tau change and round 0 misses the claim rho^P S."""
    _, sections = honest()
    forged = list(sections)
    forged[stage] = _bump(sections[stage], 0)
    err = rejection(forged)
    assert (err.stage, err.check) == (stage, "helper sumcheck round"), err


def _patched_prove(monkeypatch: pytest.MonkeyPatch, target: str, fn: Callable) -> list[bytes]:
    monkeypatch.setattr(dense_logup, target, fn)
    for k in (2, 3, 4, 5, 6):  # the stages bound the names at import
        module = _stage_module(k)
        if hasattr(module, target):
            monkeypatch.setattr(module, target, fn)
    _, sections = prove_stages(workloads.build("fib", 8))
    return sections


@pytest.mark.parametrize("stage", [3, 4, 5, 6])
def test_wrong_S_rejected(stage: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prover claims S + 1 (sent and absorbed consistently) and runs its honest sumcheck."""

    class Forged(dense_logup.HelperTables):
        def fraction_sum(self) -> np.ndarray:
            return eadd(super().fraction_sum(), ext_scalar(1))

    monkeypatch.setattr(_stage_module(stage), "HelperTables", Forged)
    _, sections = prove_stages(workloads.build("fib", 8))
    err = rejection(sections)
    assert (err.stage, err.check) == (stage, "helper sumcheck round"), err


@pytest.mark.parametrize("helper", ["h3_1", "h4_0", "h5_0", "h6_0"])
def test_helper_that_is_not_the_inverse_rejected(helper: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One entry of one committed helper is off by one (committed and used consistently, S
    included): h D_a D_b != 1 there, and the stage's zero-check fails in its first round."""
    original = dense_logup.compute_helpers
    i = fp.HELPER_NAMES.index(helper)

    def forged(*args: object, **kw: object) -> np.ndarray:
        polys = original(*args, **kw)
        polys[4 * i, 5] = (polys[4 * i, 5] + 1) % P
        return polys

    sections = _patched_prove(monkeypatch, "compute_helpers", forged)
    err = rejection(sections)
    assert (err.stage, err.check) == (int(helper[1]), "helper sumcheck round"), err


def test_final_state_limbs_must_be_16_bit() -> None:
    """A register limb >= 2^16 (v_lo of r0 = 2^16) is rejected in stage 2."""
    _, sections = honest()
    forged = list(sections)
    sec = sections[2]
    forged[2] = struct.pack("<I", 1 << 16) + sec[4:]
    err = rejection(forged)
    assert (err.stage, err.check) == (2, "final register limbs"), err


def test_helper_root_bound_before_stage3() -> None:
    """A different helper root changes every later challenge: stage 3 rejects."""
    _, sections = honest()
    forged = list(sections)
    sec = sections[2]
    forged[2] = sec[:-1] + bytes([sec[-1] ^ 1])
    err = rejection(forged)
    assert err.stage == 3, err
