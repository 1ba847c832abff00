"""Metrics tables and plots for binary classifiers (scikit-learn metrics, matplotlib figures)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402


def binary_metrics(y_true, score, threshold: float = 0.5) -> dict:
    """Threshold and ranking metrics of a binary classifier.

    Args:
        y_true: (N,) labels in {0, 1}.
        score: (N,) score or probability of class 1 (float).
        threshold: class-1 call when ``score >= threshold``.

    Returns:
        dict with n, accuracy, balanced_accuracy, auroc (ROC AUC), auprc (average precision,
        scikit-learn's step-wise AUPRC); AUROC/AUPRC are NaN when only one class is present.
    """
    y_true = np.asarray(y_true).astype(int)
    score = np.asarray(score, dtype=float)
    pred = (score >= threshold).astype(int)
    both = len(np.unique(y_true)) == 2
    return {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, pred)) if len(y_true) else float("nan"),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, pred))
        if both
        else float("nan"),
        "auroc": float(skm.roc_auc_score(y_true, score)) if both else float("nan"),
        "auprc": float(skm.average_precision_score(y_true, score)) if both else float("nan"),
    }


def plot_roc_pr(
    named_scores: Mapping[str, tuple], path: str | os.PathLike, title: str = ""
) -> None:
    """ROC (left) and precision-recall (right) curves of several classifiers in one PNG.

    Args:
        named_scores: {name: (y_true (N,), score (N,))}.
        path: output PNG path.
        title: figure title.
    """
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4.5))
    for name, (y, s) in named_scores.items():
        y = np.asarray(y).astype(int)
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = skm.roc_curve(y, s)
        prec, rec, _ = skm.precision_recall_curve(y, s)
        ax_roc.plot(fpr, tpr, label=f"{name} (AUROC {skm.roc_auc_score(y, s):.3f})")
        ax_pr.plot(rec, prec, label=f"{name} (AUPRC {skm.average_precision_score(y, s):.3f})")
    ax_roc.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax_roc.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC")
    ax_pr.set(xlabel="Recall", ylabel="Precision", title="Precision-recall")
    for ax in (ax_roc, ax_pr):
        ax.legend(fontsize=7, loc="lower right" if ax is ax_roc else "lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(
    y_true, y_pred, labels: Sequence[str], path: str | os.PathLike, title: str = ""
) -> None:
    """Confusion matrix (counts, rows = truth) as a PNG; ``labels`` name classes 0..K-1."""
    cm = skm.confusion_matrix(
        np.asarray(y_true), np.asarray(y_pred), labels=list(range(len(labels)))
    )
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="black")
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="Predicted", ylabel="True", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- block bootstrap
# Confidence intervals by resampling genomic blocks with replacement (Künsch 1989, "The jackknife
# and the bootstrap for general stationary observations", Ann. Stat. 17:1217; the block bootstrap
# keeps the autocorrelation of neighbouring windows inside each resampled unit). A replicate is a
# vector of block multiplicities; every metric below is computed for all replicates at once from
# per-(block, tie-group) sums, so 1,000 replicates of 30,000 windows take well under a second.


def block_index(blocks) -> tuple[np.ndarray, np.ndarray]:
    """Unique block ids (sorted) and the index of each window's block: (ids (B,), index (N,) int64)."""
    ids, index = np.unique(np.asarray(blocks).astype(str), return_inverse=True)
    return ids, index.astype(np.int64)


def bootstrap_block_counts(n_blocks: int, n_replicates: int, seed: int) -> np.ndarray:
    """Multiplicity of each block in each bootstrap replicate: float64 (n_replicates, n_blocks).

    Each replicate draws ``n_blocks`` blocks with replacement (multinomial, equal probabilities).
    """
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=n_replicates).astype(
        np.float64
    )


def _group_sums(block_idx, group_idx, values, n_blocks, n_groups):
    """Sparse (n_blocks, n_groups) sums of ``values`` per (block, group)."""
    import scipy.sparse as sp

    return sp.csr_matrix(
        (np.asarray(values, dtype=np.float64), (block_idx, group_idx)), shape=(n_blocks, n_groups)
    )


def _tie_groups(score: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each score among the unique scores (ascending) and the number of unique scores."""
    uniq, inverse = np.unique(np.asarray(score, dtype=np.float64), return_inverse=True)
    return inverse.astype(np.int64), len(uniq)


def weighted_auroc(y, score, block_idx, counts) -> np.ndarray:
    """ROC AUC of every replicate (ties count one half), windows weighted by block multiplicity.

    Args:
        y: (N,) binary labels.
        score: (N,) scores.
        block_idx: (N,) block index of each window (0..n_blocks-1).
        counts: (R, n_blocks) block multiplicities (ones((1, n_blocks)) = the plain AUROC).

    Returns:
        float64 (R,); NaN where a replicate has no positive or no negative window.
    """
    y = np.asarray(y) > 0
    group, n_groups = _tie_groups(score)
    nb = counts.shape[1]
    # concordant[b1, b2] = pairs (positive in block b1, negative in block b2) ranked correctly,
    # ties one half; a replicate's numerator is then c' K c for its block multiplicities c
    neg = _group_sums(block_idx, group, ~y, nb, n_groups).T.toarray()  # (G, nb)
    below = np.cumsum(neg, axis=0) - neg + 0.5 * neg
    concordant = _group_sums(block_idx, group, y, nb, n_groups) @ below  # (nb, nb)
    n_pos = np.bincount(block_idx, weights=y, minlength=nb)
    n_neg = np.bincount(block_idx, weights=~y, minlength=nb)
    total_pos, total_neg = counts @ n_pos, counts @ n_neg
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.einsum("rb,bc,rc->r", counts, concordant, counts) / (total_pos * total_neg)
    auc[(total_pos == 0) | (total_neg == 0)] = np.nan
    return auc


def weighted_average_precision(y, score, block_idx, counts, chunk_size: int = 200) -> np.ndarray:
    """Average precision (scikit-learn's step-wise AUPRC, ties grouped) of every replicate.

    Arguments as :func:`weighted_auroc`. Returns float64 (R,), NaN without positives.
    """
    y = np.asarray(y) > 0
    group, n_groups = _tie_groups(-np.asarray(score, dtype=np.float64))  # descending scores
    nb = counts.shape[1]
    pos_sums = _group_sums(block_idx, group, y, nb, n_groups).T.tocsr()  # (G, nb)
    neg_sums = _group_sums(block_idx, group, ~y, nb, n_groups).T.tocsr()
    ap = np.empty(counts.shape[0])
    for start in range(0, counts.shape[0], chunk_size):
        c = counts[start : start + chunk_size].T
        pos, neg = pos_sums @ c, neg_sums @ c  # (G, chunk)
        tp, fp = np.cumsum(pos, axis=0), np.cumsum(neg, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
            ap[start : start + chunk_size] = (pos * precision).sum(axis=0) / pos.sum(axis=0)
    return ap


def weighted_balanced_accuracy(y, call, block_idx, counts) -> np.ndarray:
    """Balanced accuracy (mean of sensitivity and specificity) of binary calls, every replicate.

    Args:
        y: (N,) binary labels; call: (N,) binary calls; block_idx, counts: as :func:`weighted_auroc`.

    Returns:
        float64 (R,), NaN where a class is absent.
    """
    y, call = np.asarray(y) > 0, np.asarray(call) > 0
    nb = counts.shape[1]
    per_block = np.stack(
        [np.bincount(block_idx, weights=w, minlength=nb) for w in (y, ~y, y & call, ~y & ~call)]
    )
    p, n, tp, tn = (counts @ per_block.T).T
    with np.errstate(invalid="ignore", divide="ignore"):
        ba = 0.5 * (tp / p + tn / n)
    ba[(p == 0) | (n == 0)] = np.nan
    return ba


def _weighted_midranks(values, block_idx, counts, chunk: slice) -> np.ndarray:
    """Mid-ranks of each window's value in each replicate of ``chunk`` (ties share the mean rank)."""
    group, n_groups = _tie_groups(values)
    nb = counts.shape[1]
    weight = (
        _group_sums(block_idx, group, np.ones(len(group)), nb, n_groups).T @ counts[chunk].T
    ).T
    mid = np.cumsum(weight, axis=1) - weight + (weight + 1) / 2
    return mid[:, group]


def weighted_spearman(x, score, block_idx, counts, chunk_size: int = 100) -> np.ndarray:
    """Spearman correlation of ``x`` and ``score`` in every replicate (block multiplicities as weights).

    A block drawn k times contributes k copies of its windows; ranks are mid-ranks of the
    replicated sample. Arguments as :func:`weighted_auroc`. Returns float64 (R,).
    """
    out = np.empty(counts.shape[0])
    for start in range(0, counts.shape[0], chunk_size):
        chunk = slice(start, min(start + chunk_size, counts.shape[0]))
        w = counts[chunk][:, block_idx]
        rx = _weighted_midranks(x, block_idx, counts, chunk)
        ry = _weighted_midranks(score, block_idx, counts, chunk)
        total = w.sum(axis=1, keepdims=True)
        mean = (total + 1) / 2
        dx, dy = rx - mean, ry - mean
        with np.errstate(invalid="ignore", divide="ignore"):
            out[chunk] = (w * dx * dy).sum(axis=1) / np.sqrt(
                (w * dx * dx).sum(axis=1) * (w * dy * dy).sum(axis=1)
            )
    return out


def percentile_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``values`` (NaN replicates ignored): (low, high)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
