"""End-to-end Snakemake run of the single-cell analysis on tiny synthetic inputs (other analyses off)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

REPO = Path(__file__).resolve().parents[2]
OTHER_ANALYSES = ["introgression", "ancient_dna", "deconvolution"]

pytestmark = pytest.mark.workflow


def _write_inputs(root: Path, rng: np.random.Generator) -> None:
    n_per, types = 30, np.array(["A", "B", "C"])
    labels = np.repeat(types, n_per)
    n = labels.size
    # counts dataset (h5ad, sparse), labels in obs
    rates = rng.gamma(0.6, 1.0, size=(3, 120))
    rates[:, :20] *= rng.choice([0.1, 8.0], size=(3, 20))
    counts = rng.poisson(rates[np.searchsorted(types, labels)] * 2).astype(np.float32)
    counts[:, 0] += 1
    obs = pd.DataFrame({"celltype": labels}, index=[f"cell{i}" for i in range(n)])
    ad.AnnData(sp.csr_matrix(counts), obs=obs).write_h5ad(root / "counts.h5ad")
    # multi-omics: RNA (features x cells CSV), methylation with NA, ATAC as npy + metadata
    cells = [f"m{i}" for i in range(n)]
    centres = rng.normal(0, 3, size=(3, 25))
    rna = centres[np.searchsorted(types, labels)] + rng.normal(0, 1, size=(n, 25))
    pd.DataFrame(rna.T, index=[f"g{i}" for i in range(25)], columns=cells).to_csv(root / "rna.csv")
    p_met = rng.random((3, 60))
    met = (rng.random((n, 60)) < p_met[np.searchsorted(types, labels)]).astype(float)
    met[rng.random(met.shape) < 0.5] = np.nan
    met_cells = cells[:-1] + ["extra"]  # one cell differs from RNA: needs cell_matching: intersect
    pd.DataFrame(met.T, index=[f"cg{i}" for i in range(60)], columns=met_cells).to_csv(
        root / "met.csv", na_rep="NA"
    )
    atac = (
        rng.poisson(rng.gamma(1.0, 5.0, size=(3, 12))[np.searchsorted(types, labels)]).astype(
            float
        )
        + 1
    )
    np.save(root / "atac.npy", atac)
    pd.DataFrame({"barcode": cells, "kind": labels}).to_csv(
        root / "meta.tsv", sep="\t", index=False
    )
    # bad: duplicated cell ID
    bad = pd.DataFrame(
        rna.T[:, :5], index=[f"g{i}" for i in range(25)], columns=["x1", "x2", "x2", "x3", "x4"]
    )
    bad.to_csv(root / "bad.csv")


def _config(root: Path, datasets: dict) -> Path:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name in OTHER_ANALYSES:
        if name in cfg:
            cfg[name]["enabled"] = False
    small_ae = {
        "hidden": [32, 16],
        "dropout": 0.0,
        "validation_fraction": 0.2,
        "training": {"max_epochs": 3, "batch_size": 32, "patience": 3},
    }
    cfg["singlecell"] = {
        "enabled": True,
        "n_neighbors": 8,
        "n_components": 4,
        "n_seeds": 2,
        "leiden_resolutions": [0.3, 1.0],
        "peers": {
            "scvi": {"enabled": True, "max_epochs": 3},  # off by default (budget)
            "mofa": {"enabled": True, "iterations": 50},
            "wnn": {"enabled": False},
        },
        "autoencoder": small_ae,
        "multimodal_autoencoder": small_ae,
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
        *targets,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800)


def test_singlecell_workflow_end_to_end(tmp_path):
    _write_inputs(tmp_path, np.random.default_rng(0))
    datasets = {
        "counts": {
            "labels": {"column": "celltype"},
            "omics": {
                "rna": {
                    "path": str(tmp_path / "counts.h5ad"),
                    "values": "counts",
                    "n_top_genes": 60,
                }
            },
        },
        "multi": {
            "cell_matching": "intersect",
            "metadata": {"path": str(tmp_path / "meta.tsv"), "id_column": "barcode"},
            "labels": {"column": "kind"},
            "omics": {
                "rna": {"path": str(tmp_path / "rna.csv"), "orientation": "features_x_cells"},
                "met": {
                    "path": str(tmp_path / "met.csv"),
                    "orientation": "features_x_cells",
                    "type": "methylation",
                },
                "atac": {
                    "path": str(tmp_path / "atac.npy"),
                    "type": "accessibility",
                    "values": "counts",
                    "binarize_threshold": "median",
                },
            },
        },
    }
    proc = _snakemake(tmp_path, _config(tmp_path, datasets))
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / "results" / "singlecell"
    counts = ad.read_h5ad(out / "counts" / "counts.h5ad")
    assert {"X_pca", "X_ae", "X_umap_pca", "X_umap_ae", "X_umap_graph_rna"} <= set(counts.obsm)
    assert counts.obsm["X_pca"].shape == (90, 4) and counts.obsm["X_ae"].shape == (90, 4)
    assert {"leiden_pca", "leiden_ae", "label"} <= set(counts.obs)
    m = pd.read_csv(out / "counts" / "metrics.tsv", sep="\t")
    assert list(m["method"]) == ["pca", "ae", "graph_rna", "scanpy", "scvi", "mofa", "wnn"]
    status = m.set_index("method")["status"]
    assert (status[["pca", "ae", "graph_rna", "scanpy", "scvi"]] == "ok").all()
    # the dataset's own reason comes before the switch (WNN is also switched off here)
    assert "one omic" in status["mofa"] and "one omic" in status["wnn"]
    ok = m[m["status"] == "ok"].set_index("method")
    assert (ok["n_seeds"] == 2).all() and ok.loc[
        "graph_rna", "ari_mean"
    ] > 0.9  # three well separated types
    assert (
        ok[
            [
                "scib_bio_mean",
                "nmi_mean",
                "silhouette_label_mean",
                "clisi_mean",
                "knn_preservation_mean",
            ]
        ]
        .notna()
        .all()
        .all()
    )
    assert (ok["scib_bio_ci_low"] <= ok["scib_bio_mean"]).all()
    per_seed = pd.read_csv(out / "counts" / "metrics_seeds.tsv", sep="\t")
    assert len(per_seed) == 5 * 2 and set(per_seed["resolution"]) <= {0.3, 1.0}
    multi = pd.read_csv(out / "multi" / "metrics.tsv", sep="\t")
    assert {
        "pca_rna",
        "ae_met",
        "graph_atac",
        "graph_consensus",
        "graph_consensus_k8",
        "pca",
        "ae",
        "scanpy",
        "mofa",
    } <= set(multi["method"])
    assert {
        "knn_preservation_rna_mean",
        "knn_preservation_met_mean",
        "knn_preservation_atac_mean",
    } <= set(multi.columns)
    mstat = multi.set_index("method")
    assert mstat.loc["graph_consensus", "ari_mean"] > 0.9 and mstat.loc["mofa", "status"] == "ok"
    assert "multi-omics" in mstat.loc["scvi", "status"]
    assert "switched off" in mstat.loc["wnn", "status"]
    ranking = pd.read_csv(out / "ranking.tsv", sep="\t")
    assert ranking.groupby("dataset")["rank"].min().eq(1).all()
    assert {"resolution_mean", "resolution_at_edge"} <= set(ranking.columns)
    assert set(per_seed["resolution_edge"].fillna("")) <= {"", "low", "high"}
    verdict = pd.read_csv(out / "ae_verdict.tsv", sep="\t")
    assert verdict["statement"].str.contains(r"\(.* 95 % CI .* paired seeds\)").all()
    assert set(verdict["baseline"]) == {"pca", "scanpy"} and set(verdict["dataset"]) == {
        "counts",
        "multi",
    }
    dropped = pd.read_csv(out / "multi" / "dropped_cells.tsv", sep="\t")
    assert set(dropped["cell"]) == {"m89", "extra"}
    sizes = pd.read_csv(out / "multi" / "graph_sizes.tsv", sep="\t")
    consensus = sizes.set_index("graph").loc["graph_consensus"]
    assert 0 < consensus["n_edges"] <= consensus["union_edges"]
    joint = ad.read_h5ad(out / "multi" / "multi.h5ad")
    assert (
        joint.n_obs == 89
        and "graph_consensus_connectivities" in joint.obsp
        and joint.obsm["X_ae"].shape == (89, 4)
    )
    for name in (
        "metrics.tsv",
        "graph_sizes.tsv",
        "training.tsv",
        "ranking.tsv",
        "ae_verdict.tsv",
    ):
        assert (out / name).stat().st_size > 0
    training = pd.read_csv(out / "training.tsv", sep="\t")
    assert (
        len(training) == 2 * (1 + 1 + 3 + 1) and (training["epochs_run"] <= 3).all()
    )  # ae, scvi; 3 omics + joint
    assert (out / "multi" / "umap.png").stat().st_size > 10_000
    assert (
        tmp_path
        / "benchmarks"
        / "singlecell"
        / "multi"
        / "singlecell_train_multimodal_autoencoder.tsv"
    ).exists()
    assert (tmp_path / "benchmarks" / "singlecell" / "counts" / "singlecell_scvi.tsv").exists()
    assert not (out / "multi" / "checkpoints").exists() or not any(
        (out / "multi" / "checkpoints").rglob("last.pt")
    )


def test_singlecell_bad_input_fails_cleanly(tmp_path):
    _write_inputs(tmp_path, np.random.default_rng(1))
    datasets = {
        "broken": {
            "omics": {
                "rna": {"path": str(tmp_path / "bad.csv"), "orientation": "features_x_cells"}
            }
        }
    }
    target = "results/singlecell/broken/metrics.tsv"
    proc = _snakemake(tmp_path, _config(tmp_path, datasets), target)
    assert proc.returncode != 0
    assert (
        "dataset broken omic rna file" in proc.stderr
        and "bad.csv: duplicated cell ID(s): x2" in proc.stderr
    )
    assert not (tmp_path / "results" / "singlecell" / "broken" / "cells.tsv").exists()
