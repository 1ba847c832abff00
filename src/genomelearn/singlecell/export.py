"""scanpy-native outputs of a single-cell dataset: one ``.h5ad`` (AnnData) and one ``.h5mu`` (MuData).

Rule ``singlecell_export`` writes, per dataset ``D`` (``results/singlecell/D/``):

* ``D.h5ad`` — ``X``/``var``: the first omic's preprocessed matrix; ``obs``: ``label`` (when
  labelled) and the analysis' ``leiden_<method>`` clusters; ``obsm``: every embedding the workflow
  wrote (``X_pca``, ``X_ae``, ``X_pca_<omic>``, …, peers such as ``X_scvi`` when the analysis holds
  them) and the UMAP layouts ``X_umap_<method>``; every graph stored as ``scanpy.pp.neighbors
  (key_added=key)`` stores it (:func:`genomelearn.singlecell.graphs.store_neighbors`):
  ``obsp['<key>_connectivities']``, ``obsp['<key>_distances']``, ``uns['<key>'] =
  {'connectivities_key', 'distances_key', 'params': {'n_neighbors', 'method', 'metric',
  'random_state', 'use_rep', 'knn', …}}``. Keys: ``neighbors_<method>`` for the kNN graph of an
  embedding method (``neighbors_pca``, ``neighbors_ae``, …), ``graph_<omic>`` for an omic's
  input-space graph and ``graph_consensus`` for the multi-omics consensus. ``uns['singlecell_export']``
  lists the keys.
* ``D.h5mu`` — a MuData with one modality per omic (its preprocessed matrix, its own PCA as
  ``obsm['X_pca']`` and its input-space graph under its key) and, at the top level, the same
  ``obs``/``obsm``/``obsp``/``uns`` as ``D.h5ad``. Written for every dataset (one modality for a
  single-omic dataset).

Distances. Only connectivities are kept by the graph and analysis steps; the distances come from
the data without a new neighbour search: an omic's or embedding's kNN is recovered exactly from its
connectivity graph (:func:`graphs.graph_knn_distances`, k per row as scanpy's ``distances``). The
consensus graph's distance of an edge is the largest per-omic distance after dividing each omic's
distance by its median kNN distance (:func:`graphs.consensus_distances`): unit-free, and "as close
as in the omic where the cells are farthest apart". Its ``params['metric']``/``use_rep``
(Euclidean on the joint PCA) are what umap-learn uses to place disconnected components, as the
workflow's own layout does; ``params['consensus']`` says how the edges and distances were built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from genomelearn.errors import InputError
from genomelearn.singlecell import graphs

Log = Callable[[str], None]

CONSENSUS_DISTANCES = (
    "max over omics of (omic distance / omic median kNN distance), on the consensus edges"
)


def _quiet(message: str) -> None:
    return None


def _matrix(adata: ad.AnnData):
    return adata.X if sp.issparse(adata.X) else np.asarray(adata.X, dtype=np.float32)


def _threshold(info: Mapping):
    thr = info.get("binarize_threshold", 0.5)
    return thr if thr == "median" else float(thr)


def _check_cells(path: str, names, cells: list[str]) -> None:
    if [str(c) for c in names] != cells:
        raise InputError(
            f"{path}: cells differ from the dataset's cells.tsv (stale file? rerun the workflow)"
        )


def _atomic_write(write: Callable[[str], None], output: str) -> None:
    """Write to ``output`` through a temporary sibling, so a failure leaves no partial file."""
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    path = Path(output)
    tmp = str(path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}"))
    try:
        write(tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def scanpy_anndata(
    cells_path: str,
    h5ads: Mapping[str, str],
    graphs_path: str,
    analysis_path: str,
    k: int = 15,
    seed: int = 0,
    approximate_above: int | None = graphs.APPROXIMATE_KNN_ABOVE,
    log: Log = _quiet,
) -> tuple[ad.AnnData, dict[str, ad.AnnData], dict[str, str]]:
    """Assemble the scanpy-native AnnData of a dataset (see the module docstring).

    Args:
        cells_path: ``cells.tsv`` (cell, label).
        h5ads: omic → preprocessed h5ad (``uns['singlecell_omic']`` with metric / threshold).
        graphs_path: ``graphs.h5ad`` of the graph step (``obsp['graph_<omic>']``,
            ``obsp['graph_consensus']``; graphs already in scanpy form are kept as they are).
        analysis_path: h5ad of the analysis step (``obsm['X_<method>']``,
            ``obsm['X_umap_<method>']``, ``obsp['graph_<method>']``, ``obs['leiden_<method>']``).
        k: neighbours per cell of the graphs (self excluded).
        seed: seed of the graphs (recorded in params).
        approximate_above: the workflow's kNN switch: ``params['knn']`` says ``"nndescent"`` when
            the dataset has more cells (:func:`graphs.knn_method`).

    Returns:
        (adata, omic → preprocessed AnnData, graph key → the omic it belongs to or ``""``).

    Raises:
        InputError: a file's cells differ from ``cells.tsv``.
    """
    cells_table = pd.read_csv(
        cells_path, sep="\t", dtype=str, keep_default_na=False, na_values=[""]
    )
    cells = cells_table["cell"].astype(str).tolist()
    omics = {}
    for omic, path in h5ads.items():
        omics[omic] = ad.read_h5ad(path)
        _check_cells(path, omics[omic].obs_names, cells)
    stored = ad.read_h5ad(graphs_path)
    _check_cells(graphs_path, stored.obs_names, cells)
    analysis = ad.read_h5ad(analysis_path)
    _check_cells(analysis_path, analysis.obs_names, cells)

    multi = len(omics) > 1
    n = len(cells)
    knn = graphs.knn_method(n, approximate_above)
    first = next(iter(omics.values()))
    X = analysis.X if analysis.X is not None and analysis.n_vars == first.n_vars else first.X
    out = ad.AnnData(X=X, obs=pd.DataFrame(index=pd.Index(cells, name=None)), var=first.var.copy())
    if cells_table["label"].notna().any():
        out.obs["label"] = pd.Categorical(cells_table["label"].to_numpy())
    for column in analysis.obs.columns:
        if column != "label":
            out.obs[column] = analysis.obs[column].to_numpy()
    for key, value in analysis.obsm.items():
        out.obsm[key] = np.asarray(value)
    for omic, a in omics.items():  # each omic's own PCA, when the analysis did not keep it
        key = f"X_pca_{omic}" if multi else "X_pca"
        if key not in out.obsm and "X_pca" in a.obsm:
            out.obsm[key] = np.asarray(a.obsm["X_pca"], dtype=np.float32)
    for key, value in analysis.uns.items():
        out.uns[key] = value

    owner: dict[str, str] = {}
    omic_distances: dict[str, sp.csr_matrix] = {}
    data = {
        o: (_matrix(a), a.uns["singlecell_omic"]["metric"], _threshold(a.uns["singlecell_omic"]))
        for o, a in omics.items()
    }
    # 1. input-space graph of each omic
    for omic, (Xo, metric, thr) in data.items():
        key = f"graph_{omic}"
        if key not in stored.obsp:
            continue
        conn = stored.obsp[key]
        dist = graphs.graph_knn_distances(conn, Xo, metric, k, thr)
        omic_distances[omic] = dist
        use_rep = f"X_pca_{omic}" if multi else "X_pca"
        extra = {"space": "input", "omics": [omic]}
        if metric == "hamming":
            extra.update(
                missing="masked (features observed in both cells)", binarize_threshold=str(thr)
            )
        params = graphs.neighbors_params(
            k, metric, seed, use_rep if use_rep in out.obsm else None, knn, **extra
        )
        graphs.store_neighbors(out, key, conn, dist, params)
        owner[key] = omic
        log(f"{key}: {metric} input-space graph, {conn.nnz} connectivities, {dist.nnz} distances")
    # 2. the consensus graph of several omics
    if "graph_consensus" in stored.obsp and omic_distances:
        conn = stored.obsp["graph_consensus"]
        names = [o for o in data if o in omic_distances]
        scales = [graphs.distance_scale(omic_distances[o]) for o in names]
        dist = graphs.consensus_distances(conn, [data[o] for o in names], scales)
        info = dict(stored.uns.get("singlecell_graphs", {}))
        kc = int(info.get("consensus_k", k))
        consensus = {
            "omics": names,
            "omic_metrics": [data[o][1] for o in names],
            "per_omic_n_neighbors_excluding_self": kc,
            "min_omics": int(info.get("consensus_min_omics", len(names))),
            "edges": "edge kept when present in at least min_omics of the omics' UMAP graphs; weight = mean weight",
            "distances": CONSENSUS_DISTANCES,
            "omic_distance_scales": [float(s) for s in scales],
        }
        params = graphs.neighbors_params(
            kc,
            "euclidean",
            seed,
            "X_pca" if "X_pca" in out.obsm else None,
            knn,
            space="consensus",
            consensus=consensus,
        )
        graphs.store_neighbors(out, "graph_consensus", conn, dist, params)
        owner["graph_consensus"] = ""
        log(f"graph_consensus: {conn.nnz} connectivities; distances = {CONSENSUS_DISTANCES}")
    # 3. graphs already stored the scanpy way in the graph file
    _copy_scanpy_graphs(stored, out, owner)
    # 4. the kNN graph of every embedding the analysis evaluated
    for key, conn in analysis.obsp.items():
        if not key.startswith("graph_") or key in owner:
            continue
        name = key[len("graph_") :]
        emb_key = f"X_{name}"
        if emb_key not in out.obsm:
            log(
                f"{analysis_path}: obsp[{key!r}] has no embedding obsm[{emb_key!r}] and is no omic graph: not exported"
            )
            continue
        emb = np.asarray(out.obsm[emb_key], dtype=np.float32)
        dist = graphs.graph_knn_distances(conn, emb, "euclidean", k)
        params = graphs.neighbors_params(k, "euclidean", seed, emb_key, knn, space="embedding")
        graphs.store_neighbors(out, f"neighbors_{name}", conn, dist, params)
        owner[f"neighbors_{name}"] = ""
        log(f"neighbors_{name}: kNN graph of {emb_key} ({conn.nnz} connectivities)")
    _copy_scanpy_graphs(analysis, out, owner)  # analysis graphs already in scanpy form
    out.uns["singlecell_export"] = {
        "neighbors_keys": sorted(owner),
        "omics": list(omics),
        "n_neighbors_excluding_self": int(k),
        "knn": knn,
        "consensus_distances": CONSENSUS_DISTANCES,
    }
    return out, omics, owner


def scanpy_mudata(adata: ad.AnnData, omics: Mapping[str, ad.AnnData], owner: Mapping[str, str]):
    """MuData with one modality per omic plus ``adata``'s obs/obsm/obsp/uns at the top level.

    Each modality holds its preprocessed matrix, its PCA (``obsm['X_pca']``) and its input-space
    graph (scanpy form, same key as at the top level).
    """
    import mudata as md

    mods = {}
    for omic, a in omics.items():
        mod = ad.AnnData(X=a.X, obs=pd.DataFrame(index=adata.obs_names.copy()), var=a.var.copy())
        if "X_pca" in a.obsm:
            mod.obsm["X_pca"] = np.asarray(a.obsm["X_pca"], dtype=np.float32)
        for key, o in owner.items():
            if o == omic:
                entry = adata.uns[key]
                graphs.store_neighbors(
                    mod,
                    key,
                    adata.obsp[entry["connectivities_key"]],
                    adata.obsp[entry["distances_key"]],
                    dict(entry["params"]),
                )
        mod.uns["singlecell_omic"] = dict(a.uns.get("singlecell_omic", {}))
        mods[omic] = mod
    with md.set_options(pull_on_update=False):
        mdata = md.MuData(mods)
    mdata.obs = mdata.obs.join(adata.obs)
    for key, value in adata.obsm.items():
        mdata.obsm[key] = value
    for key, value in adata.obsp.items():
        mdata.obsp[key] = value
    for key, value in adata.uns.items():
        mdata.uns[key] = value
    return mdata


def export_step(
    cells_path: str,
    h5ads: Mapping[str, str],
    graphs_path: str,
    analysis_path: str,
    h5ad_output: str,
    h5mu_output: str | None = None,
    k: int = 15,
    seed: int = 0,
    approximate_above: int | None = graphs.APPROXIMATE_KNN_ABOVE,
    log: Log = _quiet,
) -> ad.AnnData:
    """Write ``<dataset>.h5ad`` and, when ``h5mu_output`` is given, ``<dataset>.h5mu``.

    Arguments as :func:`scanpy_anndata`. Outputs are written through temporary files: on error no
    output is left.

    Returns:
        The AnnData written.
    """
    adata, omics, owner = scanpy_anndata(
        cells_path, h5ads, graphs_path, analysis_path, k, seed, approximate_above, log
    )
    _atomic_write(lambda p: adata.write_h5ad(p), h5ad_output)
    if h5mu_output:
        mdata = scanpy_mudata(adata, omics, owner)
        try:
            _atomic_write(lambda p: mdata.write(p), h5mu_output)
        except BaseException:
            os.remove(h5ad_output)
            raise
    log(
        f"wrote {h5ad_output}{' and ' + h5mu_output if h5mu_output else ''}: graphs {sorted(owner)}, "
        f"embeddings {sorted(adata.obsm)}"
    )
    return adata


def _copy_scanpy_graphs(source, out, owner: dict) -> None:
    """Copy every graph ``source`` already stores the scanpy way (``uns[key]`` naming its
    ``obsp`` connectivities/distances) into ``out``, unless ``owner`` already holds ``key``."""
    for key, entry in source.uns.items():
        if isinstance(entry, Mapping) and "connectivities_key" in entry and key not in owner:
            graphs.store_neighbors(
                out,
                key,
                source.obsp[entry["connectivities_key"]],
                source.obsp[entry["distances_key"]],
                dict(entry["params"]),
            )
            owner[key] = ""
