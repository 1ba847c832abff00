"""Labelled fixed-length windows with sequence (rule introgression_windows).

For the ``support`` definition every covered window is tiled, its support (number of maps calling
it) computed, label = support >= 1, and then at most ``max_windows_per_class`` of each label kept.
"""

import pandas as pd

from genomelearn.introgression.windows import assign_blocks, build_windows, subsample_per_class
from genomelearn.io.bed import normalise_contig
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    regions = pd.read_csv(
        smk.input.regions, sep="\t", header=None, names=["chrom", "start", "end", "label"]
    )
    p = smk.params.windows
    support = smk.wildcards.labels == "support"
    windows, summary = build_windows(
        regions,
        smk.input.reference,
        length=p["length"],
        stride=p["stride"],
        max_n_fraction=p["max_n_fraction"],
        max_per_class=0 if support else p["max_windows_per_class"],
        block_size=smk.params.block_size,
        seed=smk.params.seed,
    )
    if support:
        from genomelearn.introgression.labels import read_maps, window_support

        contigs = [normalise_contig(c, "ucsc") for c in smk.params.contigs]
        maps = read_maps(dict(zip(smk.params.methods, smk.input.maps)), contigs)
        windows["support"] = window_support(windows, maps)
        windows["label"] = (windows["support"] > 0).astype("int8")
        for value, n in windows["support"].value_counts().sort_index().items():
            summary[f"windows_support{value}_available"] = int(n)
        windows = subsample_per_class(windows, p["max_windows_per_class"], smk.params.seed)
        windows["block"] = assign_blocks(windows, smk.params.block_size)
        summary["windows_kept"] = len(windows)
        summary["blocks"] = int(windows["block"].nunique())
    log.info("windows: %s", summary)
    windows.to_parquet(smk.output.windows, index=False)
    pd.DataFrame({"quantity": list(summary), "value": list(summary.values())}).to_csv(
        smk.output.summary, sep="\t", index=False
    )


run_script(main, snakemake)  # noqa: F821
