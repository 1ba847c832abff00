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
def write_embedding(path: str | Path, cells: Sequence[str], values: np.ndarray, prefix: str) -> None:
    """Write an (n, d) embedding as parquet, index = cell IDs, columns ``prefix1..prefixd``."""
    frame = pd.DataFrame(np.asarray(values, dtype=np.float32), index=pd.Index(list(cells), name="cell"))
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
        raise InputError(f"{path}: cells differ from the dataset's cells.tsv (stale file? rerun the workflow)")
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
        log(f"dataset {name}: cell_matching intersect dropped {len(ids)} cell(s) of {omic} absent from another omic: {', '.join(ids)}")
    for omic, adata in dataset.omics.items():
        where = f"dataset {name} omic {omic} file {spec['omics'][omic]['path']}"
        omic_settings(spec["omics"][omic], where)  # fail here on a bad setting, before any output
        log(f"{omic}: {adata.n_obs} matched cells x {adata.n_vars} features")
    cells = pd.DataFrame({"cell": dataset.cells.astype(str)})
    cells["label"] = dataset.labels.to_numpy() if dataset.labels is not None else np.nan
    dropped = pd.DataFrame([(o, c) for o, ids in dataset.dropped.items() for c in ids], columns=["omic", "cell"])
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
    adata = read_omic(path, ospec.get("format"), ospec.get("orientation", "cells_x_features"), meta_ids, where)
    cells = read_cells(cells_path)
    missing = ~cells["cell"].isin(adata.obs_names)
    if missing.any():
        raise InputError(f"{where} file {path}: cells of {cells_path} not in the file (stale cells.tsv?): {list(cells['cell'][missing][:10])}")
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
    log(f"{omic}: {adata.n_obs} cells x {adata.n_vars} features -> {out.n_vars} ({settings}); PCA {scores.shape[1]} components explain {ratio.sum():.3f}")
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
            raise InputError(f"{h5ads[omic]}: cells differ from the other omics (stale file? rerun the workflow)")
    return adatas


def joint_pca_step(h5ads: Mapping[str, str], output: str, n_comps: int = 10, seed: int = 0, log: Log = _quiet) -> None:
    """Baseline joint embedding: PCA of the concatenated, block-scaled omics (:func:`embed.concat_pca`)."""
    from genomelearn.singlecell import embed

    adatas = _read_aligned(h5ads)
    scores = embed.concat_pca([_matrix(a) for a in adatas.values()], n_comps, seed)
    write_embedding(output, next(iter(adatas.values())).obs_names, scores, "PC")
    log(f"joint PCA of {list(adatas)}: {scores.shape[1]} components")


# ---------------------------------------------------------------------------------------- training
def _checkpoint_dir(base: str | Path, payload: dict) -> Path:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(base) / digest


def _history_frame(result, model_name: str) -> pd.DataFrame:
    history = result.history.copy()
    history.insert(0, "model", model_name)
    history["best_epoch"] = result.best_epoch
    history["device"] = result.device
    return history


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
    and write its embedding, weights and per-epoch history.

    Checkpoints go to ``checkpoint_base/<hash of inputs and settings>/`` (resume after SIGTERM);
    they are removed after a successful run.
    """
    import torch

    from genomelearn.singlecell import embed

    adata = ad.read_h5ad(h5ad)
    X = _matrix(adata)
    likelihood = adata.uns["singlecell_omic"]["likelihood"]
    settings = embed.AutoencoderSettings(**{**vars(settings), "bottleneck": min(settings.bottleneck, X.shape[1])})
    ckpt = _checkpoint_dir(checkpoint_base, {"h5ad": str(h5ad), "shape": X.shape, "settings": vars(settings), "train": vars(train)})
    log(f"autoencoder on {X.shape[0]} cells x {X.shape[1]} features ({likelihood}); {settings}; {train}")
    model, embedding, result = embed.train_autoencoder(X, likelihood, settings, train, ckpt, log)
    write_embedding(embedding_output, adata.obs_names, embedding, "AE")
    torch.save(
        {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "n_features": X.shape[1],
         "likelihood": likelihood, "settings": vars(settings), "features": list(adata.var_names)},
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
    likelihoods = [a.uns["singlecell_omic"]["likelihood"] for a in adatas.values()]
    ckpt = _checkpoint_dir(checkpoint_base, {"h5ads": dict(h5ads), "settings": vars(settings), "train": vars(train)})
    log(f"multimodal autoencoder on {len(cells)} cells, omics {list(adatas)} ({likelihoods}); {settings}; {train}")
    model, embedding, result = embed.train_multimodal_autoencoder(matrices, likelihoods, settings, train, ckpt, log)
    write_embedding(embedding_output, cells, embedding, "AE")
    torch.save(
        {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "omics": list(adatas),
         "n_features": [m.shape[1] for m in matrices], "likelihoods": likelihoods, "settings": vars(settings)},
        model_output,
    )
    _history_frame(result, "ae_joint").to_csv(history_output, sep="\t", index=False)
    shutil.rmtree(ckpt, ignore_errors=True)
    log(f"done: best epoch {result.best_epoch} of {len(result.history)} on {result.device}")


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
        k: neighbours of the per-omic graphs and of the reference kNN lists.
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
            _matrix(adata), info["metric"], k_max, threshold=thr, block_size=block_size, n_jobs=n_jobs,
            approximate_above=approximate_above, seed=seed,
        )
        knn_lists.append((idx, dist))
        kk = min(k, idx.shape[1])
        graph = graphs.knn_connectivities(idx[:, :kk], dist[:, :kk], seed)
        out.obsm[f"knn_{omic}"] = idx[:, :kk]
        out.obsp[f"graph_{omic}"] = graph
        rows.append(_graph_row(dataset, f"graph_{omic}", omic, info["metric"], kk, graph))
        log(f"{omic}: {info['metric']} kNN (k={k_max}) in {time.perf_counter() - start:.1f}s; k={kk} graph {rows[-1]['n_edges']} edges")
    if multi:
        kc, consensus, omic_graphs = graphs.choose_consensus(knn_lists, candidates, min_omics, max_isolated, seed)
        out.obsp["graph_consensus"] = consensus
        for omic, graph in zip(adatas, omic_graphs):
            metric = adatas[omic].uns["singlecell_omic"]["metric"]
            rows.append(_graph_row(dataset, f"graph_{omic}_k{kc}", omic, metric, kc, graph))
        union = graphs.n_edges(sum(sp.csr_matrix(g) for g in omic_graphs))
        m = len(omic_graphs) if min_omics is None else min_omics
        row = _graph_row(dataset, "graph_consensus", ",".join(adatas), f"edge in >= {m} of {len(omic_graphs)} omic graphs", kc, consensus)
        row["union_edges"] = union
        rows.append(row)
        log(f"consensus (per-omic k={kc}, candidates {candidates}): {row['n_edges']} edges kept of {union} in the union, "
            f"{row['isolated_cells']} isolated cells of {n}")
        out.uns["singlecell_graphs"] = {"n_neighbors": k, "consensus_k": kc, "consensus_min_omics": m}
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
        "dataset": dataset, "graph": name, "omics": omics, "metric": metric, "k": k, "n_cells": g.shape[0],
        "n_edges": graphs.n_edges(g), "mean_degree": float(degree.mean()), "isolated_cells": int((degree == 0).sum()),
        "components": int(n_comp), "union_edges": np.nan,
    }


# ------------------------------------------------------------------------------------------ analyse
def evaluate_method(
    name: str,
    omics: Sequence[str],
    labels: np.ndarray,
    reference_knn: Mapping[str, np.ndarray],
    embedding: np.ndarray | None = None,
    graph: sp.spmatrix | None = None,
    layout_data: np.ndarray | None = None,
    k: int = 15,
    resolution: float = 1.0,
    min_dist: float = 0.5,
    seed: int = 0,
    silhouette_cells: int = 5000,
    n_jobs: int | None = None,
    approximate_above: int | None = 50_000,
) -> tuple[dict, np.ndarray, np.ndarray, sp.csr_matrix]:
    """Clusters, UMAP and metrics of one method (an embedding, or a graph for graph-only methods).

    Args:
        name: method name (metrics row).
        omics: omics the method uses (its ``knn_preservation`` is the mean over these).
        labels: (n,) labels (object; NaN = unlabelled).
        reference_knn: omic → (n, k) input-space kNN indices.
        embedding: (n, d) float32, or None for a graph-only method.
        graph: the method's graph when ``embedding`` is None.
        layout_data: data umap-learn uses to place disconnected graph components (embedding rows:
            the embedding itself).
        k, resolution, min_dist, seed, silhouette_cells: kNN size, Leiden resolution, UMAP min_dist,
            seed, silhouette sample cap.
        n_jobs: threads of the embedding's exact kNN query (None = 1; same result for any number).
        approximate_above: more cells → NN-descent kNN (:func:`graphs.knn_method`); None = exact.

    Returns:
        (metrics row dict, clusters (n,) str, UMAP (n, 2) float32, graph used (CSR)).
    """
    from genomelearn.singlecell import embed, graphs, metrics

    if embedding is not None:
        idx, dist = graphs.euclidean_knn(embedding, k, n_jobs=n_jobs, approximate_above=approximate_above, seed=seed)
        graph = graphs.knn_connectivities(idx, dist, seed)
        neighbours = idx
        layout_data = embedding
        sil = metrics.silhouette(labels, embedding=embedding, max_cells=silhouette_cells, seed=seed)
        sil_on = "embedding (euclidean)"
    else:
        graph = sp.csr_matrix(graph)
        neighbours = graphs.graph_topk_neighbors(graph, k)
        sil = metrics.silhouette(labels, graph=graph, max_cells=silhouette_cells, seed=seed)
        sil_on = "graph (shortest-path hops)"
    clusters = embed.leiden_clusters(graph, resolution, seed)
    coords = embed.umap_layout(graph, layout_data, seed, min_dist)
    row = {
        "method": name,
        "kind": "embedding" if embedding is not None else "graph",
        "omics": ",".join(omics),
        "n_cells": len(labels),
        "n_dims": embedding.shape[1] if embedding is not None else np.nan,
        "n_edges": graphs.n_edges(graph),
        "n_clusters": len(np.unique(clusters)),
        **metrics.clustering_agreement(labels, clusters),
        "silhouette": sil,
        "silhouette_on": sil_on,
    }
    preservation = {o: float(np.nanmean(metrics.knn_preservation(ref, neighbours))) for o, ref in reference_knn.items()}
    row["knn_preservation"] = float(np.mean([preservation[o] for o in omics]))
    for o, value in preservation.items():
        row[f"knn_preservation_{o}"] = value
    return row, clusters, coords, graph


def analyse_step(
    dataset: str,
    cells_path: str,
    first_h5ad: str,
    graphs_path: str,
    methods: Sequence[Mapping],
    h5ad_output: str,
    metrics_output: str,
    k: int = 15,
    resolution: float = 1.0,
    min_dist: float = 0.5,
    seed: int = 0,
    silhouette_cells: int = 5000,
    log: Log = _quiet,
    n_jobs: int | None = None,
    approximate_above: int | None = 50_000,
) -> pd.DataFrame:
    """Evaluate every method of a dataset and write ``<dataset>.h5ad`` and ``metrics.tsv``.

    Args:
        dataset: dataset name.
        cells_path: ``cells.tsv``.
        first_h5ad: preprocessed h5ad of the first omic (its matrix becomes ``.X`` of the output).
        graphs_path: ``graphs.h5ad`` (input-space kNN per omic, omic and consensus graphs).
        methods: dicts with ``name``, ``omics`` (list), and either ``embedding`` (parquet path) or
            ``graph`` (a key of ``graphs.h5ad`` obsp) plus ``layout`` (parquet path of the data
            umap-learn uses to place disconnected components). An embedding ``name`` becomes
            ``obsm["X_<name>"]``; every method gets ``obsm["X_umap_<name>"]``,
            ``obs["leiden_<name>"]`` and its graph ``obsp["graph_<name>"]`` (graph methods keep their name).
        n_jobs: threads of the exact kNN queries of the embeddings (None = 1).

    Returns:
        The metrics table (one row per method; columns dataset, method, kind, omics, n_cells,
        n_dims, n_edges, n_clusters, ari, nmi, silhouette, silhouette_on, knn_preservation,
        knn_preservation_<omic>…).
    """
    cells = read_cells(cells_path)
    labels = _labels(cells)
    stored = ad.read_h5ad(graphs_path)
    if list(stored.obs_names) != list(cells["cell"]):
        raise InputError(f"{graphs_path}: cells differ from {cells_path} (stale file? rerun the workflow)")
    reference = {key[len("knn_"):]: np.asarray(stored.obsm[key]) for key in stored.obsm if key.startswith("knn_")}
    first = ad.read_h5ad(first_h5ad)
    out = ad.AnnData(X=first.X, obs=pd.DataFrame(index=pd.Index(cells["cell"].astype(str))), var=first.var)
    if cells["label"].notna().any():
        out.obs["label"] = pd.Categorical(cells["label"])
        out.uns["labels_column"] = first.uns.get("labels_column", "label")
    rows = []
    for method in methods:
        start = time.perf_counter()
        name = method["name"]
        common = dict(k=k, resolution=resolution, min_dist=min_dist, seed=seed, silhouette_cells=silhouette_cells,
                      n_jobs=n_jobs, approximate_above=approximate_above)
        if method.get("embedding"):
            emb = read_embedding(method["embedding"], cells["cell"])
            out.obsm[f"X_{name}"] = emb
            row, clusters, coords, graph = evaluate_method(name, method["omics"], labels, reference, embedding=emb, **common)
            out.obsp[f"graph_{name}"] = graph
        else:
            layout = read_embedding(method["layout"], cells["cell"])
            row, clusters, coords, graph = evaluate_method(
                name, method["omics"], labels, reference, graph=stored.obsp[method["graph"]], layout_data=layout, **common
            )
            out.obsp[name] = graph
        out.obsm[f"X_umap_{name}"] = coords
        out.obs[f"leiden_{name}"] = pd.Categorical(clusters)
        rows.append({"dataset": dataset, **row})
        log(f"{name}: ARI {row['ari']:.3f} NMI {row['nmi']:.3f} silhouette {row['silhouette']:.3f} "
            f"kNN preservation {row['knn_preservation']:.3f} ({time.perf_counter() - start:.1f}s)")
    table = pd.DataFrame(rows)
    out.uns["singlecell_metrics"] = table
    out.uns["singlecell"] = {"dataset": dataset, "n_neighbors": k, "leiden_resolution": resolution, "umap_min_dist": min_dist, "seed": seed}
    Path(h5ad_output).parent.mkdir(parents=True, exist_ok=True)
    out.write_h5ad(h5ad_output)
    table.to_csv(metrics_output, sep="\t", index=False, float_format="%.4f")
    return table


# --------------------------------------------------------------------------------------------- plot
def plot_step(h5ad: str, output: str, title: str = "") -> None:
    """One row per method: UMAP coloured by label (when labelled) and by Leiden cluster (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    adata = ad.read_h5ad(h5ad)
    names = [k[len("X_umap_"):] for k in adata.obsm if k.startswith("X_umap_")]
    has_labels = "label" in adata.obs
    ncols = 2 if has_labels else 1
    table = adata.uns.get("singlecell_metrics")
    scores = {}
    if table is not None:
        table = pd.DataFrame(table)
        scores = {r["method"]: r for _, r in table.iterrows()}
        order = {m: i for i, m in enumerate(table["method"])}
        names.sort(key=lambda m: order.get(m, len(order)))
    fig, axes = plt.subplots(len(names), ncols, figsize=(5.2 * ncols, 4.2 * len(names)), squeeze=False)
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
                ax.scatter(xy[sel, 0], xy[sel, 1], s=size, color=cmap(c % cmap.N), label=level if len(levels) <= 20 else None, linewidths=0)
            r = scores.get(name)
            extra = ""
            if r is not None:
                extra = f"\nARI {float(r['ari']):.2f}  NMI {float(r['nmi']):.2f}  kNN-pres {float(r['knn_preservation']):.2f}"
            ax.set_title(f"{name}: {'label' if col == 'label' else 'Leiden clusters'}{extra}", fontsize=9)
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
def summary_step(metrics_paths: Sequence[str], sizes_paths: Sequence[str], history_paths: Sequence[str],
                 metrics_output: str, sizes_output: str, training_output: str) -> None:
    """Concatenate per-dataset metrics and graph sizes; one line per trained autoencoder."""
    pd.concat([pd.read_csv(p, sep="\t") for p in metrics_paths]).to_csv(metrics_output, sep="\t", index=False, float_format="%.4f")
    pd.concat([pd.read_csv(p, sep="\t") for p in sizes_paths]).to_csv(sizes_output, sep="\t", index=False, float_format="%.4f")
    rows = []
    for p in history_paths:
        h = pd.read_csv(p, sep="\t")
        parts = Path(p).parts
        dataset = parts[parts.index("singlecell") + 1] if "singlecell" in parts else ""
        omic = Path(p).parent.name
        best = h.loc[h["epoch"] == h["best_epoch"].iloc[0]]
        rows.append({
            "dataset": dataset, "model": h["model"].iloc[0], "omics": omic, "epochs_run": int(h["epoch"].max()),
            "best_epoch": int(h["best_epoch"].iloc[0]),
            "best_val_loss": float(best["val_loss"].iloc[0]) if len(best) else np.nan,
            "train_seconds": float(h["seconds"].sum()), "cells_per_second": float(h["items_per_second"].median()),
            "device": h["device"].iloc[0],
        })
    pd.DataFrame(rows).to_csv(training_output, sep="\t", index=False, float_format="%.4g")
