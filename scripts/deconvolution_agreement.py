"""Agreement of estimated with measured proportions (Spearman, Pearson), the published estimates, plot."""

import numpy as np
import pandas as pd

from genomelearn.deconvolution import (
    METHODS,
    NORMALIZATIONS,
    agreement_table,
    bootstrap_proportions,
    deconvolve,
    normalize_bulk,
    read_bulk_counts,
    read_matrix,
    read_measured,
    read_signature,
)
from genomelearn.deconvolution.agreement import correlation_intervals, pearson_test, spearman_test
from genomelearn.deconvolution.plots import plot_agreement
from genomelearn.deconvolution.tables import write_tsv
from genomelearn.errors import InputError
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    cfg = smk.params.cfg
    long = pd.read_csv(smk.input.proportions, sep="\t", dtype={"sample": str})
    estimated = long.pivot(index="sample", columns="cell_type", values="proportion")
    samples = list(dict.fromkeys(long["sample"]))
    cell_types = list(dict.fromkeys(long["cell_type"]))
    estimated = estimated.loc[samples, cell_types]
    measured = read_measured(smk.input.measured, cfg.get("measured_columns") or None, cell_types)

    no_measure = [s for s in samples if s not in measured.index]
    no_rnaseq = [s for s in measured.index if s not in estimated.index]
    if no_measure:
        log.warning(
            "%d bulk sample(s) have no measured fraction in %s and are left out of the agreement: %s",
            len(no_measure),
            smk.input.measured,
            ", ".join(no_measure),
        )
    if no_rnaseq:
        log.warning(
            "%d measured sample(s) in %s have no bulk profile and are left out: %s",
            len(no_rnaseq),
            smk.input.measured,
            ", ".join(no_rnaseq),
        )
    common = [s for s in samples if s in measured.index]
    if len(common) < 3:
        raise InputError(
            f"{smk.input.measured}: only {len(common)} sample(s) shared with the bulk; need at least 3 for correlations"
        )

    table = agreement_table(estimated, measured)
    # Gene-bootstrap replicates, recomputed with the deconvolution step's seed (identical draws).
    bulk = read_bulk_counts(smk.input.bulk)
    signature = read_signature(smk.input.signature)
    shared = [g for g in signature.index if g in bulk.index]
    X = normalize_bulk(
        bulk.loc[shared, samples].to_numpy(dtype=float),
        cfg["normalization"],
        bulk[samples].to_numpy(dtype=float).sum(axis=0),
    )
    boot = (
        bootstrap_proportions(
            signature.loc[shared, cell_types].to_numpy(dtype=float),
            X,
            cfg["method"],
            cfg["n_bootstrap"],
            cfg["seed"],
        )
        if cfg["n_bootstrap"] > 0
        else None
    )
    intervals = correlation_intervals(estimated, measured, boot, seed=cfg["seed"])
    table = table.merge(intervals, on="cell_type")
    for row in table.itertuples():
        log.info(
            "%s: n = %d, Spearman rho = %.4f (p = %.4g), Pearson r = %.4f (p = %.4g)",
            row.cell_type,
            row.n,
            row.spearman_rho,
            row.spearman_p,
            row.pearson_r,
            row.pearson_p,
        )

    merged = long[long["cell_type"].isin(measured.columns)].copy()
    merged["measured"] = [
        measured.at[s, c] if s in measured.index else np.nan
        for s, c in zip(merged["sample"], merged["cell_type"])
    ]
    published_rows = []
    if smk.input.get("published"):
        published = read_matrix(smk.input.published, "published predictions")
        published.index = published.index.astype(str)
        merged["published"] = [
            published.at[s, c] if (s in published.index and c in published.columns) else np.nan
            for s, c in zip(merged["sample"], merged["cell_type"])
        ]
        for cell_type in [c for c in cell_types if c in published.columns]:
            both = [s for s in samples if s in published.index]
            ours = estimated.loc[both, cell_type].to_numpy(dtype=float)
            theirs = published.loc[both, cell_type].to_numpy(dtype=float)
            published_rows.append(
                {
                    "comparison": "this workflow vs published",
                    "cell_type": cell_type,
                    "n": len(both),
                    "pearson_r": pearson_test(ours, theirs)["r"],
                    "spearman_rho": spearman_test(ours, theirs)["rho"],
                    "max_abs_diff": float(np.nanmax(np.abs(ours - theirs))),
                    "mean_abs_diff": float(np.nanmean(np.abs(ours - theirs))),
                }
            )
            if cell_type in measured.columns:
                inter = [s for s in both if s in measured.index]
                sp = spearman_test(published.loc[inter, cell_type], measured.loc[inter, cell_type])
                pe = pearson_test(published.loc[inter, cell_type], measured.loc[inter, cell_type])
                published_rows.append(
                    {
                        "comparison": "published vs measured",
                        "cell_type": cell_type,
                        "n": sp["n"],
                        "pearson_r": pe["r"],
                        "spearman_rho": sp["rho"],
                        "spearman_p": sp["p_value"],
                        "max_abs_diff": float(
                            np.nanmax(
                                np.abs(
                                    published.loc[inter, cell_type]
                                    - measured.loc[inter, cell_type]
                                )
                            )
                        ),
                        "mean_abs_diff": float(
                            np.nanmean(
                                np.abs(
                                    published.loc[inter, cell_type]
                                    - measured.loc[inter, cell_type]
                                )
                            )
                        ),
                    }
                )
        for row in published_rows:
            log.info(
                "%s (%s): n = %d, Pearson r = %.6f, max |diff| = %.3g",
                row["comparison"],
                row["cell_type"],
                row["n"],
                row["pearson_r"],
                row["max_abs_diff"],
            )
    else:
        merged["published"] = np.nan
    published_table = pd.DataFrame(
        published_rows,
        columns=[
            "comparison",
            "cell_type",
            "n",
            "pearson_r",
            "spearman_rho",
            "spearman_p",
            "max_abs_diff",
            "mean_abs_diff",
        ],
    )

    # Sensitivity: every formulation x normalisation on the same inputs (the configured one flagged).
    variants = []
    for method in METHODS:
        for norm in NORMALIZATIONS:
            est = deconvolve(
                bulk, signature, method, norm, str(smk.input.bulk), str(smk.input.signature)
            ).proportions
            for row in agreement_table(est, measured).to_dict("records"):
                variants.append(
                    {
                        "method": method,
                        "normalization": norm,
                        "configured": method == cfg["method"] and norm == cfg["normalization"],
                        **row,
                    }
                )
    variants = pd.DataFrame(variants)

    write_tsv(table, smk.output.agreement)
    write_tsv(variants, smk.output.variants)
    write_tsv(merged, smk.output.merged)
    write_tsv(published_table, smk.output.published)
    plot_agreement(
        merged.dropna(subset=["measured"]),
        table,
        smk.output.scatter,
        title=f"{smk.wildcards.dataset}: estimated vs measured",
    )


run_script(main, snakemake)  # noqa: F821 - provided by Snakemake
