"""scanpy-native <dataset>.h5ad and MuData <dataset>.h5mu of a dataset (rule singlecell_export)."""

from genomelearn.singlecell.export import export_step
from genomelearn.workflow import get_logger, run_script


def main(smk):
    omics = {
        key[len("omic_") :]: path for key, path in smk.input.items() if key.startswith("omic_")
    }
    export_step(
        smk.input.cells,
        omics,
        smk.input.graphs,
        smk.input.analysis,
        smk.output.h5ad,
        smk.output.h5mu,
        k=smk.params.n_neighbors,
        seed=smk.params.seed,
        approximate_above=smk.params.approximate_above,
        log=get_logger().info,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
