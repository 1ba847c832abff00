"""The compiled htslib reader against pysam: every field of every record, the extraction's tables and
counts through both readers, buffer growth, and truncated or corrupt input."""

from __future__ import annotations

import numpy as np
import pysam
import pytest

from genomelearn.adna import htslib_reader
from genomelearn.adna.htslib_reader import HtslibReader
from genomelearn.adna.reads import ExtractionSettings, extract_table
from genomelearn.errors import InputError
from tests.unit.test_ancient_dna_support import (
    add_md,
    random_reference,
    simulate_reads,
    write_bam,
    write_fasta,
)


def _pysam_fields(path) -> list[tuple]:
    with pysam.AlignmentFile(str(path), check_sq=False) as bam:
        return [
            (
                r.flag,
                r.reference_id,
                r.reference_start,
                r.mapping_quality,
                r.template_length,
                r.cigarstring or "",
                r.query_sequence or "",
                r.query_qualities_str or "",
                r.query_name,
                r.get_tag("MD") if r.has_tag("MD") else None,
            )
            for r in bam.fetch(until_eof=True)
        ]


def _reader_fields(path, batch_size=7, want_md=True, prefer_libdeflate=True) -> list[tuple]:
    out = []
    with HtslibReader(
        path, f"file {path}", batch_size, want_md, prefer_libdeflate=prefer_libdeflate
    ) as reader:
        for b in reader.batches():
            assert len(b) <= batch_size
            for i in range(len(b)):
                out.append(
                    (
                        int(b.flag[i]),
                        int(b.tid[i]),
                        int(b.pos[i]),
                        int(b.mapq[i]),
                        int(b.tlen[i]),
                        b.text("cigar", i),
                        b.text("seq", i),
                        b.text("qual", i),
                        b.text("name", i),
                        (b.text("md", i) if b.has_md[i] else None) if want_md else None,
                    )
                )
    return out


def _varied_bam(path):
    """Reads covering what the reader decodes: odd and even lengths, CIGAR lengths of 1–4 digits,
    soft/hard clips, insertions, deletions, a reference skip, absent qualities, unmapped and paired
    records, and aux tags of every type (A c C s S i I f Z H B) before and after MD."""
    ref = random_reference(3000, seed=5)
    seq = lambda start, n: ref[start : start + n]  # noqa: E731
    reads = [
        {"name": "r1", "contig": "c1", "pos": 10, "cigar": "31M", "seq": seq(10, 31)},
        {
            "name": "r2_long_name_" + "x" * 60,
            "contig": "c1",
            "pos": 20,
            "cigar": "3S20M2I5M1D9M4H",
            "seq": "TTT" + seq(20, 20) + "GG" + seq(40, 5) + seq(46, 9),
            "tags": {"Xc": -5, "XC": 200, "Xs": -300, "XS": 60000, "XI": 2**31 - 1},
        },
        {
            "name": "r3",
            "contig": "c1",
            "pos": 100,
            "cigar": "1200M",
            "seq": seq(100, 1200),
            "tags": {"XF": 1.5, "XZ": "text", "XB": [1, 2, 3], "Xb": [0.5, 0.25]},
        },
        {
            "name": "r4",
            "contig": "c1",
            "pos": 200,
            "cigar": "10M1000N10M",
            "seq": seq(200, 10) + seq(1210, 10),
        },
        {"name": "r5", "flag": 16, "contig": "c2", "pos": 5, "cigar": "40M", "seq": seq(5, 40)},
        {
            "name": "r6",
            "flag": 99,
            "contig": "c2",
            "pos": 50,
            "cigar": "45M",
            "seq": seq(50, 45),
            "tlen": 120,
            "mate_pos": 125,
        },
    ]
    write_bam(path, {"c1": 3000, "c2": 3000}, reads)
    # absent qualities (0xff) and an unmapped read at the end, written through pysam directly
    with pysam.AlignmentFile(str(path)) as bam:
        header, records = bam.header, list(bam.fetch(until_eof=True))
    extra = pysam.AlignedSegment(header)
    extra.query_name, extra.flag, extra.reference_id, extra.reference_start = "r7", 0, 1, 300
    extra.cigarstring, extra.query_sequence = "25M", seq(300, 25)
    extra.query_qualities = None
    extra.set_tag("XA", "A", value_type="A")
    extra.set_tag("XH", "1AE3", value_type="H")
    unmapped = pysam.AlignedSegment(header)
    unmapped.query_name, unmapped.flag, unmapped.query_sequence = "u1", 4, "ACGTN"
    unmapped.query_qualities = pysam.qualitystring_to_array("IIIII")
    path.with_suffix(".bam.bai").unlink()
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for r in [*records, extra, unmapped]:
            out.write(r)
    pysam.index(str(path))
    fasta = write_fasta(path.parent / "ref.fa", {"c1": ref, "c2": ref})
    return path, fasta


@pytest.mark.parametrize("prefer_libdeflate", [True, False])
def test_reader_fields_equal_pysam_on_varied_records(tmp_path, prefer_libdeflate):
    """Both htslib builds the reader may load (the system's with libdeflate where there is one,
    and pysam's own) give pysam's fields."""
    path, fasta = _varied_bam(tmp_path / "v.bam")
    with_md = add_md(path, fasta, tmp_path / "md.bam")
    kw = dict(prefer_libdeflate=prefer_libdeflate)
    for bam in (path, with_md):
        expected = _pysam_fields(bam)
        assert len(expected) == 8
        assert _reader_fields(bam, batch_size=3, **kw) == expected
        assert _reader_fields(bam, batch_size=1000, **kw) == expected
        assert [r[:9] for r in _reader_fields(bam, want_md=False, **kw)] == [
            r[:9] for r in expected
        ]
    assert any(r[9] for r in _pysam_fields(with_md))


def test_reader_grows_its_buffers_for_long_reads(tmp_path, monkeypatch):
    path, _ = _varied_bam(tmp_path / "v.bam")
    original = HtslibReader.__init__

    def tiny(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._bytes_per_record = 1  # every record overflows at first: the FULL path

    monkeypatch.setattr(HtslibReader, "__init__", tiny)
    assert _reader_fields(path, batch_size=4) == _pysam_fields(path)


def test_extraction_tables_and_counts_equal_through_both_readers(tmp_path):
    ref = random_reference(5000, seed=11)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrS": ref})
    reads = simulate_reads(ref, "chrS", 400, seed=4, damage=0.3)
    bam = write_bam(tmp_path / "s.bam", {"chrS": 5000}, reads)
    md_bam = add_md(bam, fasta, tmp_path / "md.bam")
    for path, reference in ((bam, fasta), (md_bam, None)):
        results = {}
        for reader in ("htslib", "pysam"):
            settings = ExtractionSettings(batch_size=64, reader=reader, min_mapq=0)
            results[reader] = extract_table(path, "S", reference, settings=settings)
        (t1, r1), (t2, r2) = results["htslib"], results["pysam"]
        assert t1.num_rows > 300 and t1.equals(t2)
        np.testing.assert_array_equal(r1.damage_counts, r2.damage_counts)
        assert r1.n_records == r2.n_records and r1.filtered == r2.filtered
        assert r1.contig_counts.keys() == r2.contig_counts.keys()
        for t in r1.contig_counts:
            np.testing.assert_array_equal(r1.contig_counts[t], r2.contig_counts[t])
        for source in r1.length_counts:
            np.testing.assert_array_equal(r1.length_counts[source], r2.length_counts[source])


@pytest.mark.parametrize("prefer_libdeflate", [True, False])
def test_truncated_bam_names_the_record_and_the_file(tmp_path, prefer_libdeflate):
    ref = random_reference(5000, seed=2)
    reads = simulate_reads(ref, "chrS", 3000, seed=2)
    bam = write_bam(tmp_path / "s.bam", {"chrS": 5000}, reads, index=False)
    data = bam.read_bytes()
    bam.write_bytes(data[: len(data) // 2])  # cut inside a BGZF block, past the header
    with pytest.raises(InputError, match=r"file .*s\.bam: record \d+ cannot be read .*truncated"):
        list(HtslibReader(bam, f"file {bam}", prefer_libdeflate=prefer_libdeflate).batches())


def test_reader_validates_its_settings_and_opens_only_bams(tmp_path):
    with pytest.raises(ValueError, match="reader must be 'htslib' or 'pysam'"):
        ExtractionSettings(reader="oxbow")
    missing = tmp_path / "missing.bam"
    with pytest.raises(InputError, match="missing.bam: htslib cannot open the BAM"):
        HtslibReader(missing, f"file {missing}")


def test_load_compiles_without_reading():
    htslib_reader.load()
    assert htslib_reader.read_batch.signatures


def test_extraction_falls_back_to_pysam_without_htslib(tmp_path, monkeypatch):
    ref = random_reference(2000, seed=8)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrS": ref})
    bam = write_bam(tmp_path / "s.bam", {"chrS": 2000}, simulate_reads(ref, "chrS", 50, seed=8))
    expected, _ = extract_table(bam, "S", fasta)
    monkeypatch.setattr(htslib_reader, "available", lambda: False)
    monkeypatch.setattr(
        HtslibReader, "__init__", lambda *a, **k: pytest.fail("htslib reader used")
    )
    table, _ = extract_table(bam, "S", fasta)
    assert table.num_rows == 50 and table.equals(expected)


@pytest.mark.parametrize("prefer_libdeflate", [True, False])
def test_reader_fields_equal_pysam_on_every_bam_of_the_data_mirror(data_mirror, prefer_libdeflate):
    bams = sorted((data_mirror / "ancient_dna").rglob("*.bam"))
    assert bams
    for bam in bams:
        fields = _reader_fields(bam, batch_size=5000, prefer_libdeflate=prefer_libdeflate)
        assert fields == _pysam_fields(bam), bam


def test_library_choice_is_reported():
    """The reader says which htslib it loaded; the system's is only preferred when it is built
    with libdeflate and is 1.10 or later (the bam1_t layout read here)."""
    info = htslib_reader.library_info()
    assert set(info) == {"path", "version", "libdeflate"}
    version = tuple(int(x) for x in info["version"].split("."))
    assert version >= (1, 10)
    pysam_first = htslib_reader._library(False)
    assert "libchtslib" in pysam_first.genomelearn_path or pysam_first is htslib_reader._library()
    if "libchtslib" not in info["path"]:
        assert info["libdeflate"]
