"""K-nearest-neighbour graphs per omic and the consensus (intersection) graph of several omics.

* Expression: Euclidean kNN (scikit-learn ``NearestNeighbors``, exact).
* Methylation / accessibility: Hamming distance on binarised values with missing entries masked, as
  in the course's graph-intersection integration (N. Oskolkov, "UMAP on the intersection of the kNN
  graphs of single-cell omics"): for cells i and j,
  ``d(i, j) = #{features observed in both and binarised differently} / #{features observed in both}``.
  Computed block-wise with matrix products of indicator matrices, memory O(block × n).
* Each kNN list becomes a weighted symmetric graph with UMAP's fuzzy simplicial set
  (``umap.umap_.fuzzy_simplicial_set``; the same connectivities scanpy's ``pp.neighbors`` builds).
* Consensus: an edge is kept when it is present in at least ``min_omics`` of the n omic graphs
  (default n: present in every omic); its weight is the mean of its weights in the omics that have it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from sklearn.neighbors import NearestNeighbors


def mean_impute(X: np.ndarray) -> np.ndarray:
    """Replace NaN by the feature's mean over observed cells (float32 copy; no NaN → same values).

    Used only where a method cannot take missing values (PCA, Euclidean kNN of a matrix with NaN).
    """
    X = np.array(X, dtype=np.float32, copy=True)
    nan = np.isnan(X)
    if nan.any():
        means = np.nanmean(X, axis=0)
        X[nan] = np.take(means, np.nonzero(nan)[1])
    return X


def binarize(X, threshold: float | str = 0.5) -> tuple:
    """Binarise values and record which entries are observed.

    Args:
        X: (n, p) dense float array with NaN = missing, or CSR matrix (no missing values).
        threshold: value > threshold → 1; ``"median"``: above the feature's median over observed cells.

    Returns:
        (B, O): B (n, p) float32 in {0, 1} (0 where missing), O (n, p) float32 1 = observed. For CSR
        input B is CSR and O is None (every entry observed).
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        if threshold == "median":
            if X.shape[0] * X.shape[1] > 5e7:
                raise ValueError("threshold 'median' on a large sparse matrix: give a numeric threshold")
            thr = np.median(X.toarray(), axis=0)
        else:
            thr = np.full(X.shape[1], float(threshold))
        if np.any(thr < 0):
            raise ValueError("a negative threshold would mark implicit zeros as 1 in a sparse matrix")
        coo = X.tocoo()
        keep = coo.data > thr[coo.col]
        B = sp.csr_matrix((np.ones(keep.sum(), np.float32), (coo.row[keep], coo.col[keep])), shape=X.shape)
        return B, None
    X = np.asarray(X, dtype=np.float32)
    observed = ~np.isnan(X)
    thr = np.nanmedian(X, axis=0) if threshold == "median" else float(threshold)
    with np.errstate(invalid="ignore"):
        B = ((X > thr) & observed).astype(np.float32)
    return B, observed.astype(np.float32)


def _topk_rows(D: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k smallest entries per row, ties broken by column index (stable)."""
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(D, order, axis=1)


def hamming_blocks(X, threshold: float | str = 0.5, block_size: int = 512, min_shared: int = 1):
    """Yield ``(start, D_block)`` of masked Hamming distances, block rows × all cells.

    Args:
        X: (n, p) dense with NaN = missing, or CSR (all observed).
        threshold: see :func:`binarize`.
        block_size: rows per block (memory O(block_size × n) for the distances).
        min_shared: pairs with fewer commonly observed features get distance +inf.

    Yields:
        (start, D) with D float64 (b, n) in [0, 1] or +inf.
    """
    B, O = binarize(X, threshold)
    n, p = B.shape
    if O is None:  # sparse, fully observed: mismatches = |a| + |b| - 2 a.b
        ones = np.asarray(B.sum(axis=1), dtype=np.float64).ravel()
        BT = B.T.tocsc()
        for s in range(0, n, block_size):
            e = min(s + block_size, n)
            ab = np.asarray((B[s:e] @ BT).todense(), dtype=np.float64)
            D = (ones[s:e, None] + ones[None, :] - 2 * ab) / p
            yield s, D
        return
    P = B  # observed ones
    Q = O - B  # observed zeros
    PT, QT, OT = P.T.copy(), Q.T.copy(), O.T.copy()
    for s in range(0, n, block_size):
        e = min(s + block_size, n)
        mismatch = P[s:e] @ QT + Q[s:e] @ PT
        shared = O[s:e] @ OT
        with np.errstate(divide="ignore", invalid="ignore"):
            D = mismatch.astype(np.float64) / shared
        D[shared < max(min_shared, 1)] = np.inf
        yield s, D


def hamming_distances(X, threshold: float | str = 0.5, block_size: int = 512, min_shared: int = 1) -> np.ndarray:
    """Full (n, n) masked Hamming distance matrix (float64, +inf where no shared feature). O(n²) memory."""
    n = X.shape[0]
    out = np.empty((n, n), dtype=np.float64)
    for s, D in hamming_blocks(X, threshold, block_size, min_shared):
        out[s : s + D.shape[0]] = D
    return out


def hamming_knn(
    X, k: int = 15, threshold: float | str = 0.5, block_size: int = 512, min_shared: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Exact kNN under the masked Hamming distance (self excluded).

    Args:
        X: (n, p) values, dense with NaN = missing, or CSR.
        k: neighbours per cell (at most n - 1).
        threshold, block_size, min_shared: see :func:`hamming_blocks`.

    Returns:
        indices (n, k) int64 and distances (n, k) float32, nearest first, ties by cell index; a cell
        with fewer than k cells sharing an observed feature gets index -1 and distance +inf there.
    """
    n = X.shape[0]
    k = min(k, n - 1)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    for s, D in hamming_blocks(X, threshold, block_size, min_shared):
        rows = np.arange(D.shape[0])
        D[rows, s + rows] = np.inf  # exclude self
        i, d = _topk_rows(D, k)
        i[~np.isfinite(d)] = -1
        idx[s : s + D.shape[0]] = i
        dist[s : s + D.shape[0]] = d
    return idx, dist


def euclidean_knn(X, k: int = 15, n_jobs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean kNN (scikit-learn), self excluded.

    Args:
        X: (n, p) dense (NaN are mean-imputed first) or CSR.
        k: neighbours per cell (at most n - 1).
        n_jobs: threads of the neighbour query (scikit-learn ``n_jobs``; None = 1). The result is
            exact, so it does not depend on the number of threads.

    Returns:
        indices (n, k) int64, distances (n, k) float32, nearest first.
    """
    n = X.shape[0]
    k = min(k, n - 1)
    if not sp.issparse(X):
        X = mean_impute(X)
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute" if sp.issparse(X) else "auto", n_jobs=n_jobs).fit(X)
    dist, idx = nn.kneighbors(X)
    # Drop each cell itself (usually column 0; with exact duplicates it may sit elsewhere).
    is_self = idx == np.arange(n)[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(n), drop] = False
    return idx[keep].reshape(n, k).astype(np.int64), dist[keep].reshape(n, k).astype(np.float32)


def omic_knn(X, metric: str, k: int = 15, threshold: float | str = 0.5, block_size: int = 512,
             n_jobs: int | None = None):
    """kNN of one omic with its metric (``"euclidean"`` or ``"hamming"``); see the two functions above.

    ``n_jobs`` threads the Euclidean query (the Hamming blocks use numpy's own BLAS threads).
    """
    if metric == "euclidean":
        return euclidean_knn(X, k, n_jobs=n_jobs)
    if metric == "hamming":
        return hamming_knn(X, k, threshold=threshold, block_size=block_size)
    raise ValueError(f"unknown metric {metric!r}")


def knn_connectivities(indices: np.ndarray, distances: np.ndarray, seed: int = 0) -> sp.csr_matrix:
    """UMAP fuzzy simplicial set of a kNN list: symmetric weighted graph (n, n) float32 CSR in [0, 1].

    ``indices``/``distances`` exclude self (as returned above); -1 entries are skipped.
    """
    from umap.umap_ import fuzzy_simplicial_set

    n, k = indices.shape
    self_col = np.arange(n)[:, None]
    knn_i = np.hstack([self_col, indices]).astype(np.int64)
    knn_d = np.hstack([np.zeros((n, 1), np.float32), distances]).astype(np.float32)
    finite = np.isfinite(knn_d)
    if not finite.all():
        big = 2 * float(knn_d[finite].max()) + 1.0
        knn_d[~finite] = big
        knn_i[~finite] = -1
    graph, _, _ = fuzzy_simplicial_set(
        np.empty((n, 1), dtype=np.float32),
        n_neighbors=k + 1,
        random_state=np.random.RandomState(seed),
        metric="euclidean",
        knn_indices=knn_i,
        knn_dists=knn_d,
    )
    graph = sp.csr_matrix(graph, dtype=np.float32)
    graph.setdiag(0)
    graph.eliminate_zeros()
    graph.sort_indices()
    return graph


def n_edges(graph: sp.spmatrix) -> int:
    """Undirected edges of a symmetric graph (self-loops not counted)."""
    g = sp.csr_matrix(graph, copy=True)
    g.setdiag(0)
    g.eliminate_zeros()
    return int(g.nnz // 2)


def consensus_graph(graphs: list[sp.spmatrix], min_omics: int | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Edges present in at least ``min_omics`` of the graphs (default: all of them).

    Args:
        graphs: symmetric weighted (n, n) graphs, one per omic, same cell order.
        min_omics: 1 ≤ m ≤ len(graphs); None = len(graphs) (strict intersection).

    Returns:
        (consensus, support): consensus (n, n) float32 CSR, weight = mean weight over the omics that
        hold the edge; support (n, n) CSR int, number of omics holding each kept edge.

    Raises:
        ValueError: ``min_omics`` out of range or graphs of different shapes.
    """
    m = len(graphs) if min_omics is None else int(min_omics)
    if not 1 <= m <= len(graphs):
        raise ValueError(f"min_omics must be between 1 and {len(graphs)}, got {min_omics}")
    shapes = {g.shape for g in graphs}
    if len(shapes) != 1:
        raise ValueError(f"graphs differ in shape: {shapes}")
    total = sp.csr_matrix(graphs[0].shape, dtype=np.float64)
    count = sp.csr_matrix(graphs[0].shape, dtype=np.float64)
    for g in graphs:
        g = sp.csr_matrix(g, dtype=np.float64)
        g.eliminate_zeros()
        total = total + g
        count = count + (g > 0).astype(np.float64)
    count = count.tocsr()
    count.sort_indices()
    total = total.tocsr()
    total.sort_indices()
    if not (np.array_equal(total.indptr, count.indptr) and np.array_equal(total.indices, count.indices)):
        raise AssertionError("internal: weight and count matrices differ in sparsity pattern")
    keep = count.data >= m
    # total and count share the same sparsity pattern (count's non-zeros are total's non-zeros).
    weights = np.where(keep, total.data / np.maximum(count.data, 1), 0.0)
    consensus = sp.csr_matrix((weights.astype(np.float32), count.indices.copy(), count.indptr.copy()), shape=count.shape)
    consensus.eliminate_zeros()
    support = sp.csr_matrix((np.where(keep, count.data, 0).astype(np.int32), count.indices, count.indptr), shape=count.shape)
    support.eliminate_zeros()
    return consensus, support


def graph_topk_neighbors(graph: sp.spmatrix, k: int) -> np.ndarray:
    """The ≤ k neighbours of each cell with the largest edge weights (ties by index), vectorised.

    Returns:
        (n, k) int64, padded with -1 where a cell has fewer than k neighbours.
    """
    g = sp.csr_matrix(graph)
    g.setdiag(0)
    g.eliminate_zeros()
    n = g.shape[0]
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    order = np.lexsort((g.indices, -g.data, rows))
    rank = np.arange(order.size) - g.indptr[rows[order]]
    take = rank < k
    out = np.full((n, k), -1, dtype=np.int64)
    out[rows[order][take], rank[take]] = g.indices[order][take]
    return out


def geodesic_distances(graph: sp.spmatrix, sources: np.ndarray | None = None) -> np.ndarray:
    """Shortest-path hop counts from ``sources`` (default all cells) to every cell, unweighted.

    Unreachable pairs (different components) get the largest finite distance + 1, so that a
    silhouette can be computed on a disconnected graph.

    Returns:
        (len(sources), n) float64.
    """
    D = csgraph.shortest_path(sp.csr_matrix(graph), directed=False, unweighted=True, indices=sources)
    D = np.atleast_2d(D)
    finite = np.isfinite(D)
    if not finite.all():
        D[~finite] = (D[finite].max() if finite.any() else 0.0) + 1.0
    return D


def choose_consensus(
    knn_lists: list[tuple[np.ndarray, np.ndarray]],
    k_candidates: list[int],
    min_omics: int | None = None,
    max_isolated: float = 0.01,
    seed: int = 0,
) -> tuple[int, sp.csr_matrix, list[sp.csr_matrix]]:
    """Consensus graph with the smallest per-omic k that leaves few cells without an edge.

    The intersection of kNN graphs is much sparser than each of them (neighbourhoods of different
    omics agree only partly), so at small k many cells end up isolated. Starting from the smallest
    candidate, k grows until at most ``max_isolated`` (a share) of the cells are isolated in the
    consensus; the criterion uses no labels.

    Args:
        knn_lists: per omic (indices, distances) sorted nearest first, with at least
            ``max(k_candidates)`` columns (a prefix of k columns is the k-NN list).
        k_candidates: increasing candidate k values.
        min_omics: see :func:`consensus_graph`.
        max_isolated: largest acceptable share of isolated cells.
        seed: seed of the connectivities.

    Returns:
        (chosen k, consensus graph, per-omic connectivities at that k). When no candidate meets the
        criterion the largest is used.
    """
    n = knn_lists[0][0].shape[0]
    chosen = None
    for k in sorted(set(int(c) for c in k_candidates)):
        omic_graphs = [knn_connectivities(i[:, :k], d[:, :k], seed) for i, d in knn_lists]
        consensus, _ = consensus_graph(omic_graphs, min_omics)
        isolated = int((np.diff(consensus.indptr) == 0).sum())
        chosen = (k, consensus, omic_graphs)
        if isolated <= max_isolated * n:
            break
    return chosen
