"""Helpers of ``rules/singlecell.smk``: settings with defaults, input files, methods and targets.

Plain functions of the ``singlecell`` config block (a dict), so that the rules file holds rules only.
"""

from __future__ import annotations

from typing import Callable, Mapping

ROOT = "results/singlecell"
DEFAULTS = {
    "seed": 0,
    "n_neighbors": 15,
    "n_components": 10,
    "leiden_resolution": 1.0,
    "umap_min_dist": 0.5,
    "consensus_min_omics": None,
    "consensus_n_neighbors": "auto",
    "consensus_max_isolated": 0.01,
    "hamming_block_size": 512,
    "silhouette_max_cells": 5000,
    "train_threads": 1,
    "knn_threads": 1,
}


def settings(sc: Mapping) -> dict:
    """Analysis-wide settings with their defaults filled in."""
    out = dict(DEFAULTS)
    out.update({key: sc[key] for key in DEFAULTS if sc.get(key) is not None})
    return out


def datasets(sc: Mapping) -> list:
    return list((sc.get("datasets") or {}))


def omics(sc: Mapping, dataset: str) -> list:
    return list(sc["datasets"][dataset]["omics"])


def is_multi(sc: Mapping, dataset: str) -> bool:
    return len(omics(sc, dataset)) > 1


def input_files(sc: Mapping, dataset: str, resolve: Callable[[str, str | None], str]) -> dict:
    """Every input file of a dataset: {configured path: resolved local path} (``resolve(path, url)``)."""
    spec = sc["datasets"][dataset]
    entries = [spec["omics"][o] for o in omics(sc, dataset)]
    for key in ("metadata", "labels"):
        if spec.get(key) and spec[key].get("path"):
            entries.append(spec[key])
    return {e["path"]: resolve(e["path"], e.get("url")) for e in entries}


def omic_files(sc: Mapping, dataset: str, omic: str, resolve: Callable[[str, str | None], str]) -> list:
    """The omic's matrix and, when the dataset has one, its metadata table (cell IDs of arrays)."""
    spec = sc["datasets"][dataset]
    files = input_files(sc, dataset, resolve)
    paths = [files[spec["omics"][omic]["path"]]]
    if spec.get("metadata"):
        paths.append(files[spec["metadata"]["path"]])
    return paths


def autoencoder_settings(sc: Mapping, key: str) -> dict:
    """Architecture block (``autoencoder`` / ``multimodal_autoencoder``) without ``training``; the
    bottleneck defaults to ``n_components``."""
    block = dict(sc.get(key) or {})
    block.pop("training", None)
    if block.get("bottleneck") is None:
        block["bottleneck"] = settings(sc)["n_components"]
    return block


def training_overrides(sc: Mapping, key: str) -> dict:
    return dict((sc.get(key) or {}).get("training") or {})


def preprocessed(sc: Mapping, dataset: str) -> dict:
    return {o: f"{ROOT}/{dataset}/omics/{o}/preprocessed.h5ad" for o in omics(sc, dataset)}


def methods(sc: Mapping, dataset: str) -> list:
    """Metrics rows of a dataset: embeddings (parquet) and graph-only methods (``graphs.h5ad`` keys).

    One omic: ``pca``, ``ae``, ``graph_<omic>``. Several: per omic ``pca_<omic>``, ``ae_<omic>``,
    ``graph_<omic>``, then ``graph_consensus``, ``pca`` (concatenated omics) and ``ae`` (joint).
    """
    base = f"{ROOT}/{dataset}"
    names = omics(sc, dataset)
    multi = len(names) > 1
    out = []
    for o in names:
        suffix = f"_{o}" if multi else ""
        out.append({"name": f"pca{suffix}", "omics": [o], "embedding": f"{base}/omics/{o}/pca.parquet"})
        out.append({"name": f"ae{suffix}", "omics": [o], "embedding": f"{base}/omics/{o}/ae.parquet"})
        out.append({"name": f"graph_{o}", "omics": [o], "graph": f"graph_{o}", "layout": f"{base}/omics/{o}/pca.parquet"})
    if multi:
        out.append({"name": "graph_consensus", "omics": names, "graph": "graph_consensus", "layout": f"{base}/joint/pca.parquet"})
        out.append({"name": "pca", "omics": names, "embedding": f"{base}/joint/pca.parquet"})
        out.append({"name": "ae", "omics": names, "embedding": f"{base}/joint/ae.parquet"})
    return out


def method_files(sc: Mapping, dataset: str) -> list:
    files = set()
    for m in methods(sc, dataset):
        files.update(p for p in (m.get("embedding"), m.get("layout")) if p)
    return sorted(files)


def histories(sc: Mapping) -> list:
    out = []
    for d in datasets(sc):
        out += [f"{ROOT}/{d}/omics/{o}/ae_history.tsv" for o in omics(sc, d)]
        if is_multi(sc, d):
            out.append(f"{ROOT}/{d}/joint/ae_history.tsv")
    return out


def targets(sc: Mapping) -> list:
    """Every final output of the analysis (per dataset and the three summary tables)."""
    names = datasets(sc)
    if not names:
        return []
    out = [f"{ROOT}/{d}/{name}" for d in names for name in (f"{d}.h5ad", "metrics.tsv", "umap.png")]
    return out + [f"{ROOT}/metrics.tsv", f"{ROOT}/graph_sizes.tsv", f"{ROOT}/training.tsv"]
