"""Stage 0: commit to the trace and the multiplicities (docs/protocol.md, stage 0).

Transcript: absorb the statement bytes ("s0/statement"); commit the 64 trace columns as one
Ligero batch (poly j = column ``COLUMNS[j]``, T entries) and absorb it (``pcs.absorb_commitment``);
then commit and absorb each multiplicity polynomial, in ``MULT_ORDER``: m_instr (2^19, lookup
keys a_j + 256 b_j over 4 slots), m_rangeB (2^11, register timestamp limbs), m_rangeM (2^11, RAM
timestamp limbs), m_bc (2^log_n, pc). Section: the five Merkle roots (32 bytes each), same order;
the shapes are public, so the verifier rebuilds the commitments from the roots.

Keeps for later stages: the PCS prover data (stage 8 opens it) and the multiplicity tables
(stages 3-6). The trace columns themselves are dropped at the end of the stage.

Backends: ``materialized`` builds all 64 columns at once and keeps the encoded matrix;
``streaming`` (``prover.backends.streaming``) replays the trace chunk by chunk once, commits
row-group by row-group and counts the multiplicities per chunk, keeping O(sqrt T) state; its
prover data recomputes what stage 8's opening needs. Both give the same bytes.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from prover import pcs
from prover.field import U64
from prover.relations import fingerprints, lookup_table
from prover.relations.columns import COLUMNS
from prover.relations.commitments import MULT_ORDER, mult_log_sizes
from prover.relations.layout import BytecodeTable
from prover.stages.common import MultPoly, ProverContext

# The backends this stage offers (prover.probe.capabilities() collects them): converting the
# stage to streaming adds "streaming" here, inside the stage's own paths.
BACKENDS = ("materialized", "streaming")

def _clipped_counts(keys: Sequence[U64], size: int) -> U64:
    """Counts of in-range keys only: what a (faulty) prover commits when a key is off the table.

    Honest traces never get here; a tampered one must still yield a proof, to be rejected later.
    """
    counts = np.zeros(size, dtype=np.uint64)
    for k in keys:
        k = np.asarray(k, dtype=np.uint64)
        k = k[k < np.uint64(size)]
        counts += np.bincount(k.astype(np.int64), minlength=size).astype(np.uint64)
    return counts


def _instr_index(cols: dict[str, U64], j: int) -> U64:
    """a_j + 256 b_j, with off-table keys mapped past the end (dropped by ``_clipped_counts``)."""
    a, b = cols[f"a{j}"], cols[f"b{j}"]
    ok = (a < np.uint64(1 << lookup_table.LOG_A)) & (b < np.uint64(1 << lookup_table.LOG_B))
    return np.where(ok, a + (b << np.uint64(lookup_table.LOG_A)), np.uint64(lookup_table.SIZE))


def _multiplicities(cols: dict[str, U64], bytecode: BytecodeTable) -> dict[str, U64]:
    src = fingerprints.MULT_SOURCES
    makers: dict[str, tuple[Callable[[], U64], Callable[[], list[U64]]]] = {
        "m_instr": (
            lambda: lookup_table.multiplicities([cols[f"a{j}"] for j in range(4)], [cols[f"b{j}"] for j in range(4)]),
            lambda: [_instr_index(cols, j) for j in range(4)],
        ),
        "m_rangeB": (
            lambda: fingerprints.range_multiplicities([cols[n] for n in src["m_rangeB"]]),
            lambda: [cols[n] for n in src["m_rangeB"]],
        ),
        "m_rangeM": (
            lambda: fingerprints.range_multiplicities([cols[n] for n in src["m_rangeM"]]),
            lambda: [cols[n] for n in src["m_rangeM"]],
        ),
        "m_bc": (
            lambda: fingerprints.bytecode_multiplicities(cols["pc"], bytecode),
            lambda: [np.where(cols["pc"] < np.uint64(bytecode.length), cols["pc"], np.uint64(1 << bytecode.log_n))],
        ),
    }
    sizes = mult_log_sizes(bytecode)
    out: dict[str, U64] = {}
    for name in MULT_ORDER:
        exact, keys = makers[name]
        try:
            out[name] = exact()
        except ValueError:
            out[name] = _clipped_counts(keys(), 1 << sizes[name])
    return out


def _mult_keys(cols: dict[str, U64], bytecode: BytecodeTable) -> dict[str, list[U64]]:
    """Per multiplicity poly, the key arrays whose in-range counts it is (``_clipped_counts``)."""
    src = fingerprints.MULT_SOURCES
    pc = cols["pc"]
    return {
        "m_instr": [_instr_index(cols, j) for j in range(4)],
        "m_rangeB": [cols[n] for n in src["m_rangeB"]],
        "m_rangeM": [cols[n] for n in src["m_rangeM"]],
        "m_bc": [np.where(pc < np.uint64(bytecode.length), pc, np.uint64(1 << bytecode.log_n))],
    }


class _ChunkCounts:
    """Multiplicities summed chunk by chunk: the in-range counts of every key.

    Equal to ``_multiplicities`` over all T rows: where every key is in range the exact count
    is the in-range count, and where one is not ``_multiplicities`` falls back to in-range
    counts itself; counts add over chunks.
    """

    def __init__(self, bytecode: BytecodeTable) -> None:
        self.bytecode = bytecode
        sizes = mult_log_sizes(bytecode)
        self.counts = {name: np.zeros(1 << sizes[name], dtype=np.uint64) for name in MULT_ORDER}

    def __call__(self, cols: dict[str, U64]) -> None:
        # a chunk has ~sqrt(T) keys: counting its distinct ones beats a table-sized bincount
        for name, keys in _mult_keys(cols, self.bytecode).items():
            counts = self.counts[name]
            k = np.concatenate(keys)
            k = k[k < np.uint64(counts.size)]
            uniq, num = np.unique(k, return_counts=True)
            counts[uniq.astype(np.int64)] += num.astype(np.uint64)


def _commit_mults(ctx: ProverContext, mults: dict[str, U64]) -> None:
    t = ctx.transcript
    sizes = mult_log_sizes(ctx.bytecode)
    for name in MULT_ORDER:
        values = mults[name]
        c, d = pcs.commit(values.reshape(1, -1))
        ctx.mult[name] = MultPoly(name, sizes[name], values, c, d)
        ctx.section.put_digest(c.root)
        pcs.absorb_commitment(t, c)


def _prove_streaming(ctx: ProverContext) -> None:
    from prover.backends.streaming import commit_columns

    t = ctx.transcript
    t.absorb_bytes("s0/statement", ctx.statement.encode())
    counts = _ChunkCounts(ctx.bytecode)
    commitment, data = commit_columns(ctx.witness, COLUMNS, on_chunk=counts)
    ctx.trace_commitment, ctx.trace_prover_data = commitment, data
    ctx.section.put_digest(commitment.root)
    pcs.absorb_commitment(t, commitment)
    _commit_mults(ctx, counts.counts)


def prove(ctx: ProverContext) -> None:
    if ctx.backend == "streaming":
        _prove_streaming(ctx)
    elif ctx.backend == "materialized":
        # The baseline: all 64 columns at once, the encoded matrix kept for stage 8.
        t = ctx.transcript
        t.absorb_bytes("s0/statement", ctx.statement.encode())

        cols = ctx.witness.materialized(COLUMNS)
        builder = pcs.CommitBuilder(ctx.log_t, len(COLUMNS))
        p = builder.params
        for j, name in enumerate(COLUMNS):
            builder.add_rows(j, 0, cols[name].reshape(p.num_rows, p.num_cols))
        commitment, data = builder.finish()
        del builder
        ctx.trace_commitment, ctx.trace_prover_data = commitment, data
        ctx.section.put_digest(commitment.root)
        pcs.absorb_commitment(t, commitment)

        mults = _multiplicities(cols, ctx.bytecode)
        del cols
        _commit_mults(ctx, mults)
    else:
        raise NotImplementedError(f"stage 0 has no {ctx.backend!r} backend")
