"""Damage profiles: misincorporation frequencies by distance from the read ends, length tables, plots.

The counts come from :class:`genomelearn.adna.reads.Extractor` (one streaming pass) and follow
mapDamage 2 (Jónsson et al. 2013, Bioinformatics 29:1682): for end e ∈ {5p, 3p}, position p
(1-based distance from that end of the read, in read orientation, over alignment columns of the
aligned part) and substitution X>Y,

    frequency = count(reference X, read Y) / count(reference X),

where the denominator counts every column with reference base X whose read base is A, C, G, T or a
deletion gap (columns with an N in the read or in the reference are not counted), summed over both
strands and all contigs. This is exactly what mapDamage's ``misincorporation.txt`` gives after
summing its ``Chr`` and ``Std`` rows (its plots and ``5pCtoT_freq.txt`` do the same sum).

Post-mortem deamination shows as C→T rising at the 5' end and, for double-stranded libraries,
G→A at the 3' end (C→T at both ends for single-stranded libraries); the other substitutions are the
control (sequencing error and true divergence, flat along the read).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

BASES = "ACGT"
SUBSTITUTIONS = [f"{x}>{y}" for x in BASES for y in BASES if x != y]
ENDS = ("5p", "3p")
DAMAGE_COLUMNS = ["end", "position", "substitution", "count", "total", "frequency"]


def damage_table(counts: np.ndarray) -> pd.DataFrame:
    """Long table of the 12 substitutions at both ends.

    Args:
        counts: int64 (2 ends, 2 strands, K positions, 6 reference codes, 6 read codes), codes
            A C G T N - (see :mod:`genomelearn.adna.reads`).

    Returns:
        DataFrame with columns end ('5p'/'3p'), position (1..K), substitution ('C>T', ...),
        count, total (columns with that reference base), frequency (count / total; NaN where
        total is 0). Rows ordered by end, substitution, position.
    """
    summed = counts.sum(axis=1)  # (2, K, 6, 6)
    k = summed.shape[1]
    rows = []
    for e, end in enumerate(ENDS):
        for sub in SUBSTITUTIONS:
            x, y = BASES.index(sub[0]), BASES.index(sub[2])
            count = summed[e, :, x, y]
            total = summed[e, :, x, [0, 1, 2, 3, 5]].sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                freq = np.where(total > 0, count / np.maximum(total, 1), np.nan)
            rows.append(
                pd.DataFrame(
                    {
                        "end": end,
                        "position": np.arange(1, k + 1),
                        "substitution": sub,
                        "count": count.astype(np.int64),
                        "total": total.astype(np.int64),
                        "frequency": freq,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)[DAMAGE_COLUMNS]


def read_mapdamage(path: str | os.PathLike, positions: int = 25) -> pd.DataFrame:
    """mapDamage's ``misincorporation.txt`` as the same long table as :func:`damage_table`.

    Sums the ``Chr`` and ``Std`` rows (as mapDamage's own ``calculate.mutation.table`` does);
    total of X>Y is the column X (reference base X).

    Args:
        path: misincorporation.txt written by ``mapDamage -i x.bam -r ref.fa``.
        positions: keep positions 1..positions.

    Returns:
        DataFrame with :data:`DAMAGE_COLUMNS`.
    """
    tbl = pd.read_csv(path, sep="\t", comment="#")
    tbl = tbl.groupby(["End", "Pos"], as_index=False)[list(BASES) + SUBSTITUTIONS].sum()
    tbl = tbl[tbl["Pos"] <= positions]
    rows = []
    for end in ENDS:
        sub_tbl = tbl[tbl["End"] == end].sort_values("Pos")
        for sub in SUBSTITUTIONS:
            total = sub_tbl[sub[0]].to_numpy()
            count = sub_tbl[sub].to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                freq = np.where(total > 0, count / np.maximum(total, 1), np.nan)
            rows.append(
                pd.DataFrame(
                    {
                        "end": end,
                        "position": sub_tbl["Pos"].to_numpy(),
                        "substitution": sub,
                        "count": count,
                        "total": total,
                        "frequency": freq,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)[DAMAGE_COLUMNS]


def wilson_interval(count, total, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion count/total (Wilson 1927, JASA 22:209).

    Args:
        count, total: array-likes of non-negative integers (same shape).
        level: confidence level (0 < level < 1).

    Returns:
        (low, high) float64 arrays of the shape of ``count``; NaN where total is 0. Unlike the Wald
        interval it stays inside [0, 1] and is wide for small totals (3 C's → about [0.44, 1] for
        3/3), which is what separates real damage from small-sample noise in the plots.
    """
    from scipy.stats import norm

    count = np.asarray(count, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    z = float(norm.ppf(0.5 + level / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = count / total
        denom = 1 + z**2 / total
        centre = (p + z**2 / (2 * total)) / denom
        half = z * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / denom
    low = np.where(total > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(total > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def compare_damage(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Join two damage tables on (end, position, substitution); adds ``abs_diff`` of frequencies."""
    merged = ours.merge(
        theirs, on=["end", "position", "substitution"], suffixes=("", "_ref"), how="outer"
    )
    merged["abs_diff"] = (merged["frequency"].fillna(0) - merged["frequency_ref"].fillna(0)).abs()
    return merged


def length_table(length_counts: dict) -> pd.DataFrame:
    """Fragment-length distribution.

    Args:
        length_counts: {length_source ('read'/'insert'): int64 histogram indexed by length (bp)}.

    Returns:
        DataFrame with columns length_source, length (bp), count, fraction (of all reads);
        lengths with zero count omitted.
    """
    rows = []
    for source, hist in sorted(length_counts.items()):
        hist = np.asarray(hist)
        nz = np.flatnonzero(hist)
        rows.append(
            pd.DataFrame(
                {"length_source": source, "length": nz, "count": hist[nz].astype(np.int64)}
            )
        )
    if not rows:
        return pd.DataFrame(columns=["length_source", "length", "count", "fraction"])
    out = pd.concat(rows, ignore_index=True)
    out["fraction"] = out["count"] / out["count"].sum()
    return out


def damage_summary(table: pd.DataFrame) -> dict:
    """Headline numbers of a damage table: C→T at 5' position 1, G→A and C→T at 3' position 1, and
    the mean of the other substitutions at positions 10–25 (background)."""

    def freq(end, sub, pos):
        row = table[
            (table["end"] == end) & (table["substitution"] == sub) & (table["position"] == pos)
        ]
        return float(row["frequency"].iloc[0]) if len(row) else float("nan")

    inner = table[(table["position"] >= 10) & ~table["substitution"].isin(["C>T", "G>A"])]
    return {
        "ct_5p1": freq("5p", "C>T", 1),
        "ga_3p1": freq("3p", "G>A", 1),
        "ct_3p1": freq("3p", "C>T", 1),
        "other_background": float(np.nanmean(inner["frequency"])) if len(inner) else float("nan"),
    }


def plot_damage(
    table: pd.DataFrame,
    path: str | os.PathLike,
    title: str = "",
    n_reads: int | None = None,
    min_reads: int = 0,
    ci_level: float = 0.95,
) -> None:
    """mapDamage-style plot: C→T from the 5' end (left) and G→A from the 3' end (right, mirrored),
    other substitutions in grey; C→T and G→A with their Wilson ``ci_level`` bands.

    Args:
        table: :func:`damage_table` output (count, total, frequency).
        path: PNG path.
        title: figure title.
        n_reads: reads behind the table (shown; with ``min_reads``, flags a small sample).
        min_reads: below this many reads the title says the profile is uncertain.
        ci_level: confidence level of the bands.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    ymax = 0.05
    for ax, end in zip(axes, ENDS):
        sub_tbl = table[table["end"] == end]
        for sub in SUBSTITUTIONS:
            rows = sub_tbl[sub_tbl["substitution"] == sub]
            if sub == "C>T":
                style = {"color": "tab:red", "lw": 2, "label": "C>T"}
            elif sub == "G>A":
                style = {"color": "tab:blue", "lw": 2, "label": "G>A"}
            else:
                style = {
                    "color": "grey",
                    "lw": 0.7,
                    "alpha": 0.6,
                    "label": "other" if sub == "A>C" else None,
                }
            ax.plot(rows["position"], rows["frequency"], **style)
            if sub in ("C>T", "G>A") and len(rows):
                low, high = wilson_interval(rows["count"], rows["total"], ci_level)
                ax.fill_between(rows["position"], low, high, color=style["color"], alpha=0.2, lw=0)
                ymax = max(ymax, float(np.nanmax(high)) if np.isfinite(high).any() else 0)
            ymax = max(
                ymax, float(np.nanmax(rows["frequency"])) if rows["frequency"].notna().any() else 0
            )
        ax.set_xlabel(f"distance from the {end[0]}' end (bp)")
        if end == "3p":
            ax.invert_xaxis()
    axes[0].set_ylabel(f"substitution frequency ({ci_level:.0%} Wilson CI)")
    axes[0].set_ylim(0, min(1.0, ymax * 1.1))
    axes[1].legend(fontsize=8, loc="upper left")
    if n_reads is not None:
        note = f"{n_reads:,} reads"
        if n_reads < min_reads:
            note += f": below the minimum of {min_reads:,}, frequencies uncertain"
        title = f"{title}\n{note}" if title else note
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lengths(length_tables: dict, path: str | os.PathLike, title: str = "") -> None:
    """Fragment-length distributions (density) of several samples; {name: length_table DataFrame}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, tbl in length_tables.items():
        if not len(tbl):
            continue
        agg = tbl.groupby("length")["count"].sum()
        ax.plot(agg.index, agg.to_numpy() / agg.sum(), lw=1, label=name)
    ax.set_xlabel("fragment length (bp; insert size for proper pairs)")
    ax.set_ylabel("fraction of reads")
    if len(length_tables) <= 12:
        ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
