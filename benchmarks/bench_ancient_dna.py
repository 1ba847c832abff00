"""Benchmark: read extraction + damage counts vs mapDamage 2 and `samtools view -c`, side by side.

For the largest real BAM of the sample sheet that has a reference (by file size), synthetic BAMs
made by repeating each of its records k times (coordinate order kept, names made unique; they
compress far better than real BAMs, which makes reading them cheaper) and one real BAM of distinct
reads: every BAM of the sheet on that reference with the same label merged (``samtools merge``
through pysam; ``--no-merged`` skips it), measure in one run:

* ours: genomelearn.adna.reads.extract_to_parquet (BAM stream -> per-read parquet table + damage,
  per-contig mapDamage and length counts) in a fresh Python process: CPU and wall seconds of the
  extraction (imports and the one-time load of the compiled numba kernel from its on-disk cache
  excluded; that load's CPU seconds are printed in their own column), one thread (OMP/OpenBLAS/
  Arrow/numba threads set to 1), the process's peak RSS, and the CPU seconds of the whole process
  (interpreter start, imports, kernel load and extraction): the like-for-like figure beside
  mapDamage's, which is always a whole process;
* ours again with ``ExtractionSettings(table_compression="zstd")`` (the per-read table written
  with zstd level 1 instead of lz4): CPU seconds and the table's size in both codecs;
* ours again with ``ExtractionSettings(reader="pysam")`` (pysam's per-record loop in place of the
  compiled htslib reader; same tables): the reader's gain, side by side;
* the reader floor: CPU seconds to read the fields the extraction uses, with the compiled htslib
  reader (:mod:`genomelearn.adna.htslib_reader`), pysam's per-record loop and (when installed)
  oxbow's Arrow batches, and nothing else;
* samtools view -c (one thread) and mapDamage -i BAM -r REF --no-stats --no-plot: wall seconds and
  CPU seconds of the child process (getrusage of children).

CPU seconds are the fair "one core" measure on a shared, loaded machine (wall time there includes
waiting for a core); both are printed. Targets (issue 13): >= 20x faster than mapDamage at every
size, >= 500,000 reads/s on one core, peak memory flat (largest / smallest within 1.2x).

Usage: python benchmarks/bench_ancient_dna.py [--repeats 1 20 100] [--runs 3] [--tsv PATH]
       python benchmarks/bench_ancient_dna.py --profile 20|merged   (cProfile of ours on that BAM)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
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
from genomelearn.adna import _kernels
from genomelearn.adna.reads import ExtractionSettings, extract_to_parquet
import os
bam, ref, out, reader, codec = sys.argv[1:6]
load = _kernels.load()
w, c = time.perf_counter(), time.process_time()
res = extract_to_parquet(bam, "bench", out, ref or None,
                         settings=ExtractionSettings(reader=reader, table_compression=codec))
cpu = time.process_time() - c
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - w, "cpu": cpu, "records": res.n_records,
                  "kept": res.n_kept, "peak_mb": u.ru_maxrss / 1024, "process_cpu": u.ru_utime + u.ru_stime,
                  "kernel_load": load, "table_mb": os.path.getsize(out) / 1e6}))
"""
# where the CPU goes: cProfile of one extraction after the kernel load, the top entries by own time
PROFILE = r"""
import cProfile, pstats, sys, time
from genomelearn.adna import _kernels
from genomelearn.adna.reads import ExtractionSettings, extract_to_parquet
bam, ref, out = sys.argv[1:4]
_kernels.load()
extract_to_parquet(bam, "bench", out, ref or None)  # first call of the process, not profiled
prof = cProfile.Profile(time.process_time)  # CPU seconds
for _ in range(3):
    prof.runcall(extract_to_parquet, bam, "bench", out, ref or None, settings=ExtractionSettings())
print("cProfile of 3 extractions (CPU seconds, all 3 summed):")
pstats.Stats(prof).sort_stats("tottime").print_stats(12)
"""
# the reader floor: CPU seconds to read the fields the extraction needs, without any other work
FLOOR = r"""
import json, sys, time
bam, reader = sys.argv[1:3]
c = time.process_time()
n = 0
if reader == "htslib":
    from genomelearn.adna import htslib_reader
    htslib_reader.load()
    c = time.process_time()
    with htslib_reader.HtslibReader(bam, bam) as r:
        for b in r.batches():
            n += len(b)
elif reader == "pysam":
    import pysam
    for r in pysam.AlignmentFile(bam, check_sq=False).fetch(until_eof=True):
        (r.flag, r.reference_id, r.reference_start, r.mapping_quality, r.template_length, r.cigartuples,
         r.query_sequence, r.query_qualities_str, r.query_name)
        n += 1
else:
    import oxbow, pyarrow as pa
    fields = ["qname", "flag", "rname", "pos", "mapq", "cigar", "tlen", "seq", "qual"]
    for b in oxbow.from_bam(bam, fields=fields, tag_defs=[("MD", "Z")]).batches():
        n += pa.record_batch(b).num_rows
print(json.dumps({"cpu": time.process_time() - c, "records": n}))
"""
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ARROW_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


def repeat_bam(src: Path, dst: Path, k: int) -> int:
    """Write each record of ``src`` k times in a row (names suffixed); returns records written."""
    import pysam

    n = 0
    with (
        pysam.AlignmentFile(str(src), "rb", check_sq=False) as inp,
        pysam.AlignmentFile(str(dst), "wb", template=inp) as out,
    ):
        for read in inp.fetch(until_eof=True):
            name = read.query_name
            for i in range(k):
                read.query_name = f"{name}_{i}"
                out.write(read)
                n += 1
    pysam.index(str(dst))
    return n


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, **ONE_THREAD})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ours(
    bam: Path, ref: Path | None, tmp: Path, reader: str = "htslib", codec: str = "lz4"
) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(bam),
            str(ref or ""),
            str(tmp / "bench.parquet"),
            reader,
            codec,
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **ONE_THREAD},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor(bam: Path, reader: str) -> float:
    """CPU seconds of the reader alone (fresh process, imports excluded); NaN if not installed."""
    out = subprocess.run(
        [sys.executable, "-c", FLOOR, str(bam), reader],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **ONE_THREAD},
    )
    return (
        json.loads(out.stdout.strip().splitlines()[-1])["cpu"]
        if out.returncode == 0
        else float("nan")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", default=str(REPO / "config" / "ancient_samples.tsv"))
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument(
        "--mapdamage-max-reads",
        type=int,
        default=None,
        help="skip mapDamage above this many records (default: run it at every size)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="timing runs of ours and samtools (fastest kept)"
    )
    parser.add_argument("--tsv", help="also write the table to this TSV")
    parser.add_argument(
        "--no-merged", action="store_true", help="skip the merged real BAM of distinct reads"
    )
    parser.add_argument(
        "--profile",
        metavar="K|merged",
        help="only print a cProfile of ours (own time per function) on the xK BAM or the merged one",
    )
    args = parser.parse_args()

    from genomelearn.adna.samplesheet import load_sample_sheet

    sheet = load_sample_sheet(args.sheet)
    resolve = lambda p: Path(p) if Path(p).exists() else MIRROR / p
    sheet = sheet.assign(path=[resolve(b) for b in sheet["bam"]])
    sheet = sheet[[p.exists() for p in sheet["path"]]]
    with_ref = sheet[sheet["reference"] != ""]
    row = with_ref.loc[with_ref["path"].map(lambda p: p.stat().st_size).idxmax()]
    bam, ref = Path(row["path"]), resolve(row["reference"])
    # real reads, all distinct: the sheet's BAMs on the same reference with the same label
    same = sheet[(sheet["reference"] == row["reference"]) & (sheet["label"] == row["label"])]
    merge_inputs = [str(p) for p in same["path"]]
    have_mapdamage = shutil.which("mapDamage") is not None
    from genomelearn.adna import htslib_reader

    print(f"htslib used by the reader: {htslib_reader.library_info()}")
    load_start = os.getloadavg()
    print(
        f"largest real BAM with a reference: {row['sample']} ({bam}, {bam.stat().st_size / 1e6:.2f} MB)"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average at start {load_start[0]:.1f}")
    if args.profile:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            if args.profile == "merged":
                import pysam

                path = tmp / "merged.bam"
                pysam.merge("-f", "-o", str(path), *merge_inputs)
                pysam.index(str(path))
            elif int(args.profile) == 1:
                path = bam
            else:
                path = tmp / f"x{args.profile}.bam"
                repeat_bam(bam, path, int(args.profile))
            out = subprocess.run(
                [sys.executable, "-c", PROFILE, str(path), str(ref), str(tmp / "p.parquet")],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, **ONE_THREAD},
            )
            print(out.stdout)
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        inputs = [(f"{row['sample']} x{k}", k) for k in args.repeats]
        if not args.no_merged and len(merge_inputs) > 1:
            inputs.append((f"{len(merge_inputs)} {row['label']} BAMs merged", "merged"))
        for label, k in inputs:
            if k == "merged":
                import pysam

                path = tmp / "merged.bam"
                pysam.merge("-f", "-o", str(path), *merge_inputs)
                pysam.index(str(path))
            else:
                path = bam if k == 1 else tmp / f"x{k}.bam"
                if k != 1:
                    repeat_bam(bam, path, k)
            best = min((ours(path, ref, tmp) for _ in range(args.runs)), key=lambda r: r["cpu"])
            zstd = min(
                (ours(path, ref, tmp, codec="zstd") for _ in range(args.runs)),
                key=lambda r: r["cpu"],
            )
            via_pysam = min(
                (ours(path, ref, tmp, "pysam") for _ in range(args.runs)), key=lambda r: r["cpu"]
            )
            htslib_floor = min(floor(path, "htslib") for _ in range(args.runs))
            st_wall, st_cpu = min(
                (
                    timed(["samtools", "view", "-c", "-@", "0", str(path)])
                    for _ in range(args.runs)
                ),
                key=lambda t: t[1],
            )
            pysam_floor = min(floor(path, "pysam") for _ in range(args.runs))
            oxbow_floor = min(floor(path, "oxbow") for _ in range(args.runs))
            md_wall = md_cpu = float("nan")
            if have_mapdamage and (
                args.mapdamage_max_reads is None or best["records"] <= args.mapdamage_max_reads
            ):
                md_wall, md_cpu = timed(
                    [
                        "mapDamage",
                        "-i",
                        str(path),
                        "-r",
                        str(ref),
                        "-d",
                        str(tmp / f"md{k}"),
                        "--no-stats",
                        "--no-plot",
                        "-q",
                    ]
                )
            rows.append(
                {
                    "bam": label,
                    "records": best["records"],
                    "ours_wall_s": best["wall"],
                    "ours_cpu_s": best["cpu"],
                    "reads_per_cpu_s": best["records"] / best["cpu"],
                    "reads_per_wall_s": best["records"] / best["wall"],
                    "peak_mb": best["peak_mb"],
                    "table_mb_lz4": best["table_mb"],
                    "ours_zstd_table_cpu_s": zstd["cpu"],
                    "table_mb_zstd": zstd["table_mb"],
                    "ours_pysam_reader_cpu_s": via_pysam["cpu"],
                    "pysam_over_htslib_reader": via_pysam["cpu"] / best["cpu"],
                    "htslib_fields_cpu_s": htslib_floor,
                    "pysam_fields_cpu_s": pysam_floor,
                    "oxbow_batches_cpu_s": oxbow_floor,
                    "samtools_wall_s": st_wall,
                    "samtools_cpu_s": st_cpu,
                    "ours_over_samtools_cpu": best["cpu"] / st_cpu,
                    "mapdamage_wall_s": md_wall,
                    "mapdamage_cpu_s": md_cpu,
                    "mapdamage_over_ours_cpu": md_cpu / best["cpu"],
                    "mapdamage_over_ours_wall": md_wall / best["wall"],
                    "kernel_load_cpu_s": best["kernel_load"],
                    "ours_process_cpu_s": best["process_cpu"],
                    "mapdamage_over_ours_process_cpu": md_cpu / best["process_cpu"],
                }
            )
    load_end = os.getloadavg()
    cols = [
        ("bam", "BAM", "<26", ""),
        ("records", "records", ">9", "d"),
        ("ours_cpu_s", "ours cpu s", ">11", ".3f"),
        ("ours_wall_s", "wall s", ">8", ".3f"),
        ("reads_per_cpu_s", "reads/cpu s", ">12", ".0f"),
        ("peak_mb", "peak MB", ">8", ".0f"),
        ("ours_zstd_table_cpu_s", "ours(zstd)", ">11", ".3f"),
        ("table_mb_lz4", "MB lz4", ">7", ".1f"),
        ("table_mb_zstd", "zstd", ">6", ".1f"),
        ("ours_pysam_reader_cpu_s", "ours(pysam)", ">12", ".3f"),
        ("pysam_over_htslib_reader", "pysam/htslib", ">13", ".2f"),
        ("htslib_fields_cpu_s", "htslib fields", ">14", ".3f"),
        ("pysam_fields_cpu_s", "pysam fields", ">13", ".3f"),
        ("oxbow_batches_cpu_s", "oxbow", ">7", ".3f"),
        ("samtools_cpu_s", "samtools cpu", ">13", ".3f"),
        ("ours_over_samtools_cpu", "ours/samtools", ">14", ".1f"),
        ("mapdamage_cpu_s", "mapDamage cpu", ">14", ".2f"),
        ("mapdamage_wall_s", "wall", ">8", ".2f"),
        ("mapdamage_over_ours_cpu", "mapDamage/ours cpu", ">19", ".1f"),
        ("mapdamage_over_ours_wall", "wall", ">7", ".1f"),
        ("kernel_load_cpu_s", "kernel load", ">12", ".3f"),
        ("ours_process_cpu_s", "ours process cpu", ">17", ".3f"),
        ("mapdamage_over_ours_process_cpu", "mapDamage/ours process", ">23", ".1f"),
    ]
    header = "".join(f"{title:{fmt[0]}{fmt[1:]}}" for _, title, fmt, _ in cols)
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        print("".join(f"{r[key]:{fmt}{spec}}" for key, _, fmt, spec in cols))
    print()
    print(
        f"load average (1 min) at start {load_start[0]:.1f}, at end {load_end[0]:.1f} on {os.cpu_count()} CPUs: "
        f"{'a loaded machine, wall times inflated' if max(load_start[0], load_end[0]) > os.cpu_count() else 'not loaded'}"
    )
    md_ratio = [
        r["mapdamage_over_ours_cpu"] for r in rows if r["mapdamage_cpu_s"] == r["mapdamage_cpu_s"]
    ]
    if md_ratio:
        print(
            f"target >= 20x mapDamage (CPU) at every size: {'met' if min(md_ratio) >= 20 else 'NOT met'} "
            f"(min {min(md_ratio):.1f}x; {len(md_ratio)} of {len(rows)} sizes measured)"
        )
        proc = [
            r["mapdamage_over_ours_process_cpu"]
            for r in rows
            if r["mapdamage_cpu_s"] == r["mapdamage_cpu_s"]
        ]
        print(
            f"  whole processes (both with interpreter start and imports): min {min(proc):.1f}x, "
            f"max {max(proc):.1f}x"
        )
    else:
        print("mapDamage not run")
    speed = min(r["reads_per_cpu_s"] for r in rows)
    print(
        f"target >= 500,000 reads/s on one core:        {'met' if speed >= 5e5 else 'NOT met'} "
        f"at every size (min {speed:,.0f})"
    )
    for r in rows:
        print(
            f"  {r['bam']:<26} {r['reads_per_cpu_s']:>10,.0f} reads/CPU s "
            f"({'met' if r['reads_per_cpu_s'] >= 5e5 else 'NOT met'})"
        )
    repeated = [r for r in rows if " x" in r["bam"]]
    if len(repeated) >= 2:  # the rate without the per-file fixed cost
        a, b = repeated[-2], repeated[-1]
        marginal = (b["records"] - a["records"]) / (b["ours_cpu_s"] - a["ours_cpu_s"])
        fixed = a["ours_cpu_s"] - a["records"] / marginal
        print(
            f"  marginal rate {a['bam']} -> {b['bam']}: {marginal:,.0f} reads/CPU s "
            f"(fixed cost of a file implied: {fixed:.3f} CPU s)"
        )
    floor_speed = min(r["records"] / r["pysam_fields_cpu_s"] for r in rows)
    htslib_speed = min(r["records"] / r["htslib_fields_cpu_s"] for r in rows)
    print(
        f"reader floor (fields only, no work): htslib reader {htslib_speed:,.0f} reads/s, "
        f"pysam {floor_speed:,.0f} reads/s"
        + (
            f", oxbow {min(r['records'] / r['oxbow_batches_cpu_s'] for r in rows):,.0f} reads/s"
            if all(r["oxbow_batches_cpu_s"] == r["oxbow_batches_cpu_s"] for r in rows)
            else ", oxbow not installed"
        )
    )
    flat = repeated[-1]["peak_mb"] / repeated[0]["peak_mb"] if repeated else float("nan")
    print(
        f"peak memory x{args.repeats[-1]} / x{args.repeats[0]}: {flat:.2f} ({'flat' if flat <= 1.2 else 'NOT flat'}, "
        f"target within 1.2x)"
    )
    print(
        "per-read table lz4 vs zstd: CPU "
        + ", ".join(f"{r['ours_zstd_table_cpu_s'] / r['ours_cpu_s']:.2f}x" for r in rows)
        + "; size "
        + ", ".join(f"{r['table_mb_zstd'] / r['table_mb_lz4']:.2f}x" for r in rows)
        + " (zstd / lz4, per row)"
    )
    if args.tsv:
        with open(args.tsv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
