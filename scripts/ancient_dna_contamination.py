"""Per-sample share of reads kept and contamination estimates, one table."""

import pandas as pd

from genomelearn.workflow import run_script


def main(smk):
    from genomelearn.adna.samplesheet import load_sample_sheet

    sheet = load_sample_sheet(smk.input.sheet).reset_index(drop=True)
    table = pd.concat([pd.read_csv(p, sep="\t") for p in smk.input.summaries], ignore_index=True)
    info = sheet[["sample", "individual", "label", "library", "group"]]
    if smk.input.get("splits"):
        splits = pd.read_csv(smk.input.splits, sep="\t")[["individual", "fold", "split"]]
        info = info.merge(splits, on="individual", how="left")
    table = info.merge(table, on="sample", how="right")
    thr = pd.read_csv(smk.input.threshold, sep="\t", keep_default_na=False).iloc[0]
    # the estimate borrows the keep rates of the validation individuals: it needs enough of them
    # (estimate_reason of the threshold) and only applies to samples of a library type and group
    # present among the validation ancient individuals
    comparable = set(str(thr["comparable"]).split(";")) - {""}
    threshold_ok = str(thr["estimate_applies"]) == "True"
    reasons = []
    for lib, grp in zip(table["library"], table["group"]):
        if not threshold_ok:
            reasons.append(thr["estimate_reason"])
        elif f"{lib}/{grp}" not in comparable:
            reasons.append(f"no validation ancient individual of library {lib}, group {grp}")
        else:
            reasons.append("")
    table["estimate_applies"] = [r == "" for r in reasons]
    table["estimate_reason"] = reasons
    table["validation_tpr"] = float(thr["validation_tpr"])
    table["validation_fpr"] = float(thr["validation_fpr"])
    table.to_csv(smk.output.table, sep="\t", index=False, float_format="%.4g")


run_script(main, snakemake)  # noqa: F821
