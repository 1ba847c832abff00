"""Out-of-fold evaluation of the introgression models: metrics with block-bootstrap intervals, the
paired difference to the GC-only baseline, a forest plot and a verdict generated from the table.

Every number is computed from out-of-fold predictions (each window scored by the model of the fold
that held its block out). Confidence intervals resample genomic blocks with replacement
(:func:`genomelearn.evaluation.bootstrap_block_counts`); every model of a setting is evaluated on
the same replicates, so differences to ``gc_logreg`` are paired. Deep models trained with several
seeds are summarised by the mean over seeds (point estimate and each bootstrap replicate) and the
standard deviation across seeds.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from genomelearn.evaluation import (
    block_index,
    bootstrap_block_counts,
    percentile_interval,
    weighted_auroc,
    weighted_average_precision,
    weighted_balanced_accuracy,
    weighted_spearman,
)

BASELINE = "gc_logreg"

__all__ = ["BASELINE", "collect_oof", "forest_plot", "setting_metrics", "verdicts"]


def collect_oof(predictions: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """Out-of-fold rows from per-job prediction tables.

    Args:
        predictions: concatenated per-job tables with columns window, split (role), label, score,
            threshold, and the job's labels, matching, model, split_name ("fold<f>" or
            "random"), seed.
        windows: the setting's windows (block column), indexed by window id.

    Returns:
        The ``test`` rows: labels, matching, protocol (blocks | random), model, seed, fold (-1 for
        random), window, block, label, score, threshold.

    Raises:
        ValueError: if a window is tested more than once for one model and seed in the block CV.
    """
    test = predictions[predictions["split"] == "test"].copy()
    test["protocol"] = np.where(test["split_name"] == "random", "random", "blocks")
    test["fold"] = np.where(
        test["protocol"] == "blocks",
        test["split_name"].str.removeprefix("fold").replace("random", "-1"),
        "-1",
    ).astype(int)
    test["block"] = windows["block"].to_numpy()[test["window"].to_numpy()]
    keys = ["labels", "matching", "protocol", "model", "seed", "window"]
    dup = test.duplicated(keys)
    if dup.any():
        raise ValueError(
            f"{int(dup.sum())} windows scored twice out of fold, e.g. {test[dup].iloc[0][keys].to_dict()}"
        )
    cols = [
        "labels",
        "matching",
        "protocol",
        "model",
        "seed",
        "fold",
        "window",
        "block",
        "label",
        "score",
        "threshold",
    ]
    return test[cols].reset_index(drop=True)


def _per_seed(oof: pd.DataFrame, model: str, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """score and call matrices (n_seeds, N) of ``model`` aligned to ``windows``."""
    rows = oof[oof["model"] == model]
    scores, calls = [], []
    for _, part in rows.groupby("seed", sort=True):
        part = part.set_index("window").loc[windows]
        scores.append(part["score"].to_numpy(dtype=np.float64))
        calls.append((part["score"] >= part["threshold"]).to_numpy())
    return np.array(scores), np.array(calls)


def setting_metrics(
    oof: pd.DataFrame, regression: bool, replicates: int, seed: int, level: float = 0.95
) -> pd.DataFrame:
    """Metrics of every model of one (labels, matching, protocol) from its out-of-fold rows.

    Classification: AUROC, AUPRC, balanced accuracy (calls at each fold's validation threshold),
    each with a block-bootstrap interval; ``auroc_minus_gc`` with its interval and
    ``p_beats_gc`` = (1 + replicates with a difference <= 0) / (replicates + 1), one-sided.
    Regression (``support``): Spearman correlation, ``spearman_minus_gc``, same p.

    Args:
        oof: rows of one setting and protocol (:func:`collect_oof`).
        regression: True for the ``support`` target.
        replicates: bootstrap replicates (>= 1000 for reported numbers).
        seed: bootstrap seed.
        level: confidence level.

    Returns:
        one row per model.
    """
    windows = np.sort(oof["window"].unique())
    ref = oof.drop_duplicates("window").set_index("window").loc[windows]
    y = ref["label"].to_numpy()
    ids, bidx = block_index(ref["block"].to_numpy())
    counts = bootstrap_block_counts(len(ids), replicates, seed)
    ones = np.ones((1, len(ids)))
    binary = y > 0
    metric_fns = (
        {"spearman": lambda s, c, k: weighted_spearman(y, s, bidx, k)}
        if regression
        else {
            "auroc": lambda s, c, k: weighted_auroc(binary, s, bidx, k),
            "auprc": lambda s, c, k: weighted_average_precision(binary, s, bidx, k),
            "balanced_accuracy": lambda s, c, k: weighted_balanced_accuracy(binary, c, bidx, k),
        }
    )
    headline = "spearman" if regression else "auroc"
    results = {}
    for model in sorted(oof["model"].unique()):
        scores, calls = _per_seed(oof, model, windows)
        res = {"n_seeds": len(scores)}
        for name, fn in metric_fns.items():
            point = np.array([fn(s, c, ones)[0] for s, c in zip(scores, calls)])
            reps = np.mean([fn(s, c, counts) for s, c in zip(scores, calls)], axis=0)
            res[name] = (point.mean(), reps, point)
        results[model] = res
    rows = []
    base = results.get(BASELINE)
    for model, res in results.items():
        row = {
            "model": model,
            "n_test": len(windows),
            "n_blocks": len(ids),
            "n_seeds": res["n_seeds"],
            "auprc_chance": float(binary.mean()) if not regression else np.nan,
        }
        for name in metric_fns:
            point, reps, _ = res[name]
            low, high = percentile_interval(reps, level)
            row.update({name: point, f"{name}_ci_low": low, f"{name}_ci_high": high})
        point, reps, per_seed = res[headline]
        row[f"{headline}_seed_sd"] = (
            float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else np.nan
        )
        if base is not None:
            b_point, b_reps, _ = base[headline]
            diff = reps - b_reps
            low, high = percentile_interval(diff, level)
            finite = diff[np.isfinite(diff)]
            row.update(
                {
                    f"{headline}_minus_gc": point - b_point,
                    f"{headline}_minus_gc_ci_low": low,
                    f"{headline}_minus_gc_ci_high": high,
                    "p_beats_gc": (1 + np.sum(finite <= 0)) / (len(finite) + 1)
                    if model != BASELINE
                    else np.nan,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(x: float) -> str:
    return f"{x:+.3f}".replace("-", "−")


def verdicts(metrics: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """One generated sentence per (labels, matching, protocol): does any model beat GC?

    A model beats GC when the lower end of its paired interval of the difference (AUROC, or
    Spearman for ``support``) is above 0. The sentence names the largest difference and its
    interval, whichever way it goes.

    Returns:
        DataFrame labels, matching, protocol, metric, gc_estimate, best_model, difference,
        ci_low, ci_high, p_beats_gc, beats_gc (bool), verdict (str).
    """
    rows = []
    pct = round(level * 100)
    for (labels, matching, protocol), part in metrics.groupby(
        ["labels", "matching", "protocol"], sort=False
    ):
        metric = "spearman" if part["auroc"].isna().all() else "auroc"
        col = f"{metric}_minus_gc"
        others = part[(part["model"] != BASELINE) & part[col].notna()]
        gc = part[part["model"] == BASELINE]
        gc_est = float(gc[metric].iloc[0]) if len(gc) else np.nan
        if others.empty:
            continue
        best = others.sort_values(col, ascending=False).iloc[0]
        winners = others[others[f"{col}_ci_low"] > 0].sort_values(col, ascending=False)
        interval = (
            f"{_fmt(best[col])} [{_fmt(best[col + '_ci_low'])}, {_fmt(best[col + '_ci_high'])}]"
        )
        name = metric.upper() if metric == "auroc" else "Spearman"
        setting = f"{labels}, {matching}, {protocol} protocol (GC-only {name} {gc_est:.3f})"
        if len(winners):
            sentence = (
                f"{setting}: {', '.join(winners['model'])} beat{'s' if len(winners) == 1 else ''} GC; "
                f"largest {name} difference {interval} ({best['model']}, {pct} % block-bootstrap CI, "
                f"one-sided p = {best['p_beats_gc']:.3f})."
            )
        else:
            sentence = (
                f"{setting}: no model beats GC; largest {name} difference {interval} "
                f"({best['model']}, {pct} % block-bootstrap CI, one-sided p = {best['p_beats_gc']:.3f})."
            )
        rows.append(
            {
                "labels": labels,
                "matching": matching,
                "protocol": protocol,
                "metric": metric,
                "gc_estimate": gc_est,
                "best_model": best["model"],
                "difference": best[col],
                "ci_low": best[col + "_ci_low"],
                "ci_high": best[col + "_ci_high"],
                "p_beats_gc": best["p_beats_gc"],
                "beats_gc": bool(len(winners)),
                "verdict": sentence,
            }
        )
    columns = [
        "labels",
        "matching",
        "protocol",
        "metric",
        "gc_estimate",
        "best_model",
        "difference",
    ]
    columns += ["ci_low", "ci_high", "p_beats_gc", "beats_gc", "verdict"]
    return pd.DataFrame(rows, columns=columns)


def forest_plot(metrics: pd.DataFrame, path: str | os.PathLike, protocol: str = "blocks") -> None:
    """Forest plot: per (labels, matching) panel, each model's AUROC (Spearman for ``support``) with
    its interval; the GC baseline's estimate dashed, chance dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = metrics[metrics["protocol"] == protocol]
    settings = list(part.groupby(["labels", "matching"], sort=False).groups)
    if not settings:
        settings = [("none", "none")]
    fig, axes = plt.subplots(
        len(settings),
        1,
        figsize=(7, 1.2 + 0.42 * part["model"].nunique() * len(settings) + 0.6 * len(settings)),
        squeeze=False,
    )
    for ax, key in zip(axes[:, 0], settings):
        rows = part[(part["labels"] == key[0]) & (part["matching"] == key[1])].sort_values("model")
        if rows.empty:
            ax.set_axis_off()
            continue
        metric = "spearman" if rows["auroc"].isna().all() else "auroc"
        y = np.arange(len(rows))
        est = rows[metric].to_numpy()
        err = np.vstack(
            [est - rows[f"{metric}_ci_low"].to_numpy(), rows[f"{metric}_ci_high"].to_numpy() - est]
        )
        colors = ["tab:grey" if m == BASELINE else "tab:blue" for m in rows["model"]]
        for yi, e, lo, hi, color in zip(y, est, err[0], err[1], colors):
            ax.errorbar(
                [e], [yi], xerr=[[lo], [hi]], fmt="o", color=color, ecolor=color, capsize=3
            )
        gc = rows[rows["model"] == BASELINE]
        if len(gc):
            ax.axvline(float(gc[metric].iloc[0]), color="tab:grey", ls="--", lw=0.8)
        ax.axvline(0.5 if metric == "auroc" else 0.0, color="black", ls=":", lw=0.8)
        labels = [
            f"{m} (n={int(s)} seeds)" if s > 1 else m
            for m, s in zip(rows["model"], rows["n_seeds"])
        ]
        ax.set_yticks(y, labels)
        ax.set_title(
            f"{key[0]}, {key[1]} ({protocol} CV)"
            if protocol == "blocks"
            else f"{key[0]}, {key[1]} ({protocol})",
            fontsize=9,
        )
        ax.set_xlabel("AUROC" if metric == "auroc" else "Spearman correlation with support")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
