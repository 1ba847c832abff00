"""Streaming read extraction: one pass over a BAM gives the per-read table and the damage counts.

The BAM is read sequentially by htslib (no index needed) in compiled code
(:mod:`genomelearn.adna.htslib_reader`: a numba loop over htslib's ``sam_read1`` copies each record's
flag, contig, position, MAPQ, TLEN, CIGAR, sequence, qualities, name and, without a reference, MD
tag into a batch's byte buffers; no Python object per read). pysam's per-record loop is kept as
``ExtractionSettings(reader="pysam")``, the reference the compiled reader is tested against. The
read filter runs on the batch with numpy, and everything per base — CIGAR and MD parsing, reference
lookup, reverse complement to molecule orientation, GC, mismatch counts, mismatch strings and the
mapDamage-style misincorporation counts — in one compiled pass over the batch's concatenated bytes
(:func:`genomelearn.adna._kernels.process_reads`, numba; compiled once and cached on disk).

Read filter (``ExtractionSettings``): mapped, primary (not secondary, not supplementary), not a
duplicate, not QC-fail, MAPQ ≥ ``min_mapq``, ``length`` ≥ ``min_length``, a stored sequence and,
for paired-end reads, properly paired with a non-zero TLEN (``require_proper_pair``; otherwise the
fragment length is unknown).

Fragment length (``length``): for a properly paired read, |TLEN| (the insert size,
``length_source = "insert"``); for merged or single-end reads the read length
(``length_source = "read"``); for an improperly paired read kept with
``require_proper_pair=False``, the read length (a lower bound).

Orientation: ``sequence``, ``reference`` and ``qualities`` are in *molecule* orientation: the read as
sequenced, i.e. reverse-strand alignments are reverse-complemented (qualities reversed). Position 1
is then the 5' end of the read.

Reference: from the reference FASTA when one is given (checked against the BAM header: a contig
with reads must exist with the same length), else rebuilt from the MD tag.

Damage counts follow mapDamage 2 (``misincorporation.txt``) exactly: positions are alignment
columns of the aligned part of the read (soft clips excluded, insertion columns have reference '-',
deletion columns have read '-'), counted from the 5' and the 3' end of the read in read orientation,
skipping columns where the read or the reference is N (Jónsson et al. 2013, Bioinformatics 29:1682).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from itertools import islice
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genomelearn.adna import _kernels, htslib_reader
from genomelearn.adna._kernels import (  # noqa: F401 (base codes and tables, used package-wide)
    CODE_LUT,
    COMPLEMENT_ASCII,
    COMPLEMENT_CODE,
    GAP,
    UPPER_ASCII,
    A,
    C,
    G,
    N,
    T,
)
from genomelearn.adna.bamcheck import open_bam
from genomelearn.adna.htslib_reader import HtslibReader, RecordBatch
from genomelearn.errors import InputError
from genomelearn.io.fasta import open_fasta


FILTERED_FLAGS = (
    0x4 | 0x100 | 0x200 | 0x400 | 0x800
)  # unmapped, secondary, QC fail, duplicate, supplementary

READ_TABLE_SCHEMA = pa.schema(
    [
        ("record", pa.int64()),
        ("name", pa.string()),
        ("sample", pa.string()),
        ("contig", pa.string()),
        ("start", pa.int64()),
        ("mapq", pa.int16()),
        ("flag", pa.int32()),
        ("strand", pa.string()),
        ("read_length", pa.int32()),
        ("length", pa.int32()),
        ("length_source", pa.string()),
        ("gc", pa.float32()),
        ("n_mismatches", pa.int32()),
        ("sequence", pa.string()),
        ("reference", pa.string()),
        ("qualities", pa.string()),
        ("mismatches_5p", pa.string()),
        ("mismatches_3p", pa.string()),
    ]
)
"""Columns of the per-read parquet table.

record: 0-based index of the record in the BAM stream (all records counted), the key used to write
    the decontaminated BAM. name: QNAME. contig/start: reference name and 0-based leftmost aligned
    position. strand: '+' or '-'. read_length: bases in SEQ. length: fragment length (see module
    docstring). gc: G+C fraction of the ACGT bases of the read. n_mismatches: aligned read bases that
    differ from the reference (both ACGT). sequence / reference / qualities: per read base, molecule
    orientation; reference is '-' where the base is not aligned (soft clip, insertion) and N where
    unknown; qualities are Phred+33. mismatches_5p / mismatches_3p: for the first / last
    ``damage_positions`` read bases counted from that end: '.' match, the reference base where the
    read differs, '-' not aligned, 'N' unknown.
"""


TABLE_CODECS = ("lz4", "zstd", "snappy", "none")


@dataclass(frozen=True)
class ExtractionSettings:
    """Read filter and batching.

    Attributes:
        min_mapq: minimum mapping quality (0 keeps all).
        min_length: minimum fragment length in bp (``length`` column).
        damage_positions: positions from each end in the damage counts and mismatch strings.
        batch_size: BAM records per batch (bounds memory).
        bad_md: ``"error"`` (default) or ``"skip"``: what to do, when no reference FASTA is given,
            with a read whose MD tag is missing or disagrees with its CIGAR (e.g. reads soft-clipped
            or realigned after the MD tag was computed); skipped reads are counted as ``bad_md``.
        require_proper_pair: drop paired-end reads that are not properly paired (unknown insert
            size), counted as ``improper_pair``.
        filters: ``"config"`` (default): the thresholds above; ``"mapdamage"``: mapDamage 2's read
            filter, i.e. only the flag filter (unmapped, secondary, QC-fail, duplicate,
            supplementary) and no MAPQ, length or proper-pair filter, so that the damage counts and
            the mapDamage-format tables equal those of ``mapDamage -i BAM -r REF`` exactly
            (``min_mapq``, ``min_length`` and ``require_proper_pair`` are then set to 0, 0, False).
        mapdamage_length: positions from each end in the per-contig mapDamage counts
            (``misincorporation.txt``; mapDamage's ``--length``, default 70).
        reader: ``"htslib"`` (default): records read by htslib in compiled code
            (:mod:`genomelearn.adna.htslib_reader`; pysam's loop where no htslib with
            ``sam_read1`` can be loaded); ``"pysam"``: pysam's per-record loop, the reference the
            htslib reader is tested against (same tables and counts, slower).
        table_compression: parquet codec of the per-read table: ``"lz4"`` (default; the fastest
            to write: writing the table is the largest single cost of the extraction on real
            BAMs), ``"zstd"`` (level 1; smaller files for more CPU, both measured side by side by
            ``benchmarks/bench_ancient_dna.py``, see ``docs/ancient_dna.md``), ``"snappy"`` or
            ``"none"``. Same table content with any codec.
    """

    min_mapq: int = 25
    min_length: int = 30
    damage_positions: int = 25
    batch_size: int = 5000
    bad_md: str = "error"
    require_proper_pair: bool = True
    filters: str = "config"
    mapdamage_length: int = 70
    reader: str = "htslib"
    table_compression: str = "lz4"

    def __post_init__(self):
        if self.table_compression not in TABLE_CODECS:
            raise ValueError(
                f"table_compression must be one of {', '.join(TABLE_CODECS)}, "
                f"got {self.table_compression!r}"
            )
        if self.bad_md not in ("error", "skip"):
            raise ValueError(f"bad_md must be 'error' or 'skip', got {self.bad_md!r}")
        if self.damage_positions < 1 or self.batch_size < 1 or self.mapdamage_length < 1:
            raise ValueError("damage_positions, mapdamage_length and batch_size must be >= 1")
        if self.reader not in ("htslib", "pysam"):
            raise ValueError(f"reader must be 'htslib' or 'pysam', got {self.reader!r}")
        if self.filters not in ("config", "mapdamage"):
            raise ValueError(f"filters must be 'config' or 'mapdamage', got {self.filters!r}")
        if self.filters == "mapdamage":
            object.__setattr__(self, "min_mapq", 0)
            object.__setattr__(self, "min_length", 0)
            object.__setattr__(self, "require_proper_pair", False)

    @property
    def counted_positions(self) -> int:
        """Positions from each end that are counted (both the damage profile and mapDamage's)."""
        return max(self.damage_positions, self.mapdamage_length)


@dataclass
class ExtractionResult:
    """Summary of one extraction pass.

    Attributes:
        damage_counts: int64 (2 ends [5p, 3p], 2 strands [+, -], K positions, 6 reference codes,
            6 read codes) with codes A C G T N - ; columns with N are never counted.
        length_counts: {length_source: int64 histogram indexed by length}.
        n_records: records in the BAM. n_kept: reads that passed the filter.
        filtered: {reason: count} for the records that did not pass.
        contigs: contig names of the BAM header (index = BAM tid).
        contig_counts: {tid: int64 (2 ends, 2 strands, P positions, 6, 6)} the same counts per
            contig, over P = ``settings.counted_positions`` positions (contigs without kept reads
            absent): what mapDamage's ``misincorporation.txt`` holds per ``Chr``.
        soft_clips: {tid: int64 (2 ends, 2 strands, P)} reads soft-clipped at that end by more than
            the position (mapDamage's ``S`` column: position i counts clips of length > i).
        aligned_lengths: {'+'/'-': {reference span (bp): reads}} of single-end/merged reads (not
            flagged paired), keys in order of first occurrence in the BAM as in mapDamage's
            ``lgdistribution.txt``.
    """

    damage_counts: np.ndarray
    length_counts: dict = field(default_factory=dict)
    n_records: int = 0
    n_kept: int = 0
    filtered: dict = field(default_factory=dict)
    contigs: list = field(default_factory=list)
    contig_counts: dict = field(default_factory=dict)
    soft_clips: dict = field(default_factory=dict)
    aligned_lengths: dict = field(default_factory=lambda: {"+": {}, "-": {}})


class Reference:
    """Reference bases for the contigs of a BAM, from a FASTA file (one contig in memory at a time).

    Args:
        fasta_path: plain or bgzip FASTA with a samtools faidx index.
        sample: sample name for error messages.
        bam_path: BAM path for error messages.
    """

    def __init__(self, fasta_path, sample: str | None = None, bam_path=None):
        self.path = Path(fasta_path)
        self.sample = sample
        self.bam_path = bam_path
        self.fasta = open_fasta(self.path)
        self.lengths = dict(zip(self.fasta.references, self.fasta.lengths))
        self._name = None
        self._array = None

    def check_contig(self, contig: str, bam_length: int | None = None) -> None:
        """Raise InputError if ``contig`` is absent from the FASTA or has another length."""
        where = (
            f"sample {self.sample!r}, file {self.bam_path}"
            if self.sample
            else f"file {self.bam_path}"
        )
        if contig not in self.lengths:
            shown = ", ".join(list(self.lengths)[:8])
            raise InputError(
                f"{where}: contig {contig!r} has reads but is absent from the reference {self.path} "
                f"(reference contigs: {shown}{'…' if len(self.lengths) > 8 else ''})"
            )
        if bam_length is not None and self.lengths[contig] != bam_length:
            raise InputError(
                f"{where}: contig {contig!r} is {bam_length} bp in the BAM header but "
                f"{self.lengths[contig]} bp in the reference {self.path}: wrong reference build?"
            )

    def array(self, contig: str) -> np.ndarray:
        """Uppercase ASCII uint8 array of one contig (cached until another contig is asked for)."""
        if contig != self._name:
            self.check_contig(contig)
            seq = self.fasta.fetch(contig)
            self._array = UPPER_ASCII[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
            self._name = contig
        return self._array

    def close(self) -> None:
        self.fasta.close()


def _joined(values, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 bytes, int64 offsets of length n + 1) of a sequence of ASCII str (None counts as "")."""
    if None in values:
        values = [v or "" for v in values]
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=off[1:])
    return np.frombuffer("".join(values).encode("ascii"), dtype=np.uint8), off


def _strings(data: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """Arrow string array from concatenated ASCII bytes and (rows + 1) offsets (no copy per row)."""
    return pa.StringArray.from_buffers(
        len(offsets) - 1,
        pa.py_buffer(offsets.astype(np.int32)),
        pa.py_buffer(np.ascontiguousarray(data)),
    )


def _repeated(value: str, n: int) -> pa.Array:
    """Arrow string array holding ``value`` n times (built from buffers)."""
    raw = value.encode("utf-8")
    return pa.StringArray.from_buffers(
        n,
        pa.py_buffer(np.arange(n + 1, dtype=np.int32) * len(raw)),
        pa.py_buffer(raw * n),
    )


_SOURCES = pa.array(["read", "insert"])


def _pysam_batches(records, batch_size: int, use_md: bool) -> Iterator[RecordBatch]:
    """pysam records in :class:`~genomelearn.adna.htslib_reader.RecordBatch` batches (the
    ``reader="pysam"`` path: the per-record loop only copies pysam's fields into tuples)."""
    while True:
        # the loop allocates only acyclic tuples and strings (freed by reference counting): the
        # cyclic garbage collector, which would rescan every object of the process (numba's and
        # pyarrow's too) about once per 700 tuples, is paused while a batch is read
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            if use_md:
                chunk = list(islice(records, batch_size))
                try:  # one tag lookup per read; a read without MD tag redoes the batch
                    rows = [_fields(r) + (r.get_tag("MD"),) for r in chunk]
                except KeyError:
                    rows = [
                        _fields(r) + ((r.get_tag("MD") if r.has_tag("MD") else None),)
                        for r in chunk
                    ]
            else:
                rows = [_fields(r) for r in islice(records, batch_size)]
            if not rows:
                return
            n = len(rows)
            cols = list(zip(*rows))
            ints = [np.fromiter(cols[c], dtype=np.int64, count=n) for c in range(5)]
            texts = []
            for c in (8, 5, 6, 7):  # name, CIGAR, SEQ, QUAL
                texts += _joined(cols[c], n)
            if use_md:
                texts += _joined(cols[9], n)
                has_md = np.fromiter((m is not None for m in cols[9]), dtype=bool, count=n)
            else:
                texts += (_kernels.NO_BYTES, np.zeros(n + 1, dtype=np.int64))
                has_md = None
        finally:
            if gc_was_on:
                gc.enable()
        yield RecordBatch(*ints, *texts, has_md)


def _fields(r) -> tuple:
    """The fields the extraction reads from a pysam record (same order as the main loop)."""
    return (
        r.flag,
        r.reference_id,
        r.reference_start,
        r.mapping_quality,
        r.template_length,
        r.cigarstring,
        r.query_sequence,
        r.query_qualities_str,
        r.query_name,
    )


class Extractor:
    """One streaming pass over a BAM: per-read tables (batches) and damage/length counts.

    Records arrive in batches of byte buffers from the compiled htslib reader
    (:class:`genomelearn.adna.htslib_reader.HtslibReader`; or pysam's loop with
    ``settings.reader="pysam"``); the read filter is applied on whole batches with numpy, and
    everything per base (CIGAR/MD parsing, reference lookup, reverse complement, mismatch strings,
    mapDamage counts) in one compiled pass (:func:`genomelearn.adna._kernels.process_reads`).

    Args:
        bam_path: coordinate-sorted BAM.
        sample: sample name (table column and error messages).
        reference: reference FASTA path, or None to use MD tags.
        index: explicit BAM index path (optional; see :mod:`genomelearn.adna.bamcheck`).
        settings: :class:`ExtractionSettings`.
        require_index: raise if no index is found.

    Raises (from :meth:`batches`):
        InputError: see :func:`genomelearn.adna.bamcheck.open_bam`; plus: no alignment records;
            records out of coordinate order; a contig with reads absent from the reference (or of
            another length); a read without MD tag when no reference is given; an MD tag that
            disagrees with the CIGAR; an unsupported CIGAR operation; a read past the end of its
            contig; no read passing the filter; fewer mapped records than the index reports
            (truncated file); a record htslib cannot read (truncated or corrupt BAM).
    """

    def __init__(
        self,
        bam_path,
        sample: str,
        reference=None,
        index=None,
        settings: ExtractionSettings | None = None,
        require_index: bool = False,
    ):
        self.bam_path = Path(bam_path)
        self.sample = sample
        self.reference_path = Path(reference) if reference else None
        self.index = index
        self.settings = settings or ExtractionSettings()
        self.require_index = require_index
        self.where = f"sample {sample!r}, file {self.bam_path}"
        k = self.settings.damage_positions
        self.result = ExtractionResult(damage_counts=np.zeros((2, 2, k, 6, 6), dtype=np.int64))

    # ------------------------------------------------------------------ streaming
    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the per-read table as pyarrow record batches (schema :data:`READ_TABLE_SCHEMA`)."""
        s = self.settings
        bam, index_path = open_bam(self.bam_path, self.sample, self.index, self.require_index)
        reference = None
        try:
            contigs = list(bam.references)
            contig_lengths = list(bam.lengths)
            self.result.contigs = contigs
            expected_mapped = None
            if self.reference_path is not None:
                reference = Reference(self.reference_path, self.sample, self.bam_path)
            if index_path is not None:
                stats = bam.get_index_statistics()
                expected_mapped = sum(st.mapped for st in stats)
                if reference is not None:
                    for st in stats:
                        if st.mapped > 0:
                            reference.check_contig(st.contig, bam.get_reference_length(st.contig))
            use_md = reference is None
            self._filtered = dict.fromkeys(
                (
                    "unmapped",
                    "secondary/supplementary",
                    "duplicate",
                    "qc_fail",
                    "mapq",
                    "improper_pair",
                    "length",
                    "no_sequence",
                    "bad_md",
                ),
                0,
            )
            self._checked_contigs = set()
            self._last = (-1, -1)  # (tid, pos) of the last placed record
            self._n_mapped = 0
            if s.reader == "htslib" and htslib_reader.available():
                source = HtslibReader(self.bam_path, self.where, s.batch_size, want_md=use_md)
                record_batches = source.batches()
            else:
                source = None
                record_batches = _pysam_batches(bam.fetch(until_eof=True), s.batch_size, use_md)
            n_records = 0
            try:
                for records in record_batches:
                    # the cyclic garbage collector is paused while a batch is processed (its
                    # numpy/Arrow objects are acyclic; a collection would rescan every object of
                    # the process)
                    gc_was_on = gc.isenabled()
                    gc.disable()
                    try:
                        batch = self._process(
                            records, n_records, contigs, contig_lengths, reference
                        )
                    finally:
                        if gc_was_on:
                            gc.enable()
                    n_records += len(records)
                    if batch is not None:
                        yield batch
            finally:
                if source is not None:
                    source.close()
            if n_records == 0:
                raise InputError(f"{self.where}: BAM contains no alignment records (empty BAM)")
            if expected_mapped is not None and self._n_mapped < expected_mapped:
                raise InputError(
                    f"{self.where}: only {self._n_mapped} mapped records could be read but the "
                    f"index {index_path} reports {expected_mapped}: truncated BAM or stale index"
                )
            self.result.n_records = n_records
            filtered = self._filtered
            self.result.filtered = filtered
            if self.result.n_kept == 0:
                reasons = ", ".join(f"{k} {v}" for k, v in filtered.items() if v)
                raise InputError(
                    f"{self.where}: none of the {n_records} records passed the read filter "
                    f"(MAPQ >= {s.min_mapq}, length >= {s.min_length}; filtered: {reasons})"
                )
        finally:
            bam.close()
            if reference is not None:
                reference.close()

    # ------------------------------------------------------------------ vectorised batch work
    def _filter(self, records, rec0, contigs, flag, tid, pos, mapq, tlen, qlen):
        """Checks (sort order, placement) and the read filter on one batch of records.

        Returns (kept record indices int64, fragment length int64, insert bool) of the batch.
        """
        s = self.settings
        placed = np.flatnonzero(tid >= 0)
        if len(placed):
            last_tid, last_pos = self._last
            t = np.concatenate([[last_tid], tid[placed]])
            p = np.concatenate([[last_pos], pos[placed]])
            unsorted = (t[1:] < t[:-1]) | ((t[1:] == t[:-1]) & (p[1:] < p[:-1]))
            if unsorted.any():
                u = int(np.flatnonzero(unsorted)[0])
                i = int(placed[u])
                raise InputError(
                    f"{self.where}: BAM is not coordinate-sorted: record {rec0 + i + 1} "
                    f"({records.text('name', i)} at {contigs[tid[i]]}:{pos[i] + 1}) comes after "
                    f"{contigs[t[u]]}:{p[u] + 1}; sort it with `samtools sort`"
                )
            self._last = (int(t[-1]), int(p[-1]))
        unmapped = (flag & 0x4) != 0
        orphan = np.flatnonzero((tid < 0) & ~unmapped)
        if len(orphan):
            i = int(orphan[0])
            raise InputError(
                f"{self.where}: record {rec0 + i + 1} ({records.text('name', i)}) is mapped "
                f"without a contig"
            )
        f = self._filtered
        flagged = (flag & FILTERED_FLAGS) != 0
        n_unmapped = int(unmapped.sum())
        self._n_mapped += len(flag) - n_unmapped
        if flagged.any():
            mapped_flagged = flagged & ~unmapped
            sec = mapped_flagged & ((flag & 0x900) != 0)
            dup = mapped_flagged & ~sec & ((flag & 0x400) != 0)
            f["unmapped"] += n_unmapped
            f["secondary/supplementary"] += int(sec.sum())
            f["duplicate"] += int(dup.sum())
            f["qc_fail"] += int((mapped_flagged & ~sec & ~dup).sum())
        keep = ~flagged
        drop = keep & (mapq < s.min_mapq)
        f["mapq"] += int(drop.sum())
        keep &= ~drop
        drop = keep & (qlen == 0)
        f["no_sequence"] += int(drop.sum())
        keep &= ~drop
        insert = ((flag & 0x3) == 0x3) & (tlen != 0)
        if s.require_proper_pair:
            drop = keep & ~insert & ((flag & 0x1) != 0)
            f["improper_pair"] += int(drop.sum())
            keep &= ~drop
        length = np.where(insert, np.abs(tlen), qlen)
        drop = keep & (length < s.min_length)
        f["length"] += int(drop.sum())
        keep &= ~drop
        return np.flatnonzero(keep), length, insert

    def _process(
        self, records: RecordBatch, rec0, contigs, contig_lengths, reference
    ) -> pa.RecordBatch | None:
        """Filter one batch of records and build its table; add its counts to the result."""
        s = self.settings
        n_all = len(records)
        flag, tid, pos, mapq, tlen = (
            records.flag, records.tid, records.pos, records.mapq, records.tlen
        )  # fmt: skip
        seq, seq_off = records.seq, records.seq_off
        qlen_all = np.diff(seq_off)
        kept, length_all, insert_all = self._filter(
            records, rec0, contigs, flag, tid, pos, mapq, tlen, qlen_all
        )
        if not len(kept):
            return None
        use_md = reference is None
        ktid = tid[kept]
        for t in np.unique(ktid).tolist():
            if t not in self._checked_contigs:
                if reference is not None:
                    reference.check_contig(contigs[t], contig_lengths[t])
                self._checked_contigs.add(t)
        if use_md:
            if not records.has_md.all():
                missing = ~records.has_md[kept]
                if missing.any():
                    if s.bad_md != "skip":
                        i = int(kept[np.flatnonzero(missing)[0]])
                        raise InputError(
                            f"{self.where}: read {records.text('name', i)!r} (record {rec0 + i + 1}) has no MD "
                            f"tag and no reference FASTA is given in the sample sheet; add MD tags "
                            f"with `samtools calmd`, give the reference, or set "
                            f"ancient_dna.extraction.bad_md: skip"
                        )
                    self._filtered["bad_md"] += int(missing.sum())
                    kept = kept[~missing]
                    ktid = tid[kept]
                    if not len(kept):
                        return None
        md, md_off = records.md, records.md_off
        qual, qual_off = records.qual, records.qual_off
        if len(qual) != len(seq) or not np.array_equal(qual_off, seq_off):
            ql = np.diff(qual_off)
            bad = np.flatnonzero((ql != 0) & (ql != qlen_all))
            if len(bad):
                i = int(bad[0])
                raise InputError(
                    f"{self.where}: read {records.text('name', i)!r} (record {rec0 + i + 1}) "
                    f"has {ql[i]} qualities for {qlen_all[i]} bases"
                )
        cig, cig_off = records.cigar, records.cigar_off

        n = len(kept)
        qlen = qlen_all[kept]
        out_off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(qlen, out=out_off[1:])
        total = int(out_off[-1])
        k = s.damage_positions
        kk = np.minimum(qlen, k)
        k_off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(kk, out=k_off[1:])
        P = s.counted_positions
        batch_tids, lt = np.unique(ktid, return_inverse=True)
        lt = lt.astype(np.int64).ravel()
        counts = np.zeros(len(batch_tids) * 4 * P * 36, dtype=np.int64)
        out_seq = np.empty(total, dtype=np.uint8)
        out_ref = np.empty(total, dtype=np.uint8)
        out_qual = np.empty(total, dtype=np.uint8)
        ms5 = np.empty(int(k_off[-1]), dtype=np.uint8)
        ms3 = np.empty(int(k_off[-1]), dtype=np.uint8)
        gc = np.empty(n, dtype=np.float32)
        n_mism = np.zeros(n, dtype=np.int32)
        sc5 = np.zeros(n, dtype=np.int64)
        sc3 = np.zeros(n, dtype=np.int64)
        span = np.zeros(n, dtype=np.int64)
        status = np.zeros(n, dtype=np.int64)
        info = np.zeros((n, 2), dtype=np.int64)
        scratch_ops = np.empty((2, int(np.diff(cig_off).max()) // 2 + 1), dtype=np.int64)
        scratch_span = np.empty(
            int(qlen.max()) + (int(np.diff(md_off).max()) if use_md else 0) + 1, dtype=np.uint8
        )
        scratch_base = np.empty((3, int(qlen.max())), dtype=np.uint8)
        rev = (flag & 0x10) != 0
        # contiguous runs of kept reads on one contig (the BAM is coordinate-sorted)
        bounds = np.flatnonzero(np.diff(ktid)) + 1
        starts = np.concatenate([[0], bounds]).tolist()
        ends = np.concatenate([bounds, [n]]).tolist()
        empty = np.zeros(0, dtype=np.uint8)
        for lo, hi in zip(starts, ends):
            t = int(ktid[lo])
            refarr = empty if use_md else reference.array(contigs[t])
            fatal = _kernels.process_reads(
                kept, lo, hi, seq, seq_off, qual, qual_off, cig, cig_off, md, md_off, use_md,
                refarr, pos, rev, lt, P, k, s.bad_md == "skip", UPPER_ASCII, CODE_LUT,
                COMPLEMENT_ASCII, COMPLEMENT_CODE, _kernels.CIGAR_OP, out_seq, out_ref, out_qual,
                out_off, ms5, ms3, k_off, gc, n_mism, sc5, sc3, span, counts, status, info,
                scratch_ops, scratch_span, scratch_base,
            )  # fmt: skip
            if fatal >= 0:
                self._raise(fatal, kept, records, rec0, status, info, contigs[t], reference)

        keep = status == _kernels.OK
        if not keep.all():  # reads with a bad MD tag, skipped (bad_md: skip)
            self._filtered["bad_md"] += int((~keep).sum())
        counts = counts.reshape(len(batch_tids), 2, 2, P, 6, 6)
        rev_k = rev[kept]
        msc5 = np.where(rev_k, sc3, sc5)
        msc3 = np.where(rev_k, sc5, sc3)
        length = length_all[kept]
        insert = insert_all[kept]
        kflag = flag[kept]
        sel = np.flatnonzero(keep)
        self._add_counts(
            batch_tids, counts, lt[sel], rev_k[sel], msc5[sel], msc3[sel], kflag[sel], span[sel]
        )
        for source, which in (("read", ~insert[sel]), ("insert", insert[sel])):
            if which.any():
                hist = np.bincount(length[sel][which])
                prev = self.result.length_counts.get(source)
                if prev is not None:
                    size = max(len(prev), len(hist))
                    hist = np.pad(hist, (0, size - len(hist))) + np.pad(
                        prev, (0, size - len(prev))
                    )
                self.result.length_counts[source] = hist
        self.result.n_kept += len(sel)

        strand = np.where(rev_k, ord("-"), ord("+")).astype(np.uint8)
        names = _strings(records.name, records.name_off)
        table = pa.RecordBatch.from_arrays(
            [
                pa.array(rec0 + kept),
                names if n == n_all else names.take(pa.array(kept)),
                _repeated(self.sample, n),
                pa.DictionaryArray.from_arrays(
                    pa.array(ktid.astype(np.int32)), pa.array(contigs, type=pa.string())
                ).cast(pa.string()),
                pa.array(pos[kept]),
                pa.array(mapq[kept].astype(np.int16)),
                pa.array(kflag.astype(np.int32)),
                _strings(strand, np.arange(n + 1)),
                pa.array(qlen.astype(np.int32)),
                pa.array(length.astype(np.int32)),
                pa.DictionaryArray.from_arrays(pa.array(insert.astype(np.int32)), _SOURCES).cast(
                    pa.string()
                ),
                pa.array(gc),
                pa.array(n_mism),
                _strings(out_seq, out_off),
                _strings(out_ref, out_off),
                _strings(out_qual, out_off),
                _strings(ms5, k_off),
                _strings(ms3, k_off),
            ],
            schema=READ_TABLE_SCHEMA,
        )
        return table if len(sel) == n else table.filter(pa.array(keep))

    def _raise(self, j, kept, records, rec0, status, info, contig, reference) -> None:
        """Raise the InputError of the first fatal read ``j`` of a kernel call."""
        i = int(kept[j])
        name, record = records.text("name", i), rec0 + i + 1
        cigar = records.text("cigar", i)
        code = int(status[j])
        if code == _kernels.BAD_MD:
            raise InputError(
                f"{self.where}: read {name!r} (record {record}): MD tag {records.text('md', i)!r} disagrees "
                f"with the CIGAR (covers {info[j, 0]} reference bases, CIGAR {info[j, 1]}); "
                f"recompute it with `samtools calmd`, give the reference FASTA in the sample "
                f"sheet, or set ancient_dna.extraction.bad_md: skip"
            )
        if code == _kernels.BAD_OP:
            raise InputError(
                f"{self.where}: read {name!r} (record {record}) has unsupported CIGAR operation "
                f"{chr(info[j, 0])!r} (CIGAR {cigar})"
            )
        if code == _kernels.SKIP_NO_REF:
            raise InputError(
                f"{self.where}: read {name!r} (record {record}) has unsupported CIGAR operation 3 "
                f"(N, reference skip) and no reference FASTA is given (CIGAR {cigar})"
            )
        if code == _kernels.BAD_QLEN:
            raise InputError(
                f"{self.where}: read {name!r} (record {record}): its CIGAR {cigar} covers "
                f"{info[j, 0]} read bases but the read has {info[j, 1]}"
            )
        raise InputError(
            f"{self.where}: a read extends past the end of contig {contig!r} ({info[j, 0]} bp) "
            f"in the reference {reference.path}: read {name!r} (record {record})"
        )

    def _add_counts(self, batch_tids, counts, lt, rev, msc5, msc3, flag, span) -> None:
        """Add one batch's per-contig counts, soft clips and aligned lengths to the result."""
        res = self.result
        K = self.settings.damage_positions
        P = counts.shape[3]
        res.damage_counts += counts[:, :, :, :K].sum(axis=0)
        # soft clips: position i of an end counts reads clipped there by more than i bases
        strand = rev.astype(np.int64)
        clips = np.zeros((len(batch_tids), 2, 2, P + 1), dtype=np.int64)
        for end, clip in ((0, msc5), (1, msc3)):
            sel = clip > 0
            if sel.any():
                key = ((lt[sel] * 2 + end) * 2 + strand[sel]) * (P + 1) + np.minimum(clip[sel], P)
                clips += np.bincount(key, minlength=clips.size).reshape(clips.shape)
        clipped = np.cumsum(clips[..., ::-1], axis=-1)[..., ::-1][..., 1:]
        for j, t in enumerate(batch_tids.tolist()):
            if t in res.contig_counts:
                res.contig_counts[t] += counts[j]
                res.soft_clips[t] += clipped[j]
            else:
                res.contig_counts[t] = counts[j].copy()
                res.soft_clips[t] = clipped[j].copy()
        # reference span of unpaired reads per strand, keys in order of first occurrence
        unpaired = (flag & 0x1) == 0
        for s_code, s_name in ((0, "+"), (1, "-")):
            values = span[unpaired & (strand == s_code)]
            if not len(values):
                continue
            uniq, first, n = np.unique(values, return_index=True, return_counts=True)
            order = np.argsort(first, kind="stable")
            table = res.aligned_lengths[s_name]
            for length, c in zip(uniq[order].tolist(), n[order].tolist()):
                table[length] = table.get(length, 0) + c


ROW_GROUP_ROWS = 16384
"""Reads per row group of the per-read parquet table (about 9 MB of per-read strings; larger row
groups cost the writer less CPU but raise the peak memory)."""


def extract_to_parquet(
    bam_path,
    sample: str,
    out_path,
    reference=None,
    index=None,
    settings: ExtractionSettings | None = None,
    require_index: bool = False,
) -> ExtractionResult:
    """Stream a BAM into a per-read parquet table; return the damage and length counts.

    The table is written to a temporary file renamed at the end, so a failure leaves no partial
    output. Memory is bounded by ``settings.batch_size`` reads (plus one reference contig).

    Args:
        bam_path: coordinate-sorted BAM (index optional).
        sample: sample name.
        out_path: parquet path (schema :data:`READ_TABLE_SCHEMA`).
        reference: FASTA path or None (MD tags).
        index: explicit index path or None.
        settings: read filter.
        require_index: raise if no index is found.

    Returns:
        :class:`ExtractionResult`.

    Raises:
        InputError: see :class:`Extractor`.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.part")
    extractor = Extractor(bam_path, sample, reference, index, settings, require_index)
    # the cyclic garbage collector is paused for the whole pass (batches, Arrow tables and the
    # writer allocate no reference cycles; a collection would rescan every object of the process)
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        # dictionary encoding only where values repeat (per-read strings would fall back anyway);
        # no min/max statistics on the per-base string columns (nothing filters on them)
        codec = extractor.settings.table_compression
        with pq.ParquetWriter(
            tmp,
            READ_TABLE_SCHEMA,
            compression=codec,
            compression_level=1 if codec == "zstd" else None,
            use_dictionary=["sample", "contig", "strand", "length_source"],
            write_statistics=[
                "record",
                "sample",
                "contig",
                "start",
                "mapq",
                "flag",
                "strand",
                "read_length",
                "length",
                "length_source",
                "gc",
                "n_mismatches",
            ],
        ) as writer:
            # one row group per ROW_GROUP_ROWS reads, not per batch: the writer's fixed cost per
            # column chunk is paid about 3x less often; memory stays bounded by one row group
            pending, n_pending = [], 0
            for batch in extractor.batches():
                pending.append(batch)
                n_pending += batch.num_rows
                if n_pending >= ROW_GROUP_ROWS:
                    writer.write_table(pa.Table.from_batches(pending, schema=READ_TABLE_SCHEMA))
                    pending, n_pending = [], 0
            if pending:
                writer.write_table(pa.Table.from_batches(pending, schema=READ_TABLE_SCHEMA))
        os.replace(tmp, out_path)
    finally:
        if gc_was_on:
            gc.enable()
        if tmp.exists():
            tmp.unlink()
    return extractor.result


def extract_table(
    bam_path, sample: str, reference=None, index=None, settings=None, require_index=False
):
    """In-memory variant of :func:`extract_to_parquet`: (pyarrow.Table, ExtractionResult)."""
    extractor = Extractor(bam_path, sample, reference, index, settings, require_index)
    batches = list(extractor.batches())
    return pa.Table.from_batches(batches, schema=READ_TABLE_SCHEMA), extractor.result


def count_damage(
    bam_path, sample: str, reference=None, index=None, settings=None
) -> ExtractionResult:
    """Damage and length counts only (the table batches are built and dropped); for benchmarks/tests."""
    extractor = Extractor(bam_path, sample, reference, index, settings)
    for _ in extractor.batches():
        pass
    return extractor.result
