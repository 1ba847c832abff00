"""Figures of the deconvolution analysis (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["plot_agreement", "plot_depth_curve"]


def plot_agreement(
    merged: pd.DataFrame, agreement: pd.DataFrame, path: str | os.PathLike, title: str = ""
) -> None:
    """Scatter of estimated vs measured fractions, one panel per measured cell type.

    Args:
        merged: long table with columns sample, cell_type, measured, proportion, ci_low, ci_high
            and optionally published (the reference tool's own estimate).
        agreement: output of :func:`.agreement.agreement_table` (for the panel annotations).
        path: PNG path.
        title: figure title.
    """
    cell_types = list(agreement["cell_type"])
    n = max(len(cell_types), 1)
    ncol = min(n, 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 4.8 * nrow), squeeze=False)
    for ax in axes.ravel()[len(cell_types) :]:
        ax.set_visible(False)
    for ax, cell_type in zip(axes.ravel(), cell_types):
        d = merged[merged["cell_type"] == cell_type]
        yerr = np.vstack([d["proportion"] - d["ci_low"], d["ci_high"] - d["proportion"]])
        ax.errorbar(
            d["measured"],
            d["proportion"],
            yerr=np.clip(yerr, 0, None),
            fmt="o",
            ms=5,
            color="tab:blue",
            ecolor="0.75",
            elinewidth=1,
            capsize=2,
            label="this workflow (95 % bootstrap CI)",
        )
        if "published" in d.columns and d["published"].notna().any():
            ax.plot(
                d["measured"],
                d["published"],
                "x",
                color="tab:red",
                ms=6,
                label="published estimate",
            )
        lo = float(np.nanmin([d["measured"].min(), d["ci_low"].min()]))
        hi = float(np.nanmax([d["measured"].max(), d["ci_high"].max()]))
        ax.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color="grey", label="y = x")
        row = agreement[agreement["cell_type"] == cell_type].iloc[0]
        ax.set_title(
            f"{cell_type}\nn = {row['n']}, Spearman rho = {row['spearman_rho']:.3f} (p = {row['spearman_p']:.2g}),\n"
            f"Pearson r = {row['pearson_r']:.3f} (p = {row['pearson_p']:.2g})",
            fontsize=9,
        )
        ax.set_xlabel("measured fraction")
        ax.set_ylabel("estimated proportion")
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_depth_curve(summary: pd.DataFrame, path: str | os.PathLike, title: str = "") -> None:
    """Agreement against sequencing depth (log x axis), mean and 95 % range over repeats.

    Args:
        summary: output of :func:`.robustness.summarize_depth_curve`.
        path: PNG path.
        title: figure title.
    """
    metrics = [
        (m, label)
        for m, label in (
            ("spearman_rho", "Spearman rho vs measured"),
            ("spearman_vs_full", "Spearman rho vs full-depth estimate"),
        )
        if f"{m}_mean" in summary.columns
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for cell_type, grp in summary.groupby("cell_type", sort=True):
        grp = grp.sort_values("mean_reads")
        for (metric, label), style in zip(metrics, ("-o", "--s")):
            y = grp[f"{metric}_mean"].to_numpy(dtype=float)
            if not np.isfinite(y).any():
                continue
            line = ax.plot(grp["mean_reads"], y, style, ms=4, label=f"{cell_type}: {label}")[0]
            ax.fill_between(
                grp["mean_reads"],
                grp[f"{metric}_q025"],
                grp[f"{metric}_q975"],
                color=line.get_color(),
                alpha=0.15,
            )
    ax.set_xscale("log")
    ax.set_xlabel("reads per sample (binomial thinning; rightmost = full library)")
    ax.set_ylabel("correlation")
    ax.axvline(1e4, color="grey", lw=0.6, ls=":")
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
