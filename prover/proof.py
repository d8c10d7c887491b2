"""The proof file: a canonical, versioned byte format with one section per stage.

Layout (docs/protocol.md, "Proof file"):

    magic b"SGPF" | u16 version | u32 statement length | statement bytes |
    u8 section count (= 9) | per section: u8 stage id, u32 payload length, payload

Inside a payload, stages write with ``SectionWriter`` and read back with ``SectionReader``:
base element = u32 LE, ext element = 4 x u32 LE, digest = 32 bytes, lengths u32 LE. The reader
rejects values >= p, short reads and trailing bytes with ``ProofFormatError``, so every proof has
exactly one encoding. ``Claim`` (an evaluation claim on committed trace columns) lives here
because both the prover stages and the verifier pass it from one section to the next.

Public names: ``MAGIC``, ``VERSION``, ``NUM_SECTIONS``, ``ProofFormatError``, ``Claim``,
``SectionWriter``, ``SectionReader``, ``ProofFile``, ``encode_proof``, ``decode_proof``.
Sits just above ``field`` (and ``sumcheck`` for the proof objects it serializes).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import TYPE_CHECKING

import numpy as np

from prover.field import P, U64

if TYPE_CHECKING:
    from prover.sumcheck.gkr import GKRProof
    from prover.sumcheck.protocol import SumcheckProof

MAGIC = b"SGPF"
VERSION = 1
NUM_SECTIONS = 9
DIGEST_LEN = 32
# A section or a statement larger than this is garbage, not a proof (2^20 proofs are ~2 MB).
MAX_PAYLOAD = 1 << 28


class ProofFormatError(ValueError):
    """The bytes are not a well-formed proof: short, garbled, non-canonical or trailing input.

    ``where`` names the part being read (``"header"``, ``"section 3"``); the message is one
    sentence suitable for a user.
    """

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail


@dataclasses.dataclass
class Claim:
    """Claimed evaluations of committed trace columns at one point.

    ``point`` has log T ext coordinates, little-endian (point[j] pairs with cycle bit j);
    ``values`` maps a column name (``relations.columns.COLUMNS``) to its claimed MLE value.
    ``origin`` names the stage/check that produced it (for error messages only; not encoded).
    The values were sent in the producing stage's section; stage 7 reduces all claims.
    """

    point: list[U64]
    values: dict[str, U64]
    origin: str = ""


# ----------------------------------------------------------------------------- sections


class SectionWriter:
    """Appends canonical encodings to one section's payload."""

    def __init__(self, stage: int) -> None:
        self.stage = stage
        self._parts: list[bytes] = []

    def put_u8(self, v: int) -> None:
        self._parts.append(struct.pack("<B", v))

    def put_u32(self, v: int) -> None:
        self._parts.append(struct.pack("<I", v))

    def put_base(self, v: int | np.integer) -> None:
        """One base element (must be reduced)."""
        iv = int(v)
        if not 0 <= iv < P:
            raise ValueError(f"base element {iv} is not reduced")
        self._parts.append(struct.pack("<I", iv))

    def put_bases(self, arr: U64) -> None:
        """A base vector whose length the reader knows (no length prefix)."""
        a = np.asarray(arr, dtype=np.uint64).reshape(-1)
        if a.size and int(a.max()) >= P:
            raise ValueError("base vector is not reduced")
        self._parts.append(a.astype("<u4").tobytes())

    def put_ext(self, e: U64) -> None:
        """One ext scalar (4,)."""
        self.put_exts(np.asarray(e).reshape(4, 1))

    def put_exts(self, e: U64) -> None:
        """An ext vector (4, n) whose length the reader knows, element after element."""
        a = np.asarray(e, dtype=np.uint64).reshape(4, -1)
        if a.size and int(a.max()) >= P:
            raise ValueError("ext vector is not reduced")
        self._parts.append(np.ascontiguousarray(a.T).astype("<u4").tobytes())

    def put_digest(self, d: bytes) -> None:
        if len(d) != DIGEST_LEN:
            raise ValueError(f"digest of {len(d)} bytes, expected {DIGEST_LEN}")
        self._parts.append(bytes(d))

    def put_raw(self, b: bytes) -> None:
        """Bytes whose length the reader knows."""
        self._parts.append(bytes(b))

    def put_blob(self, b: bytes) -> None:
        """u32 length + bytes."""
        self.put_u32(len(b))
        self._parts.append(bytes(b))

    def put_sumcheck(self, proof: SumcheckProof) -> None:
        """A sumcheck proof; the reader knows its rounds and degree (see ``get_sumcheck``)."""
        self._parts.append(proof.encode())

    def put_gkr(self, proof: GKRProof) -> None:
        """A fraction-sum GKR proof; the reader knows its shape (see ``get_gkr``)."""
        self._parts.append(proof.encode())

    def payload(self) -> bytes:
        return b"".join(self._parts)

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)


class SectionReader:
    """Reads one section's payload back; every malformed read raises ``ProofFormatError``."""

    def __init__(self, stage: int, payload: bytes) -> None:
        self.stage = stage
        self._buf = bytes(payload)  # bytes, not a view: a context holding a reader can be copied
        self._pos = 0
        self._where = f"section {stage}"

    @property
    def offset(self) -> int:
        return self._pos

    def _take(self, n: int, what: str) -> bytes:
        if n < 0 or self._pos + n > len(self._buf):
            raise ProofFormatError(
                self._where,
                f"short read of {what}: need {n} bytes at offset {self._pos}, "
                f"{len(self._buf) - self._pos} left",
            )
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        return out

    def get_u8(self, what: str = "u8") -> int:
        return int(self._take(1, what)[0])

    def get_u32(self, what: str = "u32") -> int:
        return int(struct.unpack("<I", self._take(4, what))[0])

    def get_base(self, what: str = "base element") -> int:
        v = int(struct.unpack("<I", self._take(4, what))[0])
        if v >= P:
            raise ProofFormatError(self._where, f"non-canonical {what} {v} >= p")
        return v

    def get_bases(self, n: int, what: str = "base vector") -> U64:
        raw = self._take(4 * n, what)
        arr = np.frombuffer(raw, dtype="<u4").astype(np.uint64)
        if arr.size and int(arr.max()) >= P:
            i = int(np.flatnonzero(arr >= P)[0])
            raise ProofFormatError(self._where, f"non-canonical {what}[{i}] = {int(arr[i])} >= p")
        return arr

    def get_ext(self, what: str = "ext element") -> U64:
        return self.get_exts(1, what).reshape(4)

    def get_exts(self, n: int, what: str = "ext vector") -> U64:
        flat = self.get_bases(4 * n, what)
        return np.ascontiguousarray(flat.reshape(n, 4).T)

    def get_digest(self, what: str = "digest") -> bytes:
        return self._take(DIGEST_LEN, what)

    def get_raw(self, n: int, what: str = "bytes") -> bytes:
        return self._take(n, what)

    def get_blob(self, max_len: int, what: str = "blob") -> bytes:
        n = self.get_u32(f"{what} length")
        if n > max_len:
            raise ProofFormatError(self._where, f"{what} length {n} exceeds {max_len}")
        return self._take(n, what)

    def get_sumcheck(self, num_rounds: int, degree: int, what: str = "sumcheck") -> SumcheckProof:
        """A sumcheck proof of ``num_rounds`` rounds of degree ``degree``."""
        from prover.sumcheck.protocol import SumcheckProof

        raw = self._take(SumcheckProof.byte_len(num_rounds, degree), what)
        try:
            return SumcheckProof.decode(raw, num_rounds, degree)
        except ValueError as exc:
            raise ProofFormatError(self._where, f"{what}: {exc}") from exc

    def get_gkr(self, num_vars: int, what: str = "GKR proof") -> GKRProof:
        """A fraction-sum GKR proof over 2^num_vars leaves."""
        from prover.sumcheck.gkr import GKRProof

        raw = self._take(GKRProof.byte_len(num_vars), what)
        try:
            return GKRProof.decode(raw, num_vars)
        except ValueError as exc:
            raise ProofFormatError(self._where, f"{what}: {exc}") from exc

    def expect_end(self) -> None:
        left = len(self._buf) - self._pos
        if left:
            raise ProofFormatError(self._where, f"{left} trailing bytes at offset {self._pos}")


# ----------------------------------------------------------------------------- the file


@dataclasses.dataclass(frozen=True)
class ProofFile:
    """A decoded proof: the statement bytes and the nine section payloads (index = stage id).

    ``offsets[k]`` is the absolute byte offset of section k's payload in the file.
    """

    statement: bytes
    sections: tuple[bytes, ...]
    offsets: tuple[int, ...] = ()


def encode_proof(statement: bytes, sections: list[bytes]) -> bytes:
    """The canonical proof bytes for a statement and the 9 section payloads (stage order)."""
    if len(sections) != NUM_SECTIONS:
        raise ValueError(f"{len(sections)} sections, expected {NUM_SECTIONS}")
    parts = [MAGIC, struct.pack("<HI", VERSION, len(statement)), statement]
    parts.append(struct.pack("<B", NUM_SECTIONS))
    for k, payload in enumerate(sections):
        parts.append(struct.pack("<BI", k, len(payload)))
        parts.append(payload)
    return b"".join(parts)


def decode_proof(data: bytes) -> ProofFile:
    """Split proof bytes into statement and sections; ``ProofFormatError`` on any malformation."""
    buf = memoryview(data)
    pos = 0

    def take(n: int, what: str) -> bytes:
        nonlocal pos
        if pos + n > len(buf):
            raise ProofFormatError(
                "header", f"truncated proof: {what} needs {n} bytes at offset {pos}, "
                f"file has {len(buf)}"
            )
        out = bytes(buf[pos : pos + n])
        pos += n
        return out

    if take(4, "magic") != MAGIC:
        raise ProofFormatError("header", "not a stagegate proof (bad magic)")
    version, stmt_len = struct.unpack("<HI", take(6, "version and statement length"))
    if version != VERSION:
        raise ProofFormatError("header", f"unsupported proof version {version} (expected {VERSION})")
    if stmt_len > MAX_PAYLOAD:
        raise ProofFormatError("header", f"statement length {stmt_len} is implausible")
    statement = take(stmt_len, "statement")
    count = take(1, "section count")[0]
    if count != NUM_SECTIONS:
        raise ProofFormatError("header", f"{count} sections, expected {NUM_SECTIONS}")
    sections: list[bytes] = []
    offsets: list[int] = []
    for k in range(NUM_SECTIONS):
        stage, length = struct.unpack("<BI", take(5, f"section {k} header"))
        if stage != k:
            raise ProofFormatError("header", f"section {k} has stage id {stage}")
        offsets.append(pos)
        sections.append(take(length, f"section {k} payload"))
    if pos != len(buf):
        raise ProofFormatError("header", f"{len(buf) - pos} trailing bytes after section 8")
    return ProofFile(statement, tuple(sections), tuple(offsets))
