"""Signature matrices from a single-cell / single-nucleus reference (AnnData with a cluster column).

PredictFiberType (Oskolkov et al. 2022) built its signature as the mean snRNA-seq expression of the
type I and type II nuclear clusters over the union of the clusters' marker genes. This module does
the same for any reference: markers are given, or found with scanpy's ``rank_genes_groups``
(Wilcoxon rank-sum test of each cluster against the rest, Benjamini-Hochberg adjusted), and the
signature is the per-cluster mean expression of the union of markers, on a linear scale.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genomelearn.errors import InputError

__all__ = ["find_markers", "build_signature", "reference_matrix"]

log = logging.getLogger("genomelearn")


def reference_matrix(adata, layer: str | None = None, use_raw: bool = False):
    """Expression matrix and gene names of a reference.

    Args:
        adata: AnnData (cells x genes).
        layer: name of ``adata.layers`` entry, or None for ``.X``.
        use_raw: take ``adata.raw.X`` (and ``adata.raw.var_names``) instead.

    Returns:
        (matrix (cells, genes) numpy or scipy.sparse, pandas Index of gene names).

    Raises:
        InputError: missing layer / raw.
    """
    if use_raw:
        if adata.raw is None:
            raise InputError("reference has no .raw; set use_raw: false")
        return adata.raw.X, pd.Index(adata.raw.var_names)
    if layer:
        if layer not in adata.layers:
            raise InputError(
                f"reference has no layer {layer!r} (layers: {', '.join(adata.layers) or 'none'})"
            )
        return adata.layers[layer], pd.Index(adata.var_names)
    return adata.X, pd.Index(adata.var_names)


def _check_reference(adata, cluster_key: str, source: str) -> pd.Series:
    if cluster_key not in adata.obs.columns:
        raise InputError(
            f"{source}: obs has no column {cluster_key!r} (columns: {', '.join(map(str, adata.obs.columns))})"
        )
    if adata.var_names.has_duplicates:
        dup = adata.var_names[adata.var_names.duplicated()][0]
        raise InputError(f"{source}: duplicate gene name {dup!r} in var_names")
    clusters = adata.obs[cluster_key].astype(str)
    if clusters.nunique() < 2:
        raise InputError(f"{source}: column {cluster_key!r} has fewer than 2 clusters")
    return clusters


def find_markers(
    adata,
    cluster_key: str,
    n_markers: int = 20,
    layer: str | None = None,
    use_raw: bool = False,
    max_pval_adj: float = 0.05,
    min_log2fc: float = 1.0,
    source: str = "reference",
) -> pd.DataFrame:
    """Marker genes of each cluster by scanpy's Wilcoxon rank-sum test (one cluster vs the rest).

    Args:
        adata: AnnData, cells x genes, expression on a log scale (log1p of normalised counts is
            scanpy's convention; the test itself only uses ranks).
        cluster_key: ``adata.obs`` column with cluster labels.
        n_markers: at most this many markers per cluster (ranked by the test's score).
        layer, use_raw: which matrix to test (see :func:`reference_matrix`).
        max_pval_adj: keep genes with BH-adjusted p below this.
        min_log2fc: and log2 fold change (scanpy's estimate) at least this.
        source: file name for messages.

    Returns:
        DataFrame columns cluster, gene, score, log2fc, pval_adj, one row per marker, clusters in
        sorted order, genes by decreasing score.

    Raises:
        InputError: missing cluster column, duplicate genes, fewer than 2 clusters.
    """
    import scanpy as sc

    _check_reference(adata, cluster_key, source)
    work = adata.copy()
    work.obs[cluster_key] = work.obs[cluster_key].astype(str).astype("category")
    if use_raw and work.raw is None:
        raise InputError(f"{source}: no .raw; set use_raw: false")
    if layer and layer not in work.layers:
        raise InputError(f"{source}: no layer {layer!r}")
    sc.tl.rank_genes_groups(
        work,
        groupby=cluster_key,
        method="wilcoxon",
        use_raw=use_raw,
        layer=layer,
        n_genes=None,
        tie_correct=True,
        key_added="_markers",
    )
    table = sc.get.rank_genes_groups_df(work, group=None, key="_markers")
    table = table.rename(
        columns={
            "group": "cluster",
            "names": "gene",
            "scores": "score",
            "logfoldchanges": "log2fc",
            "pvals_adj": "pval_adj",
        }
    )
    keep = (table["pval_adj"] < max_pval_adj) & (table["log2fc"] >= min_log2fc)
    table = table[keep].sort_values(["cluster", "score"], ascending=[True, False])
    table = table.groupby("cluster", observed=True, sort=True).head(n_markers)
    for cluster in work.obs[cluster_key].cat.categories:
        if cluster not in set(table["cluster"]):
            log.warning(
                "%s: cluster %r has no marker with pval_adj < %g and log2FC >= %g",
                source,
                cluster,
                max_pval_adj,
                min_log2fc,
            )
    return table[["cluster", "gene", "score", "log2fc", "pval_adj"]].reset_index(drop=True)


def build_signature(
    adata,
    cluster_key: str,
    markers: dict[str, list[str]] | pd.DataFrame,
    layer: str | None = None,
    use_raw: bool = False,
    log1p: bool | str = "auto",
    source: str = "reference",
) -> pd.DataFrame:
    """Signature matrix: mean expression of every cluster over the union of marker genes.

    Args:
        adata: AnnData (cells x genes).
        cluster_key: ``adata.obs`` column with cluster labels (one signature column per cluster).
        markers: {cluster: [genes]} or a DataFrame with columns cluster, gene.
        layer, use_raw: the matrix averaged (see :func:`reference_matrix`).
        log1p: whether that matrix is log1p-transformed; if so, ``expm1`` is applied before
            averaging so the signature is on the linear scale of the bulk. ``"auto"``: True when
            ``adata.uns`` has scanpy's ``log1p`` entry (or, for ``use_raw``, always, as scanpy
            stores log-normalised data in ``.raw`` by convention).
        source: file name for messages.

    Returns:
        DataFrame (marker genes, clusters) float64, genes in marker order (first appearance),
        clusters in sorted order; values >= 0.

    Raises:
        InputError: missing cluster column; markers naming unknown clusters; no marker gene found
            in the reference; fewer marker genes than clusters. Marker genes absent from the
            reference are dropped with a logged warning that names them.
    """
    clusters = _check_reference(adata, cluster_key, source)
    if isinstance(markers, pd.DataFrame):
        mk: dict[str, list[str]] = {}
        for cl, gene in zip(markers["cluster"].astype(str), markers["gene"].astype(str)):
            mk.setdefault(cl, []).append(gene)
        markers = mk
    levels = sorted(clusters.unique())
    unknown = [c for c in markers if c not in levels]
    if unknown:
        raise InputError(
            f"{source}: marker clusters {', '.join(unknown)} not in obs[{cluster_key!r}] (clusters: {', '.join(levels)})"
        )
    matrix, genes = reference_matrix(adata, layer, use_raw)
    union: list[str] = []
    for cl in markers:
        for gene in markers[cl]:
            if gene not in union:
                union.append(gene)
    missing = [g for g in union if g not in genes]
    if missing:
        log.warning(
            "%s: %d marker gene(s) not in the reference, dropped: %s",
            source,
            len(missing),
            ", ".join(missing),
        )
    union = [g for g in union if g in genes]
    if len(union) <= len(levels):
        raise InputError(
            f"{source}: {len(union)} usable marker genes for {len(levels)} clusters; need more genes than clusters"
        )
    cols = genes.get_indexer(union)
    sub = matrix[:, cols]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    sub = sub.astype(float)
    if log1p == "auto":
        log1p = bool(use_raw or "log1p" in adata.uns)
    if log1p:
        sub = np.expm1(sub)
    if np.any(sub < 0):
        raise InputError(
            f"{source}: negative expression in the reference matrix (scaled data?); use a layer or .raw with non-negative values"
        )
    codes = pd.Categorical(clusters.to_numpy(), categories=levels).codes
    onehot = np.zeros((len(levels), sub.shape[0]))
    onehot[codes, np.arange(sub.shape[0])] = 1.0
    means = (onehot @ sub) / onehot.sum(axis=1, keepdims=True)
    return pd.DataFrame(means.T, index=pd.Index(union), columns=pd.Index(levels))
