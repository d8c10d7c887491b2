"""The verifier: checks proof bytes against the public statement (docs/protocol.md).

``verify(proof_bytes, expected_statement=None) -> VerifyResult`` decodes the proof file
(``prover.proof``), decodes the statement (``relations.layout.Statement``), rebuilds the public
tables (program, bytecode table, initial RAM), and replays stages 0..8 in order, each reading
its own section and the shared transcript (``prover.verifier.stageN.verify(vctx)``).

Raises ``ProofFormatError`` (malformed bytes or statement: unusable input) or
``VerificationError(stage, check, detail)`` (a failed check: reject). When
``expected_statement`` is given (the statement bytes the caller expects, e.g. rebuilt from the
workload parameters), a proof about anything else is rejected before any stage runs.

Imports only field, transcript, sumcheck, pcs (verify side), relations and proof — never a
stage, a backend or the witness. Public names: ``verify``, ``VerifyResult``, ``DOMAIN``,
``VerificationError``, ``ProofFormatError``, and the two steps ``verify`` is made of:
``context_for(statement_bytes)`` and ``run_stages(vctx, sections, start=0, stop=9)`` (tests resume a
verification from a copied context).
"""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType
from typing import Sequence

from prover.runtime import tuned
from prover.proof import NUM_SECTIONS, ProofFormatError, SectionReader, decode_proof
from prover.relations.layout import Statement, StatementError, bytecode_table, initial_ram, program_of
from prover.transcript import Transcript
from prover.verifier.context import VerifierContext
from prover.verifier.errors import VerificationError

__all__ = [
    "verify", "VerifyResult", "DOMAIN", "VerificationError", "ProofFormatError", "context_for", "run_stages",
]

# The transcript's domain separator; the prover's pipeline uses the same bytes.
DOMAIN = b"stagegate/sha2-chain-prover/v3"


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """An accepted proof: its statement and the (stage, offset, length) of every section."""

    statement: Statement
    sections: tuple[tuple[int, int, int], ...]


def _stage_module(k: int) -> ModuleType:
    return importlib.import_module(f"prover.verifier.stage{k}")


def context_for(statement_bytes: bytes) -> VerifierContext:
    """A fresh verifier context for a statement (``ProofFormatError`` if it is unusable)."""
    try:
        statement = Statement.decode(statement_bytes)
        program = program_of(statement.workload)
        init = initial_ram(statement, program)
    except StatementError as exc:
        raise ProofFormatError("statement", str(exc)) from None
    except RecursionError:
        # json.loads recurses per nesting level: a statement nested thousands deep is malformed
        # input (exit 2), never a crash of the verifier.
        raise ProofFormatError("statement", "statement is nested too deeply to be the canonical form") from None
    return VerifierContext(
        transcript=Transcript(DOMAIN),
        statement=statement,
        log_t=statement.log_t,
        T=statement.T,
        program=program,
        bytecode=bytecode_table(program),
        init_ram=init,
        reader=SectionReader(0, b""),
    )


def run_stages(vctx: VerifierContext, sections: Sequence[bytes], start: int = 0, stop: int = NUM_SECTIONS) -> None:
    """Verify sections ``start`` .. stop-1 in order on ``vctx`` (which must hold stages < start)."""
    for k in range(start, stop):
        vctx.reader = SectionReader(k, sections[k])
        _stage_module(k).verify(vctx)


def verify(proof_bytes: bytes, expected_statement: bytes | None = None) -> VerifyResult:
    pf = decode_proof(proof_bytes)
    # The raw bytes first: a proof about another statement is rejected before its statement is
    # parsed at all (whatever those bytes hold).
    if expected_statement is not None and pf.statement != expected_statement:
        raise VerificationError(
            -1, "statement",
            f"the proof is about {pf.statement[:120]!r}, expected {expected_statement[:120]!r}",
        )
    vctx = context_for(pf.statement)
    with tuned():  # speed only, never bytes; see prover.runtime
        run_stages(vctx, pf.sections)
    sections = tuple((k, pf.offsets[k], len(pf.sections[k])) for k in range(NUM_SECTIONS))
    return VerifyResult(vctx.statement, sections)
