"""Block cross-validation folds and the random split of one setting (rule introgression_split).

Writes one split file (window, split) per fold and for the random protocol, and folds.tsv: per
split file the windows, positives and blocks of every role (train, validation, test, buffer =
dropped within buffer_bp of a test window, unused = not drawn by matching).
"""

import pandas as pd

from genomelearn.introgression.cv import make_splits
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    windows = pd.read_parquet(
        smk.input.windows,
        columns=["chrom", "start", "end", "label", "gc", "repeat_fraction", "block"],
    )
    what = f"{smk.wildcards.labels}/{smk.wildcards.matching}"
    matching = smk.params.matching if smk.wildcards.matching == "matched" else None
    splits, counts, _ = make_splits(windows, smk.params.splits, matching, what)
    for name, path in zip(smk.params.names, smk.output.splits):
        pd.DataFrame({"window": range(len(windows)), "split": splits[name]}).to_csv(
            path, sep="\t", index=False
        )
    counts.insert(0, "split", counts["fold"].map(lambda f: "random" if f < 0 else f"fold{f}"))
    counts.to_csv(smk.output.folds, sep="\t", index=False)
    log.info("%s splits:\n%s", what, counts.to_string())


run_script(main, snakemake)  # noqa: F821
