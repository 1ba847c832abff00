"""How well an embedding or a graph keeps the biology: clustering agreement, label separation and
preservation of each cell's input-space neighbours.

* ARI, NMI: Leiden clusters vs the known labels (scikit-learn ``adjusted_rand_score``,
  ``normalized_mutual_info_score``), over labelled cells.
* Silhouette of the labels (scikit-learn ``silhouette_score``, in [-1, 1]): Euclidean in an
  embedding; for a graph-only method, on shortest-path hop distances of the graph (the graph is the
  only geometry such a method has). The ``silhouette_on`` column of the table says which.
* k-NN preservation: for each cell, the share of its k nearest neighbours in the input space (each
  omic with its own metric) that are also among its k neighbours in the method (k nearest in the
  embedding; for a graph, its k strongest edges). Mean over cells, in [0, 1]
  (cf. the "neighbourhood preservation" / trustworthiness family, Venna & Kaski 2006).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from genomelearn.singlecell.graphs import geodesic_distances


def knn_preservation(
    reference: np.ndarray, candidate: np.ndarray, chunk: int = 65536
) -> np.ndarray:
    """Per-cell share of reference neighbours found among candidate neighbours.

    Args:
        reference: (n, k) int neighbour indices in the input space (-1 = none).
        candidate: (n, k2) int neighbour indices of the method (-1 = none).
        chunk: cells per vectorised chunk (memory O(chunk × k × k2)).

    Returns:
        (n,) float64 in [0, 1]; NaN for a cell without any valid reference neighbour.
    """
    reference = np.asarray(reference)
    candidate = np.asarray(candidate)
    if reference.shape[0] != candidate.shape[0]:
        raise ValueError(
            f"different numbers of cells: {reference.shape[0]} vs {candidate.shape[0]}"
        )
    out = np.empty(reference.shape[0], dtype=np.float64)
    for s in range(0, reference.shape[0], chunk):
        r = reference[s : s + chunk]
        c = candidate[s : s + chunk]
        valid = r >= 0
        hit = ((r[:, :, None] == c[:, None, :]) & (c[:, None, :] >= 0)).any(axis=2) & valid
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s : s + chunk] = hit.sum(axis=1) / valid.sum(axis=1)
    return out


def labelled(labels) -> np.ndarray:
    """Boolean mask of cells with a label (not None/NaN/empty)."""
    series = pd.Series(np.asarray(labels, dtype=object))
    return (series.notna() & (series.astype(str) != "")).to_numpy()


def clustering_agreement(labels, clusters) -> dict:
    """ARI and NMI of ``clusters`` against ``labels`` over labelled cells.

    Returns:
        {"ari": float, "nmi": float} (NaN when fewer than 2 labelled cells).
    """
    labels = np.asarray(labels, dtype=object)
    keep = labelled(labels)
    if keep.sum() < 2:
        return {"ari": float("nan"), "nmi": float("nan")}
    y = labels[keep].astype(str)
    c = np.asarray(clusters)[keep].astype(str)
    return {
        "ari": float(adjusted_rand_score(y, c)),
        "nmi": float(normalized_mutual_info_score(y, c)),
    }


def _sample(n: int, max_cells: int, seed: int) -> np.ndarray:
    if n <= max_cells:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_cells, replace=False))


def silhouette(
    labels,
    embedding: np.ndarray | None = None,
    graph: sp.spmatrix | None = None,
    max_cells: int = 5000,
    seed: int = 0,
) -> float:
    """Silhouette width of the labels, in an embedding (Euclidean) or a graph (hop distances).

    Args:
        labels: (n,) labels (unlabelled cells ignored).
        embedding: (n, d) float, or None.
        graph: (n, n) sparse graph, used when ``embedding`` is None.
        max_cells: at most this many labelled cells (seeded sample) enter the computation
            (memory O(max_cells × n) for graphs, O(max_cells²) otherwise).
        seed: sampling seed.

    Returns:
        float in [-1, 1]; NaN with fewer than 2 label classes or fewer than 3 labelled cells.
    """
    labels = np.asarray(labels, dtype=object)
    keep = np.flatnonzero(labelled(labels))
    keep = keep[_sample(len(keep), max_cells, seed)]
    y = labels[keep].astype(str)
    if len(keep) < 3 or len(np.unique(y)) < 2 or len(np.unique(y)) >= len(keep):
        return float("nan")
    if embedding is not None:
        return float(silhouette_score(np.asarray(embedding)[keep], y, metric="euclidean"))
    if graph is None:
        raise ValueError("give an embedding or a graph")
    D = geodesic_distances(graph, sources=keep)[:, keep]
    np.fill_diagonal(D, 0.0)
    return float(silhouette_score(D, y, metric="precomputed"))


def _graph_neighbours(graph: sp.spmatrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k strongest edges of each cell as (indices, distances = 1 - weight), padded with the
    cell itself at distance 0 where a cell has fewer edges (scib-metrics needs full rows)."""
    from genomelearn.singlecell.graphs import graph_topk_neighbors

    g = sp.csr_matrix(graph)
    idx = graph_topk_neighbors(g, k)
    n = g.shape[0]
    rows = np.repeat(np.arange(n)[:, None], idx.shape[1], axis=1)
    missing = idx < 0
    idx = np.where(missing, rows, idx)
    weights = np.asarray(g[rows.ravel(), idx.ravel()]).reshape(idx.shape)
    dist = np.where(missing, 0.0, 1.0 - np.clip(weights, 0, 1)).astype(np.float32)
    return idx, dist


def scib_bio_metrics(
    labels,
    embedding: np.ndarray | None = None,
    graph: sp.spmatrix | None = None,
    k: int = 15,
    max_cells: int = 5000,
    seed: int = 0,
) -> dict:
    """scIB bio-conservation scores beyond NMI/ARI (scib-metrics; Luecken et al. 2022, Nat Methods 19:41).

    Over labelled cells:

    * ``silhouette_label``: cell-type silhouette, rescaled to [0, 1] ((ASW + 1) / 2).
    * ``isolated_labels``: scib-metrics' silhouette-based isolated-label score; with one batch every
      label counts as isolated, so it is the label-balanced rescaled silhouette.
    * ``clisi``: cell-type LISI on the k - 1 nearest neighbours, rescaled to [0, 1] (1 = pure
      neighbourhoods). Embeddings: Euclidean kNN; graphs: the strongest edges, distance 1 - weight.

    Embeddings use scib-metrics on the Euclidean geometry. A graph-only method has no coordinates:
    the two silhouettes use the same formulas (scikit-learn ``silhouette_samples``) on the graph's
    shortest-path hop distances, over at most ``max_cells`` labelled cells (seeded sample).

    Args:
        labels: (n,) labels (NaN / empty = unlabelled).
        embedding: (n, d) float32, or None for a graph-only method.
        graph: (n, n) connectivities of the method (used for cLISI when ``embedding`` is None).
        k: n_neighbors (counts the cell itself).

    Returns:
        dict silhouette_label, isolated_labels, clisi (NaN with fewer than 2 label classes or
        without scib-metrics).
    """
    nan = {
        "silhouette_label": float("nan"),
        "isolated_labels": float("nan"),
        "clisi": float("nan"),
    }
    labels = np.asarray(labels, dtype=object)
    keep = np.flatnonzero(labelled(labels))
    if keep.size < 3 or len(np.unique(labels[keep].astype(str))) < 2:
        return nan
    try:
        import scib_metrics
        from scib_metrics.nearest_neighbors import NeighborsResults
    except ImportError:  # the peers extra is not installed
        return nan
    y = pd.Categorical(labels[keep].astype(str)).codes.astype(np.int32)
    kk = max(1, min(k - 1, keep.size - 1))
    out = dict(nan)
    if embedding is not None:
        from genomelearn.singlecell.graphs import euclidean_knn

        X = np.asarray(embedding, dtype=np.float32)[keep]
        out["silhouette_label"] = float(scib_metrics.silhouette_label(X, y, rescale=True))
        out["isolated_labels"] = float(
            scib_metrics.isolated_labels(X, y, np.zeros(keep.size, dtype=np.int32))
        )
        idx, dist = euclidean_knn(X, kk)
    else:
        from sklearn.metrics import silhouette_samples

        sample = keep[_sample(keep.size, max_cells, seed)]
        D = geodesic_distances(graph, sources=sample)[:, sample]
        np.fill_diagonal(D, 0.0)
        ys = labels[sample].astype(str)
        if len(np.unique(ys)) >= 2 and len(np.unique(ys)) < len(sample):
            width = (silhouette_samples(D, ys, metric="precomputed") + 1) / 2
            out["silhouette_label"] = float(width.mean())
            out["isolated_labels"] = float(pd.Series(width).groupby(ys).mean().mean())
        sub = sp.csr_matrix(graph)[keep][:, keep]
        idx, dist = _graph_neighbours(sub, kk)
    out["clisi"] = float(scib_metrics.clisi_knn(NeighborsResults(indices=idx, distances=dist), y))
    return out
