"""All datasets' metrics, graph sizes and autoencoder training in three tables (rule singlecell_summary)."""

from genomelearn.singlecell.pipeline import summary_step
from genomelearn.workflow import run_script


def main(smk):
    summary_step(
        list(smk.input.metrics),
        list(smk.input.sizes),
        list(smk.input.histories),
        smk.output.metrics,
        smk.output.sizes,
        smk.output.training,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
