"""PCA of the concatenated omics, the baseline of the joint autoencoder (rule singlecell_joint_pca)."""

from genomelearn.singlecell.pipeline import joint_pca_step
from genomelearn.workflow import get_logger, run_script


def main(smk):
    joint_pca_step(
        dict(smk.input.items()),
        smk.output.pca,
        n_comps=smk.params.n_components,
        seed=smk.params.seed,
        log=get_logger().info,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
