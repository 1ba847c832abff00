"""Labelled regions from published introgression maps and introgression deserts.

Label 1 = introgressed (Neanderthal segments of a published map, or the consensus of several maps,
Chen & Capra 2025), label 0 = desert (introgression-depleted regions, ``all_deserts.bg`` of the same
source). Coordinates are BED, 0-based half-open, contigs in UCSC style (``chr22``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from genomelearn.errors import InputError
from genomelearn.io import bed

log = logging.getLogger("genomelearn")


def _overlaps_other(frame: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """Boolean (len(frame),): interval overlaps any interval of ``other`` (same contig)."""
    hit = np.zeros(len(frame), dtype=bool)
    for chrom, idx in frame.groupby("chrom").indices.items():
        o = other[other["chrom"] == chrom]
        if o.empty:
            continue
        o = bed.merge(o)
        starts, ends = o["start"].to_numpy(), o["end"].to_numpy()
        s, e = frame["start"].to_numpy()[idx], frame["end"].to_numpy()[idx]
        # first merged interval whose end > s; it overlaps iff its start < e
        j = np.searchsorted(ends, s, side="right")
        inside = j < len(starts)
        hit[idx[inside]] = starts[j[inside]] < e[inside]
    return hit


def build_labelled_regions(
    introgressed: pd.DataFrame,
    deserts: pd.DataFrame,
    contigs: list[str],
    mask: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Combine the two classes into one labelled, non-overlapping region set.

    Steps: keep ``contigs``; drop every region of either class that overlaps a region of the
    other class (the count is returned and logged); merge within class; clip to ``mask`` (the
    sequence actually present in the reference) when given.

    Args:
        introgressed: BED frame (chrom, start, end) of label-1 regions.
        deserts: BED frame of label-0 regions.
        contigs: contigs to keep, UCSC style.
        mask: optional BED frame of covered sequence.

    Returns:
        (regions, summary): regions has chrom, start, end, label (int8); summary holds counts and
        bp per class before/after each step.

    Raises:
        InputError: if a class has no region on the requested contigs.
    """
    summary = {}
    classes = {}
    for label, name, frame in ((1, "introgressed", introgressed), (0, "desert", deserts)):
        kept = frame[frame["chrom"].isin(contigs)][["chrom", "start", "end"]].reset_index(
            drop=True
        )
        if kept.empty:
            raise InputError(
                f"no {name} region on contigs {contigs} (contigs in the file: {sorted(frame['chrom'].unique())[:10]})"
            )
        summary[f"{name}_regions_input"] = len(kept)
        summary[f"{name}_bp_input"] = bed.total_length(kept)
        classes[label] = kept
    drop1 = _overlaps_other(classes[1], classes[0])
    drop0 = _overlaps_other(classes[0], classes[1])
    summary["introgressed_regions_dropped_overlap"] = int(drop1.sum())
    summary["desert_regions_dropped_overlap"] = int(drop0.sum())
    log.info(
        "dropped %d introgressed and %d desert regions overlapping the other class",
        drop1.sum(),
        drop0.sum(),
    )
    parts = []
    for label, name, drop in ((1, "introgressed", drop1), (0, "desert", drop0)):
        kept = bed.merge(classes[label][~drop])
        if mask is not None:
            kept = bed.intersect(kept, mask[mask["chrom"].isin(contigs)])
        summary[f"{name}_regions_final"] = len(kept)
        summary[f"{name}_bp_final"] = bed.total_length(kept)
        parts.append(kept.assign(label=np.int8(label)))
    regions = (
        pd.concat(parts, ignore_index=True)
        .sort_values(["chrom", "start"], kind="stable")
        .reset_index(drop=True)
    )
    for label, name in ((1, "introgressed"), (0, "desert")):
        if not (regions["label"] == label).any():
            raise InputError(
                f"no {name} sequence left after removing overlaps and masking on {contigs}"
            )
    return regions, summary


def read_deserts(path) -> pd.DataFrame:
    """Deserts file (BED or the ``all_deserts.bg`` table with a header line) as a BED frame."""
    return bed.read_bed(path, contig_style="ucsc")[["chrom", "start", "end"]]
