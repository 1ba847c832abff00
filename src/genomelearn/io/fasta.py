"""Reference FASTA access through pysam (plain or bgzip-compressed, with a samtools faidx index)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genomelearn.errors import InputError
from genomelearn.io.bed import normalise_contig


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_fasta(path: str | os.PathLike):
    """Open an indexed FASTA with :class:`pysam.FastaFile`.

    Plain FASTA needs ``<path>.fai``; bgzip FASTA needs ``.fai`` and ``.gzi`` (``samtools faidx``
    writes both). The index is never written next to the input (the input may be read-only).

    Raises:
        InputError: missing file, missing index, gzip that is not bgzip, or a malformed file.
    """
    import pysam

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: FASTA file does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: FASTA file is empty")
    fai = Path(str(path) + ".fai")
    if not fai.exists():
        raise InputError(
            f"{path}: FASTA has no index {fai.name}; create it with `samtools faidx {path}`"
        )
    if _is_gzip(path) and not Path(str(path) + ".gzi").exists():
        raise InputError(
            f"{path}: gzip FASTA needs bgzip compression and a .gzi index "
            f"(`zcat {path} | bgzip > new.fa.gz && samtools faidx new.fa.gz`)"
        )
    try:
        return pysam.FastaFile(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read FASTA ({exc})") from exc


def contig_lengths(path: str | os.PathLike) -> dict[str, int]:
    """{contig: length in bp} of an indexed FASTA (read from its index; no sequence is read).

    Raises:
        InputError: as :func:`open_fasta`.
    """
    fasta = open_fasta(path)
    try:
        return dict(zip(fasta.references, map(int, fasta.lengths)))
    finally:
        fasta.close()


def resolve_contig(fasta, contig: str, path: str | os.PathLike = "") -> str:
    """Name of ``contig`` as spelled in ``fasta`` (``22`` ↔ ``chr22`` tolerated).

    Raises:
        InputError: if neither spelling is a reference of the FASTA.
    """
    refs = set(fasta.references)
    for candidate in (
        contig,
        normalise_contig(contig, "ucsc"),
        normalise_contig(contig, "ensembl"),
    ):
        if candidate in refs:
            return candidate
    shown = ", ".join(sorted(refs)[:10])
    raise InputError(
        f"{path}: contig {contig!r} is not in the FASTA (contigs: {shown}{'…' if len(refs) > 10 else ''})"
    )


def fetch_bytes(fasta, contig: str, path: str | os.PathLike = "") -> np.ndarray:
    """Whole contig as a uint8 array of ASCII bases (case kept: lowercase = soft-masked repeat).

    Shape (contig length,), dtype uint8; 51 MB for GRCh37 chr22.
    """
    name = resolve_contig(fasta, contig, path)
    return np.frombuffer(fetch_text(fasta, name, path).encode("ascii"), dtype=np.uint8).copy()


def fetch_text(
    fasta,
    name: str,
    path: str | os.PathLike = "",
    start: int | None = None,
    end: int | None = None,
) -> str:
    """``fasta.fetch(name, start, end)`` whose read errors name the file and the contig.

    Raises:
        InputError: e.g. ``ref.fa.gz: cannot read contig chr22 (failure when retrieving sequence):
            the file is truncated or corrupt, or its .fai/.gzi index is stale``.
    """
    try:
        return fasta.fetch(name, start, end)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        region = name if start is None else f"{name}:{start}-{end}"
        raise InputError(
            f"{path or fasta.filename.decode()}: cannot read contig {region} ({exc}): the file is truncated or "
            "corrupt, or its .fai/.gzi index is stale (rebuild it with `samtools faidx`)"
        ) from exc
