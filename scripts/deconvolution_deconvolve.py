"""Deconvolve bulk samples: proportions with bootstrap-over-genes intervals, and the gene list used."""

import pandas as pd

from genomelearn.deconvolution import proportions_with_intervals, read_bulk_counts, read_signature
from genomelearn.deconvolution.tables import write_tsv
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    cfg = smk.params.cfg
    bulk = read_bulk_counts(smk.input.bulk)
    signature = read_signature(smk.input.signature)
    lib = bulk.sum(axis=0)
    log.info(
        "bulk %s: %d genes x %d samples; library sizes %.4g to %.4g",
        smk.input.bulk,
        *bulk.shape,
        lib.min(),
        lib.max(),
    )
    result, table = proportions_with_intervals(
        bulk,
        signature,
        method=cfg["method"],
        normalization=cfg["normalization"],
        n_bootstrap=cfg["n_bootstrap"],
        seed=cfg["seed"],
        bulk_name=str(smk.input.bulk),
        signature_name=smk.params.signature_name,
    )
    if result.dropped_signature_genes:
        log.warning(
            "%d of %d signature genes are not in %s and were dropped: %s",
            len(result.dropped_signature_genes),
            signature.shape[0],
            smk.input.bulk,
            ", ".join(result.dropped_signature_genes),
        )
    undefined = result.proportions.index[result.proportions.isna().any(axis=1)]
    if len(undefined):
        log.warning(
            "%d sample(s) have a constant profile over the signature genes; proportions NaN: %s",
            len(undefined),
            ", ".join(undefined),
        )
    log.info(
        "method %s, normalisation %s, %d shared genes, %d bootstrap replicates",
        cfg["method"],
        cfg["normalization"],
        len(result.shared_genes),
        cfg["n_bootstrap"],
    )
    genes = pd.DataFrame(
        {
            "gene": list(signature.index),
            "status": [
                "used" if g in set(result.shared_genes) else "dropped_not_in_bulk"
                for g in signature.index
            ],
        }
    )
    write_tsv(table, smk.output.proportions)
    write_tsv(genes, smk.output.genes)


run_script(main, snakemake)  # noqa: F821 - provided by Snakemake
