"""SHA-256 Merkle tree over the columns of a Ligero codeword matrix, with batched openings.

What: leaf q is ``sha256(0x00 || column q as u32 LE)``, an inner node is
``sha256(0x01 || left || right)`` (the prefixes keep a leaf from ever being read as a node, the
second-preimage fix of RFC 6962 s2.1). A batched opening of a set of leaves sends every sibling
node the verifier cannot compute itself exactly once, in a fixed traversal order (level by level
from the leaves, ascending index), so the proof is canonical.

Public names: ``MerkleError``, ``hash_leaves``, ``MerkleTree``, ``multiproof_size``,
``verify_batch``.

Where it sits: used by ``prover.pcs.ligero``; imports only hashlib and numpy.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

DIGEST_LEN = 32
_LEAF = b"\x00"
_NODE = b"\x01"


class MerkleError(ValueError):
    """A batched opening does not authenticate against the root (or is malformed)."""


def _hash_leaf_range(leaves: np.ndarray, lo: int, hi: int) -> bytes:
    base = hashlib.sha256(_LEAF)
    out = []
    for q in range(lo, hi):
        h = base.copy()
        h.update(leaves[q])
        out.append(h.digest())
    return b"".join(out)


def hash_leaves(leaves: np.ndarray, workers: int = 1) -> bytes:
    """Digests of the rows of a (L, w) uint32 little-endian array, concatenated (L * 32 bytes).

    hashlib releases the GIL on inputs over 2 KiB, so with ``workers`` > 1 and wide leaves the
    ranges hash in parallel threads.
    """
    if leaves.ndim != 2 or leaves.dtype != np.dtype("<u4") or not leaves.flags.c_contiguous:
        raise ValueError("leaves must be a C-contiguous (L, w) little-endian uint32 array")
    n = leaves.shape[0]
    if workers <= 1 or n < 2 * workers or leaves.shape[1] * 4 < 2048:
        return _hash_leaf_range(leaves, 0, n)
    step = -(-n // workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda lo: _hash_leaf_range(leaves, lo, min(n, lo + step)), range(0, n, step))
        return b"".join(parts)


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


class MerkleTree:
    """A complete binary tree over 2^h leaf digests; ``levels[0]`` are the leaves, the last the root."""

    def __init__(self, leaf_digests: bytes) -> None:
        n = len(leaf_digests) // DIGEST_LEN
        if n < 1 or n & (n - 1) or len(leaf_digests) != n * DIGEST_LEN:
            raise ValueError(f"{len(leaf_digests)} bytes are not a power-of-two number of digests")
        self.levels: list[bytes] = [bytes(leaf_digests)]
        cur = self.levels[0]
        while len(cur) > DIGEST_LEN:
            nxt = b"".join(
                hashlib.sha256(_NODE + cur[i : i + 2 * DIGEST_LEN]).digest()
                for i in range(0, len(cur), 2 * DIGEST_LEN)
            )
            self.levels.append(nxt)
            cur = nxt

    @property
    def root(self) -> bytes:
        return self.levels[-1]

    @property
    def num_leaves(self) -> int:
        return len(self.levels[0]) // DIGEST_LEN

    def _digest(self, level: int, index: int) -> bytes:
        lvl = self.levels[level]
        return lvl[index * DIGEST_LEN : (index + 1) * DIGEST_LEN]

    def open(self, indices: Sequence[int]) -> list[bytes]:
        """The sibling nodes a verifier needs for these (sorted, distinct) leaves, in proof order."""
        _check_indices(indices, self.num_leaves)
        nodes: list[bytes] = []
        known = list(indices)
        for level in range(len(self.levels) - 1):
            parents: list[int] = []
            i = 0
            while i < len(known):
                idx = known[i]
                if idx % 2 == 0 and i + 1 < len(known) and known[i + 1] == idx + 1:
                    i += 2  # both children known: nothing to send
                else:
                    nodes.append(self._digest(level, idx ^ 1))
                    i += 1
                parents.append(idx >> 1)
            known = parents
        return nodes


def _check_indices(indices: Sequence[int], num_leaves: int) -> None:
    if not indices:
        raise ValueError("no leaves to open")
    prev = -1
    for idx in indices:
        if not prev < idx < num_leaves:
            raise ValueError(f"leaf indices must be strictly increasing and < {num_leaves}")
        prev = idx


def multiproof_size(indices: Sequence[int], num_leaves: int) -> int:
    """How many sibling nodes a batched opening of these sorted, distinct leaves contains."""
    _check_indices(indices, num_leaves)
    count = 0
    known = list(indices)
    while num_leaves > 1:
        parents = sorted({idx >> 1 for idx in known})
        count += 2 * len(parents) - len(known)
        known = parents
        num_leaves //= 2
    return count


def verify_batch(
    root: bytes,
    num_leaves: int,
    indices: Sequence[int],
    leaf_digests: Sequence[bytes],
    nodes: Sequence[bytes],
) -> None:
    """Check that the leaves at ``indices`` (sorted, distinct) hash up to ``root``.

    Raises MerkleError naming the problem: too few or too many nodes, or a root mismatch.
    """
    if num_leaves < 1 or num_leaves & (num_leaves - 1):
        raise MerkleError(f"tree of {num_leaves} leaves is not a power of two")
    try:
        _check_indices(indices, num_leaves)
    except ValueError as exc:
        raise MerkleError(str(exc)) from None
    if len(leaf_digests) != len(indices):
        raise MerkleError(f"{len(leaf_digests)} leaves for {len(indices)} indices")
    known = list(zip(indices, leaf_digests))
    ptr = 0
    width = num_leaves
    while width > 1:
        nxt: list[tuple[int, bytes]] = []
        i = 0
        while i < len(known):
            idx, dig = known[i]
            if idx % 2 == 0 and i + 1 < len(known) and known[i + 1][0] == idx + 1:
                nxt.append((idx >> 1, _node(dig, known[i + 1][1])))
                i += 2
                continue
            if ptr >= len(nodes):
                raise MerkleError(f"batched path ends early: {len(nodes)} nodes are not enough")
            sib = nodes[ptr]
            ptr += 1
            if len(sib) != DIGEST_LEN:
                raise MerkleError(f"node {ptr - 1} has {len(sib)} bytes, not {DIGEST_LEN}")
            nxt.append((idx >> 1, _node(dig, sib) if idx % 2 == 0 else _node(sib, dig)))
            i += 1
        known = nxt
        width //= 2
    if ptr != len(nodes):
        raise MerkleError(f"batched path has {len(nodes) - ptr} unused nodes")
    if known[0][1] != root:
        raise MerkleError(
            f"opened columns hash to root {known[0][1].hex()[:16]}..., commitment has {root.hex()[:16]}..."
        )
