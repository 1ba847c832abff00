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
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, pred)) if both else float("nan"),
        "auroc": float(skm.roc_auc_score(y_true, score)) if both else float("nan"),
        "auprc": float(skm.average_precision_score(y_true, score)) if both else float("nan"),
    }


def plot_roc_pr(named_scores: Mapping[str, tuple], path: str | os.PathLike, title: str = "") -> None:
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


def plot_confusion(y_true, y_pred, labels: Sequence[str], path: str | os.PathLike, title: str = "") -> None:
    """Confusion matrix (counts, rows = truth) as a PNG; ``labels`` name classes 0..K-1."""
    cm = skm.confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=list(range(len(labels))))
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
