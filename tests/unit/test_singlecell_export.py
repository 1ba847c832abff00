"""scanpy-native export of the single-cell outputs and the approximate-kNN switch.

The round trip: every graph the export writes is read back and used by ``sc.tl.umap`` and
``sc.tl.leiden`` through ``neighbors_key``, the multi-omics consensus graph included.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genomelearn.errors import InputError
from genomelearn.singlecell import export, graphs


def _multiomics(n_per: int = 40, seed: int = 0):
    """Three cell types; RNA (Gaussian, 30 genes) and methylation (binary rates with 40 % missing)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.array(["A", "B", "C"]), n_per)
    types = np.searchsorted(["A", "B", "C"], labels)
    rna = (
        rng.normal(0, 3, size=(3, 30))[types] + rng.normal(0, 1, size=(labels.size, 30))
    ).astype(np.float32)
    met = (rng.random((labels.size, 50)) < rng.random((3, 50))[types]).astype(np.float32)
    met[rng.random(met.shape) < 0.4] = np.nan
    return labels, {"rna": (rna, "euclidean", 0.5), "met": (met, "hamming", 0.5)}


def _write_inputs(tmp_path, labels, omics, k: int = 8, consensus_k: int = 16):
    """Files as the workflow's steps write them: cells.tsv, preprocessed h5ads, graphs.h5ad,
    analysis.h5ad (embeddings X_pca / X_ae / X_pca_<omic> with their kNN graphs)."""
    from genomelearn.singlecell import embed

    n = labels.size
    cells = [f"c{i}" for i in range(n)]
    pd.DataFrame({"cell": cells, "label": labels}).to_csv(
        tmp_path / "cells.tsv", sep="\t", index=False
    )
    h5ads = {}
    stored = ad.AnnData(obs=pd.DataFrame(index=cells))
    knn_lists = []
    for omic, (X, metric, thr) in omics.items():
        a = ad.AnnData(
            X=X,
            obs=pd.DataFrame(index=cells),
            var=pd.DataFrame(index=[f"{omic}{j}" for j in range(X.shape[1])]),
        )
        a.obsm["X_pca"] = embed.pca_embedding(graphs.mean_impute(X), 5, 0)[0]
        a.uns["singlecell_omic"] = {"metric": metric, "binarize_threshold": thr}
        h5ads[omic] = str(tmp_path / f"{omic}.h5ad")
        a.write_h5ad(h5ads[omic])
        idx, dist = graphs.omic_knn(X, metric, consensus_k, threshold=thr)
        knn_lists.append((idx, dist))
        stored.obsm[f"knn_{omic}"] = idx[:, :k]
        stored.obsp[f"graph_{omic}"] = graphs.knn_connectivities(idx[:, :k], dist[:, :k])
    kc, consensus, _ = graphs.choose_consensus(knn_lists, [consensus_k])
    stored.obsp["graph_consensus"] = consensus
    stored.uns["singlecell_graphs"] = {
        "n_neighbors": k,
        "consensus_k": kc,
        "consensus_min_omics": len(omics),
    }
    stored.write_h5ad(tmp_path / "graphs.h5ad")
    analysis = ad.AnnData(X=next(iter(omics.values()))[0], obs=pd.DataFrame(index=cells))
    joint = embed.concat_pca([graphs.mean_impute(X) for X, _, _ in omics.values()], 5, 0)
    embeddings = {
        "pca": joint,
        "ae": joint[:, :3] + 0.01,
        **{f"pca_{o}": ad.read_h5ad(p).obsm["X_pca"] for o, p in h5ads.items()},
    }
    for name, emb in embeddings.items():
        analysis.obsm[f"X_{name}"] = np.asarray(emb, dtype=np.float32)
        idx, dist = graphs.euclidean_knn(emb, k)
        analysis.obsp[f"graph_{name}"] = graphs.knn_connectivities(idx, dist)
        analysis.obs[f"leiden_{name}"] = pd.Categorical(
            embed.leiden_clusters(analysis.obsp[f"graph_{name}"])
        )
    for omic in omics:
        analysis.obsp[f"graph_{omic}"] = stored.obsp[f"graph_{omic}"]
    analysis.obsp["graph_consensus"] = consensus
    analysis.uns["singlecell_metrics"] = pd.DataFrame(
        {"method": list(embeddings), "ari": np.zeros(len(embeddings))}
    )
    analysis.write_h5ad(tmp_path / "analysis.h5ad")
    return h5ads


def test_knn_storage_matches_scanpy_neighbors():
    """Exact kNN: our connectivities and distances equal sc.pp.neighbors(n_neighbors=k + 1)."""
    import scanpy as sc

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    k = 10
    idx, dist = graphs.euclidean_knn(X, k)
    conn = graphs.knn_connectivities(idx, dist)
    ours = graphs.knn_distance_matrix(idx, dist)
    adata = ad.AnnData(X=X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.neighbors(adata, n_neighbors=k + 1, use_rep="X", key_added="ref", random_state=0)
    assert (
        adata.uns["ref"]["params"]["n_neighbors"]
        == graphs.neighbors_params(k, "euclidean")["n_neighbors"]
    )
    ref_d = sp.csr_matrix(adata.obsp["ref_distances"])
    np.testing.assert_allclose(ours.toarray(), ref_d.toarray(), atol=1e-4)
    np.testing.assert_allclose(
        conn.toarray(), adata.obsp["ref_connectivities"].toarray(), atol=1e-4
    )
    # the same distances are recovered from the connectivity graph alone
    recovered = graphs.graph_knn_distances(conn, X, "euclidean", k)
    np.testing.assert_allclose(recovered.toarray(), ours.toarray(), atol=1e-5)


def test_graph_knn_distances_masked_hamming():
    _labels, omics = _multiomics(20)
    X, metric, thr = omics["met"]
    idx, dist = graphs.hamming_knn(X, 6)
    conn = graphs.knn_connectivities(idx, dist)
    recovered = graphs.graph_knn_distances(conn, X, metric, 6, thr)
    np.testing.assert_allclose(
        recovered.toarray(), graphs.knn_distance_matrix(idx, dist).toarray(), atol=1e-6
    )
    full = graphs.hamming_distances(X)
    rows, cols = np.nonzero(np.isfinite(full))
    np.testing.assert_allclose(
        graphs.edge_distances(X, rows, cols, "hamming"), full[rows, cols], atol=1e-6
    )


def test_consensus_distances_are_scaled_maximum():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(50, 4)).astype(np.float32)
    B = 10 * rng.normal(size=(50, 3)).astype(np.float32)
    g = sp.csr_matrix(sp.random(50, 50, density=0.1, random_state=0, dtype=np.float32))
    g = g + g.T
    d = graphs.consensus_distances(g, [(A, "euclidean", 0.5), (B, "euclidean", 0.5)], [2.0, 20.0])
    coo = sp.coo_matrix(d)
    expect = np.maximum(
        np.linalg.norm(A[coo.row] - A[coo.col], axis=1) / 2.0,
        np.linalg.norm(B[coo.row] - B[coo.col], axis=1) / 20.0,
    )
    np.testing.assert_allclose(coo.data, expect, rtol=1e-5)
    off = sp.csr_matrix(g)
    off.setdiag(0)
    off.eliminate_zeros()
    assert (abs((d != 0).astype(int) - (off != 0).astype(int))).nnz == 0  # same pattern


def test_export_round_trip_scanpy_umap_and_leiden(tmp_path):
    """Every exported graph, consensus included, feeds sc.tl.umap and sc.tl.leiden; the MuData reads back."""
    import mudata as md
    import scanpy as sc

    labels, omics = _multiomics()
    h5ads = _write_inputs(tmp_path, labels, omics)
    out_h5ad, out_h5mu = tmp_path / "D.h5ad", tmp_path / "D.h5mu"
    export.export_step(
        str(tmp_path / "cells.tsv"),
        h5ads,
        str(tmp_path / "graphs.h5ad"),
        str(tmp_path / "analysis.h5ad"),
        str(out_h5ad),
        str(out_h5mu),
        k=8,
        seed=0,
    )
    adata = ad.read_h5ad(out_h5ad)
    keys = list(adata.uns["singlecell_export"]["neighbors_keys"])
    expected = {
        "graph_rna",
        "graph_met",
        "graph_consensus",
        "neighbors_pca",
        "neighbors_ae",
        "neighbors_pca_rna",
        "neighbors_pca_met",
    }
    assert set(keys) == expected
    for key in ("X_pca", "X_ae", "X_pca_rna", "X_pca_met"):
        assert adata.obsm[key].shape[0] == labels.size
    assert list(adata.obs["label"]) == list(labels)
    for key in keys:
        entry = adata.uns[key]
        assert entry["connectivities_key"] == f"{key}_connectivities"
        assert entry["distances_key"] == f"{key}_distances"
        assert {"n_neighbors", "method", "metric", "random_state"} <= set(entry["params"])
        conn, dist = adata.obsp[entry["connectivities_key"]], adata.obsp[entry["distances_key"]]
        assert sp.issparse(conn) and sp.issparse(dist) and dist.nnz > 0
        assert np.all(np.isfinite(dist.data)) and np.all(dist.data >= 0)
        if key != "graph_consensus":  # k neighbours per cell, as scanpy's distances
            assert np.all(np.diff(sp.csr_matrix(dist).indptr) == 8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.tl.umap(
                adata, neighbors_key=key, key_added=f"umap_{key}", maxiter=20, random_state=0
            )
            sc.tl.leiden(
                adata,
                neighbors_key=key,
                key_added=f"leiden_sc_{key}",
                flavor="igraph",
                n_iterations=2,
                random_state=0,
            )
        assert adata.obsm[f"umap_{key}"].shape == (labels.size, 2)
        assert np.isfinite(adata.obsm[f"umap_{key}"]).all()
        assert adata.obs[f"leiden_sc_{key}"].nunique() >= 2
    consensus = adata.uns["graph_consensus"]["params"]
    assert list(consensus["consensus"]["omics"]) == ["rna", "met"]
    # consensus distance = max of scaled per-omic distances
    coo = sp.coo_matrix(adata.obsp["graph_consensus_distances"])
    scales = consensus["consensus"]["omic_distance_scales"]
    d_rna = graphs.edge_distances(omics["rna"][0], coo.row, coo.col, "euclidean") / scales[0]
    d_met = graphs.edge_distances(omics["met"][0], coo.row, coo.col, "hamming") / scales[1]
    np.testing.assert_allclose(coo.data, np.maximum(d_rna, d_met), rtol=1e-5)
    mdata = md.read_h5mu(out_h5mu)
    assert set(mdata.mod) == {"rna", "met"}
    assert (
        "graph_rna_connectivities" in mdata.mod["rna"].obsp and "graph_met" in mdata.mod["met"].uns
    )
    assert "graph_consensus_connectivities" in mdata.obsp and "X_ae" in mdata.obsm
    assert mdata.n_obs == labels.size


def test_export_rejects_stale_files(tmp_path):
    labels, omics = _multiomics(10)
    h5ads = _write_inputs(tmp_path, labels, omics, k=4, consensus_k=8)
    pd.DataFrame({"cell": [f"x{i}" for i in range(labels.size)], "label": labels}).to_csv(
        tmp_path / "cells.tsv", sep="\t", index=False
    )
    with pytest.raises(InputError, match="cells differ"):
        export.export_step(
            str(tmp_path / "cells.tsv"),
            h5ads,
            str(tmp_path / "graphs.h5ad"),
            str(tmp_path / "analysis.h5ad"),
            str(tmp_path / "D.h5ad"),
            str(tmp_path / "D.h5mu"),
            k=4,
        )
    assert not (tmp_path / "D.h5ad").exists() and not (tmp_path / "D.h5mu").exists()


def test_knn_switch_and_nndescent_recall():
    """Above the threshold the kNN is NN-descent: near-exact neighbours, identical on a rerun with
    the same threads, near-exact with 2 threads too."""
    assert graphs.knn_method(50_000) == "exact" and graphs.knn_method(50_001) == "nndescent"
    assert graphs.knn_method(10**7, None) == "exact"
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(8, 5))[rng.integers(0, 8, 2000)] + rng.normal(size=(2000, 5))).astype(
        np.float32
    )
    exact_i, _exact_d = graphs.euclidean_knn(X, 10, approximate_above=None)
    approx_i, approx_d = graphs.euclidean_knn(X, 10, approximate_above=1000, n_jobs=1)
    again_i, _ = graphs.euclidean_knn(X, 10, approximate_above=1000, n_jobs=1)
    two_i, _ = graphs.euclidean_knn(X, 10, approximate_above=1000, n_jobs=2)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_i, approx_i)])
    assert recall > 0.95
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_i, two_i)]) > 0.95
    assert np.all(np.diff(approx_d, axis=1) >= -1e-6) and not np.any(
        approx_i == np.arange(2000)[:, None]
    )
    np.testing.assert_array_equal(approx_i, again_i)
