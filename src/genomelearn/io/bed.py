"""BED reading with validation, contig-name normalisation, and interval operations (pybedtools).

BED intervals are 0-based half-open: ``[start, end)``.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from genomelearn.errors import InputError

_HEADER_PREFIXES = ("track", "browser", "#")


def normalise_contig(name: str, style: str = "ucsc") -> str:
    """``"22"`` ↔ ``"chr22"``; ``"MT"`` ↔ ``"chrM"``.

    Args:
        name: contig name in either style.
        style: ``"ucsc"`` (chr-prefixed) or ``"ensembl"`` (bare).
    """
    bare = name[3:] if name.lower().startswith("chr") else name
    if style == "ensembl":
        return "MT" if bare == "M" else bare
    return "chrM" if bare in ("M", "MT") else f"chr{bare}"


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path, "rt")


def read_bed(
    path: str | os.PathLike,
    contig_style: str | None = "ucsc",
    extra_columns: bool = False,
    allow_header: bool = True,
    allow_empty: bool = False,
    line_numbers: bool = False,
) -> pd.DataFrame:
    """Read and validate a BED file (plain or gzip; tab- or whitespace-separated).

    Args:
        path: BED file.
        contig_style: rename contigs to ``"ucsc"`` (chr22) or ``"ensembl"`` (22) style; None keeps them.
        extra_columns: keep columns after the third as ``col4``, ``col5``, … (strings).
        allow_header: skip ``track``/``browser``/``#`` lines and one leading column-header line
            (``chrom start end …``); if False such a line is an error.
        allow_empty: if False, a file without intervals is an error.
        line_numbers: add a ``line`` column (int64): the physical 1-based line of each record.

    Returns:
        DataFrame with ``chrom`` (str), ``start``, ``end`` (int64), in file order.

    Raises:
        InputError: naming the file and line for a line with fewer than 3 fields, a non-integer
            coordinate, a negative start, end < start; or for an empty file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: BED file does not exist")
    rows = []
    lines = []
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith(_HEADER_PREFIXES):
                if allow_header:
                    continue
                raise InputError(
                    f"{path} line {lineno}: header line {stripped[:40]!r} not allowed"
                )
            fields = re.split(r"\s+", stripped)
            if len(fields) < 3:
                raise InputError(
                    f"{path} line {lineno}: expected at least 3 fields (chrom start end), got {len(fields)}"
                )
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                if not rows and allow_header and not fields[1].lstrip("-").isdigit():
                    continue  # a column-header line such as "chrom start end ..."
                raise InputError(
                    f"{path} line {lineno}: start/end must be integers, got {fields[1]!r} {fields[2]!r}"
                ) from None
            if start < 0:
                raise InputError(f"{path} line {lineno}: negative start {start}")
            if end < start:
                raise InputError(f"{path} line {lineno}: end {end} < start {start}")
            rows.append(fields if extra_columns else fields[:3])
            lines.append(lineno)
    if not rows:
        if allow_empty:
            return pd.DataFrame(
                {
                    "chrom": pd.Series(dtype=str),
                    "start": pd.Series(dtype=np.int64),
                    "end": pd.Series(dtype=np.int64),
                }
            )
        raise InputError(f"{path}: BED file has no intervals")
    width = max(len(r) for r in rows)
    columns = ["chrom", "start", "end"] + [f"col{i}" for i in range(4, width + 1)]
    frame = pd.DataFrame([r + [None] * (width - len(r)) for r in rows], columns=columns)
    frame["start"] = frame["start"].astype(np.int64)
    frame["end"] = frame["end"].astype(np.int64)
    if contig_style is not None:
        frame["chrom"] = [normalise_contig(c, contig_style) for c in frame["chrom"]]
    if line_numbers:
        frame["line"] = np.asarray(lines, dtype=np.int64)
    return frame


def check_within_contigs(
    path, frame: pd.DataFrame, lengths: dict[str, int], reference, contigs=None
) -> None:
    """Every region of ``frame`` (read from the BED ``path``) ends within its contig.

    Args:
        path: the BED file as the user gave it (named in the error).
        frame: its regions (chrom, start, end; any contig spelling); may be a merged or filtered
            version of the file's records.
        lengths: {contig: length in bp} of the reference (e.g. from its ``.fai``).
        reference: the reference FASTA (named in the error).
        contigs: only regions on these contigs are checked (None: every contig of the reference).

    Raises:
        InputError: for the first record of the file past its contig end, naming the BED file, its
            physical line, the record, the contig length and the FASTA, e.g. ``maps.bed line 3:
            region chr22:51304000-51400000 ends past the end of contig chr22 (51304566 bp in
            hg19.fa)``.
    """
    sizes = {normalise_contig(c, "ucsc"): int(n) for c, n in lengths.items()}
    chrom = np.array([normalise_contig(c, "ucsc") for c in frame["chrom"]], dtype=object)
    limit = np.array([sizes.get(c, np.iinfo(np.int64).max) for c in chrom], dtype=np.int64)
    beyond = frame["end"].to_numpy() > limit
    if contigs is not None:
        beyond &= np.isin(chrom, [normalise_contig(c, "ucsc") for c in contigs])
    if not beyond.any():
        return
    # report the file's own record (the frame may be merged): re-read it with line numbers
    records = read_bed(path, contig_style="ucsc", line_numbers=True, allow_empty=True)
    limits = np.array(
        [sizes.get(c, np.iinfo(np.int64).max) for c in records["chrom"]], dtype=np.int64
    )
    bad = records[(records["end"].to_numpy() > limits) & np.isin(records["chrom"], chrom[beyond])]
    if bad.empty:  # the frame is not the file's records (derived): name the region only
        bad = frame[beyond].assign(chrom=chrom[beyond], line="?")
    first = bad.iloc[0]
    more = f" ({len(bad)} such records in all)" if len(bad) > 1 else ""
    raise InputError(
        f"{path} line {first['line']}: region {first['chrom']}:{first['start']}-{first['end']} "
        f"ends past the end of contig {first['chrom']} ({sizes[first['chrom']]} bp in {reference})"
        f"{more}; are the BED and the FASTA of the same genome build?"
    )


def to_bedtool(frame: pd.DataFrame):
    """A :class:`pybedtools.BedTool` of the first three columns (sorted)."""
    import pybedtools

    if frame.empty:
        return pybedtools.BedTool("", from_string=True)
    return pybedtools.BedTool.from_dataframe(frame[["chrom", "start", "end"]]).sort()


def from_bedtool(bedtool) -> pd.DataFrame:
    """DataFrame (chrom, start, end) of a BedTool's first three columns."""
    rows = [(iv.chrom, iv.start, iv.end) for iv in bedtool]
    return pd.DataFrame(rows, columns=["chrom", "start", "end"]).astype(
        {"start": np.int64, "end": np.int64}
    )


def merge(frame: pd.DataFrame) -> pd.DataFrame:
    """Union of intervals (``bedtools merge``)."""
    if frame.empty:
        return frame[["chrom", "start", "end"]].copy()
    return from_bedtool(to_bedtool(frame).merge())


def subtract(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Parts of ``a`` not covered by ``b`` (``bedtools subtract``)."""
    if a.empty or b.empty:
        return a[["chrom", "start", "end"]].copy()
    return from_bedtool(to_bedtool(a).subtract(to_bedtool(b)))


def intersect(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Parts of ``a`` covered by ``b`` (``bedtools intersect``), merged."""
    if a.empty or b.empty:
        return a.iloc[:0][["chrom", "start", "end"]].copy()
    return merge(from_bedtool(to_bedtool(a).intersect(to_bedtool(b).merge())))


def total_length(frame: pd.DataFrame) -> int:
    """Sum of ``end - start`` in bp."""
    return int((frame["end"] - frame["start"]).sum())


def check_contigs_after_mask(
    contigs: list[str],
    beds: dict,
    mask_path=None,
    mask: pd.DataFrame | None = None,
) -> None:
    """Every configured contig keeps some sequence: it has a region in at least one of ``beds``,
    and, with a mask, the mask covers some of those regions.

    Args:
        contigs: configured contigs (any spelling; compared in UCSC style).
        beds: {path as given: BED frame (chrom, start, end)} of the region files (e.g. the
            introgressed and desert BEDs).
        mask_path, mask: the mask file and its BED frame, or None.

    Raises:
        InputError: naming the contig, the BED file(s) and the mask, e.g. ``contig chr21 has no
            sequence left after masking: mask.bed has no interval on chr21 (mask contigs: chr22);
            regions of chr21 from maps.bed``.
    """
    named = {
        path: frame.assign(chrom=[normalise_contig(c, "ucsc") for c in frame["chrom"]])
        for path, frame in beds.items()
    }
    if mask is not None:
        mask = mask.assign(chrom=[normalise_contig(c, "ucsc") for c in mask["chrom"]])
    for contig in dict.fromkeys(normalise_contig(c, "ucsc") for c in contigs):
        on_contig = {path: frame[frame["chrom"] == contig] for path, frame in named.items()}
        with_regions = [str(path) for path, frame in on_contig.items() if len(frame)]
        if not with_regions:
            raise InputError(
                f"contig {contig} (configured in contigs) has no region in "
                + " or ".join(str(p) for p in named)
                + f" (their contigs: {', '.join(sorted({c for f in named.values() for c in f['chrom']})[:10])})"
            )
        if mask is None:
            continue
        mask_on = mask[mask["chrom"] == contig]
        covered = sum(
            total_length(intersect(frame, mask_on)) for frame in on_contig.values() if len(frame)
        )
        if covered == 0:
            why = (
                f"{mask_path} has no interval on {contig} (mask contigs: {', '.join(sorted(mask['chrom'].unique())[:10])})"
                if mask_on.empty
                else f"{mask_path} covers none of its regions"
            )
            raise InputError(
                f"contig {contig} has no sequence left after masking: {why}; regions of {contig} from "
                + " and ".join(with_regions)
                + ". Remove the contig from contigs or use a mask that covers it"
            )
