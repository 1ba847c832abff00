"""Unit tests of the bulk deconvolution engine (genomelearn.deconvolution)."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from genomelearn.deconvolution import (
    agreement_table,
    bootstrap_proportions,
    deconvolve,
    deconvolve_arrays,
    depth_robustness,
    normalize_bulk,
    proportions_with_intervals,
    read_bulk_counts,
    read_markers,
    read_matrix,
    read_measured,
    read_signature,
    solve_batched_qp,
    spearman_test,
    summarize_depth_curve,
    thin_counts,
)
from genomelearn.deconvolution.agreement import correlation_intervals, pearson_test, prho
from genomelearn.deconvolution.core import design_matrices
from genomelearn.errors import InputError


# ----------------------------------------------------------------------------- helpers


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def simplex_slsqp(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    k = A.shape[1]
    res = optimize.minimize(
        lambda x: 0.5 * np.sum((A @ x - b) ** 2),
        np.full(k, 1.0 / k),
        jac=lambda x: A.T @ (A @ x - b),
        method="SLSQP",
        bounds=[(0, None)] * k,
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1, "jac": lambda x: np.ones(k)}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return res.x


def synthetic_mixture(rng, n_genes=60, n_types=3, n_samples=12, noise=0.0):
    S = rng.gamma(0.6, 20.0, size=(n_genes, n_types))
    P = rng.dirichlet(np.ones(n_types), size=n_samples)
    X = S @ P.T
    if noise:
        X = X * np.exp(rng.normal(0, noise, X.shape))
    genes = [f"g{i}" for i in range(n_genes)]
    sig = pd.DataFrame(S, index=genes, columns=[f"type{j}" for j in range(n_types)])
    bulk = pd.DataFrame(X, index=genes, columns=[f"s{i}" for i in range(n_samples)])
    return sig, bulk, P


# ----------------------------------------------------------------------------- tables


def test_read_matrix_accepts_r_layout_and_named_first_column(tmp_path):
    r_layout = write(tmp_path / "r.txt", "A\tB\ng1\t1\t2\ng2\t3\t4\n")
    named = write(tmp_path / "n.tsv", "gene\tA\tB\ng1\t1\t2\ng2\t3\t4\n")
    csv = write(tmp_path / "c.csv", "gene,A,B\ng1,1,2\ng2,3,4\n")
    for path in (r_layout, named, csv):
        m = read_matrix(path)
        assert list(m.columns) == ["A", "B"] and list(m.index) == ["g1", "g2"]
        assert m.to_numpy().tolist() == [[1, 2], [3, 4]]


def test_sample_ids_stay_strings(tmp_path):
    m = read_matrix(write(tmp_path / "m.txt", "ID\tfrac\n2015021\t0.3\n007\t0.2\n"))
    assert list(m.index) == ["2015021", "007"]


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("A\tB\ng1\t1\t2\ng1\t3\t4\n", r"lines 2, 3: duplicate row name 'g1'"),
        ("A\tA\ng1\t1\t2\n", r"line 1: duplicate column name 'A'"),
        ("A\tB\ng1\t1\tx\n", r"line 2, column 'B' \(row 'g1'\): non-numeric value 'x'"),
        ("A\tB\ng1\t1\t2\ng2\t\t4\n", r"line 3, column 'A' \(row 'g2'\): empty cell"),
        ("A\tB\ng1\t1\t2\ng2\t3\n", r"line 3: 2 fields, expected 3"),
        ("A\tB\n", r"needs a header line and at least one data line"),
    ],
)
def test_read_matrix_errors_name_file_and_record(tmp_path, text, pattern):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(InputError, match=pattern) as info:
        read_matrix(path)
    assert "bad.txt" in str(info.value)


def test_bulk_rejects_negative_counts_and_empty_samples(tmp_path):
    with pytest.raises(InputError, match=r"line 3, column 'B' \(gene 'g2'\): negative value -4"):
        read_bulk_counts(write(tmp_path / "neg.txt", "A\tB\ng1\t1\t2\ng2\t3\t-4\n"))
    with pytest.raises(InputError, match=r"sample\(s\) 'B' \(column 3\) have no counts"):
        read_bulk_counts(write(tmp_path / "zero.txt", "A\tB\ng1\t1\t0\ng2\t3\t0\n"))
    with pytest.raises(InputError, match="not found"):
        read_bulk_counts(tmp_path / "missing.txt")


def test_signature_checks(tmp_path):
    with pytest.raises(InputError, match="more genes than cell types"):
        read_signature(write(tmp_path / "s1.txt", "A\tB\ng1\t1\t2\ng2\t3\t4\n"))
    with pytest.raises(InputError, match="constant over genes"):
        read_signature(write(tmp_path / "s2.txt", "A\tB\ng1\t1\t2\ng2\t1\t4\ng3\t1\t5\n"))


def test_read_measured_mapping_and_range(tmp_path):
    path = write(tmp_path / "m.txt", "ID\tTRUE_I\n1\t0.3\n2\t0.5\n")
    m = read_measured(path, {"TRUE_I": "typeI"}, ["typeI", "typeII"])
    assert list(m.columns) == ["typeI"] and m.loc["2", "typeI"] == 0.5
    with pytest.raises(InputError, match="column\\(s\\) NOPE not in the header"):
        read_measured(path, {"NOPE": "typeI"}, ["typeI"])
    with pytest.raises(InputError, match="unknown cell type"):
        read_measured(path, {"TRUE_I": "typeIII"}, ["typeI"])
    with pytest.raises(InputError, match="no column named like a cell type"):
        read_measured(path, None, ["typeI"])
    pct = write(tmp_path / "p.txt", "ID\ttypeI\n1\t30\n")
    with pytest.raises(InputError, match=r"line 2, sample '1': fraction 30 outside \[0, 1\]"):
        read_measured(pct, None, ["typeI"])


def test_read_markers(tmp_path):
    good = write(tmp_path / "mk.tsv", "cluster\tgene\nA\tg1\nA\tg2\nB\tg3\n")
    assert read_markers(good) == {"A": ["g1", "g2"], "B": ["g3"]}
    dup = write(tmp_path / "dup.tsv", "cluster\tgene\nA\tg1\nA\tg1\n")
    with pytest.raises(InputError, match="line 3: gene 'g1' listed twice"):
        read_markers(dup)


# ----------------------------------------------------------------------------- solvers


@pytest.mark.parametrize("k", [2, 3, 5])
def test_batched_qp_matches_scipy_nnls_and_slsqp(k):
    rng = np.random.default_rng(k)
    A = rng.gamma(1.0, 1.0, size=(25, k))
    B = rng.gamma(1.0, 1.0, size=(25, 40)) - 0.3
    G, c = A.T @ A, (A.T @ B).T
    nn = solve_batched_qp(G, c, sum_to_one=False)
    ref = np.array([optimize.nnls(A, b)[0] for b in B.T])
    np.testing.assert_allclose(nn.x, ref, atol=1e-10)
    sx = solve_batched_qp(G, c, sum_to_one=True)
    assert sx.converged.all() and np.all(sx.x >= 0)
    np.testing.assert_allclose(sx.x.sum(axis=1), 1.0, atol=1e-12)
    ref2 = np.array([simplex_slsqp(A, b) for b in B.T])
    obj = lambda X: 0.5 * ((A @ X.T - B) ** 2).sum(axis=0)  # noqa: E731
    # exact active set: never worse than SLSQP, and the same point up to SLSQP's tolerance
    assert np.all(obj(sx.x) <= obj(ref2) + 1e-9)
    np.testing.assert_allclose(sx.x, ref2, atol=1e-5)


def test_batched_qp_two_types_closed_form_and_nan_rows():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(18, 2))
    B = rng.normal(size=(18, 30))
    d = A[:, 0] - A[:, 1]
    w = np.clip(d @ (B - A[:, [1]]) / (d @ d), 0, 1)
    c = (A.T @ B).T
    c[3] = np.nan
    res = solve_batched_qp(A.T @ A, c, sum_to_one=True)
    assert np.isnan(res.x[3]).all()
    keep = np.arange(30) != 3
    np.testing.assert_allclose(res.x[keep, 0], w[keep], atol=1e-13)


def test_batched_qp_per_sample_gram_and_shape_errors():
    rng = np.random.default_rng(1)
    A = rng.gamma(1.0, 1.0, size=(3, 20, 3))
    b = rng.gamma(1.0, 1.0, size=(3, 20))
    G = np.einsum("ngi,ngj->nij", A, A)
    c = np.einsum("ngi,ng->ni", A, b)
    res = solve_batched_qp(G, c, sum_to_one=False)
    for i in range(3):
        np.testing.assert_allclose(res.x[i], optimize.nnls(A[i], b[i])[0], atol=1e-10)
    with pytest.raises(ValueError):
        solve_batched_qp(np.eye(2), np.zeros((4, 3)))


# ----------------------------------------------------------------------------- deconvolution


def test_nnls_recovers_noiseless_proportions():
    sig, bulk, P = synthetic_mixture(np.random.default_rng(2))
    res = deconvolve(bulk, sig, method="nnls", normalization="none")
    np.testing.assert_allclose(res.proportions.to_numpy(), P, atol=1e-8)
    np.testing.assert_allclose(res.proportions.sum(axis=1), 1.0, atol=1e-12)
    assert res.dropped_signature_genes == []


def test_deconrnaseq_pure_samples_exact_and_mixtures_ranked():
    """DeconRNASeq's standardisation recovers pure profiles exactly; for mixtures it is not
    mass-conserving (x_j is proportional to p_j * SD_j, then forced onto the simplex), so only the
    ordering of samples is preserved, not the fractions themselves."""
    rng = np.random.default_rng(2)
    sig, bulk, P = synthetic_mixture(rng, n_samples=40)
    pure = pd.DataFrame(
        sig.to_numpy() * [3.0, 0.5, 10.0], index=sig.index, columns=["p0", "p1", "p2"]
    )
    res = deconvolve(pure, sig, method="deconrnaseq", normalization="none")
    np.testing.assert_allclose(res.proportions.to_numpy(), np.eye(3), atol=1e-12)
    mixed = deconvolve(
        bulk, sig, method="deconrnaseq", normalization="none"
    ).proportions.to_numpy()
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-12)
    for j in range(3):
        assert stats.spearmanr(mixed[:, j], P[:, j]).statistic > 0.9


def test_deconrnaseq_invariant_to_library_size():
    sig, bulk, _ = synthetic_mixture(np.random.default_rng(3), noise=0.2)
    scaled = bulk * np.array([1.0, 7.0, 0.01, 3e3] * 3)
    a = deconvolve(bulk, sig, "deconrnaseq", "none").proportions
    b = deconvolve(scaled, sig, "deconrnaseq", "cpm").proportions
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-12)


def test_deconvolve_lists_dropped_genes_and_rejects_no_overlap():
    sig, bulk, _ = synthetic_mixture(np.random.default_rng(4))
    res = deconvolve(bulk.drop(index=["g0", "g5"]), sig)
    assert res.dropped_signature_genes == ["g0", "g5"]
    assert "g0" not in res.shared_genes and len(res.shared_genes) == 58
    renamed = bulk.rename(index=lambda g: "ENSG" + g)
    with pytest.raises(InputError, match="share 0 gene"):
        deconvolve(renamed, sig, bulk_name="bulk.txt", signature_name="sig.txt")
    with pytest.raises(InputError, match="unknown method"):
        deconvolve(bulk, sig, method="cibersort")


def test_deconvolve_rejects_collinear_signature():
    sig, bulk, _ = synthetic_mixture(np.random.default_rng(5), n_types=2)
    sig["type1"] = 2 * sig["type0"] + 1.0  # identical after standardisation
    with pytest.raises(InputError, match="collinear"):
        deconvolve(bulk, sig)


def test_constant_sample_gives_nan_not_crash():
    sig, bulk, _ = synthetic_mixture(np.random.default_rng(6))
    bulk["s0"] = 5.0
    res = deconvolve(bulk, sig)
    assert res.proportions.loc["s0"].isna().all()
    assert res.proportions.drop(index="s0").notna().all().all()


def test_normalize_bulk():
    counts = np.array([[1.0, 10.0], [3.0, 30.0]])
    np.testing.assert_allclose(normalize_bulk(counts, "cpm"), [[250000, 250000], [750000, 750000]])
    np.testing.assert_allclose(
        normalize_bulk(counts, "cpm", library_size=np.array([8.0, 80.0]))[0], [125000, 125000]
    )
    np.testing.assert_allclose(
        normalize_bulk(counts, "log1p_cpm"), np.log1p(normalize_bulk(counts, "cpm"))
    )
    with pytest.raises(InputError):
        normalize_bulk(counts, "tpm")


# ----------------------------------------------------------------------------- bootstrap


@pytest.mark.parametrize("method", ["deconrnaseq", "nnls"])
def test_weighted_design_equals_explicit_resampling(method):
    """The weighted normal equations equal scale() + fit on the physically resampled rows."""
    rng = np.random.default_rng(7)
    sig, bulk, _ = synthetic_mixture(rng, n_genes=15, noise=0.3)
    S, X = sig.to_numpy(), bulk.to_numpy()
    draw = rng.integers(0, 15, size=15)
    w = np.bincount(draw, minlength=15)[None, :].astype(float)
    G, C = design_matrices(S, X, method, w)
    Sd, Xd = S[draw], X[draw]
    if method == "deconrnaseq":
        Sd = (Sd - Sd.mean(0)) / Sd.std(0, ddof=1)
        Xd = (Xd - Xd.mean(0)) / Xd.std(0, ddof=1)
    np.testing.assert_allclose(G[0], Sd.T @ Sd, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(C[0], (Sd.T @ Xd).T, rtol=1e-9, atol=1e-9)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    sig, bulk, _ = synthetic_mixture(np.random.default_rng(8), noise=0.3)
    S, X = sig.to_numpy(), bulk.to_numpy()
    a = bootstrap_proportions(S, X, "deconrnaseq", 200, seed=1)
    b = bootstrap_proportions(
        S, X, "deconrnaseq", 200, seed=1, chunk_problems=50
    )  # other chunking
    c = bootstrap_proportions(S, X, "deconrnaseq", 200, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (200, 12, 3)
    np.testing.assert_allclose(a.sum(axis=2), 1.0, atol=1e-12)
    res, table = proportions_with_intervals(bulk, sig, n_bootstrap=200, seed=1)
    assert list(table.columns[:5]) == ["sample", "cell_type", "proportion", "ci_low", "ci_high"]
    assert len(table) == 12 * 3 and (table["n_boot"] == 200).all()
    assert (table["ci_low"] <= table["ci_high"]).all()
    inside = (table["proportion"] >= table["ci_low"] - 1e-12) & (
        table["proportion"] <= table["ci_high"] + 1e-12
    )
    assert inside.mean() > 0.9
    _, none = proportions_with_intervals(bulk, sig, n_bootstrap=0)
    assert none["ci_low"].isna().all()


# ----------------------------------------------------------------------------- thinning and depth


def test_thin_counts_binomial_moments_and_errors():
    rng = np.random.default_rng(9)
    y = np.full((4, 3), 1000)
    lib = np.array([10_000, 20_000, 4_000])  # third library below the target: kept whole
    draws = np.stack([thin_counts(y, lib, 5_000, rng)[0] for _ in range(400)])
    p = np.minimum(1, 5_000 / lib)
    np.testing.assert_allclose(draws.mean(axis=0)[0], 1000 * p, rtol=0.02)
    np.testing.assert_allclose(draws.var(axis=0)[0, :2], 1000 * p[:2] * (1 - p[:2]), rtol=0.2)
    assert (draws[:, :, 2] == 1000).all()
    thinned, new_lib = thin_counts(y, lib, 5_000, np.random.default_rng(0))
    assert (new_lib >= thinned.sum(axis=0)).all() and abs(new_lib[0] - 5000) < 400
    with pytest.raises(InputError, match="integer"):
        thin_counts(np.array([[1.5]]), np.array([10]), 5, rng)
    with pytest.raises(InputError, match="library size"):
        thin_counts(np.array([[20]]), np.array([10]), 5, rng)


def test_depth_robustness_reproducible_and_degrades_with_depth():
    rng = np.random.default_rng(10)
    sig, bulk, P = synthetic_mixture(rng, n_genes=40, n_types=2, n_samples=15)
    counts = pd.DataFrame(
        rng.poisson(bulk.to_numpy() * 50), index=bulk.index, columns=bulk.columns
    )
    other = pd.DataFrame(
        rng.poisson(200, size=(100, 15)), index=[f"o{i}" for i in range(100)], columns=bulk.columns
    )
    counts = pd.concat([counts, other])
    measured = pd.DataFrame({"type0": P[:, 0]}, index=bulk.columns)
    a = depth_robustness(counts, sig, [10_000, 200], 4, seed=3, measured=measured)
    b = depth_robustness(counts, sig, [200, 10_000], 4, seed=3, measured=measured)
    pd.testing.assert_frame_equal(
        a.sort_values(["depth", "repeat", "cell_type"]).reset_index(drop=True),
        b.sort_values(["depth", "repeat", "cell_type"]).reset_index(drop=True),
    )
    summary = summarize_depth_curve(a)
    t0 = summary[summary["cell_type"] == "type0"].set_index("depth")
    full = t0.index[~t0["thinned"].to_numpy()][0]
    assert t0.loc[full, "spearman_rho_mean"] > 0.95
    assert t0.loc[10_000, "spearman_vs_full_mean"] > t0.loc[200, "spearman_vs_full_mean"]
    assert list(summary["depth"])[:2] == [full, full]  # full library first
    with pytest.raises(InputError, match="non-integer"):
        depth_robustness(counts + 0.5, sig, [100], 1, 0)


# ----------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("n", [5, 7])
def test_prho_exact_small_n_matches_enumeration(n):
    perms = np.array(list(itertools.permutations(range(1, n + 1))))
    s_all = ((perms - np.arange(1, n + 1)) ** 2).sum(axis=1)
    for s in (2, 10, 20, 30):
        assert prho(n, s, lower_tail=False) == pytest.approx((s_all >= s).mean())
        assert prho(n, s, lower_tail=True) == pytest.approx((s_all < s).mean())


def test_spearman_p_value_matches_r_cor_test():
    # R's cor.test(method = "spearman") for n = 22 and rho = 0.8260869565217391 printed
    # p = 1.78635883802718e-06 in PredictFiberType's predict_vs_true.pdf (R 4.1.0).
    x = np.arange(22, dtype=float)
    y = x.copy()
    for i, j in [(0, 12), (13, 16), (17, 18)]:  # S = 2 * (12^2 + 3^2 + 1^2) = 308
        y[[i, j]] = y[[j, i]]
    assert ((y - x) ** 2).sum() == 308
    res = spearman_test(x, y)
    assert res["rho"] == pytest.approx(0.8260869565217391)
    assert res["p_value"] == pytest.approx(1.78635883802718e-06, rel=1e-9)
    assert res["p_value_t"] == pytest.approx(stats.spearmanr(x, y).pvalue)
    tied = spearman_test([1, 1, 2, 3, 4], [1, 2, 3, 4, 5])
    assert not tied["exact_method"] and tied["p_value"] == pytest.approx(
        stats.spearmanr([1, 1, 2, 3, 4], [1, 2, 3, 4, 5]).pvalue
    )


def test_agreement_table_and_intervals():
    rng = np.random.default_rng(11)
    est = pd.DataFrame({"a": rng.uniform(size=30)}, index=[f"s{i}" for i in range(30)])
    est["b"] = 1 - est["a"]
    meas = pd.DataFrame({"a": est["a"] + rng.normal(0, 0.1, 30)}, index=est.index).iloc[2:]
    table = agreement_table(est, meas)
    assert table.loc[0, "n"] == 28
    assert table.loc[0, "pearson_r"] == pytest.approx(pearson_test(est["a"][2:], meas["a"])["r"])
    assert table.loc[0, "pearson_p"] == pytest.approx(
        stats.pearsonr(est["a"][2:], meas["a"]).pvalue
    )
    boot = np.repeat(est.to_numpy()[None], 5, axis=0)
    ci = correlation_intervals(est, meas, boot, n_sample_bootstrap=300)
    assert (
        ci.loc[0, "spearman_ci_low"] < table.loc[0, "spearman_rho"] < ci.loc[0, "spearman_ci_high"]
    )
    assert ci.loc[0, "spearman_gene_boot_median"] == pytest.approx(table.loc[0, "spearman_rho"])


# ----------------------------------------------------------------------------- signatures from AnnData


def _toy_reference(rng, n_per=60):
    import anndata as ad

    clusters = np.repeat(["alpha", "beta", "gamma"], n_per)
    n_genes = 40
    base = rng.poisson(2.0, size=(clusters.size, n_genes)).astype(float)
    for j, cl in enumerate(["alpha", "beta", "gamma"]):
        rows = clusters == cl
        base[np.ix_(rows, range(5 * j, 5 * j + 5))] += rng.poisson(20.0, size=(rows.sum(), 5))
    adata = ad.AnnData(
        np.log1p(base),
        obs=pd.DataFrame({"cell_type": clusters}, index=[f"c{i}" for i in range(clusters.size)]),
        var=pd.DataFrame(index=[f"gene{i}" for i in range(n_genes)]),
    )
    adata.uns["log1p"] = {"base": None}
    return adata, base, clusters


def test_find_markers_recovers_planted_genes():
    from genomelearn.deconvolution import find_markers

    adata, _, _ = _toy_reference(np.random.default_rng(12))
    markers = find_markers(adata, "cell_type", n_markers=5)
    for j, cl in enumerate(["alpha", "beta", "gamma"]):
        got = set(markers.loc[markers["cluster"] == cl, "gene"])
        assert got == {f"gene{i}" for i in range(5 * j, 5 * j + 5)}
    assert (markers["pval_adj"] < 0.05).all()


def test_build_signature_means_and_deconvolution_of_pseudobulk(caplog):
    from genomelearn.deconvolution import build_signature, find_markers

    rng = np.random.default_rng(13)
    adata, base, clusters = _toy_reference(rng)
    markers = find_markers(adata, "cell_type", n_markers=5)
    with caplog.at_level(logging.WARNING, logger="genomelearn"):
        mk = {
            cl: list(g) + (["NOT_A_GENE"] if cl == "alpha" else [])
            for cl, g in markers.groupby("cluster", observed=True)["gene"]
        }
        sig = build_signature(adata, "cell_type", mk)
    assert "NOT_A_GENE" in caplog.text
    assert list(sig.columns) == ["alpha", "beta", "gamma"] and sig.shape == (15, 3)
    expected = base[clusters == "beta"][:, 7].mean()  # expm1(log1p(x)) = x
    assert sig.loc["gene7", "beta"] == pytest.approx(expected)
    # pseudo-bulks of known composition from the same cell types are recovered closely
    P = rng.dirichlet(np.ones(3), size=10)
    means = np.stack(
        [base[clusters == cl].mean(axis=0) for cl in ["alpha", "beta", "gamma"]], axis=1
    )
    bulk = pd.DataFrame(
        means @ P.T * 1000, index=adata.var_names, columns=[f"s{i}" for i in range(10)]
    )
    est = deconvolve(bulk, sig, method="nnls", normalization="none").proportions.to_numpy()
    np.testing.assert_allclose(est, P, atol=1e-8)
    with pytest.raises(InputError, match="not in obs"):
        build_signature(adata, "cell_type", {"delta": ["gene1"]})
    with pytest.raises(InputError, match="obs has no column 'cluster'"):
        build_signature(adata, "cluster", mk)


# ----------------------------------------------------------------------------- real data


def test_reproduces_predictfibertype_on_real_data(data_mirror):
    FIBERTYPE = data_mirror / "fibertype" / "PredictFiberType"
    if not FIBERTYPE.is_dir():
        pytest.skip(f"{FIBERTYPE} not in the data mirror")
    bulk = read_bulk_counts(FIBERTYPE / "bulk_expr.txt")
    sig = read_signature(FIBERTYPE / "signatures_matrix.txt")
    measured = read_measured(
        FIBERTYPE / "true_type1.txt",
        {"TRUE_SLOW_TWITCH_TYPE_I": "slow_twitch_typeI"},
        list(sig.columns),
    )
    published = read_matrix(FIBERTYPE / "deconv_prediction.txt")
    res = deconvolve(bulk, sig, "deconrnaseq", "cpm")
    np.testing.assert_allclose(
        res.proportions.to_numpy(),
        published.loc[res.proportions.index, res.proportions.columns].to_numpy(),
        atol=1e-12,
    )
    table = agreement_table(res.proportions, measured)
    assert table.loc[0, "n"] == 22
    assert round(table.loc[0, "spearman_rho"], 2) == 0.83
    assert table.loc[0, "spearman_p"] == pytest.approx(1.78635883802718e-06, rel=1e-9)
    # the same problem batched through the array API gives the same numbers
    x, _ = deconvolve_arrays(sig.to_numpy(), bulk.loc[sig.index].to_numpy(dtype=float))
    np.testing.assert_allclose(x[0], res.proportions.to_numpy(), atol=1e-14)


# ----------------------------------------------------------------------------- workflow helpers


def test_workflow_support_settings_and_targets():
    from snakemake.utils import validate

    from genomelearn.deconvolution import workflow_support as ws

    block = {
        "method": "deconrnaseq",
        "n_bootstrap": 100,
        "datasets": {
            "a": {
                "bulk": {"path": "b.txt", "url": "http://x/b.txt"},
                "signature": {"path": "s.txt"},
                "measured": {"path": "m.txt"},
                "method": "nnls",
                "seed": None,
            },
            "r": {
                "bulk": {"path": "b.txt"},
                "reference": {
                    "path": "ref.h5ad",
                    "cluster_key": "ct",
                    "markers": {"path": "mk.tsv"},
                },
                "depth_robustness": False,
            },
        },
    }
    with pytest.raises(KeyError):  # defaults come from the schema only
        ws.dataset_settings(block, "a")
    validate(block, str(Path(__file__).parents[2] / "config/schemas/deconvolution.schema.yaml"))
    cfg = ws.dataset_settings(block, "a")
    assert (
        cfg["method"] == "nnls"
        and cfg["n_bootstrap"] == 100
        and cfg["seed"] == 0
        and cfg["normalization"] == "cpm"
    )
    assert (
        "reference" not in cfg
        and ws.dataset_settings(block, "r")["reference"]["cluster_key"] == "ct"
    )
    assert ws.file_spec(block, "a", "bulk") == ("b.txt", "http://x/b.txt")
    assert ws.resolve_file(block, "a", "published", lambda p, u: p) == []
    assert ws.signature_specs(block, "r") == {
        "reference": ("ref.h5ad", None),
        "markers": ("mk.tsv", None),
    }
    assert ws.dataset_settings(block, "r")["reference"]["n_markers"] == 20
    assert ws.output("agreement", "a") == "results/deconvolution/a/agreement.tsv"
    assert ws.output("agreement", "a") in ws.targets(block, "a")
    assert not any("depth" in t or "agreement" in t for t in ws.targets(block, "r"))


def test_pseudobulk_split_is_disjoint_and_truth_is_exact():
    from genomelearn.deconvolution.pseudobulk import make_pseudobulk, split_reference

    rng = np.random.default_rng(14)
    adata, base, clusters = _toy_reference(rng, n_per=20)
    reference, bulk, truth, split = make_pseudobulk(
        adata, "cell_type", n_samples=6, cells_per_sample=30, seed=3
    )
    ref_cells = set(split.loc[split["part"] == "reference", "cell"])
    assert set(reference.obs_names) == ref_cells and len(ref_cells) == 30
    assert split.groupby("cell_type")["part"].apply(
        lambda p: (p == "reference").sum()
    ).tolist() == [10, 10, 10]
    np.testing.assert_allclose(truth.sum(axis=1), 1.0)
    assert list(truth.columns) == ["alpha", "beta", "gamma"] and bulk.shape == (40, 6)
    # each sample is a sum of 30 mixture-half cells: its total lies within 30 x [min, max] cell totals
    mix_tot = base[~split["part"].eq("reference").to_numpy()].sum(axis=1)
    assert np.all(bulk.sum(axis=0) >= 30 * mix_tot.min() - 1e-6) and np.all(
        bulk.sum(axis=0) <= 30 * mix_tot.max() + 1e-6
    )
    again = make_pseudobulk(adata, "cell_type", n_samples=6, cells_per_sample=30, seed=3)
    pd.testing.assert_frame_equal(bulk, again[1])
    with pytest.raises(InputError, match="has 1 cell"):
        split_reference(np.array(["a", "a", "b"]), 0.5, rng)
