"""Train a read CNN (read_cnn or damage_cnn) with the shared training loop, then score every read."""

import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna import pipeline as P
    from genomelearn.adna.samplesheet import load_sample_sheet
    from genomelearn.training import TrainConfig

    log = get_logger()
    kind = smk.wildcards.model
    sheet = load_sample_sheet(smk.input.sheet)
    splits = pd.read_csv(smk.input.splits, sep="\t")
    paths = dict(zip(sheet["sample"], smk.input.reads))
    table = P.load_read_tables(paths, columns=P.META_COLUMNS + ["sequence", "reference"])
    frame = P.read_frame(table, sheet, splits)
    settings = {k: v for k, v in smk.params.models.items() if k not in ("training", "overrides")}
    config = TrainConfig.from_dict(smk.params.training)
    model, meta, result = P.train_read_model(kind, table, frame, settings, config, smk.params.checkpoint_dir, log.info)
    result.history.to_csv(smk.output.history, sep="\t", index=False)
    torch.save({"state_dict": model.state_dict(), "meta": meta}, smk.output.model)
    scores = P.score_reads(model, meta, table, batch_size=settings.get("score_batch_size", 2048), device=config.device)
    pq.write_table(
        pa.table({"sample": table.column("sample"), "record": table.column("record"), kind: pa.array(scores)}),
        smk.output.scores,
    )
    # the checkpoint only serves to resume an interrupted job: a finished one must not be resumed
    # when the job reruns with other settings
    shutil.rmtree(smk.params.checkpoint_dir, ignore_errors=True)
    log.info("%s: best epoch %d on %s; scored %d reads", kind, meta["best_epoch"], meta["device"], len(scores))


run_script(main, snakemake)  # noqa: F821
