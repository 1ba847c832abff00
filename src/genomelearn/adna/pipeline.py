"""The steps of the ancient-DNA workflow as functions (the Snakemake scripts are thin wrappers).

Labels: 1 = ancient, 0 = modern, −1 = unknown. Scores are probabilities of "ancient" (or PMD
scores, where larger also means "more likely ancient").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

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
        label, group, library, split (role in the final model: "train"/"validation"/"none"),
        fold (CV fold, −1 unlabelled; when ``splits`` has one) and y (1/0/−1).
    """
    frame = table.select(META_COLUMNS).to_pandas()
    info = sheet.reset_index(drop=True)[["sample", "individual", "label", "group", "library"]]
    frame = frame.merge(info, on="sample", how="left", validate="many_to_one")
    if frame["individual"].isna().any():
        missing = sorted(frame.loc[frame["individual"].isna(), "sample"].unique())
        raise InputError(f"read tables contain samples missing from the sample sheet: {missing}")
    cols = ["individual", "split"] + (["fold"] if "fold" in splits.columns else [])
    frame = frame.merge(splits[cols], on="individual", how="left", validate="many_to_one")
    frame["split"] = frame["split"].fillna("none")
    if "fold" in frame.columns:
        frame["fold"] = frame["fold"].fillna(-1).astype(np.int64)
    frame["y"] = frame["label"].map(LABEL_CODE).astype(np.int64)
    return frame


def training_indices(
    frame: pd.DataFrame, split: str, cap_per_class: int | None, seed: int
) -> np.ndarray:
    """Class-balanced (within each group) indices of labelled reads of one split."""
    idx = np.flatnonzero((frame["split"].to_numpy() == split) & (frame["y"].to_numpy() >= 0))
    pick = balanced_sample(
        frame["y"].to_numpy()[idx], frame["group"].to_numpy()[idx], cap_per_class, seed
    )
    return idx[pick]


def training_fingerprint(
    sheet,
    splits,
    reads: list,
    kind: str,
    fold: int,
    model_settings: Mapping,
    training: Mapping,
) -> str:
    """Fingerprint of one read-model training job (rule ancient_dna_train), passed to
    :func:`train_read_model` so that a checkpoint of other inputs or settings is never resumed.

    Args:
        sheet, splits: sample sheet and individual split table (paths).
        reads: per-sample read tables (parquet paths), in sample-sheet order.
        kind: model name (``read_cnn``, ``damage_cnn``, ``ends_cnn``).
        fold: cross-validation round.
        model_settings: the model block (architecture, read caps, ...).
        training: the training block (learning rate, epochs, seed, device, ...).

    Returns:
        :func:`genomelearn.training.input_fingerprint` (sha256 hex) of the full content of every
        input file, the settings and the genomelearn version.
    """
    from genomelearn.training import input_fingerprint

    return input_fingerprint(
        [sheet, splits, *reads],
        {"kind": kind, "fold": fold, "models": dict(model_settings), "training": dict(training)},
    )


def train_read_model(
    kind: str,
    table: pa.Table,
    frame: pd.DataFrame,
    model_settings: dict,
    train_config,
    checkpoint_dir=None,
    log: Callable[[str], None] | None = None,
    fingerprint: str = "",
):
    """Train a read CNN (``kind`` = "read_cnn", "damage_cnn" or "ends_cnn") with the shared training loop.

    Training and validation reads are class-balanced within each group (caps
    ``max_train_reads_per_class`` / ``max_val_reads_per_class`` per group and class).

    ``fingerprint`` (:func:`genomelearn.training.input_fingerprint` of all inputs and settings)
    keeps a checkpoint of other inputs from being resumed.

    Returns:
        (model on CPU with the best weights, meta dict for :func:`score_reads`, FitResult).
    """
    from genomelearn.adna.features import build_read_model
    from genomelearn.training import classification_loss, fit, seed_everything

    log = log or (lambda m: None)
    seed = int(train_config.seed)
    train_idx = training_indices(
        frame, "train", model_settings.get("max_train_reads_per_class"), seed
    )
    val_idx = training_indices(
        frame, "validation", model_settings.get("max_val_reads_per_class"), seed + 1
    )
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
        "n_train": len(train_idx),
        "n_validation": len(val_idx),
    }
    log(
        f"{kind}: {len(train_idx)} training reads ({int(y[train_idx].sum())} ancient), "
        f"{len(val_idx)} validation reads ({int(y[val_idx].sum())} ancient)"
    )
    seed_everything(seed)
    model = build_read_model(kind, meta["filters"], meta["kernel_size"], meta["hidden"])
    src_tr = ReadSource(tr, kind, y[train_idx], meta["length_mean"], meta["length_std"])
    src_va = ReadSource(va, kind, y[val_idx], meta["length_mean"], meta["length_std"])
    result = fit(
        model,
        src_tr,
        src_va,
        classification_loss,
        train_config,
        checkpoint_dir=checkpoint_dir,
        log=log,
        fingerprint=fingerprint,
    )
    meta["best_epoch"] = int(result.best_epoch)
    meta["device"] = result.device
    return model.cpu(), meta, result


def score_reads(
    model,
    meta: dict,
    table: pa.Table,
    batch_size: int = 2048,
    chunk: int = 50000,
    device: str = "auto",
) -> np.ndarray:
    """P(ancient) of every read of ``table`` (float32 (N,)), in table order.

    Reads are scored in chunks sorted by length (little padding per batch)."""
    from genomelearn.training import predict

    n = table.num_rows
    out = np.zeros(n, dtype=np.float32)
    read_len = np.asarray(table.column("read_length").to_numpy(), dtype=np.int64)
    order = np.argsort(read_len, kind="stable")
    for s in range(0, n, chunk):
        idx = order[s : s + chunk]
        arrays = encode_reads(
            table.take(pa.array(idx)), meta["max_length"], ends=meta.get("ends", 0)
        )
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
    model = make_pipeline(
        SplineTransformer(n_knots=n_knots, degree=3, extrapolation="constant"),
        LogisticRegression(max_iter=2000),
    )
    model.fit(x, np.asarray(y))
    return model


def length_model_scores(model, length: np.ndarray) -> np.ndarray:
    """P(ancient) of the length-only model (float64 (N,))."""
    x = np.log(np.maximum(np.asarray(length, dtype=float), 1.0))[:, None]
    return model.predict_proba(x)[:, 1]


def evaluation_subsets(
    frame: pd.DataFrame, idx: np.ndarray, bin_width: int = 10, seed: int = 0
) -> dict:
    """Evaluation subsets of the labelled reads ``idx`` (indices into ``frame``).

    ``all``; ``length_matched`` (equal class counts per ``bin_width`` bin of fragment length);
    ``read_length_matched`` (the same on read length, what the sequence models see);
    ``length_2d_matched`` (the same in joint read-length × fragment-length bins: neither length
    separates the classes there).
    """
    y = frame["y"].to_numpy()[idx]
    length = frame["length"].to_numpy()[idx]
    read_length = frame["read_length"].to_numpy()[idx]
    return {
        "all": idx,
        "length_matched": idx[length_matched_indices(length, y, bin_width, seed)],
        "read_length_matched": idx[length_matched_indices(read_length, y, bin_width, seed)],
        "length_2d_matched": idx[
            length_matched_indices(np.c_[read_length, length], y, bin_width, seed)
        ],
    }


def individual_bootstrap_multiplicities(
    individual_label: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One stratified individual-bootstrap draw: how often each individual is resampled.

    Individuals are resampled with replacement within each label (0, then 1), so every replicate
    keeps the number of individuals of each label. Input: int (n_individuals,) labels 0/1.
    Returns float64 (n_individuals,) multiplicities (weights of the individuals' reads).
    """
    mult = np.zeros(len(individual_label))
    for lab in (0, 1):
        members = np.flatnonzero(individual_label == lab)
        np.add.at(mult, rng.choice(members, size=len(members), replace=True), 1.0)
    return mult


def _ranking_metrics_weighted(
    y_sorted: np.ndarray, last_of_tie: np.ndarray, w: np.ndarray
) -> tuple[float, float]:
    """AUROC and AUPRC (average precision) of reads sorted by descending score, each read weighted
    by ``w`` (its individual's bootstrap multiplicity); ties scored as in scikit-learn."""
    tp = np.cumsum(w * y_sorted)[last_of_tie]
    fp = np.cumsum(w * (1 - y_sorted))[last_of_tie]
    if tp[-1] <= 0 or fp[-1] <= 0:
        return float("nan"), float("nan")
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    auroc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    precision = tp / np.maximum(tp + fp, 1e-300)
    auprc = float(np.sum(np.diff(tpr) * precision))
    return auroc, auprc


def individual_bootstrap(
    y: np.ndarray,
    score: np.ndarray,
    individual: np.ndarray,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Percentile confidence intervals of AUROC and AUPRC by bootstrapping individuals.

    Individuals (not reads) are resampled with replacement within each label, so the interval
    reflects between-individual variation; a read counts as many times as its individual is drawn.
    Vectorised: one sort, then O(N) cumulative sums per replicate.

    Args:
        y: int (N,) 0/1. score: float (N,). individual: (N,) individual of each read.
        n_boot: replicates. seed: RNG seed. level: interval coverage.

    Returns:
        dict auroc_low, auroc_high, auprc_low, auprc_high (NaN without both classes).
    """
    y = np.asarray(y, dtype=np.int64)
    nan = {k: float("nan") for k in ("auroc_low", "auroc_high", "auprc_low", "auprc_high")}
    if len(y) == 0 or y.min() == y.max() or n_boot <= 0:
        return nan
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    s_sorted = np.asarray(score, dtype=np.float64)[order]
    y_sorted = y[order].astype(np.float64)
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
    codes, uniq = pd.factorize(np.asarray(individual)[order])
    ind_label = np.zeros(len(uniq), np.int64)
    ind_label[codes] = y[order]
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(int(n_boot)):
        mult = individual_bootstrap_multiplicities(ind_label, rng)
        stats.append(_ranking_metrics_weighted(y_sorted, last_of_tie, mult[codes]))
    stats = np.asarray(stats)
    a = (1 - level) / 2
    lo = np.nanquantile(stats, a, axis=0)
    hi = np.nanquantile(stats, 1 - a, axis=0)
    return {
        "auroc_low": float(lo[0]),
        "auroc_high": float(hi[0]),
        "auprc_low": float(lo[1]),
        "auprc_high": float(hi[1]),
    }


def evaluate(
    frame: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    bin_width: int = 10,
    seed: int = 0,
    reads: np.ndarray | None = None,
    n_boot: int = 200,
):
    """Metrics of every model on the evaluated reads and on the length-matched subsets, with
    individual-bootstrap CIs of AUROC and AUPRC (:func:`individual_bootstrap`).

    Args:
        frame: :func:`read_frame` output. scores: {model: float (N,)} (out-of-fold scores in CV).
        thresholds: {model: threshold} for accuracy (default 0.5). bin_width, seed: subsets.
        reads: indices of the evaluated reads (default: labelled reads of the "test" split).
        n_boot: bootstrap replicates.

    Returns:
        (metrics DataFrame: model, subset, n, n_ancient, n_modern, n_ancient_individuals,
        n_modern_individuals, auroc, auroc_low, auroc_high, auprc, auprc_low, auprc_high,
        accuracy, balanced_accuracy, threshold; {subset: read indices into frame}).
    """
    from genomelearn.evaluation import binary_metrics

    y = frame["y"].to_numpy()
    if reads is None:
        reads = np.flatnonzero((frame["split"].to_numpy() == "test") & (y >= 0))
    subsets = evaluation_subsets(frame, np.asarray(reads, dtype=np.int64), bin_width, seed)
    individual = frame["individual"].to_numpy()
    rows = []
    for subset, idx in subsets.items():
        n_ind = {lab: int(pd.unique(individual[idx][y[idx] == lab]).size) for lab in (0, 1)}
        for name, score in scores.items():
            sc = np.asarray(score)[idx]
            m = binary_metrics(y[idx], sc, thresholds.get(name, 0.5))
            ci = individual_bootstrap(y[idx], sc, individual[idx], n_boot, seed)
            rows.append(
                {
                    "model": name,
                    "subset": subset,
                    "n": m["n"],
                    "n_ancient": int(y[idx].sum()),
                    "n_modern": int((y[idx] == 0).sum()),
                    "n_ancient_individuals": n_ind[1],
                    "n_modern_individuals": n_ind[0],
                    "auroc": m["auroc"],
                    **{k: ci[k] for k in ("auroc_low", "auroc_high")},
                    "auprc": m["auprc"],
                    **{k: ci[k] for k in ("auprc_low", "auprc_high")},
                    "accuracy": m["accuracy"],
                    "balanced_accuracy": m["balanced_accuracy"],
                    "threshold": thresholds.get(name, 0.5),
                }
            )
    return pd.DataFrame(rows), subsets


def decontamination_threshold(
    frame: pd.DataFrame, score: np.ndarray, target_fpr: float, min_individuals: int = 3
) -> dict:
    """Threshold at ``target_fpr`` on the modern validation reads, with the keep rates (TPR, FPR)
    of the validation reads of both classes (see :mod:`genomelearn.adna.decontaminate`).

    The contamination estimate ĉ borrows those keep rates; it is only trusted when they come from
    at least ``min_individuals`` validation individuals of each label (keep rates vary between
    individuals far more than between reads): otherwise ``estimate_applies`` is False and
    ``estimate_reason`` says why.

    Returns:
        dict target_fpr, threshold, validation_{fpr,tpr}, validation_n_{modern,ancient} (reads),
        validation_{modern,ancient}_individuals, estimate_applies (bool), estimate_reason (str),
        comparable (";"-joined library/group pairs of the ancient validation individuals).

    Raises:
        InputError: when no modern validation read exists (no threshold can be chosen).
    """
    from genomelearn.adna.decontaminate import threshold_at_fpr

    split = frame["split"].to_numpy()
    y = frame["y"].to_numpy()
    score = np.asarray(score, dtype=np.float64)
    neg = score[(split == "validation") & (y == 0)]
    if len(neg) == 0:
        raise InputError(
            "no modern reads among the validation individuals: cannot choose a threshold"
        )
    t = threshold_at_fpr(neg, target_fpr)
    out = {"target_fpr": float(target_fpr), "threshold": t}
    individual = frame["individual"].to_numpy()
    for label, name in ((0, "fpr"), (1, "tpr")):
        sel = (split == "validation") & (y == label)
        word = "modern" if label == 0 else "ancient"
        out[f"validation_{name}"] = float(np.mean(score[sel] > t)) if sel.any() else float("nan")
        out[f"validation_n_{word}"] = int(sel.sum())
        out[f"validation_{word}_individuals"] = int(pd.unique(individual[sel]).size)
    short = [
        f"{out[f'validation_{w}_individuals']} {w}"
        for w in ("ancient", "modern")
        if out[f"validation_{w}_individuals"] < min_individuals
    ]
    out["estimate_applies"] = not short
    out["estimate_reason"] = (
        ""
        if not short
        else f"keep rates from only {' and '.join(short)} validation individual(s); the contamination "
        f"estimate needs at least {min_individuals} per label"
    )
    anc = frame.loc[(split == "validation") & (y == 1), ["library", "group"]].drop_duplicates()
    out["comparable"] = ";".join(sorted(f"{a}/{b}" for a, b in zip(anc["library"], anc["group"])))
    return out


def damage_profile_from_reads(table: pa.Table, positions: int = 25, name: str = "training"):
    """Deamination profile (background removed) of reads with ``sequence`` and ``reference``
    columns in molecule orientation (the read tables), as :func:`simulate.profile_from_damage_tables`
    builds it from damage tables: C→T and G→A frequency at distance 0..positions−1 from each end,
    minus the median of the last 5 positions, clipped at 0.

    Returns:
        :class:`genomelearn.adna.simulate.DamageProfile`.
    """
    from genomelearn.adna.pmd import flat_strings
    from genomelearn.adna.simulate import DamageProfile, _excess

    seq, off = flat_strings(table.column("sequence"))
    ref, _ = flat_strings(table.column("reference"))
    n = len(off) - 1
    p = np.arange(positions)
    valid = p[None, :] < np.diff(off)[:, None]
    curves = {}
    for end, idx in (("5", off[:-1, None] + p), ("3", off[1:, None] - 1 - p)):
        idx = np.where(valid, idx, 0)
        s, r = seq[idx], ref[idx]
        for key, x, y in (("ct", "C", "T"), ("ga", "G", "A")):
            at_x = valid & (r == ord(x))
            total = at_x.sum(axis=0)
            count = (at_x & (s == ord(y))).sum(axis=0)
            freq = (
                np.where(total > 0, count / np.maximum(total, 1), 0.0)
                if n
                else np.zeros(positions)
            )
            curves[key + end] = _excess(freq)
    return DamageProfile(name, curves["ct5"], curves["ga5"], curves["ct3"], curves["ga3"])


def simulated_training_reads(
    table: pa.Table, frame: pd.DataFrame, n_max: int | None, seed: int
) -> tuple[pa.Table, pd.DataFrame, object]:
    """Damage-only training pairs from the training split (``models.add_simulated``).

    The deamination profile is measured on the ancient reads of ``frame``'s training split
    (:func:`damage_profile_from_reads`); up to ``n_max`` modern training reads whose reference is
    all A/C/G/T are drawn, and each is written twice with its own reference as template: once as is
    (label modern) and once deaminated with that profile (label ancient; gargammel-style, Renaud et
    al. 2017, Bioinformatics 33:577, via :func:`genomelearn.adna.simulate.deaminate`). The two
    copies share length, read length and template, so within these pairs only damage separates
    the classes. Validation and test individuals are never used.

    Args:
        table: read table (columns :data:`META_COLUMNS` + sequence + reference), rows of ``frame``.
        frame: :func:`read_frame` / :func:`cv_round` output (split, y).
        n_max: pairs at most (None: every eligible modern training read).
        seed: random seed (read draw and deamination).

    Returns:
        (table of the 2·n simulated reads with ``table``'s schema, their frame rows — sample,
        individual, group and library "simulated", split "train", fold −1 —, the profile).

    Raises:
        InputError: no ancient or no eligible modern read in the training split.
    """
    from genomelearn.adna.pmd import flat_strings
    from genomelearn.adna.simulate import Molecules, deaminate

    train = frame["split"].to_numpy() == "train"
    y = frame["y"].to_numpy()
    anc = np.flatnonzero(train & (y == 1))
    mod = np.flatnonzero(train & (y == 0))
    if not len(anc) or not len(mod):
        raise InputError(
            f"models.add_simulated: the training split has {len(anc)} ancient and {len(mod)} "
            f"modern reads; both are needed (damage profile, templates)"
        )
    profile = damage_profile_from_reads(table.take(pa.array(anc)), name="training_ancient")
    ref, off = flat_strings(table.column("reference").take(pa.array(mod)))
    bad = ~np.isin(ref, np.frombuffer(b"ACGT", dtype=np.uint8))
    bad_per_read = np.add.reduceat(bad, off[:-1]) if len(ref) else np.zeros(len(mod), int)
    lengths = np.diff(off)
    eligible = mod[(bad_per_read == 0) & (lengths > 0)]
    if not len(eligible):
        raise InputError(
            "models.add_simulated: no modern training read with an all-ACGT reference"
        )
    rng = np.random.default_rng(seed)
    n = len(eligible) if n_max is None else min(int(n_max), len(eligible))
    pick = np.sort(rng.choice(eligible, size=n, replace=False))
    src = table.take(pa.array(pick))
    ref, off = flat_strings(src.column("reference"))
    length = np.diff(off)
    j = np.arange(int(length.max()))[None, :]
    valid = j < length[:, None]
    template = np.where(valid, ref[np.where(valid, off[:-1, None] + j, 0)], 0).astype(np.uint8)
    mol = Molecules("", np.zeros(n, np.int64), length, np.zeros(n, bool), template)
    damaged = deaminate(mol, profile, seed + 1)
    damaged_str = [row[:k].tobytes().decode("ascii") for row, k in zip(damaged, length)]
    ref_str = src.column("reference").to_pylist()
    columns = {}
    for name in table.column_names:
        if name == "sample":
            columns[name] = ["simulated"] * (2 * n)
        elif name == "record":
            columns[name] = np.arange(-1, -2 * n - 1, -1)
        elif name == "name":
            columns[name] = [f"sim{i}_{c}" for c in ("undamaged", "damaged") for i in range(n)]
        elif name == "sequence":
            columns[name] = ref_str + damaged_str
        elif name == "reference":
            columns[name] = ref_str + ref_str
        else:
            values = src.column(name).to_pylist()
            columns[name] = values + values
    extra = pa.table(columns, schema=table.schema)
    rows = extra.select(META_COLUMNS).to_pandas()
    rows["individual"] = rows["group"] = rows["library"] = "simulated"
    rows["label"] = ["modern"] * n + ["ancient"] * n
    rows["split"] = "train"
    if "fold" in frame.columns:
        rows["fold"] = -1
    rows["y"] = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]
    return extra, rows[list(frame.columns)], profile


def cv_round(frame: pd.DataFrame, test_fold: int, n_folds: int) -> pd.DataFrame:
    """``frame`` with ``split`` set to the roles of CV round ``test_fold``
    (:func:`genomelearn.adna.splits.fold_roles`)."""
    from genomelearn.adna.splits import fold_roles

    out = frame.copy()
    out["split"] = fold_roles(frame["fold"].to_numpy(), test_fold, n_folds)
    return out


# ---------------------------------------------------------------------------------- model bundles
BUNDLE_FORMAT = "genomelearn-adna-bundle"
BUNDLE_VERSION = 1


def write_bundle(
    directory, model, meta: dict, threshold: dict, settings: dict, fingerprint: str
) -> None:
    """Write a reusable model bundle: ``weights.pt`` (state dict only) and ``bundle.json``
    (format, kind, feature version, encoding/architecture meta, decontamination threshold with its
    validation keep rates, settings, training-data fingerprint, sha256 of the weights)."""
    import hashlib
    import json
    from pathlib import Path

    import torch

    from genomelearn import __version__
    from genomelearn.adna.features import FEATURE_VERSION

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / "weights.pt"
    torch.save(model.state_dict(), weights)
    info = {
        "format": BUNDLE_FORMAT,
        "bundle_version": BUNDLE_VERSION,
        "kind": meta["kind"],
        "feature_version": FEATURE_VERSION,
        "genomelearn_version": __version__,
        "meta": meta,
        "threshold": threshold,
        "settings": settings,
        "training_fingerprint": fingerprint,
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
    }
    (directory / "bundle.json").write_text(
        json.dumps(info, indent=2, sort_keys=True, default=str) + "\n"
    )


def load_bundle(directory):
    """Load a model bundle written by :func:`write_bundle`.

    The JSON metadata is checked first (format, feature version, kind, weights checksum); only then
    are the weights read, with ``torch.load(weights_only=True)``.

    Returns:
        (model in eval mode on CPU, bundle dict).

    Raises:
        InputError: naming the bundle when it is missing, not a bundle, from another feature
            version, of an unknown kind, or its weights do not match their checksum.
    """
    import hashlib
    import json
    from pathlib import Path

    import torch

    from genomelearn.adna.features import FEATURE_VERSION, N_CHANNELS, build_read_model

    directory = Path(directory)
    path = directory / "bundle.json"
    if not path.is_file():
        raise InputError(
            f"model bundle {directory}: no bundle.json (train one with the workflow: "
            f"results/ancient_dna/models/<model>/)"
        )
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"model bundle {path}: not valid JSON ({exc})") from exc
    if not isinstance(info, dict) or info.get("format") != BUNDLE_FORMAT:
        raise InputError(f"model bundle {path}: not a genomelearn ancient-DNA model bundle")
    if info.get("feature_version") != FEATURE_VERSION:
        raise InputError(
            f"model bundle {path}: trained on feature version {info.get('feature_version')}, this genomelearn "
            f"encodes reads as feature version {FEATURE_VERSION}; retrain the bundle with this version"
        )
    if info.get("kind") not in N_CHANNELS:
        raise InputError(f"model bundle {path}: unknown model kind {info.get('kind')!r}")
    weights = directory / "weights.pt"
    if not weights.is_file() or hashlib.sha256(weights.read_bytes()).hexdigest() != info.get(
        "weights_sha256"
    ):
        raise InputError(
            f"model bundle {directory}: weights.pt missing or not the one bundle.json describes"
        )
    meta = info["meta"]
    model = build_read_model(info["kind"], meta["filters"], meta["kernel_size"], meta["hidden"])
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval(), info
