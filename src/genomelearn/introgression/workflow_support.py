"""Config helpers of rules/introgression.smk (kept here so the rules file holds rules only).

Every function takes the validated ``config["introgression"]`` block (schema defaults filled in);
the ones that resolve input files also take the workflow's ``input_path`` (configured path -> data
mirror -> public URL). Every output path of the analysis is built here, once.

Layout under ``results/introgression/<dataset>/``::

    <labels>/regions.bed, regions_summary.tsv, windows.parquet, windows_summary.tsv, encoded/
    <labels>/<matching>/splits/{fold0..fold<K-1>,random}.tsv, folds.tsv, interpret/ (primary)
    <labels>/<matching>/models/<model>/<split>/seed<seed>/predictions.parquet (+ model, history)
    metrics.tsv, predictions_oof.parquet, verdict.tsv, figures/, leakage.tsv, gene_scores.tsv

``labels``: deserts | depleted | support; ``matching``: matched | unmatched; ``split``: a block
cross-validation fold (``fold<f>``) or the leaky ``random`` protocol.
"""

from __future__ import annotations

from collections.abc import Callable

from genomelearn.introgression.classical import CLASSICAL_MODELS

RESULTS = "results/introgression/{dataset}"
LABEL_DEFINITIONS = ("deserts", "depleted", "support")
MATCHINGS = ("unmatched", "matched")

__all__ = [
    "LABEL_DEFINITIONS",
    "MATCHINGS",
    "RESULTS",
    "dataset_file",
    "grid",
    "interpret_transformer",
    "introgressed_bed",
    "is_classical",
    "map_beds",
    "predictions",
    "primary",
    "seeds",
    "split_names",
    "targets",
    "trained_splits",
]


def introgressed_bed(block: dict, dataset: str, input_path: Callable) -> str:
    """Path of the introgressed-regions BED of ``dataset``.

    ``introgressed.source`` picks the consensus map of regions supported by at least
    ``min_methods`` of the 12 published maps (Chen & Capra 2025, NeanderthalIntrogressionMaps), one
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


def map_beds(block: dict, labels: str, input_path: Callable) -> list[str]:
    """The per-method map BEDs (``maps.methods``) the ``depleted`` and ``support`` labels need;
    ``[]`` for ``deserts``."""
    if labels == "deserts":
        return []
    maps = block["maps"]
    return [
        input_path(maps["method_path"].format(method=m), maps["method_url"].format(method=m))
        for m in maps["methods"]
    ]


def dataset_file(block: dict, dataset: str, key: str, input_path: Callable):
    """Resolved path of an optional per-dataset input (``reference``, ``deserts``, ``mask``, ``genes``).

    Returns ``[]`` (no input) when the dataset does not configure ``key``.
    """
    spec = block["datasets"][dataset].get(key)
    if not spec:
        return []
    return input_path(spec["path"], spec.get("url"))


def is_classical(model: str) -> bool:
    """True for the scikit-learn models; every other configured model is a torch model."""
    return model in CLASSICAL_MODELS


def split_names(block: dict) -> list[str]:
    """Split files of every setting: ``fold0..fold<K-1>`` for the block CV, then ``random``."""
    names = []
    if "blocks" in block["splits"]["methods"]:
        names += [f"fold{f}" for f in range(block["splits"]["folds"])]
    if "random" in block["splits"]["methods"]:
        names.append("random")
    return names


def trained_splits(block: dict, labels: str, matching: str, model: str) -> list[str]:
    """Split files ``model`` is trained on in one setting.

    Every setting trains on every block-CV fold (``fold0..fold<K-1>``). The leaky ``random``
    protocol exists only to show how leakage inflates the numbers, so it runs in the primary
    setting alone: for its scikit-learn models by default, for every model under ``full_grid``.
    """
    names = split_names(block)
    is_primary = (labels, matching) == primary(block)
    if is_primary and (block["full_grid"] or is_classical(model)):
        return names
    return [n for n in names if n != "random"]


def seeds(
    block: dict, model: str, labels: str | None = None, matching: str | None = None
) -> list[int]:
    """Training seeds of ``model`` in the setting (``labels``, ``matching``).

    ``seeds.classical`` / ``seeds.deep`` for the primary setting (and when no setting is given);
    in every other setting ``secondary_seeds.classical`` / ``secondary_seeds.deep`` where set
    (not null), so that ``full_grid: true`` fits a small machine with, e.g., one deep seed on the
    non-primary settings while the primary setting keeps ``seeds.deep``.
    """
    family = "classical" if is_classical(model) else "deep"
    secondary = block.get("secondary_seeds", {}).get(family)
    if labels is None or (labels, matching) == primary(block) or secondary is None:
        return list(block["seeds"][family])
    return list(secondary)


def grid(block: dict) -> list[tuple[str, str, str]]:
    """Every (labels, matching, model) the configuration trains.

    ``runs.classical`` / ``runs.deep`` name the label definitions and matchings of each model
    family; ``full_grid: true`` runs every model on every label definition x matching.
    """
    out = []
    for model in block["models"]:
        family = "classical" if is_classical(model) else "deep"
        spec = block["runs"][family]
        labels = LABEL_DEFINITIONS if block["full_grid"] else spec["labels"]
        matchings = MATCHINGS if block["full_grid"] else spec["matching"]
        for lab in LABEL_DEFINITIONS:
            for match in MATCHINGS:
                if lab in labels and match in matchings:
                    out.append((lab, match, model))
    return out


def primary(block: dict) -> tuple[str, str]:
    """(labels, matching) of the primary setting (gene scores, interpretation, leakage audit)."""
    return block["primary"]["labels"], block["primary"]["matching"]


def interpret_transformer(block: dict, dataset: str, labels: str, matching: str) -> dict[str, str]:
    """Extra inputs of rule ``introgression_interpret`` for the transformer's attributions.

    ``{"transformer": <model.pt of fold0, first seed>, "one_hot": <one-hot windows>}`` when the
    transformer is trained on block-CV folds in the setting (``labels``, ``matching``); ``{}``
    otherwise (the interpretation then covers the BiLSTM and the random forest only).
    """
    if (labels, matching, "transformer") not in set(grid(block)):
        return {}
    if "fold0" not in trained_splits(block, labels, matching, "transformer"):
        return {}
    base = f"{RESULTS.format(dataset=dataset)}/{labels}"
    seed = seeds(block, "transformer", labels, matching)[0]
    return {
        "transformer": f"{base}/{matching}/models/transformer/fold0/seed{seed}/model.pt",
        "one_hot": f"{base}/encoded/one_hot.npy",
    }


def predictions(block: dict, dataset: str) -> list[str]:
    """Prediction files of every (labels, matching, model) x split x seed of ``dataset``."""
    base = RESULTS.format(dataset=dataset)
    return [
        f"{base}/{lab}/{match}/models/{model}/{split}/seed{seed}/predictions.parquet"
        for lab, match, model in grid(block)
        for split in trained_splits(block, lab, match, model)
        for seed in seeds(block, model, lab, match)
    ]


def targets(block: dict, dataset: str) -> list[str]:
    """Final files of ``dataset``: metrics, out-of-fold predictions, verdict, leakage audit,
    region summaries, and where configured gene scores and the interpretation tables (these need
    the BiLSTM and the random forest trained on the primary setting's first fold)."""
    base = RESULTS.format(dataset=dataset)
    names = ["metrics.tsv", "predictions_oof.parquet", "verdict.tsv", "leakage.tsv"]
    names += [f"{lab}/regions_summary.tsv" for lab in sorted({g[0] for g in grid(block)})]
    lab, match = primary(block)
    trained = {(g[0], g[1], g[2]) for g in grid(block)}
    if (
        block["datasets"][dataset].get("genes")
        and block["genes"]["model"]
        and (lab, match, block["genes"]["model"]) in trained
        and "blocks" in block["splits"]["methods"]
    ):
        names.append("gene_scores.tsv")
    if {(lab, match, "bilstm"), (lab, match, "random_forest")} <= trained and "blocks" in block[
        "splits"
    ]["methods"]:
        names += [
            f"{lab}/{match}/interpret/position_importance.tsv",
            f"{lab}/{match}/interpret/top_kmers.tsv",
        ]
    return [f"{base}/{name}" for name in names]
