"""Linear-space prover for the fraction-sum (logUp-GKR) protocol of ``prover.sumcheck.gkr``.

``prove_fraction_sum(num, den, transcript, label)`` builds every layer bottom-up (node i of a
layer of 2^j nodes has children i and i + 2^j one layer below), then proves top-down: layer 0
sends the two children of the root, each later layer j runs a j-round degree-3 sumcheck with
the split-eq (Gruen) prover below and sends the children's values at its point. Memory: the
layers above the leaves together hold as many entries as the leaves.
"""

from __future__ import annotations

from prover.backends.dense.sumcheck import SplitEq
from prover.field import U64, eadd, edot, efold, efold_base, emul, emul_base, esub, ext_from_base, ext_scalar, sub
from prover.mle import Point
from prover.sumcheck.gkr import GKRLayerProof, GKRProof, GKRResult, line
from prover.sumcheck.protocol import SumcheckProof, prove
from prover.transcript import Transcript

Num = U64 | None  # None: every numerator is 1


def _num_vars(n: int) -> int:
    k = n.bit_length() - 1
    if n != 1 << k or k < 1:
        raise ValueError(f"fraction sum needs 2^k >= 2 leaves, got {n}")
    return k


def _parent(num: Num, den: U64) -> tuple[U64, U64]:
    """One layer up: children i and i + half of each parent i."""
    half = den.shape[1] // 2
    dl, dh = den[:, :half], den[:, half:]
    d = emul(dl, dh)
    if num is None:
        n = eadd(dl, dh)
    elif num.ndim == 1:
        n = eadd(emul_base(dh, num[:half]), emul_base(dl, num[half:]))
    else:
        n = eadd(emul(num[:, :half], dh), emul(num[:, half:], dl))
    return n, d


def _entry(num: Num, i: int) -> U64:
    if num is None:
        return ext_scalar(1)
    return ext_from_base(num[i]) if num.ndim == 1 else num[:, i].copy()


def _lab(label: bytes | str, suffix: bytes) -> bytes:
    return (label.encode() if isinstance(label, str) else label) + suffix


class _LayerProver:
    """Round prover for sum_x eq(rho, x) [Nl Dh + Nh Dl + lam Dl Dh](x) over j variables.

    The children's tables are kept stacked, (4, 2, m) for D (row 0 = Dl, row 1 = Dh) and
    (2, m) base or (4, 2, m) ext for N, so each step is one numpy call for both halves. In
    round 0 the summand at X = 0 is the parent layer itself (N_j + lam D_j on even x), so only
    the X^2 coefficient needs products; the slopes odd - even are reused for binding.
    """

    def __init__(self, num: Num, den: U64, parent_num: U64, parent_den: U64, rho: Point, lam: U64, claim: U64) -> None:
        m = den.shape[1] // 2
        self._d = den.reshape(4, 2, m)
        self._n: Num = None if num is None else num.reshape(num.shape[:-1] + (2, m))
        self._parent: tuple[U64, U64] | None = (parent_num, parent_den)
        self._lam = lam
        self._eq = SplitEq(rho, claim)
        self._k = len(rho)
        self._slopes: tuple[U64, Num] | None = None

    @property
    def num_rounds(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return 3

    def _weighted(self, eq: U64, n: Num, d: U64) -> U64:
        """sum_x eq(x) [Nl Dh + Nh Dl + lam Dl Dh](x) for stacked n, d (also on slopes for X = inf).

        lam is applied once to the eq-weighted sum of Dl Dh rather than to every entry.
        """
        dl, dh = d[:, 0], d[:, 1]
        quad = emul(edot(eq, emul(dl, dh)), self._lam)
        if n is None:  # numerators 1; their slopes are 0, so the caller passes None only at X = 0
            return eadd(edot(eq, eadd(dl, dh)), quad)
        if n.ndim == 2:
            cross = eadd(emul_base(dh, n[0]), emul_base(dl, n[1]))
        else:
            cross = eadd(emul(n[:, 0], dh), emul(n[:, 1], dl))
        return eadd(edot(eq, cross), quad)

    def round_evals(self) -> list[U64]:
        eq = self._eq.table()
        d, n = self._d, self._n
        d_even, d_odd = d[..., 0::2], d[..., 1::2]
        d_slope = esub(d_odd, d_even)
        n_slope: Num = None
        if n is not None:
            n_even, n_odd = n[..., 0::2], n[..., 1::2]
            n_slope = sub(n_odd, n_even) if n.ndim == 2 else esub(n_odd, n_even)
        self._slopes = (d_slope, n_slope)
        if self._parent is not None:
            pn, pd = self._parent
            q0 = eadd(edot(eq, pn[:, 0::2]), emul(edot(eq, pd[:, 0::2]), self._lam))
        else:
            q0 = self._weighted(eq, None if n is None else n[..., 0::2], d_even)
        if n_slope is None:
            q_inf = emul(edot(eq, emul(d_slope[:, 0], d_slope[:, 1])), self._lam)
        else:
            q_inf = self._weighted(eq, n_slope, d_slope)
        return self._eq.round_evals(q0, q_inf)

    def bind(self, r: U64) -> None:
        if self._slopes is None:
            raise ValueError("bind before round_evals")
        d_slope, n_slope = self._slopes
        self._eq.bind(r)
        self._d = efold(self._d[..., 0::2], d_slope, r)
        n = self._n
        if n is not None and n_slope is not None:
            if n.ndim == 2:
                self._n = efold_base(n[..., 0::2], n_slope, r)
            else:
                self._n = efold(n[..., 0::2], n_slope, r)
        self._parent = None
        self._slopes = None

    def final_values(self) -> list[U64]:
        """Nl(s), Nh(s), Dl(s), Dh(s) once all rounds are bound."""
        n = self._n
        one = ext_scalar(1)
        nl = one if n is None else n[:, 0, 0].copy()
        nh = one if n is None else n[:, 1, 0].copy()
        return [nl, nh, self._d[:, 0, 0].copy(), self._d[:, 1, 0].copy()]


def prove_fraction_sum(num: Num, den: U64, transcript: Transcript, label: bytes | str) -> tuple[GKRProof, GKRResult]:
    """Prove sum_i num[i] / den[i] over 2^k leaves (num: base (n,), ext (4, n) or None = ones).

    Returns the proof and the same ``GKRResult`` the verifier will derive (root fraction, leaf
    point, leaf claims), so the caller can continue its transcript without re-verifying.
    """
    k = _num_vars(den.shape[1])
    if num is not None and num.shape[-1] != den.shape[1]:
        raise ValueError(f"numerator has {num.shape[-1]} leaves, denominator {den.shape[1]}")
    nums: list[Num] = [None] * (k + 1)
    dens: list[U64] = [den] * (k + 1)
    nums[k] = num
    for j in range(k - 1, 0, -1):
        nums[j], dens[j] = _parent(nums[j + 1], dens[j + 1])

    layers: list[GKRLayerProof] = []
    point: list[U64] = []
    s: list[U64] = []
    num_claim = den_claim = root_num = root_den = ext_scalar(0)
    for j in range(k):
        if j == 0:
            vals = [_entry(nums[1], 0), _entry(nums[1], 1), dens[1][:, 0].copy(), dens[1][:, 1].copy()]
            root_num = eadd(emul(vals[0], vals[3]), emul(vals[1], vals[2]))
            root_den = emul(vals[2], vals[3])
            sc, s = SumcheckProof([]), []  # the root's children are sent as they are
        else:
            lam = transcript.challenge_ext(_lab(label, b"/lambda"))
            claim = eadd(num_claim, emul(lam, den_claim))
            parent_num = nums[j]
            if parent_num is None:  # only the leaves may have implicit numerators
                raise ValueError("internal: parent layer without numerators")
            prover = _LayerProver(nums[j + 1], dens[j + 1], parent_num, dens[j], point, lam, claim)
            sc, s = prove(prover, transcript, _lab(label, b"/layer"))
            vals = prover.final_values()
        layer = GKRLayerProof(sc, *vals)
        layers.append(layer)
        transcript.absorb_ext(_lab(label, b"/values"), layer.values())
        mu = transcript.challenge_ext(_lab(label, b"/mu"))
        point = list(s) + [mu]
        num_claim = line(vals[0], vals[1], mu)
        den_claim = line(vals[2], vals[3], mu)
        nums[j], dens[j] = None, den[:, :0]  # release the parent layer once proven
    return GKRProof(layers), GKRResult(root_num, root_den, point, num_claim, den_claim)
