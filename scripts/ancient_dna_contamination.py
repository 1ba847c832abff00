"""Per-sample share of reads kept and contamination estimates, one table."""

import pandas as pd

from genomelearn.workflow import run_script


def main(smk):
    from genomelearn.adna.samplesheet import load_sample_sheet

    sheet = load_sample_sheet(smk.input.sheet).reset_index(drop=True)
    splits = pd.read_csv(smk.input.splits, sep="\t")[["individual", "split"]]
    table = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.summaries], ignore_index=True)
    info = sheet[["sample", "individual", "label", "library", "group"]].merge(splits, on="individual", how="left")
    table = info.merge(table, on="sample", how="right")
    # the estimate borrows the keep rate (TPR) of the validation ancient reads: it only applies to
    # samples of a library type and group present among the validation ancient individuals
    val = sheet.merge(splits, on="individual")
    val = val[(val["split"] == "validation") & (val["label"] == "ancient")]
    comparable = set(zip(val["library"], val["group"]))
    table["estimate_applies"] = [(lib, grp) in comparable for lib, grp in zip(table["library"], table["group"])]
    thr = pd.read_csv(smk.input.threshold, sep="\t").iloc[0]
    table["validation_tpr"] = thr["validation_tpr"]
    table["validation_fpr"] = thr["validation_fpr"]
    table.to_csv(smk.output.table, sep="\t", index=False, float_format="%.4g")


run_script(main, snakemake)  # noqa: F821
