"""Individual-level K-fold cross-validation folds (stratified by label × group) and the roles of
the bundle's round; refuses folds with too few individuals of a label before anything trains."""

import json

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna.samplesheet import load_sample_sheet
    from genomelearn.adna.splits import (
        assign_folds,
        check_fold_sizes,
        fold_roles,
        individual_table,
    )

    sheet = load_sample_sheet(smk.input.sheet)
    kept = {}
    for path in smk.input.summaries:
        with open(path) as fh:
            s = json.load(fh)
        kept[s["sample"]] = s["kept"]
    split = smk.params.split
    individuals = individual_table(sheet, kept)
    out = assign_folds(individuals, split["n_folds"], split["seed"])
    check_fold_sizes(
        out, split["n_folds"], split["min_individuals_per_label"], str(smk.input.sheet)
    )
    out["split"] = fold_roles(out["fold"].to_numpy(), split["bundle_fold"], split["n_folds"])
    out.to_csv(smk.output.splits, sep="\t", index=False)
    table = out.groupby(["label", "group", "fold"]).agg(
        individuals=("individual", "size"), reads=("n_reads", "sum")
    )
    get_logger().info("folds:\n%s", table.to_string())


run_script(main, snakemake)  # noqa: F821
