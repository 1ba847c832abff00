"""Leakage-free splits and evaluation subsets.

* :func:`assign_splits` puts whole individuals into train / validation / test, never single reads:
  all reads of an individual (all its samples) share one split. Within each stratum (label ×
  group) individuals are visited from the largest to the smallest (ties in a seeded random order)
  and each goes to the split whose share of the stratum's reads is furthest below its target
  fraction. With very unequal individuals (3 to 8,614 reads here) this keeps the read fractions
  close to the targets, which a random draw of individuals would not. Unknown-label individuals get
  the split "none".
* :func:`assign_folds` puts whole individuals into K cross-validation folds, stratified by label ×
  group (each fold gets as equal a number of individuals of each label as possible); fold f is the
  test set of CV round f, fold f+1 (mod K) its validation set (early stopping) and the others its
  training set (:func:`fold_roles`), so every labelled individual is scored by a model that never
  saw it. :func:`check_fold_sizes` refuses, before anything trains, folds too small to evaluate.
* :func:`balanced_sample` draws equal numbers of reads per class within each group, so that group
  composition (mtDNA vs nuclear reads) carries no class information.
* :func:`length_matched_indices` keeps, in each length bin, the same number of reads of both
  classes: a classifier cannot score above chance there by length alone. Given several length
  columns (read length × fragment length) it matches in their joint (2-D) bins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genomelearn.errors import InputError

SPLITS = ("train", "validation", "test")


def assign_splits(
    individuals: pd.DataFrame, fractions=(0.6, 0.2, 0.2), seed: int = 0
) -> pd.DataFrame:
    """Assign each individual to train / validation / test.

    Args:
        individuals: one row per individual with columns individual, label, group, n_reads.
        fractions: target read fractions of train, validation, test (sum 1).
        seed: seed of the tie-breaking order.

    Returns:
        ``individuals`` plus a ``split`` column (``"none"`` for label unknown), sorted by label,
        group, split, individual.

    Raises:
        InputError: if fractions are not three non-negative numbers summing to 1, or an
            individual appears twice.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (3,) or (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise InputError(
            f"split fractions must be three non-negative numbers summing to 1, got {list(fractions)}"
        )
    if individuals["individual"].duplicated().any():
        raise InputError(
            "assign_splits: an individual appears twice; aggregate reads per individual first"
        )
    out = individuals.copy()
    out["split"] = "none"
    rng = np.random.default_rng(seed)
    for (label, _group), stratum in sorted(out.groupby(["label", "group"]), key=lambda kv: kv[0]):
        if label == "unknown":
            continue
        order = rng.permutation(len(stratum))
        stratum = stratum.iloc[order]
        stratum = stratum.iloc[np.argsort(-stratum["n_reads"].to_numpy(), kind="stable")]
        total = float(stratum["n_reads"].sum())
        target = fractions * total
        current = np.zeros(3)
        for idx, n in zip(stratum.index, stratum["n_reads"].to_numpy()):
            deficit = target - current
            deficit[fractions == 0] = -np.inf
            choice = int(np.argmax(deficit))  # ties: train before validation before test
            out.loc[idx, "split"] = SPLITS[choice]
            current[choice] += n
    return out.sort_values(["label", "group", "split", "individual"]).reset_index(drop=True)


def balanced_sample(
    labels: np.ndarray, groups: np.ndarray, cap_per_class: int | None, seed: int = 0
) -> np.ndarray:
    """Indices of a class-balanced sample within each group.

    In every group, both classes contribute ``min(n_class0, n_class1, cap_per_class)`` reads drawn
    without replacement; groups with a single class contribute nothing.

    Args:
        labels: (N,) int 0/1. groups: (N,) group names. cap_per_class: maximum reads per class and
            group (None: no cap). seed: sampling seed.

    Returns:
        int64 sorted indices.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    chosen = []
    for group in sorted(set(groups.tolist())):
        idx = [np.flatnonzero((groups == group) & (labels == c)) for c in (0, 1)]
        n = min(len(idx[0]), len(idx[1]))
        if cap_per_class is not None:
            n = min(n, int(cap_per_class))
        for members in idx:
            if n:
                chosen.append(rng.choice(members, size=n, replace=False))
    return (
        np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, dtype=np.int64)
    )


def length_matched_indices(
    length: np.ndarray, labels: np.ndarray, bin_width: int = 10, seed: int = 0
) -> np.ndarray:
    """Indices of a length-matched subset: equal class counts in every length bin.

    Args:
        length: (N,) lengths (bp), or (N, D) several lengths (e.g. read and fragment length):
            matched in their joint bins. labels: (N,) 0/1. bin_width: bin size in bp.
        seed: sampling seed.

    Returns:
        int64 sorted indices; in each bin [k·w, (k+1)·w) (each column) both classes have
        min(n0, n1) reads.
    """
    rng = np.random.default_rng(seed)
    bins = np.asarray(length, dtype=np.int64) // int(bin_width)
    if bins.ndim == 2:
        bins = np.unique(bins, axis=0, return_inverse=True)[1].reshape(-1)
    labels = np.asarray(labels)
    chosen = []
    for b in np.unique(bins):
        members = [np.flatnonzero((bins == b) & (labels == c)) for c in (0, 1)]
        n = min(len(members[0]), len(members[1]))
        if n:
            for m in members:
                chosen.append(rng.choice(m, size=n, replace=False))
    return (
        np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, dtype=np.int64)
    )


def assign_folds(individuals: pd.DataFrame, n_folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """Assign each labelled individual to one of ``n_folds`` cross-validation folds.

    Strata (label × group) are visited in sorted order; within a stratum individuals go from the
    largest to the smallest (ties in a seeded random order), each to the fold with the fewest
    individuals of its label, then of its stratum, then the fewest reads of its label (then the
    lowest fold number). Fold sizes per label therefore differ by at most one individual.

    Args:
        individuals: one row per individual with columns individual, label, group, n_reads.
        n_folds: K (≥ 3: a test, a validation and at least one training fold per round).
        seed: seed of the tie-breaking order.

    Returns:
        ``individuals`` plus an int ``fold`` column (0..K−1; −1 for label unknown), sorted by
        label, group, fold, individual.

    Raises:
        InputError: if n_folds < 3 or an individual appears twice.
    """
    if int(n_folds) < 3:
        raise InputError(
            f"cross-validation needs at least 3 folds (test, validation, training), got {n_folds}"
        )
    if individuals["individual"].duplicated().any():
        raise InputError(
            "assign_folds: an individual appears twice; aggregate reads per individual first"
        )
    k = int(n_folds)
    out = individuals.copy()
    out["fold"] = -1
    rng = np.random.default_rng(seed)
    per_label = {lab: np.zeros(k, np.int64) for lab in out["label"].unique()}
    reads_label = {lab: np.zeros(k, np.int64) for lab in out["label"].unique()}
    for (label, _group), stratum in sorted(out.groupby(["label", "group"]), key=lambda kv: kv[0]):
        if label == "unknown":
            continue
        stratum = stratum.iloc[rng.permutation(len(stratum))]
        stratum = stratum.iloc[np.argsort(-stratum["n_reads"].to_numpy(), kind="stable")]
        in_stratum = np.zeros(k, np.int64)
        for idx, n in zip(stratum.index, stratum["n_reads"].to_numpy()):
            order = np.lexsort((np.arange(k), reads_label[label], in_stratum, per_label[label]))
            f = int(order[0])
            out.loc[idx, "fold"] = f
            per_label[label][f] += 1
            in_stratum[f] += 1
            reads_label[label][f] += int(n)
    out["fold"] = out["fold"].astype(int)
    return out.sort_values(["label", "group", "fold", "individual"]).reset_index(drop=True)


def fold_roles(folds: np.ndarray, test_fold: int, n_folds: int) -> np.ndarray:
    """Role of every individual/read in CV round ``test_fold``: "test" (fold = test_fold),
    "validation" (fold = test_fold + 1 mod K), "train" (other folds), "none" (fold −1).

    Args:
        folds: int (N,) fold of each item. test_fold: 0..K−1. n_folds: K.

    Returns:
        object array (N,) of role strings.
    """
    folds = np.asarray(folds)
    val = (int(test_fold) + 1) % int(n_folds)
    return np.where(
        folds < 0,
        "none",
        np.where(folds == test_fold, "test", np.where(folds == val, "validation", "train")),
    ).astype(object)


def check_fold_sizes(
    folds: pd.DataFrame, n_folds: int, min_individuals: int, sheet: str = "the sample sheet"
) -> None:
    """Refuse cross-validation folds too small to train and evaluate on, before anything trains.

    Every fold serves as the test set of one round and the validation set of another, so each fold
    must hold at least ``min_individuals`` individuals of each label (ancient, modern).

    Args:
        folds: output of :func:`assign_folds`. n_folds: K. min_individuals: minimum per label and
            fold. sheet: path of the sample sheet (named in the error).

    Raises:
        InputError: naming the per-label, per-fold counts, the totals and the sample sheet.
    """
    lab = folds[folds["fold"] >= 0]
    counts = {
        label: np.bincount(lab.loc[lab["label"] == label, "fold"].to_numpy(), minlength=n_folds)[
            :n_folds
        ]
        for label in ("ancient", "modern")
    }
    bad = {label: c for label, c in counts.items() if (c < min_individuals).any()}
    if bad:
        totals = {label: int(c.sum()) for label, c in counts.items()}
        detail = "; ".join(f"{label}: {c.tolist()}" for label, c in counts.items())
        raise InputError(
            f"{sheet}: too few labelled individuals for {n_folds}-fold individual-level cross-validation. "
            f"Every fold is the test set of one round and the validation set of another and needs at least "
            f"{min_individuals} individual(s) of each label; individuals per fold: {detail} "
            f"(totals: {totals['ancient']} ancient, {totals['modern']} modern). Add labelled individuals, "
            f"lower ancient_dna.split.n_folds (≥ 3) or ancient_dna.split.min_individuals_per_label, or score "
            f"the samples with a trained bundle (ancient_dna.models.bundle)."
        )


def individual_table(sheet: pd.DataFrame, kept_reads: dict | None = None) -> pd.DataFrame:
    """One row per individual of a sample sheet: individual, label, group, n_reads (sum over its
    samples of ``kept_reads[sample]``; 0 when not given), samples (comma-joined)."""
    kept_reads = kept_reads or {}
    sheet = sheet.reset_index(drop=True).assign(
        n_reads=lambda d: d["sample"].map(kept_reads).fillna(0).astype(int)
    )
    return (
        sheet.groupby("individual")
        .agg(
            label=("label", "first"),
            group=("group", "first"),
            n_reads=("n_reads", "sum"),
            samples=("sample", lambda s: ",".join(s)),
        )
        .reset_index()
    )
