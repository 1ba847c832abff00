"""Peers of the single-cell embeddings (rules singlecell_scanpy, singlecell_scvi, singlecell_mofa,
singlecell_wnn): one script, the rule's name picks the peer."""

from genomelearn.singlecell.pipeline import mofa_step, scanpy_step, scvi_step, wnn_step
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger().info
    rule = smk.rule
    h5ads = {key: value for key, value in smk.input.items()}
    if rule == "singlecell_scanpy":
        scanpy_step(h5ads, smk.output.embedding, smk.params.settings, smk.params.seed, log=log)
    elif rule == "singlecell_scvi":
        for seed, embedding, history in zip(
            smk.params.seeds, smk.output.embeddings, smk.output.histories
        ):
            scvi_step(
                h5ads, embedding, history, smk.params.settings, seed, threads=smk.threads, log=log
            )
    elif rule == "singlecell_mofa":
        for seed, embedding in zip(smk.params.seeds, smk.output.embeddings):
            mofa_step(h5ads, embedding, smk.params.settings, seed, log=log)
    elif rule == "singlecell_wnn":
        wnn_step(
            smk.input.cells,
            dict(zip(smk.params.omics, smk.input.pcas)),
            smk.output.graph,
            smk.params.n_neighbors,
            smk.params.seed,
            log=log,
        )
    else:
        raise ValueError(f"singlecell_peers.py: unknown rule {rule}")


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
