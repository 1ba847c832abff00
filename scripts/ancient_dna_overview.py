"""Damage summary table of all samples, C→T overview plot and fragment-length distributions."""

import json

import numpy as np
import pandas as pd

from genomelearn.workflow import run_script


def main(smk):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genomelearn.adna.damage import plot_damage, plot_lengths, wilson_interval
    from genomelearn.adna.samplesheet import load_sample_sheet

    sheet = load_sample_sheet(smk.input.sheet)
    rows = []
    for path in smk.input.summaries:
        with open(path) as fh:
            s = json.load(fh)
        rows.append(
            {k: v for k, v in s.items() if k != "filtered"}
            | {f"filtered_{k}": v for k, v in s["filtered"].items()}
        )
    summary = pd.DataFrame(rows)
    info = sheet.reset_index(drop=True)[
        ["sample", "individual", "label", "library", "udg", "group"]
    ]
    summary = info.merge(summary, on="sample", how="right")
    lengths = {}
    medians = []
    for sample, path in zip(summary["sample"], smk.input.lengths):
        tbl = pd.read_csv(path, sep="\t")
        lengths[sample] = tbl
        agg = tbl.groupby("length")["count"].sum().sort_index()
        cum = agg.cumsum()
        medians.append(
            float(agg.index[(cum >= cum.iloc[-1] / 2).argmax()]) if len(agg) else float("nan")
        )
    summary["median_length"] = medians
    opts = smk.params.overview
    min_reads, ci_level = int(opts["min_reads"]), float(opts["ci_level"])
    tables = {
        sample: pd.read_csv(path, sep="\t")
        for sample, path in zip(summary["sample"], smk.input.damage)
    }
    for end, sub, key in (
        ("5p", "C>T", "ct_5p1"),
        ("3p", "G>A", "ga_3p1"),
        ("3p", "C>T", "ct_3p1"),
    ):
        cells = [
            tbl[(tbl["end"] == end) & (tbl["substitution"] == sub) & (tbl["position"] == 1)]
            for tbl in tables.values()
        ]
        count = np.array([c["count"].sum() for c in cells])
        total = np.array([c["total"].sum() for c in cells])
        summary[f"{key}_ci_low"], summary[f"{key}_ci_high"] = wilson_interval(
            count, total, ci_level
        )
    summary["below_min_reads"] = summary["kept"] < min_reads
    summary.to_csv(smk.output.summary, sep="\t", index=False, float_format="%.6g")

    kept = dict(zip(summary["sample"], summary["kept"]))
    for (sample, tbl), png in zip(tables.items(), smk.output.damage_plots):
        plot_damage(
            tbl,
            png,
            title=f"{sample}: misincorporation by distance from the read ends",
            n_reads=int(kept[sample]),
            min_reads=min_reads,
            ci_level=ci_level,
        )

    # overview: samples with >= min_reads as lines with Wilson bands; the others apart, below, as
    # points with their intervals (a 3-read sample must not draw a frequency-1.0 spike among them)
    small = [s for s in tables if kept[s] < min_reads]
    nrows = 2 if small else 1
    fig, axes = plt.subplots(nrows, 2, figsize=(10, 3.8 * nrows), sharey="row", squeeze=False)
    colours = {"ancient": "tab:red", "modern": "tab:blue", "unknown": "tab:grey"}
    labels = dict(zip(summary["sample"], summary["label"]))
    for sample, tbl in tables.items():
        row = 1 if sample in small else 0
        colour = colours.get(labels[sample], "grey")
        for ax, (end, sub) in zip(axes[row], (("5p", "C>T"), ("3p", "G>A"))):
            rows = tbl[(tbl["end"] == end) & (tbl["substitution"] == sub)]
            low, high = wilson_interval(rows["count"], rows["total"], ci_level)
            if row == 0:
                ax.plot(rows["position"], rows["frequency"], color=colour, lw=0.8, alpha=0.7)
                ax.fill_between(rows["position"], low, high, color=colour, alpha=0.08, lw=0)
            else:
                freq = rows["frequency"].to_numpy()
                ax.errorbar(
                    rows["position"],
                    freq,
                    yerr=[np.clip(freq - low, 0, None), np.clip(high - freq, 0, None)],
                    fmt="o",
                    ms=2,
                    lw=0.6,
                    color=colour,
                    alpha=0.6,
                )
    for row in range(nrows):
        axes[row, 0].set(
            xlabel="distance from 5' end (bp)",
            ylabel=f"frequency ({ci_level:.0%} Wilson CI)",
            title="C>T",
        )
        axes[row, 1].set(xlabel="distance from 3' end (bp)", title="G>A")
        axes[row, 1].invert_xaxis()
    axes[0, 0].set_title(f"C>T, samples with >= {min_reads:,} reads ({len(tables) - len(small)})")
    if small:
        axes[1, 0].set_title(
            f"C>T, samples with < {min_reads:,} reads ({len(small)}): uncertain", fontsize=9
        )
        axes[1, 1].set_title("G>A, same samples", fontsize=9)
    for label, colour in colours.items():
        axes[0, 0].plot([], [], color=colour, label=label)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(smk.output.damage, dpi=110)
    plt.close(fig)

    by_label = {}
    for sample, tbl in lengths.items():
        label = summary.loc[summary["sample"] == sample, "label"].iloc[0]
        group = summary.loc[summary["sample"] == sample, "group"].iloc[0]
        by_label.setdefault(f"{label} {group}", []).append(tbl)
    plot_lengths(
        {k: pd.concat(v) for k, v in sorted(by_label.items())},
        smk.output.lengths,
        title="Fragment length by class and group",
    )


run_script(main, snakemake)  # noqa: F821
