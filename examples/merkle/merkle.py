"""A toy Merkle-tree commitment with Fiat-Shamir openings: the example subject of stagegate's
optimisation mode (docs/gates.md, "Optimisation mode").

Three stages, in this order: hash the leaves, compute the root, open the committed vector at
indices drawn from the root. This baseline opens each index by recomputing every sibling
subtree from the leaf hashes; a faster ``openings`` that reads the siblings from layers kept by
``root`` writes the same bytes.
"""
from __future__ import annotations

import hashlib

LEAF = b'\x00'
NODE = b'\x01'


def h(*parts: bytes) -> bytes:
    return hashlib.sha256(b''.join(parts)).digest()


def leaves(seed: bytes, log_n: int) -> list[bytes]:
    """Stage 0: the committed vector is sha256(seed || i); its leaves are domain-separated."""
    return [h(LEAF, h(seed, i.to_bytes(8, 'big'))) for i in range(1 << log_n)]


def root(leaf_hashes: list[bytes]) -> bytes:
    """Stage 1: the root, layer by layer."""
    layer = leaf_hashes
    while len(layer) > 1:
        layer = [h(NODE, layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def subtree(leaf_hashes: list[bytes], start: int, size: int) -> bytes:
    """The root of leaves[start : start + size] (size a power of two)."""
    if size == 1:
        return leaf_hashes[start]
    half = size // 2
    return h(NODE, subtree(leaf_hashes, start, half), subtree(leaf_hashes, start + half, half))


def queries(top: bytes, n: int, count: int) -> list[int]:
    """Fiat-Shamir: the opened indices are drawn from the root."""
    return [int.from_bytes(h(top, j.to_bytes(4, 'big')), 'big') % n for j in range(count)]


def openings(leaf_hashes: list[bytes], top: bytes, count: int) -> list[tuple[int, list[bytes]]]:
    """Stage 2: each queried index with its authentication path, leaf level first."""
    out = []
    n = len(leaf_hashes)
    for index in queries(top, n, count):
        path = []
        size = 1
        while size < n:
            sibling = (index // size) ^ 1
            path.append(subtree(leaf_hashes, sibling * size, size))
            size *= 2
        out.append((index, path))
    return out


def verify(top: bytes, n: int, leaf: bytes, index: int, path: list[bytes]) -> bool:
    node = leaf
    for sibling in path:
        node = h(NODE, sibling, node) if index & 1 else h(NODE, node, sibling)
        index //= 2
    return node == top


def encode(top: bytes, leaf_hashes: list[bytes], opened: list[tuple[int, list[bytes]]]) -> bytes:
    """The proof bytes: root, then per opening its index, its leaf hash and its path."""
    out = [top]
    for index, path in opened:
        out.append(index.to_bytes(8, 'big'))
        out.append(leaf_hashes[index])
        out.extend(path)
    return b''.join(out)
