"""The steps of the ancient-DNA workflow as functions (the Snakemake scripts are thin wrappers).

Labels: 1 = ancient, 0 = modern, −1 = unknown. Scores are probabilities of "ancient" (or PMD
scores, where larger also means "more likely ancient").
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from genomelearn.adna.features import ReadSource, encode_reads
from genomelearn.adna.splits import balanced_sample, length_matched_indices
from genomelearn.errors import InputError

LABEL_CODE = {"ancient": 1, "modern": 0, "unknown": -1}
META_COLUMNS = ["sample", "record", "name", "length", "read_length", "length_source"]


def load_read_tables(paths: Mapping[str, str | os.PathLike], columns=None) -> pa.Table:
    """Concatenate per-sample read tables (parquet) in the order of ``paths`` ({sample: path})."""
    tables = [pq.read_table(p, columns=columns) for p in paths.values()]
    if not tables:
        raise InputError("no read tables given")
    return pa.concat_tables(tables)


def read_frame(table: pa.Table, sheet: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    """Per-read metadata joined with the sample sheet and the split of each individual.

    Returns:
        DataFrame (one row per read, table order) with the :data:`META_COLUMNS` plus individual,
        label, group, library, split ("train"/"validation"/"test"/"none") and y (1/0/−1).
    """
    frame = table.select(META_COLUMNS).to_pandas()
    info = sheet.reset_index(drop=True)[["sample", "individual", "label", "group", "library"]]
    frame = frame.merge(info, on="sample", how="left", validate="many_to_one")
    if frame["individual"].isna().any():
        missing = sorted(frame.loc[frame["individual"].isna(), "sample"].unique())
        raise InputError(f"read tables contain samples missing from the sample sheet: {missing}")
    frame = frame.merge(splits[["individual", "split"]], on="individual", how="left", validate="many_to_one")
    frame["split"] = frame["split"].fillna("none")
    frame["y"] = frame["label"].map(LABEL_CODE).astype(np.int64)
    return frame


def training_indices(frame: pd.DataFrame, split: str, cap_per_class: int | None, seed: int) -> np.ndarray:
    """Class-balanced (within each group) indices of labelled reads of one split."""
    idx = np.flatnonzero((frame["split"].to_numpy() == split) & (frame["y"].to_numpy() >= 0))
    pick = balanced_sample(frame["y"].to_numpy()[idx], frame["group"].to_numpy()[idx], cap_per_class, seed)
    return idx[pick]


def train_read_model(
    kind: str,
    table: pa.Table,
    frame: pd.DataFrame,
    model_settings: dict,
    train_config,
    checkpoint_dir=None,
    log: Callable[[str], None] | None = None,
):
    """Train a read CNN (``kind`` = "read_cnn", "damage_cnn" or "ends_cnn") with the shared training loop.

    Training and validation reads are class-balanced within each group (caps
    ``max_train_reads_per_class`` / ``max_val_reads_per_class`` per group and class).

    Returns:
        (model on CPU with the best weights, meta dict for :func:`score_reads`, FitResult).
    """
    from genomelearn.models.read_cnn import build_model
    from genomelearn.training import classification_loss, fit, seed_everything

    log = log or (lambda m: None)
    seed = int(train_config.seed)
    train_idx = training_indices(frame, "train", model_settings.get("max_train_reads_per_class"), seed)
    val_idx = training_indices(frame, "validation", model_settings.get("max_val_reads_per_class"), seed + 1)
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise InputError(
            f"{kind}: no class-balanced training ({len(train_idx)}) or validation ({len(val_idx)}) reads: every "
            f"group needs ancient and modern individuals in both splits (see splits.tsv)"
        )
    max_length = int(model_settings.get("max_length", 150))
    ends = int(model_settings.get("ends", 20)) if kind == "ends_cnn" else 0
    y = frame["y"].to_numpy()
    tr = encode_reads(table.take(pa.array(train_idx)), max_length, ends=ends)
    va = encode_reads(table.take(pa.array(val_idx)), max_length, ends=ends)
    log_len = np.log(np.maximum(tr.length, 1))
    meta = {
        "kind": kind,
        "max_length": max_length,
        "ends": ends,
        "length_mean": float(log_len.mean()),
        "length_std": float(log_len.std()) or 1.0,
        "filters": int(model_settings.get("filters", 32)),
        "kernel_size": int(model_settings.get("kernel_size", 5)),
        "hidden": int(model_settings.get("hidden", 16)),
        "n_train": int(len(train_idx)),
        "n_validation": int(len(val_idx)),
    }
    log(f"{kind}: {len(train_idx)} training reads ({int(y[train_idx].sum())} ancient), "
        f"{len(val_idx)} validation reads ({int(y[val_idx].sum())} ancient)")
    seed_everything(seed)
    model = build_model(kind, meta["filters"], meta["kernel_size"], meta["hidden"])
    src_tr = ReadSource(tr, kind, y[train_idx], meta["length_mean"], meta["length_std"])
    src_va = ReadSource(va, kind, y[val_idx], meta["length_mean"], meta["length_std"])
    result = fit(model, src_tr, src_va, classification_loss, train_config, checkpoint_dir=checkpoint_dir, log=log)
    meta["best_epoch"] = int(result.best_epoch)
    meta["device"] = result.device
    return model.cpu(), meta, result


def score_reads(model, meta: dict, table: pa.Table, batch_size: int = 2048, chunk: int = 50000,
                device: str = "auto") -> np.ndarray:
    """P(ancient) of every read of ``table`` (float32 (N,)), in table order.

    Reads are scored in chunks sorted by length (little padding per batch)."""
    from genomelearn.training import predict

    n = table.num_rows
    out = np.zeros(n, dtype=np.float32)
    read_len = np.asarray(table.column("read_length").to_numpy(), dtype=np.int64)
    order = np.argsort(read_len, kind="stable")
    for s in range(0, n, chunk):
        idx = order[s : s + chunk]
        arrays = encode_reads(table.take(pa.array(idx)), meta["max_length"], ends=meta.get("ends", 0))
        src = ReadSource(arrays, meta["kind"], None, meta["length_mean"], meta["length_std"])
        out[idx] = predict(model, src, batch_size=batch_size, device=device)[:, 1]
    return out


def fit_length_model(length: np.ndarray, y: np.ndarray, n_knots: int = 8):
    """Length-only baseline: logistic regression on a cubic spline of log fragment length.

    Returns:
        fitted scikit-learn Pipeline; ``predict_proba(log_length[:, None])[:, 1]`` = P(ancient).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    x = np.log(np.maximum(np.asarray(length, dtype=float), 1.0))[:, None]
    model = make_pipeline(SplineTransformer(n_knots=n_knots, degree=3, extrapolation="constant"),
                          LogisticRegression(max_iter=2000))
    model.fit(x, np.asarray(y))
    return model


def length_model_scores(model, length: np.ndarray) -> np.ndarray:
    """P(ancient) of the length-only model (float64 (N,))."""
    x = np.log(np.maximum(np.asarray(length, dtype=float), 1.0))[:, None]
    return model.predict_proba(x)[:, 1]


def evaluate(frame: pd.DataFrame, scores: Mapping[str, np.ndarray], thresholds: Mapping[str, float],
             bin_width: int = 10, seed: int = 0):
    """Test-set metrics of every model on all test reads and on length-matched subsets.

    Subsets: ``all`` (every labelled read of the test individuals); ``length_matched`` (equal
    class counts per ``bin_width`` bin of fragment length); ``read_length_matched`` (the same on
    the number of bases the sequence models see).

    Returns:
        (metrics DataFrame: model, subset, n, n_ancient, n_modern, auroc, auprc, accuracy,
        balanced_accuracy, threshold; {subset: test-read indices into frame}).
    """
    from genomelearn.evaluation import binary_metrics

    test = np.flatnonzero((frame["split"].to_numpy() == "test") & (frame["y"].to_numpy() >= 0))
    y = frame["y"].to_numpy()
    subsets = {
        "all": test,
        "length_matched": test[length_matched_indices(frame["length"].to_numpy()[test], y[test], bin_width, seed)],
        "read_length_matched": test[
            length_matched_indices(frame["read_length"].to_numpy()[test], y[test], bin_width, seed)
        ],
    }
    rows = []
    for subset, idx in subsets.items():
        for name, score in scores.items():
            m = binary_metrics(y[idx], np.asarray(score)[idx], thresholds.get(name, 0.5))
            rows.append({"model": name, "subset": subset, "n": m["n"], "n_ancient": int(y[idx].sum()),
                         "n_modern": int((y[idx] == 0).sum()), "auroc": m["auroc"], "auprc": m["auprc"],
                         "accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"],
                         "threshold": thresholds.get(name, 0.5)})
    return pd.DataFrame(rows), subsets


def decontamination_threshold(frame: pd.DataFrame, score: np.ndarray, target_fpr: float) -> dict:
    """Threshold at ``target_fpr`` on the modern validation reads, with keep rates on validation
    and test reads of both classes (see :mod:`genomelearn.adna.decontaminate`)."""
    from genomelearn.adna.decontaminate import threshold_at_fpr

    split = frame["split"].to_numpy()
    y = frame["y"].to_numpy()
    score = np.asarray(score, dtype=np.float64)
    neg = score[(split == "validation") & (y == 0)]
    if len(neg) == 0:
        raise InputError("no modern reads among the validation individuals: cannot choose a threshold")
    t = threshold_at_fpr(neg, target_fpr)
    out = {"target_fpr": float(target_fpr), "threshold": t}
    for s in ("validation", "test"):
        for label, name in ((0, "fpr"), (1, "tpr")):
            sel = (split == s) & (y == label)
            out[f"{s}_{name}"] = float(np.mean(score[sel] > t)) if sel.any() else float("nan")
            out[f"{s}_n_{'modern' if label == 0 else 'ancient'}"] = int(sel.sum())
    return out
