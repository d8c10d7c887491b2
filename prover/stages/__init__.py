"""The prover's nine stages: one module per proof section (docs/protocol.md, "Stages").

Stage contract
- Prover: ``prover.stages.stageN.prove(ctx: ProverContext) -> None``. The stage
  1. draws its challenges from ``ctx.transcript`` and absorbs everything it sends, in exactly the
     order the verifier will replay them (the transcript and sumcheck calls are written in the
     stage itself, not hidden in helpers);
  2. writes its section with ``ctx.section`` (a ``prover.proof.SectionWriter``; the pipeline
     hands each stage a fresh one and collects the payload afterwards);
  3. materializes the trace columns it needs *inside* the stage via
     ``ctx.witness.materialized(names)`` and drops them before returning (the memory gate
     measures each stage's in-stage peak); it reads ``ctx.mult`` for multiplicity tables;
  4. appends its evaluation claims on trace columns to ``ctx.claims`` (``Claim(point, values)``,
     point = log T ext coordinates, values sent in this section) and on multiplicity polys to
     ``ctx.mult_claims[name] = (point, value)``;
  5. computes with the backend named ``ctx.backend`` (``"materialized"`` ->
     ``prover.backends.dense``; ``"streaming"`` later) — same section bytes either way.
- Verifier: ``prover.verifier.stageN.verify(vctx: VerifierContext) -> None`` reads the section
  from ``vctx.reader``, replays the transcript, raises ``VerificationError(stage, check,
  detail)`` on a failed check (``ProofFormatError`` from the reader on malformed bytes), appends
  the same claims to ``vctx.claims`` / ``vctx.mult_claims``, and ends with
  ``vctx.reader.expect_end()``.
- A stage never imports another stage; the verifier never imports a stage, backend or witness.

Modules: ``common`` (``ProverContext``, ``MultPoly``, ``Claim``), ``stage0`` (commit) …
``stage8`` (openings). The driver is ``prover.pipeline``.
"""
