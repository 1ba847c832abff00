"""Config helpers and output paths of rules/deconvolution.smk (kept here so the rule file holds
rules only).

All functions take the ``config["deconvolution"]`` block *after* validation against
``config/schemas/deconvolution.schema.yaml``, which fills in every default (the schema is the one
place defaults live), and a dataset name. Output paths are defined once, in ``FILES``.
"""

from __future__ import annotations

RESULTS = "results/deconvolution/{dataset}"
# every output file of the analysis, relative to RESULTS (rules and targets use these)
FILES = {
    "pseudobulk_reference": "pseudobulk/reference.h5ad",
    "pseudobulk_bulk": "pseudobulk/bulk.tsv",
    "pseudobulk_truth": "pseudobulk/truth.tsv",
    "pseudobulk_split": "pseudobulk/split.tsv",
    "signature": "signature.tsv",
    "markers": "markers.tsv",
    "proportions": "proportions.tsv",
    "genes": "genes.tsv",
    "agreement": "agreement.tsv",
    "comparison": "comparison.tsv",
    "method_comparison": "method_comparison.tsv",
    "published_comparison": "published_comparison.tsv",
    "scatter": "scatter.png",
    "depth_curve": "depth_curve.tsv",
    "depth_summary": "depth_summary.tsv",
    "depth_plot": "depth_curve.png",
}
# analysis-wide settings a dataset may override (a null override keeps the analysis-wide value)
OVERRIDABLE = ("method", "normalization", "n_bootstrap", "seed", "depths", "n_repeats")
# reference options passed to the scripts (schema definitions/reference_options)
REFERENCE_KEYS = (
    "cluster_key",
    "layer",
    "use_raw",
    "log1p",
    "marker_layer",
    "marker_use_raw",
    "n_markers",
    "max_pval_adj",
    "min_log2fc",
)
PSEUDOBULK_KEYS = ("n_samples", "cells_per_sample", "reference_fraction", "seed")
# pseudo-bulk datasets read these inputs from the pseudo-bulk rule's outputs
PSEUDOBULK_INPUTS = {
    "bulk": "pseudobulk_bulk",
    "measured": "pseudobulk_truth",
    "reference": "pseudobulk_reference",
}

__all__ = [
    "FILES",
    "dataset_settings",
    "file_spec",
    "output",
    "resolve_file",
    "signature_inputs",
    "signature_source",
    "signature_specs",
    "targets",
]


def output(key: str, dataset: str = "{dataset}") -> str:
    """Path of the output ``key`` of FILES for ``dataset`` (default: the ``{dataset}`` wildcard)."""
    return f"{RESULTS.format(dataset=dataset)}/{FILES[key]}"


def dataset_settings(block: dict, dataset: str) -> dict:
    """Settings of one dataset for the scripts: per-dataset overrides over analysis-wide values.

    Returns:
        dict with method, normalization, n_bootstrap, seed, depths, n_repeats,
        measured_columns, ``reference`` (marker / averaging options) when a reference or a
        pseudo-bulk is used, and ``pseudobulk`` (mixing options) for pseudo-bulk datasets.

    Raises:
        KeyError: the block was not validated (a default is missing).
    """
    spec = block["datasets"][dataset]
    cfg = {key: block[key] if spec[key] is None else spec[key] for key in OVERRIDABLE}
    cfg["measured_columns"] = dict(spec["measured_columns"])
    ref_spec = spec.get("reference") or spec.get("pseudobulk")
    if ref_spec:
        cfg["reference"] = {key: ref_spec[key] for key in REFERENCE_KEYS}
    if spec.get("pseudobulk"):
        cfg["pseudobulk"] = {key: spec["pseudobulk"][key] for key in PSEUDOBULK_KEYS}
    return cfg


def file_spec(block: dict, dataset: str, key: str) -> tuple[str, str | None] | None:
    """(path, url) of the dataset's file ``key`` (bulk, signature, measured, published), or None."""
    spec = block["datasets"][dataset].get(key)
    if not spec:
        return None
    return spec["path"], spec["url"]


def resolve_file(block: dict, dataset: str, key: str, resolver) -> str | list:
    """Resolved path of the dataset's file ``key`` via ``resolver(path, url)`` (common.smk's
    ``input_path``), or [] (Snakemake's "no input") when the dataset has no such file."""
    if block["datasets"][dataset].get("pseudobulk") and key in PSEUDOBULK_INPUTS:
        return output(PSEUDOBULK_INPUTS[key], dataset)
    spec = file_spec(block, dataset, key)
    return resolver(*spec) if spec else []


def signature_specs(block: dict, dataset: str) -> dict[str, tuple[str, str | None]]:
    """Inputs of the signature rule: {"signature": ...} or {"reference": ..., ["markers": ...]}."""
    spec = block["datasets"][dataset]
    if spec.get("signature"):
        return {"signature": (spec["signature"]["path"], spec["signature"]["url"])}
    ref = spec["reference"]
    out = {"reference": (ref["path"], ref["url"])}
    if ref.get("markers"):
        out["markers"] = (ref["markers"]["path"], ref["markers"]["url"])
    return out


def signature_inputs(block: dict, dataset: str, resolver) -> dict[str, str]:
    """Resolved inputs of the signature rule (pseudo-bulk datasets use their reference half)."""
    if block["datasets"][dataset].get("pseudobulk"):
        return {"reference": output("pseudobulk_reference", dataset)}
    return {name: resolver(*spec) for name, spec in signature_specs(block, dataset).items()}


def signature_source(block: dict, dataset: str) -> str:
    """The user's file(s) behind ``results/deconvolution/<dataset>/signature.tsv``, as written in
    the config, for error messages of the steps that read that derived file (e.g. a signature that
    shares too few genes with the bulk names the signature or reference the user gave)."""
    spec = block["datasets"][dataset]
    derived = output("signature", dataset)
    if spec.get("signature"):
        return f"{spec['signature']['path']} (copied to {derived})"
    if spec.get("pseudobulk"):
        return f"{derived} (built from the reference cells of {spec['pseudobulk']['path']})"
    ref = spec["reference"]
    markers = f" with markers {ref['markers']['path']}" if ref.get("markers") else ""
    return f"{derived} (built from reference {ref['path']}{markers})"


def pseudobulk_source(block: dict, dataset: str, resolver) -> str:
    """Resolved .h5ad of a pseudo-bulk dataset."""
    spec = block["datasets"][dataset]["pseudobulk"]
    return resolver(spec["path"], spec["url"])


def targets(block: dict, dataset: str) -> list[str]:
    """Final files of one dataset: proportions always; agreement with a measured table (or the
    pseudo-bulk truth); depth curve unless ``depth_robustness`` is false or the bulk is a
    pseudo-bulk of normalised (non-count) expression."""
    spec = block["datasets"][dataset]
    keys = ["signature", "proportions", "genes"]
    if spec.get("measured") or spec.get("pseudobulk"):
        keys += ["agreement", "comparison", "method_comparison", "published_comparison", "scatter"]
    if spec["depth_robustness"] and not spec.get("pseudobulk"):
        keys += ["depth_curve", "depth_summary", "depth_plot"]
    return [output(key, dataset) for key in keys]
