"""Helpers of rules/ancient_dna.smk (kept out of the Snakefile so that it only holds rules).

``resolve`` arguments are the workflow's ``input_path`` (configured path → data mirror → URL).
"""

from __future__ import annotations

import os
from pathlib import Path

RESULTS = "results/ancient_dna"
MODELS = ["read_cnn", "damage_cnn", "damage_nolength_cnn", "ends_cnn"]
# output paths of the analysis, defined once (the rules use these)
SPLITS = f"{RESULTS}/splits.tsv"
BASELINES = f"{RESULTS}/scores/baselines.parquet"
THRESHOLD = f"{RESULTS}/threshold.tsv"
METRICS = f"{RESULTS}/metrics.tsv"
CONTAMINATION = f"{RESULTS}/contamination.tsv"
MODEL_DIR = (
    f"{RESULTS}/models/{{model}}"  # the reusable bundle of a model (bundle.json, weights.pt)
)
MODEL_SCORES = f"{RESULTS}/scores/{{model}}.parquet"  # bundle scores of every read
CV_SCORES = (
    f"{RESULTS}/cv/{{model}}/fold{{fold}}.parquet"  # out-of-fold scores of a round's test reads
)
CV_HISTORY = f"{RESULTS}/cv/{{model}}/fold{{fold}}_history.tsv"
CV_CHECKPOINT = f"{RESULTS}/cv/{{model}}/fold{{fold}}_checkpoint"


SIMULATED = f"{RESULTS}/simulated"
DETECTION_CURVE = f"{SIMULATED}/detection_curve.tsv"


def simulation_enabled(cfg: dict) -> bool:
    """The controlled damage benchmark runs (it needs models trained here)."""
    return bool(cfg["simulation"]["enabled"]) and given_bundle(cfg) is None


def given_bundle(cfg: dict):
    """The configured bundle directory (models.bundle) or None (train with cross-validation)."""
    return cfg["models"]["bundle"]


def decontamination_model(cfg: dict) -> str:
    """Model that filters the reads: the given bundle's kind, else decontamination.model."""
    bundle_dir = given_bundle(cfg)
    if bundle_dir is None:
        return cfg["decontamination"]["model"]
    import json

    path = Path(bundle_dir) / "bundle.json"
    try:
        return json.loads(path.read_text())["kind"]
    except (OSError, ValueError, KeyError) as exc:
        from genomelearn.errors import InputError

        raise InputError(f"models.bundle: cannot read the model kind from {path} ({exc})") from exc


def bundle_dir(cfg: dict, model: str) -> str:
    """Directory of the bundle that scores the reads: the given one or the one trained here."""
    return given_bundle(cfg) or MODEL_DIR.format(model=model)


def cv_outputs(cfg: dict) -> list[str]:
    """Out-of-fold score tables of every model and CV round."""
    return [
        CV_SCORES.format(model=m, fold=f) for m in MODELS for f in range(cfg["split"]["n_folds"])
    ]


def check_folds(sheet, cfg: dict, sheet_file) -> None:
    """At DAG time, before anything runs: would every CV fold hold enough individuals of each label?
    (The per-label counts per fold do not depend on read counts.) Raises InputError."""
    from genomelearn.adna.splits import assign_folds, check_fold_sizes, individual_table

    split = cfg["split"]
    folds = assign_folds(individual_table(sheet), split["n_folds"], split["seed"])
    check_fold_sizes(folds, split["n_folds"], split["min_individuals_per_label"], str(sheet_file))


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


MAPDAMAGE_TABLES = (
    "misincorporation.txt",
    "5pCtoT_freq.txt",
    "3pGtoA_freq.txt",
    "lgdistribution.txt",
)


def targets(cfg: dict, samples) -> list[str]:
    """Final outputs of the analysis (with a given bundle: no cross-validation metrics)."""
    out = [CONTAMINATION] + [
        f"{RESULTS}/{name}"
        for name in ("damage_summary.tsv", "plots/damage_overview.png", "plots/lengths.png")
    ]
    if given_bundle(cfg) is None:
        out += [METRICS, f"{RESULTS}/plots/roc_all.png"]
    if simulation_enabled(cfg):
        out += [DETECTION_CURVE, f"{SIMULATED}/detection_curve.png"]
    out += [f"{RESULTS}/{s}.authentic.bam" for s in samples]
    out += [f"{RESULTS}/damage/{s}.png" for s in samples]
    out += [
        f"{RESULTS}/multiqc/ancient_dna_damage_mqc.tsv",
        f"{RESULTS}/multiqc/ancient_dna_ct5p_mqc.yaml",
    ]
    out += [f"{RESULTS}/mapdamage/{s}/{table}" for s in samples for table in MAPDAMAGE_TABLES]
    if cfg.get("pmdtools"):
        out.append(f"{RESULTS}/pmdtools_comparison.tsv")
    return out


def checked_sheet(sheet, cfg: dict, sheet_file) -> str:
    """``sheet_file`` after :func:`check_folds` (an input function of the splits rule, so the check
    runs while the DAG is built and only when the classifier is requested)."""
    check_folds(sheet, cfg, sheet_file)
    return str(sheet_file)
