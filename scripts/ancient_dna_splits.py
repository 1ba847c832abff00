"""Individual-level train / validation / test split (stratified by label and group)."""

import json

import pandas as pd

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna.samplesheet import load_sample_sheet
    from genomelearn.adna.splits import assign_splits

    sheet = load_sample_sheet(smk.input.sheet)
    kept = {}
    for path in smk.input.summaries:
        with open(path) as fh:
            s = json.load(fh)
        kept[s["sample"]] = s["kept"]
    sheet = sheet.assign(n_reads=sheet["sample"].map(kept).fillna(0).astype(int))
    individuals = (
        sheet.groupby("individual")
        .agg(label=("label", "first"), group=("group", "first"), n_reads=("n_reads", "sum"),
             samples=("sample", lambda s: ",".join(s)))
        .reset_index()
    )
    split = smk.params.split
    out = assign_splits(individuals, split.get("fractions", [0.6, 0.2, 0.2]), split.get("seed", 0))
    out.to_csv(smk.output.splits, sep="\t", index=False)
    table = out.groupby(["label", "group", "split"]).agg(individuals=("individual", "size"), reads=("n_reads", "sum"))
    get_logger().info("splits:\n%s", table.to_string())


run_script(main, snakemake)  # noqa: F821
