"""Streaming read extraction: one pass over a BAM gives the per-read table and the damage counts.

The BAM is read sequentially with pysam (no index needed). A lean per-read loop copies the raw
fields (flag, position, CIGAR, sequence, qualities, MD) into batch lists; everything per base is
then done on whole batches with numpy: reference lookup, MD decoding, reverse complement to molecule
orientation, GC, mismatch counts and the mapDamage-style misincorporation counts. Reads with
insertions/deletions (a few per cent) take a per-read path over their CIGAR operations (per
operation, never per base in Python).

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

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genomelearn.adna.bamcheck import open_bam
from genomelearn.errors import InputError
from genomelearn.io.fasta import open_fasta

# base codes used everywhere in this package
A, C, G, T, N, GAP = 0, 1, 2, 3, 4, 5
CODE_LUT = np.full(256, N, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    CODE_LUT[ord(_b)] = _i
    CODE_LUT[ord(_b.lower())] = _i
CODE_LUT[ord("-")] = GAP
COMPLEMENT_CODE = np.array([T, G, C, A, N, GAP], dtype=np.uint8)
COMPLEMENT_ASCII = np.arange(256, dtype=np.uint8)
for _a, _b in zip("ACGTNacgtn", "TGCANtgcan"):
    COMPLEMENT_ASCII[ord(_a)] = ord(_b)
UPPER_ASCII = np.arange(256, dtype=np.uint8)
UPPER_ASCII[ord("a") : ord("z") + 1] -= 32

FILTERED_FLAGS = (
    0x4 | 0x100 | 0x200 | 0x400 | 0x800
)  # unmapped, secondary, QC fail, duplicate, supplementary
_ALIGN_OPS = (0, 7, 8)  # M, =, X
_MD_TOKEN = re.compile(r"(\d+)|(\^[A-Za-z]+)|([A-Za-z])")

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


@dataclass(frozen=True)
class ExtractionSettings:
    """Read filter and batching.

    Attributes:
        min_mapq: minimum mapping quality (0 keeps all).
        min_length: minimum fragment length in bp (``length`` column).
        damage_positions: positions from each end in the damage counts and mismatch strings.
        batch_size: reads per vectorised batch (bounds memory).
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
    """

    min_mapq: int = 25
    min_length: int = 30
    damage_positions: int = 25
    batch_size: int = 5000
    bad_md: str = "error"
    require_proper_pair: bool = True
    filters: str = "config"
    mapdamage_length: int = 70

    def __post_init__(self):
        if self.bad_md not in ("error", "skip"):
            raise ValueError(f"bad_md must be 'error' or 'skip', got {self.bad_md!r}")
        if self.damage_positions < 1 or self.batch_size < 1 or self.mapdamage_length < 1:
            raise ValueError("damage_positions, mapdamage_length and batch_size must be >= 1")
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


def _ragged_index(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for each (s, l), as int64 (no Python loop)."""
    lengths = lengths.astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return np.repeat(starts.astype(np.int64) - offsets, lengths) + np.arange(total, dtype=np.int64)


def _segment_ids(lengths: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(lengths), dtype=np.int64), lengths.astype(np.int64))


def _md_reference_fast(
    seq: np.ndarray, ref: np.ndarray, md_list, aligned_idx_start, aligned_len, names, where
):
    """Fill ``ref`` at the aligned bases of reads without indels from their MD tags (vectorised).

    For reads whose CIGAR has no insertion or deletion the MD tag is an alternation of match counts
    and single mismatching reference letters. ``ref`` is first a copy of the read bases at aligned
    positions; each MD letter then overwrites the base at its offset (sum of the preceding counts and
    letters) from the first aligned base.
    """
    if not md_list:
        return
    md_bytes = np.frombuffer("".join(md_list).encode("ascii"), dtype=np.uint8)
    md_len = np.fromiter((len(m) for m in md_list), dtype=np.int64, count=len(md_list))
    md_off = np.zeros(len(md_list) + 1, dtype=np.int64)
    np.cumsum(md_len, out=md_off[1:])
    read_of_byte = _segment_ids(md_len)
    is_digit = (md_bytes >= 48) & (md_bytes <= 57)
    is_alpha = ((md_bytes >= 65) & (md_bytes <= 90)) | ((md_bytes >= 97) & (md_bytes <= 122))
    bad = ~(is_digit | is_alpha)
    if bad.any():
        i = int(read_of_byte[np.flatnonzero(bad)[0]])
        raise InputError(
            f"{where}: read {names[i]!r}: MD tag {md_list[i]!r} has a deletion or an invalid character "
            f"but the CIGAR has no deletion (MD inconsistent with CIGAR)"
        )
    starts_read = np.zeros(len(md_bytes), dtype=bool)
    starts_read[md_off[:-1][md_len > 0]] = True
    prev_digit = np.concatenate([[False], is_digit[:-1]])
    run_start = is_digit & (~prev_digit | starts_read)
    run_id = np.cumsum(run_start) - 1
    run_starts = np.flatnonzero(run_start)
    # run end (exclusive) for each run = next non-digit or read boundary
    run_lengths = np.bincount(run_id[is_digit], minlength=len(run_starts))
    exponent = (run_starts[run_id[is_digit]] + run_lengths[run_id[is_digit]] - 1) - np.flatnonzero(
        is_digit
    )
    digit_values = (md_bytes[is_digit].astype(np.int64) - 48) * (10 ** exponent.astype(np.int64))
    run_values = np.bincount(
        run_id[is_digit], weights=digit_values, minlength=len(run_starts)
    ).astype(np.int64)
    letters = np.flatnonzero(is_alpha)
    # token stream in byte order: runs advance by their value, letters by one
    token_pos = np.concatenate([run_starts, letters])
    token_adv = np.concatenate([run_values, np.ones(len(letters), dtype=np.int64)])
    token_is_letter = np.concatenate(
        [np.zeros(len(run_starts), bool), np.ones(len(letters), bool)]
    )
    order = np.argsort(token_pos, kind="stable")
    token_pos, token_adv, token_is_letter = (
        token_pos[order],
        token_adv[order],
        token_is_letter[order],
    )
    token_read = read_of_byte[token_pos]
    cum = np.cumsum(token_adv)
    before = cum - token_adv
    first_token = np.searchsorted(token_read, np.arange(len(md_list)), side="left")
    has_tokens = first_token < len(token_read)
    read_base = np.zeros(len(md_list), dtype=np.int64)
    read_base[has_tokens] = before[first_token[has_tokens]]
    offset_in_read = before - read_base[token_read]
    totals = np.bincount(token_read, weights=token_adv, minlength=len(md_list)).astype(np.int64)
    wrong = np.flatnonzero(totals != aligned_len)
    if len(wrong):
        i = int(wrong[0])
        raise InputError(
            f"{where}: read {names[i]!r}: MD tag {md_list[i]!r} covers {totals[i]} bases but the CIGAR "
            f"aligns {aligned_len[i]} (MD inconsistent with CIGAR; recompute it with `samtools calmd` "
            f"or give the reference FASTA in the sample sheet)"
        )
    li = token_is_letter
    target = aligned_idx_start[token_read[li]] + offset_in_read[li]
    ref[target] = UPPER_ASCII[md_bytes[token_pos[li]]]


def _md_reference_span(md: str, read_aligned: bytes, name: str, where: str) -> tuple[bytes, list]:
    """Reference bases of the aligned span rebuilt from an MD tag (per-read path, any CIGAR).

    Args:
        md: MD tag value.
        read_aligned: read bases at M/=/X positions, in order.
    Returns:
        (reference bases over M/=/X and D positions in reference order, list of deletion lengths).
    """
    out = []
    i = 0
    for number, deletion, letter in _MD_TOKEN.findall(md):
        if number:
            n = int(number)
            out.append(read_aligned[i : i + n])
            i += n
        elif deletion:
            out.append(deletion[1:].upper().encode("ascii"))
        else:
            out.append(letter.upper().encode("ascii"))
            i += 1
    if i != len(read_aligned) or "".join(t for tok in _MD_TOKEN.findall(md) for t in tok) != md:
        raise InputError(
            f"{where}: read {name!r}: MD tag {md!r} is inconsistent with the CIGAR "
            f"({i} aligned bases in MD, {len(read_aligned)} in CIGAR)"
        )
    return b"".join(out)


class _Batch:
    """Raw per-read fields of one batch, filled by the streaming loop.

    ``rows`` holds one tuple per read: (record, name, flag, tid, pos, mapq, length, insert, seq,
    qual, sc5, sc3); ``slow`` maps the row index of reads with indels to their CIGAR; ``md`` holds
    MD tags (only when no reference is given).
    """

    __slots__ = ("md", "rows", "slow")

    def __init__(self):
        self.rows = []
        self.slow = {}
        self.md = []

    def __len__(self):
        return len(self.rows)


def _cigar_clips(cigar) -> tuple[int, int, bool]:
    """(leading soft clip, trailing soft clip, simple) where simple = one M/=/X block between clips."""
    n = len(cigar)
    if n == 1:
        op = cigar[0][0]
        return 0, 0, op in _ALIGN_OPS
    lo, hi = 0, n
    while lo < hi and cigar[lo][0] == 5:
        lo += 1
    while hi > lo and cigar[hi - 1][0] == 5:
        hi -= 1
    sc5 = sc3 = 0
    if lo < hi and cigar[lo][0] == 4:
        sc5 = cigar[lo][1]
        lo += 1
    if hi > lo and cigar[hi - 1][0] == 4:
        sc3 = cigar[hi - 1][1]
        hi -= 1
    return sc5, sc3, (hi - lo == 1 and cigar[lo][0] in _ALIGN_OPS)


class Extractor:
    """One streaming pass over a BAM: per-read tables (batches) and damage/length counts.

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
            disagrees with the CIGAR; no read passing the filter; fewer mapped records than the
            index reports (truncated file).
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
        self._bad_md_skipped = 0
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
            filtered = {
                "unmapped": 0,
                "secondary/supplementary": 0,
                "duplicate": 0,
                "qc_fail": 0,
                "mapq": 0,
                "improper_pair": 0,
                "length": 0,
                "no_sequence": 0,
                "bad_md": 0,
            }
            proper_only = s.require_proper_pair
            skip_no_md = s.bad_md == "skip"
            checked_contigs = set()
            batch = _Batch()
            last_tid, last_pos = -1, -1
            n_records = 0
            n_mapped = 0
            min_mapq, min_length = s.min_mapq, s.min_length
            for read in bam.fetch(until_eof=True):
                record = n_records
                n_records += 1
                flag = read.flag
                tid = read.reference_id
                if tid >= 0:
                    pos = read.reference_start
                    if tid < last_tid or (tid == last_tid and pos < last_pos):
                        raise InputError(
                            f"{self.where}: BAM is not coordinate-sorted: record {record + 1} "
                            f"({read.query_name} at {contigs[tid]}:{pos + 1}) comes after "
                            f"{contigs[last_tid]}:{last_pos + 1}; sort it with `samtools sort`"
                        )
                    last_tid, last_pos = tid, pos
                elif not flag & 0x4:
                    raise InputError(
                        f"{self.where}: record {record + 1} ({read.query_name}) is mapped without a contig"
                    )
                if flag & FILTERED_FLAGS:
                    if flag & 0x4:
                        filtered["unmapped"] += 1
                    elif flag & 0x900:
                        n_mapped += 1
                        filtered["secondary/supplementary"] += 1
                    elif flag & 0x400:
                        n_mapped += 1
                        filtered["duplicate"] += 1
                    else:
                        n_mapped += 1
                        filtered["qc_fail"] += 1
                    continue
                n_mapped += 1
                if read.mapping_quality < min_mapq:
                    filtered["mapq"] += 1
                    continue
                qlen = read.query_length
                if qlen == 0:
                    filtered["no_sequence"] += 1
                    continue
                tlen = read.template_length
                if flag & 0x3 == 0x3 and tlen != 0:
                    length = tlen if tlen > 0 else -tlen
                    insert = True
                elif flag & 0x1 and proper_only:
                    filtered["improper_pair"] += 1
                    continue
                else:
                    length = qlen
                    insert = False
                if length < min_length:
                    filtered["length"] += 1
                    continue
                if tid not in checked_contigs:
                    if reference is not None:
                        reference.check_contig(contigs[tid], contig_lengths[tid])
                    checked_contigs.add(tid)
                if use_md:
                    try:
                        md = read.get_tag("MD")
                    except KeyError:
                        if skip_no_md:
                            filtered["bad_md"] += 1
                            continue
                        raise InputError(
                            f"{self.where}: read {read.query_name!r} (record {record + 1}) has no MD tag and no "
                            f"reference FASTA is given in the sample sheet; add MD tags with `samtools calmd`, "
                            f"give the reference, or set ancient_dna.extraction.bad_md: skip"
                        ) from None
                    batch.md.append(md)
                cigar = read.cigartuples
                if len(cigar) == 1 and cigar[0][0] == 0:
                    sc5 = sc3 = 0
                else:
                    sc5, sc3, simple = _cigar_clips(cigar)
                    if not simple:
                        batch.slow[len(batch.rows)] = cigar
                batch.rows.append(
                    (
                        record,
                        read.query_name,
                        flag,
                        tid,
                        pos,
                        read.mapping_quality,
                        length,
                        insert,
                        read.query_sequence,
                        read.query_qualities_str or "?" * qlen,
                        sc5,
                        sc3,
                    )
                )
                if len(batch.rows) >= s.batch_size:
                    yield self._process(batch, contigs, reference)
                    batch = _Batch()
            if len(batch.rows):
                yield self._process(batch, contigs, reference)
            if n_records == 0:
                raise InputError(f"{self.where}: BAM contains no alignment records (empty BAM)")
            if expected_mapped is not None and n_mapped < expected_mapped:
                raise InputError(
                    f"{self.where}: only {n_mapped} mapped records could be read but the index "
                    f"{index_path} reports {expected_mapped}: truncated BAM or stale index"
                )
            self.result.n_records = n_records
            filtered["bad_md"] += self._bad_md_skipped
            self.result.filtered = filtered
            if self.result.n_kept == 0:
                reasons = ", ".join(f"{k} {v}" for k, v in filtered.items() if v)
                raise InputError(
                    f"{self.where}: none of the {n_records} records passed the read filter "
                    f"(MAPQ >= {min_mapq}, length >= {min_length}; filtered: {reasons})"
                )
        finally:
            bam.close()
            if reference is not None:
                reference.close()

    # ------------------------------------------------------------------ vectorised batch work
    def _check_md(self, b: _Batch) -> _Batch:
        """Drop (``bad_md: skip``) or report (``error``) reads whose MD tag disagrees with the CIGAR.

        The MD tag must cover the M/=/X and D columns of the CIGAR exactly (match counts + mismatch
        letters + deleted letters) and may hold deletions only when the CIGAR has some.
        """
        md_bytes = np.frombuffer("".join(b.md).encode("ascii"), dtype=np.uint8)
        md_len = np.fromiter(map(len, b.md), dtype=np.int64, count=len(b.md))
        read_of_byte = _segment_ids(md_len)
        is_digit = (md_bytes >= 48) & (md_bytes <= 57)
        is_alpha = ((md_bytes >= 65) & (md_bytes <= 90)) | ((md_bytes >= 97) & (md_bytes <= 122))
        is_caret = md_bytes == ord("^")
        n_letters = np.bincount(read_of_byte[is_alpha], minlength=len(b.md))
        n_caret = np.bincount(read_of_byte[is_caret], minlength=len(b.md))
        n_other = np.bincount(read_of_byte[~(is_digit | is_alpha | is_caret)], minlength=len(b.md))
        starts = np.zeros(len(md_bytes), dtype=bool)
        starts[np.cumsum(md_len)[:-1][md_len[1:] > 0]] = True
        prev_digit = np.concatenate([[False], is_digit[:-1]])
        run_start = is_digit & (~prev_digit | starts)
        run_id = np.cumsum(run_start) - 1
        digit_idx = np.flatnonzero(is_digit)
        run_starts = np.flatnonzero(run_start)
        run_len = np.bincount(run_id[is_digit], minlength=len(run_starts))
        exponent = run_starts[run_id[is_digit]] + run_len[run_id[is_digit]] - 1 - digit_idx
        values = (md_bytes[is_digit].astype(np.int64) - 48) * 10**exponent
        n_matched = np.bincount(
            read_of_byte[digit_idx], weights=values, minlength=len(b.md)
        ).astype(np.int64)
        md_span = n_matched + n_letters
        qlen_sc = np.array([(len(r[8]) - r[10] - r[11]) for r in b.rows], dtype=np.int64)
        expected = qlen_sc.copy()
        has_del = np.zeros(len(b.rows), dtype=bool)
        for i, cigar in b.slow.items():
            expected[i] = sum(length for op, length in cigar if op in (0, 2, 7, 8))
            has_del[i] = any(op == 2 for op, _ in cigar)
        bad = (md_span != expected) | (n_other > 0) | ((n_caret > 0) & ~has_del)
        if not bad.any():
            return b
        if self.settings.bad_md != "skip":
            i = int(np.flatnonzero(bad)[0])
            record, name = b.rows[i][0], b.rows[i][1]
            raise InputError(
                f"{self.where}: read {name!r} (record {record + 1}): MD tag {b.md[i]!r} disagrees with the CIGAR "
                f"(covers {md_span[i]} reference bases, CIGAR {expected[i]}); recompute it with `samtools calmd`, "
                f"give the reference FASTA in the sample sheet, or set ancient_dna.extraction.bad_md: skip"
            )
        keep = np.flatnonzero(~bad)
        self._bad_md_skipped += int(bad.sum())
        out = _Batch()
        remap = {int(old): new for new, old in enumerate(keep)}
        out.rows = [b.rows[i] for i in keep]
        out.md = [b.md[i] for i in keep]
        out.slow = {remap[i]: c for i, c in b.slow.items() if i in remap}
        return out

    def _process(self, b: _Batch, contigs, reference: Reference | None) -> pa.RecordBatch:
        k = self.settings.damage_positions
        if reference is None:
            b = self._check_md(b)
        n = len(b)
        if n == 0:
            return pa.RecordBatch.from_pylist([], schema=READ_TABLE_SCHEMA)
        (record, names, flag, tid, pos, mapq, length, insert, seqs, quals, sc5, sc3) = zip(*b.rows)
        qlen = np.fromiter(map(len, seqs), dtype=np.int64, count=n)
        off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(qlen, out=off[1:])
        total = int(off[-1])
        seq = UPPER_ASCII[np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)]
        qual = np.frombuffer("".join(quals).encode("ascii"), dtype=np.uint8)
        if len(seq) != total or len(qual) != total:
            raise InputError(
                f"{self.where}: a read in records {record[0] + 1}..{record[-1] + 1} has "
                f"qualities of another length than its sequence"
            )
        flag = np.array(flag, dtype=np.int32)
        rev = (flag & 0x10) != 0
        tid = np.array(tid, dtype=np.int64)
        pos = np.array(pos, dtype=np.int64)
        sc5 = np.array(sc5, dtype=np.int64)
        sc3 = np.array(sc3, dtype=np.int64)
        length = np.array(length, dtype=np.int64)
        insert = np.array(insert, dtype=bool)
        fast = np.ones(n, dtype=bool)
        if b.slow:
            fast[list(b.slow)] = False
        alen = qlen - sc5 - sc3
        ref = np.full(total, ord("-"), dtype=np.uint8)

        # --- reference of fast reads (one aligned block between optional soft clips)
        fi = np.flatnonzero(fast)
        aligned_idx = _ragged_index(off[fi] + sc5[fi], alen[fi])
        if reference is not None:
            tids = np.unique(tid[fi])
            if len(tids) == 1:
                contig_arr = reference.array(contigs[tids[0]])
                ref_coord = _ragged_index(pos[fi], alen[fi])
                if len(ref_coord) and ref_coord.max() >= len(contig_arr):
                    raise InputError(
                        f"{self.where}: a read extends past the end of contig {contigs[tids[0]]!r} "
                        f"({len(contig_arr)} bp) in the reference {reference.path}"
                    )
                ref[aligned_idx] = contig_arr[ref_coord]
            else:
                read_tid = np.repeat(tid[fi], alen[fi])
                ref_coord = _ragged_index(pos[fi], alen[fi])
                for t in tids:
                    contig_arr = reference.array(contigs[t])
                    sel = read_tid == t
                    coords = ref_coord[sel]
                    if len(coords) and coords.max() >= len(contig_arr):
                        raise InputError(
                            f"{self.where}: a read extends past the end of contig {contigs[t]!r} "
                            f"({len(contig_arr)} bp) in the reference {reference.path}"
                        )
                    ref[aligned_idx[sel]] = contig_arr[coords]
        else:
            ref[aligned_idx] = seq[aligned_idx]
            md = b.md if not b.slow else [b.md[i] for i in fi]
            _md_reference_fast(
                seq,
                ref,
                md,
                off[fi] + sc5[fi],
                alen[fi],
                names if not b.slow else [names[i] for i in fi],
                self.where,
            )

        # --- counts of this batch per contig present (local index lt), P positions from each end
        P = self.settings.counted_positions
        batch_tids, lt = np.unique(tid, return_inverse=True)
        counts = np.zeros((len(batch_tids), 2, 2, P, 6, 6), dtype=np.int64)

        # --- slow reads (indels): reference and damage columns per CIGAR operation
        span = alen.copy()  # reference span of the alignment (mapDamage's read length)
        if b.slow:
            self._slow_reads(
                b.slow,
                names,
                b.md,
                seq,
                ref,
                off,
                pos,
                tid,
                contigs,
                reference,
                rev,
                counts,
                lt,
                P,
            )
            for i, cigar in b.slow.items():
                span[i] = sum(length for op, length in cigar if op in (0, 2, 3, 7, 8))

        # --- molecule orientation: reverse-complement reverse-strand reads (forward reads copied)
        seq_m, ref_m, qual_m = seq.copy(), ref.copy(), qual.copy()
        ri = np.flatnonzero(rev)
        if len(ri):
            within = _ragged_index(np.zeros(len(ri), dtype=np.int64), qlen[ri])
            dst = np.repeat(off[ri], qlen[ri]) + within
            src = np.repeat(off[ri] + qlen[ri] - 1, qlen[ri]) - within
            seq_m[dst] = COMPLEMENT_ASCII[seq[src]]
            ref_m[dst] = COMPLEMENT_ASCII[ref[src]]
            qual_m[dst] = qual[src]
        sc_m = CODE_LUT[seq_m]
        rc_m = CODE_LUT[ref_m]

        # --- per-read summaries
        starts = off[:-1]
        acgt = sc_m < N
        mism_m = acgt & (rc_m < N) & (sc_m != rc_m)
        gc_n = np.add.reduceat((sc_m == C) | (sc_m == G), starts, dtype=np.int32)
        acgt_n = np.add.reduceat(acgt, starts, dtype=np.int32)
        n_mism = np.add.reduceat(mism_m, starts, dtype=np.int32)
        with np.errstate(invalid="ignore", divide="ignore"):
            gc = np.where(acgt_n > 0, gc_n / np.maximum(acgt_n, 1), np.nan).astype(np.float32)

        # --- damage counts of fast reads (alignment columns = aligned read bases)
        msc5_all = np.where(rev, sc3, sc5)
        msc3_all = np.where(rev, sc5, sc3)
        if len(fi):
            # one code per base: reference code * 6 + read code; 36 where either is N (dropped), also
            # at the sentinel index `total` that positions beyond a read's aligned length point to
            pair = np.empty(total + 1, dtype=np.int64)
            pair[:total] = rc_m * np.uint8(6) + sc_m
            pair[:total][(rc_m == N) | (sc_m == N)] = 36
            pair[total] = 36
            p = np.arange(P, dtype=np.int64)
            invalid = p[None, :] >= alen[fi, None]
            # key = ((((contig * 2 + end) * 2 + strand) * P + position) * 37 + pair code
            row_key = ((lt[fi] * 4 + rev[fi]) * P)[:, None] * 37 + p[None, :] * 37
            first = off[fi] + msc5_all[fi]
            last = off[fi] + qlen[fi] - msc3_all[fi] - 1
            counts37 = np.zeros(len(batch_tids) * 4 * P * 37, dtype=np.int64)
            for end, idx in ((0, first[:, None] + p[None, :]), (1, last[:, None] - p[None, :])):
                idx[invalid] = total
                key = row_key + pair[idx]
                if end:
                    key += 2 * P * 37
                counts37 += np.bincount(key.ravel(), minlength=counts37.size)
            counts += counts37.reshape(len(batch_tids), 2, 2, P, 37)[..., :36].reshape(
                counts.shape
            )
        self._add_counts(batch_tids, counts, lt, rev, msc5_all, msc3_all, flag, span)

        # --- mismatch strings at both ends (per read base, molecule orientation)
        ms = np.full(total, ord("."), dtype=np.uint8)
        ms[mism_m] = ref_m[mism_m]
        ms[rc_m == GAP] = ord("-")
        ms[(rc_m == N) | (sc_m == N)] = ord("N")
        kk = np.minimum(qlen, k)
        within_k = _ragged_index(np.zeros(n, dtype=np.int64), kk)
        idx5 = np.repeat(off[:-1], kk) + within_k
        idx3 = np.repeat(off[1:] - 1, kk) - within_k
        koff = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(kk, out=koff[1:])

        # --- fragment lengths
        for source, sel in (("read", ~insert), ("insert", insert)):
            if sel.any():
                hist = np.bincount(length[sel])
                prev = self.result.length_counts.get(source)
                if prev is not None:
                    size = max(len(prev), len(hist))
                    hist = np.pad(hist, (0, size - len(hist))) + np.pad(
                        prev, (0, size - len(prev))
                    )
                self.result.length_counts[source] = hist
        self.result.n_kept += n

        def strings(data: np.ndarray, offsets: np.ndarray) -> pa.Array:
            return pa.StringArray.from_buffers(
                len(offsets) - 1,
                pa.py_buffer(offsets.astype(np.int32)),
                pa.py_buffer(np.ascontiguousarray(data)),
            )

        contig_names = pa.DictionaryArray.from_arrays(
            pa.array(tid.astype(np.int32)), pa.array(list(contigs))
        )
        return pa.RecordBatch.from_arrays(
            [
                pa.array(np.array(record, dtype=np.int64)),
                pa.array(names, type=pa.string()),
                pa.array([self.sample] * n, type=pa.string()),
                contig_names.cast(pa.string()),
                pa.array(pos),
                pa.array(np.array(mapq, dtype=np.int16)),
                pa.array(flag),
                pa.array(np.where(rev, "-", "+").astype(object), type=pa.string()),
                pa.array(qlen.astype(np.int32)),
                pa.array(length.astype(np.int32)),
                pa.array(np.where(insert, "insert", "read").astype(object), type=pa.string()),
                pa.array(gc),
                pa.array(n_mism),
                strings(seq_m, off),
                strings(ref_m, off),
                strings(qual_m, off),
                strings(ms[idx5], koff),
                strings(ms[idx3], koff),
            ],
            schema=READ_TABLE_SCHEMA,
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

    def _slow_reads(
        self,
        slow: dict,
        names,
        md_tags,
        seq,
        ref,
        off,
        pos,
        tid,
        contigs,
        reference,
        rev,
        counts,
        lt,
        k,
    ):
        """Reads with indels (or several aligned blocks), all at once: reference per read base and
        mapDamage alignment columns, vectorised over CIGAR operations."""
        rows = np.fromiter(slow.keys(), dtype=np.int64, count=len(slow))
        op_read, op_kind, op_len = [], [], []
        for i, cigar in slow.items():
            for op, length in cigar:
                op_read.append(i)
                op_kind.append(op)
                op_len.append(length)
        op_read = np.array(op_read, dtype=np.int64)
        op_kind = np.array(op_kind, dtype=np.int64)
        op_len = np.array(op_len, dtype=np.int64)
        bad = op_kind > 8
        if bad.any() or (reference is None and (op_kind == 3).any()):
            j = int(np.flatnonzero(bad | ((op_kind == 3) & (reference is None)))[0])
            raise InputError(
                f"{self.where}: read {names[op_read[j]]!r} has unsupported CIGAR operation {op_kind[j]}"
            )
        q_adv = np.where(np.isin(op_kind, (0, 1, 4, 7, 8)), op_len, 0)
        r_adv = np.where(np.isin(op_kind, (0, 2, 3, 7, 8)), op_len, 0)
        first = np.searchsorted(op_read, rows)  # ops are grouped by read in insertion order
        group = np.searchsorted(rows, op_read)
        cq = np.cumsum(q_adv) - q_adv
        cr = np.cumsum(r_adv) - r_adv
        q_start = off[op_read] + cq - cq[first[group]]
        r_start = pos[op_read] + cr - cr[first[group]]
        if reference is None:
            # reference bases of each read's aligned span (M/=/X and D columns), rebuilt from MD
            spans = []
            for i in rows.tolist():
                m_sel = (op_read == i) & np.isin(op_kind, _ALIGN_OPS)
                qidx = _ragged_index(q_start[m_sel], op_len[m_sel])
                spans.append(
                    _md_reference_span(md_tags[i], seq[qidx].tobytes(), names[i], self.where)
                )
            span_len = np.fromiter(map(len, spans), dtype=np.int64, count=len(spans))
            span_off = np.zeros(len(spans), dtype=np.int64)
            np.cumsum(span_len[:-1], out=span_off[1:])
            span_flat = np.frombuffer(b"".join(spans), dtype=np.uint8)

        def ref_bases(read_of_base: np.ndarray, coord: np.ndarray) -> np.ndarray:
            if reference is None:
                g = np.searchsorted(rows, read_of_base)
                return span_flat[span_off[g] + coord - pos[read_of_base]]
            out = np.empty(len(coord), dtype=np.uint8)
            base_tid = tid[read_of_base]
            for t in np.unique(base_tid):
                contig_arr = reference.array(contigs[t])
                sel = base_tid == t
                if coord[sel].max(initial=-1) >= len(contig_arr):
                    raise InputError(
                        f"{self.where}: a read extends past the end of contig {contigs[t]!r}"
                    )
                out[sel] = contig_arr[coord[sel]]
            return out

        m = np.isin(op_kind, _ALIGN_OPS)
        qpos = _ragged_index(q_start[m], op_len[m])
        rpos = _ragged_index(r_start[m], op_len[m])
        ref[qpos] = ref_bases(np.repeat(op_read[m], op_len[m]), rpos)

        # alignment columns (M/=/X, I, D), in read order
        cm = np.isin(op_kind, (0, 1, 2, 7, 8))
        c_kind = np.repeat(op_kind[cm], op_len[cm])
        c_read = np.repeat(op_read[cm], op_len[cm])
        c_q = _ragged_index(q_start[cm], op_len[cm])
        c_r = _ragged_index(r_start[cm], op_len[cm])
        col_read_base = np.where(c_kind == 2, ord("-"), seq[np.where(c_kind == 2, 0, c_q)]).astype(
            np.uint8
        )
        col_ref_base = np.full(len(c_r), ord("-"), dtype=np.uint8)
        has_ref = c_kind != 1
        col_ref_base[has_ref] = ref_bases(c_read[has_ref], c_r[has_ref])
        rc = CODE_LUT[col_ref_base]
        qc = CODE_LUT[col_read_base]
        n_col = np.bincount(np.searchsorted(rows, c_read), minlength=len(rows))
        c_off = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(n_col, out=c_off[1:])
        is_rev = rev[rows]
        p = np.arange(k, dtype=np.int64)
        valid = p[None, :] < n_col[:, None]
        left = c_off[:-1, None] + p[None, :]
        right = c_off[1:, None] - 1 - p[None, :]
        r = is_rev[:, None]
        strand = is_rev.astype(np.int64)[:, None]
        group = (lt[rows] * 2).astype(np.int64)[:, None]
        for end, idx in ((0, np.where(r, right, left)), (1, np.where(r, left, right))):
            idx = np.where(valid, idx, 0)
            r_c = np.where(r, COMPLEMENT_CODE[rc[idx]], rc[idx])
            q_c = np.where(r, COMPLEMENT_CODE[qc[idx]], qc[idx])
            ok = valid & (r_c != N) & (q_c != N)
            key = (
                (((group + end) * 2 + strand) * k + p[None, :]) * 36
                + r_c.astype(np.int64) * 6
                + q_c
            )
            counts += np.bincount(key[ok], minlength=counts.size).reshape(counts.shape)


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
    try:
        # dictionary encoding only where values repeat (per-read strings would fall back anyway)
        with pq.ParquetWriter(
            tmp,
            READ_TABLE_SCHEMA,
            compression="zstd",
            use_dictionary=["sample", "contig", "strand", "length_source"],
        ) as writer:
            for batch in extractor.batches():
                writer.write_batch(batch)
        os.replace(tmp, out_path)
    finally:
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
