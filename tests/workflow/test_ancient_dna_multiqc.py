"""The ancient-DNA extraction outputs that the field's tools read: a small real-data workflow run
(extraction and overview only, ~1 min) whose mapDamage-format tables and custom content real MultiQC
must find for every sample, and whose damage overview sets apart a sample below the read minimum."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml

from tests.workflow.helpers import REPO, run_snakemake

pytestmark = pytest.mark.workflow
UF = "ancient_dna/mtDNA_ancient_Pfrengle2021"
MT_REF = f"{UF}/rCRS.fa"


def _head_bam(src: Path, dst: Path, n: int) -> str:
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


def _multiqc_available() -> bool:
    try:
        import multiqc  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def extraction_run(data_mirror, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adna_mqc")
    work = tmp / "work"
    work.mkdir()
    rows = [
        [s, s, f"{UF}/bams/{s}_rmdup.bam", MT_REF, "ancient", "double", "none"]
        for s in ("UF102", "UF801")
    ]
    for s, n in (("CEU_NA06984", 3000), ("YRI_NA18486", 60)):  # the second: below min_reads
        bam = _head_bam(
            data_mirror / f"ancient_dna/mtDNA_modern_1000G/bams/{s}.rCRS.bam", tmp / f"{s}.bam", n
        )
        rows.append([s, s, bam, MT_REF, "modern", "double", "none"])
    sheet = tmp / "samples.tsv"
    sheet.write_text(
        "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"
        + "".join("\t".join(r) + "\n" for r in rows)
    )
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name in ("introgression", "singlecell", "deconvolution"):
        cfg[name] = {"enabled": False}
    cfg["data_mirror"] = str(data_mirror)
    cfg["ancient_dna"] = {
        "enabled": True,
        "sample_sheet": str(sheet),
        "extraction": {"filters": "mapdamage"},
        "overview": {"min_reads": 200},
    }
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    res = "results/ancient_dna"
    targets = [
        f"{res}/multiqc/ancient_dna_damage_mqc.tsv",
        f"{res}/multiqc/ancient_dna_ct5p_mqc.yaml",
        f"{res}/plots/damage_overview.png",
    ]
    proc = run_snakemake(work, config, *targets, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # the report renders the Jinja captions of the overview outputs
    proc = run_snakemake(work, config, *targets, "--report", str(tmp / "report.html"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {"work": work, "res": work / res, "samples": [r[0] for r in rows]}


def test_summary_flags_small_samples(extraction_run):
    summary = pd.read_csv(extraction_run["res"] / "damage_summary.tsv", sep="\t").set_index(
        "sample"
    )
    assert (
        summary.loc["YRI_NA18486", "below_min_reads"]
        and not summary.loc["UF801", "below_min_reads"]
    )
    assert (summary["ct_5p1_ci_low"] <= summary["ct_5p1"]).all() and (
        summary["ct_5p1"] <= summary["ct_5p1_ci_high"]
    ).all()
    assert (summary["filters"] == "mapdamage").all()
    for s in extraction_run["samples"]:
        assert (
            extraction_run["res"] / "mapdamage" / s / "misincorporation.txt"
        ).stat().st_size > 0


def test_multiqc_finds_every_sample(extraction_run, tmp_path):
    if not _multiqc_available():
        if os.environ.get("CI") == "true":
            pytest.fail("multiqc is not installed (pip install '.[test]')")
        pytest.skip("multiqc is not installed (pip install multiqc==1.35)")
    out = tmp_path / "mqc"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "multiqc",
            str(extraction_run["res"]),
            "-o",
            str(out),
            "--no-ansi",
            "-f",
            "--data-format",
            "json",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "multiqc_data" / "multiqc_data.json").read_text())
    samples = set(extraction_run["samples"])
    plots = data["report_plot_data"]

    def lines(plot_id):
        assert plot_id in plots, f"MultiQC made no plot {plot_id!r} (plots: {sorted(plots)})"
        return {line["name"] for ds in plots[plot_id]["datasets"] for line in ds["lines"]}

    # MultiQC's own mapDamage module, from results/ancient_dna/mapdamage/<sample>/*_freq.txt
    assert lines("mapdamage-fiveprime_misinc_plot") == samples
    assert lines("mapdamage-threeprime_misinc_plot") == samples
    general = data["report_saved_raw_data"]["multiqc_general_stats"]
    assert set(general) == samples
    assert all(any(k.startswith("mapdamage") for k in general[s]) for s in samples)
    # lgdistribution.txt holds unpaired reads only (mapDamage): the two merged-read ancient samples
    assert lines("mapdamage-length-distribution-Forward") == {"UF102", "UF801"}
    # MultiQC's values are our tables' (percent): 5' C>T at position 1
    summary = pd.read_csv(extraction_run["res"] / "damage_summary.tsv", sep="\t").set_index(
        "sample"
    )
    for s in samples:
        assert general[s]["mapdamage-misinc_stats_1st_5_Prime_C_T"] == pytest.approx(
            100 * summary.loc[s, "ct_5p1"], abs=1e-4
        )
    # our custom content: the summary table and the C>T curves, every sample in both
    assert set(data["report_saved_raw_data"]["multiqc_genomelearn_adna_damage_table"]) == samples
    assert lines("genomelearn_adna_ct5p_plot") == samples
