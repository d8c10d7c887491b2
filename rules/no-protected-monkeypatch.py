# Test cases for rules/no-protected-monkeypatch.yaml (run by `semgrep --test rules/`).
import prover.sumcheck.protocol
import prover.verifier.stage1 as stage1_alias
from prover import transcript
from prover.relations import constraints
from prover.verifier import stage1
from prover.verifier.stage2 import Checker


def patch_everything(fake):
    # ruleid: no-protected-monkeypatch
    prover.sumcheck.protocol.verify_rounds = fake
    # ruleid: no-protected-monkeypatch
    stage1.verify = fake
    # ruleid: no-protected-monkeypatch
    stage1_alias.verify.__code__ = fake.__code__
    # ruleid: no-protected-monkeypatch
    constraints.CONSTRAINTS = []
    # ruleid: no-protected-monkeypatch
    transcript.LABEL_PREFIX = b""
    # ruleid: no-protected-monkeypatch
    Checker.check = fake
    # ruleid: no-protected-monkeypatch
    setattr(stage1, "verify", fake)
    # ruleid: no-protected-monkeypatch
    del constraints.CONSTRAINTS


def use_everything(ctx, backend):
    # ok: no-protected-monkeypatch
    ok = stage1.verify(ctx)
    # ok: no-protected-monkeypatch
    rows = constraints.CONSTRAINTS
    # ok: no-protected-monkeypatch
    backend.verify = stage1.verify
    # ok: no-protected-monkeypatch
    ctx.transcript = transcript.Transcript(b"stagegate")
    return ok, rows
