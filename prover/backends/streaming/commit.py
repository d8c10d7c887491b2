"""The streaming Ligero commitment of a batch of trace columns (protocol v2, docs/protocol.md).

What: the same commitment ``prover.pcs.CommitBuilder`` makes from materialized columns, made
from the witness's chunked view in one pass over the trace, keeping O(sqrt T) state:
- ``commit_columns`` reads chunks in time order, fills one row-group (C consecutive cycles of
  the m columns), RS-encodes it coset by coset (``ntt.encode_coset``, the materialized
  ``CommitBuilder``'s encoder: n = 2^b C positions, C at a time), and feeds each
  of the n leaf hashers one update per row-group: v2's time-major leaves make that the digest of
  the whole leaf. Held at once: the row-group (8 m C bytes), one encoded coset (its u64 copy and
  a u32 leaf-major copy), the n hashers, then the Merkle tree (2 n digests).
- ``StreamingProverData`` stands in for ``pcs.ProverData`` in ``pcs.open`` and keeps no matrix:
  ``combined_row`` (u) and ``row_values`` are one pass over the chunks each, accumulating per
  chunk; ``opened_columns`` is one pass that evaluates each chunk's rows at the queried codeword
  points directly (exact float64 BLAS on limbs), so it never re-encodes a whole row-group.
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

# Limbs of the codeword points' powers in ``opened_columns``: three 11-bit limbs keep every
# product < 2^31 * 2^11 and a chunk's sum of up to 2^11 of them < 2^53 (exact in a double).
_PT_LIMB = 11
_PT_LIMBS = 3
_EXACT_TERMS = 1 << 11


class ChunkSource(Protocol):
    """What the streaming commitment reads: ``prover.witness.WitnessSource``'s chunked view."""

    T: int
    chunk_size: int
    num_chunks: int

    def chunk(self, i: int, names: Sequence[str] | None = None) -> Mapping[str, np.ndarray]: ...


def _row_groups(
    source: ChunkSource, names: Sequence[str], log_cols: int, on_chunk: ChunkHook | None = None,
) -> Iterator[tuple[int, U64]]:
    """(i, row-group i as (m, C) u64) in time order, built from chunks replayed in order.

    The yielded array is reused for the next row-group: consume it before asking for the next.
    """
    c = 1 << log_cols
    size = source.chunk_size
    m = len(names)
    group = np.empty((m, c), dtype=np.uint64)
    filled = 0
    gi = 0
    for ci in range(source.num_chunks):
        cols = source.chunk(ci, names)
        if on_chunk is not None:
            on_chunk(cols)
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
    buf = np.empty((m, c), dtype=np.uint64)
    scratch = np.empty((ntt.coset_step(m, c), c), dtype=np.uint64)
    leaf = np.empty((c, m), dtype="<u4")  # one coset's leaf bytes for this row-group
    # one void scalar per leaf row: map() over them is the cheapest way to feed c hashers
    leaf_rows = leaf.view(f"V{4 * m}").reshape(c)
    update = type(base).update
    groups = 0
    for _, group in _row_groups(source, names, p.log_cols, on_chunk):
        for beta in range(1 << p.log_blowup):
            coset = ntt.encode_coset(group, beta, p.log_blowup, buf, scratch)
            np.copyto(leaf, coset.T)
            deque(map(update, hashers[beta * c : (beta + 1) * c], leaf_rows), maxlen=0)
        groups += 1
    if groups != p.num_rows:
        raise ValueError(f"the source gave {groups} row-groups, the shape has {p.num_rows}")
    del buf, scratch, leaf, leaf_rows
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
        p = self.params
        c = p.num_cols
        size = self.source.chunk_size
        for ci in range(self.source.num_chunks):
            cols = self.source.chunk(ci, self.names)
            block = np.stack([cols[name] for name in self.names])
            del cols
            start = ci * size
            for s in range(0, size, c):  # a chunk longer than C spans several row-groups
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
        (``ntt.eval_exponents``). A chunk holding entries off .. off + L - 1 of row-group i adds
        x_p^off * sum_l row[off + l] x_p^l; the inner sums are float64 matmuls against the
        points' first L powers split into 11-bit limbs (exact: products < 2^42, L <= 2^11
        terms per block), reduced and recombined with ``prover.field``.
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
        span = min(self.source.chunk_size, p.num_cols, _EXACT_TERMS)
        # powers[l] = x^l for l < span, then its limbs as float64 (span, Q) matrices
        powers = np.empty((span, q), dtype=np.uint64)
        powers[0] = 1
        for l in range(1, span):
            powers[l] = field.mul(powers[l - 1], pts)
        mask = np.uint64((1 << _PT_LIMB) - 1)
        limbs = [((powers >> np.uint64(_PT_LIMB * b)) & mask).astype(np.float64) for b in range(_PT_LIMBS)]
        scales = [np.uint64(pow(2, _PT_LIMB * b, field.P)) for b in range(_PT_LIMBS)]
        shifts: dict[int, U64] = {}  # offset in the row -> x^offset (C / span of them)
        for i, off, piece in self._chunks():
            sl = slice(i * p.m, (i + 1) * p.m)
            for s in range(0, piece.shape[1], span):
                blk = piece[:, s : s + span].astype(np.float64)  # (m, L), entries < 2^31
                ln = blk.shape[1]
                acc = np.zeros((p.m, q), dtype=np.uint64)
                for b in range(_PT_LIMBS):
                    part = field.to_base((blk @ limbs[b][:ln]).astype(np.uint64))
                    acc = field.add(acc, field.mul(part, scales[b]))
                shift = shifts.get(off + s)
                if shift is None:
                    shift = shifts[off + s] = field.pow_(pts, off + s)
                out[:, sl] = field.add(out[:, sl], field.mul(acc, shift).T)
        return out

    def merkle_nodes(self, idx: Sequence[int]) -> list[bytes]:
        return self.tree.open(idx)
