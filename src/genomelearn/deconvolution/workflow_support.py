"""Config helpers of rules/deconvolution.smk (kept here so the Snakefile holds rules only).

All functions take the validated ``config["deconvolution"]`` block and a dataset name.
"""

from __future__ import annotations

GLOBAL_DEFAULTS = {
    "method": "deconrnaseq",
    "normalization": "cpm",
    "n_bootstrap": 1000,
    "seed": 0,
    "depths": [1000000, 100000, 10000],
    "n_repeats": 20,
}
REFERENCE_DEFAULTS = {
    "cluster_key": None,
    "layer": None,
    "use_raw": False,
    "log1p": "auto",
    "marker_layer": None,
    "marker_use_raw": False,
    "n_markers": 20,
    "max_pval_adj": 0.05,
    "min_log2fc": 1.0,
}
PSEUDOBULK_DEFAULTS = {
    "n_samples": 40,
    "cells_per_sample": 200,
    "reference_fraction": 0.5,
    "seed": 0,
}
RESULTS = "results/deconvolution/{dataset}"
PSEUDOBULK_FILES = {"bulk": "bulk.tsv", "measured": "truth.tsv", "reference": "reference.h5ad"}

__all__ = [
    "dataset_settings",
    "file_spec",
    "pseudobulk_output",
    "resolve_file",
    "signature_inputs",
    "signature_specs",
    "targets",
]


def pseudobulk_output(dataset: str, key: str) -> str:
    """Path of a file made by the pseudo-bulk rule: key in bulk, measured, reference, split."""
    name = PSEUDOBULK_FILES.get(key, f"{key}.tsv")
    return f"{RESULTS.format(dataset=dataset)}/pseudobulk/{name}"


def dataset_settings(block: dict, dataset: str) -> dict:
    """Settings of one dataset for the scripts: per-dataset overrides over analysis-wide values.

    Returns:
        dict with method, normalization, n_bootstrap, seed, depths, n_repeats,
        measured_columns, and ``reference`` (marker / averaging options) when a reference is used.
    """
    spec = block["datasets"][dataset]
    cfg = {}
    for key, default in GLOBAL_DEFAULTS.items():
        value = spec.get(key)
        cfg[key] = value if value is not None else block.get(key, default)
    cfg["measured_columns"] = dict(spec.get("measured_columns") or {})
    ref_spec = spec.get("reference") or spec.get("pseudobulk")
    if ref_spec:
        ref = {**REFERENCE_DEFAULTS, **ref_spec}
        cfg["reference"] = {k: v for k, v in ref.items() if k in REFERENCE_DEFAULTS}
    if spec.get("pseudobulk"):
        mix = {**PSEUDOBULK_DEFAULTS, **spec["pseudobulk"]}
        cfg["pseudobulk"] = {k: mix[k] for k in PSEUDOBULK_DEFAULTS}
    return cfg


def file_spec(block: dict, dataset: str, key: str) -> tuple[str, str | None] | None:
    """(path, url) of the dataset's file ``key`` (bulk, signature, measured, published), or None."""
    spec = block["datasets"][dataset].get(key)
    if not spec:
        return None
    return spec["path"], spec.get("url")


def resolve_file(block: dict, dataset: str, key: str, resolver) -> str | list:
    """Resolved path of the dataset's file ``key`` via ``resolver(path, url)`` (common.smk's
    ``input_path``), or [] (Snakemake's "no input") when the dataset has no such file."""
    if block["datasets"][dataset].get("pseudobulk") and key in ("bulk", "measured"):
        return pseudobulk_output(dataset, key)
    spec = file_spec(block, dataset, key)
    return resolver(*spec) if spec else []


def signature_specs(block: dict, dataset: str) -> dict[str, tuple[str, str | None]]:
    """Inputs of the signature rule: {"signature": ...} or {"reference": ..., ["markers": ...]}."""
    spec = block["datasets"][dataset]
    if spec.get("signature"):
        return {"signature": (spec["signature"]["path"], spec["signature"].get("url"))}
    ref = spec["reference"]
    out = {"reference": (ref["path"], ref.get("url"))}
    if ref.get("markers"):
        out["markers"] = (ref["markers"]["path"], ref["markers"].get("url"))
    return out


def signature_inputs(block: dict, dataset: str, resolver) -> dict[str, str]:
    """Resolved inputs of the signature rule (pseudo-bulk datasets use their reference half)."""
    if block["datasets"][dataset].get("pseudobulk"):
        return {"reference": pseudobulk_output(dataset, "reference")}
    return {name: resolver(*spec) for name, spec in signature_specs(block, dataset).items()}


def targets(block: dict, dataset: str) -> list[str]:
    """Final files of one dataset: proportions always; agreement with a measured table (or the
    pseudo-bulk truth); depth curve unless ``depth_robustness`` is false or the bulk is a
    pseudo-bulk of normalised (non-count) expression."""
    spec = block["datasets"][dataset]
    files = ["signature.tsv", "proportions.tsv", "genes.tsv"]
    if spec.get("measured") or spec.get("pseudobulk"):
        files += ["agreement.tsv", "comparison.tsv", "method_comparison.tsv", "published_comparison.tsv", "scatter.png"]
    if spec.get("depth_robustness", True) and not spec.get("pseudobulk"):
        files += ["depth_curve.tsv", "depth_summary.tsv", "depth_curve.png"]
    root = RESULTS.format(dataset=dataset)
    return [f"{root}/{name}" for name in files]
