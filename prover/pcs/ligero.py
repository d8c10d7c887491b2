"""Batched multilinear Ligero commitment: RS-encoded rows, a SHA-256 Merkle tree over columns.

A batch is m >= 1 polynomials of 2^k evaluations each, read as ONE multilinear table P of
k + log M variables, M = 2^ceil(log2 m) (protocol v3: the batch is padded *virtually* with M - m
zero polys, which are never stored, encoded, hashed or sent): index = j * 2^k + i * C + c (poly j,
row i, column c; the low log C bits are the column). Poly j is an R x C matrix (R * C = 2^k).
The m real matrices are stacked TIME-MAJOR (protocol v2): stacked row i * m + j is row i of
poly j, so row-group i (all m polys' row i, i.e. the C consecutive entries i*C .. i*C + C - 1 of
every poly) comes before row-group i + 1. Each row is Reed-Solomon encoded at rate 2^-b (``ntt.rs_encode``) and leaf q of the Merkle
tree is column q of the encoded matrix across all m * R stacked rows in that order. A prover that
sees the trace in time order therefore completes the leaves row-group by row-group: it can feed
each leaf's SHA-256 one update per row-group and get the digest of the whole column.

Opening at z = (z_col, z_row) (k vars; the same point for every poly), claimed values v_j:
1. both sides absorb (k, m, z, v) under ``pcs.claim`` and squeeze beta (log M ext challenges);
2. the prover sends u = sum_{i,j} eq(z_row, i) eq(beta, j) * row_{i,j}: C ext elements, the
   tensor combination of the stacked message rows (the virtual index i * M + j has low bits j, so
   the stored row i * m + j gets the coefficient eq((beta, z_row), i * M + j));
3. verifier: sum_j eq(beta, j) v_j == <u, eq(z_col)>  (check ``eval``);
4. both absorb u; the prover grinds (v3: the least u64 nonce with ``grind_bits`` leading zero bits
   of sha256(state || "pcs.grind" || nonce), ``grind``), sends it, both absorb it ("pcs.grind";
   the verifier checks it: ``grind``) and squeeze ``num_queries`` column indices (with
   repetition);
5. the prover opens those codeword columns with one batched Merkle proof (check ``merkle``);
   the verifier re-encodes u and checks, per column q, that the same combination of the opened
   column equals Enc(u)[q]  (check ``column``).
The combination (z_row, beta) is both the evaluation and the proximity test (Diamond-Posen,
"Proximity Testing with Logarithmic Randomness", 2023): it is sound because every coordinate is a
transcript challenge drawn after the commitment - beta here, z from the caller's sumchecks. So the
caller MUST absorb the root (``absorb_commitment``) before any challenge that z depends on, and
must only open at such points. The claimed values and z are absorbed here.

Several batches opened at one point with the combined row committed instead of sent: the
sibling module ``joint`` (v3 stage 8).

Public names: ``PCSError``, ``LigeroParams``, ``Commitment``, ``ProverData``, ``CommitBuilder``,
``commit``, ``absorb_commitment``, ``evaluate``, ``OpeningProof``, ``open``, ``verify``,
``stacked_row_coeffs``, ``grind``, ``check_grind``.
Where it sits: imports ``prover.field``, ``prover.mle``, ``prover.transcript`` and its own
``ntt`` / ``merkle``; stage 0 commits, stage 8 opens, the verifier's stage 8 verifies.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field as dc_field
from typing import Sequence

import numpy as np

from prover import field
from prover.field import U64
from prover.mle import eq_table
from prover.pcs import merkle, ntt
from prover.transcript import Transcript

DIGEST_LEN = merkle.DIGEST_LEN
_LOG2_EXT = 4 * math.log2(field.P)  # |E| = P^4 ~ 2^123.6
_MAX_LOG_N = field.TWO_ADICITY  # codeword length n = C * 2^b must fit the 2-adic subgroup


class PCSError(ValueError):
    """An opening (or its encoding) was rejected.

    ``check`` names the failed check: ``shape`` (sizes disagree with the parameters), ``format``
    (undecodable bytes), ``eval`` (<u, eq(z_col)> differs from the batched claims), ``merkle``
    (opened columns do not authenticate against the root), ``column`` (a queried column's
    combination differs from Enc(u) there; ``query`` is the codeword position), ``grind`` (the
    nonce misses the proof of work).
    """

    def __init__(self, check: str, detail: str, query: int | None = None) -> None:
        super().__init__(f"pcs {check} check failed: {detail}")
        self.check = check
        self.detail = detail
        self.query = query


# ------------------------------------------------------------------------------------ parameters


def _is_pow2(x: int) -> bool:
    return x >= 1 and x & (x - 1) == 0


def _ceil_log2(x: int) -> int:
    return max(0, (x - 1).bit_length())


# v2's code rate 2^-3 and shape rule (``LigeroParams`` docstring: why).
DEFAULT_LOG_BLOWUP = 3
_LOG_COLS_ABOVE_SQRT = 2
_MAX_EXTRA_QUERIES = 64
_MAX_M = 1 << 24  # the largest batch a Commitment may name
# v3: proof of work before the query indices are squeezed (``grind``); 16 bits cost the prover
# ~2^16 SHA-256 compressions (~35 ms in CPython) and buy 16 bits of the query term (19 queries).
DEFAULT_GRIND_BITS = 16
_MAX_GRIND_BITS = 32


@dataclass(frozen=True)
class LigeroParams:
    """Shape and soundness parameters of one batch; ``for_shape`` picks them.

    Soundness (interactive, round by round; Fiat-Shamir in the random-oracle model on top).
    Unique decoding only: nothing below uses list decoding or the Johnson-radius gaps.
    Code: RS over F = BabyBear, message length C, block length n = C * 2^b, rate rho = 2^-b,
    distance d = n - C + 1. Proximity parameter e = floor((d - 1) / 2) = (n - C) / 2, the unique
    decoding radius. The batch is read as M = 2^ceil(log2 m) polys (the M - m virtual polys are
    zero rows: codewords both sides know, so they change nothing below but l). The committed
    matrix U (M R rows of length n) is either
      (far)   more than e columns away from every interleaved codeword: then, except with
              probability eps_prox, the tensor combination r^T U is more than e away from the code
              (BCIKS20, ePrint 2020/654, Thm 4.1: the affine-line gap up to unique decoding with
              error <= n/|F|; Diamond-Gruen, "Proximity Gaps in Interleaved Codes", ePrint
              2024/1351, Thm 3.1 / Cor 3.7 lift it to interleaved codes and tensor combinations;
              Diamond-Posen, "Proximity Testing with Logarithmic Randomness", ePrint 2023/630,
              Thm 2 has the same shape). We charge eps_prox <= 2 * l * n / |E|, l = log2(M R) tensor
              variables (each fold at most 2 n / |E|, a generous form of DP23's 2 l e / |E|).
              Enc(u) is then a codeword that differs from the committed combined column in > e
              places, so one uniform query passes with probability < 1 - e / n;
      (close) within e of a unique interleaved codeword V: if u differs from the combination of
              V's messages, Enc(u) differs from it in >= d places, of which >= d - e are honest
              columns, so one query passes with probability <= 1 - (d - e) / n. If u is right,
              the eval check binds the claims: a wrong v_j survives only if a nonzero multilinear
              polynomial in beta of degree log M vanishes, eps_batch <= log2(M) / |E|.
    Both cases give a per-query pass probability of at most 1 - (1 - rho) / 2 = (1 + rho) / 2,
    so with t independent uniform queries (repetition allowed) the interactive error is
        eps_prox + eps_batch + ((1 + rho) / 2)^t.
    (Proximity past unique decoding, e.g. BCIKS20's Johnson-radius gaps, does not lower t for
    Ligero: the close case then only guarantees a pass rate of rho + theta, and
    max(1 - theta, rho + theta) is least at theta = (1 - rho) / 2.) The order of the stacked rows
    (time-major in v2) does not enter: the combination is over the same rows with the same
    weights.

    Grinding (v3, ``grind_bits`` = g, default 16; computational, not statistical). Before the
    queries are squeezed the prover must find a nonce whose sha256(state || "pcs.grind" || nonce)
    has g leading zero bits; the nonce is absorbed, so every fresh attempt at the query phase
    (a new u, new columns, any change before the squeeze) costs a cheating prover 2^g hash
    evaluations in expectation. Against a prover measured in hash evaluations (the
    random-oracle accounting of Fiat-Shamir with proof of work) the query term is therefore
    charged as 2^-g ((1 + rho) / 2)^t per unit of work, and
        eps = eps_prox + eps_batch + 2^-g ((1 + rho) / 2)^t.
    The statistical (round-by-round) query error alone is ((1 + rho) / 2)^t = 2^-85.5 at t = 103;
    the other 16 bits are the work. ``for_shape`` takes
    t0 = ceil((lambda + 1 - g) / log2(2 / (1 + rho))), the least t whose query term is
    <= 2^-(lambda+1), and raises t until eps <= 2^-lambda.

    Joint opening with a committed combined row (``prover.pcs.joint``, one level of Ligerito,
    Novakovic-Angeris, ePrint 2025/1187): the same far/close argument over the virtual M R x n
    matrix of all batches (M = 2^ceil(log2 sum m_b)), with the column checks and the eval check
    batched by gamma into one sumcheck over u; its extra terms are (t + 1)/|E| for the gamma
    batching, 2 log C/|E| for the degree-2 sumcheck, and the u batch's own opening error (4 polys
    of log C variables, opened at lambda + 5 bits). ``joint.JointParams`` sums them.

    v3 defaults: rate 1/8 (b = 3), g = 16: per query log2(16/9) = 0.830 bits, t0 = ceil(85 /
    0.830) = 103 (v2 without grinding: 122). At k = 20, m = 64: C = 2^15, R = 32, n = 2^18,
    l = 6 + 5 = 11, eps_prox <= 2^-101.1, the query term 2^-101.5, eps <= 2^-100.3 with t = 103;
    at k = 21 (n = 2^19) t = 106. The joint 64 + 36 opening (M = 128, l = 12) has t = 103 up to
    k = 20 (eps <= 2^-100.2 at k = 20) and t = 117 at k = 21. (Rate 1/2 needs t0 = 205, rate
    1/4 t0 = 126.)

    Shape (``log_cols_for``): log2 C = min(k, ceil((k + log2 M) / 2) + 2), i.e. C ~ 4 sqrt(M 2^k):
    the combined row (16 C bytes) and the opened columns (4 t m 2^k / C bytes) both grow as
    sqrt(2^k), and so does a streaming prover's state (one encoded row-group, 4 m n bytes, plus n
    leaf hashers). The size optimum is near C ~ sqrt(t m 2^k / 4) ~ 5.5 sqrt(m 2^k); the factor 4
    keeps the proof within 2 % of it at k = 20 and halves the streaming state of the next power.
    m = 36 gets the C and R of m = 64.
    Size: ``expected_proof_bytes``.
    """

    k: int
    m: int
    log_cols: int
    num_queries: int
    log_blowup: int = 3
    security_bits: int = 100
    grind_bits: int = 16

    def __post_init__(self) -> None:
        if self.k < 0 or self.m < 1:
            raise ValueError(f"need k >= 0 and m >= 1, got k={self.k}, m={self.m}")
        if not 0 <= self.log_cols <= self.k:
            raise ValueError(f"log_cols={self.log_cols} outside 0..k={self.k}")
        if self.log_blowup < 1 or self.log_cols + self.log_blowup > _MAX_LOG_N:
            raise ValueError(f"codeword length 2^{self.log_cols + self.log_blowup} unsupported")
        if self.num_queries < 1:
            raise ValueError("num_queries must be >= 1")
        if not 0 <= self.grind_bits <= _MAX_GRIND_BITS:
            raise ValueError(f"grind_bits={self.grind_bits} outside 0..{_MAX_GRIND_BITS}")

    # shape
    @property
    def log_m(self) -> int:
        """ceil(log2 m): the batch is padded virtually to M = 2^log_m polys (zero rows never stored)."""
        return _ceil_log2(self.m)

    @property
    def padded_m(self) -> int:
        """M = 2^ceil(log2 m), the virtual batch size the tensor combination runs over."""
        return 1 << self.log_m

    @property
    def log_rows(self) -> int:
        return self.k - self.log_cols

    @property
    def num_cols(self) -> int:
        """C, the message length of one row."""
        return 1 << self.log_cols

    @property
    def num_rows(self) -> int:
        """R, rows per polynomial."""
        return 1 << self.log_rows

    @property
    def total_rows(self) -> int:
        """m * R, the height of the stacked matrix (= entries per Merkle leaf)."""
        return self.m << self.log_rows

    @property
    def codeword_len(self) -> int:
        """n = C * 2^b, the number of Merkle leaves."""
        return 1 << (self.log_cols + self.log_blowup)

    # soundness
    @staticmethod
    def queries_for(
        security_bits: int, log_blowup: int = DEFAULT_LOG_BLOWUP, grind_bits: int = DEFAULT_GRIND_BITS
    ) -> int:
        """t0 with 2^-g ((1 + rho) / 2)^t0 <= 2^-(security_bits + 1), g = ``grind_bits``."""
        per_query = math.log2(2.0 / (1.0 + 2.0**-log_blowup))
        return max(1, math.ceil((security_bits + 1 - grind_bits) / per_query))

    def query_error_log2(self) -> float:
        """log2 of the query term 2^-g ((1 + rho) / 2)^t (with grinding: see the class docstring)."""
        return self.num_queries * math.log2((1.0 + 2.0**-self.log_blowup) / 2.0) - self.grind_bits

    def soundness_error_log2(self) -> float:
        """log2 of eps_prox + eps_batch + 2^-g ((1 + rho) / 2)^t (see the class docstring)."""
        ell = self.log_m + self.log_rows
        prox = 2.0 * max(ell, 1) * self.codeword_len * 2.0**-_LOG2_EXT
        batch = self.log_m * 2.0**-_LOG2_EXT
        return math.log2(prox + batch + 2.0 ** self.query_error_log2())

    # size
    def expected_openings(self) -> tuple[float, float]:
        """(distinct query columns, Merkle sibling nodes sent), each in expectation over t
        uniform queries into the 2^(log C + log blowup) leaves. Shared by the joint opening."""
        n, t = self.codeword_len, self.num_queries
        distinct = n * (1.0 - (1.0 - 1.0 / n) ** t)
        nodes, width, known = 0.0, n, distinct
        while width > 1:
            width //= 2
            parents = width * (1.0 - (1.0 - 1.0 / width) ** t)
            nodes += 2 * parents - known
            known = parents
        return distinct, nodes

    def expected_proof_bytes(self) -> int:
        """Expected encoded opening size (distinct queries and Merkle nodes in expectation)."""
        distinct, nodes = self.expected_openings()
        body = 16 * self.num_cols + 4 * self.total_rows * distinct + DIGEST_LEN * nodes
        return int(round(12 + _NONCE_LEN + body))

    @staticmethod
    def log_cols_for(k: int, m: int, log_blowup: int = DEFAULT_LOG_BLOWUP) -> int:
        """log2 C = min(k, ceil((k + ceil(log2 m)) / 2) + 2), capped by the 2-adic subgroup.

        m is rounded up to a power of two first, so m = 36 gets the C (and R) of m = 64.
        """
        log_m = _ceil_log2(m)
        return max(0, min(k, (k + log_m + 1) // 2 + _LOG_COLS_ABOVE_SQRT, _MAX_LOG_N - log_blowup))

    @classmethod
    def for_shape(
        cls,
        k: int,
        m: int,
        security_bits: int = 100,
        log_blowup: int = DEFAULT_LOG_BLOWUP,
        grind_bits: int = DEFAULT_GRIND_BITS,
    ) -> LigeroParams:
        """Parameters for a batch of m polys of 2^k entries: C by ``log_cols_for``, t by soundness."""
        if k < 0 or m < 1:
            raise ValueError(f"need k >= 0 and m >= 1, got k={k}, m={m}")
        t0 = cls.queries_for(security_bits, log_blowup, grind_bits)
        log_cols = cls.log_cols_for(k, m, log_blowup)
        # eps_prox grows with n: a few more queries than t0 cover it where it is not negligible
        for t in range(t0, t0 + _MAX_EXTRA_QUERIES + 1):
            cand = cls(k, m, log_cols, t, log_blowup, security_bits, grind_bits)
            if cand.soundness_error_log2() <= -security_bits:
                return cand
        raise ValueError(f"k={k}, m={m} is too large for {security_bits}-bit soundness")


# ----------------------------------------------------------------------------------- commitment


@dataclass(frozen=True)
class Commitment:
    """The Merkle root of a batch and its shape. Encoding: root (32) | u32 k | u32 m."""

    root: bytes
    k: int
    m: int

    def encode(self) -> bytes:
        return bytes(self.root) + struct.pack("<II", self.k, self.m)

    @classmethod
    def decode(cls, buf: bytes) -> Commitment:
        if len(buf) != DIGEST_LEN + 8:
            raise PCSError("format", f"commitment is {len(buf)} bytes, expected {DIGEST_LEN + 8}")
        k, m = struct.unpack_from("<II", buf, DIGEST_LEN)
        if k > _MAX_LOG_N or not 1 <= m <= _MAX_M:
            raise PCSError("format", f"commitment shape k={k}, m={m} is not supported")
        return cls(bytes(buf[:DIGEST_LEN]), k, m)


def absorb_commitment(transcript: Transcript, commitment: Commitment) -> None:
    """Bind a commitment into the transcript (call once, right after committing, on both sides)."""
    transcript.absorb_bytes("pcs.commitment", commitment.encode())


@dataclass
class ProverData:
    """What the prover keeps to open: messages (m R, C) and leaf-major codewords (n, m R), u32.

    Both are in the time-major stacked row order. ``open`` reaches them only through
    ``combined_row``, ``opened_columns`` and ``merkle_nodes``, so another holder of the same
    commitment (one that recomputes instead of keeping) can stand in for this class.
    """

    params: LigeroParams
    commitment: Commitment
    messages: np.ndarray
    leaves: np.ndarray
    tree: merkle.MerkleTree

    def row_values(self, eq_cols: U64) -> U64:
        """<row, eq_cols> for every stacked row: (4, m R) ext."""
        return field.edot_base_many(eq_cols, self.messages)

    def combined_row(self, coeffs: U64) -> U64:
        """sum_row coeffs[row] * row over the stacked message rows: (4, C) ext."""
        return field.lincomb_base(self.messages, coeffs)

    def opened_columns(self, idx: Sequence[int]) -> U64:
        """The codeword columns at the (sorted, distinct) positions ``idx``: (Q, m R) u64."""
        return self.leaves[list(idx)].astype(np.uint64)

    def merkle_nodes(self, idx: Sequence[int]) -> list[bytes]:
        return self.tree.open(idx)


class CommitBuilder:
    """Commit a batch row by row: ``add_rows`` / ``add_row_groups`` store, ``finish`` encodes and hashes.

    Every one of the m * R rows must be added exactly once (in any order). Rows are kept in the
    time-major stacked order (row i of poly j at i * m + j); ``finish`` encodes them in contiguous
    runs of stacked rows straight into the leaf-major matrix, whose rows are then the leaves.
    ``workers`` > 1 encodes and hashes in that many threads (numpy and hashlib release the GIL);
    the result is identical. Memory held: the messages as u32 (4 m 2^k bytes) and the codewords as
    u32 (4 m 2^k 2^b bytes).
    """

    def __init__(self, k: int, m: int, params: LigeroParams | None = None, workers: int = 1) -> None:
        self.params = params if params is not None else LigeroParams.for_shape(k, m)
        if (self.params.k, self.params.m) != (k, m):
            raise ValueError(f"params are for k={self.params.k}, m={self.params.m}, not k={k}, m={m}")
        p = self.params
        self.workers = max(1, workers)
        self._messages = np.empty((p.total_rows, p.num_cols), dtype=np.uint32)
        # (R, m, C) view: [i, j] is row i of poly j, stacked row i * m + j
        self._groups = self._messages.reshape(p.num_rows, p.m, p.num_cols)
        self._filled = np.zeros((p.num_rows, p.m), dtype=bool)
        self._done = False

    def _check_block(self, arr: np.ndarray, shape_tail: tuple[int, ...]) -> None:
        if self._done:
            raise ValueError("builder already finished")
        if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail or arr.dtype.kind not in "ui":
            raise ValueError(f"rows must be integers of shape (r, {', '.join(map(str, shape_tail))}), "
                             f"got {arr.shape} {arr.dtype}")
        if arr.size and (int(arr.max()) >= field.P or (arr.dtype.kind == "i" and int(arr.min()) < 0)):
            raise ValueError("row entries must be reduced field elements in [0, P)")

    def add_rows(self, poly_index: int, row_start: int, rows: np.ndarray) -> None:
        """Add rows [row_start, row_start + r) of polynomial ``poly_index``: reduced ints (r, C)."""
        p = self.params
        arr = np.asarray(rows)
        self._check_block(arr, (p.num_cols,))
        r = arr.shape[0]
        if not 0 <= poly_index < p.m or not 0 <= row_start <= p.num_rows - r:
            raise ValueError(f"rows {row_start}..{row_start + r} of poly {poly_index} out of range")
        filled = self._filled[row_start : row_start + r, poly_index]
        if filled.any():
            raise ValueError(f"row {row_start + int(np.argmax(filled))} of poly {poly_index} added twice")
        self._groups[row_start : row_start + r, poly_index] = arr
        filled[:] = True

    def add_row_groups(self, group_start: int, groups: np.ndarray) -> None:
        """Add row-groups [group_start, group_start + g): reduced ints (g, m, C), [i, j] = row i of poly j."""
        p = self.params
        arr = np.asarray(groups)
        self._check_block(arr, (p.m, p.num_cols))
        g = arr.shape[0]
        if not 0 <= group_start <= p.num_rows - g:
            raise ValueError(f"row-groups {group_start}..{group_start + g} out of range")
        filled = self._filled[group_start : group_start + g]
        if filled.any():
            raise ValueError(f"row-group {group_start + int(np.argmax(filled.any(axis=1)))} added twice")
        self._groups[group_start : group_start + g] = arr
        filled[:] = True

    def finish(self) -> tuple[Commitment, ProverData]:
        """Encode the rows, hash the leaves and build the tree; every row must have been added."""
        if self._done:
            raise ValueError("builder already finished")
        if not self._filled.all():
            i, j = np.unravel_index(int(np.argmin(self._filled)), self._filled.shape)
            raise ValueError(f"row {int(i)} of poly {int(j)} was never added")
        self._done = True
        p = self.params
        leaves = np.empty((p.codeword_len, p.total_rows), dtype="<u4")
        # Encode in runs of stacked rows; the compiled encoder (prover.fieldntt) stores whole
        # 64-byte leaf lines itself: measured 2x faster at 2^20 than encode_coset per coset plus
        # a numpy transposed store (same leaves).
        run = min(_ENCODE_RUN_ROWS, p.total_rows)
        for s0 in range(0, p.total_rows, run):
            block = self._messages[s0 : s0 + run].astype(np.uint64)
            ntt.rs_encode_columns(block, leaves, s0, p.log_blowup)
            del block
        tree = merkle.MerkleTree(merkle.hash_leaves(leaves, self.workers))
        commitment = Commitment(tree.root, p.k, p.m)
        return commitment, ProverData(p, commitment, self._messages, leaves, tree)


# Stacked rows per encoding run of ``CommitBuilder.finish``: 64 rows of 2^15 u64 are 16 MiB.
_ENCODE_RUN_ROWS = 64


def _encode_into(rows: U64, leaves: np.ndarray, col0: int, log_blowup: int, workers: int) -> None:
    """RS-encode rows into leaf-major storage, splitting the rows over threads if asked.

    numpy releases the GIL inside its ufunc loops, so disjoint row ranges encode in parallel.
    """
    r = rows.shape[0]
    if workers <= 1 or r < 2:
        ntt.rs_encode_columns(rows, leaves, col0, log_blowup)
        return
    step = -(-r // workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(ntt.rs_encode_columns, rows[s : s + step], leaves, col0 + s, log_blowup)
            for s in range(0, r, step)
        ]
        for f in futures:
            f.result()


def commit(
    polys: np.ndarray, params: LigeroParams | None = None, workers: int = 1
) -> tuple[Commitment, ProverData]:
    """Commit m >= 1 polynomials given as reduced ints of shape (m, 2^k)."""
    arr = np.asarray(polys)
    if arr.ndim != 2 or arr.shape[0] < 1 or not _is_pow2(arr.shape[1]):
        raise ValueError(f"polys must have shape (m, 2^k) with m >= 1, got {arr.shape}")
    m, size = arr.shape
    builder = CommitBuilder(size.bit_length() - 1, m, params, workers)
    p = builder.params
    for j in range(m):
        builder.add_rows(j, 0, arr[j].reshape(p.num_rows, p.num_cols))
    return builder.finish()


# -------------------------------------------------------------------------------------- opening


@dataclass
class OpeningProof:
    """u (4, C) ext; opened columns (Q, m R) base, ascending codeword position; Merkle nodes;
    the grinding nonce (u64).

    Encoding: u32 C | C ext | u64 nonce | u32 Q | u32 m R | Q columns of m R base | u32 N |
    N digests.
    """

    u: U64
    columns: U64
    nodes: list[bytes] = dc_field(default_factory=list)
    nonce: int = 0

    def encode(self) -> bytes:
        c = self.u.shape[1]
        q, w = self.columns.shape
        parts = [
            struct.pack("<I", c),
            field.encode_ext(self.u),
            _PACK_NONCE(self.nonce),
            struct.pack("<II", q, w),
            field.encode_base(self.columns.reshape(-1)),
            struct.pack("<I", len(self.nodes)),
        ]
        parts.extend(self.nodes)
        return b"".join(parts)

    @classmethod
    def decode(cls, buf: bytes) -> OpeningProof:
        r = _Reader(buf)
        c = r.u32()
        u = r.ext(c)
        nonce = r.u64()
        q, w = r.u32(), r.u32()
        columns = r.base(q * w).reshape(q, w)
        n = r.u32()
        nodes = [r.raw(DIGEST_LEN) for _ in range(r.count(n, DIGEST_LEN))]
        r.end()
        return cls(u, columns, nodes, nonce)


class _Reader:
    """Bounds-checked reads for ``OpeningProof.decode``: every failure is a PCSError(format)."""

    def __init__(self, buf: bytes) -> None:
        self.buf = memoryview(bytes(buf))
        self.pos = 0

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise PCSError("format", f"proof ends at byte {len(self.buf)}, needed {self.pos + n}")
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def u32(self) -> int:
        return int(struct.unpack("<I", self.raw(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.raw(8))[0])

    def count(self, n: int, size: int) -> int:
        """n items of ``size`` bytes must fit in what is left (checked before any allocation)."""
        if n * size > len(self.buf) - self.pos:
            raise PCSError("format", f"{n} items of {size} bytes exceed the {len(self.buf) - self.pos} left")
        return n

    def base(self, n: int) -> U64:
        data = self.raw(4 * self.count(n, 4))
        try:
            return field.decode_base(data, n)
        except ValueError as exc:
            raise PCSError("format", str(exc)) from None

    def ext(self, n: int) -> U64:
        data = self.raw(16 * self.count(n, 16))
        try:
            return field.decode_ext(data, n)
        except ValueError as exc:
            raise PCSError("format", str(exc)) from None

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise PCSError("format", f"{len(self.buf) - self.pos} trailing bytes")


def _check_point(point: Sequence[U64], k: int) -> list[U64]:
    pts = [np.asarray(x, dtype=np.uint64).reshape(-1) for x in point]
    if len(pts) != k or any(x.shape != (4,) for x in pts):
        raise PCSError("shape", f"point has {len(pts)} coordinates, the batch has k={k} variables")
    if any(int(x.max()) >= field.P for x in pts):
        raise PCSError("shape", "point coordinate is not a reduced ext element")
    return pts


def _check_values(values: U64, m: int) -> U64:
    vals = np.asarray(values, dtype=np.uint64)
    if vals.shape != (4, m):
        raise PCSError("shape", f"values of shape {vals.shape}, expected (4, {m})")
    if vals.size and int(vals.max()) >= field.P:
        raise PCSError("shape", "claimed value is not a reduced ext element")
    return vals


def _absorb_claim(transcript: Transcript, params: LigeroParams, z: list[U64], values: U64) -> None:
    pt = field.encode_ext(np.stack(z, axis=1)) if z else b""
    transcript.absorb_bytes(
        "pcs.claim", struct.pack("<II", params.k, params.m) + pt + field.encode_ext(values)
    )


def stacked_row_coeffs(params: LigeroParams, z: Sequence[U64], beta: Sequence[U64]) -> U64:
    """eq((beta, z_row), i * M + j) for the stored stacked rows i * m + j (j < m, i < R).

    (4, m R): the weights of u = sum of the stacked message rows, and of the verifier's
    combination of each opened column (whose entries are in the same stacked order). The virtual
    index i * M + j (M = 2^ceil(log2 m)) has bits (j, i); the virtual zero rows j >= m are
    dropped (their weight multiplies a zero row).
    """
    full = eq_table(list(beta) + list(z[params.log_cols :]))
    if params.m == params.padded_m:
        return full
    rows = full.reshape(4, params.num_rows, params.padded_m)[:, :, : params.m]
    return np.ascontiguousarray(rows).reshape(4, params.total_rows)



def _eq_cols(params: LigeroParams, z: list[U64]) -> U64:
    return eq_table(z[: params.log_cols])


def evaluate(data: ProverData, point: Sequence[U64]) -> U64:
    """The batch's values at a point, (4, m): v_j = poly_j(point), from the prover's messages.

    y[row] = <row, eq(z_col)> for all m R rows in one pass (``field.edot_base_many``), then
    v_j = sum_i eq(z_row, i) y[i m + j] (stacked rows are time-major).
    """
    p = data.params
    z = _check_point(point, p.k)
    y = data.row_values(_eq_cols(p, z))
    eq_row = eq_table(z[p.log_cols :])
    out = np.empty((4, p.m), dtype=np.uint64)
    for j in range(p.m):
        out[:, j] = field.edot(np.ascontiguousarray(y[:, j :: p.m]), eq_row)
    return out


_GRIND_LABEL = b"pcs.grind"
_NONCE_LEN = 8
_PACK_NONCE = struct.Struct("<Q").pack


def _grind_threshold(bits: int) -> bytes:
    """The digests with ``bits`` leading zero bits are exactly those below 2^(256 - bits)."""
    return (1 << (256 - bits)).to_bytes(33, "big")[1:] if bits else b"\xff" * 33


def grind(transcript: Transcript, bits: int) -> int:
    """The least nonce n >= 0 with sha256(state || b"pcs.grind" || u64 LE n) < 2^(256 - bits).

    (``bits`` leading zero bits, the digest read big-endian.) Does not touch the transcript; the
    caller absorbs the nonce (``_absorb_nonce``). Expected 2^bits compressions: one SHA-256
    object pre-fed with state || label, copied and fed the 8 nonce bytes per candidate.
    """
    if bits == 0:
        return 0
    base = hashlib.sha256(transcript.state + _GRIND_LABEL)
    copy, pack, thr = base.copy, _PACK_NONCE, _grind_threshold(bits)
    for n in itertools.count():
        h = copy()
        h.update(pack(n))
        if h.digest() < thr:
            return n
    raise AssertionError("unreachable")  # pragma: no cover


def check_grind(transcript: Transcript, bits: int, nonce: int) -> None:
    """PCSError("grind") unless ``nonce`` (a u64) meets the ``bits`` proof of work at this state.

    One hash: the verifier checks the work, not that the nonce is the least one (soundness needs
    only the work; an honest prover always sends the least, so proofs stay deterministic).
    """
    if not 0 <= nonce < 1 << 64:
        raise PCSError("grind", f"nonce {nonce} is not a u64")
    digest = hashlib.sha256(transcript.state + _GRIND_LABEL + _PACK_NONCE(nonce)).digest()
    if digest >= _grind_threshold(bits):
        raise PCSError("grind", f"nonce {nonce} does not give {bits} leading zero bits")


def _absorb_nonce(transcript: Transcript, nonce: int) -> None:
    transcript.absorb_bytes(_GRIND_LABEL, _PACK_NONCE(nonce))


def _queries(transcript: Transcript, params: LigeroParams) -> list[int]:
    idx = transcript.challenge_indices("pcs.queries", params.num_queries, params.codeword_len)
    return sorted(set(idx))


def _grind_and_query(transcript: Transcript, params: LigeroParams) -> tuple[int, list[int]]:
    """Prover: find the nonce, absorb it, squeeze the query positions."""
    nonce = grind(transcript, params.grind_bits)
    _absorb_nonce(transcript, nonce)
    return nonce, _queries(transcript, params)


def _check_grind_and_query(transcript: Transcript, params: LigeroParams, nonce: int) -> list[int]:
    """Verifier: check the nonce, absorb it, squeeze the query positions."""
    check_grind(transcript, params.grind_bits, nonce)
    _absorb_nonce(transcript, nonce)
    return _queries(transcript, params)


def open(  # noqa: A001 - the protocol's name for it
    data: ProverData,
    point: Sequence[U64],
    transcript: Transcript,
    values: U64 | None = None,
) -> OpeningProof:
    """Open the batch at ``point`` (k ext coordinates). ``values`` (4, m) defaults to ``evaluate``.

    The commitment must already be in the transcript (``absorb_commitment``); this absorbs the
    point and the values, then follows the module docstring's steps 1-5.
    """
    p = data.params
    z = _check_point(point, p.k)
    vals = evaluate(data, z) if values is None else _check_values(values, p.m)
    _absorb_claim(transcript, p, z, vals)
    beta = transcript.challenge_exts("pcs.beta", p.log_m)
    u = data.combined_row(stacked_row_coeffs(p, z, beta))
    transcript.absorb_ext("pcs.u", u)
    nonce, idx = _grind_and_query(transcript, p)
    return OpeningProof(u, data.opened_columns(idx), data.merkle_nodes(idx), nonce)


def verify(
    commitment: Commitment,
    point: Sequence[U64],
    values: U64,
    proof: OpeningProof,
    transcript: Transcript,
    params: LigeroParams | None = None,
) -> None:
    """Check an opening of ``commitment`` at ``point`` to ``values`` (4, m); raise PCSError if not.

    ``params`` defaults to ``LigeroParams.for_shape(k, m)``, as the prover's ``commit`` does.
    """
    if params is None:
        try:
            params = LigeroParams.for_shape(commitment.k, commitment.m)
        except ValueError as exc:
            raise PCSError("shape", str(exc)) from None
    p = params
    if (p.k, p.m) != (commitment.k, commitment.m):
        raise PCSError("shape", f"params for k={p.k}, m={p.m} but commitment k={commitment.k}, m={commitment.m}")
    z = _check_point(point, p.k)
    vals = _check_values(values, p.m)
    u = np.asarray(proof.u, dtype=np.uint64)
    if u.shape != (4, p.num_cols) or (u.size and int(u.max()) >= field.P):
        raise PCSError("shape", f"u of shape {u.shape}, expected (4, {p.num_cols}) reduced")

    _absorb_claim(transcript, p, z, vals)
    beta = transcript.challenge_exts("pcs.beta", p.log_m)
    claimed = field.edot(np.ascontiguousarray(eq_table(beta)[:, : p.m]), vals)
    combined = field.edot(u, _eq_cols(p, z))
    if not np.array_equal(claimed, combined):
        raise PCSError(
            "eval",
            f"sum_j eq(beta, j) v_j = {field.ext_to_ints(claimed)} but <u, eq(z_col)> = "
            f"{field.ext_to_ints(combined)}",
        )

    transcript.absorb_ext("pcs.u", u)
    idx = _check_grind_and_query(transcript, p, int(proof.nonce))
    cols = np.asarray(proof.columns, dtype=np.uint64)
    if cols.shape != (len(idx), p.total_rows) or (cols.size and int(cols.max()) >= field.P):
        raise PCSError(
            "shape", f"columns of shape {cols.shape}, expected ({len(idx)}, {p.total_rows}) reduced"
        )

    leaf_bytes = np.ascontiguousarray(cols, dtype="<u4")
    digests = merkle.hash_leaves(leaf_bytes)
    leaf_list = [digests[i * DIGEST_LEN : (i + 1) * DIGEST_LEN] for i in range(len(idx))]
    try:
        merkle.verify_batch(commitment.root, p.codeword_len, idx, leaf_list, proof.nodes)
    except merkle.MerkleError as exc:
        raise PCSError("merkle", str(exc)) from None

    expected = ntt.rs_encode(u, p.log_blowup)[:, idx]
    got = field.edot_base_many(stacked_row_coeffs(p, z, beta), cols)
    bad = np.flatnonzero((expected != got).any(axis=0))
    if bad.size:
        i = int(bad[0])
        raise PCSError(
            "column",
            f"query {i} (codeword position {idx[i]}): combined column "
            f"{field.ext_to_ints(got[:, i])} != Enc(u) {field.ext_to_ints(expected[:, i])}",
            query=idx[i],
        )
