"""Train the single-omic autoencoder at every seed and embed every cell (rule singlecell_train_autoencoder)."""

from genomelearn.singlecell.embed import AutoencoderSettings
from genomelearn.singlecell.pipeline import autoencoder_step
from genomelearn.training import TrainConfig
from genomelearn.workflow import get_logger, run_script


def main(smk):
    outputs = zip(smk.params.seeds, smk.output.embeddings, smk.output.models, smk.output.histories)
    for seed, embedding, model, history in outputs:
        autoencoder_step(
            smk.input.h5ad,
            AutoencoderSettings(**smk.params.settings),
            TrainConfig.from_dict({**smk.params.training, "seed": seed}),
            embedding,
            model,
            history,
            f"{smk.params.checkpoints}_seed{seed}",
            log=get_logger().info,
        )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
