"""Stage 0 verifier: absorb the statement and the five commitments (docs/protocol.md, stage 0).

Reads five Merkle roots (trace batch, m_instr, m_rangeB, m_rangeM, m_bc); their shapes are public
(T x 64 columns; 2^19, 2^11, 2^11, 2^log_n entries), so the commitments are rebuilt from the roots
and absorbed exactly as the prover did.
"""

from __future__ import annotations

from prover import pcs
from prover.relations.columns import COLUMNS
from prover.relations.commitments import MULT_ORDER, mult_log_sizes
from prover.verifier.context import VerifierContext



def verify(vctx: VerifierContext) -> None:
    t, rd = vctx.transcript, vctx.reader
    t.absorb_bytes("s0/statement", vctx.statement.encode())
    trace = pcs.Commitment(rd.get_digest("trace root"), vctx.log_t, len(COLUMNS))
    vctx.commitments.trace = trace
    pcs.absorb_commitment(t, trace)
    sizes = mult_log_sizes(vctx.bytecode)
    for name in MULT_ORDER:
        c = pcs.Commitment(rd.get_digest(f"{name} root"), sizes[name], 1)
        vctx.commitments.mult[name] = c
        vctx.commitments.mult_log_sizes[name] = sizes[name]
        pcs.absorb_commitment(t, c)
    rd.expect_end()
