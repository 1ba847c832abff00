"""Per-omic preprocessing (scanpy) and the per-omic settings that later steps read.

* ``values: counts`` — ``scanpy.pp.normalize_total`` (10,000 per cell) + ``log1p`` + highly
  variable features (``scanpy.pp.highly_variable_genes``, Seurat flavour on the log data, when the
  omic has more than ``n_top_genes`` features). Sparse input stays sparse. The raw counts of the
  kept features stay in ``layers["counts"]`` (for count likelihoods and scVI).
* ``values: normalized`` — the matrix is already normalised / scaled / a rate: used as is.

Omic types and their defaults (each can be overridden in the config):

============== ============ ============ ==================================================
type           metric       likelihood   binarize_threshold (for Hamming)
============== ============ ============ ==================================================
expression     euclidean    gaussian     — (likelihood ``nb`` when ``values: counts``)
methylation    hamming      bernoulli    0.5 (methylation rate ≥ 0.5 → 1)
accessibility  hamming      gaussian     0.0 (> 0 → 1), or "median" (above the feature median)
============== ============ ============ ==================================================
"""

from __future__ import annotations

from typing import Mapping

import anndata as ad
import numpy as np
import scipy.sparse as sp

from genomelearn.errors import InputError

OMIC_TYPES = ("expression", "methylation", "accessibility")
VALUE_KINDS = ("counts", "normalized")
METRICS = ("euclidean", "hamming")
_DEFAULTS = {
    "expression": {"metric": "euclidean", "likelihood": "gaussian", "binarize_threshold": 0.0},
    "methylation": {"metric": "hamming", "likelihood": "bernoulli", "binarize_threshold": 0.5},
    "accessibility": {"metric": "hamming", "likelihood": "gaussian", "binarize_threshold": 0.0},
}


def omic_settings(spec: Mapping, where: str = "") -> dict:
    """Complete an omic's config block with the defaults of its type.

    Args:
        spec: config block of one omic (keys type, values, metric, likelihood, binarize_threshold,
            n_top_genes; others are ignored here).
        where: prefix of error messages.

    Returns:
        dict with keys type, values, metric, likelihood, binarize_threshold (float or "median"),
        n_top_genes (int).

    Raises:
        InputError: unknown type, values, metric or likelihood.
    """
    kind = spec.get("type", "expression")
    if kind not in OMIC_TYPES:
        raise InputError(f"{where}: unknown omic type {kind!r}; expected one of {OMIC_TYPES}")
    out = {
        "type": kind,
        "values": spec.get("values", "normalized"),
        "n_top_genes": int(spec.get("n_top_genes", 2000)),
    }
    out.update(_DEFAULTS[kind])
    if kind == "expression" and out["values"] == "counts":
        out["likelihood"] = "nb"  # raw UMI counts: negative binomial with library size (scVI/DCA)
    for key in ("metric", "likelihood", "binarize_threshold"):
        if spec.get(key) is not None:
            out[key] = spec[key]
    if out["values"] not in VALUE_KINDS:
        raise InputError(
            f"{where}: unknown values {out['values']!r}; expected one of {VALUE_KINDS}"
        )
    if out["metric"] not in METRICS:
        raise InputError(f"{where}: unknown metric {out['metric']!r}; expected one of {METRICS}")
    if out["likelihood"] not in ("gaussian", "bernoulli", "nb", "zinb"):
        raise InputError(
            f"{where}: unknown likelihood {out['likelihood']!r}; expected gaussian, bernoulli, nb or zinb"
        )
    if out["likelihood"] in ("nb", "zinb") and out["values"] != "counts":
        raise InputError(
            f"{where}: likelihood {out['likelihood']} needs raw counts (values: counts)"
        )
    thr = out["binarize_threshold"]
    if not (thr == "median" or isinstance(thr, (int, float))):
        raise InputError(f"{where}: binarize_threshold must be a number or 'median', got {thr!r}")
    return out


def preprocess_omic(adata: ad.AnnData, settings: Mapping, where: str = "") -> ad.AnnData:
    """Normalise one omic according to ``settings`` (see module docstring).

    Args:
        adata: cells × features, float32 ``.X`` (dense with NaN = missing, or CSR).
        settings: output of :func:`omic_settings`.
        where: prefix of error messages (dataset, omic, file).

    Returns:
        A new AnnData: ``.X`` float32 (CSR kept CSR), ``var["highly_variable"]`` when selected,
        ``layers["counts"]`` (float32 raw counts of the kept features) for counts input,
        ``uns["singlecell_omic"]`` = the settings (strings / numbers, h5ad-writable).

    Raises:
        InputError: counts with negative or missing values; a bernoulli omic with values outside
            [0, 1].
    """
    import scanpy as sc  # imported here: reading and validating inputs does not need it

    adata = adata.copy()
    X = adata.X
    if settings["values"] == "counts":
        data = X.data if sp.issparse(X) else np.asarray(X)
        if np.isnan(data).any():
            raise InputError(f"{where}: values: counts but the matrix has missing values")
        if (data < 0).any():
            raise InputError(
                f"{where}: values: counts but the matrix has negative values (min {data.min()})"
            )
        zero = np.asarray(adata.X.sum(axis=1)).ravel() == 0
        if zero.any():
            raise InputError(
                f"{where}: {int(zero.sum())} cell(s) with zero total counts, e.g. {adata.obs_names[np.flatnonzero(zero)[0]]}"
            )
        adata.layers["counts"] = adata.X.copy()
        sc.pp.normalize_total(adata, target_sum=1e4)
        sc.pp.log1p(adata)
        if adata.n_vars > settings["n_top_genes"]:
            sc.pp.highly_variable_genes(
                adata, n_top_genes=settings["n_top_genes"], flavor="seurat"
            )
            adata = adata[:, adata.var["highly_variable"].to_numpy()].copy()
        adata.uns.pop("log1p", None)
    if settings["likelihood"] == "bernoulli":
        data = adata.X.data if sp.issparse(adata.X) else np.asarray(adata.X)
        finite = data[~np.isnan(data)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise InputError(
                f"{where}: likelihood bernoulli needs values in [0, 1] (rates or 0/1), found "
                f"[{finite.min():g}, {finite.max():g}]"
            )
    if "counts" in adata.layers:
        counts = adata.layers["counts"]
        adata.layers["counts"] = (
            sp.csr_matrix(counts, dtype=np.float32)
            if sp.issparse(counts)
            else np.asarray(counts, np.float32)
        )
    if sp.issparse(adata.X):
        adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    else:
        adata.X = np.asarray(adata.X, dtype=np.float32)
    adata.uns["singlecell_omic"] = {
        k: (str(v) if isinstance(v, str) else v) for k, v in settings.items()
    }
    return adata
