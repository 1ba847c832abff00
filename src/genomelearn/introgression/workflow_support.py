"""Config helpers of rules/introgression.smk (kept here so the rules file holds rules only).

Every function takes the validated ``config["introgression"]`` block; the ones that resolve input
files also take the workflow's ``input_path`` (configured path -> data mirror -> public URL).
"""

from __future__ import annotations

from typing import Callable

RESULTS = "results/introgression/{dataset}"

__all__ = [
    "RESULTS",
    "dataset_file",
    "introgressed_bed",
    "predictions",
    "targets",
]


def introgressed_bed(block: dict, dataset: str, input_path: Callable) -> str:
    """Path of the introgressed-regions BED of ``dataset``.

    ``introgressed.source`` picks the consensus map of regions supported by at least
    ``min_methods`` of the 12 published maps (Chen & Yaen, NeanderthalIntrogressionMaps), one
    per-method map, or a user BED (``path``/``url``).
    """
    spec = block["datasets"][dataset]["introgressed"]
    maps = block["maps"]
    if spec["source"] == "consensus":
        n = spec["min_methods"]
        return input_path(
            maps["consensus_path"].format(min_methods=n),
            maps["consensus_url"].format(min_methods=n),
        )
    if spec["source"] == "method":
        method = spec["method"]
        return input_path(
            maps["method_path"].format(method=method),
            maps["method_url"].format(method=method),
        )
    return input_path(spec["path"], spec.get("url"))


def dataset_file(block: dict, dataset: str, key: str, input_path: Callable):
    """Resolved path of an optional per-dataset input (``reference``, ``deserts``, ``mask``, ``genes``).

    Returns ``[]`` (no input) when the dataset does not configure ``key``.
    """
    spec = block["datasets"][dataset].get(key)
    if not spec:
        return []
    return input_path(spec["path"], spec.get("url"))


def predictions(block: dict, dataset: str) -> list[str]:
    """Prediction files of every configured model x split of ``dataset``."""
    return [
        f"{RESULTS.format(dataset=dataset)}/models/{model}/{split}/predictions.parquet"
        for model in block["models"]
        for split in block["splits"]["methods"]
    ]


def targets(block: dict, dataset: str) -> list[str]:
    """Final files of ``dataset``: metrics, leakage audit, regions summary, and where configured
    gene scores and the interpretation tables (these need the BiLSTM and the random forest
    trained on the ``blocks`` split)."""
    names = ["metrics.tsv", "leakage.tsv", "regions_summary.tsv"]
    if block["datasets"][dataset].get("genes") and block.get("genes", {}).get("model"):
        names.append("gene_scores.tsv")
    if {"bilstm", "random_forest"} <= set(block["models"]) and "blocks" in block["splits"][
        "methods"
    ]:
        names += ["interpret/position_importance.tsv", "interpret/top_kmers.tsv"]
    return [f"{RESULTS.format(dataset=dataset)}/{name}" for name in names]
