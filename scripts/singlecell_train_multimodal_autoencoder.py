"""Train the multimodal autoencoder on all omics of a dataset at every seed
(rule singlecell_train_multimodal_autoencoder)."""

from genomelearn.singlecell.embed import AutoencoderSettings
from genomelearn.singlecell.pipeline import multimodal_step
from genomelearn.training import TrainConfig
from genomelearn.workflow import get_logger, run_script


def main(smk):
    outputs = zip(smk.params.seeds, smk.output.embeddings, smk.output.models, smk.output.histories)
    for seed, embedding, model, history in outputs:
        multimodal_step(
            dict(smk.input.items()),
            AutoencoderSettings(**smk.params.settings),
            TrainConfig.from_dict({**smk.params.training, "seed": seed}),
            embedding,
            model,
            history,
            f"{smk.params.checkpoints}_seed{seed}",
            log=get_logger().info,
        )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
