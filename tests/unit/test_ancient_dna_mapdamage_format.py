"""mapDamage-format tables from the extraction: byte-identical to Debian's mapDamage 2.2.1 (every
line but the producer line) with ``filters: mapdamage``, on a synthetic two-contig BAM with clips and
indels and on real merged and paired-end BAMs; R's number formatting checked against R itself."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from genomelearn.adna.damage import compare_damage, damage_table, read_mapdamage
from genomelearn.adna.mapdamage_format import FILES, r_number, write_mapdamage_tables
from genomelearn.adna.reads import ExtractionSettings, count_damage
from tests.unit.test_ancient_dna_support import (
    random_reference,
    simulate_reads,
    write_bam,
    write_fasta,
)

MAPDAMAGE = ExtractionSettings(filters="mapdamage")
needs_mapdamage = pytest.mark.skipif(
    shutil.which("mapDamage") is None or shutil.which("Rscript") is None,
    reason="mapDamage 2 and Rscript not on PATH (apt-get install mapdamage)",
)


def test_filters_mapdamage_switches_the_thresholds_off():
    assert (MAPDAMAGE.min_mapq, MAPDAMAGE.min_length, MAPDAMAGE.require_proper_pair) == (
        0,
        0,
        False,
    )
    with pytest.raises(ValueError, match="filters"):
        ExtractionSettings(filters="samtools")


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not on PATH")
def test_r_number_formatting_equals_r(tmp_path):
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.random(150),
            rng.random(50) * 1e-3,
            rng.random(30) * 1e-5,
            rng.integers(1, 50, 20) / 200,
            [0.0, 1.0, 0.5, 5e-4, 1e-4, 0.0001234, 1 / 3, 2 / 3, 0.1, 1e-20, 123.456, 1e16],
        ]
    )
    src = tmp_path / "values.txt"
    src.write_text("\n".join(repr(float(v)) for v in values) + "\n")
    out = tmp_path / "r.txt"
    script = (
        f"x <- scan('{src}', quiet=TRUE); "
        f"write.table(data.frame(x=x), '{out}', row.names=FALSE, col.names=FALSE, quote=FALSE)"
    )
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True, timeout=120)
    theirs = out.read_text().split()
    assert [r_number(float(v)) for v in values] == theirs


def _mapdamage(bam, fasta, folder):
    # plots on: mapDamage's R script writes the *_freq.txt tables
    subprocess.run(
        ["mapDamage", "-i", str(bam), "-r", str(fasta), "-d", str(folder), "--no-stats", "-q"],
        check=True,
        capture_output=True,
        timeout=600,
    )


def _assert_identical(ours, theirs):
    for name in FILES:
        a = (ours / name).read_text().splitlines(keepends=True)
        b = (theirs / name).read_text().splitlines(keepends=True)
        assert len(a) == len(b), name
        if name.endswith("_freq.txt"):  # written by R, no producer line
            assert a == b, name
        else:
            assert a[0].startswith("# table produced by genomelearn") and b[0].startswith(
                "# table produced by mapDamage"
            )
            assert a[1:] == b[1:], name


@needs_mapdamage
def test_identical_to_mapdamage_on_two_contigs_with_clips_and_indels(tmp_path):
    refs = {
        "chrB": random_reference(2500, seed=11),
        "chrA": random_reference(2000, seed=12),
        "chrEmpty": random_reference(300, seed=13),
    }
    fasta = write_fasta(tmp_path / "ref.fa", refs)
    reads = simulate_reads(refs["chrB"], "chrB", 300, seed=5, damage=0.4)
    reads += simulate_reads(refs["chrA"], "chrA", 200, seed=6, damage=0.2)
    for i, r in enumerate(
        reads[:40]
    ):  # MAPQ 0 and duplicates: mapDamage keeps the first, drops the second
        r["mapq"] = 0
        if i % 4 == 0:
            r["flag"] = r["flag"] | 0x400
    bam = write_bam(tmp_path / "sim.bam", {n: len(s) for n, s in refs.items()}, reads)
    _mapdamage(bam, fasta, tmp_path / "md")
    result = count_damage(bam, "sim", fasta, settings=MAPDAMAGE)
    write_mapdamage_tables(tmp_path / "ours", result, str(bam), str(fasta))
    _assert_identical(tmp_path / "ours", tmp_path / "md")


@needs_mapdamage
@pytest.mark.parametrize(
    "bam",
    [
        "ancient_dna/mtDNA_ancient_Pfrengle2021/bams/UF102_rmdup.bam",  # merged reads, soft clips
        "ancient_dna/mtDNA_modern_1000G/bams/PUR_HG00637.rCRS.bam",  # paired-end, MAPQ < 25, improper pairs
    ],
)
def test_identical_to_mapdamage_on_real_bams(data_mirror, tmp_path, bam):
    bam, fasta = data_mirror / bam, data_mirror / "ancient_dna/mtDNA_ancient_Pfrengle2021/rCRS.fa"
    _mapdamage(bam, fasta, tmp_path / "md")
    result = count_damage(bam, "real", fasta, settings=MAPDAMAGE)
    write_mapdamage_tables(tmp_path / "ours", result, str(bam), str(fasta))
    _assert_identical(tmp_path / "ours", tmp_path / "md")
    # filters: mapdamage gives mapDamage's counts exactly in our own damage table too
    cmp = compare_damage(
        damage_table(result.damage_counts),
        read_mapdamage(tmp_path / "md" / "misincorporation.txt"),
    )
    assert (cmp["count"] == cmp["count_ref"]).all() and (cmp["total"] == cmp["total_ref"]).all()
