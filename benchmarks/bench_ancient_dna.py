"""Benchmark: read extraction + damage profile vs `samtools view -c` and mapDamage 2.

For the largest real BAM of the sample sheet (by file size) and synthetic BAMs made by repeating
each of its records k times (coordinate order kept, names made unique), measure:

* ours: genomelearn.adna.reads.extract_to_parquet (BAM stream -> per-read parquet table + damage
  and length counts), timed inside a fresh Python process (imports excluded; process peak RSS
  reported);
* samtools view -c (wall time of the process, one thread);
* mapDamage -i BAM -r REF --no-stats --no-plot (wall time of the process; only up to
  --mapdamage-max-reads reads, it runs at a few thousand reads per second).

Targets (issue): ≥ 20× faster than mapDamage; within 5× of `samtools view -c`; peak memory flat
as the BAM grows. Prints a table of reads/s, ratios and peak memory.

Usage: python benchmarks/bench_ancient_dna.py [--repeats 1 20 100] [--sheet config/ancient_samples.tsv]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("GENOMELEARN_DATA_MIRROR", REPO.parent / "shared" / "data"))

CHILD = r"""
import json, resource, sys, time
from genomelearn.adna.reads import ExtractionSettings, extract_to_parquet
bam, ref, out = sys.argv[1:4]
t = time.perf_counter()
res = extract_to_parquet(bam, "bench", out, ref or None, settings=ExtractionSettings())
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "records": res.n_records, "kept": res.n_kept,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def repeat_bam(src: Path, dst: Path, k: int) -> int:
    """Write each record of ``src`` k times in a row (names suffixed); returns records written."""
    import pysam

    n = 0
    with pysam.AlignmentFile(str(src), "rb", check_sq=False) as inp, pysam.AlignmentFile(str(dst), "wb", template=inp) as out:
        for read in inp.fetch(until_eof=True):
            name = read.query_name
            for i in range(k):
                read.query_name = f"{name}_{i}"
                out.write(read)
                n += 1
    pysam.index(str(dst))
    return n


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def ours(bam: Path, ref: Path | None, tmp: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(bam), str(ref or ""), str(tmp / "bench.parquet")],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", default=str(REPO / "config" / "ancient_samples.tsv"))
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument("--mapdamage-max-reads", type=int, default=250_000)
    parser.add_argument("--runs", type=int, default=3, help="timing runs per measurement (best kept)")
    args = parser.parse_args()

    from genomelearn.adna.samplesheet import load_sample_sheet

    sheet = load_sample_sheet(args.sheet)
    resolve = lambda p: Path(p) if Path(p).exists() else MIRROR / p  # noqa: E731
    sheet = sheet.assign(path=[resolve(b) for b in sheet["bam"]])
    sheet = sheet[[p.exists() for p in sheet["path"]]]
    with_ref = sheet[sheet["reference"] != ""]
    row = with_ref.loc[with_ref["path"].map(lambda p: p.stat().st_size).idxmax()]
    bam, ref = Path(row["path"]), resolve(row["reference"])
    have_mapdamage = shutil.which("mapDamage") is not None
    print(f"largest real BAM with a reference: {row['sample']} ({bam}, {bam.stat().st_size / 1e6:.2f} MB)")
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for k in args.repeats:
            path = bam if k == 1 else tmp / f"x{k}.bam"
            if k != 1:
                repeat_bam(bam, path, k)
            best = min((ours(path, ref, tmp) for _ in range(args.runs)), key=lambda r: r["seconds"])
            st = min(wall(["samtools", "view", "-c", str(path)]) for _ in range(args.runs))
            md = float("nan")
            if have_mapdamage and best["records"] <= args.mapdamage_max_reads:
                md = wall(["mapDamage", "-i", str(path), "-r", str(ref), "-d", str(tmp / f"md{k}"),
                           "--no-stats", "--no-plot", "-q"])
            rows.append({"bam": f"{row['sample']} x{k}", "records": best["records"], "ours_s": best["seconds"],
                         "ours_reads_per_s": best["records"] / best["seconds"], "peak_mb": best["peak_mb"],
                         "samtools_s": st, "mapdamage_s": md})
    print()
    header = (f"{'BAM':<22}{'records':>10}{'ours s':>9}{'ours reads/s':>14}{'peak MB':>9}{'samtools s':>12}"
              f"{'ours/samtools':>15}{'mapDamage s':>13}{'mapDamage/ours':>16}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['bam']:<22}{r['records']:>10}{r['ours_s']:>9.3f}{r['ours_reads_per_s']:>14.0f}{r['peak_mb']:>9.0f}"
              f"{r['samtools_s']:>12.3f}{r['ours_s'] / r['samtools_s']:>15.1f}{r['mapdamage_s']:>13.2f}"
              f"{r['mapdamage_s'] / r['ours_s']:>16.1f}")
    print()
    md_ratio = [r["mapdamage_s"] / r["ours_s"] for r in rows if r["mapdamage_s"] == r["mapdamage_s"]]
    st_ratio = [r["ours_s"] / r["samtools_s"] for r in rows]
    # memory is bounded by one batch (20,000 reads): compare the two largest inputs, both above it
    flat = rows[-1]["peak_mb"] / rows[-2]["peak_mb"] if len(rows) > 1 else 1.0
    print(f"target >= 20x mapDamage:        {'met' if md_ratio and min(md_ratio) >= 20 else 'NOT met'} "
          f"(min {min(md_ratio):.1f}x)" if md_ratio else "mapDamage not run")
    print(f"target within 5x samtools -c:   {'met' if max(st_ratio) <= 5 else 'NOT met'} (max {max(st_ratio):.1f}x)")
    print(f"peak memory x{args.repeats[-1]} / x{args.repeats[-2] if len(args.repeats) > 1 else args.repeats[0]}: "
          f"{flat:.2f} ({'flat' if flat < 1.2 else 'NOT flat'}; one batch = 20,000 reads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
