"""The streaming Ligero commitment of a batch of trace columns (protocol v2, docs/protocol.md).

What: the same commitment ``prover.pcs.CommitBuilder`` makes from materialized columns, made
from the witness's chunked view in one pass over the trace, keeping O(sqrt T) state:
- ``commit_columns`` reads the trace in time order, ``SPAN_ROWS`` rows (whole chunks) per column
  build (``WitnessSource.span``: one replay from a checkpoint, one builder call), fills one
  row-group (C consecutive cycles of the m columns), RS-encodes it coset by coset straight into
  the leaf-major layout the hashers read (``_LeafEncoder``: n = 2^b C positions, C at a time),
  and feeds each of the n leaf hashers one update per row-group: v2's time-major leaves make
  that the digest of the whole leaf. Held at once: the row-group (8 m C bytes), one encoded
  coset (4 m C bytes), the n hashers, then the Merkle tree (2 n digests).
- ``StreamingProverData`` stands in for ``pcs.ProverData`` in ``pcs.open`` and keeps no matrix:
  ``combined_row`` (u) and ``row_values`` are one pass over the trace each, accumulating per
  block; ``opened_columns`` is one pass that evaluates each block's rows at the queried codeword
  points directly (exact float64 BLAS on 11-bit limbs of the entries), so it never re-encodes a
  row-group. Its passes build ``OPEN_SPAN_ROWS`` rows at a time (stage 8's memory is tighter).
A chunk may be shorter than a row-group (then C / L chunks make one) or longer (one chunk then
fills L / C row-groups); only both being powers of two is assumed.

Public names: ``commit_columns``, ``StreamingProverData``, ``ChunkSource``.
Where it sits: a backend (``prover.backends``); imports ``prover.field`` and ``prover.pcs``;
stage 0 uses it when its backend is ``"streaming"``, stage 8 opens its result unchanged.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Callable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from prover import field
from prover.field import U64
from prover.pcs import Commitment, LigeroParams, merkle, ntt

__all__ = ["commit_columns", "StreamingProverData", "ChunkSource"]

ChunkHook = Callable[[Mapping[str, np.ndarray]], None]

# Limbs of the trace entries in ``opened_columns``: up to three 11-bit limbs (entries < 2^31)
# keep every product with a power (< 2^31) below 2^42 and a sum of 2^11 of them below 2^53.
_PT_LIMB = 11
_PT_LIMBS = 3
_EXACT_TERMS = 1 << 11


class ChunkSource(Protocol):
    """What the streaming commitment reads: ``prover.witness.WitnessSource``'s chunked view."""

    T: int
    chunk_size: int
    num_chunks: int

    def chunk(self, i: int, names: Sequence[str] | None = None) -> Mapping[str, np.ndarray]: ...


# Rows per column build in a pass. The builder's cost per call is mostly fixed (tens of numpy
# calls): at 2^16 a pass over 256-row chunks took 0.112 s, over 2048-row spans 0.024 s; at 2^20
# 0.416 s (1024) against 0.257 s (2048) and 0.227 s (4096), then slower again (VM replay plus
# all 64 columns, one warm process, this 2-core machine, 2026-12-01). 2048 keeps the span's
# columns (64 x 2048 x 8 B = 1 MiB) and the builder's temporaries small next to stage 0's
# O(sqrt T) state (the row-group alone is 4 MiB at 2^16).
SPAN_ROWS = 1 << 11
# The opening's passes (stage 8) build half as many rows at once: the ledger's memory ratchet
# holds stage 8 at its accepted peak (5.8 MB at 2^16), and 1024 rows cost 0.029 s a pass there.
OPEN_SPAN_ROWS = 1 << 10


def _spans(source: ChunkSource, names: Sequence[str], rows: int) -> Iterator[tuple[int, Mapping[str, np.ndarray]]]:
    """(first row, columns of ``rows`` consecutive rows) in time order: whole chunks, built at once
    (one chunk when a chunk is longer). A source without ``span`` (the ``ChunkSource`` minimum)
    is read chunk by chunk."""
    size = source.chunk_size
    span = getattr(source, "span", None)
    count = max(1, min(source.num_chunks, rows // size)) if span is not None else 1
    for first in range(0, source.num_chunks, count):
        take = min(count, source.num_chunks - first)
        cols = span(first, take, names) if span is not None else source.chunk(first, names)
        yield first * size, cols
        del cols


def _row_groups(
    source: ChunkSource, names: Sequence[str], log_cols: int, on_chunk: ChunkHook | None = None,
) -> Iterator[tuple[int, U64]]:
    """(i, row-group i as (m, C) u64) in time order, built from chunks replayed in order.

    The yielded array is reused for the next row-group: consume it before asking for the next.
    """
    c = 1 << log_cols
    m = len(names)
    group = np.empty((m, c), dtype=np.uint64)
    filled = 0
    gi = 0
    for _, cols in _spans(source, names, SPAN_ROWS):
        if on_chunk is not None:
            on_chunk(cols)
        size = len(cols[names[0]])
        pos = 0
        while pos < size:
            take = min(c - filled, size - pos)
            for j, name in enumerate(names):
                group[j, filled : filled + take] = cols[name][pos : pos + take]
            filled += take
            pos += take
            if filled == c:
                yield gi, group
                gi += 1
                filled = 0
        del cols


class _LeafEncoder:
    """One coset of a row-group's codewords, written leaf-major: leaf[p, r] = Enc(row r)[beta C + p].

    That is the layout the hashers read, so the compiled encoder (``prover.fieldntt``'s kernel
    behind ``encode_columns``, run on the one coset's shift row) stores it directly; the
    row-major ``ntt.encode_coset`` plus a transposed copy (~13 ms per row-group at 2^16) is the
    fallback when the kernel is off or a row has a single entry. Entries must be reduced
    (``commit_columns`` refuses others, as ``pcs.CommitBuilder`` does).
    """

    def __init__(self, m: int, log_cols: int, log_blowup: int) -> None:
        from prover import fieldntt

        c = 1 << log_cols
        self.log_blowup = log_blowup
        self.kernel = fieldntt._encode_kernel if log_cols >= 1 else None
        self.shifts = fieldntt._mont_shifts(log_cols, log_blowup)
        self.twiddles = fieldntt._mont_twiddles(log_cols)
        self.work = np.empty((2, c, fieldntt._GROUP), dtype=np.uint32)
        self.buf: U64 | None = None
        self.scratch: U64 | None = None
        self.m, self.c = m, c

    def encode(self, group: U64, beta: int, leaf: np.ndarray) -> None:
        if self.kernel is not None and ntt._USE_KERNEL:
            self.kernel(group, leaf, 0, self.shifts[beta : beta + 1], self.twiddles, self.work[0], self.work[1])
            return
        if self.buf is None or self.scratch is None:
            self.buf = np.empty((self.m, self.c), dtype=np.uint64)
            self.scratch = np.empty((ntt.coset_step(self.m, self.c), self.c), dtype=np.uint64)
        coset = ntt.encode_coset(group, beta, self.log_blowup, self.buf, self.scratch)
        np.copyto(leaf, coset.T)


def commit_columns(
    source: ChunkSource,
    names: Sequence[str],
    params: LigeroParams | None = None,
    on_chunk: ChunkHook | None = None,
) -> tuple[Commitment, StreamingProverData]:
    """Commit ``names`` (poly j = names[j], T entries each) from the chunked view, in one pass.

    ``on_chunk(cols)`` sees every chunk's columns once, in time order (stage 0 counts its
    multiplicities there). Byte-identical to ``pcs.CommitBuilder`` over the same columns.
    """
    m, t_len = len(names), int(source.T)
    k = t_len.bit_length() - 1
    if t_len != 1 << k:
        raise ValueError(f"T = {t_len} is not a power of two")
    p = params if params is not None else LigeroParams.for_shape(k, m)
    if (p.k, p.m) != (k, m):
        raise ValueError(f"params are for k={p.k}, m={p.m}, not k={k}, m={m}")
    c, n = p.num_cols, p.codeword_len
    base = hashlib.sha256(b"\x00")  # the leaf prefix (merkle: leaf = sha256(0x00 || column))
    hashers = [base.copy() for _ in range(n)]
    encoder = _LeafEncoder(m, p.log_cols, p.log_blowup)
    leaf = np.empty((c, m), dtype="<u4")  # one coset's leaf bytes for this row-group
    # one void scalar per leaf row: map() over them is the cheapest way to feed c hashers
    leaf_rows = leaf.view(f"V{4 * m}").reshape(c)
    update = type(base).update
    groups = 0
    for gi, group in _row_groups(source, names, p.log_cols, on_chunk):
        if group.size and int(group.max()) >= field.P:
            j = int(np.argmax(group.max(axis=1) >= np.uint64(field.P)))
            raise ValueError(f"row-group {gi}: column {names[j]!r} has an entry that is not a reduced "
                             f"field element (>= {field.P})")
        for beta in range(1 << p.log_blowup):
            encoder.encode(group, beta, leaf)
            deque(map(update, hashers[beta * c : (beta + 1) * c], leaf_rows), maxlen=0)
        groups += 1
    if groups != p.num_rows:
        raise ValueError(f"the source gave {groups} row-groups, the shape has {p.num_rows}")
    del encoder, leaf, leaf_rows
    digests = b"".join(h.digest() for h in hashers)
    del hashers
    tree = merkle.MerkleTree(digests)
    commitment = Commitment(tree.root, p.k, p.m)
    return commitment, StreamingProverData(p, commitment, tree, source, tuple(names))


def _bitrev(x: int, bits: int) -> int:
    return int(format(x, f"0{bits}b")[::-1], 2) if bits else 0


class StreamingProverData:
    """``pcs.ProverData``'s opening interface, recomputed from the chunked view on demand.

    Keeps the Merkle tree (2 n digests) and a reference to the source; each method below is one
    pass over the trace's chunks with O(C + chunk) working memory beyond its result.
    """

    def __init__(self, params: LigeroParams, commitment: Commitment, tree: merkle.MerkleTree,
                 source: ChunkSource, names: tuple[str, ...]) -> None:
        self.params = params
        self.commitment = commitment
        self.tree = tree
        self.source = source
        self.names = names

    def _chunks(self) -> Iterator[tuple[int, int, U64]]:
        """(row-group i, offset in it, (m, L') u64 block of that row-group's columns) in time order."""
        c = self.params.num_cols
        for start, cols in _spans(self.source, self.names, OPEN_SPAN_ROWS):
            # uint64 whatever the source's integer dtype: opened_columns shifts the entries
            block = np.stack([cols[name] for name in self.names]).astype(np.uint64, copy=False)
            del cols
            for s in range(0, block.shape[1], c):  # a span longer than C covers several row-groups
                piece = block[:, s : s + c]
                t0 = start + s
                yield t0 // c, t0 % c, piece

    def row_values(self, eq_cols: U64) -> U64:
        """<row, eq_cols> for every stacked row (4, m R), as ``ProverData.row_values``."""
        p = self.params
        out = np.zeros((4, p.total_rows), dtype=np.uint64)
        for i, off, piece in self._chunks():
            part = field.edot_base_many(np.ascontiguousarray(eq_cols[:, off : off + piece.shape[1]]), piece)
            sl = slice(i * p.m, (i + 1) * p.m)
            out[:, sl] = field.eadd(out[:, sl], part)
        return out

    def combined_row(self, coeffs: U64) -> U64:
        """u = sum_row coeffs[row] * row (4, C): per chunk, its rows' combination lands on its offsets."""
        p = self.params
        u = np.zeros((4, p.num_cols), dtype=np.uint64)
        for i, off, piece in self._chunks():
            w = np.ascontiguousarray(coeffs[:, i * p.m : (i + 1) * p.m])
            part = field.lincomb_base(np.ascontiguousarray(piece), w)
            sl = slice(off, off + piece.shape[1])
            u[:, sl] = field.eadd(u[:, sl], part)
        return u

    def opened_columns(self, idx: Sequence[int]) -> U64:
        """Codeword columns at positions ``idx`` (Q, m R): each row evaluated at those points.

        Position p of a row's codeword is the row polynomial at x_p = w_n^bitrev(p)
        (``ntt.eval_exponents``). A block holding entries off .. off + L - 1 of row-group i adds
        x_p^off * sum_l row[off + l] x_p^l. The inner sums are one float64 matmul per block
        against the points' first L powers (< 2^31, whole), exact because the entries go in as
        11-bit limbs: every product is < 2^42 and a sum of L <= 2^11 of them < 2^53. A row takes
        as many limbs as its largest entry in the block needs (all-zero rows none), and most
        trace columns are bits and bytes, so the matmul has ~75 rows for 64 columns at 2^16,
        not the 192 of three limbs each. Limb sums are reduced, scaled by 2^(11 j) and
        recombined with ``prover.field``.
        """
        p = self.params
        q = len(idx)
        out = np.zeros((q, p.total_rows), dtype=np.uint64)
        if q == 0:
            return out
        log_n = p.log_cols + p.log_blowup
        w = field.root_of_unity(log_n)
        # x_p = w_n^bitrev(p) for the queried p only: ``ntt.eval_exponents`` would build (and
        # cache) an n-entry table, which outlives the stage.
        pts = np.array([pow(w, _bitrev(int(i), log_n), field.P) for i in idx], dtype=np.uint64)
        span = min(p.num_cols, _EXACT_TERMS, OPEN_SPAN_ROWS)
        # pw[l] = x^l for l < span, as float64 (span, Q): exact, every power is < 2^31
        pw = np.empty((span, q), dtype=np.float64)
        cur = np.ones(q, dtype=np.uint64)
        for l in range(span):
            pw[l] = cur
            cur = field.mul(cur, pts)
        mask = np.uint64((1 << _PT_LIMB) - 1)
        scales = [np.uint64(pow(2, _PT_LIMB * j, field.P)) for j in range(_PT_LIMBS)]
        shifts: dict[int, U64] = {}  # offset in the row -> x^offset (C / span of them)
        for i, off, piece in self._chunks():
            sl = slice(i * p.m, (i + 1) * p.m)
            for s in range(0, piece.shape[1], span):
                blk = piece[:, s : s + span]
                ln = blk.shape[1]
                top = blk.max(axis=1)
                # rows needing at least j + 1 limbs, j = 0, 1, 2 (j = 0: the rows not all zero)
                need = [np.flatnonzero(top >= np.uint64(1 << (_PT_LIMB * j))) for j in range(_PT_LIMBS)]
                if need[0].size == 0:
                    continue
                limbs = np.concatenate([
                    (blk[rows] >> np.uint64(_PT_LIMB * j)) & mask for j, rows in enumerate(need) if rows.size
                ]).astype(np.float64)
                sums = field.to_base((limbs @ pw[:ln]).astype(np.uint64))  # (sum of sizes, Q)
                del limbs
                acc = np.zeros((p.m, q), dtype=np.uint64)
                at = 0
                for j, rows in enumerate(need):
                    if rows.size:
                        part = sums[at : at + rows.size]
                        acc[rows] = field.add(acc[rows], part if j == 0 else field.mul(part, scales[j]))
                        at += rows.size
                shift = shifts.get(off + s)
                if shift is None:
                    shift = shifts[off + s] = field.pow_(pts, off + s)
                out[:, sl] = field.add(out[:, sl], field.mul(acc, shift).T)
        return out

    def merkle_nodes(self, idx: Sequence[int]) -> list[bytes]:
        return self.tree.open(idx)
