"""Compare the cross-validated read classifiers of two ancient-DNA runs (markdown on stdout).

``python benchmarks/compare_ancient_dna_runs.py RUN_A RUN_B [--subsets all length_2d_matched]``

RUN_A and RUN_B are workflow directories (each with ``results/ancient_dna/``) that differ in one
setting, e.g. ``ancient_dna.models.add_simulated`` off and on, and share the sample sheet, the
extraction and the CV folds (checked: the labelled reads and their folds must be identical). For
every CNN and subset the table gives each run's AUROC with its individual-bootstrap interval (the
run's own ``metrics.tsv``) and the paired difference B - A with a 95 % interval from one bootstrap
of individuals (within each label) applied to both runs' out-of-fold scores at once
(:func:`genomelearn.adna.pipeline.individual_bootstrap`'s resampling, same seed and replicates as
rule ``ancient_dna_evaluate``), so run-to-run noise shared by both runs cancels. Nothing is
trained here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

MODELS = ["read_cnn", "damage_cnn", "damage_nolength_cnn", "ends_cnn"]


def load_run(run: Path, sheet_path: Path):
    """(frame of the labelled reads' metadata, {model: out-of-fold score (N,)}, metrics.tsv)."""
    from genomelearn.adna import pipeline as P
    from genomelearn.adna.samplesheet import load_sample_sheet

    res = run / "results" / "ancient_dna"
    sheet = load_sample_sheet(sheet_path)
    splits = pd.read_csv(res / "splits.tsv", sep="\t")
    paths = {s: res / "reads" / f"{s}.parquet" for s in sheet["sample"]}
    frame = P.read_frame(P.load_read_tables(paths, columns=P.META_COLUMNS), sheet, splits)
    key = frame[["sample", "record"]]
    scores = {}
    for model in MODELS:
        tables = [
            pq.read_table(p).to_pandas() for p in sorted((res / "cv" / model).glob("*.parquet"))
        ]
        merged = key.merge(pd.concat(tables), on=["sample", "record"], how="left", validate="1:1")
        scores[model] = merged[model].to_numpy(dtype=float)
    return frame, scores, pd.read_csv(res / "metrics.tsv", sep="\t")


def paired_difference(y, score_a, score_b, individual, n_boot: int, seed: int):
    """(AUROC A, AUROC B, and the 95 % percentile interval of B - A over the same resamples of
    individuals)."""
    from genomelearn.adna.pipeline import (
        _ranking_metrics_weighted,
        individual_bootstrap_multiplicities,
    )

    y = np.asarray(y, dtype=np.int64)
    codes, uniq = pd.factorize(np.asarray(individual))
    ind_label = np.zeros(len(uniq), np.int64)
    ind_label[codes] = y
    prepared = []
    for score in (score_a, score_b):
        order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
        s_sorted = np.asarray(score, dtype=np.float64)[order]
        last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
        prepared.append((order, y[order].astype(np.float64), last_of_tie))

    def auroc(i, weights):
        order, y_sorted, last_of_tie = prepared[i]
        return _ranking_metrics_weighted(y_sorted, last_of_tie, weights[order])[0]

    ones = np.ones(len(y))
    point_a, point_b = auroc(0, ones), auroc(1, ones)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(int(n_boot)):
        w = individual_bootstrap_multiplicities(ind_label, rng)[codes]
        diffs.append(auroc(1, w) - auroc(0, w))
    lo, hi = np.nanquantile(np.asarray(diffs), [0.025, 0.975])
    return point_a, point_b, float(lo), float(hi)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--sheet", type=Path, help="sample sheet (default: RUN_A's)")
    parser.add_argument("--subsets", nargs="+", default=["all", "length_2d_matched"])
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bin-width", type=int, default=10)
    args = parser.parse_args()
    from genomelearn.adna.pipeline import evaluation_subsets

    sheet = args.sheet or args.run_a / "config" / "ancient_samples.tsv"
    frame_a, scores_a, metrics_a = load_run(args.run_a, sheet)
    frame_b, scores_b, metrics_b = load_run(args.run_b, sheet)
    same = ["sample", "record", "y", "fold", "individual"]
    if not frame_a[same].equals(frame_b[same]):
        print("the two runs differ in their reads, labels or folds: not comparable")
        return 1
    labelled = np.flatnonzero(frame_a["fold"].to_numpy() >= 0)
    subsets = evaluation_subsets(frame_a, labelled, args.bin_width, args.seed)
    y = frame_a["y"].to_numpy()
    individual = frame_a["individual"].to_numpy()
    print(f"A = {args.run_a}, B = {args.run_b}; AUROC [individual-bootstrap 95 % CI]")
    print()
    print("| model | subset | reads | AUROC A | AUROC B | B − A (paired 95 % CI) |")
    print("|---|---|---|---|---|---|")
    for subset in args.subsets:
        idx = subsets[subset]
        for model in MODELS:
            a, b, lo, hi = paired_difference(
                y[idx], scores_a[model][idx], scores_b[model][idx], individual[idx], args.n_boot,
                args.seed,
            )  # fmt: skip
            cells = []
            for metrics, point in ((metrics_a, a), (metrics_b, b)):
                row = metrics[(metrics["model"] == model) & (metrics["subset"] == subset)].iloc[0]
                if abs(row.auroc - point) > 1e-3:  # the scores are not those of metrics.tsv
                    print(
                        f"{model} {subset}: AUROC {point:.4f} from cv/ but {row.auroc} in metrics"
                    )
                    return 1
                cells.append(f"{row.auroc:.3f} [{row.auroc_low:.3f}, {row.auroc_high:.3f}]")
            print(
                f"| {model} | {subset} | {len(idx):,} | {cells[0]} | {cells[1]} | "
                f"{b - a:+.3f} [{lo:+.3f}, {hi:+.3f}] |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
