"""What the verifier carries from one section to the next (the mirror of ``stages.common``).

Public names: ``VerifierContext``, ``Commitments``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from prover.field import U64
from prover.proof import Claim, SectionReader

if TYPE_CHECKING:
    from prover.relations.layout import BytecodeTable, FinalState, Statement
    from prover.vm.isa import Program
    from prover.transcript import Transcript


@dataclasses.dataclass
class Commitments:
    """Stage 0's commitments as read from the proof: the trace batch and the multiplicity polys.

    ``trace`` and each ``mult[name]`` are the pcs commitment objects (root + shape); ``mult`` keys
    are ``m_instr``, ``m_rangeB``, ``m_rangeM``, ``m_bc``; ``mult_log_sizes`` their variable counts.
    """

    trace: Any = None
    mult: dict[str, Any] = dataclasses.field(default_factory=dict)
    mult_log_sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    # --- v3 logup helpers: the helper batch (36 base polys) read from section 2 ---------------
    helpers: Any = None
    # --- end v3 logup helpers ------------------------------------------------------------------


@dataclasses.dataclass
class VerifierContext:
    """State of one verification, passed to ``prover.verifier.stageN.verify`` in stage order.

    - ``transcript``: replays the prover's transcript exactly (same labels, same order);
    - ``statement``/``log_t``/``T``/``program``/``bytecode``: the public statement, the VM program
      and its bytecode table (``relations.layout.BytecodeTable``); ``init_ram``: RAM at time 0;
    - ``commitments``: filled by stage 0;
    - ``claims``: trace-column claims in the order the stages appended them (stage 7 reduces them);
    - ``mult_claims``: name -> (point, value) claims on multiplicity polys (stage 8 opens them);
    - ``reader``: the current stage's section reader (set by the driver before each stage; the
      stage must call ``reader.expect_end()`` when done);
    - ``final_regs`` / ``final_ram``: final states read from sections 4 and 5;
    - ``shift_claim``: stage 1's pc_shift(r1) claim (stage 7 reduces it with next(r1, y));
    - ``reduced``: stage 7's output (point s, the 64 + 36 base-poly values) for stage 8.
    """

    transcript: Transcript
    statement: Statement
    log_t: int
    T: int
    program: Program
    bytecode: BytecodeTable
    init_ram: U64
    reader: SectionReader
    commitments: Commitments = dataclasses.field(default_factory=Commitments)
    claims: list[Claim] = dataclasses.field(default_factory=list)
    mult_claims: dict[str, tuple[list[U64], U64]] = dataclasses.field(default_factory=dict)
    final_regs: FinalState | None = None
    final_ram: FinalState | None = None
    reduced: Claim | None = None
    shift_claim: Claim | None = None
    # --- v3 logup helpers (stages 2-6; the logup work stream's block) ---------------------------
    # ``alpha``/``gamma``: stage 2's challenges, shared by stages 3-6; ``helper_claims``:
    # Claim(r, {helper name: ext value}) from stages 3-6, in stage order (stage 7 reduces them).
    alpha: U64 | None = None
    gamma: U64 | None = None
    helper_claims: list[Claim] = dataclasses.field(default_factory=list)
    # --- end v3 logup helpers --------------------------------------------------------------------
