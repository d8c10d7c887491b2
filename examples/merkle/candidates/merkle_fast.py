"""A toy Merkle-tree commitment with Fiat-Shamir openings: the example subject of stagegate's
optimisation mode (docs/gates.md, "Optimisation mode").

Three stages, in this order: hash the leaves, compute the root, open the committed vector at
indices drawn from the root. This is the optimised candidate (README.md): ``openings`` reads the
siblings from the tree's layers, built once, and writes the same bytes as the baseline, which
recomputes every sibling subtree per opening.
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


def layers(leaf_hashes: list[bytes]) -> list[list[bytes]]:
    """Every layer of the tree, leaves first: O(n) hashes, once."""
    out = [leaf_hashes]
    while len(out[-1]) > 1:
        below = out[-1]
        out.append([h(NODE, below[i], below[i + 1]) for i in range(0, len(below), 2)])
    return out


def openings(leaf_hashes: list[bytes], top: bytes, count: int) -> list[tuple[int, list[bytes]]]:
    """Stage 2: each queried index with its authentication path, leaf level first. The
    siblings are read from the layers, built once, instead of recomputed per opening."""
    tree = layers(leaf_hashes)
    out = []
    for index in queries(top, len(leaf_hashes), count):
        out.append((index, [tree[level][(index >> level) ^ 1] for level in range(len(tree) - 1)]))
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
