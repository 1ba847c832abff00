"""Classical (scikit-learn) classifiers of introgression windows.

* ``gc_logreg`` — logistic regression on GC fraction alone: the confound baseline. Deserts and
  introgressed segments differ in GC and gene density, so every sequence model must beat it.
* ``kmer_logreg`` — L2 logistic regression on k-mer frequencies (counts / k-mers per window).
* ``random_forest`` — random forest on k-mer counts; impurity importances rank k-mers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, StandardScaler

CLASSICAL_MODELS = ("gc_logreg", "kmer_logreg", "random_forest")


def make_classical(
    name: str,
    seed: int = 0,
    threads: int = 1,
    n_estimators: int = 300,
    C: float = 1.0,
    task: str = "classification",
):
    """A fresh, seeded scikit-learn estimator for ``name``.

    Classification models are class-balanced (``class_weight="balanced"``: each class weighs
    n / (2 n_class)). ``task="regression"`` (the ``support`` target, 0-12 maps) gives the
    counterpart regressor: linear regression on GC, ridge regression on k-mer frequencies
    (alpha = 1 / C), a random-forest regressor.

    Raises:
        ValueError: for an unknown model name or task.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"unknown task {task!r}; choose classification or regression")
    if task == "regression":
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.linear_model import LinearRegression, Ridge

        if name == "gc_logreg":
            return make_pipeline(StandardScaler(), LinearRegression())
        if name == "kmer_logreg":
            return make_pipeline(MaxAbsScaler(), Ridge(alpha=1.0 / C))
        if name == "random_forest":
            return RandomForestRegressor(
                n_estimators=n_estimators,
                min_samples_leaf=2,
                max_features="sqrt",
                n_jobs=threads,
                random_state=seed,
            )
    elif name == "gc_logreg":
        return make_pipeline(
            StandardScaler(), LogisticRegression(class_weight="balanced", random_state=seed)
        )
    elif name == "kmer_logreg":
        return make_pipeline(
            MaxAbsScaler(),
            LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=seed),
        )
    elif name == "random_forest":
        return RandomForestClassifier(
            n_estimators=n_estimators,
            min_samples_leaf=2,
            max_features="sqrt",
            class_weight="balanced",
            n_jobs=threads,
            random_state=seed,
        )
    raise ValueError(f"unknown classical model {name!r}; choose from {CLASSICAL_MODELS}")


def classical_score(model, features, task: str = "classification"):
    """Score of every row: P(class 1) for classification, the prediction for regression (float (N,))."""
    if task == "regression":
        return np.asarray(model.predict(features), dtype=np.float64)
    return model.predict_proba(features)[:, 1]


def classical_features(name: str, gc: np.ndarray, counts: sp.csr_matrix):
    """Feature matrix of model ``name``: GC column (N, 1) float32, or k-mer frequencies/counts (CSR)."""
    if name == "gc_logreg":
        return np.asarray(gc, dtype=np.float32).reshape(-1, 1)
    if name == "kmer_logreg":
        totals = np.asarray(counts.sum(axis=1)).ravel()
        return sp.diags(1.0 / np.maximum(totals, 1)).dot(counts).tocsr().astype(np.float32)
    return counts
