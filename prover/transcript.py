"""Fiat-Shamir transcript over SHA-256 (docs/protocol.md, "Conventions").

Absorbing chains the state: ``state = sha256(state || u32 len(label) || label || u32 len(data) || data)``
(lengths little-endian). A fresh transcript starts from 32 zero bytes and absorbs the domain
under the label ``b"domain"``. A challenge first absorbs its label with empty data, then reads
SHA-256 blocks ``sha256(state || u32 counter)`` for counter = 0, 1, ... as little-endian u32 words.

- Field challenges keep the low 31 bits of each word and reject values >= P (uniform in F).
- Indices below ``bound`` keep the low ceil(log2 bound) bits and reject values >= bound.

The squeeze input (36 bytes) is never the same length as an absorb input (>= 40 bytes), so the
two cannot collide. Sits just above ``prover.field``; provers and verifiers replay it identically.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Iterator

import numpy as np

from prover.field import P, U64, encode_base, encode_ext

_MASK31 = (1 << 31) - 1


def _u32(n: int) -> bytes:
    return struct.pack("<I", n)


def _label(label: bytes | str) -> bytes:
    """Labels are ASCII names; str is accepted for readability at call sites."""
    return label.encode() if isinstance(label, str) else label


class Transcript:
    """A deterministic Fiat-Shamir transcript; prover and verifier make the same calls in order."""

    def __init__(self, domain: bytes) -> None:
        self._state = bytes(32)
        self.absorb_bytes(b"domain", domain)

    @property
    def state(self) -> bytes:
        """The current 32-byte state (for tests and debugging transcript divergence)."""
        return self._state

    def absorb_bytes(self, label: bytes | str, data: bytes) -> None:
        """Absorb raw bytes under a label."""
        lab = _label(label)
        h = hashlib.sha256(self._state)
        h.update(_u32(len(lab)))
        h.update(lab)
        h.update(_u32(len(data)))
        h.update(data)
        self._state = h.digest()

    def absorb_base(self, label: bytes | str, arr: U64 | int) -> None:
        """Absorb base elements (a vector or one scalar) in their canonical u32 LE encoding."""
        self.absorb_bytes(label, encode_base(np.atleast_1d(np.asarray(arr, dtype=np.uint64))))

    def absorb_ext(self, label: bytes | str, e: U64) -> None:
        """Absorb ext elements (scalar (4,) or vector (4, n)), 4 x u32 LE per element."""
        self.absorb_bytes(label, encode_ext(e))

    def _words(self, label: bytes | str) -> Iterator[int]:
        """Absorb the label, then yield the squeeze stream as u32 words."""
        self.absorb_bytes(label, b"")
        seed = self._state
        counter = 0
        while True:
            block = hashlib.sha256(seed + _u32(counter)).digest()
            counter += 1
            yield from struct.unpack("<8I", block)

    def _field_words(self, label: bytes | str, count: int) -> list[int]:
        out: list[int] = []
        for w in self._words(label):
            if len(out) == count:
                break
            w &= _MASK31
            if w < P:  # rejection keeps the result uniform in F
                out.append(w)
        return out

    def challenge_ext(self, label: bytes | str) -> U64:
        """One uniformly random ext scalar (4,)."""
        return np.array(self._field_words(label, 4), dtype=np.uint64)

    def challenge_exts(self, label: bytes | str, n: int) -> list[U64]:
        """n ext scalars from one squeeze."""
        words = self._field_words(label, 4 * n)
        return [np.array(words[4 * i : 4 * i + 4], dtype=np.uint64) for i in range(n)]

    def challenge_base(self, label: bytes | str) -> int:
        """One uniformly random base element."""
        return self._field_words(label, 1)[0]

    def challenge_indices(self, label: bytes | str, n: int, bound: int) -> list[int]:
        """n independent uniform indices in [0, bound) (with repetition), 1 <= bound <= 2^32."""
        if not 1 <= bound <= 1 << 32:
            raise ValueError(f"index bound {bound} outside 1..2^32")
        mask = (1 << max(bound - 1, 1).bit_length()) - 1
        out: list[int] = []
        for w in self._words(label):
            if len(out) == n:
                break
            w &= mask
            if w < bound:
                out.append(w)
        return out

    def challenge_index(self, label: bytes | str, bound: int) -> int:
        """One uniform index in [0, bound)."""
        return self.challenge_indices(label, 1, bound)[0]
