"""Speed of the vectorised block bootstrap (genomelearn.evaluation) against the naive loop.

Baseline, named in the table: ``sklearn per replicate`` -- for each replicate, draw blocks with
replacement, gather the windows of the drawn blocks (np.repeat of their indices) and call
scikit-learn's ``roc_auc_score`` / ``average_precision_score`` / ``scipy.stats.spearmanr`` on the
replicated windows (what a straightforward implementation does). Ours computes all replicates at
once from per-(block, tie-group) sums (``weighted_auroc``, ``weighted_average_precision``,
``weighted_spearman``); both give the same numbers (tests/unit/test_introgression_cv.py).

Usage: python benchmarks/bench_introgression_bootstrap.py [--windows 12000] [--blocks 35]
       [--replicates 1000] [--baseline-replicates 50]
Prints a markdown table: replicates/s of each, and the ratio. Targets: AUROC >= 50x (a replicate
is one quadratic form of block multiplicities with a precomputed block x block concordance
matrix), AUPRC and Spearman >= 5x (cumulative sums over tie groups for every replicate).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, roc_auc_score

from genomelearn.evaluation import (
    block_index,
    bootstrap_block_counts,
    weighted_auroc,
    weighted_average_precision,
    weighted_spearman,
)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=12000)
    parser.add_argument("--blocks", type=int, default=35)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--baseline-replicates", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    blocks = np.sort(rng.integers(0, args.blocks, args.windows))
    y = rng.random(args.windows) < 0.5
    score = rng.random(args.windows) + 0.2 * y
    support = rng.integers(0, 13, args.windows)
    ids, bidx = block_index(blocks)
    counts = bootstrap_block_counts(len(ids), args.replicates, 0)
    members = [np.flatnonzero(bidx == b) for b in range(len(ids))]
    targets = {"AUROC": 50, "AUPRC": 5, "Spearman": 5}
    cases = {
        "AUROC": (
            lambda c: weighted_auroc(y, score, bidx, c),
            lambda idx: roc_auc_score(y[idx], score[idx]),
        ),
        "AUPRC": (
            lambda c: weighted_average_precision(y, score, bidx, c),
            lambda idx: average_precision_score(y[idx], score[idx]),
        ),
        "Spearman": (
            lambda c: weighted_spearman(support, score, bidx, c),
            lambda idx: spearmanr(support[idx], score[idx])[0],
        ),
    }
    print(f"load average {os.getloadavg()[0]:.1f}; {args.windows} windows in {len(ids)} blocks")
    print(
        "| metric | genomelearn (replicates/s) | baseline | baseline (replicates/s) | ratio | target | met |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (ours, naive) in cases.items():
        start = time.perf_counter()
        ours(counts)
        ours_rate = args.replicates / (time.perf_counter() - start)
        start = time.perf_counter()
        for c in counts[: args.baseline_replicates]:
            idx = np.concatenate([np.repeat(members[b], int(k)) for b, k in enumerate(c) if k])
            naive(idx)
        base_rate = args.baseline_replicates / (time.perf_counter() - start)
        ratio = ours_rate / base_rate
        print(
            f"| {name} | {ours_rate:,.0f} | sklearn/scipy per replicate | {base_rate:,.0f} | {ratio:,.1f}x "
            f"| >= {targets[name]}x | {'yes' if ratio >= targets[name] else 'no'} |"
        )


if __name__ == "__main__":
    main()
