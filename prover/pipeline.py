"""The prover's driver: workload -> witness source -> stages 0..8 -> proof bytes.

``prove(workload, variant=None, observer=None, tamper=None, progress=None) -> bytes``
1. builds the statement, the bytecode table, the tracer and the witness source (columns by
   ``relations.columns.make_builder``, optionally wrapped by the ``tamper`` test hook);
2. runs ``witness.materialize_rows()`` once, *outside* every stage (the trace rows are the
   shared input of all stages), and reads the final register/RAM state;
3. runs stage 0 .. 8 in order, each exactly once, between ``observer.enter(k)`` and
   ``observer.exit(k)``, with its backend from the variant and a fresh section writer;
4. returns the canonical proof bytes (``prover.proof.encode_proof``).

Determinism: everything is a function of the statement (no clocks, no randomness, no dict order
from hashing), so the same workload gives the same bytes in any process. The run happens inside
``runtime.tuned()`` (one BLAS thread, malloc keeps freed tables): speed only, never bytes.

Public names: ``prove``, ``statement_of``, ``Observer``, ``NullObserver``, ``DOMAIN``,
``chunk_log_for``.
"""

from __future__ import annotations

import importlib
import sys
import time
from types import ModuleType
from typing import Any, Callable, Mapping, Protocol

import numpy as np

from prover.runtime import tuned
from prover.proof import NUM_SECTIONS, SectionWriter, encode_proof
from prover.relations.columns import Tamper, make_builder
from prover.relations.layout import FinalState, bytecode_table
from prover.stages.common import ProverContext, backend_of
from prover.tracer import Tracer
from prover.transcript import Transcript
from prover.verifier import DOMAIN
from prover.witness import WitnessSource
from prover.verify_entry import statement_of
from prover.workloads import Workload

__all__ = ["prove", "statement_of", "Observer", "NullObserver", "DOMAIN", "chunk_log_for"]


class Observer(Protocol):
    def enter(self, stage: int) -> None: ...

    def exit(self, stage: int) -> None: ...


class NullObserver:
    def enter(self, stage: int) -> None:
        pass

    def exit(self, stage: int) -> None:
        pass


def chunk_log_for(log_t: int) -> int:
    """Tracer chunk size 2^ceil(log T / 2): ~sqrt(T) rows, what a streaming stage would replay."""
    return (log_t + 1) // 2


def _stage_module(k: int) -> ModuleType:
    return importlib.import_module(f"prover.stages.stage{k}")


def prove(
    workload: Workload,
    variant: Mapping[Any, str] | None = None,
    observer: Observer | None = None,
    tamper: Tamper | None = None,
    progress: Callable[[str], None] | None = None,
) -> bytes:
    """Prove that ``workload`` runs to its claimed output in T steps; returns the proof bytes."""
    with tuned():  # speed only, never bytes; see prover.runtime
        return _prove(workload, variant, observer, tamper, progress)


def _prove(
    workload: Workload,
    variant: Mapping[Any, str] | None,
    observer: Observer | None,
    tamper: Tamper | None,
    progress: Callable[[str], None] | None,
) -> bytes:
    obs = observer if observer is not None else NullObserver()
    say = progress if progress is not None else (lambda _msg: None)
    statement = statement_of(workload)
    bytecode = bytecode_table(workload.program)
    tracer = Tracer(workload.program, workload.ram_init, workload.T, chunk_log_for(workload.log_t))
    witness = WitnessSource(tracer, make_builder(bytecode, tamper))
    t0 = time.perf_counter()
    witness.materialize_rows()
    fs = tracer.final_state()
    say(f"trace: {workload.T} rows, {fs.halt_cycles} real cycles ({time.perf_counter() - t0:.1f}s)")
    ctx = ProverContext(
        transcript=Transcript(DOMAIN),
        workload=workload,
        statement=statement,
        log_t=workload.log_t,
        T=workload.T,
        program=workload.program,
        bytecode=bytecode,
        witness=witness,
        section=SectionWriter(0),
        tamper=tamper,
        final_regs=FinalState(fs.regs.astype(np.uint64), fs.reg_times.astype(np.uint64)),
        final_ram=FinalState(fs.ram.astype(np.uint64), fs.ram_times.astype(np.uint64)),
    )
    modules = [_stage_module(k) for k in range(NUM_SECTIONS)]
    sections: list[bytes] = []
    for k, module in enumerate(modules):
        ctx.backend = backend_of(variant, k)
        ctx.section = SectionWriter(k)
        t = time.perf_counter()
        obs.enter(k)
        module.prove(ctx)
        obs.exit(k)
        sections.append(ctx.section.payload())
        say(f"stage {k}: {time.perf_counter() - t:.2f}s, {len(sections[-1])} bytes")
    return encode_proof(statement.encode(), sections)


def stderr_progress(msg: str) -> None:
    """A progress sink for long runs: one line per event on stderr."""
    print(f"[prover] {msg}", file=sys.stderr, flush=True)
