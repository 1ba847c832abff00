"""Train a read CNN in one individual-level cross-validation round and score the round's test
individuals; the bundle round (split.bundle_fold) also scores every read and writes the reusable
model bundle (weights, threshold, settings, feature version, training-data fingerprint)."""

import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna import pipeline as P
    from genomelearn.adna.samplesheet import load_sample_sheet
    from genomelearn.training import TrainConfig

    log = get_logger()
    kind = smk.wildcards.model
    fold = int(smk.params.fold)
    split = smk.params.split
    sheet = load_sample_sheet(smk.input.sheet)
    splits = pd.read_csv(smk.input.splits, sep="\t")
    paths = dict(zip(sheet["sample"], smk.input.reads))
    table = P.load_read_tables(paths, columns=P.META_COLUMNS + ["sequence", "reference"])
    frame = P.cv_round(P.read_frame(table, sheet, splits), fold, split["n_folds"])
    settings = {
        k: v for k, v in smk.params.models.items() if k not in ("training", "overrides", "bundle")
    }
    config = TrainConfig.from_dict(smk.params.training)
    fingerprint = P.training_fingerprint(
        smk.input.sheet,
        smk.input.splits,
        list(smk.input.reads),
        kind,
        fold,
        settings,
        smk.params.training,
    )
    train_table, train_frame = table, frame
    if settings.get("add_simulated"):
        # damage-only pairs from this round's training split (its ancient reads' profile on its
        # modern reads' templates); validation, test and scoring keep the real reads only
        extra, extra_frame, profile = P.simulated_training_reads(
            table, frame, settings.get("max_train_reads_per_class"), int(config.seed)
        )
        train_table = pa.concat_tables([table, extra])
        train_frame = pd.concat([frame, extra_frame], ignore_index=True)
        log.info(
            "%s fold %d: %d simulated training pairs (terminal C>T 5' %.3f, G>A 3' %.3f)",
            kind,
            fold,
            len(extra) // 2,
            profile.ct5[0],
            profile.ga3[0],
        )
    model, meta, result = P.train_read_model(
        kind,
        train_table,
        train_frame,
        settings,
        config,
        smk.params.checkpoint_dir,
        log.info,
        fingerprint=fingerprint,
    )
    meta["fold"] = fold
    result.history.to_csv(smk.output.history, sep="\t", index=False)
    test = np.flatnonzero(frame["split"].to_numpy() == "test")
    batch = settings["score_batch_size"]
    if smk.params.bundle:
        scores = P.score_reads(model, meta, table, batch_size=batch, device=config.device)
        pq.write_table(
            pa.table(
                {
                    "sample": table.column("sample"),
                    "record": table.column("record"),
                    kind: pa.array(scores),
                }
            ),
            smk.output.scores,
        )
        dec = smk.params.decontamination
        threshold = P.decontamination_threshold(
            frame, scores, dec["target_fpr"], dec["min_validation_individuals"]
        )
        P.write_bundle(
            smk.output.bundle_dir,
            model,
            meta,
            threshold,
            {
                "models": settings,
                "training": smk.params.training,
                "split": split,
                "extraction": smk.params.extraction,
            },
            fingerprint,
        )
        test_scores = scores[test]
    else:
        test_scores = P.score_reads(
            model, meta, table.take(pa.array(test)), batch_size=batch, device=config.device
        )
    pq.write_table(
        pa.table(
            {
                "sample": table.column("sample").take(pa.array(test)),
                "record": table.column("record").take(pa.array(test)),
                kind: pa.array(test_scores),
            }
        ),
        smk.output.cv_scores,
    )
    # the checkpoint only serves to resume an interrupted job: a finished one must not be resumed
    shutil.rmtree(smk.params.checkpoint_dir, ignore_errors=True)
    log.info(
        "%s fold %d: best epoch %d on %s; scored %d test reads",
        kind,
        fold,
        meta["best_epoch"],
        meta["device"],
        len(test),
    )


run_script(main, snakemake)  # noqa: F821
