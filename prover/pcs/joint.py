"""Joint opening of several Ligero batches at one point, with a committed combined row (v3).

Why: a single-batch opening (``ligero.open``) sends the combined row u in the clear, 16 C bytes
(512 KB at 2^20, C = 2^15). Here u is itself committed as a small Ligero batch (its 4 base
components, k' = log C, m' = 4) and the checks a v2 verifier made on u in the clear become one
degree-2 sumcheck over u, closed by an ordinary opening of the u batch at the sumcheck's point:
one level of Ligerito (Novakovic-Angeris, ePrint 2025/1187). At 2^20 with the 64-column trace
batch and the 36-column helper batch that replaces ~0.5 MB of row by ~80 KB of u-commitment and
u-opening.

Protocol (prover and verifier replay the same transcript; every batch's commitment was absorbed
before any challenge the point depends on):
1. all batches share k, log C (so R, n = 2^b C) and the code rate, else PCSError("shape").
   Batch b holds m_b polys; global poly id g = offset_b + j (offsets = running sum of the m_b in
   the given order), padded virtually to M = 2^ceil(log2 sum m_b) (zero polys).
   Absorb "pcs.joint.claim" = u32 k | u32 count | u32 m_b per batch | z (ext) | all values (ext,
   batch by batch); beta <- "pcs.beta" (log M ext).
2. u = sum_b sum_{i,j} eq((beta, z_row), i M + offset_b + j) row_{b,i,j}  (C ext; each batch's
   ``combined_row`` with its slice of the global coefficients).
3. commit u as 4 base polys (component k of u is poly k; ``LigeroParams.for_shape(log C, 4)``) and
   absorb that commitment (``absorb_commitment``).
4. grind (``ligero.grind``, "pcs.grind"), t queries <- "pcs.queries" over [0, n) (sorted,
   repeats dropped: Q distinct positions p_q); per batch the prover sends the Q opened columns
   (Q x m_b R) and one Merkle multiproof.
5. both sides form y_q = sum_b <coeffs_b, column_b[p_q]> (ext) and absorb y ("pcs.joint.y");
   gamma <- "pcs.gamma".
6. the claims   Enc(u)[p_q] = sum_c u_c x_q^c = y_q  (x_q = w_n^bitrev_n(p_q), the code's
   evaluation point of position p_q; x^c = prod_i (x^(2^i))^(c_i))   and
   V := sum_g eq(beta, g) v_g = <u, eq(z_col)>   are batched with powers of gamma into
     sum_c u(c) W(c) = sum_q gamma^q y_q + gamma^Q V,
     W = sum_q gamma^q (1, x_q) (x) (1, x_q^2) (x) ... (x) (1, x_q^(C/2)) + gamma^Q eq(z_col, .),
   proven by one sumcheck ("pcs.joint.sc", degree 2, log C rounds) -> point s'.
7. the prover sends u^(k)(s') for k = 0..3 (ext); the verifier checks the final claim against
   (sum_k X^k u^(k)(s')) * W(s'), with W(s') = sum_q gamma^q prod_i (1 - s'_i + s'_i x_q^(2^i))
   + gamma^Q eq(z_col, s') in O(Q log C).
8. the u batch is opened at s' to those 4 values with ``ligero.open`` (grinding included).

Soundness (``JointParams`` docstring): the outer Ligero terms over the virtual M R x n matrix
(eps_prox, eps_batch, the query term with grinding), Q/|E| for the gamma batching, 2 log C/|E|
for the sumcheck, plus the u opening's own error; ``joint_params`` raises the outer query count
until their sum is <= 2^-lambda.

Sizes (random field polys, m = 64 + 36, encoded ``JointOpeningProof``; t = 103 outer queries,
u batch C' = 2^10..2^11 with 109 queries; measured 2026-12-07): k = 16: 434,900 B; k = 18:
783,844 B; k = 20: 1,470,228 B, of which the u commitment and opening are 83 KB (the clear row
alone would be 512 KB). ``JointParams.expected_proof_bytes`` predicts them within 0.1 %.
Prover cost beyond what separate openings do: committing u (4 rows of C), W (Q C base products,
vectorised), a log C-round sumcheck over two (4, C) tables, the u opening, and one more grind
(~2^16 hashes, ~35 ms).

Public names: ``JointParams``, ``joint_params``, ``JointOpeningProof``, ``open_joint``,
``verify_joint``, ``combined_coeffs``.
Where it sits: imports ``prover.field``, ``prover.mle``, ``prover.transcript``,
``prover.sumcheck.protocol`` (its generic ``prove``/``verify``; the product prover is the small
``_ProductProver`` below, so no backend is imported) and ``ligero`` / ``merkle``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Sequence

import numpy as np

from prover import field
from prover.field import U64
from prover.mle import eq_eval, eq_table
from prover.pcs import ligero, merkle
from prover.pcs.ligero import (
    _LOG2_EXT,
    _MAX_EXTRA_QUERIES,
    _PACK_NONCE,
    DIGEST_LEN,
    Commitment,
    LigeroParams,
    OpeningProof,
    PCSError,
    _check_point,
    _check_values,
    _Reader,
)
from prover.sumcheck import protocol as sc
from prover.transcript import Transcript

_SC_LABEL = "pcs.joint.sc"
_SC_DEGREE = 2
_U_POLYS = 4  # u's ext components, committed as 4 base polys


# ----------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class JointParams:
    """The parameters of a joint opening: ``outer`` over all batches, ``inner`` for the u batch.

    ``outer`` is a LigeroParams with m = sum m_b (so log_m = log M, M = 2^ceil(log2 sum m_b)),
    the batches' shared k, log C, rate and grinding, and its own query count t; ``inner`` is
    ``for_shape(log C, 4)``. Soundness error (round by round, unique decoding only):
      eps = eps_prox(l = log M + log R, n) + eps_batch(log M)     the outer proximity and
            + 2^-g ((1 + rho) / 2)^t                               evaluation terms, as in
                                                                   ``LigeroParams`` (with grinding)
            + t / |E|            gamma batching of the Q <= t + 1 claims: a nonzero polynomial
                                 of degree <= Q in gamma vanishes w.p. <= Q / |E| (we charge
                                 (t + 1) / |E|)
            + 2 log C / |E|      the degree-2 sumcheck (Schwartz-Zippel per round)
            + eps_inner          the u batch's opening (its own LigeroParams error)
    Why the outer terms still hold with u committed: the (far) case of ``LigeroParams`` gives,
    except w.p. eps_prox, a combined word r^T M that is > e from the code; whatever message u*
    the u commitment uniquely decodes to (its own error covers the case it is far from its
    code), Enc(u*) is a codeword, so it disagrees with the combined column on > e positions and a
    uniform query lands on one w.p. > e / n. At such a query Enc(u*)[p_q] != y_q, so the batched
    sumcheck claim is false except w.p. Q/|E| (gamma), then the sumcheck accepts a false claim
    w.p. <= 2 log C/|E|, after which the claim on u*(s') is false and the u opening accepts it
    w.p. <= eps_inner. The (close) case is v2's with the same substitutions. ``joint_params``
    raises t from t0 until the sum is <= 2^-lambda.
    """

    outer: LigeroParams
    inner: LigeroParams
    batch_sizes: tuple[int, ...]

    @property
    def log_cols(self) -> int:
        return self.outer.log_cols

    @property
    def num_queries(self) -> int:
        return self.outer.num_queries

    @property
    def offsets(self) -> tuple[int, ...]:
        out, acc = [], 0
        for m in self.batch_sizes:
            out.append(acc)
            acc += m
        return tuple(out)

    @property
    def meets_target(self) -> bool:
        """Whether the whole joint opening's error is <= 2^-security_bits (see ``joint_params``)."""
        return self.soundness_error_log2() <= -self.outer.security_bits

    def extra_error(self) -> float:
        """(t + 1) / |E| + 2 log C / |E|: the gamma batching and the sumcheck."""
        return float((self.outer.num_queries + 1 + _SC_DEGREE * self.log_cols) * 2.0**-_LOG2_EXT)

    def soundness_error_log2(self) -> float:
        return math.log2(
            2.0 ** self.outer.soundness_error_log2()
            + self.extra_error()
            + 2.0 ** self.inner.soundness_error_log2()
        )

    def expected_proof_bytes(self) -> int:
        """Expected ``JointOpeningProof`` size: like ``LigeroParams.expected_proof_bytes``."""
        o = self.outer
        distinct, nodes = o.expected_openings()
        batches = sum(12 + 4 * m * o.num_rows * distinct + DIGEST_LEN * nodes for m in self.batch_sizes)
        head = DIGEST_LEN + 8 + 4
        tail = 4 + 16 * (_SC_DEGREE + 1) * self.log_cols + 16 * _U_POLYS + 4
        return int(round(head + batches + tail + self.inner.expected_proof_bytes()))


# The u batch is opened at lambda + 5 bits, so that its error (<= 2^-105) takes ~2 % of the
# 2^-100 budget and the outer query count stays at its single-batch value where it can: at k = 20,
# 64 + 36 polys, 7 more u-batch queries (~3 KB) instead of 2 more outer ones (~27 KB).
_INNER_MARGIN_BITS = 5
# When the non-query terms alone exceed 2^-lambda (k = 21 with M = 128: eps_prox ~ 2^-100.04),
# t is raised until the query term is this many bits below the target (then it no longer matters).
_FLOOR_MARGIN_BITS = 8


def joint_params(batches: Sequence[LigeroParams]) -> JointParams:
    """The joint parameters of these batches (same k, log C, rate, grinding, security target).

    t is the least t >= t0 with ``soundness_error_log2() <= -lambda``. If no t reaches it (the
    non-query floor is above 2^-lambda: only at k = 21 with M >= 128 under our eps_prox), t is the
    least one whose query term is 2^-(lambda + 8) and ``meets_target`` is False; the achieved
    error is ``soundness_error_log2()`` (-99.96 at k = 21, 64 + 36 polys).
    """
    if not batches:
        raise PCSError("shape", "a joint opening needs at least one batch")
    p0 = batches[0]
    for p in batches[1:]:
        if (p.k, p.log_cols, p.log_blowup, p.grind_bits, p.security_bits) != (
            p0.k, p0.log_cols, p0.log_blowup, p0.grind_bits, p0.security_bits
        ):
            raise PCSError(
                "shape",
                f"batches disagree: k={p.k}, log C={p.log_cols}, b={p.log_blowup}, g={p.grind_bits} "
                f"vs k={p0.k}, log C={p0.log_cols}, b={p0.log_blowup}, g={p0.grind_bits}",
            )
    sizes = tuple(p.m for p in batches)
    total = sum(sizes)
    if total > ligero._MAX_M:
        raise PCSError("shape", f"{total} polys in one joint opening")
    lam = p0.security_bits
    try:
        inner = LigeroParams.for_shape(
            p0.log_cols, _U_POLYS, lam + _INNER_MARGIN_BITS, p0.log_blowup, p0.grind_bits
        )
    except ValueError as exc:
        raise PCSError("shape", f"u batch: {exc}") from None
    t0 = LigeroParams.queries_for(lam, p0.log_blowup, p0.grind_bits)

    def make(t: int) -> JointParams:
        outer = LigeroParams(p0.k, total, p0.log_cols, t, p0.log_blowup, lam, p0.grind_bits)
        return JointParams(outer, inner, sizes)

    for t in range(t0, t0 + _MAX_EXTRA_QUERIES + 1):
        cand = make(t)
        if cand.soundness_error_log2() <= -lam:
            return cand
    t = LigeroParams.queries_for(lam + _FLOOR_MARGIN_BITS - 1, p0.log_blowup, p0.grind_bits)
    return make(t)


def combined_coeffs(jp: JointParams, z: Sequence[U64], beta: Sequence[U64]) -> list[U64]:
    """Per batch, eq((beta, z_row), i M + offset_b + j) for its stored rows i m_b + j: (4, m_b R).

    The global virtual index i M + g has low bits g (the global poly id) and high bits i (row).
    """
    o = jp.outer
    full = eq_table(list(beta) + list(z[o.log_cols :])).reshape(4, o.num_rows, o.padded_m)
    out = []
    for off, m in zip(jp.offsets, jp.batch_sizes):
        out.append(np.ascontiguousarray(full[:, :, off : off + m]).reshape(4, m * o.num_rows))
    return out


# -------------------------------------------------------------------------------------- proof


@dataclass
class JointOpeningProof:
    """What a joint opening sends.

    u_root: the u batch's Merkle root; nonce: the outer grinding nonce; columns[b] (Q, m_b R) and
    nodes[b]: batch b's opened columns and multiproof; sumcheck: log C rounds of 3 ext;
    u_values (4, 4) ext: column k = u^(k)(s'); u_opening: the u batch's ``OpeningProof``.

    Encoding: root (32) | u64 nonce | u32 B | B x (u32 Q | u32 m_b R | Q m_b R base | u32 N |
    N digests) | u32 rounds | rounds x 3 ext | 4 ext | u32 L | L bytes of u_opening.
    """

    u_root: bytes
    nonce: int
    columns: list[U64]
    nodes: list[list[bytes]]
    sumcheck: sc.SumcheckProof
    u_values: U64
    u_opening: OpeningProof = dc_field(repr=False)

    def encode(self) -> bytes:
        parts = [bytes(self.u_root), _PACK_NONCE(self.nonce), struct.pack("<I", len(self.columns))]
        for cols, nodes in zip(self.columns, self.nodes, strict=True):
            q, w = cols.shape
            parts += [struct.pack("<II", q, w), field.encode_base(cols.reshape(-1))]
            parts.append(struct.pack("<I", len(nodes)))
            parts.extend(nodes)
        parts += [struct.pack("<I", len(self.sumcheck.rounds)), self.sumcheck.encode()]
        parts.append(field.encode_ext(self.u_values))
        inner = self.u_opening.encode()
        parts += [struct.pack("<I", len(inner)), inner]
        return b"".join(parts)

    @classmethod
    def decode(cls, buf: bytes) -> JointOpeningProof:
        r = _Reader(buf)
        root = r.raw(DIGEST_LEN)
        nonce = r.u64()
        count = r.count(r.u32(), 12)  # each batch has at least its three u32
        columns, nodes = [], []
        for _ in range(count):
            q, w = r.u32(), r.u32()
            columns.append(r.base(r.count(q * w, 4)).reshape(q, w))
            n = r.u32()
            nodes.append([r.raw(DIGEST_LEN) for _ in range(r.count(n, DIGEST_LEN))])
        rounds = r.u32()
        flat = r.ext(r.count(rounds * (_SC_DEGREE + 1), 16))
        sumcheck = sc.SumcheckProof(
            [[np.ascontiguousarray(flat[:, i * 3 + j]) for j in range(3)] for i in range(rounds)]
        )
        u_values = r.ext(_U_POLYS)
        inner_len = r.u32()
        inner = OpeningProof.decode(r.raw(r.count(inner_len, 1)))
        r.end()
        return cls(root, nonce, columns, nodes, sumcheck, u_values, inner)


# ------------------------------------------------------------------------------ the sumcheck


class _ProductProver:
    """sum_c a(c) b(c) for two ext tables (4, 2^l), degree 2, low variable bound first."""

    degree = _SC_DEGREE

    def __init__(self, a: U64, b: U64) -> None:
        self.a, self.b = a, b
        self.num_rounds = a.shape[1].bit_length() - 1

    def round_evals(self) -> list[U64]:
        a0, a1 = self.a[:, 0::2], self.a[:, 1::2]
        b0, b1 = self.b[:, 0::2], self.b[:, 1::2]
        a2 = field.esub(field.eadd(a1, a1), a0)  # a(2) = 2 a(1) - a(0)
        b2 = field.esub(field.eadd(b1, b1), b0)
        return [field.edot(a0, b0), field.edot(a1, b1), field.edot(a2, b2)]

    def bind(self, r: U64) -> None:
        for name in ("a", "b"):
            t = getattr(self, name)
            even, odd = t[:, 0::2], t[:, 1::2]
            setattr(self, name, field.efold(even, field.esub(odd, even), r))


def _points(log_n: int, idx: Sequence[int]) -> U64:
    """x_q = w_n^bitrev_n(p_q): the code's evaluation points at the queried positions (base)."""
    w = field.root_of_unity(log_n)
    return np.array(
        [pow(w, int(format(p, f"0{log_n}b")[::-1], 2) if log_n else 0, field.P) for p in idx],
        dtype=np.uint64,
    )


def _gamma_powers(gamma: U64, count: int) -> U64:
    """(4, count): gamma^0 .. gamma^(count - 1)."""
    out = np.zeros((4, count), dtype=np.uint64)
    cur = field.ext_scalar(1)
    for q in range(count):
        out[:, q] = cur
        cur = field.emul(cur, gamma)
    return out


def _build_w(log_cols: int, xs: U64, gpow: U64, eq_cols: U64) -> U64:
    """W (4, C) = sum_q gamma^q (x_q^c)_c + gamma^Q eq(z_col, .): powers by doubling, one lincomb."""
    c, q = 1 << log_cols, xs.shape[0]
    pw = np.empty((q, c), dtype=np.uint64)
    pw[:, 0] = 1
    step = xs.copy()  # x^(2^i)
    h = 1
    while h < c:
        pw[:, h : 2 * h] = field.mul(pw[:, :h], step[:, None])
        step = field.mul(step, step)
        h *= 2
    w = field.lincomb_base(pw, np.ascontiguousarray(gpow[:, :q]))
    return field.eadd(w, field.emul(eq_cols, gpow[:, q]))


def _w_at(point: Sequence[U64], xs: U64, gpow: U64, z_col: Sequence[U64]) -> U64:
    """W(s') = sum_q gamma^q prod_i (1 + s_i (x_q^(2^i) - 1)) + gamma^Q eq(z_col, s')."""
    q = xs.shape[0]
    acc = np.zeros((4, q), dtype=np.uint64)
    acc[0] = 1
    step = xs.copy()
    for s in point:
        term = field.emul_base(np.repeat(s.reshape(4, 1), q, axis=1), field.sub(step, np.uint64(1)))
        term[0] = field.add(term[0], np.uint64(1))
        acc = field.emul(acc, term)
        step = field.mul(step, step)
    tail = field.emul(eq_eval(list(z_col), list(point)), gpow[:, q])
    return field.eadd(field.edot(acc, np.ascontiguousarray(gpow[:, :q])), tail)


def _recombine(u_values: U64) -> U64:
    """u(s') = sum_k X^k u^(k)(s') for component values (4, 4) (column k = u^(k)(s'))."""
    acc = field.ext_scalar(0)
    for k in range(_U_POLYS):
        xk = np.zeros(4, dtype=np.uint64)
        xk[k] = 1
        acc = field.eadd(acc, field.emul(xk, np.ascontiguousarray(u_values[:, k])))
    return acc


# ------------------------------------------------------------------------------- the protocol


def _absorb_joint_claim(transcript: Transcript, jp: JointParams, z: list[U64], values: list[U64]) -> None:
    head = struct.pack(f"<II{len(jp.batch_sizes)}I", jp.outer.k, len(jp.batch_sizes), *jp.batch_sizes)
    pt = field.encode_ext(np.stack(z, axis=1)) if z else b""
    vals = b"".join(field.encode_ext(v) for v in values)
    transcript.absorb_bytes("pcs.joint.claim", head + pt + vals)


def _batched_claim(jp: JointParams, beta: list[U64], values: list[U64], y: U64, gpow: U64) -> U64:
    """sum_q gamma^q y_q + gamma^Q sum_g eq(beta, g) v_g."""
    allv = np.concatenate(values, axis=1)
    v = field.edot(np.ascontiguousarray(eq_table(beta)[:, : allv.shape[1]]), allv)
    q = y.shape[1]
    return field.eadd(field.edot(y, np.ascontiguousarray(gpow[:, :q])), field.emul(v, gpow[:, q]))


def _combined_columns(coeffs: list[U64], cols: list[U64]) -> U64:
    y = None
    for c, col in zip(coeffs, cols):
        part = field.edot_base_many(c, col)
        y = part if y is None else field.eadd(y, part)
    assert y is not None
    return y


def open_joint(
    datas: Sequence[Any],
    point: Sequence[U64],
    values: Sequence[U64 | None] | None,
    transcript: Transcript,
) -> JointOpeningProof:
    """Open every batch in ``datas`` at ``point``; ``values[b]`` (4, m_b) (None: ``evaluate``).

    ``datas`` are ``ProverData`` or stand-ins with ``params``, ``combined_row``,
    ``opened_columns`` and ``merkle_nodes`` (``row_values`` too when a value is None). Their
    commitments must already be in the transcript, in the caller's order.
    """
    jp = joint_params([d.params for d in datas])
    o = jp.outer
    z = _check_point(point, o.k)
    if values is None:
        values = [None] * len(datas)
    if len(values) != len(datas):
        raise PCSError("shape", f"{len(values)} value arrays for {len(datas)} batches")
    vals = [
        ligero.evaluate(d, z) if v is None else _check_values(v, m)
        for d, v, m in zip(datas, values, jp.batch_sizes)
    ]
    _absorb_joint_claim(transcript, jp, z, vals)
    beta = transcript.challenge_exts("pcs.beta", o.log_m)
    coeffs = combined_coeffs(jp, z, beta)
    u = None
    for d, c in zip(datas, coeffs):
        part = d.combined_row(c)
        u = part if u is None else field.eadd(u, part)
    assert u is not None
    u_com, u_data = ligero.commit(u, jp.inner)
    ligero.absorb_commitment(transcript, u_com)
    nonce, idx = ligero._grind_and_query(transcript, o)
    cols = [d.opened_columns(idx) for d in datas]
    nodes = [d.merkle_nodes(idx) for d in datas]
    y = _combined_columns(coeffs, cols)
    transcript.absorb_ext("pcs.joint.y", y)
    gamma = transcript.challenge_ext("pcs.gamma")
    gpow = _gamma_powers(gamma, len(idx) + 1)
    w = _build_w(o.log_cols, _points(o.log_cols + o.log_blowup, idx), gpow, eq_table(z[: o.log_cols]))
    proof, s = sc.prove(_ProductProver(u, w), transcript, _SC_LABEL)
    u_values = ligero.evaluate(u_data, s)
    u_opening = ligero.open(u_data, s, transcript, u_values)
    return JointOpeningProof(u_com.root, nonce, cols, nodes, proof, u_values, u_opening)


def verify_joint(
    commitments: Sequence[Commitment],
    point: Sequence[U64],
    values: Sequence[U64],
    proof: JointOpeningProof,
    transcript: Transcript,
    params: Sequence[LigeroParams] | None = None,
) -> None:
    """Check a joint opening of ``commitments`` at ``point`` to ``values``; raise PCSError if not.

    ``params`` default to ``LigeroParams.for_shape(k, m)`` per commitment, as ``verify``.
    """
    if params is None:
        try:
            params = [LigeroParams.for_shape(c.k, c.m) for c in commitments]
        except ValueError as exc:
            raise PCSError("shape", str(exc)) from None
    if len(params) != len(commitments) or len(values) != len(commitments):
        raise PCSError("shape", f"{len(commitments)} commitments, {len(params)} params, {len(values)} values")
    for c, p in zip(commitments, params):
        if (p.k, p.m) != (c.k, c.m):
            raise PCSError("shape", f"params for k={p.k}, m={p.m} but commitment k={c.k}, m={c.m}")
    jp = joint_params(params)
    o = jp.outer
    z = _check_point(point, o.k)
    vals = [_check_values(v, m) for v, m in zip(values, jp.batch_sizes)]
    if len(proof.columns) != len(commitments) or len(proof.nodes) != len(commitments):
        raise PCSError("shape", f"proof opens {len(proof.columns)} batches, expected {len(commitments)}")
    if len(proof.u_root) != DIGEST_LEN:
        raise PCSError("shape", "u root is not a digest")

    _absorb_joint_claim(transcript, jp, z, vals)
    beta = transcript.challenge_exts("pcs.beta", o.log_m)
    u_com = Commitment(bytes(proof.u_root), jp.inner.k, jp.inner.m)
    ligero.absorb_commitment(transcript, u_com)
    idx = ligero._check_grind_and_query(transcript, o, int(proof.nonce))

    cols = []
    for b, (com, p, col, nodes) in enumerate(zip(commitments, params, proof.columns, proof.nodes)):
        arr = np.asarray(col, dtype=np.uint64)
        if arr.shape != (len(idx), p.total_rows) or (arr.size and int(arr.max()) >= field.P):
            raise PCSError(
                "shape", f"batch {b}: columns of shape {arr.shape}, expected ({len(idx)}, {p.total_rows}) reduced"
            )
        digests = merkle.hash_leaves(np.ascontiguousarray(arr, dtype="<u4"))
        leaf_list = [digests[i * DIGEST_LEN : (i + 1) * DIGEST_LEN] for i in range(len(idx))]
        try:
            merkle.verify_batch(com.root, o.codeword_len, idx, leaf_list, nodes)
        except merkle.MerkleError as exc:
            raise PCSError("merkle", f"batch {b}: {exc}") from None
        cols.append(arr)

    coeffs = combined_coeffs(jp, z, beta)
    y = _combined_columns(coeffs, cols)
    transcript.absorb_ext("pcs.joint.y", y)
    gamma = transcript.challenge_ext("pcs.gamma")
    gpow = _gamma_powers(gamma, len(idx) + 1)
    claim = _batched_claim(jp, beta, vals, y, gpow)
    try:
        final, s = sc.verify(proof.sumcheck, claim, o.log_cols, _SC_DEGREE, transcript, _SC_LABEL)
    except sc.SumcheckError as exc:
        raise PCSError("sumcheck", str(exc)) from None
    u_values = _check_values(proof.u_values, _U_POLYS)
    xs = _points(o.log_cols + o.log_blowup, idx)
    expected = field.emul(_recombine(u_values), _w_at(s, xs, gpow, z[: o.log_cols]))
    if not np.array_equal(expected, final):
        raise PCSError(
            "sumcheck",
            f"final claim {field.ext_to_ints(final)} != u(s') W(s') {field.ext_to_ints(expected)}",
        )
    try:
        ligero.verify(u_com, s, u_values, proof.u_opening, transcript, jp.inner)
    except PCSError as exc:
        raise PCSError(exc.check, f"u opening: {exc.detail}", exc.query) from None
