"""K-nearest-neighbour graphs per omic and the consensus (intersection) graph of several omics.

* Expression: Euclidean kNN (scikit-learn ``NearestNeighbors``, exact) up to
  ``approximate_above`` cells (default :data:`APPROXIMATE_KNN_ABOVE`, the schema default of
  ``singlecell.approximate_knn_above``); above it, approximate kNN by NN-descent (pynndescent,
  Dong et al. 2011, with umap-learn's / scanpy's index settings), for the graphs, Leiden and UMAP.
* Methylation / accessibility: Hamming distance on binarised values with missing entries masked, as
  in the course's graph-intersection integration (N. Oskolkov, "UMAP on the intersection of the kNN
  graphs of single-cell omics"): for cells i and j,
  ``d(i, j) = #{features observed in both and binarised differently} / #{features observed in both}``.
  Computed block-wise with matrix products of indicator matrices, memory O(block × n); above
  ``approximate_above`` cells by NN-descent with the same masked distance as a numba metric.
* Each kNN list becomes a weighted symmetric graph with UMAP's fuzzy simplicial set
  (``umap.umap_.fuzzy_simplicial_set``; the same connectivities scanpy's ``pp.neighbors`` builds).
* Consensus: an edge is kept when it is present in at least ``min_omics`` of the n omic graphs
  (default n: present in every omic); its weight is the mean of its weights in the omics that have it.
* scanpy-native storage (:func:`store_neighbors`): ``obsp['<key>_connectivities']``,
  ``obsp['<key>_distances']`` and ``uns['<key>']`` as ``scanpy.pp.neighbors(key_added=key)``
  writes them, so ``sc.tl.umap``/``sc.tl.leiden(neighbors_key=key)`` reuse a workflow graph.
  Distances of the consensus graph: :func:`consensus_distances`.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from sklearn.neighbors import NearestNeighbors

#: Cell count above which kNN is approximate (NN-descent); the schema default of
#: ``singlecell.approximate_knn_above``. ``None`` passed as ``approximate_above`` means always exact.
APPROXIMATE_KNN_ABOVE = 50_000


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
                raise ValueError(
                    "threshold 'median' on a large sparse matrix: give a numeric threshold"
                )
            thr = np.median(X.toarray(), axis=0)
        else:
            thr = np.full(X.shape[1], float(threshold))
        if np.any(thr < 0):
            raise ValueError(
                "a negative threshold would mark implicit zeros as 1 in a sparse matrix"
            )
        coo = X.tocoo()
        keep = coo.data > thr[coo.col]
        B = sp.csr_matrix(
            (np.ones(keep.sum(), np.float32), (coo.row[keep], coo.col[keep])), shape=X.shape
        )
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


def hamming_distances(
    X, threshold: float | str = 0.5, block_size: int = 512, min_shared: int = 1
) -> np.ndarray:
    """Full (n, n) masked Hamming distance matrix (float64, +inf where no shared feature). O(n²) memory."""
    n = X.shape[0]
    out = np.empty((n, n), dtype=np.float64)
    for s, D in hamming_blocks(X, threshold, block_size, min_shared):
        out[s : s + D.shape[0]] = D
    return out


def hamming_knn(
    X,
    k: int = 15,
    threshold: float | str = 0.5,
    block_size: int = 512,
    min_shared: int = 1,
    approximate_above: int | None = APPROXIMATE_KNN_ABOVE,
    seed: int = 0,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """kNN under the masked Hamming distance (self excluded): exact, or NN-descent above a size.

    Args:
        X: (n, p) values, dense with NaN = missing, or CSR.
        k: neighbours per cell (at most n - 1).
        threshold, block_size, min_shared: see :func:`hamming_blocks` (``min_shared`` > 1 is
            supported by the exact search only).
        approximate_above: more cells than this → :func:`nndescent_knn` with the same distance
            (:func:`knn_method`); None = always exact.
        seed, n_jobs: seed and threads of NN-descent (unused by the exact search).

    Returns:
        indices (n, k) int64 and distances (n, k) float32, nearest first, ties by cell index; a cell
        with fewer than k cells sharing an observed feature gets index -1 and distance +inf there.
    """
    n = X.shape[0]
    k = min(k, n - 1)
    if knn_method(n, approximate_above) == "nndescent":
        return nndescent_knn(X, k, "hamming", threshold=threshold, seed=seed, n_jobs=n_jobs)
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


def euclidean_knn(
    X,
    k: int = 15,
    n_jobs: int | None = None,
    approximate_above: int | None = APPROXIMATE_KNN_ABOVE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean kNN, self excluded: exact (scikit-learn) or NN-descent above a size.

    Args:
        X: (n, p) dense (NaN are mean-imputed first) or CSR.
        k: neighbours per cell (at most n - 1).
        n_jobs: threads of the neighbour query (scikit-learn ``n_jobs`` / pynndescent ``n_jobs``;
            None = 1). The exact result does not depend on the number of threads; NN-descent's is
            identical on a rerun with the same seed and threads (near-exact for any).
        approximate_above: more cells than this → :func:`nndescent_knn` (:func:`knn_method`);
            None = always exact.
        seed: seed of NN-descent (the exact search has none).

    Returns:
        indices (n, k) int64, distances (n, k) float32, nearest first.
    """
    n = X.shape[0]
    k = min(k, n - 1)
    if not sp.issparse(X):
        X = mean_impute(X)
    if knn_method(n, approximate_above) == "nndescent":
        return nndescent_knn(X, k, "euclidean", seed=seed, n_jobs=n_jobs)
    nn = NearestNeighbors(
        n_neighbors=k + 1, algorithm="brute" if sp.issparse(X) else "auto", n_jobs=n_jobs
    ).fit(X)
    dist, idx = nn.kneighbors(X)
    # Drop each cell itself (usually column 0; with exact duplicates it may sit elsewhere).
    is_self = idx == np.arange(n)[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(n), drop] = False
    return idx[keep].reshape(n, k).astype(np.int64), dist[keep].reshape(n, k).astype(np.float32)


def omic_knn(
    X,
    metric: str,
    k: int = 15,
    threshold: float | str = 0.5,
    block_size: int = 512,
    n_jobs: int | None = None,
    approximate_above: int | None = APPROXIMATE_KNN_ABOVE,
    seed: int = 0,
):
    """kNN of one omic with its metric (``"euclidean"`` or ``"hamming"``); see the two functions above.

    ``n_jobs`` threads the Euclidean query and NN-descent (the exact Hamming blocks use numpy's own
    BLAS threads); ``approximate_above`` and ``seed``: see :func:`knn_method`, :func:`nndescent_knn`.
    """
    if metric == "euclidean":
        return euclidean_knn(X, k, n_jobs=n_jobs, approximate_above=approximate_above, seed=seed)
    if metric == "hamming":
        return hamming_knn(
            X,
            k,
            threshold=threshold,
            block_size=block_size,
            approximate_above=approximate_above,
            seed=seed,
            n_jobs=n_jobs,
        )
    raise ValueError(f"unknown metric {metric!r}")


def knn_method(n_cells: int, approximate_above: int | None = APPROXIMATE_KNN_ABOVE) -> str:
    """``"nndescent"`` when ``n_cells > approximate_above`` (not None), else ``"exact"``."""
    return (
        "nndescent" if approximate_above is not None and n_cells > approximate_above else "exact"
    )


@functools.lru_cache(maxsize=1)
def _masked_hamming_metric():
    """numba metric on binarised values coded 0/1, -1 = missing: share of commonly observed
    features that differ; +inf when no feature is observed in both (never neighbours)."""
    import numba

    @numba.njit(fastmath=False)
    def masked_hamming(x, y):
        shared = 0
        differ = 0
        for j in range(x.shape[0]):
            if x[j] >= 0 and y[j] >= 0:  # both observed
                shared += 1
                if x[j] != y[j]:
                    differ += 1
        if shared == 0:
            return np.inf
        return differ / shared

    return masked_hamming


def nndescent_knn(
    X,
    k: int = 15,
    metric: str = "euclidean",
    threshold: float | str = 0.5,
    seed: int = 0,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate kNN by NN-descent (pynndescent ``NNDescent``; Dong, Charikar & Li 2011), self excluded.

    Index settings are umap-learn's ``nearest_neighbors`` (which ``scanpy.pp.neighbors`` also uses
    above 4,096 cells): ``n_trees = min(64, 5 + round(sqrt(n) / 20))``, ``n_iters = max(5,
    round(log2 n))``, ``max_candidates = 60``, low-memory mode. With a fixed ``seed`` the result
    is the same for any ``n_jobs`` (pynndescent seeds every random draw).

    Args:
        X: (n, p) dense float (NaN mean-imputed for ``"euclidean"``; NaN = missing for
            ``"hamming"``) or CSR.
        k: neighbours per cell (at most n - 1).
        metric: ``"euclidean"``, or ``"hamming"``: the masked Hamming distance of
            :func:`hamming_blocks` on values binarised with ``threshold`` (:func:`binarize`).
        seed: random state of the index.
        n_jobs: numba threads (None = numba's default; capped at ``NUMBA_NUM_THREADS``).

    Returns:
        indices (n, k) int64, distances (n, k) float32, nearest first; -1 / +inf where fewer than k
        cells share an observed feature (Hamming) — as the exact functions.

    Raises:
        ValueError: unknown metric.
    """
    import numba
    from pynndescent import NNDescent

    if n_jobs is not None:  # never more than the process' numba pool (NUMBA_NUM_THREADS)
        n_jobs = max(1, min(int(n_jobs), numba.config.NUMBA_NUM_THREADS))
    n = X.shape[0]
    k = min(k, n - 1)
    if metric == "euclidean":
        data, nn_metric = (
            (sp.csr_matrix(X, dtype=np.float32) if sp.issparse(X) else mean_impute(X)),
            "euclidean",
        )
    elif metric == "hamming":
        B, O = binarize(X, threshold)
        if O is None:  # sparse, every entry observed: plain Hamming on the binarised matrix
            data, nn_metric = B, "hamming"
        else:
            data = np.where(O > 0, B, -1.0).astype(np.float32)  # -1 = missing (no NaN allowed)
            nn_metric = _masked_hamming_metric()
    else:
        raise ValueError(f"unknown metric {metric!r}")
    index = NNDescent(
        data,
        n_neighbors=k + 1,
        metric=nn_metric,
        n_trees=min(64, 5 + round(n**0.5 / 20.0)),
        n_iters=max(5, round(np.log2(n))),
        max_candidates=60,
        random_state=seed,
        low_memory=True,
        n_jobs=n_jobs,
        compressed=True,
        verbose=False,
    )
    idx, dist = index.neighbor_graph
    del index
    idx = np.asarray(idx, dtype=np.int64)
    dist = np.asarray(dist, dtype=np.float32)
    # Drop each cell itself (first column, except with duplicates); else drop the farthest.
    is_self = idx == np.arange(n)[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(n), drop] = False
    idx = idx[keep].reshape(n, k)
    dist = dist[keep].reshape(n, k)
    missing = (idx < 0) | ~np.isfinite(dist)
    idx[missing] = -1
    dist[missing] = np.inf
    return idx, dist


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


def consensus_graph(
    graphs: list[sp.spmatrix], min_omics: int | None = None
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
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
    if not (
        np.array_equal(total.indptr, count.indptr) and np.array_equal(total.indices, count.indices)
    ):
        raise AssertionError("internal: weight and count matrices differ in sparsity pattern")
    keep = count.data >= m
    # total and count share the same sparsity pattern (count's non-zeros are total's non-zeros).
    weights = np.where(keep, total.data / np.maximum(count.data, 1), 0.0)
    consensus = sp.csr_matrix(
        (weights.astype(np.float32), count.indices.copy(), count.indptr.copy()), shape=count.shape
    )
    consensus.eliminate_zeros()
    support = sp.csr_matrix(
        (np.where(keep, count.data, 0).astype(np.int32), count.indices, count.indptr),
        shape=count.shape,
    )
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
    D = csgraph.shortest_path(
        sp.csr_matrix(graph), directed=False, unweighted=True, indices=sources
    )
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
    for k in sorted({int(c) for c in k_candidates}):
        omic_graphs = [knn_connectivities(i[:, :k], d[:, :k], seed) for i, d in knn_lists]
        consensus, _ = consensus_graph(omic_graphs, min_omics)
        isolated = int((np.diff(consensus.indptr) == 0).sum())
        chosen = (k, consensus, omic_graphs)
        if isolated <= max_isolated * n:
            break
    return chosen


# ------------------------------------------------------------------ scanpy-native graph storage
def knn_distance_matrix(indices: np.ndarray, distances: np.ndarray) -> sp.csr_matrix:
    """Directed kNN distances as scanpy stores them in ``obsp['distances']``.

    Row i holds the distances to its k neighbours (self excluded; -1 / non-finite entries
    skipped); zero distances (duplicate cells) stay as explicit entries, as in scanpy's
    ``_get_sparse_matrix_from_indices_distances``.

    Args:
        indices: (n, k) int neighbour indices; distances: (n, k) float.

    Returns:
        (n, n) float32 CSR, not symmetric, sorted indices.
    """
    n, _k = indices.shape
    ok = (indices >= 0) & np.isfinite(distances)
    counts = ok.sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = sp.csr_matrix(
        (np.asarray(distances, np.float32)[ok], np.asarray(indices, np.int64)[ok], indptr),
        shape=(n, n),
    )
    out.sort_indices()
    return out


def edge_distances(
    X,
    rows: np.ndarray,
    cols: np.ndarray,
    metric: str,
    threshold: float | str = 0.5,
    chunk: int = 65536,
) -> np.ndarray:
    """Distances of given cell pairs in one omic, with the metric of its kNN (same preprocessing).

    ``"euclidean"``: NaN mean-imputed as in :func:`euclidean_knn`; ``"hamming"``: the masked
    Hamming distance of :func:`hamming_blocks` (+inf when no feature is observed in both).

    Args:
        X: (n, p) dense or CSR; rows, cols: (m,) int cell indices of the pairs.
        metric: ``"euclidean"`` or ``"hamming"``; threshold: see :func:`binarize`.
        chunk: pairs per vectorised batch (memory O(chunk × p)).

    Returns:
        (m,) float32.

    Raises:
        ValueError: unknown metric.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    out = np.empty(rows.size, dtype=np.float32)
    if metric == "euclidean":
        data = sp.csr_matrix(X, dtype=np.float32) if sp.issparse(X) else mean_impute(X)
        for s in range(0, rows.size, chunk):
            r, c = rows[s : s + chunk], cols[s : s + chunk]
            diff = data[r] - data[c]
            if sp.issparse(diff):
                sq = np.asarray(diff.multiply(diff).sum(axis=1), dtype=np.float64).ravel()
            else:
                sq = np.einsum("ij,ij->i", diff, diff, dtype=np.float64)
            out[s : s + chunk] = np.sqrt(sq)
        return out
    if metric == "hamming":
        B, O = binarize(X, threshold)
        p = B.shape[1]
        for s in range(0, rows.size, chunk):
            r, c = rows[s : s + chunk], cols[s : s + chunk]
            if O is None:
                diff = B[r] - B[c]
                out[s : s + chunk] = (
                    np.asarray(abs(diff).sum(axis=1), dtype=np.float64).ravel() / p
                )
                continue
            observed = O[r] * O[c]
            differ = ((B[r] != B[c]) * observed).sum(axis=1, dtype=np.float64)
            shared = observed.sum(axis=1, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[s : s + chunk] = np.where(shared > 0, differ / np.maximum(shared, 1), np.inf)
        return out
    raise ValueError(f"unknown metric {metric!r}")


def graph_knn_distances(
    graph: sp.spmatrix, X, metric: str, k: int, threshold: float | str = 0.5
) -> sp.csr_matrix:
    """scanpy-style directed kNN distances of a UMAP connectivity graph, from its data.

    A kNN list's neighbours are all edges of its fuzzy-union graph, and any other edge (i, j) of
    that graph (i among j's neighbours) is no nearer to i than i's k-th neighbour; so the k edges
    of row i with the smallest distance in ``X`` are i's kNN (ties by cell index). This recovers
    ``obsp['<key>_distances']`` from a stored connectivity graph with O(edges × p) work and no
    new neighbour search.

    Args:
        graph: (n, n) symmetric connectivities; X: the data its kNN was built on.
        metric, threshold: see :func:`edge_distances`; k: neighbours kept per row.

    Returns:
        (n, n) float32 CSR with ≤ k entries per row (fewer where a cell has fewer edges).
    """
    g = sp.csr_matrix(graph)
    g.setdiag(0)
    g.eliminate_zeros()
    n = g.shape[0]
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    d = edge_distances(X, rows, g.indices, metric, threshold)
    order = np.lexsort((g.indices, d, rows))
    rank = np.arange(order.size) - g.indptr[rows[order]]
    take = order[(rank < k) & np.isfinite(d[order])]
    take.sort()  # CSR order (rows, then column indices)
    counts = np.bincount(rows[take], minlength=n)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = sp.csr_matrix((d[take], g.indices[take], indptr), shape=(n, n))
    out.sort_indices()
    return out


def distance_scale(distances: sp.spmatrix) -> float:
    """Median of the stored (finite) kNN distances: an omic's typical neighbour distance."""
    data = sp.csr_matrix(distances).data
    data = data[np.isfinite(data)]
    return float(np.median(data)) if data.size else 1.0


def consensus_distances(
    consensus: sp.spmatrix, omics: list[tuple], scales: list[float]
) -> sp.csr_matrix:
    """Distances of the consensus graph's edges: the largest scaled per-omic distance.

    For an edge (i, j), ``d(i, j) = max_o d_o(i, j) / s_o`` over the omics o, where d_o is the
    omic's own kNN distance (Euclidean or masked Hamming, :func:`edge_distances`) and s_o the
    omic's median kNN distance (:func:`distance_scale`). Scaling makes the omics' units
    comparable (1 = a typical neighbour distance in that omic); the maximum says two cells are
    as close as they are in the omic where they are farthest apart, matching the intersection
    (an edge is kept only when the cells are neighbours in every omic). Omics where the pair
    shares no observed feature (+inf) are skipped. The matrix has the consensus graph's
    (symmetric) pattern, so a cell has as many entries as consensus edges.

    Args:
        consensus: (n, n) consensus connectivities.
        omics: per omic ``(X, metric, threshold)``; scales: per omic s_o > 0.

    Returns:
        (n, n) float32 CSR, same pattern as ``consensus`` (self-loops dropped).
    """
    g = sp.csr_matrix(consensus)
    g.setdiag(0)
    g.eliminate_zeros()
    g.sort_indices()
    n = g.shape[0]
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    best = np.full(rows.size, -np.inf)
    for (X, metric, threshold), scale in zip(omics, scales):
        d = edge_distances(X, rows, g.indices, metric, threshold) / max(float(scale), 1e-12)
        best = np.where(np.isfinite(d), np.maximum(best, d), best)
    best[~np.isfinite(best)] = np.nan
    if np.isnan(best).any():  # no omic with a finite distance: largest finite + 1
        best[np.isnan(best)] = (np.nanmax(best) if np.isfinite(best).any() else 0.0) + 1.0
    return sp.csr_matrix(
        (best.astype(np.float32), g.indices.copy(), g.indptr.copy()), shape=g.shape
    )


def neighbors_params(
    k: int,
    metric: str,
    seed: int = 0,
    use_rep: str | None = None,
    knn_method_name: str = "exact",
    **extra,
) -> dict:
    """``uns[key]['params']`` as ``scanpy.pp.neighbors`` writes it, plus the workflow's extras.

    ``n_neighbors`` counts the cell itself as scanpy's does: k neighbours + self = k + 1, the
    value that makes ``sc.pp.neighbors(n_neighbors=k + 1)`` build the same connectivities.
    ``method`` is ``"umap"`` (fuzzy simplicial set connectivities). Extra keys (``knn``: exact /
    nndescent, ``n_neighbors_excluding_self``, anything in ``extra``) are ignored by scanpy.
    """
    params = {
        "n_neighbors": int(k) + 1,
        "method": "umap",
        "random_state": int(seed),
        "metric": metric,
    }
    if use_rep is not None:
        params["use_rep"] = use_rep
    params["knn"] = knn_method_name
    params["n_neighbors_excluding_self"] = int(k)
    params.update(extra)
    return params


def store_neighbors(
    adata, key: str, connectivities: sp.spmatrix, distances: sp.spmatrix, params: dict
) -> None:
    """Write a graph as ``sc.pp.neighbors(adata, key_added=key)`` does.

    Sets ``obsp[f'{key}_connectivities']`` (float32 CSR), ``obsp[f'{key}_distances']`` (float32
    CSR) and ``uns[key] = {'connectivities_key', 'distances_key', 'params'}``; then
    ``sc.tl.umap(adata, neighbors_key=key)`` and ``sc.tl.leiden(adata, neighbors_key=key)`` use it.

    Raises:
        ValueError: a matrix is not (n_obs, n_obs) or ``params`` lacks n_neighbors/method/metric.
    """
    n = adata.n_obs
    for name, m in (("connectivities", connectivities), ("distances", distances)):
        if m.shape != (n, n):
            raise ValueError(f"graph {key!r}: {name} shape {m.shape} != ({n}, {n})")
    missing = {"n_neighbors", "method", "metric"} - set(params)
    if missing:
        raise ValueError(f"graph {key!r}: params lack {sorted(missing)}")
    conn_key, dist_key = f"{key}_connectivities", f"{key}_distances"
    adata.obsp[conn_key] = sp.csr_matrix(connectivities, dtype=np.float32)
    adata.obsp[dist_key] = sp.csr_matrix(distances, dtype=np.float32)
    adata.uns[key] = {
        "connectivities_key": conn_key,
        "distances_key": dist_key,
        "params": dict(params),
    }


# ------------------------------------------------------------- one graph for Leiden and UMAP
def leiden_clusters(graph: sp.spmatrix, resolution: float = 1.0, seed: int = 0) -> np.ndarray:
    """Leiden communities of a weighted graph (``scanpy.tl.leiden``, igraph backend, iterated until
    the partition no longer improves: ``n_iterations=-1``; two iterations, the former setting, stop
    early and change the partition with the seed).

    Returns:
        (n,) array of cluster names (str, "0" = largest cluster).
    """
    import anndata as ad
    import scanpy as sc

    n = graph.shape[0]
    holder = ad.AnnData(obs={"i": np.arange(n)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.leiden(
            holder,
            resolution=resolution,
            random_state=seed,
            adjacency=sp.csr_matrix(graph),
            directed=False,
            flavor="igraph",
            n_iterations=-1,
            key_added="leiden",
        )
    return holder.obs["leiden"].astype(str).to_numpy()


def _leiden_file_worker(workdir: str, resolution: str, seed: str) -> None:
    """Body of the overlapped Leiden process: reads ``graph.npz`` in ``workdir``, writes
    ``clusters.npy`` ((n,) str) and ``seconds.txt`` (Leiden's own wall seconds) there."""
    import time
    from pathlib import Path

    folder = Path(workdir)
    graph = sp.load_npz(folder / "graph.npz")
    start = time.perf_counter()
    clusters = leiden_clusters(graph, float(resolution), int(seed))
    seconds = time.perf_counter() - start
    np.save(folder / "clusters.npy", np.asarray(clusters, dtype=str), allow_pickle=False)
    (folder / "seconds.txt").write_text(f"{seconds!r}\n")


def _start_leiden_process(graph: sp.spmatrix, resolution: float, seed: int, workdir):
    """Start :func:`_leiden_file_worker` in a new interpreter (``python -c``: nothing of the
    caller's ``__main__`` is re-run, unlike multiprocessing's spawn) on ``graph`` saved in
    ``workdir``; returns the ``subprocess.Popen`` (stderr to ``workdir/stderr.txt``)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import genomelearn

    folder = Path(workdir)
    sp.save_npz(folder / "graph.npz", sp.csr_matrix(graph), compressed=False)
    env = dict(os.environ)
    package_root = str(Path(genomelearn.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH", "")]))
    code = (
        "import sys; from genomelearn.singlecell.graphs import _leiden_file_worker as work; "
        "work(*sys.argv[1:])"
    )
    with open(folder / "stderr.txt", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-c", code, str(folder), repr(float(resolution)), str(int(seed))],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )


def _finish_leiden_process(proc, workdir) -> tuple[np.ndarray, float]:
    """Wait for :func:`_start_leiden_process`'s process; (clusters (n,) str, Leiden seconds).

    Raises:
        RuntimeError: the process failed (its stderr's last lines in the message).
    """
    from pathlib import Path

    folder = Path(workdir)
    if proc.wait() != 0:
        tail = (folder / "stderr.txt").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the overlapped Leiden process exited with {proc.returncode}:\n{tail}")
    clusters = np.load(folder / "clusters.npy", allow_pickle=False)
    return clusters.astype(object), float((folder / "seconds.txt").read_text())


def rapids_available() -> bool:
    """True when rapids-singlecell imports and a CUDA device is visible (cupy)."""
    try:
        import cupy
        import rapids_singlecell  # noqa: F401

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any import or driver failure means: no GPU path
        return False


def neighbors_leiden_umap(
    X: np.ndarray,
    k: int = 15,
    resolution: float = 1.0,
    min_dist: float = 0.5,
    seed: int = 0,
    approximate_above: int | None = APPROXIMATE_KNN_ABOVE,
    n_jobs: int | None = None,
    backend: str = "cpu",
    timings: dict | None = None,
    overlap_leiden: bool | None = None,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """The workflow's graph → Leiden + UMAP path on an embedding: the kNN graph is built once and
    both the clustering and the layout use it (UMAP from the precomputed graph).

    CPU: :func:`euclidean_knn` (exact, or NN-descent above ``approximate_above`` cells) →
    :func:`knn_connectivities` → :func:`leiden_clusters` (igraph Leiden, iterated until the
    partition no longer improves) and ``embed.umap_layout`` (umap-learn ``simplicial_set_embedding``
    on that graph). Leiden and the layout are independent given the graph and each is
    single-threaded (igraph; umap-learn's seeded layout), so with ``overlap_leiden`` Leiden runs in
    a second Python process (the graph passed through a temporary ``.npz``) while this one lays
    out the graph: the wall time of the pair is the longer of the two, not their sum, and the
    outputs are the same as in sequence (same graph, same seeds).
    ``backend="rapids"``: rapids-singlecell on the GPU (``rsc.pp.neighbors`` with
    n_neighbors = k + 1 on ``X``, ``rsc.tl.leiden``, ``rsc.tl.umap`` on that graph);
    ``"auto"``: rapids when :func:`rapids_available`, else CPU.

    Args:
        X: (n, d) float32 embedding.
        k, resolution, min_dist, seed: kNN size (self excluded), Leiden resolution, UMAP min_dist, seed.
        approximate_above, n_jobs: see :func:`euclidean_knn`.
        timings: when given, filled with seconds per step (``knn_s``, ``leiden_s``, ``umap_s``;
            overlapped: ``leiden_s`` is the second process' own wall time, and
            ``leiden_umap_s`` the wall time of the pair).
        overlap_leiden: run Leiden beside the layout in a second process; None = when ``n_jobs``
            ≥ 2 and the kNN is approximate (above ``approximate_above`` cells: below that the
            pair takes seconds and a second process' start-up, about 2 s, would not pay).

    Returns:
        (connectivities (n, n) float32 CSR, clusters (n,) str, layout (n, 2) float32).

    Raises:
        ValueError: unknown backend, or ``"rapids"`` without rapids-singlecell and a GPU.
        RuntimeError: the overlapped Leiden process failed (its stderr in the message).
    """
    import time

    timings = {} if timings is None else timings
    if backend == "auto":
        backend = "rapids" if rapids_available() else "cpu"
    if backend == "rapids":
        if not rapids_available():
            raise ValueError("backend 'rapids' needs rapids_singlecell and a CUDA device")
        import anndata as ad
        import rapids_singlecell as rsc

        adata = ad.AnnData(X=np.asarray(X, dtype=np.float32))
        start = time.perf_counter()
        rsc.pp.neighbors(adata, n_neighbors=k + 1, use_rep="X", random_state=seed)
        timings["knn_s"] = time.perf_counter() - start
        start = time.perf_counter()
        rsc.tl.leiden(adata, resolution=resolution, random_state=seed)
        timings["leiden_s"] = time.perf_counter() - start
        start = time.perf_counter()
        rsc.tl.umap(adata, min_dist=min_dist, random_state=seed)
        timings["umap_s"] = time.perf_counter() - start
        return (
            sp.csr_matrix(adata.obsp["connectivities"], dtype=np.float32),
            adata.obs["leiden"].astype(str).to_numpy(),
            np.asarray(adata.obsm["X_umap"], dtype=np.float32),
        )
    if backend != "cpu":
        raise ValueError(f"unknown backend {backend!r} (cpu, rapids, auto)")
    from genomelearn.singlecell import embed

    start = time.perf_counter()
    idx, dist = euclidean_knn(X, k, n_jobs=n_jobs, approximate_above=approximate_above, seed=seed)
    graph = knn_connectivities(idx, dist, seed)
    del idx, dist
    timings["knn_s"] = time.perf_counter() - start
    if overlap_leiden is None:
        overlap_leiden = (n_jobs or 1) >= 2 and knn_method(X.shape[0], approximate_above) == (
            "nndescent"
        )
    if not overlap_leiden:
        start = time.perf_counter()
        clusters = leiden_clusters(graph, resolution, seed)
        timings["leiden_s"] = time.perf_counter() - start
        start = time.perf_counter()
        coords = embed.umap_layout(graph, X, seed, min_dist)
        timings["umap_s"] = time.perf_counter() - start
        return graph, clusters, coords
    import tempfile

    pair_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="genomelearn-leiden-") as workdir:
        proc = _start_leiden_process(graph, resolution, seed, workdir)
        try:
            start = time.perf_counter()
            coords = embed.umap_layout(graph, X, seed, min_dist)
            timings["umap_s"] = time.perf_counter() - start
            clusters, timings["leiden_s"] = _finish_leiden_process(proc, workdir)
        finally:
            if proc.poll() is None:  # the layout failed or was interrupted: stop Leiden too
                proc.kill()
                proc.wait()
    timings["leiden_umap_s"] = time.perf_counter() - pair_start
    return graph, clusters, coords
