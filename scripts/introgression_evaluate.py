"""Out-of-fold metrics with block-bootstrap intervals, the verdict and the forest plot
(rule introgression_evaluate).

Outputs: metrics.tsv (one row per labels x matching x protocol x model), predictions_oof.parquet
(every out-of-fold score: window, fold, model, seed, score), verdict.tsv (one generated sentence
per setting), figures/evaluation/forest.png and ROC/PR curves of the primary setting.
"""

import os

import numpy as np
import pandas as pd

from genomelearn.evaluation import plot_roc_pr
from genomelearn.introgression.verdict import collect_oof, forest_plot, setting_metrics, verdicts
from genomelearn.workflow import get_logger, run_script

COLUMNS = [
    "labels", "matching", "protocol", "model", "n_train", "n_buffer", "n_test", "n_blocks", "n_seeds",
    "auroc", "auroc_ci_low", "auroc_ci_high", "auroc_seed_sd",
    "auroc_minus_gc", "auroc_minus_gc_ci_low", "auroc_minus_gc_ci_high", "p_beats_gc",
    "auprc", "auprc_ci_low", "auprc_ci_high", "auprc_chance",
    "balanced_accuracy", "balanced_accuracy_ci_low", "balanced_accuracy_ci_high",
    "spearman", "spearman_ci_low", "spearman_ci_high", "spearman_seed_sd",
    "spearman_minus_gc", "spearman_minus_gc_ci_low", "spearman_minus_gc_ci_high",
]  # fmt: skip


def main(smk):
    log = get_logger()
    os.makedirs(smk.output.figures, exist_ok=True)
    boot = smk.params.bootstrap
    windows = {
        lab: pd.read_parquet(path, columns=["block"])
        for lab, path in zip(smk.params.window_labels, smk.input.windows)
    }
    folds = {
        tuple(key.split("/")): pd.read_csv(path, sep="\t")
        for key, path in zip(smk.params.fold_keys, smk.input.folds)
    }
    parts = []
    for (labels, matching, model, split, seed), path in zip(
        smk.params.jobs, smk.input.predictions
    ):
        pred = pd.read_parquet(path)
        parts.append(
            pred.assign(labels=labels, matching=matching, model=model, split_name=split, seed=seed)
        )
    predictions = pd.concat(parts, ignore_index=True)
    oof = pd.concat(
        [
            collect_oof(part, windows[lab])
            for lab, part in predictions.groupby("labels", sort=False)
        ],
        ignore_index=True,
    )
    oof.to_parquet(smk.output.oof, index=False)
    rows = []
    for (labels, matching, protocol), part in oof.groupby(
        ["labels", "matching", "protocol"], sort=False
    ):
        table = setting_metrics(
            part, labels == "support", boot["replicates"], boot["seed"], boot["level"]
        )
        counts = folds[(labels, matching)]
        counts = counts[(counts["fold"] >= 0) == (protocol == "blocks")].set_index("role")[
            "n_windows"
        ]
        n_splits = max(len(counts.loc[["train"]]), 1)
        table.insert(0, "n_buffer", int(counts.loc[["buffer"]].sum()))
        table.insert(0, "n_train", round(counts.loc[["train"]].sum() / n_splits))
        table.insert(0, "protocol", protocol)
        table.insert(0, "matching", matching)
        table.insert(0, "labels", labels)
        rows.append(table)
        log.info("%s/%s/%s:\n%s", labels, matching, protocol, table.to_string())
    metrics = pd.concat(rows, ignore_index=True).reindex(columns=COLUMNS)
    metrics.to_csv(smk.output.metrics, sep="\t", index=False, float_format="%.4f")
    verdict = verdicts(metrics, boot["level"])
    verdict.to_csv(smk.output.verdict, sep="\t", index=False, float_format="%.4f")
    for sentence in verdict["verdict"]:
        log.info("verdict: %s", sentence)
    forest_plot(metrics, os.path.join(smk.output.figures, "forest_blocks.png"), "blocks")
    if (metrics["protocol"] == "random").any():
        forest_plot(metrics, os.path.join(smk.output.figures, "forest_random.png"), "random")
    lab, match = smk.params.primary
    for protocol in ("blocks", "random"):
        part = oof[
            (oof["labels"] == lab) & (oof["matching"] == match) & (oof["protocol"] == protocol)
        ]
        if part.empty or lab == "support":
            continue
        first = part[part["seed"] == part.groupby("model")["seed"].transform("min")]
        curves = {
            m: (g["label"].to_numpy(), g["score"].to_numpy()) for m, g in first.groupby("model")
        }
        plot_roc_pr(
            curves,
            os.path.join(smk.output.figures, f"roc_pr_{protocol}.png"),
            title=f"Out-of-fold windows, {lab}/{match}, {protocol} (first seed)",
        )
    log.info(
        "%d out-of-fold rows, %d metric rows; largest |seed SD| %.4f",
        len(oof),
        len(metrics),
        np.nanmax(np.abs(metrics["auroc_seed_sd"].to_numpy(dtype=float)), initial=0),
    )


run_script(main, snakemake)  # noqa: F821
