"""Gene scores: mean and max P(introgressed) of a gene's windows, scored out of fold.

The folds are those of the block cross-validation of the labelled windows (the same folds and
buffer as the metrics). Each gene belongs to the fold of its midpoint's block; the model of that
fold never trained on the gene's block nor on any window within the buffer of the gene's windows
(cross-fitting, as in double machine learning).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from genomelearn.encoding import kmer_counts, kmer_tokens, to_codes
from genomelearn.evaluation import binary_metrics
from genomelearn.errors import InputError
from genomelearn.introgression.classical import classical_features, make_classical
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
        raise InputError(
            f"{path}: gene BED needs at least 6 columns (chrom start end name score strand), got {genes.shape[1]}"
        )
    genes = genes.rename(columns={"col4": "gene_name", "col6": "strand", "col7": "gene_type"})
    if "gene_type" not in genes:
        genes["gene_type"] = "NA"
    genes = genes[genes["chrom"].isin(contigs)]
    if gene_types:
        genes = genes[genes["gene_type"].isin(gene_types)]
    if genes.empty:
        raise InputError(f"{path}: no gene on {contigs} with gene_type in {gene_types}")
    return genes[["chrom", "start", "end", "gene_name", "strand", "gene_type"]].reset_index(
        drop=True
    )


def gene_windows(
    genes: pd.DataFrame,
    mask: pd.DataFrame | None,
    fasta_path,
    length: int,
    stride: int,
    max_n_fraction: float,
    block_size: int,
) -> pd.DataFrame:
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
            [(iv.chrom, iv.start, iv.end, int(iv.fields[3])) for iv in cut],
            columns=["chrom", "start", "end", "gene"],
        )
    regions = regions.reset_index(drop=True).assign(label=np.int8(0))
    tiled = tile(regions, length, stride)
    tiled["gene"] = regions["gene"].to_numpy()[tiled["region"].to_numpy()]
    windows = with_sequence(tiled, fasta_path, length)
    windows = windows[windows["n_fraction"] <= max_n_fraction + 1e-9].reset_index(drop=True)
    windows["block"] = assign_blocks(windows, block_size)
    return windows[["gene", "chrom", "start", "end", "block", "gc", "sequence"]]


def gene_folds(genes: pd.DataFrame, window_block_fold: dict, block_size: int) -> np.ndarray:
    """Fold of each gene: the fold of the block holding its midpoint.

    A midpoint block without labelled windows takes the fold of the nearest labelled block on the
    same contig (by block index); a contig without labelled blocks deals its genes round-robin.

    Args:
        genes: chrom, start, end.
        window_block_fold: labelled block id (``chrom:index``) -> fold.
        block_size: bp per block.

    Returns:
        int64 (n_genes,) folds.
    """
    by_contig: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for block, f in window_block_fold.items():
        chrom, index = block.rsplit(":", 1)
        by_contig.setdefault(chrom, ([], []))
        by_contig[chrom][0].append(int(index))
        by_contig[chrom][1].append(f)
    n_folds = max(window_block_fold.values()) + 1
    mid = ((genes["start"].to_numpy() + genes["end"].to_numpy()) // 2) // block_size
    out = np.empty(len(genes), dtype=np.int64)
    for i, (chrom, index) in enumerate(zip(genes["chrom"].to_numpy(), mid)):
        if chrom not in by_contig:
            out[i] = i % n_folds
            continue
        idx, folds = np.asarray(by_contig[chrom][0]), np.asarray(by_contig[chrom][1])
        out[i] = folds[np.argmin(np.abs(idx - index) * 2 + (idx > index))]
    return out


def oof_gene_scores(
    labelled: pd.DataFrame,
    gene_wins: pd.DataFrame,
    genes: pd.DataFrame,
    model_name: str,
    count_k: int,
    roles: dict,
    buffer_bp: int,
    block_size: int,
    seed: int,
    threads: int = 1,
    model_settings: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Out-of-fold gene scores on the block cross-validation folds of the labelled windows.

    Each gene belongs to one fold (:func:`gene_folds`). Its windows are scored by the model of
    that fold, trained on the fold's ``train`` windows (the same folds and buffer as the metrics)
    minus every training window within ``buffer_bp`` of one of the fold's gene windows (counted),
    so no gene window is scored by a model that trained on or next to its sequence.

    Args:
        labelled: labelled windows (chrom, start, end, label, gc, block, sequence).
        gene_wins: gene windows from :func:`gene_windows`.
        genes: gene table from :func:`read_genes` (row i = gene index i).
        model_name: gc_logreg, kmer_logreg or random_forest.
        count_k: k of the k-mer counts.
        roles: {fold: role array (train/validation/test/buffer/unused) of the labelled windows}.
        buffer_bp: training windows closer than this to a scored gene window are dropped.
        block_size: bp per genomic block.
        seed: model seed.

    Returns:
        (scores, fold_table): scores has gene_name, chrom, start, end, strand, fold, n_windows,
        mean_probability, max_probability (genes without windows omitted), sorted by
        mean_probability descending; fold_table has per fold the training windows (after the
        gene buffer), the windows dropped near genes, genes and gene windows scored and the
        held-out AUROC/AUPRC on the fold's labelled test windows.

    Raises:
        ValueError: if a fold's training windows lack a class after the gene buffer.
    """
    from genomelearn.introgression.splits import distance_to_nearest

    folds = sorted(roles)
    block_fold = {}
    for f in folds:
        for block in pd.unique(labelled["block"].to_numpy()[roles[f] == "test"]):
            block_fold[block] = f
    gene_fold = gene_folds(genes, block_fold, block_size)
    win_fold = (
        gene_fold[gene_wins["gene"].to_numpy()] if len(gene_wins) else np.zeros(0, dtype=np.int64)
    )

    def features(frame):
        codes = to_codes(frame["sequence"].to_numpy().astype("S"))
        counts = kmer_counts(kmer_tokens(codes, count_k), count_k)
        return classical_features(model_name, frame["gc"].to_numpy(), counts)

    x_lab, x_gene = features(labelled), features(gene_wins) if len(gene_wins) else None
    y = labelled["label"].to_numpy()
    probability = np.full(len(gene_wins), np.nan, dtype=np.float32)
    both = pd.concat(
        [labelled[["chrom", "start", "end"]], gene_wins[["chrom", "start", "end"]]],
        ignore_index=True,
    )
    rows = []
    for f in folds:
        sel = win_fold == f
        train = roles[f] == "train"
        flag = np.concatenate([np.zeros(len(labelled), dtype=bool), sel])
        near = (
            distance_to_nearest(both, flag)[: len(labelled)] < buffer_bp
            if sel.any() and buffer_bp > 0
            else np.zeros(len(labelled), dtype=bool)
        )
        dropped = int((train & near).sum())
        train &= ~near
        if len(np.unique(y[train])) < 2:
            raise ValueError(
                f"gene scores, fold {f}: training windows lack a class after dropping {dropped} within {buffer_bp} bp of gene windows"
            )
        model = make_classical(model_name, seed=seed, threads=threads, **(model_settings or {}))
        model.fit(x_lab[train], y[train])
        held = roles[f] == "test"
        row = {"fold": f, "n_train": int(train.sum()), "n_train_dropped_near_genes": dropped}
        if held.any():
            m = binary_metrics(y[held], model.predict_proba(x_lab[held])[:, 1])
            row.update(heldout_auroc=m["auroc"], heldout_auprc=m["auprc"])
        row["n_genes"] = int((gene_fold == f).sum())
        row["n_gene_windows"] = int(sel.sum())
        if sel.any():
            probability[sel] = model.predict_proba(x_gene[sel])[:, 1]
        rows.append(row)
    scored = gene_wins.assign(probability=probability)
    agg = scored.groupby("gene")["probability"].agg(
        n_windows="size", mean_probability="mean", max_probability="max"
    )
    table = genes.iloc[agg.index.to_numpy()][
        ["gene_name", "chrom", "start", "end", "strand"]
    ].reset_index(drop=True)
    table.insert(5, "fold", gene_fold[agg.index.to_numpy()])
    table = pd.concat([table, agg.reset_index(drop=True)], axis=1)
    table = table.sort_values("mean_probability", ascending=False, kind="stable").reset_index(
        drop=True
    )
    return table, pd.DataFrame(rows)
