"""End-to-end Snakemake run of the ancient-DNA analysis on a small real-data sample sheet (< 3 min),
and a bad-input run (a FASTQ given as BAM) that must fail cleanly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml

from tests.workflow.helpers import REPO, run_snakemake

pytestmark = pytest.mark.workflow
OTHER_ANALYSES = ["introgression", "singlecell", "deconvolution"]
UF = "ancient_dna/mtDNA_ancient_Pfrengle2021"
MT_REF = f"{UF}/rCRS.fa"


def _head_bam(src: Path, dst: Path, n: int) -> str:
    """First n records of a sorted BAM (still sorted), indexed."""
    with pysam.AlignmentFile(str(src), "rb") as inp, pysam.AlignmentFile(str(dst), "wb", template=inp) as out:
        for i, read in enumerate(inp.fetch(until_eof=True)):
            if i >= n:
                break
            out.write(read)
    pysam.index(str(dst))
    return str(dst)


def _config(tmp: Path, mirror: Path, sheet: Path) -> Path:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name in OTHER_ANALYSES:
        if name in cfg:
            cfg[name] = {"enabled": False}
    cfg["data_mirror"] = str(mirror)
    cfg["ancient_dna"] = {
        "enabled": True,
        "sample_sheet": str(sheet),
        "extraction": {"min_mapq": 25, "min_length": 30},
        "split": {"fractions": [0.5, 0.25, 0.25], "seed": 0},
        "models": {"max_length": 120, "max_train_reads_per_class": 400, "max_val_reads_per_class": 200,
                   "training": {"max_epochs": 2, "batch_size": 64, "device": "cpu"}},
        "decontamination": {"model": "ends_cnn", "target_fpr": 0.05, "tag": "ZS"},
        "pmdtools": {"UF703": {"input": f"{UF}/pmdtools_decontaminated/UF703.bam",
                               "filtered": f"{UF}/pmdtools_decontaminated/UF703.pmds3filter.bam",
                               "reference": MT_REF}},
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_ancient_dna_workflow(data_mirror, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    rows = []
    for s in ("UF102", "UF703", "UF801", "UF21"):
        rows.append([s, s, f"{UF}/bams/{s}_rmdup.bam", MT_REF, "ancient", "double", "none"])
    rows.append(["UF104", "UF104", f"{UF}/bams/UF104_rmdup.bam", MT_REF, "unknown", "double", "none"])
    for s in ("CEU_NA06984", "PUR_HG00551", "YRI_NA18486"):
        bam = _head_bam(data_mirror / f"ancient_dna/mtDNA_modern_1000G/bams/{s}.rCRS.bam", tmp_path / f"{s}.bam", 1000)
        rows.append([s, s, bam, MT_REF, "modern", "double", "none"])
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n" + "".join("\t".join(r) + "\n" for r in rows))
    proc = run_snakemake(work, _config(tmp_path, data_mirror, sheet), timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = work / "results" / "ancient_dna"
    metrics = pd.read_csv(res / "metrics.tsv", sep="\t")
    assert set(metrics["model"]) == {"damage_cnn", "ends_cnn", "read_cnn", "pmd_score", "length_only"}
    assert set(metrics["subset"]) == {"all", "length_matched", "read_length_matched"}
    allm = metrics[metrics["subset"] == "all"].set_index("model")
    assert (allm["n_ancient"] > 0).all() and (allm["n_modern"] > 0).all()
    assert allm.loc["pmd_score", "auroc"] > 0.6  # real damage separates the classes
    damage = pd.read_csv(res / "damage" / "UF801.tsv", sep="\t").set_index(["end", "substitution", "position"])
    assert damage.loc[("5p", "C>T", 1), "frequency"] > 0.1
    assert damage.loc[("5p", "C>T", 20), "frequency"] < 0.05
    splits = pd.read_csv(res / "splits.tsv", sep="\t")
    assert splits.loc[splits["individual"] == "UF104", "split"].item() == "none"
    contamination = pd.read_csv(res / "contamination.tsv", sep="\t")
    assert len(contamination) == len(rows) and (contamination["kept"] <= contamination["scored"]).all()
    with pysam.AlignmentFile(str(res / "UF801.authentic.bam")) as bam:
        reads = list(bam.fetch("NC_012920.1"))  # indexed
    assert len(reads) == contamination.set_index("sample").loc["UF801", "kept"]
    assert all(r.get_tag("ZS") > 0 for r in reads)
    assert (res / "UF104.authentic.bam.bai").exists() and (res / "index" / "UF104.bam.bai").exists()
    comparison = pd.read_csv(res / "pmdtools_comparison.tsv", sep="\t")
    assert comparison.loc[0, "pmdtools_kept"] == 14
    for png in ("plots/damage_overview.png", "plots/lengths.png", "plots/roc_all.png", "damage/UF102.png"):
        assert (res / png).stat().st_size > 1000


def test_fastq_as_bam_fails_cleanly(data_mirror, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    fastq = tmp_path / "reads.bam"
    fastq.write_text("@r1\nACGTACGTACGTACGTACGTACGTACGTACGT\n+\nIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII\n")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"
                     f"BADSAMPLE\tind\t{fastq}\t\tancient\tdouble\tnone\n")
    proc = run_snakemake(work, _config(tmp_path, data_mirror, sheet), "results/ancient_dna/reads/BADSAMPLE.parquet",
                         timeout=300)
    assert proc.returncode != 0
    assert "BADSAMPLE" in proc.stderr and "reads.bam" in proc.stderr and "FASTQ" in proc.stderr
    assert not (work / "results" / "ancient_dna" / "reads" / "BADSAMPLE.parquet").exists()
