"""End-to-end Snakemake run of the deconvolution analysis on tiny synthetic inputs (< 1 min)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OTHER_ANALYSES = ["introgression", "ancient_dna", "singlecell"]

pytestmark = pytest.mark.workflow


def _write_inputs(root: Path, rng: np.random.Generator) -> dict:
    n_sig, n_other, n_samples = 30, 300, 10
    sig = rng.gamma(0.7, 20.0, size=(n_sig, 2))
    props = rng.dirichlet([2.0, 2.0], size=n_samples)
    genes = [f"G{i}" for i in range(n_sig)]
    samples = [f"2020{i:03d}" for i in range(n_samples)]
    signal = rng.poisson(sig @ props.T * 400)
    other = rng.poisson(500, size=(n_other, n_samples))
    bulk = pd.DataFrame(
        np.vstack([signal, other]),
        index=genes + [f"O{i}" for i in range(n_other)],
        columns=samples,
    )
    # R write.table layout (header without a name for the gene column), as PredictFiberType ships it
    (root / "bulk.txt").write_text("\t".join(samples) + "\n" + bulk.to_csv(sep="\t", header=False))
    pd.DataFrame(sig, index=genes, columns=["typeA", "typeB"]).to_csv(
        root / "signature.tsv", sep="\t", index_label="gene"
    )
    measured = pd.DataFrame(
        {"SAMPLE_ID": samples[1:] + ["2099999"], "TRUE_A": np.r_[props[1:, 0], 0.5]}
    )
    measured.to_csv(root / "measured.tsv", sep="\t", index=False)
    bad = bulk.copy()
    bad.iloc[3, 2] = -1
    bad.to_csv(root / "bad_bulk.tsv", sep="\t", index_label="gene")

    import anndata as ad

    clusters = np.repeat(["typeA", "typeB"], 80)
    counts = rng.poisson(1.0, size=(clusters.size, 60)).astype(float)
    counts[clusters == "typeA", :6] += rng.poisson(15, size=(80, 6))
    counts[clusters == "typeB", 6:12] += rng.poisson(15, size=(80, 6))
    ref = ad.AnnData(
        np.log1p(counts),
        obs=pd.DataFrame({"label": clusters}, index=[f"c{i}" for i in range(clusters.size)]),
        var=pd.DataFrame(index=[f"G{i}" for i in range(60)]),
    )
    ref.uns["log1p"] = {"base": None}
    ref.write_h5ad(root / "reference.h5ad")
    (root / "markers.tsv").write_text(
        "cluster\tgene\n"
        + "".join(f"typeA\tG{i}\n" for i in range(6))
        + "".join(f"typeB\tG{i}\n" for i in range(6, 12))
        + "typeB\tNOT_A_GENE\n"
    )
    return {"samples": samples}


def _config(root: Path, datasets: dict) -> Path:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name in OTHER_ANALYSES:
        if name in cfg:
            cfg[name]["enabled"] = False
    cfg["deconvolution"] = {
        "enabled": True,
        "method": "deconrnaseq",
        "normalization": "cpm",
        "n_bootstrap": 50,
        "seed": 0,
        "depths": [20000, 2000],
        "n_repeats": 2,
        "datasets": datasets,
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _snakemake(root: Path, config: Path, *targets: str) -> subprocess.CompletedProcess:
    exe = shutil.which("snakemake") or f"{sys.executable} -m snakemake"
    cmd = [
        *exe.split(),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(root),
        "--configfile",
        str(config),
        "--cores",
        "2",
        "--keep-going",
        *targets,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_deconvolution_workflow_end_to_end_and_bad_input(tmp_path):
    """One Snakemake run (keep-going): three good datasets complete, a broken one fails cleanly."""
    info = _write_inputs(tmp_path, np.random.default_rng(0))
    datasets = {
        "tiny": {
            "bulk": {"path": str(tmp_path / "bulk.txt")},
            "signature": {"path": str(tmp_path / "signature.tsv")},
            "measured": {"path": str(tmp_path / "measured.tsv")},
            "measured_columns": {"TRUE_A": "typeA"},
        },
        "tiny_ref": {
            "bulk": {"path": str(tmp_path / "bulk.txt")},
            "reference": {
                "path": str(tmp_path / "reference.h5ad"),
                "cluster_key": "label",
                "markers": {"path": str(tmp_path / "markers.tsv")},
            },
            "method": "nnls",
            "depth_robustness": False,
        },
        "tiny_pseudo": {
            "pseudobulk": {
                "path": str(tmp_path / "reference.h5ad"),
                "cluster_key": "label",
                "n_markers": 5,
                "n_samples": 12,
                "cells_per_sample": 50,
            },
            "method": "nnls",
            "n_bootstrap": 20,
        },
        "broken": {
            "bulk": {"path": str(tmp_path / "bad_bulk.tsv")},
            "signature": {"path": str(tmp_path / "signature.tsv")},
            "n_bootstrap": 0,
            "depth_robustness": False,
        },
    }
    proc = _snakemake(tmp_path, _config(tmp_path, datasets))
    # the broken dataset fails with the file and record named, and leaves no partial output
    assert proc.returncode != 0
    assert "bad_bulk.tsv line 5, column '2020002' (gene 'G3'): negative value -1" in proc.stderr
    assert not (tmp_path / "results" / "deconvolution" / "broken" / "proportions.tsv").exists()
    assert (
        "Error in rule deconvolution_deconvolve" in proc.stderr
        and proc.stderr.count("Error in rule") == 1
    ), proc.stderr[-4000:]
    out = tmp_path / "results" / "deconvolution" / "tiny"
    for name in [
        "signature.tsv",
        "proportions.tsv",
        "genes.tsv",
        "agreement.tsv",
        "comparison.tsv",
        "method_comparison.tsv",
        "published_comparison.tsv",
        "scatter.png",
        "depth_curve.tsv",
        "depth_summary.tsv",
        "depth_curve.png",
    ]:
        assert (out / name).stat().st_size > 0, name
    props = pd.read_csv(out / "proportions.tsv", sep="\t", dtype={"sample": str})
    assert len(props) == 2 * len(info["samples"])
    assert np.allclose(props.groupby("sample")["proportion"].sum(), 1.0)
    assert (props["ci_low"] <= props["ci_high"]).all()
    agreement = pd.read_csv(out / "agreement.tsv", sep="\t")
    assert agreement.loc[0, "n"] == 9 and agreement.loc[0, "spearman_rho"] > 0.8
    log = (tmp_path / "logs" / "deconvolution" / "tiny" / "agreement.log").read_text()
    assert "2020000" in log and "2099999" in log  # both kinds of unmatched sample are named
    depth = pd.read_csv(out / "depth_summary.tsv", sep="\t")
    assert set(depth["depth"]) >= {20000, 2000}
    ref_out = tmp_path / "results" / "deconvolution" / "tiny_ref"
    assert pd.read_csv(ref_out / "signature.tsv", sep="\t").shape == (12, 3)  # NOT_A_GENE dropped
    assert (
        "NOT_A_GENE"
        in (tmp_path / "logs" / "deconvolution" / "tiny_ref" / "signature.log").read_text()
    )
    assert (ref_out / "proportions.tsv").exists() and not (ref_out / "depth_curve.tsv").exists()
    pseudo = tmp_path / "results" / "deconvolution" / "tiny_pseudo"
    markers = pd.read_csv(pseudo / "markers.tsv", sep="\t")
    assert set(markers["cluster"]) == {"typeA", "typeB"}
    split = pd.read_csv(pseudo / "pseudobulk" / "split.tsv", sep="\t")
    assert set(split["part"]) == {"reference", "mixture"}
    pseudo_agreement = pd.read_csv(pseudo / "agreement.tsv", sep="\t")
    assert (pseudo_agreement["n"] == 12).all() and (pseudo_agreement["pearson_r"] > 0.9).all()
    assert (tmp_path / "benchmarks" / "deconvolution" / "tiny" / "deconvolve.tsv").exists()
