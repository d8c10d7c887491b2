"""Fraction-sum (logUp-GKR) protocol: proof format and verifier.

Proves the value of sum_{i < 2^k} n(i) / d(i) as a fraction (root_num, root_den), reducing it to
one claim on the leaves (n(point), d(point)) that the caller checks against its own formulas.

Layers. Layer k holds the 2^k leaves (N_k, D_k) = (n, d). Layer j (2^j nodes) is built from
layer j+1 by pairing node i with node i + 2^j (the TOP bit of the child index is the sibling
bit, so both halves are contiguous):
    N_j(i) = N_{j+1}(i) D_{j+1}(i + 2^j) + N_{j+1}(i + 2^j) D_{j+1}(i)
    D_j(i) = D_{j+1}(i) D_{j+1}(i + 2^j)
and layer 0 is the root fraction.

Proof, layer by layer, j = 0 .. k-1 (``GKRLayerProof``):
- j = 0: no sumcheck; the four values of layer 1 (n_lo, n_hi, d_lo, d_hi) = (N_1(0), N_1(1),
  D_1(0), D_1(1)). The verifier computes the root from them.
- j >= 1: with rho the current j-variable point and lambda <- transcript, a j-round degree-3
  sumcheck of N_j(rho) + lambda D_j(rho) = sum_{x in {0,1}^j} eq(rho, x) [Nl Dh + Nh Dl + lambda Dl Dh](x),
  Nl(x) = N_{j+1}(x), Nh(x) = N_{j+1}(x + 2^j) (same for D); then the four values
  Nl(s), Nh(s), Dl(s), Dh(s) at the sumcheck point s, checked against the final claim.
- After each layer: absorb the four values, mu <- transcript, and the next point is
  rho' = s ++ [mu] (mu on the new top bit), with claims N_{j+1}(rho') = Nl(s) + mu (Nh(s) - Nl(s)),
  likewise for D. After layer k-1, rho' is the leaf point (little-endian over leaf index bits).

Transcript labels (``label`` + suffix): ``/lambda``, ``/layer`` (sumcheck rounds, via
``protocol``), ``/values`` (the four values, one ext vector (4, 4)), ``/mu``.

Encoding: for j = 0 .. k-1: the sumcheck (j rounds x 4 evaluations) then the four values; all ext
elements (16 bytes). The size is fixed by k; ``decode`` rejects anything else.
Soundness needs d(i) != 0 and root_den != 0 for the sum to mean anything; the caller checks the
root fraction (e.g. that several roots sum to zero) and the leaf claims.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prover.field import U64, decode_ext, eadd, emul, encode_ext, eq_scalar, esub, ext_to_ints
from prover.mle import eq_eval
from prover.sumcheck.protocol import EXT_BYTES, SumcheckError, SumcheckProof, verify
from prover.transcript import Transcript

GKR_DEGREE = 3


class GKRError(Exception):
    """A fraction-sum proof failed; ``round`` is None for a layer's final (leaf-values) check."""

    def __init__(self, layer: int, round: int | None, expected: object, actual: object) -> None:
        self.layer = layer
        self.round = round
        self.expected = expected
        self.actual = actual
        where = "final check" if round is None else f"round {round}"
        super().__init__(f"GKR layer {layer}, {where}: expected {_show(expected)}, got {_show(actual)}")


def _show(x: object) -> object:
    if isinstance(x, np.ndarray) and x.shape == (4,):
        return ext_to_ints(x)
    return x


@dataclass(frozen=True)
class GKRLayerProof:
    """Layer j: a j-round degree-3 sumcheck and the children's values at its point."""

    sumcheck: SumcheckProof
    num_lo: U64
    num_hi: U64
    den_lo: U64
    den_hi: U64

    def values(self) -> U64:
        """The four values as one ext vector (4, 4), in encoding order."""
        return np.stack([self.num_lo, self.num_hi, self.den_lo, self.den_hi], axis=1)


@dataclass(frozen=True)
class GKRProof:
    layers: list[GKRLayerProof]

    def encode(self) -> bytes:
        return b"".join(layer.sumcheck.encode() + encode_ext(layer.values()) for layer in self.layers)

    @staticmethod
    def byte_len(num_vars: int) -> int:
        return sum(SumcheckProof.byte_len(j, GKR_DEGREE) + 4 * EXT_BYTES for j in range(num_vars))

    @classmethod
    def decode(cls, buf: bytes, num_vars: int) -> GKRProof:
        """Parse a proof for 2^num_vars leaves; ValueError on wrong length or non-canonical values."""
        if len(buf) != cls.byte_len(num_vars):
            raise ValueError(f"GKR proof for {num_vars} variables must be {cls.byte_len(num_vars)} bytes, got {len(buf)}")
        layers = []
        pos = 0
        for j in range(num_vars):
            sc_len = SumcheckProof.byte_len(j, GKR_DEGREE)
            sc = SumcheckProof.decode(buf[pos : pos + sc_len], j, GKR_DEGREE)
            pos += sc_len
            vals = decode_ext(buf[pos : pos + 4 * EXT_BYTES], 4)
            pos += 4 * EXT_BYTES
            cols = [np.ascontiguousarray(vals[:, i]) for i in range(4)]
            layers.append(GKRLayerProof(sc, *cols))
        return cls(layers)


@dataclass(frozen=True)
class GKRResult:
    """The root fraction and the reduced leaf claim: n(point) = leaf_num, d(point) = leaf_den."""

    root_num: U64
    root_den: U64
    point: list[U64]
    leaf_num: U64
    leaf_den: U64


def _lab(label: bytes | str, suffix: bytes) -> bytes:
    return (label.encode() if isinstance(label, str) else label) + suffix


def layer_combination(nl: U64, nh: U64, dl: U64, dh: U64, lam: U64) -> U64:
    """Nl Dh + Nh Dl + lambda Dl Dh: the summand of a layer's sumcheck (without eq)."""
    return eadd(eadd(emul(nl, dh), emul(nh, dl)), emul(lam, emul(dl, dh)))


def line(lo: U64, hi: U64, mu: U64) -> U64:
    """lo + mu (hi - lo): a multilinear claim extended along its new top variable."""
    return eadd(lo, emul(mu, esub(hi, lo)))


def verify_fraction_sum(proof: GKRProof, num_vars: int, transcript: Transcript, label: bytes | str) -> GKRResult:
    """Replay the layers; returns the root fraction and the leaf claim, or raises GKRError."""
    if num_vars < 1:
        raise ValueError(f"fraction sum needs at least 2 leaves, got num_vars = {num_vars}")
    if len(proof.layers) != num_vars:
        raise GKRError(len(proof.layers), None, num_vars, len(proof.layers))
    point: list[U64] = []
    root_num = root_den = num_claim = den_claim = np.zeros(4, dtype=np.uint64)
    for j, layer in enumerate(proof.layers):
        if j == 0:
            if layer.sumcheck.rounds:
                raise GKRError(0, 0, 0, len(layer.sumcheck.rounds))
            root_num = eadd(emul(layer.num_lo, layer.den_hi), emul(layer.num_hi, layer.den_lo))
            root_den = emul(layer.den_lo, layer.den_hi)
            s: list[U64] = []
        else:
            lam = transcript.challenge_ext(_lab(label, b"/lambda"))
            claim = eadd(num_claim, emul(lam, den_claim))
            try:
                final, s = verify(layer.sumcheck, claim, j, GKR_DEGREE, transcript, _lab(label, b"/layer"))
            except SumcheckError as err:
                raise GKRError(j, err.round, err.expected, err.actual) from err
            actual = emul(eq_eval(point, s), layer_combination(layer.num_lo, layer.num_hi, layer.den_lo, layer.den_hi, lam))
            if not eq_scalar(actual, final):
                raise GKRError(j, None, final, actual)
        transcript.absorb_ext(_lab(label, b"/values"), layer.values())
        mu = transcript.challenge_ext(_lab(label, b"/mu"))
        point = list(s) + [mu]
        num_claim = line(layer.num_lo, layer.num_hi, mu)
        den_claim = line(layer.den_lo, layer.den_hi, mu)
    return GKRResult(root_num, root_den, point, num_claim, den_claim)
