"""Preprocess one omic of a dataset and compute its PCA (rule singlecell_preprocess)."""

from genomelearn.singlecell.pipeline import preprocess_step
from genomelearn.workflow import get_logger, run_script


def main(smk):
    resolved = dict(smk.params.resolved)
    preprocess_step(
        smk.wildcards.dataset,
        smk.wildcards.omic,
        smk.params.spec,
        lambda path: resolved.get(path, path),
        smk.input.cells,
        smk.output.h5ad,
        smk.output.pca,
        n_comps=smk.params.n_components,
        seed=smk.params.seed,
        log=get_logger().info,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
