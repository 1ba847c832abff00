"""Labelled fixed-length windows with sequence (rule introgression_windows)."""

import pandas as pd

from genomelearn.introgression.windows import build_windows
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    regions = pd.read_csv(smk.input.regions, sep="\t", header=None, names=["chrom", "start", "end", "label"])
    p = smk.params.windows
    windows, summary = build_windows(
        regions,
        smk.input.reference,
        length=p["length"],
        stride=p["stride"],
        max_n_fraction=p["max_n_fraction"],
        max_per_class=p["max_windows_per_class"],
        block_size=smk.params.block_size,
        seed=smk.params.seed,
    )
    log.info("windows: %s", summary)
    windows.to_parquet(smk.output.windows, index=False)
    pd.DataFrame({"quantity": list(summary), "value": list(summary.values())}).to_csv(
        smk.output.summary, sep="\t", index=False
    )


run_script(main, snakemake)  # noqa: F821
