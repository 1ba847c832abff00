"""Cross-fitted gene scores (rule introgression_gene_scores)."""

import pandas as pd

from genomelearn.introgression.genes import crossfit_gene_scores, gene_windows, read_genes
from genomelearn.io.bed import normalise_contig, read_bed
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    contigs = [normalise_contig(c, "ucsc") for c in smk.params.contigs]
    p = smk.params.genes
    genes = read_genes(smk.input.genes, contigs, p["gene_types"])
    mask = read_bed(smk.input.mask) if smk.input.mask else None
    w = smk.params.windows
    wins = gene_windows(genes, mask, smk.input.reference, w["length"], w["stride"], w["max_n_fraction"], smk.params.block_size)
    log.info("%d genes, %d gene windows in %d genes", len(genes), len(wins), wins["gene"].nunique())
    labelled = pd.read_parquet(smk.input.windows)
    scores, folds = crossfit_gene_scores(
        labelled,
        wins,
        genes,
        p["model"],
        smk.params.encoding["count_k"],
        p["folds"],
        smk.params.seed,
        threads=smk.threads,
        model_settings=smk.params.classical.get(p["model"], {}),
    )
    scores.to_csv(smk.output.scores, sep="\t", index=False, float_format="%.4f")
    folds.to_csv(smk.output.folds, sep="\t", index=False, float_format="%.4f")
    log.info("folds:\n%s", folds.to_string())


run_script(main, snakemake)  # noqa: F821
