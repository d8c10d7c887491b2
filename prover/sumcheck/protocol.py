"""The sumcheck protocol: round-message format, prover interface, verifier checks (PROTECTED API).

Proves sum_{x in {0,1}^k} g(x) = claim for a polynomial g of degree <= d in each variable.
Round i sends s_i evaluated at 0, 1, ..., d (d + 1 ext scalars); the verifier checks
s_i(0) + s_i(1) = claim_i, absorbs the message, squeezes r_i and sets claim_{i+1} = s_i(r_i).
Variables are bound bit 0 first (docs/protocol.md, "Conventions"), so the challenges form the
little-endian point r = [r_0, ..., r_{k-1}] at which the caller checks the final claim.

Transcript per round: ``absorb_ext(label + b"/round", s_i(0..d))`` then
``challenge_ext(label + b"/r")``. The caller absorbs the initial claim itself when it is not
already bound by earlier messages.

Encoding: the rounds' evaluations in order, each an ext element (4 x u32 LE); no lengths, since
num_rounds and degree are public. ``decode`` rejects short, long and non-canonical input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from prover.field import (
    U64,
    decode_ext,
    eadd,
    emul,
    emul_base,
    encode_ext,
    eq_scalar,
    esub,
    ext_scalar,
    ext_to_ints,
    inv,
    to_base,
)
from prover.transcript import Transcript

EXT_BYTES = 16


class SumcheckError(Exception):
    """A sumcheck proof failed a check; carries the round and the evidence."""

    def __init__(self, round: int, expected: object, actual: object, what: str = "s(0) + s(1) != claim") -> None:
        self.round = round
        self.expected = expected
        self.actual = actual
        self.what = what
        super().__init__(f"sumcheck round {round}: {what}: expected {_show(expected)}, got {_show(actual)}")


def _show(x: object) -> object:
    if isinstance(x, np.ndarray) and x.shape == (4,):
        return ext_to_ints(x)
    return x


def _label(label: bytes | str, suffix: bytes) -> bytes:
    return (label.encode() if isinstance(label, str) else label) + suffix


@dataclass(frozen=True)
class SumcheckProof:
    """rounds[i] = [s_i(0), ..., s_i(d)], each an ext scalar (4,)."""

    rounds: list[list[U64]]

    def encode(self) -> bytes:
        return b"".join(encode_ext(e) for evals in self.rounds for e in evals)

    @staticmethod
    def byte_len(num_rounds: int, degree: int) -> int:
        """Length of the encoding, for callers slicing a larger buffer."""
        return num_rounds * (degree + 1) * EXT_BYTES

    @classmethod
    def decode(cls, buf: bytes, num_rounds: int, degree: int) -> SumcheckProof:
        """Parse exactly num_rounds x (degree + 1) ext elements; ValueError otherwise."""
        flat = decode_ext(buf, num_rounds * (degree + 1))  # length and canonicity checked there
        rounds = [
            [np.ascontiguousarray(flat[:, i * (degree + 1) + j]) for j in range(degree + 1)]
            for i in range(num_rounds)
        ]
        return cls(rounds)


class RoundProver(Protocol):
    """Anything that yields round polynomials: the prover side of one sumcheck instance."""

    @property
    def num_rounds(self) -> int: ...

    @property
    def degree(self) -> int: ...

    def round_evals(self) -> list[U64]:
        """s_i(0), ..., s_i(d) for the current round, as ext scalars."""
        ...

    def bind(self, r: U64) -> None:
        """Fix the current lowest variable to r and move to the next round."""
        ...


def interpolate_eval(evals: Sequence[U64], r: U64) -> U64:
    """Evaluate at r the polynomial of degree len(evals) - 1 taking evals[i] at i (Lagrange)."""
    d = len(evals) - 1
    diffs = [esub(r, ext_scalar(j)) for j in range(d + 1)]
    prefix = [ext_scalar(1)]
    for x in diffs:
        prefix.append(emul(prefix[-1], x))
    suffix = [ext_scalar(1)]
    for x in reversed(diffs):
        suffix.append(emul(suffix[-1], x))
    suffix.reverse()  # suffix[i] = prod_{j >= i} (r - j)
    # denominators prod_{j != i} (i - j) = (-1)^(d-i) i! (d-i)!
    fact = [1]
    for i in range(1, d + 1):
        fact.append(fact[-1] * i)
    denoms = to_base([(-1) ** (d - i) * fact[i] * fact[d - i] for i in range(d + 1)])
    weights = inv(denoms)
    acc = ext_scalar(0)
    for i in range(d + 1):
        li = emul_base(emul(prefix[i], suffix[i + 1]), weights[i])
        acc = eadd(acc, emul(li, evals[i]))
    return acc


def prove(prover: RoundProver, transcript: Transcript, label: bytes | str) -> tuple[SumcheckProof, list[U64]]:
    """Run all rounds of ``prover`` against the transcript; returns the proof and the point."""
    rounds: list[list[U64]] = []
    challenges: list[U64] = []
    for i in range(prover.num_rounds):
        evals = prover.round_evals()
        if len(evals) != prover.degree + 1:
            raise ValueError(f"round {i}: prover gave {len(evals)} evaluations for degree {prover.degree}")
        transcript.absorb_ext(_label(label, b"/round"), np.stack(evals, axis=1))
        r = transcript.challenge_ext(_label(label, b"/r"))
        prover.bind(r)
        rounds.append(evals)
        challenges.append(r)
    return SumcheckProof(rounds), challenges


def verify(
    proof: SumcheckProof,
    claim: U64,
    num_rounds: int,
    degree: int,
    transcript: Transcript,
    label: bytes | str,
) -> tuple[U64, list[U64]]:
    """Check every round against the running claim; returns (final claim, point).

    The caller must then check the final claim against g at the returned point.
    Raises SumcheckError(round, expected, actual) on the first failing check.
    """
    if len(proof.rounds) != num_rounds:
        raise SumcheckError(len(proof.rounds), num_rounds, len(proof.rounds), "number of rounds")
    challenges: list[U64] = []
    for i, evals in enumerate(proof.rounds):
        if len(evals) != degree + 1:
            raise SumcheckError(i, degree + 1, len(evals), "number of evaluations")
        total = eadd(evals[0], evals[1])
        if not eq_scalar(total, claim):
            raise SumcheckError(i, claim, total)
        transcript.absorb_ext(_label(label, b"/round"), np.stack(evals, axis=1))
        r = transcript.challenge_ext(_label(label, b"/r"))
        claim = interpolate_eval(evals, r)
        challenges.append(r)
    return claim, challenges
