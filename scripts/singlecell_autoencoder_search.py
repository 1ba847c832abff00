"""Small documented search of the single-omic autoencoder's defaults, on the default datasets only.

Run after the workflow's preprocessing of the default datasets (it reads
``results/singlecell/<dataset>/cells.tsv`` and ``.../omics/<omic>/{preprocessed.h5ad,pca.parquet}``;
``snakemake --cores 2 <those files>`` makes them in a minute):

    nice -n 10 python scripts/singlecell_autoencoder_search.py \\
        --datasets pbmc68k_reduced worm_neuron --seeds 0 1 \\
        --output results/singlecell/autoencoder_search.tsv

Grid (``GRID``): bottleneck (latent) width × hidden widths × ``max_epochs`` (early stopping with
the configured patience still applies), each with the omic's configured likelihood (raw counts:
negative binomial) and dropout; the workflow's default configuration is one cell of the grid
(``is_default``). Every configuration and seed trains the autoencoder as the workflow does (same
validation split, early stopping, CPU, one thread), then scores the embedding with the workflow's
evaluation (:func:`genomelearn.singlecell.pipeline.evaluate_seed`: same k, same Leiden resolution
search, scIB bio-conservation); the workflow's PCA is scored at the same seeds for reference.

Writes one row per dataset and configuration (mean over seeds of scIB bio, NMI, ARI, kNN
preservation; epochs run; training seconds) and one ``mean of datasets`` row per configuration,
ranked by its mean scIB bio score. Labels enter the score only, never training.

Held-out data are refused: a dataset must be one of the default config's labelled datasets
(``config/config.yaml`` of this checkout, whatever ``--config`` says), with the same input files.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
import yaml

from genomelearn.singlecell import embed, graphs, pipeline
from genomelearn.training import TrainConfig

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
GRID = {
    "bottleneck": [10, 20],
    "hidden": [[128, 64, 32], [256, 128, 64]],
    "max_epochs": [30, 60],
}
SCORES = ("scib_bio", "nmi", "ari", "knn_preservation")


def default_datasets(config_path: Path = DEFAULT_CONFIG) -> dict:
    """Labelled datasets of the default config: name → {omic: input path}."""
    sc_cfg = yaml.safe_load(Path(config_path).read_text())["singlecell"]
    return {
        name: {o: spec.get("path") for o, spec in block["omics"].items()}
        for name, block in sc_cfg["datasets"].items()
        if block.get("labels")
    }


def check_datasets(requested, config: dict) -> None:
    """Refuse any dataset that is not a labelled default dataset with the default input files.

    Raises:
        SystemExit: naming the dataset (the search must never see held-out evaluation data).
    """
    allowed = default_datasets()
    for name in requested:
        if name not in allowed:
            raise SystemExit(
                f"singlecell_autoencoder_search: {name!r} is not a labelled default dataset of "
                f"{DEFAULT_CONFIG} ({', '.join(sorted(allowed))}); the search runs on the default "
                "datasets only, never on data held out for evaluation"
            )
        block = config["singlecell"]["datasets"].get(name)
        paths = {o: s.get("path") for o, s in (block or {}).get("omics", {}).items()}
        if paths != allowed[name]:
            raise SystemExit(
                f"singlecell_autoencoder_search: dataset {name!r} of the given config reads "
                f"{paths}, not the default inputs {allowed[name]}"
            )


def _inputs(root: Path, dataset: str, omic: str) -> tuple[Path, Path, Path]:
    paths = (
        root / dataset / "cells.tsv",
        root / dataset / "omics" / omic / "preprocessed.h5ad",
        root / dataset / "omics" / omic / "pca.parquet",
    )
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(
            "singlecell_autoencoder_search: missing " + ", ".join(missing) + "; make them with "
            "`snakemake --cores 2 " + " ".join(missing) + "`"
        )
    return paths


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["pbmc68k_reduced", "worm_neuron"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    parser.add_argument("--results", default="results/singlecell")
    parser.add_argument("--output", default="results/singlecell/autoencoder_search.tsv")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (workflow: 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    cfg = yaml.safe_load(Path(args.config).read_text())
    check_datasets(args.datasets, cfg)
    sc_cfg = cfg["singlecell"]
    ae_cfg = sc_cfg.get("autoencoder") or {}
    train_cfg = {**cfg.get("training", {}), **(ae_cfg.get("training") or {})}
    default = {
        "bottleneck": ae_cfg.get("bottleneck") or sc_cfg["n_components"],
        "hidden": list(ae_cfg.get("hidden", [256, 128, 64])),
        "max_epochs": train_cfg["max_epochs"],
    }
    k, resolutions = sc_cfg["n_neighbors"], sc_cfg["leiden_resolutions"]
    rows = []

    def record(row: dict) -> None:
        rows.append(row)
        print(
            "  ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            ),
            flush=True,
        )

    for dataset in args.datasets:
        for omic in sc_cfg["datasets"][dataset]["omics"]:
            cells_path, h5ad, pca_path = _inputs(Path(args.results), dataset, omic)
            cells = pipeline.read_cells(cells_path)
            labels = cells["label"].to_numpy(dtype=object)
            adata = ad.read_h5ad(h5ad)
            if list(adata.obs_names) != list(cells["cell"].astype(str)):
                raise SystemExit(f"{h5ad}: cells differ from {cells_path} (rerun the workflow)")
            X = pipeline._matrix(adata)
            likelihood = adata.uns["singlecell_omic"]["likelihood"]
            counts = adata.layers["counts"] if likelihood in ("nb", "zinb") else None
            reference = {omic: graphs.euclidean_knn(X, k - 1)[0]}
            base = {"dataset": dataset, "omic": omic, "likelihood": likelihood}
            pca = pipeline.read_embedding(str(pca_path), cells["cell"])
            start = time.perf_counter()
            frame = pd.DataFrame(
                [
                    pipeline.evaluate_seed(
                        "pca", [omic], labels, reference, s, k, resolutions, embedding=pca
                    )[0]
                    for s in args.seeds
                ]
            )
            record(
                {
                    **base,
                    "method": "pca",
                    "bottleneck": pca.shape[1],
                    "hidden": "",
                    "max_epochs": np.nan,
                    "is_default": False,
                    "n_seeds": len(args.seeds),
                    **{f"{m}_mean": frame[m].mean() for m in SCORES},
                    "epochs_run_mean": np.nan,
                    "train_seconds": np.nan,
                    "seconds": time.perf_counter() - start,
                }
            )
            for bottleneck, hidden, max_epochs in itertools.product(
                GRID["bottleneck"], GRID["hidden"], GRID["max_epochs"]
            ):
                scores, epochs, train_s = [], [], 0.0
                start = time.perf_counter()
                for seed in args.seeds:
                    settings = embed.AutoencoderSettings(
                        hidden=list(hidden),
                        bottleneck=min(bottleneck, X.shape[1]),
                        dropout=ae_cfg.get("dropout", 0.1),
                        validation_fraction=ae_cfg.get("validation_fraction", 0.2),
                    )
                    train = TrainConfig.from_dict(
                        {**train_cfg, "max_epochs": max_epochs, "seed": seed, "device": "cpu"}
                    )
                    t = time.perf_counter()
                    _, emb, result = embed.train_autoencoder(
                        X, likelihood, settings, train, counts=counts
                    )
                    train_s += time.perf_counter() - t
                    epochs.append(int(result.history["epoch"].max()))
                    row, _, _ = pipeline.evaluate_seed(
                        "ae", [omic], labels, reference, seed, k, resolutions, embedding=emb
                    )
                    scores.append(row)
                frame = pd.DataFrame(scores)
                record(
                    {
                        **base,
                        "method": "ae",
                        "bottleneck": bottleneck,
                        "hidden": "-".join(map(str, hidden)),
                        "max_epochs": max_epochs,
                        "is_default": (
                            bottleneck == default["bottleneck"]
                            and list(hidden) == default["hidden"]
                            and max_epochs == default["max_epochs"]
                        ),
                        "n_seeds": len(args.seeds),
                        **{f"{m}_mean": frame[m].mean() for m in SCORES},
                        "epochs_run_mean": float(np.mean(epochs)),
                        "train_seconds": train_s,
                        "seconds": time.perf_counter() - start,
                    }
                )
    table = pd.DataFrame(rows)
    keys = ["method", "bottleneck", "hidden", "max_epochs", "is_default"]
    overall = (
        table.groupby(keys, sort=False, dropna=False)
        .agg(
            n_datasets=("dataset", "nunique"),
            **{f"{m}_mean": (f"{m}_mean", "mean") for m in SCORES},
            train_seconds=("train_seconds", lambda v: v.sum(min_count=1)),
        )
        .reset_index()
        .sort_values("scib_bio_mean", ascending=False)
    )
    overall.insert(0, "dataset", "mean of datasets")
    overall.insert(1, "rank", np.arange(1, len(overall) + 1))
    table = pd.concat([table, overall], ignore_index=True)
    print("\nranked by scIB bio, mean of datasets:", file=sys.stderr)
    print(
        overall.drop(columns="dataset").to_string(index=False, float_format="%.3f"),
        file=sys.stderr,
    )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output, sep="\t", index=False, float_format="%.4f")
    return table


if __name__ == "__main__":
    main()
