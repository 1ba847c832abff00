"""Chromosome-wide label definitions from the 12 published introgression maps.

Two label definitions beside the deserts of :mod:`genomelearn.introgression.regions`:

* ``depleted`` negatives: the covered sequence (the reference mask) minus the union of all 12
  published maps (sequence called introgressed by at least one method), kept at least
  ``buffer_bp`` away from any called segment. Positives stay the introgressed regions of the
  dataset (for example the consensus of >= 6 maps).
* ``support``: a continuous target, the number of distinct maps (0-12) whose segments overlap a
  window.

Maps: Chen & Capra 2025, "Comparing genomic Neanderthal introgression maps reveals core agreement
but substantial heterogeneity" (yaenchen/NeanderthalIntrogressionMaps, ``maps_by_method``).
Coordinates are BED, 0-based half-open, contigs in UCSC style (``chr22``). Interval arithmetic
(merge, slop, subtract, intersect) is done by bedtools through pybedtools.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from genomelearn.errors import InputError
from genomelearn.io import bed

log = logging.getLogger("genomelearn")

__all__ = [
    "MAP_METHODS",
    "bp_per_block",
    "build_depleted_regions",
    "depleted_regions",
    "overlaps_any",
    "read_maps",
    "union_of_maps",
    "window_support",
]

#: The 12 published maps of Chen & Capra 2025 (``maps_by_method/<method>``).
MAP_METHODS = (
    "browning_2018",
    "chen_2020",
    "durvasula_2019",
    "hubisz_2020",
    "sankararaman_2014",
    "sankararaman_2016_1",
    "sankararaman_2016_2",
    "schaefer_2021",
    "skov_2020",
    "steinruecken_2018",
    "vernot_2016",
    "yuan_2021",
)


def read_maps(
    paths: Mapping[str, str | os.PathLike], contigs: list[str]
) -> dict[str, pd.DataFrame]:
    """Read per-method introgression maps, keep ``contigs`` and merge each map's segments.

    Args:
        paths: method name -> BED file (plain or gzip, whitespace-separated, ``22`` or ``chr22``).
        contigs: contigs to keep, UCSC style.

    Returns:
        method -> BED frame (chrom, start, end; int64), merged and sorted; a map without a
        segment on ``contigs`` gives an empty frame (logged).

    Raises:
        InputError: no map given, or a malformed BED file (naming the file and line).
    """
    if not paths:
        raise InputError(
            "no introgression map given: the support and depleted labels need the per-method maps"
        )
    maps = {}
    for method, path in paths.items():
        frame = bed.read_bed(path, contig_style="ucsc")
        kept = frame[frame["chrom"].isin(contigs)][["chrom", "start", "end"]]
        if kept.empty:
            log.warning("map %s (%s) has no segment on %s", method, path, contigs)
        maps[method] = bed.merge(kept).reset_index(drop=True)
    return maps


def union_of_maps(maps: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Sequence called introgressed by at least one map (``bedtools merge`` of all segments).

    Returns:
        BED frame (chrom, start, end), merged and sorted.
    """
    frames = [m[["chrom", "start", "end"]] for m in maps.values() if not m.empty]
    if not frames:
        return pd.DataFrame(
            {
                "chrom": pd.Series(dtype=str),
                "start": pd.Series(dtype=np.int64),
                "end": pd.Series(dtype=np.int64),
            }
        )
    return bed.merge(pd.concat(frames, ignore_index=True)).reset_index(drop=True)


def _genome(*frames: pd.DataFrame, pad: int) -> dict[str, tuple[int, int]]:
    """Chromosome sizes for bedtools slop: the largest end seen per contig plus ``pad``."""
    ends: dict[str, int] = {}
    for frame in frames:
        if frame.empty:
            continue
        for chrom, end in frame.groupby("chrom")["end"].max().items():
            ends[chrom] = max(ends.get(chrom, 0), int(end))
    return {chrom: (0, end + pad) for chrom, end in ends.items()}


def _slop(frame: pd.DataFrame, buffer_bp: int, genome: dict) -> pd.DataFrame:
    """``bedtools slop -b buffer_bp`` then merge."""
    if frame.empty or buffer_bp == 0:
        return frame[["chrom", "start", "end"]].copy()
    return bed.merge(bed.from_bedtool(bed.to_bedtool(frame).slop(b=buffer_bp, genome=genome)))


def depleted_regions(
    mask: pd.DataFrame,
    maps: Mapping[str, pd.DataFrame],
    contigs: list[str],
    buffer_bp: int,
    exclude: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Covered sequence that no map calls introgressed, at least ``buffer_bp`` from any call.

    ``depleted = mask - slop(union(maps) ∪ exclude, buffer_bp)`` (bedtools merge, slop, subtract).

    Args:
        mask: BED frame of covered sequence (the reference's real bases).
        maps: method -> BED frame (:func:`read_maps`).
        contigs: contigs to keep, UCSC style.
        buffer_bp: distance (bp, >= 0) kept between depleted sequence and any called segment.
        exclude: optional further BED frame removed the same way (e.g. the positives, when they
            are a user BED rather than a consensus of the same maps).

    Returns:
        (regions, summary): regions is a merged BED frame (chrom, start, end); summary holds
        covered_bp, union_bp, union_covered_bp, depleted_unbuffered_bp, depleted_bp and
        depleted_regions (ints).

    Raises:
        ValueError: negative ``buffer_bp``.
        InputError: no covered sequence on ``contigs``.
    """
    if buffer_bp < 0:
        raise ValueError(f"buffer_bp must be >= 0, got {buffer_bp}")
    covered = mask[mask["chrom"].isin(contigs)]
    if covered.empty:
        raise InputError(f"the mask has no covered sequence on contigs {contigs}")
    covered = bed.merge(covered)
    union = union_of_maps(maps)
    union = union[union["chrom"].isin(contigs)]
    called = union
    if exclude is not None and not exclude.empty:
        called = bed.merge(
            pd.concat([union, exclude[exclude["chrom"].isin(contigs)][["chrom", "start", "end"]]])
        )
    unbuffered = bed.subtract(covered, called)
    buffered = _slop(called, buffer_bp, _genome(covered, called, pad=buffer_bp))
    depleted = bed.subtract(covered, buffered).reset_index(drop=True)
    summary = {
        "covered_bp": bed.total_length(covered),
        "union_bp": bed.total_length(union),
        "union_covered_bp": bed.total_length(bed.intersect(union, covered))
        if not union.empty
        else 0,
        "depleted_unbuffered_bp": bed.total_length(unbuffered),
        "depleted_bp": bed.total_length(depleted),
        "depleted_regions": len(depleted),
        "buffer_bp": int(buffer_bp),
    }
    return depleted, summary


def build_depleted_regions(
    introgressed: pd.DataFrame,
    mask: pd.DataFrame,
    maps: Mapping[str, pd.DataFrame],
    contigs: list[str],
    buffer_bp: int,
) -> tuple[pd.DataFrame, dict]:
    """Labelled regions of the ``depleted`` definition: introgressed (1) vs depleted (0).

    Label 1 = ``introgressed`` clipped to the mask and merged; label 0 = :func:`depleted_regions`
    with ``introgressed`` also excluded, so the classes never overlap and stay ``buffer_bp``
    apart. Same format as :func:`genomelearn.introgression.regions.build_labelled_regions`, so
    :func:`genomelearn.introgression.windows.build_windows` tiles it unchanged.

    Args:
        introgressed: BED frame of label-1 regions (e.g. the >= 6-map consensus).
        mask: BED frame of covered sequence.
        maps: method -> BED frame (:func:`read_maps`).
        contigs: contigs to keep, UCSC style.
        buffer_bp: bp (>= 0) kept between depleted sequence and any map segment or positive.

    Returns:
        (regions, summary): regions has chrom, start, end, label (int8), sorted; summary holds
        :func:`depleted_regions`'s counts plus introgressed_bp_final, introgressed_regions_final.

    Raises:
        InputError: no covered sequence, no introgressed sequence inside the mask, or no
            depleted sequence left on ``contigs`` (the message gives the bp at each step).
    """
    intro = introgressed[introgressed["chrom"].isin(contigs)][["chrom", "start", "end"]]
    covered = mask[mask["chrom"].isin(contigs)]
    positives = (
        bed.intersect(bed.merge(intro), covered)
        if not intro.empty and not covered.empty
        else intro.iloc[:0]
    )
    depleted, summary = depleted_regions(mask, maps, contigs, buffer_bp, exclude=intro)
    summary["introgressed_regions_final"] = len(positives)
    summary["introgressed_bp_final"] = bed.total_length(positives)
    if positives.empty:
        raise InputError(f"no introgressed sequence inside the mask on {contigs}")
    if depleted.empty:
        raise InputError(
            f"no depleted sequence left on {contigs}: covered {summary['covered_bp']} bp, "
            f"{summary['depleted_unbuffered_bp']} bp outside every map, 0 bp after a {buffer_bp}-bp buffer"
        )
    regions = pd.concat(
        [positives.assign(label=np.int8(1)), depleted.assign(label=np.int8(0))], ignore_index=True
    )
    regions = regions.sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    return regions, summary


def overlaps_any(windows: pd.DataFrame, intervals: pd.DataFrame) -> np.ndarray:
    """Whether each window overlaps (by >= 1 bp) any interval; vectorised over windows.

    The intervals are merged (bedtools merge); per contig one ``np.searchsorted`` over the merged
    ends finds the first interval ending after each window start, which overlaps the window iff
    it starts before the window end. O((N + M) log M).

    Args:
        windows: frame with chrom, start, end (BED, any order).
        intervals: BED frame (chrom, start, end).

    Returns:
        bool (N,), aligned with ``windows`` rows.
    """
    hit = np.zeros(len(windows), dtype=bool)
    if intervals.empty or windows.empty:
        return hit
    merged = bed.merge(intervals)
    w_start, w_end = windows["start"].to_numpy(np.int64), windows["end"].to_numpy(np.int64)
    for chrom, idx in windows.groupby("chrom", sort=False).indices.items():
        m = merged[merged["chrom"] == chrom]
        if m.empty:
            continue
        starts, ends = m["start"].to_numpy(np.int64), m["end"].to_numpy(np.int64)
        j = np.searchsorted(ends, w_start[idx], side="right")
        inside = j < len(starts)
        hit[idx[inside]] = starts[j[inside]] < w_end[idx][inside]
    return hit


def window_support(windows: pd.DataFrame, maps: Mapping[str, pd.DataFrame]) -> np.ndarray:
    """Number of distinct maps calling each window introgressed (the ``support`` target).

    A map counts once for a window if any of its segments overlaps the window by >= 1 bp
    (:func:`overlaps_any`, one vectorised pass per map).

    Args:
        windows: frame with chrom, start, end (BED).
        maps: method -> BED frame (:func:`read_maps`); up to 127 maps.

    Returns:
        int8 (N,) in 0..len(maps).
    """
    if len(maps) > 127:
        raise ValueError(f"at most 127 maps fit an int8 support, got {len(maps)}")
    support = np.zeros(len(windows), dtype=np.int8)
    for frame in maps.values():
        support += overlaps_any(windows, frame).astype(np.int8)
    return support


def bp_per_block(regions: pd.DataFrame, block_size: int) -> pd.DataFrame:
    """Base pairs of ``regions`` in each genomic block of ``block_size`` bp (blocks cut intervals).

    Blocks are ``[i * block_size, (i + 1) * block_size)`` per contig, named ``chrom:i`` as in
    :func:`genomelearn.introgression.windows.assign_blocks`.

    Returns:
        DataFrame block (str), chrom, index (int64), bp (int64), only blocks with bp > 0, in
        genomic order.
    """
    if block_size <= 0:
        raise ValueError(f"block_size must be positive, got {block_size}")
    columns = ["block", "chrom", "index", "bp"]
    if regions.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c in ("block", "chrom") else np.int64) for c in columns}
        )
    merged = bed.merge(regions)
    first = merged["start"].to_numpy() // block_size
    last = (merged["end"].to_numpy() - 1) // block_size
    count = last - first + 1
    row = np.repeat(np.arange(len(merged)), count)
    index = first[row] + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    lo = np.maximum(merged["start"].to_numpy()[row], index * block_size)
    hi = np.minimum(merged["end"].to_numpy()[row], (index + 1) * block_size)
    pieces = pd.DataFrame(
        {
            "chrom": merged["chrom"].to_numpy()[row],
            "index": index.astype(np.int64),
            "bp": (hi - lo).astype(np.int64),
        }
    )
    out = pieces.groupby(["chrom", "index"], sort=True, as_index=False)["bp"].sum()
    out = out[out["bp"] > 0]
    out.insert(0, "block", out["chrom"].astype(str) + ":" + out["index"].astype(str))
    return out.reset_index(drop=True)[columns]
