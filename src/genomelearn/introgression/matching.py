"""Composition-matched subsampling: negatives that follow the positives' GC x repeat distribution.

Coarsened exact matching (Iacus, King & Porro 2012, "Causal inference without balance checking:
coarsened exact matching", Political Analysis 20:1): every window falls into a cell of a joint grid
of ``gc_bins`` x ``repeat_bins`` quantile bins of the *positives*; within each cell a fixed
number of negatives per positive is drawn (seeded, without replacement), so both classes end up
with the same joint cell distribution. A classifier that sees only GC and repeat fraction then
sits near AUROC 0.5 by construction, and whatever signal a sequence model keeps is beyond
composition (up to the residual variation inside a cell).

GC is the GC fraction of the ACGT bases of a window; the repeat fraction is the share of
soft-masked (lowercase) bases of the reference, as written by
:func:`genomelearn.introgression.windows.annotate` (columns ``gc`` and ``repeat_fraction``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["composition_cells", "match_composition", "quantile_edges"]


def quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges at the 0, 1/n, ..., 1 quantiles of ``values`` (NaN ignored), ties collapsed.

    Args:
        values: float (M,) reference values (the positives' GC or repeat fraction).
        n_bins: requested number of bins (>= 1); fewer result where quantiles coincide (for
            example many windows with repeat fraction 0).

    Returns:
        float64 (B + 1,) strictly increasing edges, B <= n_bins; a single value gives (1,).

    Raises:
        ValueError: n_bins < 1 or no finite value.
    """
    if n_bins < 1:
        raise ValueError(f"the number of bins must be >= 1, got {n_bins}")
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        raise ValueError("no finite value to take quantile bins from")
    return np.unique(np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)))


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index (int64) of each value; -1 outside [edges[0], edges[-1]] or NaN."""
    values = np.asarray(values, dtype=np.float64)
    out = np.searchsorted(edges[1:-1], values, side="right").astype(np.int64)
    outside = ~np.isfinite(values) | (values < edges[0]) | (values > edges[-1])
    out[outside] = -1
    return out


def composition_cells(
    labels: np.ndarray,
    gc: np.ndarray,
    repeat_fraction: np.ndarray,
    gc_bins: int,
    repeat_bins: int,
) -> np.ndarray:
    """Joint GC x repeat-fraction cell of every window, from the positives' quantile bins.

    Args:
        labels: (N,) int/bool, 1 = positive (introgressed), 0 = negative.
        gc: float (N,) GC fraction (0-1).
        repeat_fraction: float (N,) soft-masked fraction (0-1).
        gc_bins, repeat_bins: requested quantile bins per axis (>= 1).

    Returns:
        int64 (N,) cell id ``gc_bin * n_repeat_bins + repeat_bin``; -1 for windows outside the
        positives' range on either axis (or with a NaN value).

    Raises:
        ValueError: arrays of different lengths, no positive, or bins < 1.
    """
    labels, gc, repeat_fraction = np.asarray(labels), np.asarray(gc), np.asarray(repeat_fraction)
    if not (len(labels) == len(gc) == len(repeat_fraction)):
        raise ValueError(
            f"labels, gc and repeat_fraction differ in length: {len(labels)}, {len(gc)}, {len(repeat_fraction)}"
        )
    positive = labels == 1
    if not positive.any():
        raise ValueError("composition matching needs at least one positive window")
    gc_edges = quantile_edges(gc[positive], gc_bins)
    rep_edges = quantile_edges(repeat_fraction[positive], repeat_bins)
    g, r = _bin(gc, gc_edges), _bin(repeat_fraction, rep_edges)
    n_rep = max(len(rep_edges) - 1, 1)
    return np.where((g >= 0) & (r >= 0), g * n_rep + r, -1)


def match_composition(
    labels: np.ndarray,
    gc: np.ndarray,
    repeat_fraction: np.ndarray,
    gc_bins: int,
    repeat_bins: int,
    seed: int,
    negatives_per_positive: float = 1.0,
) -> np.ndarray:
    """Indices of a subsample whose negatives follow the positives' joint GC x repeat distribution.

    Per cell c of :func:`composition_cells` with p_c positives and n_c negatives, keep
    ``k_c = min(p_c, floor(n_c / r))`` positives and ``round(r * k_c)`` negatives (r =
    ``negatives_per_positive``), both drawn uniformly without replacement. All positives are kept
    where a cell holds enough negatives; positives are dropped only from cells short of
    negatives, and windows outside the positives' range are dropped, so the classes share one
    cell distribution (the ratio r in every cell). Apply it within a fold (to the training
    windows, and separately to the test windows for a matched evaluation).

    Args:
        labels: (N,) 0/1 labels (1 = positive).
        gc: float (N,) GC fraction.
        repeat_fraction: float (N,) soft-masked fraction.
        gc_bins, repeat_bins: quantile bins of the positives per axis (config
            ``matching: {gc_bins: 20, repeat_bins: 5}``).
        seed: seed of the draws (numpy ``default_rng``); same inputs and seed, same indices.
        negatives_per_positive: r > 0.

    Returns:
        int64 (K,) sorted row indices into the inputs.

    Raises:
        ValueError: arrays of different lengths, labels other than 0/1, no positive, no
            negative left after matching, bins < 1 or r <= 0.
    """
    labels = np.asarray(labels)
    if negatives_per_positive <= 0:
        raise ValueError(f"negatives_per_positive must be > 0, got {negatives_per_positive}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0/1, got values {np.unique(labels)[:10].tolist()}")
    cells = composition_cells(labels, gc, repeat_fraction, gc_bins, repeat_bins)
    rng = np.random.default_rng(seed)
    n_cells = int(cells.max()) + 1
    valid = cells >= 0
    pos_count = np.bincount(cells[valid & (labels == 1)], minlength=n_cells)
    neg_count = np.bincount(cells[valid & (labels == 0)], minlength=n_cells)
    keep_pos = np.minimum(
        pos_count, np.floor(neg_count / negatives_per_positive + 1e-9).astype(np.int64)
    )
    keep_neg = np.minimum(np.rint(negatives_per_positive * keep_pos).astype(np.int64), neg_count)
    chosen = []
    for label, quota in ((1, keep_pos), (0, keep_neg)):
        idx = np.flatnonzero(valid & (labels == label))
        # a random key per window, then the `quota` smallest keys of each cell: one vectorised draw
        key = rng.random(len(idx))
        order = np.lexsort((key, cells[idx]))
        idx, cell = idx[order], cells[idx][order]
        rank = np.arange(len(idx)) - np.searchsorted(cell, cell, side="left")
        chosen.append(idx[rank < quota[cell]])
    if chosen[1].size == 0 or chosen[0].size == 0:
        raise ValueError(
            f"composition matching left {chosen[0].size} positives and {chosen[1].size} negatives "
            f"({int((labels == 1).sum())} positives, {int((labels == 0).sum())} negatives before; "
            f"{int((~valid & (labels == 0)).sum())} negatives outside the positives' GC/repeat range)"
        )
    return np.sort(np.concatenate(chosen))
