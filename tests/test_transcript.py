"""Transcript: determinism, label binding, and conformance to docs/protocol.md via hashlib."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

from prover import field as F
from prover.transcript import Transcript


def spec_absorb(state: bytes, label: bytes, data: bytes) -> bytes:
    """The contract, written independently: sha256(state || u32 |label| || label || u32 |data| || data)."""
    return hashlib.sha256(state + struct.pack("<I", len(label)) + label + struct.pack("<I", len(data)) + data).digest()


def test_absorb_follows_the_contract() -> None:
    t = Transcript(b"stagegate")
    state = spec_absorb(bytes(32), b"domain", b"stagegate")
    assert t.state == state
    t.absorb_base("cols", np.array([1, F.P - 1], dtype=np.uint64))
    state = spec_absorb(state, b"cols", struct.pack("<II", 1, F.P - 1))
    assert t.state == state


def test_challenge_follows_the_contract() -> None:
    t = Transcript(b"d")
    got = t.challenge_ext("r")
    state = spec_absorb(spec_absorb(bytes(32), b"domain", b"d"), b"r", b"")
    words = []
    counter = 0
    while len(words) < 4:
        block = hashlib.sha256(state + struct.pack("<I", counter)).digest()
        counter += 1
        for w in struct.unpack("<8I", block):
            if len(words) < 4 and (w & 0x7FFFFFFF) < F.P:
                words.append(w & 0x7FFFFFFF)
    assert got.tolist() == words


def test_deterministic_and_label_bound() -> None:
    def run(label: str) -> list[int]:
        t = Transcript(b"x")
        t.absorb_ext("e", F.ext_scalar(1, 2, 3, 4))
        return t.challenge_ext(label).tolist()

    assert run("a") == run("a")
    assert run("a") != run("b")


def test_absorbed_data_changes_challenges() -> None:
    t1, t2 = Transcript(b"x"), Transcript(b"x")
    t1.absorb_bytes("m", b"\x00")
    t2.absorb_bytes("m", b"\x01")
    assert t1.challenge_ext("r").tolist() != t2.challenge_ext("r").tolist()


def test_label_data_boundary_is_unambiguous() -> None:
    # ("ab", "c") and ("a", "bc") must not collide: the lengths are hashed too
    t1, t2 = Transcript(b"x"), Transcript(b"x")
    t1.absorb_bytes("ab", b"c")
    t2.absorb_bytes("a", b"bc")
    assert t1.state != t2.state


def test_successive_challenges_differ() -> None:
    t = Transcript(b"x")
    a, b = t.challenge_ext("r"), t.challenge_ext("r")
    assert a.tolist() != b.tolist()
    many = t.challenge_exts("rs", 3)
    assert len(many) == 3 and all(int(v) < F.P for e in many for v in e)


def test_indices_in_range_and_spread() -> None:
    t = Transcript(b"x")
    idx = t.challenge_indices("q", 2000, 1000)
    assert len(idx) == 2000 and min(idx) >= 0 and max(idx) < 1000
    assert len(set(idx)) > 800  # uniform-ish: 2000 draws hit most of 1000 values
    assert t.challenge_index("one", 1) == 0
    with pytest.raises(ValueError):
        t.challenge_indices("bad", 1, 0)
