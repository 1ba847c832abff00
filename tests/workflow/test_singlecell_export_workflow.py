"""The workflow's scanpy-native outputs: every graph it writes feeds sc.tl.umap and sc.tl.leiden.

Runs Snakemake on a tiny synthetic single-omic (counts) and multi-omics (RNA + methylation)
dataset up to ``<dataset>.h5ad`` / ``<dataset>.h5mu`` (rule singlecell_export), then reads them back.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

from tests.workflow.helpers import REPO, run_snakemake

pytestmark = pytest.mark.workflow


def _inputs(root: Path, rng: np.random.Generator) -> dict:
    types = np.array(["A", "B", "C"])
    labels = np.repeat(types, 30)
    n = labels.size
    group = np.searchsorted(types, labels)
    rates = rng.gamma(0.6, 1.0, size=(3, 120))
    rates[:, :20] *= rng.choice([0.1, 8.0], size=(3, 20))
    counts = rng.poisson(rates[group] * 2).astype(np.float32)
    counts[:, 0] += 1
    obs = pd.DataFrame({"celltype": labels}, index=[f"cell{i}" for i in range(n)])
    ad.AnnData(sp.csr_matrix(counts), obs=obs).write_h5ad(root / "counts.h5ad")
    cells = [f"m{i}" for i in range(n)]
    rna = rng.normal(0, 3, size=(3, 25))[group] + rng.normal(0, 1, size=(n, 25))
    pd.DataFrame(rna.T, index=[f"g{i}" for i in range(25)], columns=cells).to_csv(root / "rna.csv")
    met = (rng.random((n, 60)) < rng.random((3, 60))[group]).astype(float)
    met[rng.random(met.shape) < 0.5] = np.nan
    pd.DataFrame(met.T, index=[f"cg{i}" for i in range(60)], columns=cells).to_csv(
        root / "met.csv", na_rep="NA"
    )
    pd.DataFrame({"cell": cells, "kind": labels}).to_csv(root / "labels.csv", index=False)
    return {
        "counts": {
            "labels": {"column": "celltype"},
            "omics": {
                "rna": {"path": str(root / "counts.h5ad"), "values": "counts", "n_top_genes": 60}
            },
        },
        "multi": {
            "labels": {"path": str(root / "labels.csv"), "column": "kind"},
            "omics": {
                "rna": {"path": str(root / "rna.csv"), "orientation": "features_x_cells"},
                "met": {
                    "path": str(root / "met.csv"),
                    "orientation": "features_x_cells",
                    "type": "methylation",
                },
            },
        },
    }


def test_workflow_outputs_round_trip_through_scanpy(tmp_path):
    import mudata as md
    import scanpy as sc

    datasets = _inputs(tmp_path, np.random.default_rng(0))
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name in ("introgression", "ancient_dna", "deconvolution"):
        if name in cfg:
            cfg[name]["enabled"] = False
    small_ae = {
        "hidden": [16],
        "dropout": 0.0,
        "training": {"max_epochs": 2, "batch_size": 32, "patience": 2},
    }
    cfg["singlecell"] = {
        "enabled": True,
        "n_neighbors": 8,
        "n_components": 4,
        "autoencoder": small_ae,
        "multimodal_autoencoder": small_ae,
        "datasets": datasets,
    }
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    targets = [f"results/singlecell/{d}/{d}.{ext}" for d in datasets for ext in ("h5ad", "h5mu")]
    proc = run_snakemake(tmp_path, config, *targets, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / "results" / "singlecell"
    expected = {
        "counts": {"graph_rna", "neighbors_pca", "neighbors_ae"},
        "multi": {
            "graph_rna",
            "graph_met",
            "graph_consensus",
            "neighbors_pca",
            "neighbors_ae",
            "neighbors_pca_rna",
            "neighbors_pca_met",
            "neighbors_ae_rna",
            "neighbors_ae_met",
        },
    }
    for dataset, keys in expected.items():
        adata = ad.read_h5ad(out / dataset / f"{dataset}.h5ad")
        written = set(adata.uns["singlecell_export"]["neighbors_keys"])
        assert keys <= written
        assert {"X_pca", "X_ae"} <= set(adata.obsm) and "label" in adata.obs
        for key in sorted(written):
            entry = adata.uns[key]
            assert {entry["connectivities_key"], entry["distances_key"]} <= set(adata.obsp)
            assert entry["params"]["method"] == "umap" and entry["params"]["n_neighbors"] >= 9
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sc.tl.umap(
                    adata, neighbors_key=key, key_added=f"umap_{key}", maxiter=10, random_state=0
                )
                sc.tl.leiden(
                    adata,
                    neighbors_key=key,
                    key_added=f"sc_{key}",
                    flavor="igraph",
                    n_iterations=2,
                )
            assert (
                np.isfinite(adata.obsm[f"umap_{key}"]).all()
                and adata.obs[f"sc_{key}"].nunique() >= 2
            )
        mdata = md.read_h5mu(out / dataset / f"{dataset}.h5mu")
        assert set(mdata.mod) == set(datasets[dataset]["omics"]) and mdata.n_obs == adata.n_obs
    multi = ad.read_h5ad(out / "multi" / "multi.h5ad")
    assert multi.uns["graph_met"]["params"]["metric"] == "hamming"
    assert list(multi.uns["graph_consensus"]["params"]["consensus"]["omics"]) == ["rna", "met"]
