"""Fixed-length windows tiled over labelled regions, with sequence and composition columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genomelearn.encoding import N_CODE, to_codes


def tile(regions: pd.DataFrame, length: int, stride: int) -> pd.DataFrame:
    """Tile windows of ``length`` bp every ``stride`` bp inside each region (no window crosses an end).

    Args:
        regions: chrom, start, end, label (0-based half-open).
        length: window length, bp (> 0).
        stride: step between window starts, bp (> 0).

    Returns:
        DataFrame chrom, start, end, label, region (row number of the source region), in region order.

    Raises:
        ValueError: for a non-positive length or stride.
    """
    if length <= 0 or stride <= 0:
        raise ValueError(f"window length and stride must be positive, got {length}, {stride}")
    span = (regions["end"] - regions["start"]).to_numpy()
    counts = np.where(span >= length, (span - length) // stride + 1, 0)
    region_index = np.repeat(np.arange(len(regions)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    offset = (np.arange(counts.sum()) - first) * stride
    starts = regions["start"].to_numpy()[region_index] + offset
    return pd.DataFrame(
        {
            "chrom": regions["chrom"].to_numpy()[region_index],
            "start": starts.astype(np.int64),
            "end": (starts + length).astype(np.int64),
            "label": regions["label"].to_numpy()[region_index].astype(np.int8),
            "region": region_index,
        }
    )


def window_bytes(contig_bytes: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """ASCII bytes of windows: uint8 (N, length) gathered from a whole-contig uint8 array."""
    return contig_bytes[starts[:, None] + np.arange(length)[None, :]]


def annotate(windows: pd.DataFrame, raw: np.ndarray) -> pd.DataFrame:
    """Add sequence (uppercase str), gc, n_fraction and repeat_fraction (lowercase = soft-masked).

    Args:
        windows: frame with one row per window.
        raw: uint8 (N, L) ASCII bytes of the windows.
    """
    codes = to_codes(raw)
    acgt = (codes < N_CODE).sum(axis=1)
    gc = ((codes == 1) | (codes == 2)).sum(axis=1)
    lower = (raw >= ord("a")).sum(axis=1)
    upper = np.where(raw >= ord("a"), raw - 32, raw).astype(np.uint8)
    length = raw.shape[1]
    out = windows.copy()
    out["gc"] = np.where(acgt > 0, gc / np.maximum(acgt, 1), np.nan).astype(np.float32)
    out["n_fraction"] = (1 - acgt / length).astype(np.float32)
    out["repeat_fraction"] = (lower / length).astype(np.float32)
    out["sequence"] = np.frombuffer(upper.tobytes(), dtype=f"S{length}").astype(str)
    return out


def assign_blocks(windows: pd.DataFrame, block_size: int) -> pd.Series:
    """Genomic block id ``chrom:index`` of each window (by window start, blocks of ``block_size`` bp)."""
    return windows["chrom"].astype(str) + ":" + (windows["start"] // block_size).astype(str)


def subsample_per_class(windows: pd.DataFrame, max_per_class: int, seed: int) -> pd.DataFrame:
    """At most ``max_per_class`` windows of each label, drawn uniformly (seeded); 0 keeps all.

    The result keeps genomic order.
    """
    if not max_per_class:
        return windows.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    keep = []
    for _, idx in windows.groupby("label").indices.items():
        if len(idx) > max_per_class:
            idx = np.sort(rng.choice(idx, size=max_per_class, replace=False))
        keep.append(idx)
    return windows.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def with_sequence(tiled: pd.DataFrame, fasta_path, length: int) -> pd.DataFrame:
    """Add sequence and composition columns (:func:`annotate`) to tiled windows, reading each contig once.

    Raises:
        InputError: unknown contig, missing FASTA index, or a window beyond the contig end.
    """
    from genomelearn.errors import InputError
    from genomelearn.io.fasta import fetch_bytes, open_fasta

    if tiled.empty:
        return annotate(tiled, np.zeros((0, length), dtype=np.uint8))
    fasta = open_fasta(fasta_path)
    parts = []
    for chrom, idx in tiled.groupby("chrom", sort=True).indices.items():
        contig = fetch_bytes(fasta, chrom, fasta_path)
        sub = tiled.iloc[idx]
        too_far = sub["end"].to_numpy() > len(contig)
        if too_far.any():
            bad = sub[too_far].iloc[0]
            raise InputError(
                f"{fasta_path}: window {bad.chrom}:{bad.start}-{bad.end} lies beyond the contig end ({len(contig)} bp)"
            )
        parts.append(annotate(sub, window_bytes(contig, sub["start"].to_numpy(), length)))
    return pd.concat(parts, ignore_index=True)


def build_windows(
    regions: pd.DataFrame,
    fasta_path,
    length: int,
    stride: int,
    max_n_fraction: float,
    max_per_class: int,
    block_size: int,
    seed: int,
) -> tuple[pd.DataFrame, dict]:
    """Labelled windows with sequence from a reference FASTA.

    Args:
        regions: chrom, start, end, label (BED coordinates, UCSC contig names).
        fasta_path: indexed FASTA (plain or bgzip); contig spelling ``22``/``chr22`` tolerated.
        length, stride: window length and step, bp.
        max_n_fraction: windows with a larger share of non-ACGT bases are dropped.
        max_per_class: uniform subsample per label (0 = keep all).
        block_size: genomic block size (bp) for the ``block`` column.
        seed: subsampling seed.

    Returns:
        (windows, summary): windows has chrom, start, end, label, gc, n_fraction,
        repeat_fraction, block, sequence (uppercase ACGTN str); summary counts windows per step.

    Raises:
        InputError: unknown contig, missing FASTA index, or a window beyond the contig end.
    """
    tiled = tile(regions, length, stride)
    summary = {"windows_tiled": len(tiled)}
    windows = with_sequence(tiled, fasta_path, length)
    windows = windows[windows["n_fraction"] <= max_n_fraction + 1e-9]
    summary["windows_after_n_filter"] = len(windows)
    for label in (0, 1):
        summary[f"windows_label{label}_available"] = int((windows["label"] == label).sum())
    windows = subsample_per_class(windows, max_per_class, seed)
    windows["block"] = assign_blocks(windows, block_size)
    for label in (0, 1):
        summary[f"windows_label{label}_kept"] = int((windows["label"] == label).sum())
    summary["blocks"] = int(windows["block"].nunique())
    return windows[
        [
            "chrom",
            "start",
            "end",
            "label",
            "gc",
            "n_fraction",
            "repeat_fraction",
            "block",
            "sequence",
        ]
    ], summary
