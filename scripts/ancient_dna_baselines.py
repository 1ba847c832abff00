"""Baselines scored on every read: the PMD score (Skoglund et al. 2014) and a length-only model
trained on the class-balanced training reads."""

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
    table = P.load_read_tables(paths, columns=P.META_COLUMNS + ["sequence", "reference", "qualities"])
    frame = P.read_frame(table, sheet, splits)
    pmd_settings = {k: v for k, v in smk.params.pmd.items() if k != "threshold"}
    pmd = pmd_scores_table(table, PMDParameters(**pmd_settings))
    train = P.training_indices(frame, "train", smk.params.models.get("max_train_reads_per_class"), smk.params.seed)
    y = frame["y"].to_numpy()
    length_model = P.fit_length_model(frame["length"].to_numpy()[train], y[train],
                                      smk.params.length_model.get("n_knots", 8))
    length_score = P.length_model_scores(length_model, frame["length"].to_numpy())
    log.info("PMD scores of %d reads; length model trained on %d reads", len(pmd), len(train))
    out = pa.table({
        "sample": table.column("sample"),
        "record": table.column("record"),
        "pmd_score": pa.array(pmd),
        "length_only": pa.array(length_score),
    })
    pq.write_table(out, smk.output.scores)


run_script(main, snakemake)  # noqa: F821
