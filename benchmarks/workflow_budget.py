"""Where a whole workflow run spends its CPU: the budget table of docs/performance.md.

Reads a finished run's Snakemake ``benchmark:`` files (``<run>/benchmarks/<analysis>/**.tsv``, one
per job: wall ``s``, ``cpu_time``, ``max_rss`` in MB) and, when given, the ``/usr/bin/time -v``
log of the ``snakemake`` command itself (wall time, user + system CPU, peak RSS of the largest
process). Prints markdown tables on stdout:

1. the whole run (from the ``time -v`` log): wall, CPU, peak RSS, CPU / (2 x wall);
2. per analysis: jobs, CPU seconds summed over the jobs' benchmark files, largest job RSS;
3. the ``--top`` rules by CPU (jobs of one rule summed; folds, seeds and samples merged).

The difference between the ``time -v`` CPU and the jobs' CPU is Snakemake itself (scheduling,
DAG updates) plus what the benchmark's sampling misses (start-up of short jobs).

Usage: python benchmarks/workflow_budget.py RUN_DIR [--time-log snakemake_time.log] [--top 15]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

MERGE = re.compile(r"(_?(fold\d+|seed\d+|random))+")


def job_table(run: Path) -> pd.DataFrame:
    """One row per benchmark file of ``run``: analysis, rule key, wall s, CPU s, max RSS MB.

    Raises:
        FileNotFoundError: ``run/benchmarks`` holds no benchmark file.
    """
    rows = []
    for path in sorted((run / "benchmarks").rglob("*.tsv")):
        if path.name.startswith("bench_"):
            continue
        try:
            record = pd.read_csv(path, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        if "cpu_time" not in record or record.empty:
            continue
        rel = path.relative_to(run / "benchmarks")
        analysis = rel.parts[0]
        key = MERGE.sub("", path.stem)
        if analysis == "introgression" and len(rel.parts) >= 5 and key.startswith("train_"):
            key = f"{rel.parts[2]}/{rel.parts[3]}:{key}"
        elif analysis == "ancient_dna" and len(rel.parts) >= 3:
            key = rel.parts[1]
        rows.append(
            (
                analysis,
                key,
                float(record["s"].iloc[0]),
                pd.to_numeric(record["cpu_time"], errors="coerce").fillna(0).iloc[0],
                pd.to_numeric(record["max_rss"], errors="coerce").fillna(0).iloc[0],
            )
        )
    if not rows:
        raise FileNotFoundError(f"no Snakemake benchmark files under {run / 'benchmarks'}")
    return pd.DataFrame(rows, columns=["analysis", "key", "wall_s", "cpu_s", "max_rss_mb"])


def time_log(path: Path) -> dict[str, float]:
    """Wall s, user s, system s and peak RSS MB from a ``/usr/bin/time -v`` log.

    Raises:
        ValueError: a field is missing (not a ``time -v`` log).
    """
    text = path.read_text(errors="replace")
    fields = {
        "user_s": r"User time \(seconds\): ([\d.]+)",
        "system_s": r"System time \(seconds\): ([\d.]+)",
        "peak_rss_mb": r"Maximum resident set size \(kbytes\): (\d+)",
        "wall": r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)",
        "exit": r"Exit status: (\d+)",
    }
    out: dict[str, float] = {}
    for name, pattern in fields.items():
        match = re.search(pattern, text)
        if match is None:
            raise ValueError(f"{path}: no '{pattern}' line; is it a /usr/bin/time -v log?")
        value = match.group(1)
        if name == "wall":
            seconds = 0.0
            for part in value.split(":"):
                seconds = seconds * 60 + float(part)
            out["wall_s"] = seconds
        else:
            out[name] = float(value)
    out["peak_rss_mb"] /= 1024
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="working directory of the run")
    parser.add_argument("--time-log", type=Path, help="/usr/bin/time -v log of snakemake")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    jobs = job_table(args.run)
    if args.time_log:
        t = time_log(args.time_log)
        cpu = t["user_s"] + t["system_s"]
        print(
            "| wall | exit | CPU s (user + system) | jobs' CPU s | rest (Snakemake, start-up) "
            f"| CPU / ({args.cores} x wall) | peak RSS |"
        )
        print("|---|---|---|---|---|---|---|")
        print(
            f"| {int(t['wall_s'] // 60)} min {t['wall_s'] % 60:.0f} s | {int(t['exit'])} "
            f"| {cpu:,.0f} ({t['user_s']:,.0f} + {t['system_s']:,.0f}) | {jobs.cpu_s.sum():,.0f} "
            f"| {cpu - jobs.cpu_s.sum():,.0f} | {cpu / (args.cores * t['wall_s']):.0%} "
            f"| {t['peak_rss_mb'] / 1024:.2f} GB |"
        )
        print()
    per = jobs.groupby("analysis").agg(
        jobs=("cpu_s", "size"), cpu_s=("cpu_s", "sum"), max_rss_mb=("max_rss_mb", "max")
    )
    print("| analysis | jobs | CPU s | largest job RSS (MB) |")
    print("|---|---|---|---|")
    for name, row in per.iterrows():
        print(f"| {name} | {int(row.jobs)} | {row.cpu_s:,.0f} | {row.max_rss_mb:,.0f} |")
    print(f"| all | {len(jobs)} | {jobs.cpu_s.sum():,.0f} | {jobs.max_rss_mb.max():,.0f} |")
    print()
    top = (
        jobs.groupby(["analysis", "key"])
        .agg(jobs=("cpu_s", "size"), cpu_s=("cpu_s", "sum"))
        .sort_values("cpu_s", ascending=False)
        .head(args.top)
    )
    print("| analysis | rule (folds, seeds, samples merged) | jobs | CPU s | CPU s per job |")
    print("|---|---|---|---|---|")
    for (analysis, key), row in top.iterrows():
        print(
            f"| {analysis} | {key} | {int(row.jobs)} | {row.cpu_s:,.0f} | {row.cpu_s / row.jobs:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
