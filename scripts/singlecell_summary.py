"""All datasets' metrics, ranking, AE verdict, graph sizes and training in one table each
(rule singlecell_summary)."""

from genomelearn.singlecell.pipeline import summary_step
from genomelearn.workflow import run_script


def main(smk):
    summary_step(
        list(smk.input.metrics),
        list(smk.input.seeds),
        list(smk.input.sizes),
        list(smk.input.histories),
        {
            "metrics": smk.output.metrics,
            "graph_sizes": smk.output.sizes,
            "training": smk.output.training,
            "ranking": smk.output.ranking,
            "ae_verdict": smk.output.verdict,
        },
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
