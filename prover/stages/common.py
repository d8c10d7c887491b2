"""What every prover stage receives: the run's state, passed from stage 0 to stage 8.

Public names: ``ProverContext``, ``MultPoly``, ``Claim`` (re-exported from ``prover.proof``),
``STAGE_IDS``, ``backend_of``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Mapping


from prover.field import U64
from prover.proof import Claim, SectionWriter
from prover.relations.columns import Tamper

if TYPE_CHECKING:
    from prover.relations.layout import BytecodeTable, FinalState, Statement
    from prover.vm.isa import Program
    from prover.transcript import Transcript
    from prover.witness import WitnessSource
    from prover.workloads import Workload

__all__ = ["Claim", "MultPoly", "ProverContext", "STAGE_IDS", "BACKENDS", "backend_of"]

STAGE_IDS = tuple(range(9))
BACKENDS = ("materialized", "streaming")


def backend_of(variant: Mapping[Any, str] | None, stage: int) -> str:
    """The backend a variant assigns to a stage (keys may be ints or their decimal strings)."""
    if not variant:
        return "materialized"
    name = variant.get(str(stage), variant.get(stage, "materialized"))
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r} for stage {stage}; expected one of {BACKENDS}")
    return str(name)


@dataclasses.dataclass
class MultPoly:
    """A committed multiplicity polynomial (stage 0): table of 2^log_n base values + pcs data.

    ``values`` is kept for the stages that need it (3..6); ``prover_data`` for stage 8's opening.
    """

    name: str
    log_n: int
    values: U64
    commitment: Any
    prover_data: Any


@dataclasses.dataclass
class ProverContext:
    """State of one proof run, passed to ``prover.stages.stageN.prove`` in stage order.

    Inputs (set by the pipeline):
    - ``transcript``: the Fiat-Shamir transcript (stage 0 absorbs the statement first);
    - ``workload``, ``statement``, ``log_t``, ``T``, ``program`` (the VM program), ``bytecode``
      (its ``relations.layout.BytecodeTable``: the stage-6 table side);
    - ``witness``: the witness source; a stage materializes what it needs *inside* the stage
      (``witness.materialized(names)``) and drops it at its end (the memory gate measures
      in-stage peaks); ``witness.rows`` are the shared trace rows;
    - ``backend``: this stage's backend name from the run's variant (the pipeline sets it before
      each stage): ``"materialized"`` uses ``prover.backends.dense``;
    - ``section``: this stage's ``SectionWriter`` (the pipeline sets a fresh one per stage);
    - ``tamper``: the test hook for fault injection (None in honest runs), already applied by the
      witness builder; stages never look at it.
    Outputs (set by stages):
    - stage 0: ``trace_commitment``/``trace_prover_data`` (the 64-column batch) and ``mult``;
    - ``claims``: trace-column claims appended by stages 1..6 (reduced by stage 7);
    - ``mult_claims``: name -> (point, value) claims on multiplicity polys (opened by stage 8);
    - ``final_regs``/``final_ram``: final states (set by the pipeline from the tracer; stages 4/5
      send them in the clear);
    - ``shift_claim``: stage 1's claim pc_shift(r1) (as Claim(r1, {"pc": value})), reduced by
      stage 7 with weight next(r1, y) instead of eq(r1, y);
    - ``reduced``: stage 7's output point and the 64 + 36 base-poly values, opened by stage 8.
    """

    transcript: Transcript
    workload: Workload
    statement: Statement
    log_t: int
    T: int
    program: Program
    bytecode: BytecodeTable
    witness: WitnessSource
    section: SectionWriter
    backend: str = "materialized"
    tamper: Tamper | None = None
    trace_commitment: Any = None
    trace_prover_data: Any = None
    mult: dict[str, MultPoly] = dataclasses.field(default_factory=dict)
    claims: list[Claim] = dataclasses.field(default_factory=list)
    mult_claims: dict[str, tuple[list[U64], U64]] = dataclasses.field(default_factory=dict)
    final_regs: FinalState | None = None
    final_ram: FinalState | None = None
    reduced: Claim | None = None
    # protocol v3: stage 1's pc(c + 1) claim at r1, reduced by stage 7 through next(r1, y) pc(y)
    shift_claim: Claim | None = None
    # --- v3 logup helpers (stages 2-6; the logup work stream's block) ---------------------------
    # Stage 2 draws ONE alpha, gamma for stages 3-6 and commits the nine ext helper columns
    # (``relations.fingerprints.HELPER_NAMES``) as one batch of 36 base polys (poly 4 i + c =
    # component c of helper i): ``helpers`` maps name -> (4, T) ext (views into the committed
    # polys; stages 3-6 read them, never modify them; stage 7 reduces them).
    # ``helper_claims``: Claim(r, {helper name: ext value}) appended by stages 3-6 (reduced by
    # stage 7: a claim on helper h is a claim on its 4 component polys).
    alpha: U64 | None = None
    gamma: U64 | None = None
    helpers: dict[str, U64] = dataclasses.field(default_factory=dict)
    helper_commitment: Any = None
    helper_prover_data: Any = None
    helper_claims: list[Claim] = dataclasses.field(default_factory=list)
    # --- end v3 logup helpers --------------------------------------------------------------------
