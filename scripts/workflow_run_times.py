"""Snakemake script of rule run_times: one table of every job's benchmark file."""

import sys
from pathlib import Path

import pandas as pd

COLUMNS = {"s": "seconds", "max_rss": "max_rss_mb", "cpu_time": "cpu_seconds"}


def collect(folders: list[str]) -> pd.DataFrame:
    """Rows of every ``*.tsv`` benchmark file under ``folders`` (Snakemake's benchmark format)."""
    rows = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.tsv")):
            table = pd.read_csv(path, sep="\t")
            if table.empty or "s" not in table:
                continue
            last = table.iloc[-1]
            rows.append(
                {
                    "analysis": Path(folder).name,
                    "job": path.relative_to(folder).with_suffix("").as_posix(),
                    **{new: last.get(old) for old, new in COLUMNS.items()},
                }
            )
    frame = pd.DataFrame(rows, columns=["analysis", "job", *COLUMNS.values()])
    for column in COLUMNS.values():
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame = frame.sort_values(["analysis", "seconds"], ascending=[True, False])
    totals = frame.groupby("analysis", as_index=False).agg(
        seconds=("seconds", "sum"),
        max_rss_mb=("max_rss_mb", "max"),
        cpu_seconds=("cpu_seconds", "sum"),
    )
    totals["job"] = "TOTAL"
    return pd.concat([frame, totals[frame.columns]], ignore_index=True)


if __name__ == "__main__":
    with open(snakemake.log[0], "w") as log:  # noqa: F821
        sys.stderr = log
        table = collect(snakemake.params.folders)  # noqa: F821
        table.round(3).to_csv(snakemake.output[0], sep="\t", index=False)  # noqa: F821
        print(f"{len(table)} rows", file=log)
