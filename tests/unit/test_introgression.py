"""Introgression engine: BED/FASTA validation, labelled regions, windows, splits, leakage audit, gene scores."""

import gzip
import subprocess

import numpy as np
import pandas as pd
import pytest

from genomelearn.errors import InputError
from genomelearn.introgression.genes import gene_windows, oof_gene_scores
from genomelearn.introgression.regions import build_labelled_regions
from genomelearn.introgression.splits import (
    block_split,
    distance_to_nearest,
    random_split,
    shared_kmer_fraction,
)
from genomelearn.introgression.windows import build_windows, tile
from genomelearn.io.bed import normalise_contig, read_bed
from genomelearn.io.fasta import open_fasta


def _write(path, text):
    path.write_text(text)
    return path


# ------------------------------------------------------------------ BED
def test_read_bed_normalises_contigs_and_skips_headers(tmp_path):
    p = _write(tmp_path / "a.bed", "chrom start end x\n22 10 20 a\n#comment\nchr22\t30\t40\n")
    bed = read_bed(p)
    assert bed["chrom"].tolist() == ["chr22", "chr22"] and bed["start"].tolist() == [10, 30]
    assert normalise_contig("chrM", "ensembl") == "MT" and normalise_contig("MT") == "chrM"


@pytest.mark.parametrize(
    "text, message",
    [
        ("chr1 10 5\n", "line 1: end 5 < start 10"),
        ("chr1 1 2\nchr1 x 5\n", "line 2: start/end must be integers"),
        ("chr1 5\n", "line 1: expected at least 3 fields"),
        ("", "no intervals"),
        ("chr1 -5 3\n", "line 1: negative start"),
    ],
)
def test_read_bed_errors_name_file_and_line(tmp_path, text, message):
    p = _write(tmp_path / "bad.bed", text)
    with pytest.raises(InputError, match=message) as err:
        read_bed(p)
    assert "bad.bed" in str(err.value)


def test_read_bed_header_can_be_refused(tmp_path):
    p = _write(tmp_path / "h.bed", "track name=x\nchr1 1 2\n")
    with pytest.raises(InputError, match="line 1: header line"):
        read_bed(p, allow_header=False)


def test_read_bed_gzip(tmp_path):
    p = tmp_path / "a.bed.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("chr1\t0\t100\n")
    assert read_bed(p)["end"].tolist() == [100]


# ------------------------------------------------------------------ FASTA
def test_fasta_without_index_and_plain_gzip_are_errors(tmp_path, small_fasta):
    raw = _write(tmp_path / "noidx.fa", ">chr1\nACGT\n")
    with pytest.raises(InputError, match="no index"):
        open_fasta(raw)
    gz = tmp_path / "plain.fa.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(">chr1\nACGT\n")
    (tmp_path / "plain.fa.gz.fai").write_text("chr1\t4\t6\t4\t5\n")
    with pytest.raises(InputError, match="bgzip"):
        open_fasta(gz)
    with pytest.raises(InputError, match="does not exist"):
        open_fasta(tmp_path / "missing.fa")


def test_bgzip_fasta_is_supported(tmp_path, small_fasta):
    bgz = tmp_path / "ref.fa.gz"
    subprocess.run(f"bgzip -c {small_fasta} > {bgz}", shell=True, check=True)
    import pysam

    pysam.faidx(str(bgz))
    regions = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [400], "label": [1]})
    w_plain, _ = build_windows(regions, small_fasta, 100, 100, 0.0, 0, 1000, 0)
    w_bgz, _ = build_windows(regions, bgz, 100, 100, 0.0, 0, 1000, 0)
    assert w_plain["sequence"].tolist() == w_bgz["sequence"].tolist()


# ------------------------------------------------------------------ regions and windows
def test_labelled_regions_drop_overlaps_and_clip_to_mask():
    intro = pd.DataFrame(
        {"chrom": ["chr1", "chr1", "chr2"], "start": [0, 1000, 0], "end": [500, 1500, 100]}
    )
    deserts = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [1400, 3000], "end": [2000, 4000]})
    mask = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [3500]})
    regions, summary = build_labelled_regions(intro, deserts, ["chr1"], mask)
    assert summary["introgressed_regions_dropped_overlap"] == 1
    assert summary["desert_regions_dropped_overlap"] == 1
    assert regions.to_dict("list") == {
        "chrom": ["chr1", "chr1"],
        "start": [100, 3000],
        "end": [500, 3500],
        "label": [1, 0],
    }
    with pytest.raises(InputError, match="no desert region"):
        build_labelled_regions(intro, deserts, ["chr2"])


def test_tile_windows_stay_inside_regions():
    regions = pd.DataFrame(
        {"chrom": ["c", "c"], "start": [0, 1000], "end": [450, 1150], "label": [1, 0]}
    )
    w = tile(regions, 200, 100)
    assert w["start"].tolist() == [0, 100, 200]  # the 150-bp region holds no 200-bp window
    assert (w["end"] - w["start"] == 200).all()


def test_build_windows_drops_n_and_unknown_contig(small_fasta):
    regions = pd.DataFrame({"chrom": ["chr1"], "start": [800], "end": [1400], "label": [1]})
    w, summary = build_windows(regions, small_fasta, 100, 100, 0.0, 0, 1000, 0)
    assert summary["windows_tiled"] == 6 and len(w) == 5  # window 1000-1100 is all N
    assert set("".join(w["sequence"])) <= set("ACGT")
    import pysam

    ref = pysam.FastaFile(str(small_fasta)).fetch("chr1", 800, 900).upper()
    assert w["sequence"].iloc[0] == ref
    assert abs(w["gc"].iloc[0] - (ref.count("G") + ref.count("C")) / 100) < 1e-6
    bad = regions.assign(chrom="chr9")
    with pytest.raises(InputError, match="chr9"):
        build_windows(bad, small_fasta, 100, 100, 0.0, 0, 1000, 0)


def test_repeat_fraction_counts_soft_masked_bases(small_fasta):
    regions = pd.DataFrame({"chrom": ["chr2"], "start": [0], "end": [100], "label": [0]})
    w, _ = build_windows(regions, small_fasta, 100, 100, 0.0, 0, 1000, 0)
    assert w["repeat_fraction"].iloc[0] == 1.0 and w["sequence"].iloc[0].isupper()


# ------------------------------------------------------------------ splits and leakage
def _windows(n_blocks=12, per_block=20):
    rows = []
    for b in range(n_blocks):
        for i in range(per_block):
            start = b * 10_000 + i * 200
            rows.append(("chr1", start, start + 200, b % 2, f"chr1:{b}"))
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "label", "block"])


def test_block_split_keeps_blocks_whole_and_buffers():
    w = _windows()
    split = block_split(w, [0.5, 0.25, 0.25], seed=0, buffer_bp=0)
    per_block = pd.Series(split).groupby(w["block"].to_numpy()).nunique()
    assert (per_block == 1).all()
    for name in ("train", "validation", "test"):
        assert set(w["label"][split == name]) == {0, 1}
    # adjacent blocks: a buffer excludes test windows touching a training block
    w2 = w.copy()
    w2["start"] = np.arange(len(w2)) * 200
    w2["end"] = w2["start"] + 200
    split2 = block_split(w2, [0.5, 0.25, 0.25], seed=0, buffer_bp=500)
    dist = distance_to_nearest(w2, split2 == "train")
    assert (dist[split2 == "test"] >= 500).all() and (split2 == "excluded").any()


def test_random_split_proportions_and_seed():
    a, b = random_split(1000, [0.7, 0.15, 0.15], 3), random_split(1000, [0.7, 0.15, 0.15], 3)
    assert (a == b).all() and (a == "train").sum() == 700
    with pytest.raises(ValueError):
        random_split(10, [0.5, 0.5, 0.5], 0)


def test_shared_kmer_fraction():
    from genomelearn.encoding import to_codes

    train = to_codes(["ACGTACGTAA", "TTTTTTTTTT"])
    test = to_codes(["GGGGGACGTA", "CCCCCCCCCC", "NNNNNNNNNN"])
    assert shared_kmer_fraction(test, train, 5).tolist() == [True, False, False]
    assert shared_kmer_fraction(test, train, 6).tolist() == [False, False, False]


# ------------------------------------------------------------------ gene scores
def test_oof_gene_scores_never_use_a_model_that_saw_or_neighbours_the_gene(small_fasta):
    rng = np.random.default_rng(0)
    n = 400
    seq = ["".join(rng.choice(list("GC" if i % 2 else "AT"), 50)) for i in range(n)]
    starts = np.arange(n) * 25
    labelled = pd.DataFrame(
        {
            "chrom": "chr1",
            "start": starts,
            "end": starts + 50,
            "label": np.arange(n) % 2,
            "gc": [s.count("G") / 50 + s.count("C") / 50 for s in seq],
            "block": [f"chr1:{i // 40}" for i in range(n)],
            "sequence": seq,
        }
    )
    fold = np.arange(n) // 40 % 5
    roles = {f: np.where(fold == f, "test", "train").astype(object) for f in range(5)}
    genes = pd.DataFrame(
        {
            "gene_name": ["g1", "g2"],
            "chrom": ["chr1", "chr1"],
            "start": [0, 2000],
            "end": [600, 2600],
            "strand": ["+", "-"],
        }
    )
    wins = gene_windows(genes, None, small_fasta, 50, 50, 0.0, 1000)
    scores, folds = oof_gene_scores(
        labelled, wins, genes, "gc_logreg", 3, roles, buffer_bp=100, block_size=1000, seed=0
    )
    assert set(scores["gene_name"]) == {"g1", "g2"} and scores["n_windows"].tolist() == [12, 12]
    # g1's midpoint (300) lies in block chr1:0 (windows 0-39, fold 0); g2's (2300) in chr1:2 (fold 2)
    assert dict(zip(scores["gene_name"], scores["fold"])) == {"g1": 0, "g2": 2}
    # g2's first window (2000-2050) touches the last window of block chr1:1 (fold 1): dropped from
    # fold 2's training set; g1 lies inside fold 0's test block, nothing to drop
    dropped = folds.set_index("fold")["n_train_dropped_near_genes"]
    assert dropped.loc[2] > 0 and dropped.loc[0] == 0
    assert folds["heldout_auroc"].dropna().gt(0.9).all()
