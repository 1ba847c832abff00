"""Train/validation/test splits without leakage, and the audit that measures leakage.

``blocks``: contiguous genomic blocks (default 1 Mb) are assigned whole to one split, stratified by
the majority label of the block, and validation/test windows closer than ``buffer_bp`` to a training
window are excluded. ``random``: windows assigned at random (the course's protocol), kept only to
measure how much neighbouring, overlapping sequence inflates its metrics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SPLIT_NAMES = ("train", "validation", "test")


def _check_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f <= 0).any() or abs(f.sum() - 1) > 1e-6:
        raise ValueError(
            f"split fractions must be three positive numbers summing to 1, got {list(fractions)}"
        )
    return f


def random_split(n: int, fractions, seed: int) -> np.ndarray:
    """Each of ``n`` items assigned at random to train/validation/test in the given proportions.

    Returns:
        object array (n,) of split names.
    """
    f = _check_fractions(fractions)
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.round(np.cumsum(f)[:-1] * n).astype(int)
    out = np.empty(n, dtype=object)
    for name, idx in zip(SPLIT_NAMES, np.split(order, cuts)):
        out[idx] = name
    return out


def block_split(windows: pd.DataFrame, fractions, seed: int, buffer_bp: int = 0) -> np.ndarray:
    """Whole genomic blocks to train/validation/test, stratified by block majority label.

    Args:
        windows: frame with chrom, start, end, label, block.
        fractions: three proportions of blocks (per majority label) for train/validation/test.
        seed: seed of the block permutation.
        buffer_bp: validation/test windows within this distance of a training window are marked
            ``excluded`` (the flanks of a block border).

    Returns:
        object array (len(windows),): train / validation / test / excluded.
    """
    f = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    block_label = windows.groupby("block")["label"].mean().round().astype(int)
    assignment = {}
    for label in sorted(block_label.unique()):
        blocks = np.sort(block_label.index[block_label == label].to_numpy())
        blocks = blocks[rng.permutation(len(blocks))]
        n = len(blocks)
        n_val = max(int(round(f[1] * n)), 1) if n >= 3 else 0
        n_test = max(int(round(f[2] * n)), 1) if n >= 3 else 0
        for i, block in enumerate(blocks):
            assignment[block] = (
                "test" if i < n_test else "validation" if i < n_test + n_val else "train"
            )
    split = windows["block"].map(assignment).to_numpy(dtype=object)
    if buffer_bp > 0:
        near = distance_to_nearest(windows, split == "train") < buffer_bp
        split[near & (split != "train")] = "excluded"
    return split


def distance_to_nearest(windows: pd.DataFrame, reference_mask: np.ndarray) -> np.ndarray:
    """Distance (bp) from each window to the nearest window flagged in ``reference_mask``.

    Distance is the gap between intervals (0 when they overlap or touch); ``inf`` when the
    contig has no reference window.
    """
    out = np.full(len(windows), np.inf)
    for _chrom, idx in windows.groupby("chrom").indices.items():
        ref = idx[reference_mask[idx]]
        if len(ref) == 0:
            continue
        order = np.argsort(windows["start"].to_numpy()[ref])
        r_start = windows["start"].to_numpy()[ref][order]
        r_end = windows["end"].to_numpy()[ref][order]
        r_end_max = np.maximum.accumulate(r_end)
        s, e = windows["start"].to_numpy()[idx], windows["end"].to_numpy()[idx]
        j = np.searchsorted(r_start, s, side="right")  # r_start[j-1] <= s < r_start[j]
        left = np.where(j > 0, np.maximum(s - r_end_max[np.maximum(j - 1, 0)], 0), np.inf)
        right = np.where(
            j < len(r_start), np.maximum(r_start[np.minimum(j, len(r_start) - 1)] - e, 0), np.inf
        )
        out[idx] = np.minimum(left, right)
    return out


def _packed_kmers(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """uint64 2-bit packed k-mers (N, W) and a validity mask (no N) for k ≤ 32."""
    n, length = codes.shape
    width = length - k + 1
    values = np.zeros((n, width), dtype=np.uint64)
    clean = np.where(codes > 3, 0, codes).astype(np.uint64)
    for offset in range(k):
        values <<= np.uint64(2)
        values |= clean[:, offset : offset + width]
    csum = np.zeros((n, length + 1), dtype=np.int32)
    np.cumsum(codes > 3, axis=1, out=csum[:, 1:])
    return values, (csum[:, k:] - csum[:, :width]) == 0


def shared_kmer_fraction(
    query_codes: np.ndarray, reference_codes: np.ndarray, k: int
) -> np.ndarray:
    """Per query window: does it share at least one exact k-mer (no N) with any reference window?

    Args:
        query_codes: uint8 (Nq, L) base codes (e.g. test windows).
        reference_codes: uint8 (Nr, L) base codes (e.g. training windows).
        k: k-mer length, 1..32.

    Returns:
        bool (Nq,).
    """
    if not 1 <= k <= 32:
        raise ValueError(f"k must be in 1..32, got {k}")
    ref_values, ref_ok = _packed_kmers(reference_codes, k)
    ref_set = np.unique(ref_values[ref_ok])
    q_values, q_ok = _packed_kmers(query_codes, k)
    pos = np.searchsorted(ref_set, q_values)
    found = (
        ref_set[np.minimum(pos, len(ref_set) - 1)] == q_values
        if len(ref_set)
        else np.zeros_like(q_ok)
    )
    return (found & q_ok).any(axis=1)


def crossfit_folds(blocks, n_folds: int, seed: int) -> dict:
    """Block id → fold (0..n_folds-1), blocks shuffled with ``seed`` then dealt round-robin."""
    unique = np.sort(pd.unique(pd.Series(blocks)))
    order = np.random.default_rng(seed).permutation(len(unique))
    return {unique[i]: int(rank % n_folds) for rank, i in enumerate(order)}
