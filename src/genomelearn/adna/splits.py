"""Leakage-free splits and evaluation subsets.

* :func:`assign_splits` puts whole individuals into train / validation / test, never single reads:
  all reads of an individual (all its samples) share one split. Within each stratum (label ×
  group) individuals are visited from the largest to the smallest (ties in a seeded random order)
  and each goes to the split whose share of the stratum's reads is furthest below its target
  fraction. With very unequal individuals (3 to 8,614 reads here) this keeps the read fractions
  close to the targets, which a random draw of individuals would not. Unknown-label individuals get
  the split "none".
* :func:`balanced_sample` draws equal numbers of reads per class within each group, so that group
  composition (mtDNA vs nuclear reads) carries no class information.
* :func:`length_matched_indices` keeps, in each length bin, the same number of reads of both
  classes: a classifier cannot score above chance there by length alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genomelearn.errors import InputError

SPLITS = ("train", "validation", "test")


def assign_splits(individuals: pd.DataFrame, fractions=(0.6, 0.2, 0.2), seed: int = 0) -> pd.DataFrame:
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
        raise InputError(f"split fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    if individuals["individual"].duplicated().any():
        raise InputError("assign_splits: an individual appears twice; aggregate reads per individual first")
    out = individuals.copy()
    out["split"] = "none"
    rng = np.random.default_rng(seed)
    for (label, group), stratum in sorted(out.groupby(["label", "group"]), key=lambda kv: kv[0]):
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


def balanced_sample(labels: np.ndarray, groups: np.ndarray, cap_per_class: int | None, seed: int = 0) -> np.ndarray:
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
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, dtype=np.int64)


def length_matched_indices(length: np.ndarray, labels: np.ndarray, bin_width: int = 10, seed: int = 0) -> np.ndarray:
    """Indices of a length-matched subset: equal class counts in every length bin.

    Args:
        length: (N,) lengths (bp). labels: (N,) 0/1. bin_width: bin size in bp.
        seed: sampling seed.

    Returns:
        int64 sorted indices; in each bin [k·w, (k+1)·w) both classes have min(n0, n1) reads.
    """
    rng = np.random.default_rng(seed)
    bins = np.asarray(length) // int(bin_width)
    labels = np.asarray(labels)
    chosen = []
    for b in np.unique(bins):
        members = [np.flatnonzero((bins == b) & (labels == c)) for c in (0, 1)]
        n = min(len(members[0]), len(members[1]))
        if n:
            for m in members:
                chosen.append(rng.choice(m, size=n, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, dtype=np.int64)
