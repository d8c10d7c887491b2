"""SHA-256 applied N times: h_0 = message (32 bytes), h_{k+1} = sha256(h_k); output h_N.

Each hash is one padded 64-byte block (the 32-byte message, 0x80, zeros, bit length 256), so
message words W[8..15] are constants and are folded into immediates at assembly time.

RAM layout (word addresses; words are big-endian, as in SHA-256):
- input region  [0, 9): word 0 = N, words 1..8 = the message;
- output region [16, 24): the current digest; it is also W[0..7] of the next hash;
- W[16..63] of the message schedule at ``W_BASE + i``.

Registers: r0..r7 the state a..h under rotating names (round i computes T1 in the register that
held h, which becomes a; no moves), r8/r9 carry b^c between rounds for Maj, r10/r11 temps, r12 the
schedule word, r13 the loop counter, r15 = 0 as the base of every absolute LOAD/STORE.
Control flow does not depend on data: cycles(N) = PROLOGUE + N * PER_HASH exactly.

Public names: ``NAME``, ``INPUT``, ``OUTPUT``, ``W_BASE``, ``program()``,
``ram_input(n, message)``, ``expected_output(n, message)``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from prover.vm.assembler import Assembler
from prover.vm.isa import WORD_MASK, ISAError, Program, Region, bytes_to_words

NAME = "sha2-chain"
INPUT = Region(0, 9)
OUTPUT = Region(16, 8)
W_BASE = 64  # W[i] (i >= 16) lives at W_BASE + i
_IN_N, _IN_MSG = INPUT.base, INPUT.base + 1

_STATE = tuple(range(8))
_MAJ = (8, 9)
_T, _U, _WR, _CNT, _ZERO = 10, 11, 12, 13, 15

# FIPS 180-4, section 4.2.2 and 5.3.3.
_K = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)
_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
# The padding words of a 32-byte message: W[8] = 0x80000000, W[9..14] = 0, W[15] = 256 bits.
_PAD = {8: 0x80000000, 9: 0, 10: 0, 11: 0, 12: 0, 13: 0, 14: 0, 15: 256}

# sigma0 / sigma1 as (first rotation, second rotation, shift): ROTR_a+b ^ ROTR_b ^ SHR_s.
_SIGMA0 = (11, 7, 3)
_SIGMA1 = (2, 17, 10)


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & WORD_MASK


def _sigma(x: int, params: tuple[int, int, int]) -> int:
    r1, r2, s = params
    return _rotr(x, r1 + r2) ^ _rotr(x, r2) ^ (x >> s)


def _word_addr(j: int) -> int | None:
    """RAM address of message-schedule word W[j], or None when it is a padding constant."""
    if j < 8:
        return OUTPUT.base + j
    if j < 16:
        return None
    return W_BASE + j


def _emit_sigma_into_t(a: Assembler, addr: int, params: tuple[int, int, int]) -> None:
    # t = ROTR_r2(ROTR_r1(x) ^ x) ^ (x >> s): 7 instructions with the load.
    r1, r2, s = params
    a.load(_T, _ZERO, addr)
    a.mov(_U, _T)
    a.rotr(_T, r1)
    a.xor(_T, _U)
    a.rotr(_T, r2)
    a.shr(_U, s)
    a.xor(_T, _U)


def _emit_schedule(a: Assembler, i: int) -> None:
    """_WR <- W[i] = sigma1(W[i-2]) + W[i-7] + sigma0(W[i-15]) + W[i-16]; store it if used later."""
    const = 0
    loaded = False
    for j in (i - 16, i - 7):
        addr = _word_addr(j)
        if addr is None:
            const += _PAD[j]
        elif not loaded:
            a.load(_WR, _ZERO, addr)
            loaded = True
        else:
            a.load(_U, _ZERO, addr)
            a.add(_WR, _U)
    if not loaded:  # cannot happen for SHA-256's index pattern; guards edits to the layout
        raise ISAError(f"sha2 schedule word {i}: no plain term to start from")
    for j, params in ((i - 15, _SIGMA0), (i - 2, _SIGMA1)):
        addr = _word_addr(j)
        if addr is None:
            const += _sigma(_PAD[j], params)
        else:
            _emit_sigma_into_t(a, addr, params)
            a.add(_WR, _T)
    if const & WORD_MASK:
        a.addi(_WR, const)
    if i + 2 <= 63:  # W[i] is read again as W[i'-2], W[i'-7], ... only by rounds i' <= 63
        a.store(_WR, _ZERO, W_BASE + i)


def _emit_hash(a: Assembler) -> None:
    """One compression of the block (digest in OUTPUT, padding) from the IV; digest -> OUTPUT."""
    names = list(_STATE)  # names[k] = register holding state word k (a, b, ..., h)
    for reg, iv in zip(names, _IV):
        a.li(reg, iv)
    m_bc, m_ab = _MAJ
    a.li(m_bc, _IV[1] ^ _IV[2])
    for i in range(64):
        ra, rb, _rc, rd, re, rf, rg, rh = names
        # h += K[i] + W[i]
        if i < 8:
            a.load(_T, _ZERO, OUTPUT.base + i)
            a.add(rh, _T)
            a.addi(rh, _K[i])
        elif i < 16:
            a.addi(rh, _K[i] + _PAD[i])
        else:
            _emit_schedule(a, i)
            a.add(rh, _WR)
            a.addi(rh, _K[i])
        # h += Sigma1(e) = ROTR6(ROTR5(ROTR14(e) ^ e) ^ e)
        a.mov(_T, re)
        a.rotr(_T, 14)
        a.xor(_T, re)
        a.rotr(_T, 5)
        a.xor(_T, re)
        a.rotr(_T, 6)
        a.add(rh, _T)
        # h += Ch(e, f, g) = ((f ^ g) & e) ^ g; now h = T1
        a.mov(_T, rf)
        a.xor(_T, rg)
        a.and_(_T, re)
        a.xor(_T, rg)
        a.add(rh, _T)
        a.add(rd, rh)  # e' = d + T1
        # h += Sigma0(a) = ROTR2(ROTR11(ROTR9(a) ^ a) ^ a)
        a.mov(_T, ra)
        a.rotr(_T, 9)
        a.xor(_T, ra)
        a.rotr(_T, 11)
        a.xor(_T, ra)
        a.rotr(_T, 2)
        a.add(rh, _T)
        # h += Maj(a, b, c) = ((a ^ b) & (b ^ c)) ^ b; a ^ b is next round's b ^ c
        a.mov(m_ab, ra)
        a.xor(m_ab, rb)
        a.and_(m_bc, m_ab)
        a.xor(m_bc, rb)
        a.add(rh, m_bc)
        m_bc, m_ab = m_ab, m_bc
        names = [rh] + names[:7]
    for k, (reg, iv) in enumerate(zip(names, _IV)):  # feed-forward: H = IV + state
        a.addi(reg, iv)
        a.store(reg, _ZERO, OUTPUT.base + k)


@lru_cache(maxsize=1)
def program() -> Program:
    a = Assembler()
    a.load(_CNT, _ZERO, _IN_N)
    for j in range(8):  # the message becomes h_0 in the output region
        a.load(_T, _ZERO, _IN_MSG + j)
        a.store(_T, _ZERO, OUTPUT.base + j)
    a.beq(_CNT, _ZERO, "done")
    a.label("loop")
    _emit_hash(a)
    a.subi(_CNT, 1)
    a.bne(_CNT, _ZERO, "loop")
    a.label("done")
    a.halt()
    return a.build(regions={"input": INPUT, "output": OUTPUT}, name=NAME)


def ram_input(n: int, message: bytes) -> dict[int, int]:
    """The input region's words: N, then the 32-byte message as 8 big-endian words."""
    if not 0 <= n <= WORD_MASK:
        raise ValueError(f"sha2-chain: N = {n} is not a 32-bit word")
    if len(message) != 32:
        raise ValueError(f"sha2-chain: the message must be 32 bytes, got {len(message)}")
    words = {_IN_N: n}
    words.update({_IN_MSG + j: w for j, w in enumerate(bytes_to_words(message))})
    return words


def expected_output(n: int, message: bytes) -> bytes:
    """h_N computed with hashlib (independent of the VM)."""
    digest = bytes(message)
    for _ in range(n):
        digest = hashlib.sha256(digest).digest()
    return digest
