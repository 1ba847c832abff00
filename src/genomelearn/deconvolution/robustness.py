"""Sequencing-depth robustness: deconvolve binomially thinned libraries and track the agreement.

Oskolkov et al. (2022) report that PredictFiberType's estimates hold down to about 10,000 reads
per sample. Here every library is thinned to a target depth (each read kept with probability
depth / library size, :func:`.core.thin_counts`), deconvolved again, and compared with the measured
fractions and with the full-depth estimates, ``n_repeats`` times per depth with fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genomelearn.errors import InputError

from .agreement import pearson_test, spearman_test
from .core import align_genes, deconvolve_arrays, normalize_bulk, thin_counts

__all__ = ["depth_robustness", "summarize_depth_curve"]


def depth_robustness(
    counts: pd.DataFrame,
    signature: pd.DataFrame,
    depths: list[int],
    n_repeats: int,
    seed: int,
    method: str = "deconrnaseq",
    normalization: str = "cpm",
    measured: pd.DataFrame | None = None,
    bulk_name: str = "bulk",
    signature_name: str = "signature",
) -> pd.DataFrame:
    """Agreement of thinned-library estimates with measured fractions and with full depth.

    Args:
        counts: DataFrame (genes, samples) of raw integer read counts (whole libraries: the
            column sums are the library sizes).
        signature: DataFrame (genes, cell types).
        depths: target reads per sample (e.g. 1e6, 1e5, 1e4); a depth at or above a library's
            size leaves that library as it is.
        n_repeats: thinning replicates per depth.
        seed: base seed; replicate r of depth d uses ``default_rng([seed, d, r])``, so results do
            not depend on the order or number of depths.
        method, normalization: as in :func:`.core.deconvolve`.
        measured: optional DataFrame (samples, cell types) of measured fractions.
        bulk_name, signature_name: file names for messages.

    Returns:
        Long DataFrame, one row per (depth, repeat, cell type): depth (target; the row with
        depth = full library has ``thinned`` False and repeat 0), thinned, repeat, cell_type,
        mean_reads (mean thinned library size), n_undefined (samples whose thinned profile is
        constant over the signature genes), spearman_vs_full, mean_abs_diff_vs_full, and when
        ``measured`` is given n, spearman_rho, spearman_p, pearson_r, pearson_p versus measured.

    Raises:
        InputError: non-integer counts, non-positive depth, n_repeats < 1.
    """
    if n_repeats < 1:
        raise InputError(f"n_repeats must be >= 1, got {n_repeats}")
    if any(d <= 0 for d in depths):
        raise InputError(f"depths must be positive read numbers, got {depths}")
    values = counts.to_numpy()
    if np.any(np.asarray(values, dtype=float) % 1 != 0):
        r, c = np.argwhere(np.asarray(values, dtype=float) % 1 != 0)[0]
        raise InputError(
            f"{bulk_name}: gene {counts.index[r]!r}, sample {counts.columns[c]!r} has non-integer value "
            f"{values[r, c]:g}; depth thinning needs raw read counts"
        )
    shared, _ = align_genes(counts.index, signature, bulk_name, signature_name)
    S = signature.loc[shared].to_numpy(dtype=float)
    Y = counts.loc[shared].to_numpy(dtype=np.int64)
    lib = counts.to_numpy(dtype=np.int64).sum(axis=0)
    n = Y.shape[1]
    cell_types = list(signature.columns)
    full, _ = deconvolve_arrays(S, normalize_bulk(Y, normalization, lib), method)
    full = full[0]
    if measured is not None:
        common = [s for s in counts.columns if s in measured.index]
        pos = np.array([counts.columns.get_loc(s) for s in common], dtype=int)

    def rows_for(depth, thinned, repeat, props, reads):
        out = []
        undefined = int(np.isnan(props).any(axis=1).sum())
        for j, cell_type in enumerate(cell_types):
            row = {
                "depth": depth,
                "thinned": thinned,
                "repeat": repeat,
                "cell_type": cell_type,
                "mean_reads": float(np.mean(reads)),
                "n_undefined": undefined,
                "spearman_vs_full": spearman_test(props[:, j], full[:, j])["rho"],
                "mean_abs_diff_vs_full": float(np.nanmean(np.abs(props[:, j] - full[:, j]))),
            }
            if measured is not None and cell_type in measured.columns:
                sp = spearman_test(props[pos, j], measured.loc[common, cell_type].to_numpy())
                pe = pearson_test(props[pos, j], measured.loc[common, cell_type].to_numpy())
                row.update(
                    n=sp["n"],
                    spearman_rho=sp["rho"],
                    spearman_p=sp["p_value"],
                    pearson_r=pe["r"],
                    pearson_p=pe["p_value"],
                )
            out.append(row)
        return out

    records = rows_for(int(np.median(lib)), False, 0, full, lib)
    for depth in sorted({int(d) for d in depths}, reverse=True):
        thinned_all, libs = [], []
        for r in range(n_repeats):
            rng = np.random.default_rng([seed, depth, r])
            t, tl = thin_counts(Y, lib, depth, rng)
            thinned_all.append(normalize_bulk(t, normalization, tl))
            libs.append(tl)
        X = np.concatenate(thinned_all, axis=1)  # (g, n * R): all replicates in one batched solve
        props, _ = deconvolve_arrays(S, X, method)
        props = props[0].reshape(n_repeats, n, -1)
        for r in range(n_repeats):
            records.extend(rows_for(depth, True, r, props[r], libs[r]))
    return pd.DataFrame.from_records(records)


def summarize_depth_curve(curve: pd.DataFrame) -> pd.DataFrame:
    """Mean, SD, 2.5/97.5 % quantiles over repeats of the depth-curve metrics.

    Args:
        curve: output of :func:`depth_robustness`.

    Returns:
        DataFrame, one row per (depth, thinned, cell type), columns n_repeats, mean_reads, and for
        each metric present (spearman_rho, pearson_r, spearman_vs_full, mean_abs_diff_vs_full)
        ``<metric>_mean``, ``_sd``, ``_q025``, ``_q975``; sorted by decreasing depth, full first.
    """
    metrics = [
        m
        for m in ("spearman_rho", "pearson_r", "spearman_vs_full", "mean_abs_diff_vs_full")
        if m in curve.columns
    ]
    rows = []
    for (depth, thinned, cell_type), grp in curve.groupby(
        ["depth", "thinned", "cell_type"], sort=False
    ):
        row = {
            "depth": depth,
            "thinned": thinned,
            "cell_type": cell_type,
            "n_repeats": len(grp),
            "mean_reads": grp["mean_reads"].mean(),
            "n_undefined_max": int(grp["n_undefined"].max()),
        }
        for m in metrics:
            v = grp[m].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            nan = float("nan")
            row[f"{m}_mean"] = float(np.mean(v)) if v.size else nan
            row[f"{m}_sd"] = float(np.std(v, ddof=1)) if v.size > 1 else (0.0 if v.size else nan)
            row[f"{m}_q025"] = float(np.quantile(v, 0.025)) if v.size else nan
            row[f"{m}_q975"] = float(np.quantile(v, 0.975)) if v.size else nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out["_order"] = np.where(out["thinned"], out["depth"], np.inf)
    return (
        out.sort_values(["_order", "cell_type"], ascending=[False, True])
        .drop(columns="_order")
        .reset_index(drop=True)
    )
