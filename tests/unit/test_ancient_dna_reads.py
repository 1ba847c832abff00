"""Read extraction and damage counts: orientation, MD vs FASTA, filters, paired reads, bad input,
and equality with mapDamage 2 (synthetic BAM with clips/indels, and real BAMs)."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import numpy as np
import pyarrow.compute as pc
import pytest

from genomelearn.adna.damage import compare_damage, damage_table, read_mapdamage
from genomelearn.adna.reads import ExtractionSettings, extract_table, extract_to_parquet
from genomelearn.errors import InputError
from tests.unit.test_ancient_dna_support import (
    add_md,
    random_reference,
    simulate_reads,
    write_bam,
    write_fasta,
)

KW = dict(min_mapq=0, min_length=0, require_proper_pair=False)
ALL = ExtractionSettings(**KW)


@pytest.fixture
def toy(tmp_path):
    """Reference with known bases and two reads with terminal damage (one per strand)."""
    ref = list(random_reference(600, seed=3))
    ref[100] = "C"  # forward read starts here: C -> T at its 5' end
    ref[100 + 39] = "G"  # ... and G -> A at its 3' end
    ref[300 + 49] = "G"  # reverse read: last reference base G = molecule 5' C
    ref = "".join(ref)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    fwd = "T" + ref[101:139] + "A"
    rev = (
        ref[300:349] + "A"
    )  # G->A on the forward strand at the right end = C->T at the molecule 5' end
    reads = [
        {"name": "fwd", "flag": 0, "contig": "chrT", "pos": 100, "cigar": "40M", "seq": fwd},
        {"name": "rev", "flag": 16, "contig": "chrT", "pos": 300, "cigar": "50M", "seq": rev},
    ]
    bam = write_bam(tmp_path / "toy.bam", {"chrT": len(ref)}, reads)
    return {"ref": ref, "fasta": fasta, "bam": bam, "tmp": tmp_path}


def test_orientation_and_mismatch_strings(toy):
    table, result = extract_table(toy["bam"], "toy", toy["fasta"], settings=ALL)
    df = table.to_pandas().set_index("name")
    ref = toy["ref"]
    assert df.loc["fwd", "sequence"] == "T" + ref[101:139] + "A"
    assert df.loc["fwd", "reference"] == ref[100:140]
    assert df.loc["fwd", "mismatches_5p"].startswith("C....")
    assert df.loc["fwd", "mismatches_3p"].startswith("G....")
    comp = str.maketrans("ACGT", "TGCA")
    assert df.loc["rev", "sequence"] == (ref[300:349] + "A").translate(comp)[::-1]
    assert df.loc["rev", "sequence"][0] == "T" and df.loc["rev", "reference"][0] == "C"
    assert df.loc["rev", "strand"] == "-" and df.loc["fwd", "strand"] == "+"
    assert list(df["n_mismatches"]) == [2, 1]
    dmg = damage_table(result.damage_counts).set_index(["end", "substitution", "position"])
    assert dmg.loc[("5p", "C>T", 1), "count"] == 2  # one per strand
    assert dmg.loc[("3p", "G>A", 1), "count"] == 1
    assert dmg.loc[("5p", "C>T", 2), "count"] == 0
    assert result.n_kept == 2 and result.n_records == 2


def test_md_tags_give_the_same_reference_as_the_fasta(tmp_path):
    ref = random_reference(3000, seed=5)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    reads = simulate_reads(ref, "chrT", 400, seed=2, damage=0.5)
    bam = write_bam(tmp_path / "sim.bam", {"chrT": len(ref)}, reads)
    md_bam = add_md(bam, fasta, tmp_path / "sim.md.bam")
    with_ref, res_ref = extract_table(md_bam, "s", fasta, settings=ALL)
    with_md, res_md = extract_table(md_bam, "s", None, settings=ALL)
    for col in (
        "sequence",
        "reference",
        "qualities",
        "mismatches_5p",
        "mismatches_3p",
        "n_mismatches",
    ):
        assert with_ref.column(col).to_pylist() == with_md.column(col).to_pylist(), col
    assert np.array_equal(res_ref.damage_counts, res_md.damage_counts)
    assert res_ref.damage_counts.sum() > 0


def test_small_batches_give_the_same_result(tmp_path):
    ref = random_reference(3000, seed=6)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    bam = write_bam(
        tmp_path / "sim.bam",
        {"chrT": len(ref)},
        simulate_reads(ref, "chrT", 300, seed=4, damage=0.3),
    )
    big, rb = extract_table(bam, "s", fasta, settings=ALL)
    small, rs = extract_table(
        bam, "s", fasta, settings=ExtractionSettings(0, 0, batch_size=7, require_proper_pair=False)
    )
    assert big.equals(small)
    assert np.array_equal(rb.damage_counts, rs.damage_counts)


def _clipped_reads(ref: str, n: int, seed: int, split: bool) -> list[dict]:
    """Reads with soft clips (0-7 bases at either end), N bases (in clips and in the aligned part),
    mismatches and varied qualities, on both strands; ``split`` spells the one M operation as two
    (same alignment, e.g. 5S10M20M3S for 5S30M3S), which the kernel sends down its general path."""
    rng = np.random.default_rng(seed)
    reads = []
    for r in range(n):
        m = int(rng.integers(20, 110))
        left, right = (int(x) for x in rng.integers(0, 8, size=2) * (rng.random(2) < 0.6))
        pos = int(rng.integers(0, len(ref) - m))
        aligned = list(ref[pos : pos + m])
        for b in rng.choice(m, size=int(rng.integers(0, 4)), replace=False):
            aligned[b] = "ACGTN"[int(rng.integers(0, 5))]
        clip = lambda k: "".join(rng.choice(list("ACGTN"), size=k))  # noqa: E731
        seq = clip(left) + "".join(aligned) + clip(right)
        ops = f"{m // 3}M{m - m // 3}M" if split else f"{m}M"
        cigar = (f"{left}S" if left else "") + ops + (f"{right}S" if right else "")
        qual = "".join(chr(33 + int(q)) for q in rng.integers(2, 41, size=len(seq)))
        flag = 16 if rng.random() < 0.5 else 0
        reads.append(
            {"name": f"r{r}", "flag": flag, "contig": "chrT", "pos": pos, "cigar": cigar,
             "seq": seq, "qual": qual}
        )  # fmt: skip
    return reads


@pytest.mark.parametrize("use_md", [False, True])
def test_one_block_reads_equal_the_general_path(tmp_path, use_md):
    """The kernel's one-block path (one M between optional soft clips) gives the same per-read
    table and counts as its general path, which the same alignments with the M split in two take."""
    ref = random_reference(3000, seed=11)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    out = []
    for split in (False, True):
        bam = write_bam(
            tmp_path / f"split{split}.bam", {"chrT": len(ref)}, _clipped_reads(ref, 500, 9, split)
        )
        if use_md:
            bam = add_md(bam, fasta, tmp_path / f"split{split}.md.bam")
        out.append(extract_table(bam, "s", None if use_md else fasta, settings=ALL))
    (one_block, res1), (general, res2) = out
    assert one_block.num_rows == 500
    for col in one_block.column_names:
        assert one_block.column(col).equals(general.column(col)), col
    assert np.array_equal(res1.damage_counts, res2.damage_counts)
    for t in res1.contig_counts:
        assert np.array_equal(res1.contig_counts[t], res2.contig_counts[t])
        assert np.array_equal(res1.soft_clips[t], res2.soft_clips[t])
    assert res1.aligned_lengths == res2.aligned_lengths
    df = one_block.to_pandas()
    assert df["reference"].str.contains("-").any() and df["sequence"].str.contains("N").any()
    assert res1.damage_counts.sum() > 0


def test_filters_and_paired_lengths(tmp_path):
    ref = random_reference(1000, seed=7)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    s = ref[100:150]
    reads = [
        {"name": "ok", "flag": 0, "contig": "chrT", "pos": 100, "cigar": "50M", "seq": s},
        {
            "name": "lowq",
            "flag": 0,
            "contig": "chrT",
            "pos": 100,
            "cigar": "50M",
            "seq": s,
            "mapq": 5,
        },
        {"name": "dup", "flag": 1024, "contig": "chrT", "pos": 100, "cigar": "50M", "seq": s},
        {"name": "sec", "flag": 256, "contig": "chrT", "pos": 100, "cigar": "50M", "seq": s},
        {"name": "short", "flag": 0, "contig": "chrT", "pos": 100, "cigar": "20M", "seq": s[:20]},
        {
            "name": "pair",
            "flag": 1 | 2 | 32 | 64,
            "contig": "chrT",
            "pos": 100,
            "cigar": "50M",
            "seq": s,
            "tlen": 230,
            "mate_pos": 280,
        },
        {
            "name": "improper",
            "flag": 1 | 64,
            "contig": "chrT",
            "pos": 100,
            "cigar": "50M",
            "seq": s,
        },
    ]
    bam = write_bam(tmp_path / "f.bam", {"chrT": len(ref)}, reads)
    table, result = extract_table(
        bam, "s", fasta, settings=ExtractionSettings(min_mapq=25, min_length=30)
    )
    df = table.to_pandas().set_index("name")
    assert sorted(df.index) == ["ok", "pair"]
    assert df.loc["pair", "length"] == 230 and df.loc["pair", "length_source"] == "insert"
    assert df.loc["ok", "length"] == 50 and df.loc["ok", "length_source"] == "read"
    assert result.filtered["mapq"] == 1 and result.filtered["duplicate"] == 1
    assert result.filtered["secondary/supplementary"] == 1 and result.filtered["length"] == 1
    assert result.filtered["improper_pair"] == 1


# ------------------------------------------------------------------ bad input


def test_fastq_given_as_bam(tmp_path):
    fq = tmp_path / "reads.bam"
    fq.write_text("@r1\nACGT\n+\nIIII\n")
    with pytest.raises(InputError, match=r"sample 'S1'.*reads\.bam.*FASTQ"):
        extract_table(fq, "S1", None)
    gz = tmp_path / "reads2.bam"
    with gzip.open(gz, "wt") as fh:
        fh.write("@r1\nACGT\n+\nIIII\n")
    with pytest.raises(InputError, match="gzipped FASTQ"):
        extract_table(gz, "S1", None)


def test_empty_bam(tmp_path):
    empty = tmp_path / "empty.bam"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"sample 'S2'.*empty"):
        extract_table(empty, "S2", None)
    no_reads = write_bam(tmp_path / "noreads.bam", {"chrT": 100}, [])
    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match=r"sample 'S2'.*no alignment records"):
        extract_to_parquet(no_reads, "S2", out)
    assert not out.exists() and not list(tmp_path.glob(".out.parquet*"))


def test_unsorted_bam(tmp_path):
    ref = random_reference(500, seed=1)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    reads = [
        {
            "name": "b",
            "flag": 0,
            "contig": "chrT",
            "pos": 200,
            "cigar": "40M",
            "seq": ref[200:240],
        },
        {"name": "a", "flag": 0, "contig": "chrT", "pos": 10, "cigar": "40M", "seq": ref[10:50]},
    ]
    declared = write_bam(tmp_path / "declared.bam", {"chrT": 500}, reads, sort=False)
    with pytest.raises(
        InputError, match=r"sample 'S3'.*not coordinate-sorted \(header SO:unsorted\)"
    ):
        extract_table(declared, "S3", fasta)
    silent = write_bam(
        tmp_path / "silent.bam",
        {"chrT": 500},
        reads,
        sort=False,
        header_extra={"HD": {"VN": "1.6"}},
    )
    out = tmp_path / "o.parquet"
    with pytest.raises(
        InputError, match=r"sample 'S3'.*silent\.bam.*not coordinate-sorted: record 2"
    ):
        extract_to_parquet(silent, "S3", out, fasta, settings=ExtractionSettings(batch_size=1))
    assert not out.exists()


def test_no_md_and_no_reference(tmp_path):
    ref = random_reference(500, seed=2)
    bam = write_bam(
        tmp_path / "nomd.bam",
        {"chrT": 500},
        [
            {
                "name": "r1",
                "flag": 0,
                "contig": "chrT",
                "pos": 10,
                "cigar": "40M",
                "seq": ref[10:50],
            }
        ],
    )
    with pytest.raises(InputError, match=r"sample 'S4'.*nomd\.bam.*'r1'.*no MD tag"):
        extract_table(bam, "S4", None)
    with pytest.raises(InputError, match=r"none of the 1 records passed.*bad_md 1"):
        extract_table(bam, "S4", None, settings=ExtractionSettings(bad_md="skip"))


def test_md_inconsistent_with_cigar(tmp_path):
    ref = random_reference(500, seed=2)
    reads = [
        {
            "name": "r1",
            "flag": 0,
            "contig": "chrT",
            "pos": 10,
            "cigar": "4S36M",
            "seq": ref[6:46],
            "tags": {"MD": "40"},
        }
    ]
    bam = write_bam(tmp_path / "badmd.bam", {"chrT": 500}, reads)
    with pytest.raises(InputError, match=r"'r1'.*MD tag '40' disagrees with the CIGAR"):
        extract_table(bam, "S5", None, settings=ALL)


def test_bad_md_skipped_among_good_reads_and_reference_skip(tmp_path):
    """bad_md: skip drops only the read with a bad MD tag from a batch (table, counts and the
    filter tally); an MD tag with a mismatch and a deletion gives the FASTA's reference; a CIGAR N
    (reference skip) needs the FASTA and is then no alignment column."""
    ref = random_reference(500, seed=3)
    mm = "A" if ref[25] != "A" else "C"
    good_seq = ref[10:25] + mm + ref[26:40] + ref[43:60]  # 15M, mismatch, 14M, 3D, 17M
    reads = [
        {"name": "bad", "flag": 0, "contig": "chrT", "pos": 5, "cigar": "40M",
         "seq": ref[5:45], "tags": {"MD": "39"}},
        {"name": "good", "flag": 16, "contig": "chrT", "pos": 10, "cigar": "30M3D17M",
         "seq": good_seq, "tags": {"MD": f"15{ref[25]}14^{ref[40:43]}17"}},
        {"name": "spliced", "flag": 0, "contig": "chrT", "pos": 100, "cigar": "20M50N20M",
         "seq": ref[100:120] + ref[170:190], "tags": {"MD": "40"}},
    ]  # fmt: skip
    bam = write_bam(tmp_path / "mixed.bam", {"chrT": 500}, reads)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    with pytest.raises(InputError, match=r"'spliced'.*unsupported CIGAR operation 3"):
        extract_table(bam, "S9", None, settings=ExtractionSettings(bad_md="skip", **KW))
    with_ref, res_ref = extract_table(bam, "S9", fasta, settings=ALL)
    assert with_ref.column("name").to_pylist() == ["bad", "good", "spliced"]
    assert res_ref.aligned_lengths["+"] == {40: 1, 90: 1}  # the N counts in the span
    two = write_bam(tmp_path / "two.bam", {"chrT": 500}, reads[:2])
    table, res = extract_table(two, "S9", None, settings=ExtractionSettings(bad_md="skip", **KW))
    assert table.column("name").to_pylist() == ["good"]
    assert res.filtered["bad_md"] == 1 and res.n_kept == 1
    good_ref = with_ref.filter(pc.equal(with_ref.column("name"), "good"))
    for col in ("sequence", "reference", "qualities", "mismatches_5p", "mismatches_3p"):
        assert table.column(col).to_pylist() == good_ref.column(col).to_pylist()
    assert table.column("n_mismatches").to_pylist() == [1]
    _, res_two_ref = extract_table(two, "S9", fasta, settings=ALL)
    # the counts hold the good (reverse) read alone: nothing on the bad (forward) read's strand
    assert res.damage_counts.sum() == res_two_ref.damage_counts[:, 1].sum() > 0
    assert np.array_equal(res.damage_counts[:, 1], res_two_ref.damage_counts[:, 1])


def test_contig_absent_from_reference(tmp_path):
    ref = random_reference(500, seed=2)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    bam = write_bam(
        tmp_path / "other.bam",
        {"chrT": 500, "chrX": 500},
        [
            {
                "name": "x1",
                "flag": 0,
                "contig": "chrX",
                "pos": 10,
                "cigar": "40M",
                "seq": ref[10:50],
            }
        ],
    )
    with pytest.raises(
        InputError, match=r"sample 'S6'.*other\.bam.*contig 'chrX'.*absent from the reference"
    ):
        extract_table(bam, "S6", fasta)
    # without an index the stream finds it too
    (tmp_path / "other.bam.bai").unlink()
    with pytest.raises(InputError, match="contig 'chrX'"):
        extract_table(bam, "S6", fasta)
    wrong = write_fasta(tmp_path / "wrong.fa", {"chrX": ref[:400]})
    with pytest.raises(InputError, match="wrong reference build"):
        extract_table(bam, "S6", wrong)


def test_missing_index(tmp_path):
    ref = random_reference(500, seed=2)
    bam = write_bam(
        tmp_path / "noidx.bam",
        {"chrT": 500},
        [
            {
                "name": "r1",
                "flag": 0,
                "contig": "chrT",
                "pos": 10,
                "cigar": "40M",
                "seq": ref[10:50],
                "tags": {"MD": "40"},
            }
        ],
        index=False,
    )
    with pytest.raises(InputError, match=r"sample 'S7'.*noidx\.bam.*index missing"):
        extract_table(bam, "S7", None, require_index=True)
    table, _ = extract_table(bam, "S7", None)  # streaming needs no index
    assert table.num_rows == 1


# ------------------------------------------------------------------ mapDamage equality


def _run_mapdamage(bam, fasta, out):
    subprocess.run(
        [
            "mapDamage",
            "-i",
            str(bam),
            "-r",
            str(fasta),
            "-d",
            str(out),
            "--no-stats",
            "--no-plot",
            "-q",
            "-l",
            "70",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return read_mapdamage(out / "misincorporation.txt", 25)


needs_mapdamage = pytest.mark.skipif(
    shutil.which("mapDamage") is None, reason="mapDamage not on PATH"
)


@needs_mapdamage
def test_equals_mapdamage_on_clipped_and_indel_reads(tmp_path):
    ref = random_reference(3000, seed=9)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    bam = write_bam(
        tmp_path / "sim.bam",
        {"chrT": len(ref)},
        simulate_reads(ref, "chrT", 500, seed=3, damage=0.4),
    )
    _, result = extract_table(bam, "s", fasta, settings=ALL)
    cmp = compare_damage(
        damage_table(result.damage_counts), _run_mapdamage(bam, fasta, tmp_path / "md")
    )
    assert (cmp["count"] == cmp["count_ref"]).all() and (cmp["total"] == cmp["total_ref"]).all()
    assert cmp["abs_diff"].max() <= 0.002


@needs_mapdamage
@pytest.mark.parametrize(
    "bam",
    [
        "ancient_dna/mtDNA_ancient_Pfrengle2021/bams/UF102_rmdup.bam",  # merged reads, soft clips, no index
        "ancient_dna/mtDNA_modern_1000G/bams/PUR_HG00637.rCRS.bam",  # paired-end, supplementary, unmapped
    ],
)
def test_equals_mapdamage_on_real_bams(data_mirror, tmp_path, bam):
    fasta = data_mirror / "ancient_dna/mtDNA_ancient_Pfrengle2021/rCRS.fa"
    _, result = extract_table(data_mirror / bam, "real", fasta, settings=ALL)
    theirs = _run_mapdamage(data_mirror / bam, fasta, tmp_path / "md")
    cmp = compare_damage(damage_table(result.damage_counts), theirs)
    assert len(cmp) == 2 * 12 * 25
    assert cmp["abs_diff"].max() <= 0.002
    assert (cmp["count"] == cmp["count_ref"]).all() and (cmp["total"] == cmp["total_ref"]).all()


def test_wilson_interval_equals_scipy():
    from scipy.stats import binomtest

    from genomelearn.adna.damage import wilson_interval

    count, total = np.array([0, 3, 5, 100, 7, 2]), np.array([10, 3, 50, 1000, 0, 80])
    low, high = wilson_interval(count, total, 0.95)
    for c, n, lo, hi in zip(count, total, low, high):
        if n == 0:
            assert np.isnan(lo) and np.isnan(hi)
            continue
        ci = binomtest(int(c), int(n)).proportion_ci(0.95, method="wilson")
        assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)
    assert low[1] > 0.4  # 3 of 3: the interval is wide, no frequency-1.0 certainty


def test_table_codec_changes_the_file_not_the_table(tmp_path):
    import pyarrow.parquet as pq

    ref = random_reference(3000, seed=12)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    bam = write_bam(
        tmp_path / "sim.bam", {"chrT": len(ref)}, simulate_reads(ref, "chrT", 300, seed=5)
    )
    tables = {}
    for codec in ("lz4", "zstd", "none"):
        out = tmp_path / f"{codec}.parquet"
        extract_to_parquet(
            bam, "s", out, fasta, settings=ExtractionSettings(**KW, table_compression=codec)
        )
        meta = pq.ParquetFile(out).metadata
        assert (
            meta.row_group(0).column(13).compression
            == {"lz4": "LZ4", "zstd": "ZSTD", "none": "UNCOMPRESSED"}[codec]
        )
        tables[codec] = pq.read_table(out)
    assert tables["lz4"].equals(tables["zstd"]) and tables["lz4"].equals(tables["none"])
    assert ExtractionSettings().table_compression == "lz4"
    with pytest.raises(ValueError, match="table_compression must be one of"):
        ExtractionSettings(table_compression="gzip2")
