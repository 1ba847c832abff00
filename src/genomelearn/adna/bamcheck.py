"""Opening a BAM file with clear errors for the usual mistakes.

Checks, in order: the file exists and is not empty; it is BGZF-compressed BAM (a FASTQ, a SAM text
file or a gzipped FASTQ given as BAM is named as such); pysam can parse its header; the header does
not declare an order other than coordinate; an index is found when one is required.

Index policy (documented in the README): extraction and BAM writing stream the file sequentially
and need no index. When an index exists (``<bam>.bai``, ``<bam minus .bam>.bai``, ``<bam>.csi`` or an
explicit path, e.g. one the workflow built under ``results/``) it is used to count mapped reads per
contig up front, so that a contig missing from the reference is reported before any output is
written and a truncated BAM is detected at the end of the stream. ``require_index=True`` turns a
missing index into an :class:`~genomelearn.errors.InputError`.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from genomelearn.errors import InputError

BAM_MAGIC = b"BAM\x01"


def _where(sample: str | None, path) -> str:
    return f"sample {sample!r}, file {path}" if sample else f"file {path}"


def sniff_format(path: str | os.PathLike) -> str:
    """Guess the format of a file from its first bytes.

    Returns:
        one of ``"bam"``, ``"cram"``, ``"fastq"``, ``"fastq.gz"``, ``"sam"``, ``"gzip"`` (gzip but
        not BAM/FASTQ), ``"empty"`` or ``"unknown"``.
    """
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if not head:
        return "empty"
    if head[:4] == b"CRAM":
        return "cram"
    if head[:2] == b"\x1f\x8b":
        try:
            inflated = zlib.decompressobj(wbits=31).decompress(head, 4096)
        except zlib.error:
            inflated = b""
        if not inflated:
            try:
                with gzip.open(path, "rb") as fh:
                    inflated = fh.read(4096)
            except (OSError, EOFError):
                inflated = b""
        if inflated[:4] == BAM_MAGIC:
            return "bam"
        if inflated[:1] == b"@" and inflated[:3] not in (b"@HD", b"@SQ", b"@RG", b"@PG", b"@CO"):
            return "fastq.gz"
        return "gzip"
    if head[:1] == b"@":
        if head[:3] in (b"@HD", b"@SQ", b"@RG", b"@PG", b"@CO"):
            return "sam"
        return "fastq"
    if head.count(b"\t") >= 10:
        return "sam"
    return "unknown"


def find_index(bam_path: str | os.PathLike) -> Path | None:
    """The index file next to a BAM (``x.bam.bai``, ``x.bai`` or ``x.bam.csi``), or None."""
    bam_path = Path(bam_path)
    for candidate in (
        Path(str(bam_path) + ".bai"),
        bam_path.with_suffix(".bai"),
        Path(str(bam_path) + ".csi"),
    ):
        if candidate.exists():
            return candidate
    return None


def open_bam(
    path: str | os.PathLike,
    sample: str | None = None,
    index: str | os.PathLike | None = None,
    require_index: bool = False,
):
    """Open a coordinate-sorted BAM for streaming, with clear errors.

    Args:
        path: the BAM file.
        sample: sample name, used in error messages.
        index: explicit index path (e.g. built by the workflow outside a read-only mirror); when
            None, an index next to the BAM is used if present.
        require_index: raise if no index is found.

    Returns:
        (``pysam.AlignmentFile``, index path or None).

    Raises:
        InputError: missing or empty file; not a BAM (FASTQ, SAM, CRAM, other gzip); unreadable
            header; header ``SO`` other than coordinate; an index older than the BAM (stale); no
            index while ``require_index``.
            Every message names the sample and the file.
    """
    import pysam

    path = Path(path)
    where = _where(sample, path)
    if not path.exists():
        raise InputError(f"{where}: BAM file does not exist")
    kind = sniff_format(path)
    if kind == "empty":
        raise InputError(f"{where}: BAM file is empty (0 bytes)")
    if kind != "bam":
        hints = {
            "fastq": "it is a FASTQ text file, not a BAM; align the reads first (e.g. bwa aln + samtools sort)",
            "fastq.gz": "it is a gzipped FASTQ, not a BAM; align the reads first",
            "sam": "it is SAM text; convert it with `samtools sort -o x.bam x.sam`",
            "cram": "it is CRAM; convert it with `samtools view -b -T ref.fa -o x.bam x.cram`",
            "gzip": "it is gzip-compressed but not BAM",
            "unknown": "it is not a BAM file",
        }
        raise InputError(f"{where}: {hints.get(kind, 'not a BAM file')}")
    if index is not None and not Path(index).exists():
        raise InputError(f"{where}: index {index} does not exist")
    index_path = Path(index) if index is not None else find_index(path)
    if index_path is not None and index_path.stat().st_mtime < path.stat().st_mtime:
        raise InputError(
            f"{where}: index {index_path} is older than the BAM (stale: the BAM was rewritten after indexing); "
            f"rebuild it with `samtools index {path}` (or `touch {index_path}` if the files were only copied)"
        )
    if index_path is None and require_index:
        raise InputError(
            f"{where}: BAM index missing (looked for {path.name}.bai, {path.stem}.bai, {path.name}.csi); "
            f"create it with `samtools index {path}` or set ancient_dna.missing_index: build"
        )
    try:
        save = pysam.set_verbosity(0)
        try:
            bam = pysam.AlignmentFile(
                str(path),
                "rb",
                index_filename=str(index_path) if index_path else None,
                check_sq=False,
            )
        finally:
            pysam.set_verbosity(save)
    except (OSError, ValueError) as exc:
        raise InputError(f"{where}: cannot open BAM ({exc})") from exc
    sort_order = bam.header.to_dict().get("HD", {}).get("SO")
    if sort_order not in (None, "coordinate"):
        bam.close()
        raise InputError(
            f"{where}: BAM is not coordinate-sorted (header SO:{sort_order}); "
            f"sort it with `samtools sort -o sorted.bam {path}`"
        )
    return bam, index_path
