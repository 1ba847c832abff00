"""The steps of the single-cell workflow as plain functions on file paths (one per Snakemake rule).

Files of a dataset ``D`` (under ``results/singlecell/D/``), one rule each:

* ``cells.tsv`` (cell, label) and ``dropped_cells.tsv`` (omic, cell) — :func:`match_step`.
* ``omics/<omic>/preprocessed.h5ad`` + ``pca.parquet`` — :func:`preprocess_step`.
* ``omics/<omic>/ae.parquet``, ``ae_model.pt``, ``ae_history.tsv`` — :func:`autoencoder_step`.
* ``graphs.h5ad`` (``obsm["knn_<omic>"]`` input-space kNN indices, ``obsp["graph_<omic>"]`` UMAP
  connectivities, ``obsp["graph_consensus"]``) and ``graph_sizes.tsv`` — :func:`graphs_step`.
* multi-omics only: ``joint/pca.parquet`` (:func:`joint_pca_step`), ``joint/ae.parquet``, … (:func:`multimodal_step`).
* ``D.h5ad`` and ``metrics.tsv`` — :func:`analyse_step`; ``umap.png`` — :func:`plot_step`.

Embeddings are parquet tables, index = cell IDs (checked against ``cells.tsv`` when read).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse import csgraph

from genomelearn.errors import InputError
from genomelearn.singlecell.io import load_dataset, read_omic, read_table
from genomelearn.singlecell.preprocess import omic_settings, preprocess_omic

if TYPE_CHECKING:  # torch, scanpy, umap and scikit-learn load only in the steps that use them
    from genomelearn.singlecell.embed import AutoencoderSettings
    from genomelearn.training import TrainConfig

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


# --------------------------------------------------------------------------------------------- io
def write_embedding(
    path: str | Path, cells: Sequence[str], values: np.ndarray, prefix: str
) -> None:
    """Write an (n, d) embedding as parquet, index = cell IDs, columns ``prefix1..prefixd``."""
    frame = pd.DataFrame(
        np.asarray(values, dtype=np.float32), index=pd.Index(list(cells), name="cell")
    )
    frame.columns = [f"{prefix}{i + 1}" for i in range(frame.shape[1])]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


def read_embedding(path: str | Path, cells: Sequence[str]) -> np.ndarray:
    """Read an embedding written by :func:`write_embedding`, checking it holds ``cells`` in order.

    Raises:
        InputError: different cells or order.
    """
    frame = pd.read_parquet(path)
    if list(frame.index.astype(str)) != [str(c) for c in cells]:
        raise InputError(
            f"{path}: cells differ from the dataset's cells.tsv (stale file? rerun the workflow)"
        )
    return frame.to_numpy(dtype=np.float32)


def read_cells(path: str | Path) -> pd.DataFrame:
    """``cells.tsv``: columns cell, label (NaN = unlabelled)."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])


def _labels(cells: pd.DataFrame) -> np.ndarray:
    return cells["label"].to_numpy(dtype=object)


# -------------------------------------------------------------------------------------- preprocess
def match_step(
    name: str,
    spec: Mapping,
    resolve: Callable[[str], str],
    cells_output: str,
    dropped_output: str,
    log: Log = _quiet,
) -> pd.DataFrame:
    """Load and validate every input of a dataset, match cells across omics, attach labels.

    Writes ``cells.tsv`` (cell, label; label empty when unknown) and ``dropped_cells.tsv`` (omic,
    cell: the IDs that ``cell_matching: intersect`` removed). Nothing is written on error.

    Raises:
        InputError: any input problem (see :func:`genomelearn.singlecell.io.load_dataset`).
    """
    dataset = load_dataset(name, spec, resolve)
    for omic, ids in dataset.dropped.items():
        log(
            f"dataset {name}: cell_matching intersect dropped {len(ids)} cell(s) of {omic} absent from another omic: {', '.join(ids)}"
        )
    for omic, adata in dataset.omics.items():
        where = f"dataset {name} omic {omic} file {spec['omics'][omic]['path']}"
        omic_settings(spec["omics"][omic], where)  # fail here on a bad setting, before any output
        log(f"{omic}: {adata.n_obs} matched cells x {adata.n_vars} features")
    cells = pd.DataFrame({"cell": dataset.cells.astype(str)})
    cells["label"] = dataset.labels.to_numpy() if dataset.labels is not None else np.nan
    dropped = pd.DataFrame(
        [(o, c) for o, ids in dataset.dropped.items() for c in ids], columns=["omic", "cell"]
    )
    Path(cells_output).parent.mkdir(parents=True, exist_ok=True)
    cells.to_csv(cells_output, sep="\t", index=False)
    dropped.to_csv(dropped_output, sep="\t", index=False)
    if dataset.labels is not None:
        log(f"labels {dataset.labels.name}: {dataset.labels.value_counts(dropna=False).to_dict()}")
    return cells


def preprocess_step(
    name: str,
    omic: str,
    spec: Mapping,
    resolve: Callable[[str], str],
    cells_path: str,
    h5ad_output: str,
    pca_output: str,
    n_comps: int = 10,
    seed: int = 0,
    log: Log = _quiet,
) -> None:
    """Read one omic, keep the matched cells of ``cells.tsv`` (in that order), preprocess, PCA.

    Writes the preprocessed AnnData (``obs["label"]`` when labelled, ``uns["singlecell_omic"]``
    settings, ``obsm["X_pca"]``) and the PCA embedding as parquet.
    """
    from genomelearn.singlecell import embed

    ospec = spec["omics"][omic]
    where = f"dataset {name} omic {omic}"
    meta_ids = None
    if spec.get("metadata"):
        meta_path = resolve(spec["metadata"]["path"])
        table = read_table(meta_path, f"dataset {name}")
        col = spec["metadata"].get("id_column") or table.columns[0]
        meta_ids = pd.Index(table[col].astype(str))
    path = resolve(ospec["path"])
    adata = read_omic(
        path, ospec.get("format"), ospec.get("orientation", "cells_x_features"), meta_ids, where
    )
    cells = read_cells(cells_path)
    missing = ~cells["cell"].isin(adata.obs_names)
    if missing.any():
        raise InputError(
            f"{where} file {path}: cells of {cells_path} not in the file (stale cells.tsv?): {list(cells['cell'][missing][:10])}"
        )
    adata = adata[cells["cell"].to_numpy()].copy()
    settings = omic_settings(ospec, f"{where} file {path}")
    out = preprocess_omic(adata, settings, f"{where} file {path}")
    out.obs = pd.DataFrame(index=out.obs_names)
    if cells["label"].notna().any():
        out.obs["label"] = pd.Categorical(cells["label"].to_numpy())
        if spec.get("labels"):
            out.uns["labels_column"] = spec["labels"]["column"]
    scores, ratio = embed.pca_embedding(_matrix(out), n_comps, seed)
    out.obsm["X_pca"] = scores
    out.uns["pca"] = {"variance_ratio": ratio}
    log(
        f"{omic}: {adata.n_obs} cells x {adata.n_vars} features -> {out.n_vars} ({settings}); PCA {scores.shape[1]} components explain {ratio.sum():.3f}"
    )
    Path(h5ad_output).parent.mkdir(parents=True, exist_ok=True)
    out.write_h5ad(h5ad_output)
    write_embedding(pca_output, out.obs_names, scores, "PC")


def _matrix(adata: ad.AnnData):
    return adata.X if sp.issparse(adata.X) else np.asarray(adata.X, dtype=np.float32)


def _read_aligned(h5ads: Mapping[str, str]) -> dict:
    adatas = {omic: ad.read_h5ad(p) for omic, p in h5ads.items()}
    cells = next(iter(adatas.values())).obs_names
    for omic, a in adatas.items():
        if list(a.obs_names) != list(cells):
            raise InputError(
                f"{h5ads[omic]}: cells differ from the other omics (stale file? rerun the workflow)"
            )
    return adatas


def joint_pca_step(
    h5ads: Mapping[str, str], output: str, n_comps: int = 10, seed: int = 0, log: Log = _quiet
) -> None:
    """Baseline joint embedding: PCA of the concatenated, block-scaled omics (:func:`embed.concat_pca`)."""
    from genomelearn.singlecell import embed

    adatas = _read_aligned(h5ads)
    scores = embed.concat_pca([_matrix(a) for a in adatas.values()], n_comps, seed)
    write_embedding(output, next(iter(adatas.values())).obs_names, scores, "PC")
    log(f"joint PCA of {list(adatas)}: {scores.shape[1]} components")


# ---------------------------------------------------------------------------------------- training
def _checkpoint_dir(base: str | Path, payload: dict) -> Path:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :12
    ]
    return Path(base) / digest


def _history_frame(result, model_name: str) -> pd.DataFrame:
    history = result.history.copy()
    history.insert(0, "model", model_name)
    history["best_epoch"] = result.best_epoch
    history["device"] = result.device
    return history


def autoencoder_fingerprint(
    h5ad: str | Path, settings: AutoencoderSettings, train: TrainConfig, likelihood: str
) -> str:
    """Fingerprint of a single-omic autoencoder training (:func:`autoencoder_step`): the full
    content of the preprocessed ``.h5ad`` (not only its path and shape), the settings (bottleneck
    as capped), the training configuration, the likelihood and the genomelearn version
    (:func:`genomelearn.training.input_fingerprint`, sha256 hex)."""
    from genomelearn.training import input_fingerprint

    payload = {"settings": vars(settings), "train": vars(train), "likelihood": likelihood}
    return input_fingerprint([h5ad], payload)


def multimodal_fingerprint(
    h5ads: Mapping[str, str],
    settings: AutoencoderSettings,
    train: TrainConfig,
    likelihoods: list[str],
) -> str:
    """Fingerprint of a multimodal autoencoder training (:func:`multimodal_step`): full content
    of every omic's ``.h5ad`` plus settings, as :func:`autoencoder_fingerprint`."""
    from genomelearn.training import input_fingerprint

    payload = {"settings": vars(settings), "train": vars(train), "likelihoods": likelihoods}
    return input_fingerprint(list(h5ads.values()), payload)


def autoencoder_step(
    h5ad: str,
    settings: AutoencoderSettings,
    train: TrainConfig,
    embedding_output: str,
    model_output: str,
    history_output: str,
    checkpoint_base: str,
    log: Log = _quiet,
) -> None:
    """Train the single-omic autoencoder (bottleneck capped at the omic's feature count, as PCA is)
    and write its embedding, weights and per-epoch history. The seed is ``train.seed``. Counts
    omics (likelihood ``nb``/``zinb``) train on ``layers["counts"]`` with the library size.

    Checkpoints go to ``checkpoint_base/<hash of inputs and settings>/`` (resume after SIGTERM);
    they are removed after a successful run.
    """
    import torch

    from genomelearn.singlecell import embed

    adata = ad.read_h5ad(h5ad)
    X = _matrix(adata)
    likelihood = adata.uns["singlecell_omic"]["likelihood"]
    counts = adata.layers["counts"] if likelihood in ("nb", "zinb") else None
    settings = embed.AutoencoderSettings(
        **{**vars(settings), "bottleneck": min(settings.bottleneck, X.shape[1])}
    )
    payload = {"settings": vars(settings), "train": vars(train), "likelihood": likelihood}
    ckpt = _checkpoint_dir(checkpoint_base, {"h5ad": str(h5ad), "shape": X.shape, **payload})
    log(
        f"autoencoder on {X.shape[0]} cells x {X.shape[1]} features ({likelihood}); {settings}; {train}"
    )
    model, embedding, result = embed.train_autoencoder(
        X,
        likelihood,
        settings,
        train,
        ckpt,
        log,
        counts=counts,
        fingerprint=autoencoder_fingerprint(h5ad, settings, train, likelihood),
    )
    write_embedding(embedding_output, adata.obs_names, embedding, "AE")
    torch.save(
        {
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "n_features": X.shape[1],
            "likelihood": likelihood,
            "settings": vars(settings),
            "features": list(adata.var_names),
        },
        model_output,
    )
    _history_frame(result, "ae").to_csv(history_output, sep="\t", index=False)
    shutil.rmtree(ckpt, ignore_errors=True)
    log(f"done: best epoch {result.best_epoch} of {len(result.history)} on {result.device}")


def multimodal_step(
    h5ads: Mapping[str, str],
    settings: AutoencoderSettings,
    train: TrainConfig,
    embedding_output: str,
    model_output: str,
    history_output: str,
    checkpoint_base: str,
    log: Log = _quiet,
) -> None:
    """Train the multimodal autoencoder on all omics of a dataset; outputs as :func:`autoencoder_step`."""
    import torch

    from genomelearn.singlecell import embed

    adatas = _read_aligned(h5ads)
    cells = next(iter(adatas.values())).obs_names
    matrices = [_matrix(a) for a in adatas.values()]
    # count omics enter the joint model as log-normalised values with the Gaussian loss
    likelihoods = [
        "gaussian"
        if a.uns["singlecell_omic"]["likelihood"] in ("nb", "zinb")
        else a.uns["singlecell_omic"]["likelihood"]
        for a in adatas.values()
    ]
    payload = {"settings": vars(settings), "train": vars(train), "likelihoods": likelihoods}
    ckpt = _checkpoint_dir(checkpoint_base, {"h5ads": dict(h5ads), **payload})
    log(
        f"multimodal autoencoder on {len(cells)} cells, omics {list(adatas)} ({likelihoods}); {settings}; {train}"
    )
    model, embedding, result = embed.train_multimodal_autoencoder(
        matrices,
        likelihoods,
        settings,
        train,
        ckpt,
        log,
        fingerprint=multimodal_fingerprint(h5ads, settings, train, likelihoods),
    )
    write_embedding(embedding_output, cells, embedding, "AE")
    torch.save(
        {
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "omics": list(adatas),
            "n_features": [m.shape[1] for m in matrices],
            "likelihoods": likelihoods,
            "settings": vars(settings),
        },
        model_output,
    )
    _history_frame(result, "ae_joint").to_csv(history_output, sep="\t", index=False)
    shutil.rmtree(ckpt, ignore_errors=True)
    log(f"done: best epoch {result.best_epoch} of {len(result.history)} on {result.device}")


# -------------------------------------------------------------------------------------------- peers
def scanpy_step(
    h5ads: Mapping[str, str], output: str, settings: Mapping, seed: int = 0, log: Log = _quiet
) -> None:
    """Peer scanpy (:func:`genomelearn.singlecell.peers.scanpy_embedding`) → parquet embedding."""
    from genomelearn.singlecell import peers

    cells, emb = peers.scanpy_embedding(h5ads, int(settings["n_comps"]), seed)
    write_embedding(output, cells, emb, "PC")
    log(f"scanpy: scale + PCA of {list(h5ads)}: {emb.shape[1]} components")


def scvi_step(
    h5ads: Mapping[str, str],
    output: str,
    history_output: str,
    settings: Mapping,
    seed: int,
    threads: int = 1,
    log: Log = _quiet,
) -> None:
    """Peer scVI on the single counts omic (:func:`genomelearn.singlecell.peers.scvi_embedding`)."""
    from genomelearn.singlecell import peers

    (h5ad,) = h5ads.values()
    start = time.perf_counter()
    cells, emb, history = peers.scvi_embedding(
        h5ad,
        int(settings["n_latent"]),
        seed,
        int(settings["max_epochs"]),
        int(settings["batch_size"]),
        threads,
        log,
    )
    write_embedding(output, cells, emb, "Z")
    history.insert(0, "model", "scvi")
    history["best_epoch"] = (
        int(history["val_loss"].idxmin()) + 1
        if history["val_loss"].notna().any()
        else len(history)
    )
    history["seconds"] = (time.perf_counter() - start) / max(len(history), 1)
    history["items_per_second"] = len(cells) / history["seconds"]
    history["device"] = "cpu"
    history.to_csv(history_output, sep="\t", index=False)
    log(
        f"scVI seed {seed}: {len(history)} epochs, latent {emb.shape[1]} ({time.perf_counter() - start:.1f}s)"
    )


def mofa_step(
    h5ads: Mapping[str, str], output: str, settings: Mapping, seed: int, log: Log = _quiet
) -> None:
    """Peer MOFA+ (:func:`genomelearn.singlecell.peers.mofa_embedding`) → parquet factors."""
    from genomelearn.singlecell import peers

    start = time.perf_counter()
    cells, emb = peers.mofa_embedding(
        h5ads, int(settings["n_factors"]), seed, int(settings["iterations"])
    )
    write_embedding(output, cells, emb, "F")
    log(f"MOFA+ seed {seed}: {emb.shape[1]} factors ({time.perf_counter() - start:.1f}s)")


def wnn_step(
    cells_path: str,
    pcas: Mapping[str, str],
    output: str,
    n_neighbors: int = 15,
    seed: int = 0,
    log: Log = _quiet,
) -> None:
    """Peer WNN (:func:`genomelearn.singlecell.peers.wnn_graph`) of the per-omic PCA embeddings → h5ad."""
    from genomelearn.singlecell import peers

    cells = read_cells(cells_path)["cell"]
    start = time.perf_counter()
    graph = peers.wnn_graph(
        {o: read_embedding(p, cells) for o, p in pcas.items()}, pd.Index(cells), n_neighbors, seed
    )
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    graph.write_h5ad(output)
    log(f"WNN of {list(pcas)}: k={n_neighbors} ({time.perf_counter() - start:.1f}s)")


# -------------------------------------------------------------------------------------------- graphs
def graphs_step(
    dataset: str,
    h5ads: Mapping[str, str],
    graphs_output: str,
    sizes_output: str,
    k: int = 15,
    min_omics: int | None = None,
    consensus_k: int | str = "auto",
    max_isolated: float = 0.01,
    block_size: int = 512,
    seed: int = 0,
    log: Log = _quiet,
    n_jobs: int | None = None,
    approximate_above: int | None = 50_000,
) -> None:
    """Input-space kNN and UMAP connectivities per omic; the consensus graph when several omics.

    Args:
        dataset: dataset name (in the sizes table).
        h5ads: omic → preprocessed h5ad.
        graphs_output, sizes_output: output paths.
        k: n_neighbors of the per-omic graphs and of the reference kNN lists, counting the cell
            itself as scanpy's ``pp.neighbors`` does (k - 1 neighbours per cell; the graphs are
            then identical to scanpy's for the same data and k). With several omics a consensus
            at this k is also written (``obsp["graph_consensus_k<k>"]``, equal-k comparison).
        min_omics: consensus keeps edges present in at least this many omics (None = all).
        consensus_k: per-omic k of the graphs that are intersected: an int, or ``"auto"`` — the
            smallest of k, 2k, 4k, 8k (< cells) leaving at most ``max_isolated`` of the cells
            isolated (:func:`graphs.choose_consensus`; label-free).
        max_isolated: see ``consensus_k``.
        block_size: rows per block of the Hamming distance.
        seed: seed of the connectivities.
        n_jobs: threads of the exact Euclidean kNN queries (None = 1; same result for any number).
        approximate_above: more cells → NN-descent kNN (:func:`graphs.knn_method`); None = exact.

    Writes ``graphs.h5ad`` (obs = cells; ``obsm["knn_<omic>"]`` (n, k) int64 neighbour indices, -1
    = none; ``obsp["graph_<omic>"]`` and, for several omics, ``obsp["graph_consensus"]``) and
    ``graph_sizes.tsv`` (dataset, graph, omics, metric, k, n_cells, n_edges, mean_degree,
    isolated_cells, components, union_edges). With several omics the table also lists each omic's
    graph at the consensus k (``graph_<omic>_k<K>``), whose edges the consensus intersects.
    """
    from genomelearn.singlecell import graphs

    adatas = _read_aligned(h5ads)
    cells = next(iter(adatas.values())).obs_names
    n = len(cells)
    out = ad.AnnData(obs=pd.DataFrame(index=cells))
    multi = len(adatas) > 1
    k = max(1, int(k) - 1)  # n_neighbors counts the cell itself, as in scanpy's pp.neighbors
    if consensus_k == "auto":
        candidates = [c for c in (k, 2 * k, 4 * k, 8 * k) if c <= n - 1] or [min(k, n - 1)]
    else:
        candidates = [min(int(consensus_k), n - 1)]
    k_max = max(candidates + [k]) if multi else k
    rows = []
    knn_lists = []
    for omic, adata in adatas.items():
        info = adata.uns["singlecell_omic"]
        thr = info["binarize_threshold"]
        thr = thr if thr == "median" else float(thr)
        start = time.perf_counter()
        idx, dist = graphs.omic_knn(
            _matrix(adata),
            info["metric"],
            k_max,
            threshold=thr,
            block_size=block_size,
            n_jobs=n_jobs,
            approximate_above=approximate_above,
            seed=seed,
        )
        knn_lists.append((idx, dist))
        kk = min(k, idx.shape[1])
        graph = graphs.knn_connectivities(idx[:, :kk], dist[:, :kk], seed)
        out.obsm[f"knn_{omic}"] = idx[:, :kk]
        out.obsp[f"graph_{omic}"] = graph
        rows.append(_graph_row(dataset, f"graph_{omic}", omic, info["metric"], kk, graph))
        log(
            f"{omic}: {info['metric']} kNN (k={k_max}) in {time.perf_counter() - start:.1f}s; k={kk} graph {rows[-1]['n_edges']} edges"
        )
    if multi:
        kc, consensus, omic_graphs = graphs.choose_consensus(
            knn_lists, candidates, min_omics, max_isolated, seed
        )
        out.obsp["graph_consensus"] = consensus
        for omic, graph in zip(adatas, omic_graphs):
            metric = adatas[omic].uns["singlecell_omic"]["metric"]
            rows.append(_graph_row(dataset, f"graph_{omic}_k{kc}", omic, metric, kc, graph))
        # the same consensus at the k of every other graph (equal-k comparison, isolated cells allowed)
        _, equal_k, _ = graphs.choose_consensus(knn_lists, [min(k, n - 1)], min_omics, 1.0, seed)
        out.obsp[f"graph_consensus_k{k + 1}"] = equal_k
        row = _graph_row(
            dataset,
            f"graph_consensus_k{k + 1}",
            ",".join(adatas),
            "consensus at equal k",
            k,
            equal_k,
        )
        rows.append(row)
        union = graphs.n_edges(sum(sp.csr_matrix(g) for g in omic_graphs))
        m = len(omic_graphs) if min_omics is None else min_omics
        row = _graph_row(
            dataset,
            "graph_consensus",
            ",".join(adatas),
            f"edge in >= {m} of {len(omic_graphs)} omic graphs",
            kc,
            consensus,
        )
        row["union_edges"] = union
        rows.append(row)
        log(
            f"consensus (per-omic k={kc}, candidates {candidates}): {row['n_edges']} edges kept of {union} in the union, "
            f"{row['isolated_cells']} isolated cells of {n}"
        )
        out.uns["singlecell_graphs"] = {
            "n_neighbors": k,
            "consensus_k": kc,
            "consensus_min_omics": m,
        }
    else:
        out.uns["singlecell_graphs"] = {"n_neighbors": k}
    Path(graphs_output).parent.mkdir(parents=True, exist_ok=True)
    out.write_h5ad(graphs_output)
    pd.DataFrame(rows).to_csv(sizes_output, sep="\t", index=False, float_format="%.4f")


def _graph_row(dataset, name, omics, metric, k, graph) -> dict:
    from genomelearn.singlecell import graphs

    g = sp.csr_matrix(graph)
    degree = np.diff(g.indptr)
    n_comp, _ = csgraph.connected_components(g, directed=False)
    return {
        "dataset": dataset,
        "graph": name,
        "omics": omics,
        "metric": metric,
        "k": k,
        "n_cells": g.shape[0],
        "n_edges": graphs.n_edges(g),
        "mean_degree": float(degree.mean()),
        "isolated_cells": int((degree == 0).sum()),
        "components": int(n_comp),
        "union_edges": np.nan,
    }


# ------------------------------------------------------------------------------------------ analyse
SCIB_BIO = ("nmi", "ari", "silhouette_label", "isolated_labels", "clisi")
SUMMARY_METRICS = ("scib_bio", *SCIB_BIO, "knn_preservation", "n_clusters", "resolution")


def embedding_neighbours(
    embedding: np.ndarray,
    k: int,
    n_jobs: int | None = None,
    approximate_above: int | None = 50_000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean neighbours of an embedding with scanpy's convention: ``k`` counts the cell itself,
    so each cell gets ``k - 1`` neighbours ((n, k-1) int64 indices, float32 distances). Exact up to
    ``approximate_above`` cells, NN-descent above (:func:`graphs.euclidean_knn`)."""
    from genomelearn.singlecell import graphs

    return graphs.euclidean_knn(
        embedding, max(1, k - 1), n_jobs=n_jobs, approximate_above=approximate_above, seed=seed
    )


def best_resolution(
    graph: sp.spmatrix,
    labels,
    resolutions: Sequence[float],
    seed: int,
    unlabelled_resolution: float = 1.0,
) -> dict:
    """Leiden at every resolution of ``resolutions``; keep the clustering with the best NMI against
    the labels (scIB's ``opt_louvain``/``nmi_ari_cluster_labels_leiden`` search, Luecken et al. 2022,
    Nat Methods 19:41). Without labels no search is possible: ``unlabelled_resolution`` is used.

    A best resolution on the grid's edge (its lowest or highest value, grid of two or more values)
    means the optimum may lie outside the grid: ``resolution_edge`` is then ``"low"`` or ``"high"``
    (extend ``leiden_resolutions`` that way), else ``""``.

    Returns:
        dict with clusters ((n,) str), resolution, resolution_edge, nmi, ari, n_clusters.
    """
    from genomelearn.singlecell import embed, metrics

    has_labels = metrics.labelled(labels).sum() >= 2
    grid = [float(r) for r in resolutions] if has_labels else [float(unlabelled_resolution)]
    best = None
    for res in grid:
        clusters = embed.leiden_clusters(graph, float(res), seed)
        scores = metrics.clustering_agreement(labels, clusters)
        if best is None or (scores["nmi"] > best["nmi"]):
            best = {
                "clusters": clusters,
                "resolution": float(res),
                **scores,
                "n_clusters": len(np.unique(clusters)),
            }
    best["resolution_edge"] = resolution_edge(best["resolution"], grid)
    return best


def resolution_edge(resolution: float, grid: Sequence[float]) -> str:
    """``"low"`` / ``"high"`` when ``resolution`` is the lowest / highest value of a grid of two or
    more distinct resolutions, else ``""`` (inside the grid, or no search)."""
    values = np.unique(np.asarray(grid, dtype=float))
    if values.size < 2:
        return ""
    if np.isclose(resolution, values[0]):
        return "low"
    if np.isclose(resolution, values[-1]):
        return "high"
    return ""


def resolution_edge_flags(per_seed: pd.DataFrame, keys: Sequence[str] = ("dataset", "method")):
    """Per method, a flag naming the seeds whose best Leiden resolution sat on the grid's edge.

    Args:
        per_seed: one row per (method, seed) with ``resolution`` and ``resolution_edge``.

    Returns:
        keys + ``resolution_at_edge``: e.g. ``"low (0.02): 3/5 seeds"`` (both edges are listed,
        ``"; "``-separated), ``""`` when no seed's best resolution is on an edge.
    """
    rows = []
    for key, group in per_seed.groupby(list(keys), sort=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        edges = (
            group["resolution_edge"].fillna("").astype(str)
            if "resolution_edge" in group
            else pd.Series("", index=group.index)
        )
        parts = []
        for side in ("low", "high"):
            hit = group[edges == side]
            if len(hit):
                res = ", ".join(f"{r:g}" for r in sorted(hit["resolution"].unique()))
                parts.append(f"{side} ({res}): {len(hit)}/{len(group)} seeds")
        row["resolution_at_edge"] = "; ".join(parts)
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, "resolution_at_edge"])


def evaluate_seed(
    name: str,
    omics: Sequence[str],
    labels: np.ndarray,
    reference_knn: Mapping[str, np.ndarray],
    seed: int,
    k: int = 15,
    resolutions: Sequence[float] = (1.0,),
    embedding: np.ndarray | None = None,
    graph: sp.spmatrix | None = None,
    n_jobs: int | None = None,
    unlabelled_resolution: float = 1.0,
    silhouette_cells: int = 5000,
    approximate_above: int | None = 50_000,
) -> tuple[dict, np.ndarray, sp.csr_matrix]:
    """Metrics of one method at one seed (clustering seed; the embedding may itself depend on it).

    Embeddings: exact kNN with ``k`` counting the cell itself and UMAP connectivities — the graph
    ``sc.pp.neighbors(n_neighbors=k)`` builds (exact below 4,096 cells) — then the Leiden
    resolution search (:func:`best_resolution`). Graph methods: the same search on their graph.

    scIB bio-conservation (:func:`genomelearn.singlecell.metrics.scib_bio_metrics`): NMI/ARI at the
    best resolution, cell-type silhouette, isolated labels, cLISI; ``scib_bio`` is their unweighted
    mean (graph methods: silhouettes on hop distances, see the metrics function).
    kNN preservation: as :func:`genomelearn.singlecell.metrics.knn_preservation`, with the method's
    ``k - 1`` neighbours against the input space's. Above ``approximate_above`` cells the
    embedding's kNN is NN-descent (:func:`graphs.knn_method`); None = always exact.

    Returns:
        (row dict, best clusters (n,) str, graph (CSR)).
    """
    from genomelearn.singlecell import graphs, metrics

    if embedding is not None:
        idx, dist = embedding_neighbours(embedding, k, n_jobs, approximate_above, seed)
        graph = graphs.knn_connectivities(idx, dist, seed)
        neighbours = idx
    else:
        graph = sp.csr_matrix(graph)
        neighbours = graphs.graph_topk_neighbors(graph, max(1, k - 1))
    best = best_resolution(graph, labels, resolutions, seed, unlabelled_resolution)
    bio = metrics.scib_bio_metrics(
        labels, embedding=embedding, graph=graph, k=k, max_cells=silhouette_cells, seed=seed
    )
    row = {
        "method": name,
        "seed": seed,
        "kind": "embedding" if embedding is not None else "graph",
        "omics": ",".join(omics),
        "n_cells": len(labels),
        "n_dims": embedding.shape[1] if embedding is not None else np.nan,
        "n_edges": graphs.n_edges(graph),
        "n_clusters": best["n_clusters"],
        "resolution": best["resolution"],
        "resolution_edge": best["resolution_edge"],
        "nmi": best["nmi"],
        "ari": best["ari"],
        **bio,
    }
    row["scib_bio"] = (
        float(np.nanmean([row[m] for m in SCIB_BIO]))
        if any(np.isfinite(row[m]) for m in SCIB_BIO)
        else np.nan
    )
    preservation = {
        o: float(np.nanmean(metrics.knn_preservation(ref, neighbours)))
        for o, ref in reference_knn.items()
    }
    row["knn_preservation"] = float(np.mean([preservation[o] for o in omics]))
    for o, value in preservation.items():
        row[f"knn_preservation_{o}"] = value
    return row, best["clusters"], graph


def interval_table(
    per_seed: pd.DataFrame,
    keys: Sequence[str] = ("dataset", "method"),
    columns: Sequence[str] = SUMMARY_METRICS,
) -> pd.DataFrame:
    """Mean, sd and the 95 % t-interval over seeds of each metric, one row per method.

    Args:
        per_seed: one row per (method, seed).
        keys: grouping columns (kept in order of first appearance).
        columns: metrics to summarise (absent ones are skipped).

    Returns:
        keys + n_seeds + ``<metric>_mean``/``_sd``/``_ci_low``/``_ci_high`` per metric (interval:
        mean ± t(0.975, n-1)·sd/√n; NaN with one seed).
    """
    from scipy import stats

    rows = []
    for key, group in per_seed.groupby(list(keys), sort=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["n_seeds"] = int(group["seed"].nunique()) if "seed" in group else len(group)
        for col in columns:
            if col not in group:
                continue
            v = group[col].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            mean = float(v.mean()) if v.size else np.nan
            sd = float(v.std(ddof=1)) if v.size > 1 else np.nan
            half = (
                float(stats.t.ppf(0.975, v.size - 1) * sd / np.sqrt(v.size))
                if v.size > 1
                else np.nan
            )
            row.update(
                {
                    f"{col}_mean": mean,
                    f"{col}_sd": sd,
                    f"{col}_ci_low": mean - half,
                    f"{col}_ci_high": mean + half,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _seed_embedding(method: Mapping, seed: int, cells) -> np.ndarray:
    paths = method["embedding"]
    path = paths[str(seed)] if isinstance(paths, Mapping) else paths
    return read_embedding(path, cells)


def analyse_step(
    dataset: str,
    cells_path: str,
    first_h5ad: str,
    graphs_path: str,
    methods: Sequence[Mapping],
    h5ad_output: str,
    metrics_output: str,
    seeds_output: str,
    k: int = 15,
    resolutions: Sequence[float] = (1.0,),
    unlabelled_resolution: float = 1.0,
    seeds: Sequence[int] = (0,),
    min_dist: float = 0.5,
    silhouette_cells: int = 5000,
    log: Log = _quiet,
    n_jobs: int | None = None,
    approximate_above: int | None = 50_000,
) -> pd.DataFrame:
    """Evaluate every method of a dataset at every seed; write ``<dataset>.h5ad``, ``metrics.tsv``
    (mean, sd, 95 % interval over seeds) and ``metrics_seeds.tsv`` (one row per method and seed).

    Args:
        dataset: dataset name.
        cells_path: ``cells.tsv``.
        first_h5ad: preprocessed h5ad of the first omic (its matrix becomes ``.X`` of the output).
        graphs_path: ``graphs.h5ad`` (input-space kNN per omic, omic and consensus graphs).
        methods: dicts with ``name``, ``omics`` (list), ``kind``, and either ``embedding`` (parquet
            path, or {seed (str): path} for a method trained per seed), ``graph`` (a key of
            ``graphs.h5ad`` obsp) or ``graph_file`` + ``graph`` (an h5ad and its obsp key), plus
            ``layout`` (parquet: data umap-learn uses to place disconnected graph components); or
            ``unavailable`` (the reason a peer cannot run: a row without metrics).
        k: n_neighbors of every graph built here (counts the cell itself, as scanpy).
        resolutions: Leiden resolution grid searched for every method and seed.
        unlabelled_resolution: the resolution of unlabelled data (no search possible).
        silhouette_cells: labelled cells sampled for the hop-distance silhouettes of graphs.
        seeds: clustering seeds; per-seed methods use the embedding trained with the same seed.
        min_dist: UMAP ``min_dist`` (layout of the first seed only).
        n_jobs: threads of the exact kNN queries (None = 1).

    Every available method gets ``obsm["X_<name>"]`` (embeddings, first seed), ``obsm["X_umap_<name>"]``,
    ``obs["leiden_<name>"]`` (best resolution, first seed) and ``obsp["graph_<name>"]`` (graph
    methods ``graph_*`` keep their name).

    Returns:
        The summary table (one row per method).
    """
    from genomelearn.singlecell import embed

    cells = read_cells(cells_path)
    labels = _labels(cells)
    stored = ad.read_h5ad(graphs_path)
    if list(stored.obs_names) != list(cells["cell"]):
        raise InputError(
            f"{graphs_path}: cells differ from {cells_path} (stale file? rerun the workflow)"
        )
    reference = {
        key[len("knn_") :]: np.asarray(stored.obsm[key])
        for key in stored.obsm
        if key.startswith("knn_")
    }
    first = ad.read_h5ad(first_h5ad)
    out = ad.AnnData(
        X=first.X, obs=pd.DataFrame(index=pd.Index(cells["cell"].astype(str))), var=first.var
    )
    if cells["label"].notna().any():
        out.obs["label"] = pd.Categorical(cells["label"])
        out.uns["labels_column"] = first.uns.get("labels_column", "label")
    per_seed, unavailable = [], []
    for method in methods:
        name = method["name"]
        if method.get("unavailable"):
            unavailable.append(
                {
                    "dataset": dataset,
                    "method": name,
                    "kind": method.get("kind", ""),
                    "omics": ",".join(method["omics"]),
                    "status": f"unavailable: {method['unavailable']}",
                }
            )
            log(f"{name}: unavailable ({method['unavailable']})")
            continue
        start = time.perf_counter()
        graph_source = None
        if not method.get("embedding"):
            holder = ad.read_h5ad(method["graph_file"]) if method.get("graph_file") else stored
            graph_source = holder.obsp[method["graph"]]
        for i, seed in enumerate(seeds):
            emb = _seed_embedding(method, seed, cells["cell"]) if method.get("embedding") else None
            row, clusters, graph = evaluate_seed(
                name,
                method["omics"],
                labels,
                reference,
                seed,
                k,
                resolutions,
                embedding=emb,
                graph=graph_source,
                n_jobs=n_jobs,
                unlabelled_resolution=unlabelled_resolution,
                silhouette_cells=silhouette_cells,
                approximate_above=approximate_above,
            )
            per_seed.append({"dataset": dataset, **row, "status": "ok"})
            if i == 0:
                layout = (
                    emb if emb is not None else read_embedding(method["layout"], cells["cell"])
                )
                if emb is not None:
                    out.obsm[f"X_{name}"] = emb
                out.obsm[f"X_umap_{name}"] = embed.umap_layout(graph, layout, seed, min_dist)
                out.obs[f"leiden_{name}"] = pd.Categorical(clusters)
                out.obsp[name if name.startswith("graph_") else f"graph_{name}"] = graph
        done = pd.DataFrame([r for r in per_seed if r["method"] == name])
        log(
            f"{name}: scIB bio {done['scib_bio'].mean():.3f} ± {done['scib_bio'].std(ddof=1):.3f}, NMI "
            f"{done['nmi'].mean():.3f}, ARI {done['ari'].mean():.3f}, kNN preservation "
            f"{done['knn_preservation'].mean():.3f} over {len(seeds)} seeds ({time.perf_counter() - start:.1f}s)"
        )
    seeds_table = pd.DataFrame(per_seed)
    per_omic = tuple(c for c in seeds_table.columns if c.startswith("knn_preservation_"))
    table = (
        interval_table(seeds_table, columns=SUMMARY_METRICS + per_omic)
        if len(seeds_table)
        else pd.DataFrame(columns=["dataset", "method"])
    )
    if len(seeds_table):
        info = (
            seeds_table.groupby("method", sort=False)[["kind", "omics", "n_cells", "n_dims"]]
            .first()
            .reset_index()
        )
        table = table.merge(info, on="method", how="left")
        edges = resolution_edge_flags(seeds_table)
        table = table.merge(edges, on=["dataset", "method"], how="left")
        table["status"] = "ok"
        for _, r in edges[edges["resolution_at_edge"] != ""].iterrows():
            log(
                f"{r['method']}: best Leiden resolution on the grid's edge, {r['resolution_at_edge']}"
                f" (grid {min(resolutions):g}-{max(resolutions):g}): extend leiden_resolutions"
            )
    table = pd.concat([table, pd.DataFrame(unavailable)], ignore_index=True)
    if "resolution_at_edge" in table:
        table["resolution_at_edge"] = table["resolution_at_edge"].fillna("").astype(str)
    out.uns["singlecell_metrics"] = table
    out.uns["singlecell"] = {
        "dataset": dataset,
        "n_neighbors": k,
        "leiden_resolutions": list(map(float, resolutions)),
        "seeds": list(map(int, seeds)),
        "umap_min_dist": min_dist,
    }
    Path(h5ad_output).parent.mkdir(parents=True, exist_ok=True)
    out.write_h5ad(h5ad_output)
    table.to_csv(metrics_output, sep="\t", index=False, float_format="%.4f")
    seeds_table.to_csv(seeds_output, sep="\t", index=False, float_format="%.4f")
    return table


# --------------------------------------------------------------------------------------------- plot
def plot_step(h5ad: str, output: str, title: str = "") -> None:
    """One row per method: UMAP coloured by label (when labelled) and by Leiden cluster (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    adata = ad.read_h5ad(h5ad)
    names = [k[len("X_umap_") :] for k in adata.obsm if k.startswith("X_umap_")]
    has_labels = "label" in adata.obs
    ncols = 2 if has_labels else 1
    table = adata.uns.get("singlecell_metrics")
    scores = {}
    if table is not None:
        table = pd.DataFrame(table)
        scores = {r["method"]: r for _, r in table.iterrows()}
        order = {m: i for i, m in enumerate(table["method"])}
        names.sort(key=lambda m: order.get(m, len(order)))
    fig, axes = plt.subplots(
        len(names), ncols, figsize=(5.2 * ncols, 4.2 * len(names)), squeeze=False
    )
    for i, name in enumerate(names):
        xy = adata.obsm[f"X_umap_{name}"]
        columns = (["label"] if has_labels else []) + [f"leiden_{name}"]
        for j, col in enumerate(columns):
            ax = axes[i, j]
            cats = adata.obs[col].astype(str)
            levels = sorted(cats.unique(), key=lambda s: (len(s), s))
            cmap = plt.get_cmap("tab10" if len(levels) <= 10 else "tab20")
            size = float(np.clip(4000 / max(adata.n_obs, 1), 3, 40))
            for c, level in enumerate(levels):
                sel = (cats == level).to_numpy()
                ax.scatter(
                    xy[sel, 0],
                    xy[sel, 1],
                    s=size,
                    color=cmap(c % cmap.N),
                    label=level if len(levels) <= 20 else None,
                    linewidths=0,
                )
            r = scores.get(name)
            extra = ""
            if r is not None:
                extra = (
                    f"\nscIB bio {float(r['scib_bio_mean']):.2f}  ARI {float(r['ari_mean']):.2f}  "
                    f"NMI {float(r['nmi_mean']):.2f}  kNN-pres {float(r['knn_preservation_mean']):.2f} (mean of seeds)"
                )
            ax.set_title(
                f"{name}: {'label' if col == 'label' else 'Leiden clusters'}{extra}", fontsize=9
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if col == "label" and len(levels) <= 20:
                ax.legend(fontsize=6, markerscale=2, loc="best", frameon=False)
    if title:
        fig.suptitle(title, y=0.999)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (4.2 * len(names))))
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=90)
    plt.close(fig)


# ------------------------------------------------------------------------------------------ summary
def ranking_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Methods ranked per dataset by the mean scIB bio-conservation score (1 = best), with its 95 %
    interval over seeds; unavailable peers follow, unranked, with their reason.
    ``resolution_at_edge`` (from :func:`resolution_edge_flags`) flags methods whose best Leiden
    resolution sat on the edge of the searched grid in some seeds (the optimum may lie outside)."""
    cols = [
        "dataset",
        "method",
        "kind",
        "omics",
        "n_seeds",
        "scib_bio_mean",
        "scib_bio_ci_low",
        "scib_bio_ci_high",
        "nmi_mean",
        "ari_mean",
        "silhouette_label_mean",
        "isolated_labels_mean",
        "clisi_mean",
        "knn_preservation_mean",
        "n_clusters_mean",
        "resolution_mean",
        "resolution_at_edge",
        "status",
    ]
    out = []
    for _, group in metrics.groupby("dataset", sort=False):
        ok = group[group["status"] == "ok"].sort_values("scib_bio_mean", ascending=False).copy()
        ok.insert(1, "rank", np.arange(1, len(ok) + 1))
        rest = group[group["status"] != "ok"].copy()
        rest.insert(1, "rank", np.nan)
        out += [ok, rest]
    table = pd.concat(out, ignore_index=True)
    return table[["dataset", "rank"] + [c for c in cols[1:] if c in table]]


def verdict_table(
    per_seed: pd.DataFrame,
    challenger: str = "ae",
    baselines: Sequence[str] = ("pca", "scanpy"),
    metrics_compared: Sequence[str] = ("scib_bio", "ari", "nmi"),
) -> pd.DataFrame:
    """Does the autoencoder beat PCA and scanpy? Paired by seed, per dataset and metric.

    The difference challenger − baseline is taken seed by seed (the same clustering seed; the AE's
    training seed), and its mean gets a 95 % t-interval. Verdict: ``better`` when the interval is
    above 0, ``worse`` when below, ``no clear difference`` otherwise.

    Returns:
        dataset, challenger, baseline, metric, n_seeds, challenger_mean, baseline_mean, difference,
        ci_low, ci_high, verdict, statement (the row as one sentence, e.g. ``worm_neuron: ae beats
        pca on scib_bio (0.700 vs 0.600; difference +0.100, 95 % CI +0.080 to +0.120, 5 paired
        seeds)``; ``is below`` / ``is not separated from`` for the other verdicts).
    """
    from scipy import stats

    rows = []
    for dataset, group in per_seed.groupby("dataset", sort=False):
        wide = {m: g.set_index("seed") for m, g in group.groupby("method")}
        if challenger not in wide:
            continue
        for base in baselines:
            if base not in wide:
                continue
            for metric in metrics_compared:
                a, b = wide[challenger][metric], wide[base][metric]
                common = a.index.intersection(b.index)
                d = (a.loc[common] - b.loc[common]).to_numpy(dtype=float)
                n = int(np.isfinite(d).sum())
                d = d[np.isfinite(d)]
                mean = float(d.mean()) if n else np.nan
                half = (
                    float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n))
                    if n > 1
                    else np.nan
                )
                low, high = mean - half, mean + half
                verdict = "better" if low > 0 else "worse" if high < 0 else "no clear difference"
                relation = {
                    "better": "beats",
                    "worse": "is below",
                    "no clear difference": "is not separated from",
                }[verdict]
                rows.append(
                    {
                        "dataset": dataset,
                        "challenger": challenger,
                        "baseline": base,
                        "metric": metric,
                        "n_seeds": n,
                        "challenger_mean": float(a.loc[common].mean()),
                        "baseline_mean": float(b.loc[common].mean()),
                        "difference": mean,
                        "ci_low": low,
                        "ci_high": high,
                        "verdict": verdict,
                        "statement": (
                            f"{dataset}: {challenger} {relation} {base} on {metric} "
                            f"({float(a.loc[common].mean()):.3f} vs "
                            f"{float(b.loc[common].mean()):.3f}; difference {mean:+.3f}, "
                            f"95 % CI {low:+.3f} to {high:+.3f}, {n} paired seeds)"
                        ),
                    }
                )
    return pd.DataFrame(rows)


def summary_step(
    metrics_paths: Sequence[str],
    seeds_paths: Sequence[str],
    sizes_paths: Sequence[str],
    history_paths: Sequence[str],
    outputs: Mapping[str, str],
) -> None:
    """The analysis-wide tables: ``metrics``, ``graph_sizes``, ``training`` (one line per trained
    model and seed), ``ranking`` (:func:`ranking_table`) and ``ae_verdict`` (:func:`verdict_table`).

    Args:
        outputs: table name → path (keys as :func:`workflow_support.summary_outputs`).
    """
    metrics = pd.concat([pd.read_csv(p, sep="\t") for p in metrics_paths], ignore_index=True)
    metrics.to_csv(outputs["metrics"], sep="\t", index=False, float_format="%.4f")
    per_seed = pd.concat([pd.read_csv(p, sep="\t") for p in seeds_paths], ignore_index=True)
    ranking_table(metrics).to_csv(outputs["ranking"], sep="\t", index=False, float_format="%.4f")
    verdict_table(per_seed).to_csv(
        outputs["ae_verdict"], sep="\t", index=False, float_format="%.4f"
    )
    pd.concat([pd.read_csv(p, sep="\t") for p in sizes_paths]).to_csv(
        outputs["graph_sizes"], sep="\t", index=False, float_format="%.4f"
    )
    rows = []
    for p in history_paths:
        h = pd.read_csv(p, sep="\t")
        parts = Path(p).parts
        i = parts.index("singlecell") + 1 if "singlecell" in parts else 0
        dataset = parts[i]
        where = parts[i + 1]
        unit = parts[i + 2] if where in ("omics", "peers") else "joint"
        seed = next(
            (int(x[4:]) for x in parts if x.startswith("seed") and x[4:].isdigit()), np.nan
        )
        best_epoch = int(h["best_epoch"].iloc[0])
        best = h.loc[h["epoch"] == best_epoch]
        rows.append(
            {
                "dataset": dataset,
                "model": h["model"].iloc[0],
                "omics": unit,
                "seed": seed,
                "epochs_run": int(h["epoch"].max()),
                "best_epoch": best_epoch,
                "best_val_loss": float(best["val_loss"].iloc[0]) if len(best) else np.nan,
                "train_seconds": float(h["seconds"].sum()),
                "cells_per_second": float(h["items_per_second"].median()),
                "device": h["device"].iloc[0],
            }
        )
    pd.DataFrame(rows).to_csv(outputs["training"], sep="\t", index=False, float_format="%.4g")
