"""Block K-fold cross-validation of the introgression models.

Genomic blocks (default 1 Mb) are dealt whole into K folds, balanced for the label mix of their
blocks (every fold gets a similar share of the positive and of the negative windows). Each window
is tested exactly once, out of fold. For test fold ``f``:

* test = the windows of fold ``f``'s blocks;
* validation = whole blocks drawn (balanced in the same way) from the other folds' blocks, used for
  early stopping and for the decision threshold;
* train = the remaining blocks;
* buffer = training or validation windows closer than ``buffer_bp`` to a test window of fold
  ``f``: dropped and counted (GC is autocorrelated over hundreds of kb);
* unused = windows left out of the setting (composition matching drops windows).

A split file per fold (``window``, ``split``) is what every model of that fold reads, so all models
see exactly the same windows (Roberts et al. 2017, "Cross-validation strategies for data with
temporal, spatial, hierarchical, or phylogenetic structure", Ecography 40:913).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genomelearn.errors import InputError
from genomelearn.introgression.splits import distance_to_nearest

ROLES = ("train", "validation", "test", "buffer", "unused")

__all__ = [
    "ROLES",
    "assign_block_folds",
    "balanced_threshold",
    "check_folds",
    "fold_roles",
    "fold_table",
]


def _block_counts(blocks: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"block": blocks, "pos": labels > 0, "neg": labels <= 0})
    return frame.groupby("block", sort=True)[["pos", "neg"]].sum().astype(np.int64)


def assign_block_folds(blocks, labels, n_folds: int, seed: int) -> dict:
    """Deal genomic blocks into ``n_folds`` folds balanced for the label mix.

    Greedy balancing (largest block first, ties in a seeded random order): each block goes to the
    fold whose larger class share (positives of the fold / all positives, negatives of the fold /
    all negatives) stays smallest after adding it.

    Args:
        blocks: (N,) block id of each window (any hashable dtype).
        labels: (N,) binary label of each window (> 0 = positive).
        n_folds: number of folds (>= 2).
        seed: seed of the tie-breaking order.

    Returns:
        dict block id -> fold (int, 0..n_folds-1).

    Raises:
        ValueError: if ``n_folds < 2`` or there are fewer blocks than folds.
    """
    if n_folds < 2:
        raise ValueError(f"block cross-validation needs at least 2 folds, got {n_folds}")
    counts = _block_counts(np.asarray(blocks), np.asarray(labels))
    if len(counts) < n_folds:
        raise ValueError(
            f"{len(counts)} genomic blocks cannot fill {n_folds} folds; use fewer folds or smaller blocks"
        )
    total_pos, total_neg = max(counts["pos"].sum(), 1), max(counts["neg"].sum(), 1)
    share = counts["pos"].to_numpy() / total_pos + counts["neg"].to_numpy() / total_neg
    order = np.random.default_rng(seed).permutation(len(counts))
    order = order[np.argsort(-share[order], kind="stable")]
    pos, neg = np.zeros(n_folds), np.zeros(n_folds)
    assignment = {}
    for i in order:
        p, n = counts["pos"].iat[i] / total_pos, counts["neg"].iat[i] / total_neg
        cost = np.maximum(pos + p, neg + n) + 1e-3 * (pos + neg)
        f = int(np.argmin(cost))
        pos[f] += p
        neg[f] += n
        assignment[counts.index[i]] = f
    return assignment


def check_folds(
    fold: np.ndarray, labels: np.ndarray, blocks: np.ndarray, n_folds: int, what: str
) -> pd.DataFrame:
    """Per fold: blocks, positive and negative windows; raise when a fold lacks a class.

    Args:
        fold: (N,) fold of each window (-1 = not used).
        labels: (N,) binary labels.
        blocks: (N,) block ids.
        n_folds: number of folds.
        what: name of the label definition/setting, for the error message.

    Returns:
        DataFrame fold, n_blocks, n_positive, n_negative.

    Raises:
        InputError: naming ``what`` and the per-fold block and window counts when a fold has no
            window of one class (its AUROC would be undefined and its training set one-sided).
    """
    rows = []
    for f in range(n_folds):
        sel = fold == f
        rows.append(
            {
                "fold": f,
                "n_blocks": int(pd.unique(blocks[sel]).size),
                "n_positive": int((labels[sel] > 0).sum()),
                "n_negative": int((labels[sel] <= 0).sum()),
            }
        )
    table = pd.DataFrame(rows)
    bad = table[(table["n_positive"] == 0) | (table["n_negative"] == 0)]
    if len(bad):
        raise InputError(
            f"label definition {what!r}: fold(s) {bad['fold'].tolist()} lack a class; per fold "
            f"(blocks, positive windows, negative windows): "
            + ", ".join(
                f"{r.fold}: ({r.n_blocks}, {r.n_positive}, {r.n_negative})"
                for r in table.itertuples()
            )
            + ". Use fewer folds, smaller blocks or another label definition."
        )
    return table


def fold_roles(
    windows: pd.DataFrame,
    fold: np.ndarray,
    test_fold: int,
    buffer_bp: int,
    validation_fraction: float,
    seed: int,
    used: np.ndarray | None = None,
) -> np.ndarray:
    """Role of every window for one test fold: train / validation / test / buffer / unused.

    Args:
        windows: frame with chrom, start, end, block, label (binary).
        fold: (N,) int fold of each window's block.
        test_fold: the held-out fold.
        buffer_bp: non-test windows closer than this (bp, interval gap) to a test window become
            ``buffer``.
        validation_fraction: share of the non-test blocks held out as validation (whole blocks,
            drawn among the windows outside the buffer and balanced for label mix like the folds).
        seed: seed of the validation draw (combined with ``test_fold``).
        used: optional (N,) bool; False windows are ``unused`` (e.g. not drawn by matching).

    Returns:
        object array (N,) of roles.

    Raises:
        InputError: if the validation or the training windows lack a class.
    """
    n = len(windows)
    used = np.ones(n, dtype=bool) if used is None else np.asarray(used, dtype=bool)
    labels = windows["label"].to_numpy()
    blocks = windows["block"].to_numpy()
    role = np.full(n, "unused", dtype=object)
    test = used & (fold == test_fold)
    rest = used & (fold != test_fold)
    role[test] = "test"
    near = (
        distance_to_nearest(windows, test) < buffer_bp
        if buffer_bp > 0
        else np.zeros(n, dtype=bool)
    )
    # validation blocks are drawn among the windows the buffer keeps, balanced for their label
    # mix, so that the buffer cannot empty the validation set of a class
    kept = rest & ~near
    n_val_groups = max(round(1 / validation_fraction), 2)
    val_of = assign_block_folds(
        blocks[kept], labels[kept], n_val_groups, seed + 7919 * (test_fold + 1)
    )
    group = pd.Series(blocks).map(val_of).to_numpy()
    # the validation set is the first group holding both classes (a greedy deal of few, large
    # blocks can leave a group with one class)
    val_group = 0
    for g in range(n_val_groups):
        lab = labels[kept & (group == g)]
        if (lab > 0).any() and (lab <= 0).any():
            val_group = g
            break
    is_val = kept & (group == val_group)
    role[rest] = "train"
    role[is_val] = "validation"
    role[rest & near] = "buffer"
    for name in ("train", "validation"):
        lab = labels[role == name]
        if (lab > 0).sum() == 0 or (lab <= 0).sum() == 0:
            raise InputError(
                f"test fold {test_fold}: the {name} windows lack a class after the {buffer_bp}-bp buffer "
                f"({int((lab > 0).sum())} positive, {int((lab <= 0).sum())} negative); use a smaller "
                "buffer_bp, fewer folds or smaller blocks"
            )
    return role


def fold_table(windows: pd.DataFrame, fold: np.ndarray, roles: dict) -> pd.DataFrame:
    """Counts per test fold and role (windows, positives, blocks): the buffer drop made visible.

    Args:
        windows: frame with label and block.
        fold: (N,) fold of each window.
        roles: {test fold: role array from :func:`fold_roles`}.

    Returns:
        long DataFrame fold, role, n_windows, n_positive, n_blocks.
    """
    rows = []
    labels, blocks = windows["label"].to_numpy(), windows["block"].to_numpy()
    for f, role in roles.items():
        for name in ROLES:
            sel = role == name
            rows.append(
                {
                    "fold": f,
                    "role": name,
                    "n_windows": int(sel.sum()),
                    "n_positive": int((labels[sel] > 0).sum()),
                    "n_blocks": int(pd.unique(blocks[sel]).size),
                }
            )
    return pd.DataFrame(rows)


def balanced_threshold(labels, score) -> float:
    """Decision threshold maximising balanced accuracy (Youden's J) on validation windows.

    Args:
        labels: (N,) binary labels.
        score: (N,) scores (higher = class 1).

    Returns:
        float threshold t; class 1 is called when ``score >= t``. 0.5 if a class is absent.
    """
    from sklearn.metrics import roc_curve

    labels = np.asarray(labels).astype(int)
    if labels.min(initial=1) == labels.max(initial=0):
        return 0.5
    fpr, tpr, thresholds = roc_curve(labels, np.asarray(score, dtype=float))
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], np.finfo(np.float64).max))


def matched_windows(
    windows: pd.DataFrame,
    fold: np.ndarray,
    n_folds: int,
    gc_bins: int,
    repeat_bins: int,
    seed: int,
) -> np.ndarray:
    """Composition matching inside each fold: bool (N,) of the windows kept.

    Within the windows of each fold, negatives are drawn to the positives' joint GC x
    repeat-fraction distribution (:func:`genomelearn.introgression.matching.match_composition`,
    coarsened exact matching), so every fold's test set, and hence every training set made of
    other folds, is matched.

    Raises:
        InputError: when matching leaves a fold without one of the classes (names the fold).
    """
    from genomelearn.introgression.matching import match_composition

    keep = np.zeros(len(windows), dtype=bool)
    labels = (windows["label"].to_numpy() > 0).astype(np.int8)
    gc, rep = windows["gc"].to_numpy(), windows["repeat_fraction"].to_numpy()
    for f in range(n_folds):
        idx = np.flatnonzero(fold == f)
        try:
            chosen = match_composition(
                labels[idx], gc[idx], rep[idx], gc_bins, repeat_bins, seed + f
            )
        except ValueError as exc:
            raise InputError(
                f"composition matching in fold {f} ({len(idx)} windows): {exc}"
            ) from exc
        keep[idx[chosen]] = True
    return keep


def make_splits(
    windows: pd.DataFrame, splits: dict, matching: dict | None, what: str
) -> tuple[dict, pd.DataFrame, np.ndarray]:
    """All split arrays of one setting: ``fold<f>`` for the block CV and ``random``.

    Args:
        windows: chrom, start, end, label (binary; for ``support`` the windows called by >= 1
            map), gc, repeat_fraction, block.
        splits: the ``splits`` config (methods, folds, validation_fraction, fractions, buffer_bp,
            seed).
        matching: the ``matching`` config (gc_bins, repeat_bins), or None for unmatched.
        what: setting name for error messages (e.g. ``deserts/matched``).

    Returns:
        (split_arrays, fold_counts, fold): split name -> object (N,) roles; the per-fold role
        counts of :func:`fold_table` (random protocol as fold -1); fold (N,) int of each window.

    Raises:
        InputError: a fold, or a fold's training/validation set, without one of the classes.
    """
    from genomelearn.introgression.splits import random_split

    labels = windows["label"].to_numpy()
    blocks = windows["block"].to_numpy()
    k, seed = splits["folds"], splits["seed"]
    fold_of = assign_block_folds(blocks, labels, k, seed)
    fold = pd.Series(blocks).map(fold_of).to_numpy().astype(np.int64)
    check_folds(fold, labels, blocks, k, what)
    used = np.ones(len(windows), dtype=bool)
    if matching is not None:
        used = matched_windows(
            windows, fold, k, matching["gc_bins"], matching["repeat_bins"], seed
        )
        check_folds(np.where(used, fold, -1), labels, blocks, k, what)
    out, roles = {}, {}
    if "blocks" in splits["methods"]:
        for f in range(k):
            roles[f] = out[f"fold{f}"] = fold_roles(
                windows, fold, f, splits["buffer_bp"], splits["validation_fraction"], seed, used
            )
    if "random" in splits["methods"]:
        role = np.full(len(windows), "unused", dtype=object)
        role[used] = random_split(int(used.sum()), splits["fractions"], seed)
        roles[-1] = out["random"] = role
    return out, fold_table(windows, fold, roles), fold
