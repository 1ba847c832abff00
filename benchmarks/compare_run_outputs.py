"""Compare every results table of two workflow runs (markdown-ready summary on stdout).

``python benchmarks/compare_run_outputs.py RUN_A RUN_B``

RUN_A and RUN_B are workflow directories (each with ``results/``). Parquet tables are compared by
content (``pyarrow.Table.equals``: the same table written with another codec is equal), text tables
(.tsv, .txt, .csv, .json, .yaml, .bed) byte by byte; a TSV that differs is read with pandas and the
columns that differ are named (e.g. timing columns only). Figures, BAMs and model weights are not
compared. Exit status 0 always: this reports, it does not judge.
"""

from __future__ import annotations

import argparse
import filecmp
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

TEXT = {".tsv", ".txt", ".csv", ".json", ".yaml", ".bed"}


def differing_columns(a: Path, b: Path) -> str:
    """Names of the columns of two TSVs that differ, or why they cannot be compared by column."""
    try:
        x, y = pd.read_csv(a, sep="\t"), pd.read_csv(b, sep="\t")
    except Exception as err:  # not a plain table
        return f"(not a table: {type(err).__name__})"
    if list(x.columns) != list(y.columns) or len(x) != len(y):
        return f"(columns or rows differ: {x.shape} vs {y.shape})"
    return ", ".join(c for c in x.columns if not x[c].equals(y[c])) or "(formatting only)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args()
    a, b = args.run_a / "results", args.run_b / "results"
    counts: Counter = Counter()
    only_a, differ = [], []
    for fa in sorted(p for p in a.rglob("*") if p.is_file()):
        rel = fa.relative_to(a)
        fb = b / rel
        kind = "parquet" if fa.suffix == ".parquet" else "text" if fa.suffix in TEXT else None
        if kind is None:
            continue
        if not fb.exists():
            only_a.append(str(rel))
            continue
        if kind == "parquet":
            same = pq.read_table(fa).equals(pq.read_table(fb))
        else:
            same = filecmp.cmp(fa, fb, shallow=False)
        counts[(kind, same)] += 1
        if not same:
            cols = differing_columns(fa, fb) if fa.suffix == ".tsv" else "(bytes)"
            differ.append((str(rel), cols))
    only_b = [
        str(p.relative_to(b))
        for p in b.rglob("*")
        if p.is_file() and not (a / p.relative_to(b)).exists()
    ]
    for kind in ("parquet", "text"):
        total = counts[(kind, True)] + counts[(kind, False)]
        print(f"{kind} tables: {counts[(kind, True)]} of {total} identical")
    print(f"only in A: {len(only_a)}; only in B: {len(only_b)}")
    # group the differing files by the columns that differ
    by_cols: dict[str, list[str]] = {}
    for rel, cols in differ:
        by_cols.setdefault(cols, []).append(rel)
    for cols, files in by_cols.items():
        print(
            f"- {len(files)} differ in {cols}: {', '.join(files[:3])}{' …' if len(files) > 3 else ''}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
