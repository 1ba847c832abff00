"""Pseudo-bulk mixtures of real single cells with known composition, without leakage.

A single-cell reference with cell-type labels is split, per cell type, into a *reference* half
(used only to find markers and build the signature) and a *mixture* half (used only to build the
pseudo-bulk samples). Each pseudo-bulk sample draws cell-type proportions from a flat Dirichlet,
a number of cells per type from a multinomial, the cells themselves (with replacement) from the
mixture half, and sums their linear-scale expression. The realised cell fractions are the truth
that the deconvolution is scored against. This validates the reference -> signature ->
deconvolution path on real measurements (the expression profiles are real, only the mixing is
synthetic), as done e.g. by Newman et al. 2015 (CIBERSORT) and Wang et al. 2019 (MuSiC).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genomelearn.errors import InputError

from .signatures import reference_matrix

__all__ = ["split_reference", "make_pseudobulk"]


def split_reference(
    labels: np.ndarray, reference_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Stratified split of cells: True = reference half, False = mixture half.

    Args:
        labels: (cells,) cell-type labels.
        reference_fraction: share of each type's cells kept for the signature (0 < f < 1); every
            type keeps at least one cell on each side.
        rng: numpy Generator.

    Returns:
        (cells,) bool.

    Raises:
        InputError: a cell type with fewer than 2 cells.
    """
    labels = np.asarray(labels).astype(str)
    in_ref = np.zeros(labels.size, dtype=bool)
    for cell_type in np.unique(labels):
        idx = np.flatnonzero(labels == cell_type)
        if idx.size < 2:
            raise InputError(
                f"cell type {cell_type!r} has {idx.size} cell(s); need >= 2 to split reference / mixture cells"
            )
        n_ref = int(np.clip(round(reference_fraction * idx.size), 1, idx.size - 1))
        in_ref[rng.choice(idx, size=n_ref, replace=False)] = True
    return in_ref


def make_pseudobulk(
    adata,
    cluster_key: str,
    n_samples: int = 40,
    cells_per_sample: int = 200,
    reference_fraction: float = 0.5,
    seed: int = 0,
    layer: str | None = None,
    use_raw: bool = False,
    log1p: bool | str = "auto",
    source: str = "reference",
):
    """Split a labelled reference and build pseudo-bulk samples from the held-out cells.

    Args:
        adata: AnnData (cells x genes) with ``obs[cluster_key]``.
        cluster_key: cell-type column.
        n_samples: pseudo-bulk samples.
        cells_per_sample: cells summed per sample.
        reference_fraction: share of each type's cells reserved for the signature.
        seed: seed of the split and the mixing.
        layer, use_raw: the matrix summed (see :func:`.signatures.reference_matrix`).
        log1p: that matrix is log1p (``expm1`` applied before summing); ``"auto"`` as in
            :func:`.signatures.build_signature`.
        source: file name for messages.

    Returns:
        (reference AnnData of the reference-half cells, bulk DataFrame (genes, samples) float64,
        truth DataFrame (samples, cell types) of realised cell fractions, split DataFrame
        (cell, cell_type, part)).

    Raises:
        InputError: missing cluster column; a cell type with fewer than 2 cells; negative values.
    """
    if cluster_key not in adata.obs.columns:
        raise InputError(f"{source}: obs has no column {cluster_key!r}")
    rng = np.random.default_rng(seed)
    labels = adata.obs[cluster_key].astype(str).to_numpy()
    in_ref = split_reference(labels, reference_fraction, rng)
    matrix, genes = reference_matrix(adata, layer, use_raw)
    if log1p == "auto":
        log1p = bool(use_raw or "log1p" in adata.uns)
    mix_idx = np.flatnonzero(~in_ref)
    X = matrix[mix_idx]
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=float)
    X = np.expm1(X) if log1p else X.astype(float)
    if np.any(X < 0):
        raise InputError(
            f"{source}: negative expression in the matrix summed (scaled data?); use .raw or a count layer"
        )
    types = sorted(np.unique(labels))
    mix_labels = labels[mix_idx]
    pools = {t: np.flatnonzero(mix_labels == t) for t in types}
    props = rng.dirichlet(np.ones(len(types)), size=n_samples)
    bulk = np.zeros((X.shape[1], n_samples))
    truth = np.zeros((n_samples, len(types)))
    for s in range(n_samples):
        counts = rng.multinomial(cells_per_sample, props[s])
        chosen = np.concatenate(
            [rng.choice(pools[t], size=c, replace=True) for t, c in zip(types, counts)]
        )
        bulk[:, s] = X[chosen].sum(axis=0)
        truth[s] = counts / cells_per_sample
    names = [f"pseudo{s:03d}" for s in range(n_samples)]
    bulk_df = pd.DataFrame(bulk, index=pd.Index(genes), columns=names)
    truth_df = pd.DataFrame(truth, index=names, columns=types)
    reference = adata[in_ref].copy()
    split = pd.DataFrame(
        {
            "cell": adata.obs_names,
            "cell_type": labels,
            "part": np.where(in_ref, "reference", "mixture"),
        }
    )
    return reference, bulk_df, truth_df, split
