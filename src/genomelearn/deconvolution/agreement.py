"""Agreement between estimated and measured proportions: Spearman and Pearson tests as in R.

``spearman_test`` returns the p-value that R's ``cor.test(method = "spearman")`` reports (the one
printed in PredictFiberType's ``predict_vs_true.pdf``): for n <= 1290 without ties it uses
algorithm AS 89 (Best & Roberts 1975, Appl. Statist. 24:377; R's ``prho.c``: exact enumeration for
n <= 9, an Edgeworth series otherwise); with ties, the t approximation (as R and SciPy).
Pearson's p-value is the usual t test (R ``cor.test``, ``scipy.stats.pearsonr``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["spearman_test", "pearson_test", "agreement_table", "correlation_intervals", "prho"]

_EDGEWORTH = (
    0.2274,
    0.2531,
    0.1745,
    0.0758,
    0.1033,
    0.3932,
    0.0879,
    0.0151,
    0.0072,
    0.0831,
    0.0131,
    4.6e-4,
)


def prho(n: int, s: float, lower_tail: bool) -> float:
    """AS 89: P[S >= s] (upper) or P[S < s] (lower) for Spearman's S = sum of squared rank differences.

    Args:
        n: number of pairs (>= 2).
        s: value of S at which the tail is evaluated (R passes round(S) + 2 for the lower tail).
        lower_tail: which tail.

    Returns:
        probability in [0, 1].
    """
    pv = 0.0 if lower_tail else 1.0
    if n <= 1 or s <= 0:
        return pv
    n3 = n * (n * n - 1) / 3.0
    if s > n3:
        return 1.0 - pv
    if n <= 9:  # exact: enumerate all n! permutations
        ranks = np.arange(1, n + 1)
        perms = np.array(list(itertools.permutations(range(1, n + 1))), dtype=np.int64)
        ss = ((perms - ranks) ** 2).sum(axis=1)
        ifr = int((ss >= s).sum())
        nfac = math.factorial(n)
        return (nfac - ifr) / nfac if lower_tail else ifr / nfac
    c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12 = _EDGEWORTH
    b = 1.0 / n
    x = (6.0 * (s - 1) * b / (n * n - 1) - 1) * math.sqrt(n - 1)
    y = x * x
    u = (
        x
        * b
        * (
            c1
            + b * (c2 + c3 * b)
            + y
            * (
                -c4
                + b * (c5 + c6 * b)
                - y * b * (c7 + c8 * b - y * (c9 - c10 * b + y * b * (c11 - c12 * y)))
            )
        )
    )
    corr = u / math.exp(y / 2)
    pv = (-corr + stats.norm.cdf(x)) if lower_tail else (corr + stats.norm.sf(x))
    return float(min(max(pv, 0.0), 1.0))


def spearman_test(x, y) -> dict:
    """Spearman rank correlation with R's two-sided p-value.

    Args:
        x, y: (n,) paired values; pairs with a NaN are dropped.

    Returns:
        dict: n, rho, p_value (R ``cor.test``: AS 89 without ties and n <= 1290, else t
        approximation), p_value_t (t approximation, SciPy's ``spearmanr``), exact_method (bool).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {
            "n": n,
            "rho": float("nan"),
            "p_value": float("nan"),
            "p_value_t": float("nan"),
            "exact_method": False,
        }
    res = stats.spearmanr(x, y)
    rho = float(res.statistic)
    ties = len(np.unique(x)) < n or len(np.unique(y)) < n
    q = (n**3 - n) * (1 - rho) / 6
    if n <= 1290 and not ties:
        if q > (n**3 - n) / 6:
            p = prho(n, round(q), lower_tail=False)
        else:
            p = prho(n, round(q) + 2, lower_tail=True)
        p_value = min(2 * p, 1.0)
    else:
        p_value = float(res.pvalue)
    return {
        "n": n,
        "rho": rho,
        "p_value": float(p_value),
        "p_value_t": float(res.pvalue),
        "exact_method": bool(n <= 1290 and not ties),
    }


def pearson_test(x, y) -> dict:
    """Pearson correlation and its two-sided t-test p-value (pairs with a NaN dropped).

    Returns:
        dict: n, r, p_value.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": n, "r": float("nan"), "p_value": float("nan")}
    res = stats.pearsonr(x, y)
    return {"n": n, "r": float(res.statistic), "p_value": float(res.pvalue)}


def agreement_table(estimated: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Per cell type agreement of estimated vs measured fractions over the samples in both.

    Args:
        estimated: (samples, cell types) proportions.
        measured: (samples, measured cell types) fractions (a subset of the cell types).

    Returns:
        DataFrame, one row per measured cell type: cell_type, n, spearman_rho, spearman_p
        (R / AS 89), spearman_p_t (t approximation), pearson_r, pearson_p, mean_abs_error, bias
        (mean estimated - measured), rmse.
    """
    rows = []
    common = estimated.index.intersection(measured.index)
    for cell_type in measured.columns:
        est = estimated.loc[common, cell_type].to_numpy(dtype=float)
        obs = measured.loc[common, cell_type].to_numpy(dtype=float)
        sp = spearman_test(est, obs)
        pe = pearson_test(est, obs)
        ok = np.isfinite(est) & np.isfinite(obs)
        diff = est[ok] - obs[ok]
        rows.append(
            {
                "cell_type": cell_type,
                "n": sp["n"],
                "spearman_rho": sp["rho"],
                "spearman_p": sp["p_value"],
                "spearman_p_t": sp["p_value_t"],
                "pearson_r": pe["r"],
                "pearson_p": pe["p_value"],
                "mean_abs_error": float(np.mean(np.abs(diff))) if diff.size else float("nan"),
                "bias": float(np.mean(diff)) if diff.size else float("nan"),
                "rmse": float(np.sqrt(np.mean(diff * diff))) if diff.size else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def correlation_intervals(
    estimated: pd.DataFrame,
    measured: pd.DataFrame,
    gene_bootstrap: np.ndarray | None = None,
    n_sample_bootstrap: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Uncertainty of the Spearman correlation: over samples and over signature genes.

    Args:
        estimated: (samples, cell types) point estimates.
        measured: (samples, measured cell types).
        gene_bootstrap: optional (B, samples, cell types) proportions refitted on genes resampled
            with replacement (:func:`.core.bootstrap_proportions`), samples in ``estimated`` order.
        n_sample_bootstrap: replicates of the pairs bootstrap (samples drawn with replacement).
        seed: seed of the pairs bootstrap.
        level: interval level.

    Returns:
        DataFrame per measured cell type: cell_type, spearman_ci_low / spearman_ci_high (pairs
        bootstrap percentile interval), and with ``gene_bootstrap`` spearman_gene_boot_median,
        spearman_gene_boot_low, spearman_gene_boot_high (the correlation recomputed on each gene
        replicate).
    """
    alpha = (1.0 - level) / 2.0
    common = estimated.index.intersection(measured.index)
    pos = estimated.index.get_indexer(common)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(common), size=(n_sample_bootstrap, len(common)))
    rows = []
    for cell_type in measured.columns:
        j = estimated.columns.get_loc(cell_type)
        est = estimated.loc[common, cell_type].to_numpy(dtype=float)
        obs = measured.loc[common, cell_type].to_numpy(dtype=float)
        rank_est = stats.rankdata(est[draws], axis=1)
        rank_obs = stats.rankdata(obs[draws], axis=1)
        rho = _rowwise_pearson(rank_est, rank_obs)
        row = {
            "cell_type": cell_type,
            "spearman_ci_low": float(np.nanquantile(rho, alpha)),
            "spearman_ci_high": float(np.nanquantile(rho, 1 - alpha)),
        }
        if gene_bootstrap is not None:
            gb = gene_bootstrap[:, pos, j]
            gb = gb[np.isfinite(gb).all(axis=1)]
            rho_g = _rowwise_pearson(
                stats.rankdata(gb, axis=1), np.broadcast_to(stats.rankdata(obs), gb.shape)
            )
            row.update(
                spearman_gene_boot_median=float(np.nanmedian(rho_g)),
                spearman_gene_boot_low=float(np.nanquantile(rho_g, alpha)),
                spearman_gene_boot_high=float(np.nanquantile(rho_g, 1 - alpha)),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
