"""Vectorised DNA encoders: base codes, one-hot, overlapping k-mer tokens, k-mer count matrices.

All encoders work on a 2-D uint8 *code* matrix (N windows × L positions) with A=0, C=1, G=2, T=3
and 4 for anything else (N, IUPAC ambiguity codes). Case is ignored (soft-masked lowercase bases
encode like uppercase). No per-base Python loop: each encoder is a few whole-array numpy operations
on blocks of rows sized so that the intermediates stay in the CPU cache (the Python loops run over
those row blocks and, in :func:`kmer_tokens`, over the ~log2(k) doubling steps). Single-threaded.

Token convention for k-mers (vocabulary size ``4**k + 2``):
    0            padding (never produced here; reserved for variable-length inputs)
    1 .. 4**k    the k-mer with 2-bit code v (A=00, C=01, G=10, T=11, first base most significant) → v + 1
    4**k + 1     any k-mer that contains a non-ACGT base

The 2-bit packing is the usual one of k-mer counters (e.g. Jellyfish, Marçais & Kingsford 2011,
Bioinformatics 27:764); throughput against the course's scikit-learn/Keras encoders and a plain
numpy lookup table is measured by ``benchmarks/bench_introgression.py``.
"""

from __future__ import annotations

import sys
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
# the same table with each 4-byte one-hot row read as one native uint32 (used on big-endian hosts)
_ONE_HOT_U32 = _ONE_HOT_TABLE.view(np.uint32).reshape(5)
_LITTLE_ENDIAN = sys.byteorder == "little"

# Positions (bases) per block: the uint8/uint16 intermediates of a block (~0.2-0.4 MB each) stay in
# L2/L3 cache; larger blocks fall out of cache, smaller ones pay numpy call overhead.
_BLOCK_POSITIONS = 200_000
_ONE_HOT_BLOCK = 1 << 16
_COUNT_BLOCK_ROWS = 512


def to_codes(sequences) -> np.ndarray:
    """Base codes of equal-length sequences.

    Args:
        sequences: a uint8 ASCII array (N, L) or (L,), a 1-D numpy bytes array of dtype ``S<L>``
            (e.g. ``frame["sequence"].to_numpy().astype("S")``; read in place, no copy), or an
            iterable of equal-length ``str``/``bytes``.

    Returns:
        uint8 array (N, L) with A=0, C=1, G=2, T=3, other=4 (one 256-entry table lookup per base).

    Raises:
        ValueError: if the sequences differ in length (for ``S<L>`` arrays: a string shorter than
            ``L``, which numpy pads with NUL bytes).
    """
    if isinstance(sequences, np.ndarray) and sequences.dtype == np.uint8:
        arr = sequences if sequences.ndim == 2 else sequences[None, :]
        return _LUT[arr]
    if isinstance(sequences, np.ndarray) and sequences.dtype.kind == "S":
        flat = np.ascontiguousarray(sequences.reshape(-1))
        length = flat.dtype.itemsize
        raw = flat.view(np.uint8).reshape(len(flat), length)
        if raw.size and raw.min() == 0:
            row = int(np.flatnonzero((raw == 0).any(axis=1))[0])
            raise ValueError(
                f"sequences differ in length: sequence {row} is shorter than {length} bp; pad or window them first"
            )
        return _LUT[raw]
    seqs = [s.encode("ascii") if isinstance(s, str) else bytes(s) for s in sequences]
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    if any(len(s) != length for s in seqs):
        raise ValueError("sequences differ in length; pad or window them first")
    return _LUT[np.frombuffer(b"".join(seqs), dtype=np.uint8).reshape(len(seqs), length)]


def one_hot(codes: np.ndarray) -> np.ndarray:
    """One-hot encoding.

    Each 4-byte one-hot row is written as one uint32 ``1 << (8 * code)`` (a shift of 32 or more,
    for code 4, gives 0 in numpy), which is several times faster than gathering rows of a
    (5, 4) lookup table; big-endian hosts use that table gather instead.

    Args:
        codes: uint8 (N, L) base codes from :func:`to_codes` (any shape works; values other
            than 0-3 are treated as N).

    Returns:
        uint8 (N, L, 4) with channels A, C, G, T; non-ACGT positions are all-zero rows.
    """
    codes = np.asarray(codes)
    out = np.empty(codes.shape + (4,), dtype=np.uint8)
    if codes.size == 0:
        return out
    flat = codes.reshape(-1)
    if flat.dtype != np.uint8:
        flat = np.where((flat >= 0) & (flat < N_CODE), flat, N_CODE).astype(np.uint8)
    out32 = out.reshape(-1).view(np.uint32)
    block = min(flat.size, _ONE_HOT_BLOCK)
    shift = np.empty(block, dtype=np.uint8)
    fours = np.full(
        block, N_CODE, dtype=np.uint8
    )  # np.minimum is SIMD with two arrays, not with a scalar
    for start in range(0, flat.size, block):
        stop = min(flat.size, start + block)
        sh = shift[: stop - start]
        np.minimum(flat[start:stop], fours[: stop - start], out=sh)
        if _LITTLE_ENDIAN:
            sh *= np.uint8(8)  # 0, 8, 16, 24 (A, C, G, T) or 32 (N → 0)
            np.left_shift(np.uint32(1), sh, out=out32[start:stop])
        else:
            np.take(_ONE_HOT_U32, sh, out=out32[start:stop])
    return out


def kmer_vocab_size(k: int) -> int:
    """Number of token ids for k-mers of length ``k`` (``4**k + 2``: padding and N-k-mer included)."""
    return 4**k + 2


def _pieces(k: int) -> list[tuple[int, int]]:
    """Binary decomposition of k into (offset, span) pieces, largest span first (10 → (0, 8), (8, 2))."""
    pieces, offset = [], 0
    for span in (8, 4, 2, 1):
        if k & span:
            pieces.append((offset, span))
            offset += span
    return pieces


def kmer_tokens(codes: np.ndarray, k: int) -> np.ndarray:
    """Overlapping k-mer tokens (stride 1), 2-bit packed.

    Algorithm (exact, integer only): on blocks of rows flattened to 1-D (sized to stay in the CPU
    cache), the 2-bit codes of spans 1, 2, 4, 8 are built by doubling
    (``v_2p[i] = v_p[i] * 4**p + v_p[i + p]``, in uint8/uint16), then the k-mer is assembled in int32
    from the binary decomposition of k (k = 10: ``v8[i] * 4**2 + v2[i + 8]``); k-mers that run
    across a row end are computed but never copied out. Non-ACGT flags are propagated the same way
    with OR, only in blocks that contain a non-ACGT base, and applied as
    ``max(token, flag * (4**k + 1))``. About log2(k) + 6 contiguous, SIMD-friendly passes per block
    (multiplications rather than shifts: numpy vectorises the former, not the latter, for uint8)
    instead of k strided passes over int32.

    Args:
        codes: uint8 (N, L) base codes (other integer dtypes are converted; values other than 0-3
            count as non-ACGT).
        k: k-mer length, 1 ≤ k ≤ 15 (int32 tokens).

    Returns:
        int32 (N, L - k + 1) token ids (see module docstring); N-containing k-mers get ``4**k + 1``.

    Raises:
        ValueError: if codes is not 2-D, k is out of range or k is longer than the sequences.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D (N, L) array, got shape {codes.shape}")
    n, length = codes.shape
    if not 1 <= k <= 15:
        raise ValueError(f"k must be in 1..15, got {k}")
    if k > length:
        raise ValueError(f"k = {k} is longer than the sequences ({length} bp)")
    if codes.dtype != np.uint8:
        codes = np.where((codes >= 0) & (codes < N_CODE), codes, N_CODE).astype(np.uint8)
    width = length - k + 1
    out = np.empty((n, width), dtype=np.int32)
    if n == 0:
        return out
    n_token = np.int32(4**k + 1)
    pieces = _pieces(k)
    top = pieces[0][1]
    spans = [s for s in (1, 2, 4, 8) if s <= top]
    block_rows = max(1, min(n, _BLOCK_POSITIONS // length))
    size = block_rows * length + 16  # pad: reads at offsets < 16 past a block's end stay in bounds
    value = {s: np.zeros(size, dtype=np.uint16 if s == 8 else np.uint8) for s in spans}
    wide4 = np.zeros(size, dtype=np.uint16) if top == 8 else None
    flag = {s: np.zeros(size, dtype=np.bool_) for s in spans}
    acc = np.zeros(size, dtype=np.int32)
    last_offset, last_span = pieces[-1]
    suffix = np.zeros(size, dtype=np.uint8 if last_span <= 2 else np.uint16)
    any_flag = np.zeros(size, dtype=np.bool_)
    flag_value = np.zeros(size, dtype=np.int32)

    for r0 in range(0, n, block_rows):
        r1 = min(n, r0 + block_rows)
        rows = r1 - r0
        m = rows * length
        block = codes[r0:r1].reshape(-1)
        has_n = bool(block.max() > 3)
        np.bitwise_and(block, 3, out=value[1][:m])
        if has_n:
            np.greater(block, 3, out=flag[1][:m])
        span = 1
        while span < top:
            lo, hi = value[span], value[2 * span]
            if span == 4:  # uint8 → uint16
                np.copyto(wide4[: m + 4], lo[: m + 4])
                lo = wide4
            np.multiply(lo[:m], hi.dtype.type(4**span), out=hi[:m])
            np.bitwise_or(hi[:m], lo[span : span + m], out=hi[:m])
            if has_n:
                np.bitwise_or(flag[span][:m], flag[span][span : span + m], out=flag[2 * span][:m])
            span *= 2

        a = acc[:m]
        if len(pieces) == 1:
            np.copyto(a, value[top][:m])
            a += np.int32(1)
        else:
            np.copyto(a, value[top][:m])
            for offset, span in pieces[1:-1]:
                a *= np.int32(4**span)
                np.add(a, value[span][offset : offset + m], out=a)
            a *= np.int32(4**last_span)
            np.add(
                value[last_span][last_offset : last_offset + m],
                1,
                out=suffix[:m],
                dtype=suffix.dtype,
            )
            np.add(
                a, suffix[:m], out=a
            )  # prefix * 4**s + (suffix + 1): the token, no carry past 2k bits
        if has_n:
            flagged = flag[top][:m]
            if len(pieces) > 1:
                flagged = any_flag[:m]
                np.bitwise_or(
                    flag[top][:m], flag[pieces[1][1]][pieces[1][0] : pieces[1][0] + m], out=flagged
                )
                for offset, span in pieces[2:]:
                    np.bitwise_or(flagged, flag[span][offset : offset + m], out=flagged)
            # every valid token is < 4**k + 1, so max(token, flag * (4**k + 1)) sets the flagged ones
            # (branch-free; several times faster than a masked copy)
            np.copyto(flag_value[:m], flagged)
            flag_value[:m] *= n_token
            np.maximum(a, flag_value[:m], out=a)
        out[r0:r1] = a.reshape(rows, length)[:, :width]
    return out


def kmer_counts(tokens: np.ndarray, k: int) -> sp.csr_matrix:
    """Bag-of-k-mers count matrix from :func:`kmer_tokens` output.

    Built directly in CSR form, without a COO intermediate: the tokens of each row are sorted
    (blocks of rows, ``np.sort(axis=1)``), padding and N-k-mers dropped (they sort to the row ends),
    and the sorted columns with unit weights go to scipy's linear-time ``sum_duplicates`` for
    already-sorted CSR rows, which merges each run of equal columns into one entry with its count
    (measured ~2x faster than run-lengths from numpy diff masks, and exact).

    Args:
        tokens: int32 (N, W) token ids for k-mers of length ``k``.
        k: the k-mer length the tokens were built with.

    Returns:
        CSR matrix (N, 4**k), float32 counts, canonical (sorted column indices, no duplicates,
        no stored zeros); column j counts the k-mer with 2-bit code j; N-containing k-mers
        (and padding) are not counted.

    Raises:
        ValueError: if tokens is not 2-D.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be a 2-D (N, W) array, got shape {tokens.shape}")
    if tokens.dtype.kind not in "iu":
        tokens = tokens.astype(np.int64)
    n, width = tokens.shape
    n_cols = 4**k
    index_dtype = np.int32 if max(n * width, n_cols, n) < 2**31 else np.int64
    unsigned = np.dtype(f"u{tokens.dtype.itemsize}")
    indices = np.empty(n * width, dtype=index_dtype)
    row_nnz = np.zeros(n, dtype=np.int64)
    filled = 0
    for r0 in range(0, n, _COUNT_BLOCK_ROWS):
        r1 = min(n, r0 + _COUNT_BLOCK_ROWS)
        ordered = np.sort(tokens[r0:r1], axis=1)
        ordered -= 1  # token → column; padding 0 becomes -1 (or wraps), rejected just below
        counted = ordered.view(unsigned) < n_cols
        per_row = np.count_nonzero(counted, axis=1)
        row_nnz[r0:r1] = per_row
        total = int(per_row.sum())
        indices[filled : filled + total] = ordered[counted]
        filled += total
    indptr = np.zeros(n + 1, dtype=index_dtype)
    np.cumsum(row_nnz, out=indptr[1:])
    matrix = sp.csr_matrix(
        (np.ones(filled, dtype=np.float32), indices[:filled], indptr), shape=(n, n_cols)
    )
    matrix.has_sorted_indices = True  # rows were sorted above: sum_duplicates skips its own sort
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
