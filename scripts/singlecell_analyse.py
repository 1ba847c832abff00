"""Leiden resolution search, scIB metrics and UMAP of every method of a dataset at every seed
(rule singlecell_analyse)."""

from genomelearn.singlecell.pipeline import analyse_step
from genomelearn.workflow import get_logger, run_script


def main(smk):
    s = smk.params.settings
    analyse_step(
        smk.wildcards.dataset,
        smk.input.cells,
        smk.input.first,
        smk.input.graphs,
        smk.params.methods,
        smk.output.h5ad,
        smk.output.metrics,
        smk.output.seeds,
        k=s["n_neighbors"],
        resolutions=s["leiden_resolutions"],
        unlabelled_resolution=s["leiden_resolution"],
        seeds=s["seeds"],
        min_dist=s["umap_min_dist"],
        silhouette_cells=s["silhouette_max_cells"],
        log=get_logger().info,
        n_jobs=smk.threads,
        approximate_above=smk.params.approximate_above,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
