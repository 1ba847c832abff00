"""Out-of-fold gene scores on the primary setting's block CV folds (rule introgression_gene_scores)."""

import pandas as pd

from genomelearn.introgression.genes import gene_windows, oof_gene_scores, read_genes
from genomelearn.introgression.io import read_split
from genomelearn.io.bed import normalise_contig, read_bed
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    contigs = [normalise_contig(c, "ucsc") for c in smk.params.contigs]
    p = smk.params.genes
    genes = read_genes(smk.input.genes, contigs, p["gene_types"])
    mask = read_bed(smk.input.mask) if smk.input.mask else None
    w, s = smk.params.windows, smk.params.splits
    wins = gene_windows(
        genes,
        mask,
        smk.input.reference,
        w["length"],
        w["stride"],
        w["max_n_fraction"],
        s["block_size"],
    )
    log.info(
        "%d genes, %d gene windows in %d genes", len(genes), len(wins), wins["gene"].nunique()
    )
    labelled = pd.read_parquet(smk.input.windows[0])
    roles = {f: read_split(path, len(labelled)) for f, path in enumerate(smk.input.splits)}
    scores, folds = oof_gene_scores(
        labelled,
        wins,
        genes,
        p["model"],
        smk.params.encoding["count_k"],
        roles,
        s["buffer_bp"],
        s["block_size"],
        smk.params.seed,
        threads=smk.threads,
        model_settings=smk.params.classical[p["model"]],
    )
    scores.to_csv(smk.output.scores, sep="\t", index=False, float_format="%.4f")
    folds.to_csv(smk.output.folds, sep="\t", index=False, float_format="%.4f")
    log.info("primary setting %s; folds:\n%s", "/".join(smk.params.primary), folds.to_string())


run_script(main, snakemake)  # noqa: F821
