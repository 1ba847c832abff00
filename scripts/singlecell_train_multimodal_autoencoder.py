"""Train the multimodal autoencoder on all omics of a dataset (rule singlecell_train_multimodal_autoencoder)."""

from genomelearn.singlecell.embed import AutoencoderSettings
from genomelearn.singlecell.pipeline import multimodal_step
from genomelearn.training import TrainConfig
from genomelearn.workflow import get_logger, run_script


def main(smk):
    multimodal_step(
        dict(smk.input.items()),
        AutoencoderSettings(**smk.params.settings),
        TrainConfig.from_dict(smk.params.training),
        smk.output.embedding,
        smk.output.model,
        smk.output.history,
        smk.params.checkpoints,
        log=get_logger().info,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
