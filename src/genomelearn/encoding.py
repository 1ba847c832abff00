"""Vectorised DNA encoders: base codes, one-hot, overlapping k-mer tokens, k-mer count matrices.

All encoders work on a 2-D uint8 *code* matrix (N windows × L positions) with A=0, C=1, G=2, T=3
and 4 for anything else (N, IUPAC ambiguity codes). Case is ignored (soft-masked lowercase bases
encode like uppercase). No per-base Python loop: each encoder is a few whole-array numpy operations
(the only Python loop in :func:`kmer_tokens` runs over the k offsets).

Token convention for k-mers (vocabulary size ``4**k + 2``):
    0            padding (never produced here; reserved for variable-length inputs)
    1 .. 4**k    the k-mer with 2-bit code v (A=00, C=01, G=10, T=11, first base most significant) → v + 1
    4**k + 1     any k-mer that contains a non-ACGT base
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import scipy.sparse as sp

BASES = "ACGT"
N_CODE = 4

_LUT = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate(BASES):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i

_ONE_HOT_TABLE = np.zeros((5, 4), dtype=np.uint8)
_ONE_HOT_TABLE[np.arange(4), np.arange(4)] = 1


def to_codes(sequences) -> np.ndarray:
    """Base codes of equal-length sequences.

    Args:
        sequences: a uint8 ASCII array (N, L) or (L,), a numpy bytes array of dtype ``S<L>``, or an
            iterable of equal-length ``str``/``bytes``.

    Returns:
        uint8 array (N, L) with A=0, C=1, G=2, T=3, other=4.

    Raises:
        ValueError: if the sequences differ in length.
    """
    if isinstance(sequences, np.ndarray) and sequences.dtype == np.uint8:
        arr = sequences if sequences.ndim == 2 else sequences[None, :]
        return _LUT[arr]
    if isinstance(sequences, np.ndarray) and sequences.dtype.kind == "S":
        length = sequences.dtype.itemsize
        return _LUT[np.frombuffer(sequences.tobytes(), dtype=np.uint8).reshape(len(sequences), length)]
    seqs = [s.encode("ascii") if isinstance(s, str) else bytes(s) for s in sequences]
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    if any(len(s) != length for s in seqs):
        raise ValueError("sequences differ in length; pad or window them first")
    return _LUT[np.frombuffer(b"".join(seqs), dtype=np.uint8).reshape(len(seqs), length)]


def one_hot(codes: np.ndarray) -> np.ndarray:
    """One-hot encoding.

    Args:
        codes: uint8 (N, L) base codes from :func:`to_codes`.

    Returns:
        uint8 (N, L, 4) with channels A, C, G, T; non-ACGT positions are all-zero rows.
    """
    return _ONE_HOT_TABLE[codes]


def kmer_vocab_size(k: int) -> int:
    """Number of token ids for k-mers of length ``k`` (``4**k + 2``: padding and N-k-mer included)."""
    return 4**k + 2


def kmer_tokens(codes: np.ndarray, k: int) -> np.ndarray:
    """Overlapping k-mer tokens (stride 1), 2-bit packed.

    Args:
        codes: uint8 (N, L) base codes.
        k: k-mer length, 1 ≤ k ≤ 15 (int32 tokens).

    Returns:
        int32 (N, L - k + 1) token ids (see module docstring); N-containing k-mers get ``4**k + 1``.

    Raises:
        ValueError: if k is out of range or longer than the sequences.
    """
    n, length = codes.shape
    if not 1 <= k <= 15:
        raise ValueError(f"k must be in 1..15, got {k}")
    if k > length:
        raise ValueError(f"k = {k} is longer than the sequences ({length} bp)")
    width = length - k + 1
    is_n = codes == N_CODE
    values = np.zeros((n, width), dtype=np.int32)
    clean = np.where(is_n, 0, codes).astype(np.int32)
    for offset in range(k):
        values <<= 2
        values |= clean[:, offset : offset + width]
    # number of non-ACGT bases in each k-mer, from a cumulative sum over positions
    csum = np.zeros((n, length + 1), dtype=np.int32)
    np.cumsum(is_n, axis=1, out=csum[:, 1:])
    has_n = (csum[:, k:] - csum[:, :width]) > 0
    values += 1
    values[has_n] = 4**k + 1
    return values


def kmer_counts(tokens: np.ndarray, k: int) -> sp.csr_matrix:
    """Bag-of-k-mers count matrix from :func:`kmer_tokens` output.

    Args:
        tokens: int32 (N, W) token ids for k-mers of length ``k``.
        k: the k-mer length the tokens were built with.

    Returns:
        CSR matrix (N, 4**k), float32 counts; column j counts the k-mer with 2-bit code j;
        N-containing k-mers are not counted.
    """
    n, width = tokens.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), width)
    cols = tokens.reshape(-1).astype(np.int64) - 1
    keep = (cols >= 0) & (cols < 4**k)
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])), shape=(n, 4**k)
    )
    matrix.sum_duplicates()
    return matrix


def kmer_strings(ids: Iterable[int], k: int) -> list[str]:
    """Decode k-mer column indices (2-bit codes, 0-based as in :func:`kmer_counts`) to strings."""
    out = []
    for value in ids:
        value = int(value)
        chars = []
        for _ in range(k):
            chars.append(BASES[value & 3])
            value >>= 2
        out.append("".join(reversed(chars)))
    return out


def gc_fraction(codes: np.ndarray) -> np.ndarray:
    """GC fraction per row among ACGT bases (float32 (N,); NaN for rows without ACGT)."""
    acgt = (codes < N_CODE).sum(axis=1)
    gc = ((codes == 1) | (codes == 2)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(acgt > 0, gc / np.maximum(acgt, 1), np.nan).astype(np.float32)
