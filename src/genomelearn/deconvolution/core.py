"""Bulk deconvolution: cell-type proportions from a bulk profile and a signature matrix.

Two formulations:

* ``"deconrnaseq"`` -- DeconRNASeq (Gong & Szustakowski 2013, Bioinformatics 29:1083), as called by
  PredictFiberType (Oskolkov et al. 2022, Skeletal Muscle 12:16) with ``use.scale = TRUE``: restrict
  bulk and signature to shared genes, centre and scale every signature column and every bulk sample
  to mean 0 / SD 1 over the genes (R ``scale()``, SD with n - 1), then solve
  ``min ||A x - b||^2  s.t.  x >= 0, sum(x) = 1`` (``limSolve::lsei``). Because each sample is
  standardised, any per-sample normalisation by a constant (library size, CPM, TPM scaling) gives
  exactly the same answer; PredictFiberType's published predictions are reproduced from the raw
  counts of ``bulk_expr.txt`` to 1e-15.
* ``"nnls"`` -- non-negative least squares on the (normalised, unscaled) bulk, ``min ||S x - b||^2,
  x >= 0`` (Lawson & Hanson), then x / sum(x) as proportions (e.g. Abbas et al. 2009).

Uncertainty: a bootstrap over signature genes (genes drawn with replacement, the whole
standardisation and fit redone per replicate) gives percentile intervals per sample and cell type.
Depth robustness: binomial thinning of counts (each read kept with probability depth / library size).
All steps are vectorised over samples and bootstrap replicates; see :mod:`.solvers`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genomelearn.errors import InputError

from .solvers import solve_batched_qp

__all__ = [
    "METHODS",
    "NORMALIZATIONS",
    "DeconvolutionResult",
    "normalize_bulk",
    "align_genes",
    "design_matrices",
    "deconvolve_arrays",
    "deconvolve",
    "bootstrap_weights",
    "bootstrap_proportions",
    "proportions_with_intervals",
    "thin_counts",
]

METHODS = ("deconrnaseq", "nnls")
NORMALIZATIONS = ("none", "cpm", "log1p_cpm")


@dataclass
class DeconvolutionResult:
    """Result of :func:`deconvolve`.

    Attributes:
        proportions: DataFrame (samples, cell types) float64, rows sum to 1 (NaN rows for samples
            whose profile over the shared genes is constant, e.g. all zero).
        shared_genes: genes used, in signature order.
        dropped_signature_genes: signature genes absent from the bulk (not used).
        residual_rmse: Series (samples,) root-mean-square residual of the fit in the solver's
            space (standardised units for ``deconrnaseq``, normalised expression for ``nnls``).
        method, normalization: as requested.
    """

    proportions: pd.DataFrame
    shared_genes: list[str]
    dropped_signature_genes: list[str]
    residual_rmse: pd.Series
    method: str
    normalization: str
    converged: np.ndarray = field(repr=False, default=None)


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")


def normalize_bulk(
    counts: np.ndarray, method: str, library_size: np.ndarray | None = None
) -> np.ndarray:
    """Normalise bulk counts per sample.

    Args:
        counts: (genes, samples) non-negative counts (float or int).
        method: ``"none"`` (as given), ``"cpm"`` (counts per million of the library),
            ``"log1p_cpm"`` (natural log of 1 + CPM).
        library_size: (samples,) total counts of each library; default: column sums of ``counts``
            (pass the full-library totals when ``counts`` holds only a subset of genes).

    Returns:
        (genes, samples) float64.

    Raises:
        InputError: unknown method.
    """
    _check_choice(method, NORMALIZATIONS, "normalization")
    counts = np.asarray(counts, dtype=float)
    if method == "none":
        return counts
    lib = counts.sum(axis=0) if library_size is None else np.asarray(library_size, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpm = counts / lib[None, :] * 1e6
    return np.log1p(cpm) if method == "log1p_cpm" else cpm


def align_genes(
    bulk_genes: pd.Index,
    signature: pd.DataFrame,
    bulk_name: str = "bulk",
    signature_name: str = "signature",
) -> tuple[list[str], list[str]]:
    """Signature genes present in the bulk (signature order) and those absent.

    Raises:
        InputError: when fewer shared genes remain than cell types + 1 (none at all included),
            naming both files and a few genes of each.
    """
    present = signature.index.isin(bulk_genes)
    shared = list(signature.index[present])
    dropped = list(signature.index[~present])
    k = signature.shape[1]
    if len(shared) <= k:
        raise InputError(
            f"{bulk_name} and {signature_name} share {len(shared)} gene(s) ({', '.join(shared[:5]) or 'none'}); "
            f"at least {k + 1} are needed for {k} cell types. Signature genes e.g. "
            f"{', '.join(map(str, signature.index[:5]))}; bulk genes e.g. {', '.join(map(str, bulk_genes[:5]))} "
            "(same gene naming, e.g. symbols vs Ensembl IDs?)"
        )
    return shared, dropped


def _weighted_stats(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (n - 1) over genes with integer multiplicities. values (g, m), weights (B, g)."""
    n = weights.sum(axis=1, keepdims=True)  # (B, 1)
    mean = weights @ values / n
    var = (weights @ (values * values) - n * mean * mean) / (n - 1)
    return mean, np.sqrt(np.maximum(var, 0.0))


def design_matrices(
    signature: np.ndarray, bulk: np.ndarray, method: str, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations G = A'WA and c = A'Wb of the per-sample least-squares problems.

    Args:
        signature: (g, k) signature on the shared genes.
        bulk: (g, n) normalised bulk on the same genes.
        method: ``"deconrnaseq"`` (standardise signature columns and bulk samples over the genes,
            R ``scale()``) or ``"nnls"`` (no scaling).
        weights: (B, g) gene multiplicities of B bootstrap replicates (each row sums to g), or
            None for the plain fit (B = 1, all weights 1). The standardisation uses the weighted
            mean and SD, i.e. exactly what ``scale()`` computes on the resampled rows.

    Returns:
        G: (B, k, k); c: (B, n, k). Samples with zero SD over the genes (``deconrnaseq``) get NaN c.
    """
    _check_choice(method, METHODS, "method")
    S = np.asarray(signature, dtype=float)
    X = np.asarray(bulk, dtype=float)
    g, k = S.shape
    W = np.ones((1, g)) if weights is None else np.asarray(weights, dtype=float)
    # Raw weighted cross products: sum_g w_g S_gi S_gj and sum_g w_g S_gi X_gs.
    WS = W[:, :, None] * S[None, :, :]  # (B, g, k)
    G = np.matmul(WS.transpose(0, 2, 1), S)  # (B, k, k)
    C = np.matmul(X.T[None, :, :], WS)  # (B, n, k)
    if method == "nnls":
        return G, C
    m = W.sum(axis=1)  # (B,)
    mS, sdS = _weighted_stats(S, W)  # (B, k)
    mX, sdX = _weighted_stats(X, W)  # (B, n)
    G = (G - m[:, None, None] * mS[:, :, None] * mS[:, None, :]) / (
        sdS[:, :, None] * sdS[:, None, :]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        C = (C - m[:, None, None] * mX[:, :, None] * mS[:, None, :]) / (
            sdX[:, :, None] * sdS[:, None, :]
        )
    C[~np.isfinite(C)] = np.nan
    C[np.broadcast_to((sdX <= 0)[:, :, None], C.shape)] = np.nan
    return G, C


def _residual_rmse(
    signature: np.ndarray, bulk: np.ndarray, x: np.ndarray, method: str
) -> np.ndarray:
    S = np.asarray(signature, dtype=float)
    X = np.asarray(bulk, dtype=float)
    if method == "deconrnaseq":
        S = (S - S.mean(0)) / S.std(0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            X = (X - X.mean(0)) / X.std(0, ddof=1)
    resid = S @ x.T - X
    return np.sqrt(np.mean(resid * resid, axis=0))


def deconvolve_arrays(
    signature: np.ndarray,
    bulk: np.ndarray,
    method: str = "deconrnaseq",
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Proportions for arrays already restricted to shared genes and normalised.

    Args:
        signature: (g, k) float. bulk: (g, n) float.
        method: ``"deconrnaseq"`` or ``"nnls"``.
        weights: optional (B, g) bootstrap multiplicities (see :func:`design_matrices`).

    Returns:
        proportions (B, n, k) float64 summing to 1 over k (NaN where undefined: constant sample,
        or an NNLS fit that is all zero); converged (B, n) bool.
    """
    G, C = design_matrices(signature, bulk, method, weights)
    B, n, k = C.shape
    Gfull = G[0] if B == 1 else np.repeat(G, n, axis=0)  # shared (k, k) or (B*n, k, k)
    res = solve_batched_qp(Gfull, C.reshape(B * n, k), sum_to_one=(method == "deconrnaseq"))
    x = res.x.reshape(B, n, k)
    if method == "nnls":
        total = x.sum(axis=2, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(total > 0, x / total, np.nan)
    return x, res.converged.reshape(B, n)


def deconvolve(
    bulk: pd.DataFrame,
    signature: pd.DataFrame,
    method: str = "deconrnaseq",
    normalization: str = "cpm",
    bulk_name: str = "bulk",
    signature_name: str = "signature",
) -> DeconvolutionResult:
    """Estimate cell-type proportions of every bulk sample.

    Args:
        bulk: DataFrame (genes, samples) of non-negative counts or expression; normalised with
            ``normalization`` over the whole library before restriction to the signature genes.
        signature: DataFrame (genes, cell types), mean expression per cell type.
        method: ``"deconrnaseq"`` (scaled, sum-to-one QP; PredictFiberType) or ``"nnls"``.
        normalization: ``"none"``, ``"cpm"`` or ``"log1p_cpm"`` (see :func:`normalize_bulk`).
        bulk_name, signature_name: file names used in error messages.

    Returns:
        :class:`DeconvolutionResult`.

    Raises:
        InputError: unknown method/normalisation, or too few shared genes.
    """
    _check_choice(method, METHODS, "method")
    _check_choice(normalization, NORMALIZATIONS, "normalization")
    shared, dropped = align_genes(bulk.index, signature, bulk_name, signature_name)
    lib = bulk.to_numpy(dtype=float).sum(axis=0)
    X = normalize_bulk(bulk.loc[shared].to_numpy(dtype=float), normalization, lib)
    S = signature.loc[shared].to_numpy(dtype=float)
    if np.linalg.matrix_rank(S - S.mean(0) if method == "deconrnaseq" else S) < S.shape[1]:
        raise InputError(
            f"{signature_name}: the signature columns are collinear on the {len(shared)} shared genes"
        )
    x, converged = deconvolve_arrays(S, X, method)
    props = pd.DataFrame(x[0], index=bulk.columns, columns=signature.columns)
    rmse = pd.Series(_residual_rmse(S, X, x[0], method), index=bulk.columns, name="residual_rmse")
    return DeconvolutionResult(props, shared, dropped, rmse, method, normalization, converged[0])


def bootstrap_weights(n_genes: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """(n_bootstrap, n_genes) multiplicities of genes drawn with replacement (rows sum to n_genes)."""
    return rng.multinomial(n_genes, np.full(n_genes, 1.0 / n_genes), size=n_bootstrap).astype(
        float
    )


def bootstrap_proportions(
    signature: np.ndarray,
    bulk: np.ndarray,
    method: str,
    n_bootstrap: int,
    seed: int,
    chunk_problems: int = 200_000,
) -> np.ndarray:
    """Bootstrap over signature genes: refit with genes resampled with replacement.

    Args:
        signature: (g, k) on the shared genes. bulk: (g, n) normalised, same genes.
        method: ``"deconrnaseq"`` or ``"nnls"``.
        n_bootstrap: number of replicates B.
        seed: seed of ``numpy.random.default_rng``; identical seeds give identical draws.
        chunk_problems: replicates are processed in chunks of about this many (replicate, sample)
            problems to bound memory.

    Returns:
        (B, n, k) float64 proportions; replicates that drew no more distinct genes than cell types
        (singular fit) are NaN.
    """
    S = np.asarray(signature, dtype=float)
    X = np.asarray(bulk, dtype=float)
    g, k = S.shape
    n = X.shape[1]
    rng = np.random.default_rng(seed)
    W = bootstrap_weights(g, n_bootstrap, rng)
    out = np.full((n_bootstrap, n, k), np.nan)
    step = max(1, chunk_problems // max(n, 1))
    for start in range(0, n_bootstrap, step):
        w = W[start : start + step]
        ok = (w > 0).sum(axis=1) > k
        if (
            method == "deconrnaseq"
        ):  # a replicate whose signature columns became constant is unusable
            _, sd = _weighted_stats(S, w)
            ok &= (sd > 0).all(axis=1)
        if ok.any():
            x, _ = deconvolve_arrays(S, X, method, w[ok])
            block = out[start : start + step]
            block[ok] = x
    return out


def thin_counts(
    counts: np.ndarray, library_size: np.ndarray, depth: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Binomial thinning of RNA-seq counts to an expected library size.

    Each read is kept independently with probability p = min(1, depth / library size), so a gene
    with count y becomes Binomial(y, p) (e.g. seqgendiff's ``thin_lib``; Gerard 2020). Only the
    genes given are drawn individually; the rest of the library is one Binomial(rest, p) draw,
    which has exactly the distribution of the sum of its genes' thinned counts.

    Args:
        counts: (g, n) non-negative integer counts of the genes of interest.
        library_size: (n,) total counts of each full library (>= column sums of ``counts``).
        depth: target expected reads per sample.
        rng: numpy Generator.

    Returns:
        thinned (g, n) int64 and the thinned library sizes (n,) int64.

    Raises:
        InputError: non-integer or negative counts; a library size below its genes' counts.
    """
    y = np.asarray(counts)
    if not np.all(np.isfinite(y)) or np.any(y < 0) or np.any(np.asarray(y, dtype=float) % 1 != 0):
        raise InputError("depth thinning needs raw non-negative integer read counts")
    y = y.astype(np.int64)
    lib = np.asarray(library_size).astype(np.int64)
    if np.any(lib < y.sum(axis=0)):
        raise InputError("library size smaller than the sum of the counts given for thinning")
    p = np.minimum(1.0, depth / lib)
    thinned = rng.binomial(y, p[None, :])
    rest = rng.binomial(lib - y.sum(axis=0), p)
    return thinned, thinned.sum(axis=0) + rest


def proportions_with_intervals(
    bulk: pd.DataFrame,
    signature: pd.DataFrame,
    method: str = "deconrnaseq",
    normalization: str = "cpm",
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    bulk_name: str = "bulk",
    signature_name: str = "signature",
) -> tuple[DeconvolutionResult, pd.DataFrame]:
    """Point estimates (:func:`deconvolve`) with bootstrap-over-genes percentile intervals.

    Args:
        bulk, signature, method, normalization, bulk_name, signature_name: see :func:`deconvolve`.
        n_bootstrap: replicates (0 disables the bootstrap: interval columns are NaN).
        seed: bootstrap seed (identical seeds, identical intervals).
        level: central interval level (0.95 gives the 2.5 and 97.5 percentiles).

    Returns:
        (result, table) where table is long: sample, cell_type, proportion, ci_low, ci_high,
        boot_mean, boot_sd, n_boot (finite replicates), residual_rmse; samples in bulk order,
        cell types in signature order.
    """
    result = deconvolve(bulk, signature, method, normalization, bulk_name, signature_name)
    k = signature.shape[1]
    n = bulk.shape[1]
    if n_bootstrap > 0:
        lib = bulk.to_numpy(dtype=float).sum(axis=0)
        X = normalize_bulk(bulk.loc[result.shared_genes].to_numpy(dtype=float), normalization, lib)
        S = signature.loc[result.shared_genes].to_numpy(dtype=float)
        boot = bootstrap_proportions(S, X, method, n_bootstrap, seed)
        alpha = (1.0 - level) / 2.0
        finite = np.isfinite(boot)
        n_boot = finite.sum(axis=0)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = np.nanquantile(boot, alpha, axis=0)
            hi = np.nanquantile(boot, 1.0 - alpha, axis=0)
            mean = np.nanmean(boot, axis=0)
            sd = np.nanstd(boot, axis=0, ddof=1)
    else:
        lo = hi = mean = sd = np.full((n, k), np.nan)
        n_boot = np.zeros((n, k), dtype=int)
    props = result.proportions.to_numpy()
    table = pd.DataFrame(
        {
            "sample": np.repeat(bulk.columns.to_numpy(), k),
            "cell_type": np.tile(signature.columns.to_numpy(), n),
            "proportion": props.ravel(),
            "ci_low": lo.ravel(),
            "ci_high": hi.ravel(),
            "boot_mean": mean.ravel(),
            "boot_sd": sd.ravel(),
            "n_boot": n_boot.ravel(),
            "residual_rmse": np.repeat(result.residual_rmse.to_numpy(), k),
        }
    )
    return result, table
