"""Depth robustness: binomial thinning of the bulk libraries, repeated, and the agreement per depth."""

from genomelearn.deconvolution import (
    depth_robustness,
    read_bulk_counts,
    read_measured,
    read_signature,
    summarize_depth_curve,
)
from genomelearn.deconvolution.plots import plot_depth_curve
from genomelearn.deconvolution.tables import write_tsv
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    cfg = smk.params.cfg
    bulk = read_bulk_counts(smk.input.bulk)
    signature = read_signature(smk.input.signature)
    measured = None
    if smk.input.get("measured"):
        measured = read_measured(
            smk.input.measured, cfg.get("measured_columns") or None, list(signature.columns)
        )
    small = bulk.columns[bulk.sum(axis=0) <= min(cfg["depths"])]
    if len(small):
        log.warning(
            "%d librar(ies) already at or below %d reads are not thinned below their size: %s",
            len(small),
            min(cfg["depths"]),
            ", ".join(small),
        )
    curve = depth_robustness(
        bulk,
        signature,
        cfg["depths"],
        cfg["n_repeats"],
        cfg["seed"],
        method=cfg["method"],
        normalization=cfg["normalization"],
        measured=measured,
        bulk_name=str(smk.input.bulk),
        signature_name=smk.params.signature_name,
    )
    summary = summarize_depth_curve(curve)
    for row in summary.itertuples():
        if measured is not None and row.cell_type in measured.columns:
            log.info(
                "depth %s (%s): Spearman vs measured %.3f +- %.3f; vs full depth %.3f",
                row.depth,
                "thinned" if row.thinned else "full",
                row.spearman_rho_mean,
                row.spearman_rho_sd,
                row.spearman_vs_full_mean,
            )
    write_tsv(curve, smk.output.curve)
    write_tsv(summary, smk.output.summary)
    shown = (
        summary[summary["cell_type"].isin(measured.columns)] if measured is not None else summary
    )
    plot_depth_curve(
        shown,
        smk.output.plot,
        title=f"{smk.wildcards.dataset}: agreement against sequencing depth",
    )


run_script(main, snakemake)  # noqa: F821 - provided by Snakemake
