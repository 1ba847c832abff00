"""Input-space kNN graph per omic and the consensus graph (rule singlecell_graphs)."""

from genomelearn.singlecell.pipeline import graphs_step
from genomelearn.workflow import get_logger, run_script


def main(smk):
    graphs_step(
        smk.wildcards.dataset,
        dict(smk.input.items()),
        smk.output.graphs,
        smk.output.sizes,
        k=smk.params.n_neighbors,
        min_omics=smk.params.min_omics,
        consensus_k=smk.params.consensus_k,
        max_isolated=smk.params.max_isolated,
        block_size=smk.params.block_size,
        seed=smk.params.seed,
        log=get_logger().info,
        n_jobs=smk.threads,
        approximate_above=smk.params.approximate_above,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
