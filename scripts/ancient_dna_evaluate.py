"""Cross-validated metrics (out-of-fold scores: every labelled individual scored by a model that
never saw it) of the CNNs and the baselines on all reads and the length-matched subsets, with
individual-bootstrap CIs; ROC/PR plots; the decontamination threshold of the bundle."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from genomelearn.workflow import get_logger, run_script

NAMES = {
    "damage_cnn": "damage-aware CNN",
    "damage_nolength_cnn": "damage-aware CNN (no length)",
    "ends_cnn": "read-ends CNN (no length)",
    "read_cnn": "sequence CNN",
    "pmd_score": "PMD score",
    "length_only": "length only",
}
ORDER = ["damage_cnn", "damage_nolength_cnn", "ends_cnn", "read_cnn", "pmd_score", "length_only"]


def _merge_scores(key: pd.DataFrame, tables, scores: dict, what: str) -> None:
    """Join score tables on (sample, record) in ``key`` order into ``scores`` (NaN where absent)."""
    tbl = pd.concat(tables, ignore_index=True)
    merged = key.merge(tbl, on=["sample", "record"], how="left", validate="one_to_one")
    for col in tbl.columns:
        if col not in ("sample", "record"):
            scores[col] = merged[col].to_numpy(dtype=float)


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
    _merge_scores(key, [pq.read_table(smk.input.baselines).to_pandas()], scores, "baselines")
    by_model = {}
    for path in smk.input.cv:
        tbl = pq.read_table(path).to_pandas()
        model = next(c for c in tbl.columns if c not in ("sample", "record"))
        by_model.setdefault(model, []).append(tbl)
    for model, tables in by_model.items():
        _merge_scores(key, tables, scores, model)
    labelled = np.flatnonzero(frame["fold"].to_numpy() >= 0)
    for name, score in scores.items():
        if np.isnan(score[labelled]).any():
            raise ValueError(
                f"{name}: out-of-fold scores missing for {int(np.isnan(score[labelled]).sum())} "
                f"labelled reads (cross-validation outputs incomplete)"
            )
    ev = smk.params.evaluation
    thresholds = {"pmd_score": float(smk.params.pmd_threshold)}
    metrics, subsets = P.evaluate(
        frame,
        scores,
        thresholds,
        ev["length_bin"],
        ev["seed"],
        reads=labelled,
        n_boot=ev["n_bootstrap"],
    )
    order = {n: i for i, n in enumerate(ORDER)}
    metrics = metrics.sort_values(
        ["subset", "model"], key=lambda c: c.map(order) if c.name == "model" else c
    )
    metrics.insert(2, "n_folds", smk.params.n_folds)
    metrics.to_csv(smk.output.metrics, sep="\t", index=False, float_format="%.4f")
    log.info("metrics:\n%s", metrics.to_string(index=False))
    y = frame["y"].to_numpy()
    for subset, path in (
        ("all", smk.output.roc_all),
        ("length_2d_matched", smk.output.roc_matched),
    ):
        idx = subsets[subset]
        plot_roc_pr(
            {NAMES.get(k, k): (y[idx], v[idx]) for k, v in scores.items()},
            path,
            title=f"out-of-fold, {subset.replace('_', ' ')} reads (n = {len(idx)})",
        )


run_script(main, snakemake)  # noqa: F821
