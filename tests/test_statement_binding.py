"""The statement a proof carries must describe the run it proves (found in review).

A proof for fib with n = 50 re-wrapped under a statement claiming n = 10^6 (same input and
output bytes) must not verify: the params are bound to the input region, not free text.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from prover import workloads
from prover.pipeline import prove, statement_of
from prover.proof import ProofFormatError, decode_proof, encode_proof
from prover.relations.layout import Statement
from prover.verifier import VerificationError, verify


def test_statement_with_params_that_disagree_with_the_input_rejected() -> None:
    w = workloads.build("fib", 8)
    proof = prove(w)
    pf = decode_proof(proof)
    honest = Statement.decode(pf.statement)
    assert verify(proof).statement == honest
    lying = dataclasses.replace(honest, params={"n": 1_000_000})
    forged = encode_proof(lying.encode(), list(pf.sections))
    with pytest.raises(ProofFormatError, match="disagree with the input"):
        verify(forged)


def test_honest_statement_params_match_the_input() -> None:
    w = workloads.build("sha2-chain", 12)
    st = statement_of(w)
    assert st.params == {"n": w.n}


def _deeply_nested_statement_proof(depth: int = 100_000) -> bytes:
    w = workloads.build("fib", 8)
    pf = decode_proof(prove(w))
    return encode_proof(b"[" * depth + b"]" * depth, list(pf.sections))


def test_deeply_nested_statement_is_malformed_input_not_a_crash() -> None:
    with pytest.raises(ProofFormatError, match="nested too deeply"):
        verify(_deeply_nested_statement_proof())


def test_deeply_nested_statement_rejected_on_raw_bytes_before_parsing() -> None:
    w = workloads.build("fib", 8)
    with pytest.raises(VerificationError, match="the proof is about"):
        verify(_deeply_nested_statement_proof(), statement_of(w).encode())


def test_prover_verify_exits_2_on_a_deeply_nested_statement(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nested.bin"
    path.write_bytes(_deeply_nested_statement_proof())
    proc = subprocess.run(
        [sys.executable, "-m", "prover.cli", "verify", str(path)], capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
