"""UMAPs coloured by label and by Leiden cluster, one row per method (rule singlecell_plot)."""

from genomelearn.singlecell.pipeline import plot_step
from genomelearn.workflow import run_script


def main(smk):
    plot_step(smk.input.h5ad, smk.output.png, title=f"single-cell: {smk.wildcards.dataset}")


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
