"""Baselines scored on every read: the PMD score (Skoglund et al. 2014; needs no training) and a
length-only model, trained per cross-validation round on that round's class-balanced training
reads and applied to the round's test individuals (out-of-fold scores)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna import pipeline as P
    from genomelearn.adna.pmd import PMDParameters, pmd_scores_table
    from genomelearn.adna.samplesheet import load_sample_sheet

    log = get_logger()
    sheet = load_sample_sheet(smk.input.sheet)
    splits = pd.read_csv(smk.input.splits, sep="\t")
    paths = dict(zip(sheet["sample"], smk.input.reads))
    table = P.load_read_tables(
        paths, columns=P.META_COLUMNS + ["sequence", "reference", "qualities"]
    )
    frame = P.read_frame(table, sheet, splits)
    pmd_settings = {k: v for k, v in smk.params.pmd.items() if k != "threshold"}
    pmd = pmd_scores_table(table, PMDParameters(**pmd_settings))
    n_folds = smk.params.split["n_folds"]
    length = frame["length"].to_numpy()
    y = frame["y"].to_numpy()
    length_score = np.full(len(frame), np.nan)
    for fold in range(n_folds):
        rnd = P.cv_round(frame, fold, n_folds)
        train = P.training_indices(
            rnd, "train", smk.params.models["max_train_reads_per_class"], smk.params.seed
        )
        model = P.fit_length_model(length[train], y[train], smk.params.length_model["n_knots"])
        test = rnd["split"].to_numpy() == "test"
        length_score[test] = P.length_model_scores(model, length[test])
        if fold == smk.params.split["bundle_fold"]:
            rest = rnd["split"].to_numpy() != "test"
            length_score[rest] = P.length_model_scores(model, length[rest])
    log.info("PMD scores of %d reads; length model out-of-fold over %d folds", len(pmd), n_folds)
    pq.write_table(
        pa.table(
            {
                "sample": table.column("sample"),
                "record": table.column("record"),
                "pmd_score": pa.array(pmd),
                "length_only": pa.array(length_score),
            }
        ),
        smk.output.scores,
    )


run_script(main, snakemake)  # noqa: F821
