"""What both backends share: the machine, the commitment, the proof format and the verifier.

The statement: T = 2^log_t steps of s' = s*s + C mod P from s_0 = SEED. The trace is the list of
the T states. Stage 0 (``commit``) hashes the trace in chunks of sqrt(T) rows and commits to the
chunk hashes; stage 1 (``constraints``) folds every row's transition constraint with powers of a
challenge drawn from the root (it must be 0) and a second fold of the rows themselves; stage 2
(``openings``) opens QUERIES chunks drawn from both folds. Each stage's bytes are the same
whichever backend computed them.
"""
from __future__ import annotations

import hashlib
import math
import struct

P = (1 << 61) - 1
C = 7
SEED = 3
QUERIES = 4
MAGIC = b'LST1'


def step(s: int) -> int:
    return (s * s + C) % P


def chunk_rows(t: int) -> int:
    return 1 << ((t.bit_length() - 1) // 2)   # sqrt(T), rounded down to a power of two


def chunk_hash(rows: list[int]) -> bytes:
    return hashlib.sha256(b''.join(r.to_bytes(8, 'little') for r in rows)).digest()


def root_of(hashes: list[bytes]) -> bytes:
    return hashlib.sha256(b''.join(hashes)).digest()


def challenge(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b''.join(parts)).digest()[:8], 'little') % P


def queries(root: bytes, fold: int, n_chunks: int) -> list[int]:
    seed = root + fold.to_bytes(8, 'little')
    return [challenge(seed, j.to_bytes(4, 'little')) % n_chunks for j in range(QUERIES)]


def encode(root: bytes, hashes: list[bytes], folds: tuple[int, int],
           opened: list[tuple[int, list[int]]]) -> bytes:
    out = bytearray(MAGIC + struct.pack('<I', len(hashes)) + root + b''.join(hashes))
    out += struct.pack('<QQ', *folds)
    for index, rows in opened:
        out += struct.pack('<II', index, len(rows)) + b''.join(r.to_bytes(8, 'little') for r in rows)
    return bytes(out)


def sections(proof: bytes) -> list[tuple[int, int, int]]:
    if proof[:4] != MAGIC:
        raise ValueError('bad magic')
    (n,) = struct.unpack_from('<I', proof, 4)
    commit = 8 + 32 + 32 * n
    return [(0, 0, commit), (1, commit, 16), (2, commit + 16, len(proof) - commit - 16)]


def verify(params: dict[str, object], proof: bytes) -> tuple[bool, str]:
    try:
        layout = sections(proof)
        t = 1 << int(str(params['log_t']))
        (n,) = struct.unpack_from('<I', proof, 4)
        root = proof[8:40]
        hashes = [proof[40 + 32 * i: 72 + 32 * i] for i in range(n)]
        if n != t // chunk_rows(t) or root_of(hashes) != root:
            return False, 'the chunk hashes do not open the root'
        _, fold = struct.unpack_from('<QQ', proof, layout[1][1])
        pos = layout[2][1]
        for index in queries(root, fold, n):
            got, count = struct.unpack_from('<II', proof, pos)
            pos += 8
            rows = [int.from_bytes(proof[pos + 8 * i: pos + 8 * i + 8], 'little') for i in range(count)]
            pos += 8 * count
            if got != index or count != chunk_rows(t) or chunk_hash(rows) != hashes[index]:
                return False, f'opening of chunk {index} does not match its hash'
            if index == 0 and rows[0] != SEED:
                return False, 'the trace does not start at the seed'
            if any(step(a) != b for a, b in zip(rows, rows[1:])):
                return False, f'chunk {index} breaks the transition'
        if pos != len(proof):
            return False, 'trailing bytes'
    except (ValueError, KeyError, struct.error) as e:
        return False, f'malformed proof: {e}'
    return True, 'ok'


def isqrt(t: int) -> int:
    return math.isqrt(t)
