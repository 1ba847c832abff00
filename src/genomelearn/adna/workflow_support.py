"""Helpers of rules/ancient_dna.smk (kept out of the Snakefile so that it only holds rules).

``resolve`` arguments are the workflow's ``input_path`` (configured path → data mirror → URL).
"""

from __future__ import annotations

import os
from pathlib import Path

RESULTS = "results/ancient_dna"
MODELS = ["read_cnn", "damage_cnn", "ends_cnn"]


def sheet_path(cfg: dict, basedir: str | os.PathLike) -> Path:
    """The configured sample sheet: as given (relative to the working directory) or, if absent
    there, relative to the workflow directory."""
    path = Path(cfg.get("sample_sheet", "config/ancient_samples.tsv"))
    if not path.exists() and not path.is_absolute():
        path = Path(basedir) / path
    return path


def bam(sheet, sample: str, resolve) -> str:
    """Resolved BAM path of a sample."""
    return resolve(sheet.loc[sample, "bam"])


def reference(sheet, sample: str, resolve):
    """Resolved reference FASTA of a sample, or [] (MD tags)."""
    ref = sheet.loc[sample, "reference"]
    return resolve(ref) if ref else []


def index(sheet, sample: str, resolve, missing_index: str = "build"):
    """The BAM's own index when it has one; else the one the workflow builds under results/
    (``missing_index: build``; the mirror is read-only); else [] and the extraction step reports
    the missing index (``missing_index: error``)."""
    from genomelearn.adna.bamcheck import find_index

    existing = find_index(bam(sheet, sample, resolve))
    if existing is not None:
        return str(existing)
    if missing_index == "build":
        return f"{RESULTS}/index/{sample}.bam.bai"
    return []


def reads(samples) -> list[str]:
    """Per-read tables of all samples."""
    return [f"{RESULTS}/reads/{s}.parquet" for s in samples]


def pmdtools_inputs(cfg: dict, samples, resolve) -> dict:
    """Named inputs of the PMDtools comparison: PMDtools' input and output BAM (and reference) per
    configured run, plus our decontaminated BAM of the sample with the same name."""
    files = {}
    for name, spec in cfg.get("pmdtools", {}).items():
        files[f"{name}_input"] = resolve(spec["input"])
        files[f"{name}_filtered"] = resolve(spec["filtered"])
        if spec.get("reference"):
            files[f"{name}_reference"] = resolve(spec["reference"])
        if name in samples:
            files[f"{name}_authentic"] = f"{RESULTS}/{name}.authentic.bam"
    return files


def targets(cfg: dict, samples) -> list[str]:
    """Final outputs of the analysis."""
    out = [f"{RESULTS}/{name}" for name in ("metrics.tsv", "contamination.tsv", "damage_summary.tsv",
                                             "plots/damage_overview.png", "plots/lengths.png", "plots/roc_all.png")]
    out += [f"{RESULTS}/{s}.authentic.bam" for s in samples]
    out += [f"{RESULTS}/damage/{s}.png" for s in samples]
    if cfg.get("pmdtools"):
        out.append(f"{RESULTS}/pmdtools_comparison.tsv")
    return out
