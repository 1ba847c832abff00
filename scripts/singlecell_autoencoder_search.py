"""Small documented search of the single-omic autoencoder's defaults, on the default datasets only.

Run after the workflow's preprocessing (it reads ``results/singlecell/<dataset>/omics/<omic>/preprocessed.h5ad``):

    python scripts/singlecell_autoencoder_search.py --datasets pbmc68k_reduced worm_neuron \\
        --seeds 0 1 --output results/singlecell/autoencoder_search.tsv

For every configuration of the grid (likelihood for counts: nb / zinb / gaussian on log data;
hidden layers; dropout) and seed it trains the autoencoder as the workflow does (same validation
split, early stopping, bottleneck = n_components), then scores the embedding with the workflow's
evaluation (same k, same Leiden resolution search, scIB bio-conservation). It prints and writes one
row per configuration: mean scIB bio score, NMI, ARI and kNN preservation over the seeds.
Labels enter the score only, never training; no dataset outside the default config is used.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import yaml

from genomelearn.singlecell import embed, graphs, pipeline
from genomelearn.training import TrainConfig

GRID = {
    "hidden": [[256, 128, 64], [128]],
    "dropout": [0.1, 0.0],
}


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["pbmc68k_reduced", "worm_neuron"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--output", default="results/singlecell/autoencoder_search.tsv")
    args = parser.parse_args(argv)
    cfg = yaml.safe_load(Path(args.config).read_text())
    sc_cfg, train_cfg = cfg["singlecell"], {**cfg.get("training", {}), **sc_cfg_training(cfg)}
    k, resolutions = sc_cfg["n_neighbors"], sc_cfg["leiden_resolutions"]
    rows = []
    for dataset in args.datasets:
        root = Path("results/singlecell") / dataset
        cells = pipeline.read_cells(root / "cells.tsv")
        labels = cells["label"].to_numpy(dtype=object)
        for omic in sc_cfg["datasets"][dataset]["omics"]:
            adata = ad.read_h5ad(root / "omics" / omic / "preprocessed.h5ad")
            X = pipeline._matrix(adata)
            counts = adata.layers.get("counts")
            likelihoods = (
                ["nb", "zinb", "gaussian"]
                if counts is not None
                else [adata.uns["singlecell_omic"]["likelihood"]]
            )
            reference = {omic: graphs.euclidean_knn(X, k - 1)[0]}
            for likelihood, hidden, dropout in itertools.product(
                likelihoods, GRID["hidden"], GRID["dropout"]
            ):
                scores = []
                start = time.perf_counter()
                for seed in args.seeds:
                    settings = embed.AutoencoderSettings(
                        hidden=hidden,
                        bottleneck=min(sc_cfg["n_components"], X.shape[1]),
                        dropout=dropout,
                    )
                    train = TrainConfig.from_dict({**train_cfg, "seed": seed, "device": "cpu"})
                    _, emb, _ = embed.train_autoencoder(
                        X,
                        likelihood,
                        settings,
                        train,
                        counts=counts if likelihood in ("nb", "zinb") else None,
                    )
                    row, _, _ = pipeline.evaluate_seed(
                        "ae", [omic], labels, reference, seed, k, resolutions, embedding=emb
                    )
                    scores.append(row)
                frame = pd.DataFrame(scores)
                rows.append(
                    {
                        "dataset": dataset,
                        "omic": omic,
                        "likelihood": likelihood,
                        "hidden": "-".join(map(str, hidden)),
                        "dropout": dropout,
                        "n_seeds": len(args.seeds),
                        **{
                            f"{m}_mean": frame[m].mean()
                            for m in ("scib_bio", "nmi", "ari", "knn_preservation")
                        },
                        "seconds": time.perf_counter() - start,
                    }
                )
                print(
                    pd.DataFrame(rows[-1:]).to_string(
                        index=False, header=len(rows) == 1, float_format="%.3f"
                    ),
                    flush=True,
                )
    table = pd.DataFrame(rows)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output, sep="\t", index=False, float_format="%.4f")
    return table


def sc_cfg_training(cfg: dict) -> dict:
    """The single-omic autoencoder's training overrides of the config."""
    return dict((cfg["singlecell"].get("autoencoder") or {}).get("training") or {})


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
