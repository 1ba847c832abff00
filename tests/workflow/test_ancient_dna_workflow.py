"""End-to-end Snakemake run of the ancient-DNA analysis on a small real-data sample sheet (CV, bundle, simulation),
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
    with (
        pysam.AlignmentFile(str(src), "rb") as inp,
        pysam.AlignmentFile(str(dst), "wb", template=inp) as out,
    ):
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
        "split": {"n_folds": 3, "seed": 0, "min_individuals_per_label": 1, "bundle_fold": 0},
        "models": {
            "max_length": 120,
            "max_train_reads_per_class": 200,
            "max_val_reads_per_class": 100,
            "training": {"max_epochs": 1, "batch_size": 64, "device": "cpu"},
        },
        "evaluation": {"n_bootstrap": 20},
        "simulation": {"n_molecules": 100, "terminal_ct_rates": [0.0, 0.4], "n_bootstrap": 20},
        "decontamination": {"model": "ends_cnn", "target_fpr": 0.05, "tag": "ZS"},
        "pmdtools": {
            "UF703": {
                "input": f"{UF}/pmdtools_decontaminated/UF703.bam",
                "filtered": f"{UF}/pmdtools_decontaminated/UF703.pmds3filter.bam",
                "reference": MT_REF,
            }
        },
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
    rows.append(
        ["UF104", "UF104", f"{UF}/bams/UF104_rmdup.bam", MT_REF, "unknown", "double", "none"]
    )
    for s in ("CEU_NA06984", "PUR_HG00551", "YRI_NA18486"):
        bam = _head_bam(
            data_mirror / f"ancient_dna/mtDNA_modern_1000G/bams/{s}.rCRS.bam",
            tmp_path / f"{s}.bam",
            1000,
        )
        rows.append([s, s, bam, MT_REF, "modern", "double", "none"])
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"
        + "".join("\t".join(r) + "\n" for r in rows)
    )
    # 4 CNNs x 3 CV rounds, the simulation and 8 samples: ~40 short jobs
    proc = run_snakemake(work, _config(tmp_path, data_mirror, sheet), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = work / "results" / "ancient_dna"
    metrics = pd.read_csv(res / "metrics.tsv", sep="\t")
    assert set(metrics["model"]) == {
        "damage_cnn",
        "damage_nolength_cnn",
        "ends_cnn",
        "read_cnn",
        "pmd_score",
        "length_only",
    }
    assert set(metrics["subset"]) == {
        "all",
        "length_matched",
        "read_length_matched",
        "length_2d_matched",
    }
    allm = metrics[metrics["subset"] == "all"].set_index("model")
    # out-of-fold: every labelled individual (4 ancient, 3 modern) is scored by a model that never saw it
    assert (allm["n_ancient_individuals"] == 4).all() and (allm["n_modern_individuals"] == 3).all()
    assert allm.loc["pmd_score", "auroc"] > 0.6  # real damage separates the classes
    assert (allm["auroc_low"] <= allm["auroc"]).all() and (
        allm["auroc"] <= allm["auroc_high"]
    ).all()
    curve = pd.read_csv(res / "simulated" / "detection_curve.tsv", sep="\t")
    assert set(curve["model"]) == {
        "pmd_score",
        "ends_cnn",
        "damage_cnn",
        "damage_nolength_cnn",
        "read_cnn",
        "length_only",
    }
    assert set(curve["profile"]) == {"measured", "gargammel_double", "gargammel_single"}
    c = curve.set_index(["profile", "terminal_ct", "model"])
    assert c.loc[("measured", 0.0, "pmd_score"), "auroc"] == 0.5  # identical copies
    assert (curve["model"].eq("length_only") <= curve["auroc"].eq(0.5)).all()  # same lengths
    assert c.loc[("measured", 0.4, "pmd_score"), "auroc"] > 0.6
    bundle = res / "models" / "ends_cnn"
    assert (bundle / "bundle.json").exists() and (bundle / "weights.pt").exists()
    damage = pd.read_csv(res / "damage" / "UF801.tsv", sep="\t").set_index(
        ["end", "substitution", "position"]
    )
    assert damage.loc[("5p", "C>T", 1), "frequency"] > 0.1
    assert damage.loc[("5p", "C>T", 20), "frequency"] < 0.05
    splits = pd.read_csv(res / "splits.tsv", sep="\t")
    assert splits.loc[splits["individual"] == "UF104", "split"].item() == "none"
    assert splits.loc[splits["individual"] == "UF104", "fold"].item() == -1
    contamination = pd.read_csv(res / "contamination.tsv", sep="\t")
    assert (
        len(contamination) == len(rows)
        and (contamination["kept"] <= contamination["scored"]).all()
    )
    with pysam.AlignmentFile(str(res / "UF801.authentic.bam")) as bam:
        reads = list(bam.fetch("NC_012920.1"))  # indexed
    assert len(reads) == contamination.set_index("sample").loc["UF801", "kept"]
    assert all(r.get_tag("ZS") > 0 for r in reads)
    assert (res / "UF104.authentic.bam.bai").exists() and (
        res / "index" / "UF104.bam.bai"
    ).exists()
    comparison = pd.read_csv(res / "pmdtools_comparison.tsv", sep="\t")
    assert comparison.loc[0, "pmdtools_kept"] == 14
    for png in (
        "plots/damage_overview.png",
        "plots/lengths.png",
        "plots/roc_all.png",
        "damage/UF102.png",
    ):
        assert (res / png).stat().st_size > 1000


def test_fastq_as_bam_fails_cleanly(data_mirror, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    fastq = tmp_path / "reads.bam"
    fastq.write_text(
        "@r1\nACGTACGTACGTACGTACGTACGTACGTACGT\n+\nIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII\n"
    )
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"
        f"BADSAMPLE\tind\t{fastq}\t\tancient\tdouble\tnone\n"
    )
    proc = run_snakemake(
        work,
        _config(tmp_path, data_mirror, sheet),
        "results/ancient_dna/reads/BADSAMPLE.parquet",
        timeout=300,
    )
    assert proc.returncode != 0
    assert "BADSAMPLE" in proc.stderr and "reads.bam" in proc.stderr and "FASTQ" in proc.stderr
    assert not (work / "results" / "ancient_dna" / "reads" / "BADSAMPLE.parquet").exists()


def test_bundle_scores_new_samples_without_training(data_mirror, tmp_path):
    """models.bundle: a bundle trained once (here: by a tiny real-data run) scores and decontaminates
    samples that were not in its training, and nothing trains."""
    first = tmp_path / "first"
    first.mkdir()
    rows = [
        [s, s, f"{UF}/bams/{s}_rmdup.bam", MT_REF, "ancient", "double", "none"]
        for s in ("UF102", "UF703", "UF801")
    ]
    for s in ("CEU_NA06984", "PUR_HG00551", "YRI_NA18486"):
        bam = _head_bam(
            data_mirror / f"ancient_dna/mtDNA_modern_1000G/bams/{s}.rCRS.bam",
            tmp_path / f"{s}.bam",
            600,
        )
        rows.append([s, s, bam, MT_REF, "modern", "double", "none"])
    sheet = tmp_path / "train.tsv"
    sheet.write_text(
        "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"
        + "".join("\t".join(r) + "\n" for r in rows)
    )
    cfg = _config(tmp_path, data_mirror, sheet)
    proc = run_snakemake(first, cfg, "results/ancient_dna/models/ends_cnn", timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    bundle = first / "results" / "ancient_dna" / "models" / "ends_cnn"
    second = tmp_path / "second"
    second.mkdir()
    new = tmp_path / "new.tsv"  # samples not in training: an ancient and an unknown individual
    new.write_text(
        "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"
        f"UF21\tUF21\t{UF}/bams/UF21_rmdup.bam\t{MT_REF}\tancient\tdouble\tnone\n"
        f"UF104\tUF104\t{UF}/bams/UF104_rmdup.bam\t{MT_REF}\tunknown\tdouble\tnone\n"
    )
    conf = yaml.safe_load(cfg.read_text())
    conf["ancient_dna"]["sample_sheet"] = str(new)
    conf["ancient_dna"]["models"]["bundle"] = str(bundle)
    conf["ancient_dna"]["pmdtools"] = {}
    cfg2 = tmp_path / "bundle.yaml"
    cfg2.write_text(yaml.safe_dump(conf))
    proc = run_snakemake(second, cfg2, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = second / "results" / "ancient_dna"
    assert (
        not (res / "models").exists()
        and not (res / "cv").exists()
        and not (res / "metrics.tsv").exists()
    )
    contamination = pd.read_csv(res / "contamination.tsv", sep="\t").set_index("sample")
    assert set(contamination.index) == {"UF21", "UF104"} and (contamination["scored"] > 0).all()
    assert (res / "UF21.authentic.bam").exists()


def test_two_individual_sheet_fails_before_anything_runs(data_mirror, tmp_path):
    """A small study (one ancient, one modern individual) cannot be cross-validated: the run stops
    while the DAG is built, naming the per-fold counts and the sample sheet; nothing is written."""
    work = tmp_path / "work"
    work.mkdir()
    sheet = tmp_path / "two.tsv"
    sheet.write_text(
        "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"
        f"UF21\tUF21\t{UF}/bams/UF21_rmdup.bam\t{MT_REF}\tancient\tdouble\tnone\n"
        f"UF801\tUF801\t{UF}/bams/UF801_rmdup.bam\t{MT_REF}\tmodern\tdouble\tnone\n"
    )
    proc = run_snakemake(work, _config(tmp_path, data_mirror, sheet), timeout=300)
    assert proc.returncode != 0
    assert (
        str(sheet) in proc.stderr
        and "ancient: [1, 0, 0]" in proc.stderr
        and "modern: [1, 0, 0]" in proc.stderr
    )
    assert not (work / "results").exists()
