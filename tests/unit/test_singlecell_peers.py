"""Count autoencoder, scanpy-equivalent graphs, resolution search, scIB metrics, intervals, peers."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from scipy import stats

from genomelearn.models.autoencoder import CountAutoencoder, negative_binomial_nll
from genomelearn.singlecell import embed, graphs, metrics, peers, pipeline
from genomelearn.singlecell.preprocess import omic_settings, preprocess_omic
from genomelearn.training import TrainConfig


def _nb_counts(n_per=60, n_genes=80, n_types=3, seed=0):
    """Simulated negative-binomial UMI counts: 3 cell types, gene programmes, varying library sizes."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_types), n_per)
    shares = rng.gamma(0.5, 1.0, size=(n_types, n_genes))
    shares[:, : n_genes // 4] *= rng.choice([0.05, 20.0], size=(n_types, n_genes // 4))
    shares /= shares.sum(axis=1, keepdims=True)
    library = rng.lognormal(np.log(2000), 0.4, size=labels.size)
    mean = shares[labels] * library[:, None]
    theta = 5.0
    counts = rng.negative_binomial(theta, theta / (theta + mean)).astype(np.float32)
    counts[:, 0] += 1
    return counts, labels.astype(str)


def test_negative_binomial_nll_matches_scipy_and_zinb_reduces_to_nb():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 30, size=(4, 6)).astype(np.float32)
    mu = rng.uniform(0.5, 20, size=(4, 6)).astype(np.float32)
    theta = rng.uniform(0.5, 8, size=6).astype(np.float32)
    got = negative_binomial_nll(torch.tensor(x), torch.tensor(mu), torch.tensor(theta)).numpy()
    want = -stats.nbinom.logpmf(x, theta, theta / (theta + mu))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    never = torch.full((4, 6), -30.0)  # zero-inflation probability ~ 0
    zinb = negative_binomial_nll(
        torch.tensor(x), torch.tensor(mu), torch.tensor(theta), never
    ).numpy()
    np.testing.assert_allclose(zinb, want, rtol=1e-4, atol=1e-4)
    pi = 0.3  # P(0) = pi + (1 - pi) NB(0)
    half = torch.full((4, 6), float(np.log(pi / (1 - pi))))
    zero = negative_binomial_nll(
        torch.zeros(4, 6), torch.tensor(mu), torch.tensor(theta), half
    ).numpy()
    np.testing.assert_allclose(
        zero, -np.log(pi + (1 - pi) * stats.nbinom.pmf(0, theta, theta / (theta + mu))), rtol=1e-4
    )


def test_count_preprocessing_keeps_raw_counts_and_defaults_to_nb():
    counts, _ = _nb_counts(n_per=10, n_genes=40)
    settings = omic_settings({"values": "counts", "n_top_genes": 20})
    assert settings["likelihood"] == "nb"
    out = preprocess_omic(ad.AnnData(sp.csr_matrix(counts)), settings)
    kept = out.var_names.astype(int)
    np.testing.assert_array_equal(out.layers["counts"].toarray(), counts[:, kept])
    with pytest.raises(Exception, match="needs raw counts"):
        omic_settings({"values": "normalized", "likelihood": "nb"})


def test_count_autoencoder_learns_cell_types_and_is_deterministic():
    counts, labels = _nb_counts()
    X = np.log1p(counts / counts.sum(1, keepdims=True) * 1e4).astype(np.float32)
    settings = embed.AutoencoderSettings(hidden=[32], bottleneck=4, dropout=0.0)
    train = TrainConfig(
        max_epochs=40, batch_size=32, patience=40, device="cpu", learning_rate=3e-3
    )
    m1, e1, r1 = embed.train_autoencoder(X, "nb", settings, train, counts=counts)
    _, e2, _ = embed.train_autoencoder(X, "nb", settings, train, counts=counts)
    assert isinstance(m1, CountAutoencoder) and e1.shape == (180, 4)
    np.testing.assert_array_equal(e1, e2)
    assert r1.history["val_loss"].iloc[-1] < r1.history["val_loss"].iloc[0]
    assert metrics.silhouette(labels, embedding=e1) > 0.3
    with pytest.raises(ValueError, match="needs raw counts"):
        embed.train_autoencoder(X, "zinb", settings, train)


def test_project_graph_equals_scanpy_neighbors_at_the_same_k():
    import scanpy as sc

    rng = np.random.default_rng(2)
    E = rng.normal(size=(150, 6)).astype(np.float32)
    holder = ad.AnnData(obs=pd.DataFrame(index=[str(i) for i in range(150)]))
    holder.obsm["E"] = E
    sc.pp.neighbors(holder, n_neighbors=15, use_rep="E", random_state=0)
    idx, dist = pipeline.embedding_neighbours(E, 15)
    ours = graphs.knn_connectivities(idx, dist, 0)
    assert idx.shape == (150, 14)  # k counts the cell itself, as scanpy
    theirs = sp.csr_matrix(holder.obsp["connectivities"])
    assert (ours != 0).toarray().tolist() == (theirs != 0).toarray().tolist()  # the same edges
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), atol=1e-5)  # float32 distances


def test_resolution_search_picks_the_best_nmi_and_graph_metrics_are_defined():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.array(["a", "b", "c", "d"], dtype=object), 40)
    centres = rng.normal(0, 5, size=(4, 5))
    E = (centres[pd.Categorical(labels).codes] + rng.normal(size=(160, 5))).astype(np.float32)
    ref = {"rna": graphs.euclidean_knn(E, 14)[0]}
    row, _, graph = pipeline.evaluate_seed(
        "pca", ["rna"], labels, ref, 0, 15, [0.05, 0.5, 1.0, 3.0], embedding=E
    )
    nmis = [
        metrics.clustering_agreement(labels, embed.leiden_clusters(graph, r, 0))["nmi"]
        for r in (0.05, 0.5, 1.0, 3.0)
    ]
    assert row["nmi"] == pytest.approx(max(nmis)) and row["resolution"] in (0.05, 0.5, 1.0, 3.0)
    for key in ("silhouette_label", "isolated_labels", "clisi"):
        assert 0.5 < row[key] <= 1.0
    assert row["scib_bio"] == pytest.approx(np.mean([row[k] for k in pipeline.SCIB_BIO]))
    grow, _, _ = pipeline.evaluate_seed("g", ["rna"], labels, ref, 0, 15, [0.5, 1.0], graph=graph)
    assert grow["kind"] == "graph" and np.isfinite([grow[k] for k in pipeline.SCIB_BIO]).all()


def test_best_resolution_on_the_grid_edge_is_flagged_per_seed_and_in_the_ranking():
    assert pipeline.resolution_edge(0.02, [0.5, 0.02, 2.0]) == "low"
    assert pipeline.resolution_edge(2.0, [0.5, 0.02, 2.0]) == "high"
    assert pipeline.resolution_edge(0.5, [0.5, 0.02, 2.0]) == ""
    assert pipeline.resolution_edge(1.0, [1.0]) == ""  # no search, no edge
    rng = np.random.default_rng(5)
    labels = np.repeat(np.array(["a", "b"], dtype=object), 60)
    E = np.concatenate([rng.normal(0, 1, (60, 4)), rng.normal(12, 1, (60, 4))]).astype(np.float32)
    ref = {"rna": graphs.euclidean_knn(E, 14)[0]}
    # two well-separated populations: the coarsest resolution of a high grid wins -> low edge
    row, _, _ = pipeline.evaluate_seed("pca", ["rna"], labels, ref, 0, 15, [1.0, 3.0, 6.0], E)
    assert row["resolution"] == 1.0 and row["resolution_edge"] == "low"
    per_seed = pd.DataFrame(
        {
            "dataset": "d",
            "method": ["pca"] * 3 + ["ae"] * 3,
            "seed": [0, 1, 2] * 2,
            "resolution": [0.02, 0.02, 0.5, 0.5, 0.3, 2.0],
            "resolution_edge": ["low", "low", "", "", "", "high"],
        }
    )
    flags = pipeline.resolution_edge_flags(per_seed).set_index("method")["resolution_at_edge"]
    assert flags["pca"] == "low (0.02): 2/3 seeds" and flags["ae"] == "high (2): 1/3 seeds"
    metrics_table = pd.DataFrame(
        {
            "dataset": "d",
            "method": ["pca", "ae"],
            "scib_bio_mean": [0.5, 0.6],
            "resolution_at_edge": [flags["pca"], ""],
            "status": "ok",
        }
    )
    ranking = pipeline.ranking_table(metrics_table).set_index("method")
    assert ranking.loc["pca", "resolution_at_edge"] == "low (0.02): 2/3 seeds"


def test_interval_table_and_paired_verdict():
    seeds = pd.DataFrame(
        {
            "dataset": "d",
            "method": ["ae"] * 5 + ["pca"] * 5,
            "seed": list(range(5)) * 2,
            "scib_bio": [0.60, 0.62, 0.61, 0.63, 0.64, 0.50, 0.52, 0.51, 0.53, 0.54],
            "ari": [0.1, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2],
            "nmi": 0.5,
        }
    )
    table = pipeline.interval_table(seeds, columns=("scib_bio",)).set_index("method")
    v = np.array([0.60, 0.62, 0.61, 0.63, 0.64])
    half = stats.t.ppf(0.975, 4) * v.std(ddof=1) / np.sqrt(5)
    assert table.loc["ae", "scib_bio_mean"] == pytest.approx(v.mean())
    assert table.loc["ae", "scib_bio_ci_high"] == pytest.approx(v.mean() + half)
    verdict = pipeline.verdict_table(seeds, baselines=("pca",)).set_index("metric")
    assert verdict.loc["scib_bio", "verdict"] == "better" and verdict.loc[
        "scib_bio", "difference"
    ] == pytest.approx(0.1)
    assert verdict.loc["ari", "verdict"] == "no clear difference"
    assert verdict.loc["scib_bio", "statement"].startswith("d: ae beats pca on scib_bio (0.620 vs")
    assert "is not separated from pca on ari" in verdict.loc["ari", "statement"]


def test_peer_availability_reasons():
    counts = omic_settings({"values": "counts"})
    normed = omic_settings({})
    met = omic_settings({"type": "methylation"})
    assert peers.availability("scanpy", {"rna": normed}) == ""
    assert "no raw counts" in peers.availability("scvi", {"rna": normed})
    assert peers.availability("scvi", {"rna": counts}) == ""
    assert "one omic" in peers.availability("mofa", {"rna": counts})
    assert "multi-omics" in peers.availability("scvi", {"rna": counts, "met": met})
    assert "switched off" in peers.availability("wnn", {"rna": normed, "met": met}, enabled=False)
    # the dataset's own reason comes before the switch
    assert "no raw counts" in peers.availability("scvi", {"rna": normed}, enabled=False)
    assert "switched off" in peers.availability("scvi", {"rna": counts}, enabled=False)


def test_scanpy_peer_is_scale_then_pca(tmp_path):
    import scanpy as sc

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 12)).astype(np.float32) * rng.uniform(0.1, 5, size=12).astype(
        np.float32
    )
    ad.AnnData(X, obs=pd.DataFrame(index=[f"c{i}" for i in range(60)])).write_h5ad(
        tmp_path / "a.h5ad"
    )
    cells, emb = peers.scanpy_embedding({"rna": str(tmp_path / "a.h5ad")}, n_comps=5)
    ref = ad.AnnData(X.copy())
    sc.pp.scale(ref, max_value=10)
    sc.tl.pca(ref, n_comps=5, svd_solver="arpack", random_state=0)
    assert list(cells) == [f"c{i}" for i in range(60)]
    np.testing.assert_allclose(np.abs(emb), np.abs(ref.obsm["X_pca"]), atol=1e-4)
