"""Damage summary table of all samples, C→T overview plot and fragment-length distributions."""

import json

import pandas as pd

from genomelearn.workflow import run_script


def main(smk):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genomelearn.adna.damage import plot_damage, plot_lengths
    from genomelearn.adna.samplesheet import load_sample_sheet

    sheet = load_sample_sheet(smk.input.sheet)
    rows = []
    for path in smk.input.summaries:
        with open(path) as fh:
            s = json.load(fh)
        rows.append({k: v for k, v in s.items() if k != "filtered"} | {f"filtered_{k}": v for k, v in s["filtered"].items()})
    summary = pd.DataFrame(rows)
    info = sheet.reset_index(drop=True)[["sample", "individual", "label", "library", "udg", "group"]]
    summary = info.merge(summary, on="sample", how="right")
    lengths = {}
    medians = []
    for sample, path in zip(summary["sample"], smk.input.lengths):
        tbl = pd.read_csv(path, sep="\t")
        lengths[sample] = tbl
        agg = tbl.groupby("length")["count"].sum().sort_index()
        cum = agg.cumsum()
        medians.append(float(agg.index[(cum >= cum.iloc[-1] / 2).argmax()]) if len(agg) else float("nan"))
    summary["median_length"] = medians
    summary.to_csv(smk.output.summary, sep="\t", index=False, float_format="%.6g")

    for sample, path, png in zip(summary["sample"], smk.input.damage, smk.output.damage_plots):
        plot_damage(pd.read_csv(path, sep="\t"), png, title=f"{sample}: misincorporation by distance from the read ends")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    colours = {"ancient": "tab:red", "modern": "tab:blue", "unknown": "tab:grey"}
    for sample, path in zip(summary["sample"], smk.input.damage):
        tbl = pd.read_csv(path, sep="\t")
        label = summary.loc[summary["sample"] == sample, "label"].iloc[0]
        for ax, (end, sub) in zip(axes, (("5p", "C>T"), ("3p", "G>A"))):
            rows = tbl[(tbl["end"] == end) & (tbl["substitution"] == sub)]
            ax.plot(rows["position"], rows["frequency"], color=colours.get(label, "grey"), lw=0.8, alpha=0.7)
    axes[0].set(xlabel="distance from 5' end (bp)", ylabel="frequency", title="C>T")
    axes[1].set(xlabel="distance from 3' end (bp)", title="G>A")
    axes[1].invert_xaxis()
    for label, colour in colours.items():
        axes[0].plot([], [], color=colour, label=label)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(smk.output.damage, dpi=110)
    plt.close(fig)

    by_label = {}
    for sample, tbl in lengths.items():
        label = summary.loc[summary["sample"] == sample, "label"].iloc[0]
        group = summary.loc[summary["sample"] == sample, "group"].iloc[0]
        by_label.setdefault(f"{label} {group}", []).append(tbl)
    plot_lengths({k: pd.concat(v) for k, v in sorted(by_label.items())}, smk.output.lengths,
                 title="Fragment length by class and group")


run_script(main, snakemake)  # noqa: F821
