"""Unit tests of the single-cell engine: inputs, preprocessing, graphs, metrics, autoencoders."""

from __future__ import annotations

import itertools

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from genomelearn.errors import InputError
from genomelearn.models.autoencoder import (
    Autoencoder,
    MultimodalAutoencoder,
    masked_reconstruction_loss,
)
from genomelearn.singlecell import embed, graphs, metrics
from genomelearn.singlecell.io import load_dataset, match_cells, read_omic
from genomelearn.singlecell.preprocess import omic_settings, preprocess_omic
from genomelearn.training import TrainConfig


# ----------------------------------------------------------------------------------- fixtures
def _clusters(n_per=20, n_features=30, n_clusters=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(n_clusters, n_features))
    labels = np.repeat(np.arange(n_clusters), n_per)
    X = centres[labels] + rng.normal(0, 1, size=(labels.size, n_features))
    return X.astype(np.float32), labels.astype(str)


def _write_features_x_cells(path, X, cells, features, na_rate=0.0, seed=0):
    frame = pd.DataFrame(X.T, index=features, columns=cells)
    if na_rate:
        rng = np.random.default_rng(seed)
        frame = frame.mask(rng.random(frame.shape) < na_rate)
    frame.to_csv(path, na_rep="NA")
    return frame


# ---------------------------------------------------------------------------------------- io
def test_read_csv_features_x_cells_keeps_missing_values(tmp_path):
    X = np.arange(12, dtype=float).reshape(4, 3)
    path = tmp_path / "m.csv.gz"
    frame = _write_features_x_cells(path, X, ["c1", "c2", "c3", "c4"], ["f1", "f2", "f3"])
    frame.iloc[1, 2] = np.nan
    frame.to_csv(path, na_rep="NA")
    adata = read_omic(path, orientation="features_x_cells")
    assert list(adata.obs_names) == ["c1", "c2", "c3", "c4"] and list(adata.var_names) == [
        "f1",
        "f2",
        "f3",
    ]
    assert adata.X.dtype == np.float32 and np.isnan(adata.X[2, 1]) and adata.X[3, 2] == 11


def test_read_csv_non_numeric_names_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(",c1,c2\nf1,1,2\nf2,3,oops\n")
    with pytest.raises(
        InputError, match=r"bad.csv line 3 \(feature f2\), column c2: non-numeric value 'oops'"
    ):
        read_omic(path, orientation="features_x_cells", where="dataset d omic rna")


def test_read_duplicated_cells_and_all_missing_feature(tmp_path):
    dup = tmp_path / "dup.csv"
    dup.write_text(",c1,c1\nf1,1,2\n")
    with pytest.raises(
        InputError, match=r"dataset d omic rna file .*dup.csv: duplicated cell ID\(s\): c1"
    ):
        read_omic(dup, orientation="features_x_cells", where="dataset d omic rna")
    empty = tmp_path / "empty_feature.csv"
    empty.write_text(",c1,c2\nf1,1,2\nf2,NA,NA\n")
    with pytest.raises(InputError, match=r"1 feature\(s\) missing in every cell: f2"):
        read_omic(empty, orientation="features_x_cells")


def test_npy_needs_matching_metadata(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((3, 2)))
    adata = read_omic(tmp_path / "x.npy", cell_ids=pd.Index(["a", "b", "c"]))
    assert list(adata.obs_names) == ["a", "b", "c"] and adata.shape == (3, 2)
    with pytest.raises(InputError, match="3 rows \\(cells\\) but the metadata table lists 2"):
        read_omic(tmp_path / "x.npy", cell_ids=pd.Index(["a", "b"]))


def test_match_cells_strict_lists_unmatched_ids_and_intersect_drops_them():
    a = ad.AnnData(np.ones((3, 1), np.float32), obs=pd.DataFrame(index=["c1", "c2", "c3"]))
    b = ad.AnnData(np.ones((3, 1), np.float32), obs=pd.DataFrame(index=["c3", "c1", "c9"]))
    with pytest.raises(
        InputError, match=r"dataset x: cell IDs differ.*rna: 1 \(c2\); met: 1 \(c9\)"
    ):
        match_cells({"rna": a, "met": b}, "strict", "dataset x")
    aligned, dropped = match_cells({"rna": a, "met": b}, "intersect", "dataset x")
    assert list(aligned["rna"].obs_names) == ["c1", "c3"] == list(aligned["met"].obs_names)
    assert dropped == {"rna": ["c2"], "met": ["c9"]}


def test_load_dataset_labels_from_table_and_absent_column(tmp_path):
    X, _ = _clusters(n_per=3, n_features=4)
    cells = [f"c{i}" for i in range(X.shape[0])]
    _write_features_x_cells(tmp_path / "rna.csv", X, cells, [f"g{i}" for i in range(4)])
    pd.DataFrame({"id": cells, "kind": ["a"] * 5 + ["b"] * 4}).to_csv(
        tmp_path / "meta.csv", index=False
    )
    spec = {
        "omics": {"rna": {"path": str(tmp_path / "rna.csv"), "orientation": "features_x_cells"}},
        "labels": {"path": str(tmp_path / "meta.csv"), "column": "kind"},
    }
    ds = load_dataset("d", spec)
    assert ds.labels.tolist() == ["a"] * 5 + ["b"] * 4
    spec["labels"]["column"] = "celltype"
    with pytest.raises(
        InputError,
        match=r"dataset d: labels column 'celltype' not found in .*meta.csv \(columns: id, kind\)",
    ):
        load_dataset("d", spec)


# -------------------------------------------------------------------------------- preprocess
def test_counts_preprocessing_keeps_sparse_and_selects_hvg():
    rng = np.random.default_rng(0)
    dense = rng.poisson(rng.gamma(0.5, 2.0, size=40), size=(50, 40)).astype(np.float32)
    dense[:, 1] += 1  # no empty cell
    adata = ad.AnnData(sp.csr_matrix(dense))
    settings = omic_settings({"values": "counts", "n_top_genes": 10})
    out = preprocess_omic(adata, settings)
    assert (
        sp.issparse(out.X) and 10 <= out.n_vars <= 12 and out.X.dtype == np.float32
    )  # ties may add one
    expected = np.log1p(dense / dense.sum(1, keepdims=True) * 1e4)[:, out.var_names.astype(int)]
    np.testing.assert_allclose(out.X.toarray(), expected, rtol=1e-4)
    assert out.uns["singlecell_omic"]["metric"] == "euclidean"


def test_counts_with_negative_values_and_bernoulli_range_are_errors():
    with pytest.raises(InputError, match="negative values"):
        preprocess_omic(
            ad.AnnData(np.array([[1, -1], [2, 3]], np.float32)),
            omic_settings({"values": "counts"}),
            "d rna",
        )
    with pytest.raises(InputError, match=r"bernoulli needs values in \[0, 1\]"):
        preprocess_omic(
            ad.AnnData(np.array([[0.5, 2.0], [0, 1]], np.float32)),
            omic_settings({"type": "methylation"}),
            "d met",
        )


# ------------------------------------------------------------------------------------ graphs
def _brute_hamming(X, thr):
    n = X.shape[0]
    D = np.full((n, n), np.inf)
    for i, j in itertools.product(range(n), range(n)):
        both = ~np.isnan(X[i]) & ~np.isnan(X[j])
        if both.any():
            D[i, j] = np.mean((X[i, both] > thr) != (X[j, both] > thr))
    return D


def test_masked_hamming_matches_brute_force_for_any_block_size():
    rng = np.random.default_rng(3)
    X = rng.random((23, 40)).round(2)
    X[rng.random(X.shape) < 0.6] = np.nan
    X[5, :] = np.nan
    X[5, 0] = 1.0  # a cell observed at one feature only
    expected = _brute_hamming(X, 0.5)
    for block in (1, 7, 64):
        np.testing.assert_allclose(graphs.hamming_distances(X, 0.5, block_size=block), expected)
    idx, dist = graphs.hamming_knn(X, k=4, threshold=0.5, block_size=5)
    for i in range(23):
        row = expected[i].copy()
        row[i] = np.inf
        order = np.argsort(row, kind="stable")[:4]
        finite = np.isfinite(row[order])
        assert np.array_equal(idx[i][finite], order[finite]) and np.all(idx[i][~finite] == -1)


def test_sparse_hamming_equals_dense_without_missing_values():
    rng = np.random.default_rng(1)
    X = (rng.random((15, 30)) < 0.3) * rng.integers(1, 5, (15, 30))
    dense = graphs.hamming_distances(X.astype(float), 0.0)
    sparse = graphs.hamming_distances(sp.csr_matrix(X.astype(np.float32)), 0.0, block_size=4)
    np.testing.assert_allclose(dense, sparse)


def test_euclidean_knn_excludes_self_even_with_duplicates():
    X = np.array([[0, 0], [0, 0], [1, 0], [5, 5], [5, 6]], np.float32)
    idx, dist = graphs.euclidean_knn(X, k=2)
    assert all(i not in row for i, row in enumerate(idx))
    assert idx[0, 0] == 1 and dist[0, 0] == 0


def test_euclidean_knn_threads_give_the_same_exact_neighbours():
    X = np.random.default_rng(3).normal(size=(3000, 10)).astype(np.float32)
    one, two = graphs.euclidean_knn(X, 15), graphs.euclidean_knn(X, 15, n_jobs=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_consensus_graph_strict_and_at_least_m():
    def g(edges, n=4):
        rows, cols = zip(*edges)
        m = sp.coo_matrix((np.full(len(edges), 0.5), (rows, cols)), shape=(n, n)).tocsr()
        return m.maximum(m.T)

    a, b, c = g([(0, 1), (1, 2), (2, 3)]), g([(0, 1), (1, 2)]), g([(0, 1), (0, 3)])
    strict, support = graphs.consensus_graph([a, b, c])
    assert graphs.n_edges(strict) == 1 and strict[0, 1] == pytest.approx(0.5)
    two, support = graphs.consensus_graph([a, b, c], min_omics=2)
    assert graphs.n_edges(two) == 2 and support[1, 2] == 2
    with pytest.raises(ValueError):
        graphs.consensus_graph([a, b], min_omics=3)


def test_graph_topk_neighbors_by_weight():
    W = sp.csr_matrix(
        np.array([[0, 0.2, 0.9, 0.5], [0.2, 0, 0, 0], [0.9, 0, 0, 0], [0.5, 0, 0, 0]])
    )
    top = graphs.graph_topk_neighbors(W, 2)
    assert top[0].tolist() == [2, 3] and top[1].tolist() == [0, -1]


def test_choose_consensus_widens_k_until_cells_are_connected():
    X, _ = _clusters(n_per=15, n_features=8, seed=2)
    Y = X + np.random.default_rng(5).normal(0, 3, X.shape).astype(np.float32)
    knn = [graphs.euclidean_knn(M, 40) for M in (X, Y)]
    k, consensus, omic_graphs = graphs.choose_consensus(knn, [3, 10, 40], max_isolated=0.0)
    assert k in (10, 40) and (np.diff(consensus.indptr) > 0).all()
    assert graphs.n_edges(consensus) <= min(graphs.n_edges(g) for g in omic_graphs)


# ----------------------------------------------------------------------------------- metrics
def test_knn_preservation_and_agreement():
    ref = np.array([[1, 2], [0, 2], [0, -1]])
    cand = np.array([[2, 3], [0, 2], [1, 3]])
    np.testing.assert_allclose(metrics.knn_preservation(ref, cand), [0.5, 1.0, 0.0])
    labels = np.array(["a", "a", "b", "b", np.nan], dtype=object)
    agree = metrics.clustering_agreement(labels, np.array(["1", "1", "0", "0", "5"]))
    assert agree["ari"] == pytest.approx(1.0) and agree["nmi"] == pytest.approx(1.0)


def test_silhouette_in_embedding_and_on_graph():
    X, labels = _clusters(n_per=10, n_features=5)
    assert metrics.silhouette(labels, embedding=X) > 0.5
    idx, dist = graphs.euclidean_knn(X, 5)
    g = graphs.knn_connectivities(idx, dist)
    assert metrics.silhouette(labels, graph=g) > 0.3
    assert np.isnan(metrics.silhouette(np.array(["a"] * 30, dtype=object), embedding=X))


# ------------------------------------------------------------------------------------ models
def test_autoencoder_is_8_linear_layers_and_masked_loss_ignores_missing():
    model = Autoencoder(12, hidden=(8, 6, 4), bottleneck=2)
    assert sum(isinstance(m, torch.nn.Linear) for m in model.modules()) == 8
    x = torch.rand(5, 12)
    mask = (torch.rand(5, 12) > 0.5).float()
    assert model.encode(x, mask).shape == (5, 2) and model(x, mask).shape == (5, 12)
    out = torch.zeros(5, 12)
    x2 = x.clone()
    x2[mask == 0] = 123.0
    assert masked_reconstruction_loss(out, x, mask, "gaussian") == pytest.approx(
        float(masked_reconstruction_loss(out, x2, mask, "gaussian"))
    )
    torch.manual_seed(0)
    bern = Autoencoder(12, hidden=(8,), bottleneck=2, likelihood="bernoulli")
    b = (torch.rand(5, 12) > 0.5).float()
    assert torch.isfinite(bern.loss(b * mask, mask))


def test_multimodal_autoencoder_shapes():
    model = MultimodalAutoencoder([6, 4], ["gaussian", "bernoulli"], hidden=(8, 5), bottleneck=3)
    xs = [torch.rand(7, 6), torch.ones(7, 6), (torch.rand(7, 4) > 0.5).float(), torch.ones(7, 4)]
    assert model.encode(*xs).shape == (7, 3)
    recon = model(*xs)
    assert [r.shape for r in recon] == [(7, 6), (7, 4)]
    with pytest.raises(ValueError):
        model.encode(*xs[:2])


# ------------------------------------------------------------------------------------- embed
def test_omics_source_slices_sparse_rows_and_masks_nan():
    S = sp.random(30, 8, density=0.3, format="csr", random_state=0, dtype=np.float32)
    D = np.random.default_rng(0).random((30, 3)).astype(np.float32)
    D[2, 1] = np.nan
    src = embed.OmicsSource([S, D], rows=np.arange(10, 30))
    assert len(src) == 20 and src.n_inputs == 3 and sp.issparse(src.matrices[0])
    x, d, m = src.get(np.array([0, 5]))
    np.testing.assert_allclose(x.numpy(), S[[10, 15]].toarray())
    full = embed.OmicsSource([S, D])
    _, d2, m2 = full.get(np.array([2]))
    assert m2[0, 1] == 0 and d2[0, 1] == 0 and m2.sum() == 2


def test_pca_sparse_equals_dense_up_to_sign():
    S = sp.random(60, 20, density=0.4, format="csr", random_state=1, dtype=np.float32)
    a, ra = embed.pca_embedding(S, 3)
    b, rb = embed.pca_embedding(S.toarray(), 3)
    np.testing.assert_allclose(np.abs(a), np.abs(b), atol=1e-4)
    np.testing.assert_allclose(ra, rb, atol=1e-5)


def test_autoencoder_training_is_deterministic_and_separates_clusters(tmp_path):
    X, labels = _clusters(n_per=25, n_features=20)
    settings = embed.AutoencoderSettings(hidden=[16, 8], bottleneck=2, dropout=0.0)
    train = TrainConfig(max_epochs=25, batch_size=16, patience=25, device="cpu")
    m1, e1, r1 = embed.train_autoencoder(sp.csr_matrix(X - X.min()), "gaussian", settings, train)
    m2, e2, r2 = embed.train_autoencoder(sp.csr_matrix(X - X.min()), "gaussian", settings, train)
    np.testing.assert_array_equal(e1, e2)
    assert r1.history["val_loss"].iloc[-1] < r1.history["val_loss"].iloc[0]
    assert metrics.silhouette(labels, embedding=e1) > 0.3
    mm, ej, rj = embed.train_multimodal_autoencoder(
        [X, (X > 0).astype(np.float32)],
        ["gaussian", "bernoulli"],
        settings,
        train,
        checkpoint_dir=tmp_path / "ck",
    )
    assert ej.shape == (75, 2) and (tmp_path / "ck" / "last.pt").exists()


def test_leiden_and_umap_are_reproducible():
    X, labels = _clusters(n_per=15, n_features=6, seed=4)
    idx, dist = graphs.euclidean_knn(X, 10)
    g = graphs.knn_connectivities(idx, dist, seed=0)
    c1, c2 = embed.leiden_clusters(g, 1.0, 0), embed.leiden_clusters(g, 1.0, 0)
    assert np.array_equal(c1, c2) and metrics.clustering_agreement(labels, c1)["ari"] > 0.9
    u1, u2 = embed.umap_layout(g, X, seed=0), embed.umap_layout(g, X, seed=0)
    assert u1.shape == (45, 2) and np.array_equal(u1, u2)


def test_overlapped_leiden_gives_the_sequential_outputs():
    """Leiden in a second process beside the layout: same graph, clusters and layout as in sequence."""
    X, labels = _clusters(n_per=40, n_features=6, seed=5)
    X = X.astype(np.float32)
    timings = {}
    seq = graphs.neighbors_leiden_umap(X, 10, seed=0, overlap_leiden=False)
    par = graphs.neighbors_leiden_umap(X, 10, seed=0, overlap_leiden=True, timings=timings)
    assert (seq[0] != par[0]).nnz == 0
    assert np.array_equal(seq[1], par[1]) and np.array_equal(seq[2], par[2])
    assert metrics.clustering_agreement(labels, par[1])["ari"] > 0.8
    assert timings["leiden_umap_s"] >= max(timings["leiden_s"], timings["umap_s"]) > 0
    # Only the large-data path (approximate kNN) with ≥ 2 threads overlaps by default.
    small = {}
    graphs.neighbors_leiden_umap(X, 10, seed=0, n_jobs=2, timings=small)
    assert "leiden_umap_s" not in small


def test_failed_overlapped_leiden_process_raises_with_its_stderr(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; sys.stderr.write('igraph: out of memory'); sys.exit(3)",
        ],
        stderr=open(tmp_path / "stderr.txt", "w"),
    )
    with pytest.raises(RuntimeError, match="exited with 3:\n.*out of memory"):
        graphs._finish_leiden_process(proc, tmp_path)


def test_workflow_support_methods_and_targets():
    from pathlib import Path

    from snakemake.utils import validate

    from genomelearn.singlecell import workflow_support as ws

    sc = {
        "n_components": 7,
        "n_seeds": 2,
        "autoencoder": {"hidden": [8], "training": {"max_epochs": 2}},
        "datasets": {
            "one": {"omics": {"rna": {"path": "a.h5ad"}}},
            "two": {
                "metadata": {"path": "m.tsv"},
                "omics": {"rna": {"path": "r.npy"}, "atac": {"path": "a.npy"}},
            },
        },
    }
    validate(
        sc,
        str(Path(__file__).resolve().parents[2] / "config" / "schemas" / "singlecell.schema.yaml"),
    )  # fills defaults
    one = ws.methods(sc, "one")
    assert [m["name"] for m in one] == ["pca", "ae", "graph_rna", "scanpy", "scvi", "mofa", "wnn"]
    assert one[1]["embedding"] == {
        "0": "results/singlecell/one/omics/rna/ae/seed0/ae.parquet",
        "1": "results/singlecell/one/omics/rna/ae/seed1/ae.parquet",
    }
    reasons = {m["name"]: m.get("unavailable", "") for m in one}
    assert (
        "no raw counts" in reasons["scvi"]
        and "one omic" in reasons["mofa"]
        and reasons["scanpy"] == ""
    )
    two = [m["name"] for m in ws.methods(sc, "two")]
    assert two[-8:] == [
        "graph_consensus",
        "graph_consensus_k15",
        "pca",
        "ae",
        "scanpy",
        "scvi",
        "mofa",
        "wnn",
    ]
    assert ws.autoencoder_settings(sc, "autoencoder")["bottleneck"] == 7
    assert ws.training_overrides(sc, "autoencoder") == {"max_epochs": 2}
    assert ws.settings(sc)["n_neighbors"] == 15 and ws.settings(sc)["seeds"] == [0, 1]
    assert ws.omic_files(sc, "two", "atac", lambda p, u: "/x/" + p) == ["/x/a.npy", "/x/m.tsv"]
    assert "results/singlecell/two/joint/ae/seed1/ae_history.tsv" in ws.histories(sc)
    assert len(ws.targets(sc)) == 2 * 3 + 5
