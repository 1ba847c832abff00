"""Test-set metrics (all reads, length-matched reads) of the CNNs and the baselines; ROC/PR plots;
the decontamination threshold at the target false-positive rate."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from genomelearn.workflow import get_logger, run_script

NAMES = {"damage_cnn": "damage-aware CNN", "ends_cnn": "read-ends CNN (no length)", "read_cnn": "sequence CNN",
         "pmd_score": "PMD score", "length_only": "length only"}


def main(smk):
    from genomelearn.adna import pipeline as P
    from genomelearn.adna.samplesheet import load_sample_sheet
    from genomelearn.evaluation import plot_roc_pr

    log = get_logger()
    sheet = load_sample_sheet(smk.input.sheet)
    splits = pd.read_csv(smk.input.splits, sep="\t")
    paths = dict(zip(sheet["sample"], smk.input.reads))
    table = P.load_read_tables(paths, columns=P.META_COLUMNS)
    frame = P.read_frame(table, sheet, splits)
    key = frame[["sample", "record"]]
    scores = {}
    for path in [smk.input.baselines, *smk.input.cnn]:
        tbl = pq.read_table(path).to_pandas()
        merged = key.merge(tbl, on=["sample", "record"], how="left", validate="one_to_one")
        for col in tbl.columns:
            if col not in ("sample", "record"):
                if merged[col].isna().any():
                    raise ValueError(f"{path}: scores missing for some reads")
                scores[col] = merged[col].to_numpy()
    ev = smk.params.evaluation
    thresholds = {"pmd_score": float(smk.params.pmd_threshold)}
    metrics, subsets = P.evaluate(frame, scores, thresholds, ev.get("length_bin", 10), ev.get("seed", 0))
    order = {n: i for i, n in enumerate(["damage_cnn", "ends_cnn", "read_cnn", "pmd_score", "length_only"])}
    metrics = metrics.sort_values(["subset", "model"], key=lambda c: c.map(order) if c.name == "model" else c)
    metrics.to_csv(smk.output.metrics, sep="\t", index=False, float_format="%.4f")
    log.info("metrics:\n%s", metrics.to_string(index=False))
    y = frame["y"].to_numpy()
    for subset, path in (("all", smk.output.roc_all), ("length_matched", smk.output.roc_matched)):
        idx = subsets[subset]
        plot_roc_pr({NAMES.get(k, k): (y[idx], v[idx]) for k, v in scores.items()}, path,
                    title=f"test individuals, {subset.replace('_', '-')} reads (n = {len(idx)})")
    dec = smk.params.decontamination
    model = dec.get("model", "ends_cnn")
    info = P.decontamination_threshold(frame, scores[model], dec.get("target_fpr", 0.01))
    pd.DataFrame([{"model": model, **info}]).to_csv(smk.output.threshold, sep="\t", index=False, float_format="%.6g")
    log.info("threshold: %s", info)


run_script(main, snakemake)  # noqa: F821
