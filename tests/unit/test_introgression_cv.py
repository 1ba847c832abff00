"""Block cross-validation, block-bootstrap intervals, composition matching and the verdict."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

from genomelearn.errors import InputError
from genomelearn.evaluation import (
    block_index,
    bootstrap_block_counts,
    percentile_interval,
    weighted_auroc,
    weighted_average_precision,
    weighted_balanced_accuracy,
    weighted_spearman,
)
from genomelearn.introgression.cv import assign_block_folds, balanced_threshold, make_splits
from genomelearn.introgression.splits import distance_to_nearest
from genomelearn.introgression.verdict import setting_metrics, verdicts

SPLITS = {
    "methods": ["blocks", "random"],
    "folds": 5,
    "validation_fraction": 0.25,
    "fractions": [0.6, 0.2, 0.2],
    "buffer_bp": 3000,
    "seed": 0,
}


def _windows(n_blocks=30, per_block=40, seed=0, gc_shift=0.0):
    """Contiguous 200-bp windows in 10-kb blocks on two contigs; block label mix varies."""
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(n_blocks):
        chrom = "chr1" if b < n_blocks // 2 else "chr2"
        share = rng.choice([0.1, 0.5, 0.9])
        for i in range(per_block):
            start = (b % (n_blocks // 2)) * 10_000 + i * 200
            label = int(rng.random() < share)
            rows.append(
                (
                    chrom,
                    start,
                    start + 200,
                    label,
                    f"{chrom}:{b}",
                    rng.normal(0.42 + gc_shift * label, 0.04),
                    rng.random(),
                )
            )
    return pd.DataFrame(
        rows, columns=["chrom", "start", "end", "label", "block", "gc", "repeat_fraction"]
    )


@pytest.mark.parametrize("matching", [None, {"gc_bins": 5, "repeat_bins": 2}])
def test_every_window_is_tested_exactly_once_and_buffer_holds(matching):
    w = _windows(gc_shift=0.03)
    splits, counts, _ = make_splits(w, SPLITS, matching, "synthetic")
    folds = [splits[f"fold{f}"] for f in range(5)]
    tested = np.sum([s == "test" for s in folds], axis=0)
    unused = folds[0] == "unused"
    assert (tested[~unused] == 1).all() and (tested[unused] == 0).all()
    assert (unused.sum() > 0) == (matching is not None)
    for _f, roles in enumerate(folds):
        # blocks stay whole, and no training or validation window within the buffer of a test window
        assert (
            pd.Series(roles[roles == "test"])
            .groupby(w["block"][roles == "test"].to_numpy())
            .size()
            .gt(0)
            .all()
        )
        dist = distance_to_nearest(w, roles == "test")
        assert (dist[np.isin(roles, ["train", "validation"])] >= SPLITS["buffer_bp"]).all()
        assert (roles == "buffer").any()
        for role in ("train", "validation", "test"):
            assert set(w["label"][roles == role]) == {0, 1}
        assert not set(w["block"][roles == "validation"]) & set(w["block"][roles == "test"])
    buffered = counts[(counts["fold"] >= 0) & (counts["role"] == "buffer")]["n_windows"]
    assert len(buffered) == 5 and buffered.sum() == sum((s == "buffer").sum() for s in folds)
    assert set(np.unique(splits["random"])) >= {"train", "validation", "test"}


def test_folds_are_balanced_for_label_mix():
    w = _windows(n_blocks=40, seed=3)
    fold_of = assign_block_folds(w["block"], w["label"], 5, seed=0)
    fold = w["block"].map(fold_of)
    share = w.groupby(fold)["label"].agg(["sum", "size"])
    pos_share = share["sum"] / share["sum"].sum()
    neg_share = (share["size"] - share["sum"]) / (share["size"] - share["sum"]).sum()
    assert pos_share.between(0.12, 0.28).all() and neg_share.between(0.12, 0.28).all()


def test_fold_without_a_class_fails_naming_label_definition_and_blocks():
    w = _windows(n_blocks=10, seed=1)
    w["label"] = 1
    w.loc[w["block"] == "chr1:0", "label"] = 0  # negatives in one block only
    with pytest.raises(
        InputError,
        match=r"label definition 'depleted/unmatched'.*lack a class.*\(blocks, positive windows, negative windows\)",
    ):
        make_splits(w, {**SPLITS, "folds": 3}, None, "depleted/unmatched")


def test_matching_brings_a_gc_only_model_to_chance():
    """Only GC differs between the classes: unmatched, GC alone separates them; matched, it cannot."""
    w = _windows(n_blocks=40, per_block=60, seed=2, gc_shift=0.03)
    results = {}
    for name, matching in (("unmatched", None), ("matched", {"gc_bins": 20, "repeat_bins": 5})):
        splits, _, _ = make_splits(w, {**SPLITS, "buffer_bp": 0}, matching, name)
        y_all, s_all = [], []
        for f in range(5):
            roles = splits[f"fold{f}"]
            train, test = roles == "train", roles == "test"
            model = LogisticRegression().fit(w.loc[train, ["gc"]], w.loc[train, "label"])
            y_all.append(w.loc[test, "label"].to_numpy())
            s_all.append(model.predict_proba(w.loc[test, ["gc"]])[:, 1])
        results[name] = roc_auc_score(np.concatenate(y_all), np.concatenate(s_all))
    assert results["unmatched"] > 0.65
    assert abs(results["matched"] - 0.5) <= 0.05


def test_weighted_metrics_equal_sklearn_on_replicated_windows():
    rng = np.random.default_rng(0)
    n = 1500
    blocks = rng.integers(0, 25, n)
    y = rng.random(n) < 0.4
    s = np.round(rng.random(n) + 0.3 * y, 2)  # ties included
    x = rng.integers(0, 4, n) + y
    ids, bidx = block_index(blocks)
    counts = np.vstack([np.ones(len(ids)), bootstrap_block_counts(len(ids), 4, 1)])
    auc, ap = (
        weighted_auroc(y, s, bidx, counts),
        weighted_average_precision(y, s, bidx, counts, chunk_size=2),
    )
    ba, rho = (
        weighted_balanced_accuracy(y, s > 0.6, bidx, counts),
        weighted_spearman(x, s, bidx, counts),
    )
    from scipy.stats import spearmanr

    for r in range(len(counts)):
        rep = np.repeat(np.arange(n), counts[r][bidx].astype(int))
        assert auc[r] == pytest.approx(roc_auc_score(y[rep], s[rep]), abs=1e-12)
        assert ap[r] == pytest.approx(average_precision_score(y[rep], s[rep]), abs=1e-12)
        assert ba[r] == pytest.approx(balanced_accuracy_score(y[rep], s[rep] > 0.6), abs=1e-12)
        assert rho[r] == pytest.approx(spearmanr(x[rep], s[rep])[0], abs=1e-12)


def test_block_bootstrap_interval_covers_known_auroc_at_nominal_rate():
    """Scores = d * label + block effect + noise: the population AUROC is Phi(d / sqrt(2 tau^2 + 2))."""
    d, tau, n_blocks, per_block = 0.6, 0.7, 60, 30
    truth = norm.cdf(d / np.sqrt(2 * tau**2 + 2))
    rng = np.random.default_rng(11)
    covered, n_sim = 0, 150
    for sim in range(n_sim):
        blocks = np.repeat(np.arange(n_blocks), per_block)
        y = rng.random(len(blocks)) < rng.uniform(0.2, 0.8, n_blocks)[blocks]
        score = d * y + rng.normal(0, tau, n_blocks)[blocks] + rng.normal(0, 1, len(blocks))
        ids, bidx = block_index(blocks)
        low, high = percentile_interval(
            weighted_auroc(y, score, bidx, bootstrap_block_counts(len(ids), 400, sim))
        )
        covered += low <= truth <= high
    assert 0.88 <= covered / n_sim <= 0.99


def test_balanced_threshold_maximises_balanced_accuracy():
    y = np.array([0, 0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.6, 0.9])
    t = balanced_threshold(y, s)
    assert balanced_accuracy_score(y, s >= t) == pytest.approx(0.875)


def test_setting_metrics_and_generated_verdict():
    rng = np.random.default_rng(4)
    n = 2000
    window = np.arange(n)
    block = np.array([f"chr1:{i // 50}" for i in window])
    y = (rng.random(n) < 0.5).astype(int)
    rows = []
    for model, signal, seeds in (("gc_logreg", 0.2, [0]), ("cnn", 1.5, [0, 1, 2])):
        for seed in seeds:
            score = signal * y + rng.normal(0, 1, n)
            rows.append(
                pd.DataFrame(
                    {
                        "window": window,
                        "block": block,
                        "label": y,
                        "score": score,
                        "threshold": 0.5,
                        "model": model,
                        "seed": seed,
                    }
                )
            )
    oof = pd.concat(rows, ignore_index=True)
    table = setting_metrics(oof, False, 300, 0).set_index("model")
    cnn = table.loc["cnn"]
    per_seed = [
        roc_auc_score(y, oof[(oof.model == "cnn") & (oof.seed == s)]["score"]) for s in (0, 1, 2)
    ]
    assert (
        cnn["auroc"] == pytest.approx(np.mean(per_seed))
        and cnn["n_seeds"] == 3
        and cnn["n_blocks"] == 40
    )
    assert cnn["auroc_seed_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert cnn["auroc_ci_low"] < cnn["auroc"] < cnn["auroc_ci_high"]
    assert cnn["auroc_minus_gc_ci_low"] > 0 and cnn["p_beats_gc"] < 0.01
    table = table.reset_index().assign(labels="deserts", matching="matched", protocol="blocks")
    verdict = verdicts(table)
    assert verdict["beats_gc"].tolist() == [True]
    sentence = verdict["verdict"].iloc[0]
    assert sentence.startswith("deserts, matched, blocks protocol") and "cnn beats GC" in sentence
    assert f"{cnn['auroc_minus_gc']:+.3f}".replace("-", "−") in sentence


def test_support_target_is_scored_by_spearman_with_interval():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    n = 1200
    window = np.arange(n)
    block = np.array([f"chr1:{i // 40}" for i in window])
    support = rng.integers(0, 13, n)
    rows = [
        pd.DataFrame(
            {
                "window": window,
                "block": block,
                "label": support,
                "score": s,
                "threshold": np.nan,
                "model": m,
                "seed": 0,
            }
        )
        for m, s in (
            ("gc_logreg", rng.normal(size=n)),
            ("kmer_logreg", support + rng.normal(0, 4, n)),
        )
    ]
    table = setting_metrics(pd.concat(rows, ignore_index=True), True, 300, 0).set_index("model")
    assert table.loc["kmer_logreg", "spearman"] == pytest.approx(
        spearmanr(support, rows[1]["score"])[0]
    )
    assert table.loc["kmer_logreg", "spearman_minus_gc_ci_low"] > 0
    verdict = verdicts(
        table.reset_index().assign(
            labels="support", matching="unmatched", protocol="blocks", auroc=np.nan
        )
    )
    assert (
        verdict["metric"].tolist() == ["spearman"]
        and "kmer_logreg beats GC" in verdict["verdict"].iloc[0]
    )


def test_validation_holds_both_classes_when_a_large_block_is_one_class():
    """A large pure-negative block is dealt first into validation group 0; the validation set must
    still hold both classes (the first group with both), or training could not stop early."""
    from genomelearn.introgression.cv import fold_roles

    rows = []

    def block(name, chrom, offset, n, label):
        for i in range(n):
            start = offset + i * 200
            rows.append((chrom, start, start + 200, label, name))

    block("big_neg", "chr1", 0, 200, 0)
    for b in range(8):
        block(f"pos{b}", "chr1", 1_000_000 * (b + 1), 20, 1)
    for b in range(4):
        block(f"neg{b}", "chr2", 1_000_000 * b, 20, 0)
    block("test", "chr3", 0, 40, 0)
    block("test_pos", "chr3", 1_000_000, 40, 1)
    w = pd.DataFrame(rows, columns=["chrom", "start", "end", "label", "block"])
    fold = np.where(w["block"].str.startswith("test"), 1, 0)
    groups = assign_block_folds(w["block"][fold == 0], w["label"][fold == 0], 4, 0 + 7919 * 2)
    assert groups["big_neg"] == 0 and all(groups[f"pos{b}"] != 0 for b in range(8))
    role = fold_roles(w, fold, 1, buffer_bp=0, validation_fraction=0.25, seed=0)
    val = w["label"][role == "validation"]
    assert (val == 1).any() and (val == 0).any()
    assert not (role[w["block"].to_numpy() == "big_neg"] == "validation").any()
    assert set(role[fold == 1]) == {"test"}
