"""Train the single-omic autoencoder and embed every cell (rule singlecell_train_autoencoder)."""

from genomelearn.singlecell.embed import AutoencoderSettings
from genomelearn.singlecell.pipeline import autoencoder_step
from genomelearn.training import TrainConfig
from genomelearn.workflow import get_logger, run_script


def main(smk):
    autoencoder_step(
        smk.input.h5ad,
        AutoencoderSettings(**smk.params.settings),
        TrainConfig.from_dict(smk.params.training),
        smk.output.embedding,
        smk.output.model,
        smk.output.history,
        smk.params.checkpoints,
        log=get_logger().info,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
