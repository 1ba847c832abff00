"""Metrics of every (model, split) on its held-out test windows, curves and confusion matrices (rule introgression_evaluate)."""

import os

import pandas as pd

from genomelearn.evaluation import binary_metrics, plot_confusion, plot_roc_pr
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    os.makedirs(smk.output.curves, exist_ok=True)
    models, splits = smk.params.models, smk.params.split_names
    paths = iter(smk.input.predictions)  # expand() order: model-major, then split
    predictions = {(m, s): pd.read_parquet(next(paths)) for m in models for s in splits}
    rows = []
    for split in splits:
        curves = {}
        for model in models:
            pred = predictions[(model, split)]
            test = pred[pred["split"] == "test"]
            metrics = binary_metrics(test["label"], test["score"])
            rows.append(
                {
                    "model": model,
                    "split": split,
                    "n_train": int((pred["split"] == "train").sum()),
                    "n_test": metrics["n"],
                    **{k: metrics[k] for k in ("accuracy", "balanced_accuracy", "auroc", "auprc")},
                    # share of introgressed test windows: the AUPRC of a random ranking
                    "auprc_chance": float(test["label"].mean()),
                }
            )
            curves[model] = (test["label"].to_numpy(), test["score"].to_numpy())
            plot_confusion(
                test["label"],
                (test["score"] >= 0.5).astype(int),
                ["desert", "introgressed"],
                os.path.join(smk.output.curves, f"confusion_{model}_{split}.png"),
                title=f"{model}, {split} split",
            )
        plot_roc_pr(curves, os.path.join(smk.output.curves, f"roc_pr_{split}.png"), title=f"Test windows, {split} split")
    table = pd.DataFrame(rows)
    baseline = table[table["model"] == "gc_logreg"].set_index("split")["auroc"]
    table["auroc_minus_gc_baseline"] = table["auroc"] - table["split"].map(baseline)
    table.to_csv(smk.output.metrics, sep="\t", index=False, float_format="%.4f")
    log.info("metrics:\n%s", table.to_string())


run_script(main, snakemake)  # noqa: F821
