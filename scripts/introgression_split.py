"""Train/validation/test assignment of every window (rule introgression_split)."""

import pandas as pd

from genomelearn.introgression.splits import block_split, random_split
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    windows = pd.read_parquet(smk.input.windows, columns=["chrom", "start", "end", "label", "block"])
    p = smk.params.splits
    if smk.wildcards.split == "blocks":
        split = block_split(windows, p["fractions"], p["seed"], p["buffer_bp"])
    else:
        split = random_split(len(windows), p["fractions"], p["seed"])
    out = pd.DataFrame({"window": range(len(windows)), "split": split, "label": windows["label"], "block": windows["block"]})
    counts = out.groupby(["split", "label"]).size().unstack(fill_value=0)
    log.info("split %s:\n%s", smk.wildcards.split, counts.to_string())
    for name in ("train", "validation", "test"):
        if name not in counts.index or (counts.loc[name] == 0).any():
            raise ValueError(
                f"split {smk.wildcards.split!r}: the {name} set lacks a class ({counts.to_dict()}); "
                "use more contigs, smaller blocks or more windows"
            )
    out[["window", "split"]].to_csv(smk.output.split, sep="\t", index=False)


run_script(main, snakemake)  # noqa: F821
