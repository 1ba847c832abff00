"""Gene scores: mean and max P(introgressed) of a gene's windows, cross-fitted over genomic blocks.

Genomic blocks are dealt into K folds. For fold f a model is trained on the labelled windows of
the other folds' blocks and scores the gene windows lying in fold f's blocks, so no gene window is
ever scored by a model that saw its block (cross-fitting, as in double machine learning).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from genomelearn.encoding import kmer_counts, kmer_tokens, to_codes
from genomelearn.evaluation import binary_metrics
from genomelearn.errors import InputError
from genomelearn.introgression.classical import classical_features, make_classical
from genomelearn.introgression.splits import crossfit_folds
from genomelearn.introgression.windows import assign_blocks, tile, with_sequence
from genomelearn.io import bed

log = logging.getLogger("genomelearn")


def read_genes(path, contigs: list[str], gene_types: list[str]) -> pd.DataFrame:
    """GENCODE gene BED (BED6 + gene_type) → chrom, start, end, gene_name, strand, gene_type.

    Raises:
        InputError: fewer than 6 columns, or no gene left on ``contigs`` of ``gene_types``.
    """
    genes = bed.read_bed(path, extra_columns=True)
    if genes.shape[1] < 6:
        raise InputError(f"{path}: gene BED needs at least 6 columns (chrom start end name score strand), got {genes.shape[1]}")
    genes = genes.rename(columns={"col4": "gene_name", "col6": "strand", "col7": "gene_type"})
    if "gene_type" not in genes:
        genes["gene_type"] = "NA"
    genes = genes[genes["chrom"].isin(contigs)]
    if gene_types:
        genes = genes[genes["gene_type"].isin(gene_types)]
    if genes.empty:
        raise InputError(f"{path}: no gene on {contigs} with gene_type in {gene_types}")
    return genes[["chrom", "start", "end", "gene_name", "strand", "gene_type"]].reset_index(drop=True)


def gene_windows(genes: pd.DataFrame, mask: pd.DataFrame | None, fasta_path, length: int, stride: int, max_n_fraction: float, block_size: int) -> pd.DataFrame:
    """Windows tiled over each gene's sequence (inside ``mask`` when given).

    Returns:
        DataFrame gene (row of ``genes``), chrom, start, end, block, gc, sequence; windows with a
        larger non-ACGT share than ``max_n_fraction`` are dropped.
    """
    regions = genes[["chrom", "start", "end"]].assign(gene=np.arange(len(genes)))
    if mask is not None and not regions.empty:
        import pybedtools

        cut = pybedtools.BedTool.from_dataframe(regions).intersect(bed.to_bedtool(bed.merge(mask)))
        regions = pd.DataFrame(
            [(iv.chrom, iv.start, iv.end, int(iv.fields[3])) for iv in cut], columns=["chrom", "start", "end", "gene"]
        )
    regions = regions.reset_index(drop=True).assign(label=np.int8(0))
    tiled = tile(regions, length, stride)
    tiled["gene"] = regions["gene"].to_numpy()[tiled["region"].to_numpy()]
    windows = with_sequence(tiled, fasta_path, length)
    windows = windows[windows["n_fraction"] <= max_n_fraction + 1e-9].reset_index(drop=True)
    windows["block"] = assign_blocks(windows, block_size)
    return windows[["gene", "chrom", "start", "end", "block", "gc", "sequence"]]


def crossfit_gene_scores(
    labelled: pd.DataFrame,
    gene_wins: pd.DataFrame,
    genes: pd.DataFrame,
    model_name: str,
    count_k: int,
    folds: int,
    seed: int,
    threads: int = 1,
    model_settings: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cross-fitted gene scores.

    Args:
        labelled: labelled windows (label, gc, block, sequence).
        gene_wins: gene windows from :func:`gene_windows`.
        genes: gene table from :func:`read_genes` (row i = gene index i).
        model_name: gc_logreg, kmer_logreg or random_forest.
        count_k: k of the k-mer counts.
        folds: number of block folds (≥ 2).
        seed: fold assignment and model seed.

    Returns:
        (scores, fold_table): scores has gene_name, chrom, start, end, strand, n_windows,
        mean_probability, max_probability (genes without windows omitted), sorted by
        mean_probability descending; fold_table has per fold the training size, gene windows
        scored and the held-out AUROC/AUPRC on that fold's labelled windows.
    """
    fold_of = crossfit_folds(np.concatenate([labelled["block"].to_numpy(), gene_wins["block"].to_numpy()]), folds, seed)
    lab_fold = labelled["block"].map(fold_of).to_numpy()
    gene_fold = gene_wins["block"].map(fold_of).to_numpy()

    def features(frame):
        codes = to_codes(frame["sequence"].to_numpy().astype("S"))
        counts = kmer_counts(kmer_tokens(codes, count_k), count_k)
        return classical_features(model_name, frame["gc"].to_numpy(), counts)

    x_lab, x_gene = features(labelled), features(gene_wins) if len(gene_wins) else None
    y = labelled["label"].to_numpy()
    probability = np.full(len(gene_wins), np.nan, dtype=np.float32)
    rows = []
    for f in range(folds):
        train, held = lab_fold != f, lab_fold == f
        if len(np.unique(y[train])) < 2:
            raise ValueError(f"cross-fitting fold {f}: training windows lack a class; use fewer folds")
        model = make_classical(model_name, seed=seed, threads=threads, **(model_settings or {}))
        model.fit(x_lab[train], y[train])
        row = {"fold": f, "n_train": int(train.sum()), "n_heldout_labelled": int(held.sum())}
        if held.any():
            m = binary_metrics(y[held], model.predict_proba(x_lab[held])[:, 1])
            row.update(heldout_auroc=m["auroc"], heldout_auprc=m["auprc"])
        sel = gene_fold == f
        row["n_gene_windows"] = int(sel.sum())
        if sel.any():
            probability[sel] = model.predict_proba(x_gene[sel])[:, 1]
        rows.append(row)
    scored = gene_wins.assign(probability=probability)
    agg = scored.groupby("gene")["probability"].agg(n_windows="size", mean_probability="mean", max_probability="max")
    table = genes.iloc[agg.index.to_numpy()][["gene_name", "chrom", "start", "end", "strand"]].reset_index(drop=True)
    table = pd.concat([table, agg.reset_index(drop=True)], axis=1)
    table = table.sort_values("mean_probability", ascending=False, kind="stable").reset_index(drop=True)
    return table, pd.DataFrame(rows)
