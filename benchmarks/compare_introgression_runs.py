"""Tables from introgression metrics.tsv files (markdown on stdout).

Two uses:

* ``python benchmarks/compare_introgression_runs.py A/metrics.tsv B/metrics.tsv`` -- run-to-run
  agreement (e.g. torch threads 1 vs 2, or two machines): for every labels x matching x protocol
  x model present in both files, each run's point estimate (AUROC; Spearman for ``support``) and
  interval, and whether each point estimate lies inside the other run's interval. Exit status 1
  when any does not (``--setting deserts/matched`` and ``--protocol`` restrict the rows).
* ``python benchmarks/compare_introgression_runs.py --summary A/metrics.tsv`` -- one row per
  labels x matching x model of the block CV: estimate with interval, interval width, paired
  difference to ``gc_logreg`` with interval and one-sided p, seeds; then the generated verdicts
  of the ``verdict.tsv`` next to the metrics file.

Nothing is computed here beyond differences of the files' own columns; the intervals are the
block-bootstrap intervals of rule introgression_evaluate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

KEYS = ["labels", "matching", "protocol", "model"]


def estimate_columns(metrics: pd.DataFrame) -> pd.DataFrame:
    """The headline estimate of each row: AUROC, or Spearman for the ``support`` labels.

    Returns a frame with KEYS + metric, estimate, ci_low, ci_high, minus_gc, minus_gc_ci_low,
    minus_gc_ci_high, p_beats_gc, n_seeds, seed_sd.

    Raises:
        ValueError: a column of metrics.tsv is missing.
    """
    need = set(KEYS) | {
        "auroc",
        "auroc_ci_low",
        "auroc_ci_high",
        "spearman",
        "spearman_ci_low",
        "spearman_ci_high",
        "p_beats_gc",
        "n_seeds",
    }
    missing = need - set(metrics.columns)
    if missing:
        raise ValueError(f"metrics.tsv lacks columns {sorted(missing)}")
    support = metrics["labels"] == "support"
    out = metrics[KEYS].copy()
    out["metric"] = support.map({True: "spearman", False: "auroc"})
    for target, (aur, spe) in {
        "estimate": ("auroc", "spearman"),
        "ci_low": ("auroc_ci_low", "spearman_ci_low"),
        "ci_high": ("auroc_ci_high", "spearman_ci_high"),
        "minus_gc": ("auroc_minus_gc", "spearman_minus_gc"),
        "minus_gc_ci_low": ("auroc_minus_gc_ci_low", "spearman_minus_gc_ci_low"),
        "minus_gc_ci_high": ("auroc_minus_gc_ci_high", "spearman_minus_gc_ci_high"),
        "seed_sd": ("auroc_seed_sd", "spearman_seed_sd"),
    }.items():
        out[target] = metrics[spe].where(support, metrics[aur])
    out["p_beats_gc"] = metrics["p_beats_gc"]
    out["n_seeds"] = metrics["n_seeds"]
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Rows present in both runs with each estimate checked against the other run's interval."""
    merged = estimate_columns(a).merge(
        estimate_columns(b), on=KEYS + ["metric"], suffixes=("_a", "_b")
    )
    merged["a_in_b"] = merged["estimate_a"].between(merged["ci_low_b"], merged["ci_high_b"])
    merged["b_in_a"] = merged["estimate_b"].between(merged["ci_low_a"], merged["ci_high_a"])
    return merged


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("metrics", nargs="+", type=Path, help="metrics.tsv (two to compare)")
    parser.add_argument("--summary", action="store_true", help="summarise one metrics.tsv")
    parser.add_argument("--setting", help="labels/matching to keep, e.g. deserts/matched")
    parser.add_argument("--protocol", default="blocks", help="blocks (default), random or all")
    args = parser.parse_args(argv)
    frames = []
    for path in args.metrics:
        if not path.is_file():
            parser.error(f"{path}: no such file")
        table = pd.read_csv(path, sep="\t")
        if args.protocol != "all":
            table = table[table["protocol"] == args.protocol]
        if args.setting:
            labels, matching = args.setting.split("/")
            table = table[(table["labels"] == labels) & (table["matching"] == matching)]
        if table.empty:
            parser.error(f"{path}: no rows for protocol {args.protocol} / setting {args.setting}")
        frames.append(table)
    if args.summary:
        if len(frames) != 1:
            parser.error("--summary takes one metrics.tsv")
        summary(frames[0], args.metrics[0])
        return 0
    if len(frames) != 2:
        parser.error("give two metrics.tsv files to compare (or --summary and one)")
    table = compare(*frames)
    print(f"A = {args.metrics[0]}\nB = {args.metrics[1]}\n")
    print(
        "| labels | matching | protocol | model | metric | A | A interval | B | B interval "
        "| B − A | A in B's CI | B in A's CI |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for _, r in table.iterrows():
        print(
            f"| {r['labels']} | {r['matching']} | {r['protocol']} | {r['model']} | {r['metric']} "
            f"| {r['estimate_a']:.3f} | {r['ci_low_a']:.3f}–{r['ci_high_a']:.3f} "
            f"| {r['estimate_b']:.3f} | {r['ci_low_b']:.3f}–{r['ci_high_b']:.3f} "
            f"| {r['estimate_b'] - r['estimate_a']:+.3f} | {'yes' if r['a_in_b'] else 'NO'} "
            f"| {'yes' if r['b_in_a'] else 'NO'} |"
        )
    inside = table["a_in_b"] & table["b_in_a"]
    print(
        f"\n{int(inside.sum())} of {len(table)} rows: each point estimate inside the other run's "
        f"interval; largest |B − A| = {(table['estimate_b'] - table['estimate_a']).abs().max():.3f}"
    )
    return 0 if inside.all() else 1


def summary(metrics: pd.DataFrame, path: Path) -> None:
    """Print the per-model table of one metrics.tsv and the verdicts next to it."""
    table = estimate_columns(metrics)
    print(f"{path}\n")
    print(
        "| labels | matching | model | metric | estimate | interval | width | − gc_logreg "
        "| its interval | p_beats_gc | seeds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for _, r in table.iterrows():
        is_gc = r["model"] == "gc_logreg"
        diff = "—" if is_gc else f"{r['minus_gc']:+.3f}"
        diff_ci = "—" if is_gc else f"{r['minus_gc_ci_low']:+.3f}–{r['minus_gc_ci_high']:+.3f}"
        p = "—" if is_gc else f"{r['p_beats_gc']:.3f}"
        print(
            f"| {r['labels']} | {r['matching']} | {r['model']} | {r['metric']} "
            f"| {r['estimate']:.3f} | {r['ci_low']:.3f}–{r['ci_high']:.3f} "
            f"| {r['ci_high'] - r['ci_low']:.3f} | {diff} | {diff_ci} | {p} | {int(r['n_seeds'])} |"
        )
    verdict_path = path.with_name("verdict.tsv")
    if verdict_path.is_file():
        verdict = pd.read_csv(verdict_path, sep="\t")
        print(f"\n{verdict_path} (generated sentences):\n")
        for _, r in verdict.iterrows():
            keys = " / ".join(str(r[k]) for k in ("labels", "matching", "protocol") if k in r)
            print(f"* {keys}: {r['verdict']}")


if __name__ == "__main__":
    sys.exit(main())
