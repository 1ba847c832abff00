"""mapDamage 2 output tables written from one extraction pass, in mapDamage 2.2.1's exact formats.

Per sample, the tables that the field's tools read (MultiQC's mapDamage module, mapDamage's own
``--stats-only`` Bayesian step, EAGER/nf-core pipelines' reports):

* ``misincorporation.txt``: per contig (``Chr``, every contig of the BAM header in sorted order),
  end (``3p``, ``5p``), strand (``+``, ``-``) and position 1..``--length`` (default 70): reference
  base counts A C G T, their Total, the 12 substitutions, deletions ``X>-``, insertions ``->X`` and
  soft-clipped reads ``S`` (mapDamage's ``tables.print_mut``);
* ``5pCtoT_freq.txt`` / ``3pGtoA_freq.txt``: C→T (5' end) and G→A (3' end) frequencies at positions
  1..``--readplot`` (default 25), summed over contigs and strands, written by mapDamage's R script
  (``write.table``: 15 significant digits, NaN written as 0);
* ``lgdistribution.txt``: reference span of reads not flagged as paired, per strand, lengths in
  order of first occurrence in the BAM (mapDamage's ``tables.print_lg``).

Only the first comment line differs from mapDamage's: it names genomelearn as the producer (the
tables are not made by mapDamage); every other line is byte-identical to ``mapDamage -i BAM -r REF``
given the same BAM/reference path strings, when the extraction uses ``filters: mapdamage`` (tested
against Debian's mapDamage 2.2.1). Source: Jónsson et al. 2013, Bioinformatics 29:1682;
https://github.com/ginolhac/mapDamage (v2.2.1).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

MAPDAMAGE_VERSION = "2.2.1"
LETTERS = ("A", "C", "G", "T")
MUTATIONS = (
    "G>A",
    "C>T",
    "A>G",
    "T>C",
    "A>C",
    "A>T",
    "C>G",
    "C>A",
    "T>G",
    "T>A",
    "G>C",
    "G>T",
    "A>-",
    "T>-",
    "C>-",
    "G>-",
    "->A",
    "->T",
    "->C",
    "->G",
    "S",
)
HEADER = LETTERS + ("Total",) + MUTATIONS
_CODE = {"A": 0, "C": 1, "G": 2, "T": 3, "-": 5}
FILES = ("misincorporation.txt", "5pCtoT_freq.txt", "3pGtoA_freq.txt", "lgdistribution.txt")


def _producer_line() -> str:
    from genomelearn import __version__

    return f"# table produced by genomelearn {__version__} in the format of mapDamage version {MAPDAMAGE_VERSION}\n"


def r_number(x: float) -> str:
    """A double as R's ``write.table`` writes it (15 significant digits, R's fixed/scientific choice).

    R (``formatReal``, ``digits = 15``, ``scipen = 0``) keeps the fewest significant digits that
    give the same 15-digit value and uses fixed notation unless scientific is strictly narrower.
    """
    if x == 0:
        return "0"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    mantissa, exponent = f"{abs(x):.14e}".split("e")
    kpower = int(exponent)
    digits = mantissa.replace(".", "").rstrip("0")
    nsig = max(1, len(digits))
    neg = 1 if x < 0 else 0
    rgt = max(0, nsig - kpower - 1)
    left = kpower + 1 if kpower >= 0 else 1
    width_fixed = neg + left + (rgt + 1 if rgt > 0 else 0)
    width_sci = neg + (nsig + 1 if nsig > 1 else 1) + (4 if abs(kpower) < 100 else 5)
    if width_fixed <= width_sci:
        return f"{x:.{rgt}f}"
    return f"{x:.{nsig - 1}e}"


def misincorporation_columns(counts: np.ndarray, soft_clips: np.ndarray) -> np.ndarray:
    """mapDamage's ``misincorporation.txt`` columns from our counts.

    Args:
        counts: int64 (..., 6 reference codes, 6 read codes), codes A C G T N - (N never counted).
        soft_clips: int64 (...) reads soft-clipped beyond each position (``S``).

    Returns:
        int64 (..., 26) in the order of :data:`HEADER` (A C G T Total G>A ... ->G S); base X counts
        the columns with reference X and read A, C, G, T or a deletion, as mapDamage does.
    """
    out = np.zeros(counts.shape[:-2] + (len(HEADER),), dtype=np.int64)
    gap_or_base = [0, 1, 2, 3, 5]
    for j, base in enumerate(LETTERS):
        out[..., j] = counts[..., _CODE[base], gap_or_base].sum(axis=-1)
    out[..., 4] = out[..., :4].sum(axis=-1)
    for j, mut in enumerate(MUTATIONS[:-1], start=5):
        out[..., j] = counts[..., _CODE[mut[0]], _CODE[mut[2]]]
    out[..., -1] = soft_clips
    return out


def write_misincorporation(
    path, result, bam_label: str, reference_label: str, length: int = 70
) -> None:
    """Write ``misincorporation.txt``.

    Args:
        path: output file.
        result: :class:`genomelearn.adna.reads.ExtractionResult` (``contigs``, ``contig_counts``,
            ``soft_clips``); its counted positions must be ≥ ``length``.
        bam_label / reference_label: strings written in the header (mapDamage writes its ``-i`` and
            ``-r`` arguments).
        length: positions from each end (mapDamage ``--length``).

    Raises:
        ValueError: fewer counted positions than ``length``.
    """
    lines = [
        _producer_line(),
        f"# using mapped file {bam_label} and {reference_label} as reference file\n",
        "# Chr: reference from sam/bam header, End: from which termini of DNA sequences, Std: strand of reads\n",
        "Chr\tEnd\tStd\tPos\t" + "\t".join(HEADER) + "\n",
    ]
    tids = {name: t for t, name in enumerate(result.contigs)}
    zero = None
    for name in sorted(result.contigs):
        t = tids[name]
        if t in result.contig_counts:
            counts, clips = result.contig_counts[t], result.soft_clips[t]
            if counts.shape[2] < length:
                raise ValueError(f"{counts.shape[2]} positions counted, {length} asked for")
            table = misincorporation_columns(counts[:, :, :length], clips[:, :, :length])
        else:
            if zero is None:
                zero = np.zeros((2, 2, length, len(HEADER)), dtype=np.int64)
            table = zero
        for e, end in ((1, "3p"), (0, "5p")):
            for s, strand in ((0, "+"), (1, "-")):
                block = table[e, s]
                prefix = f"{name}\t{end}\t{strand}\t"
                lines.extend(
                    prefix + f"{p + 1}\t" + "\t".join(map(str, row)) + "\n"
                    for p, row in enumerate(block.tolist())
                )
    _write(path, lines)


def damage_frequency(result, end: str, length: int = 25) -> np.ndarray:
    """C→T at the 5' end (``end='5p'``) or G→A at the 3' end (``'3p'``), positions 1..length, summed
    over contigs and strands as mapDamage's R script does; float64 (length,), NaN where no base."""
    e, x, y = (0, "C", "T") if end == "5p" else (1, "G", "A")
    total = np.zeros(length, dtype=np.int64)
    count = np.zeros(length, dtype=np.int64)
    for counts in result.contig_counts.values():
        summed = counts[e, :, :length].sum(axis=0)  # (length, 6, 6)
        total += summed[:, _CODE[x], [0, 1, 2, 3, 5]].sum(axis=-1)
        count += summed[:, _CODE[x], _CODE[y]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, count / np.maximum(total, 1), np.nan)


def write_frequency(path, result, end: str, length: int = 25) -> None:
    """Write ``5pCtoT_freq.txt`` (``end='5p'``) or ``3pGtoA_freq.txt`` (``'3p'``) as mapDamage's R
    script does (header ``pos``/``5pC>T``, NaN written as 0, R number formatting)."""
    freq = damage_frequency(result, end, length)
    column = "5pC>T" if end == "5p" else "3pG>A"
    lines = [f"pos\t{column}\n"]
    lines.extend(
        f"{p + 1}\t{r_number(0.0 if np.isnan(f) else float(f))}\n"
        for p, f in enumerate(freq.tolist())
    )
    _write(path, lines)


def write_lgdistribution(path, result, bam_label: str, reference_label: str) -> None:
    """Write ``lgdistribution.txt`` (reference span of unpaired reads per strand)."""
    lines = [
        _producer_line(),
        f"# using mapped file {bam_label} and {reference_label} as reference file\n",
        "# Std: strand of reads\n",
        "Std\tLength\tOccurences \n",
    ]
    for strand in ("+", "-"):
        lines.extend(
            f"{strand}\t{length}\t{n}\n" for length, n in result.aligned_lengths[strand].items()
        )
    _write(path, lines)


def write_mapdamage_tables(
    folder, result, bam_label: str, reference_label: str, length: int = 70, readplot: int = 25
) -> list[Path]:
    """Write the four mapDamage tables (:data:`FILES`) into ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in FILES]
    write_misincorporation(paths[0], result, bam_label, reference_label, length)
    write_frequency(paths[1], result, "5p", min(readplot, length))
    write_frequency(paths[2], result, "3p", min(readplot, length))
    write_lgdistribution(paths[3], result, bam_label, reference_label)
    return paths


def _write(path, lines) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w") as fh:
        fh.writelines(lines)
    os.replace(tmp, path)
