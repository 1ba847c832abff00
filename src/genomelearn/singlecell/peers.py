"""Peers of the project's embeddings, run on the same preprocessed input (``preprocessed.h5ad``).

* ``scanpy``: scanpy's standard path (Wolf et al. 2018, Genome Biol 19:15): the preprocessed omic
  (``normalize_total`` + ``log1p`` + highly variable genes for counts, done by
  :mod:`genomelearn.singlecell.preprocess` with scanpy itself) → ``pp.scale(max_value=10)`` →
  ``tl.pca`` (scanpy's 50 components by default); several omics are scaled and concatenated first.
  Neighbours and Leiden are those of every method (:func:`genomelearn.singlecell.pipeline.evaluate_seed`,
  identical to ``sc.pp.neighbors`` + ``sc.tl.leiden``).
* ``scvi``: scVI (scvi-tools; Lopez et al. 2018, Nat Methods 15:1053) on the raw counts of the
  highly variable genes (``layers["counts"]``), one model per seed.
* ``mofa``: MOFA+ (mofapy2; Argelaguet et al. 2020, Genome Biol 21:111), Gaussian views (missing
  values allowed), one model per seed; the factors are the embedding.
* ``wnn``: weighted nearest neighbours (muon ``pp.neighbors``; Hao et al. 2021, Cell 184:3573) of
  the per-omic PCA embeddings: a graph, like the consensus graph.

:func:`availability` says which peers a dataset can run and why not otherwise; unavailable peers
are rows of ``metrics.tsv`` with that reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from genomelearn.singlecell.graphs import mean_impute

PEERS = ("scanpy", "scvi", "mofa", "wnn")
PEER_KINDS = {"scanpy": "embedding", "scvi": "embedding", "mofa": "embedding", "wnn": "graph"}


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def availability(peer: str, omic_specs: Mapping[str, Mapping], enabled: bool = True) -> str:
    """``""`` when ``peer`` can run on a dataset, else the reason it cannot (one line).

    A reason of the dataset itself (no counts, one omic, several omics for scVI) comes first, so
    that it is reported even when the peer is also switched off; then the switch, then whether the
    peer's package is installed.

    Args:
        peer: one of :data:`PEERS`.
        omic_specs: omic → completed settings (:func:`genomelearn.singlecell.preprocess.omic_settings`).
        enabled: the peer's ``enabled`` switch in the config.
    """
    if peer == "scvi":
        counted = [
            o
            for o, s in omic_specs.items()
            if s["type"] == "expression" and s["values"] == "counts"
        ]
        if len(omic_specs) > 1:
            return "multi-omics dataset: scVI models one RNA count matrix (use it per omic, not joint)"
        if not counted:
            return "no raw counts (values: normalized): scVI needs UMI counts"
    if peer in ("mofa", "wnn") and len(omic_specs) < 2:
        return "one omic: a multi-omics integration method"
    if not enabled:
        return "switched off in the config (singlecell.peers.<peer>.enabled)"
    module = {"scanpy": "scanpy", "scvi": "scvi", "mofa": "mofapy2", "wnn": "muon"}[peer]
    if not _installed(module):
        return f"{module} is not installed (pip install genomelearn[peers])"
    return ""


def _dense(X) -> np.ndarray:
    return mean_impute(X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float32))


def scanpy_embedding(
    h5ads: Mapping[str, str], n_comps: int = 50, seed: int = 0
) -> tuple[pd.Index, np.ndarray]:
    """scanpy's standard embedding of the preprocessed omics (see the module docstring).

    Args:
        h5ads: omic → preprocessed h5ad (same cells, same order).
        n_comps: PCA components (capped at min(cells, features) - 1).
        seed: ``random_state`` of ``sc.tl.pca``.

    Returns:
        (cell IDs, (n, k) float32 PCA scores).
    """
    import scanpy as sc

    blocks, cells = [], None
    for path in h5ads.values():
        a = ad.read_h5ad(path)
        cells = a.obs_names if cells is None else cells
        if list(a.obs_names) != list(cells):
            raise ValueError(f"{path}: cells differ from the other omics")
        holder = ad.AnnData(_dense(a.X))
        sc.pp.scale(holder, max_value=10)
        blocks.append(np.nan_to_num(holder.X))
    X = np.hstack(blocks).astype(np.float32)
    k = max(1, min(int(n_comps), X.shape[0] - 1, X.shape[1] - 1))
    holder = ad.AnnData(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.pca(holder, n_comps=k, random_state=seed, svd_solver="arpack")
    return cells, np.asarray(holder.obsm["X_pca"], dtype=np.float32)


def scvi_embedding(
    h5ad: str,
    n_latent: int = 10,
    seed: int = 0,
    max_epochs: int = 50,
    batch_size: int = 128,
    threads: int = 1,
    log=None,
) -> tuple[pd.Index, np.ndarray, pd.DataFrame]:
    """scVI latent means of the cells, trained on ``layers["counts"]`` of a preprocessed counts omic.

    Args:
        h5ad: preprocessed h5ad with ``layers["counts"]`` (raw counts of the kept genes).
        n_latent: latent dimensions.
        seed: ``scvi.settings.seed`` (weights, shuffling, the 90/10 train/validation split).
        max_epochs: training epochs (early stopping on the validation ELBO, patience 10).
        batch_size: cells per mini-batch.
        threads: torch threads.

    Returns:
        (cell IDs, (n, n_latent) float32, per-epoch history with columns epoch, train_loss, val_loss).

    Raises:
        ValueError: no ``layers["counts"]``.
    """
    import logging

    import scvi
    import torch

    for name in ("scvi", "lightning", "lightning.pytorch", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    a = ad.read_h5ad(h5ad)
    if "counts" not in a.layers:
        raise ValueError(
            f"{h5ad}: no layers['counts'] (scVI needs the raw counts; values: counts)"
        )
    torch.set_num_threads(threads)
    scvi.settings.seed = seed
    scvi.settings.dl_num_workers = 0
    data = ad.AnnData(
        X=sp.csr_matrix(a.layers["counts"]),
        obs=pd.DataFrame(index=a.obs_names),
        var=pd.DataFrame(index=a.var_names),
    )
    scvi.model.SCVI.setup_anndata(data)
    model = scvi.model.SCVI(data, n_latent=n_latent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.train(
            max_epochs=max_epochs,
            batch_size=batch_size,
            accelerator="cpu",
            devices=1,
            early_stopping=True,
            early_stopping_patience=10,
            enable_progress_bar=False,
        )
    latent = np.asarray(model.get_latent_representation(), dtype=np.float32)
    hist = model.history
    history = pd.DataFrame(
        {
            "epoch": np.arange(1, len(hist["elbo_train"]) + 1),
            "train_loss": hist["elbo_train"].to_numpy().ravel(),
            "val_loss": hist["elbo_validation"].to_numpy().ravel()
            if "elbo_validation" in hist
            else np.nan,
        }
    )
    return a.obs_names, latent, history


def mofa_embedding(
    h5ads: Mapping[str, str], n_factors: int = 10, seed: int = 0, iterations: int = 1000
) -> tuple[pd.Index, np.ndarray]:
    """MOFA+ factors of the preprocessed omics (Gaussian likelihood per view, missing values kept).

    Args:
        h5ads: omic → preprocessed h5ad (same cells, same order).
        n_factors: initial factors (MOFA+ may drop inactive ones).
        seed: MOFA+ ``seed``.
        iterations: maximum iterations (convergence mode ``fast``).

    Returns:
        (cell IDs, (n, factors) float32).
    """
    import contextlib
    import io

    from mofapy2.run.entry_point import entry_point

    views, names, features, cells = [], [], [], None
    for omic, path in h5ads.items():
        a = ad.read_h5ad(path)
        cells = a.obs_names if cells is None else cells
        X = a.X.toarray() if sp.issparse(a.X) else np.asarray(a.X, dtype=np.float64)
        views.append([np.asarray(X, dtype=np.float64)])
        names.append(omic)
        features.append([f"{omic}:{f}" for f in a.var_names])
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ent = entry_point()
        ent.set_data_options(scale_views=True)
        ent.set_data_matrix(
            views,
            likelihoods=["gaussian"] * len(views),
            views_names=names,
            groups_names=["cells"],
            samples_names=[[str(c) for c in cells]],
            features_names=features,
        )
        ent.set_model_options(factors=min(n_factors, len(cells) - 1))
        ent.set_train_options(
            iter=iterations,
            convergence_mode="fast",
            seed=seed,
            verbose=False,
            quiet=True,
            gpu_mode=False,
        )
        ent.build()
        ent.run()
        Z = ent.model.nodes["Z"].getExpectation()
    return cells, np.asarray(Z, dtype=np.float32)


def wnn_graph(
    pca_embeddings: Mapping[str, np.ndarray], cells: pd.Index, n_neighbors: int = 15, seed: int = 0
) -> ad.AnnData:
    """Weighted-nearest-neighbour graph (muon ``pp.neighbors``) of per-omic embeddings.

    Args:
        pca_embeddings: omic → (n, d) float32 embedding (the per-omic PCA of the workflow).
        cells: cell IDs (n).
        n_neighbors: k of the per-omic and the WNN graphs (counts the cell itself, as scanpy).
        seed: random state of the neighbour searches.

    Returns:
        AnnData with ``obsp["wnn_connectivities"]``, ``obsp["wnn_distances"]``, ``uns["wnn"]`` and
        ``obsm["X_pca_<omic>"]`` (scanpy's neighbours convention).
    """
    import muon as mu
    import scanpy as sc

    mods = {}
    for omic, emb in pca_embeddings.items():
        m = ad.AnnData(obs=pd.DataFrame(index=pd.Index(cells).astype(str)))
        m.obsm["X_pca"] = np.asarray(emb, dtype=np.float32)
        sc.pp.neighbors(m, n_neighbors=n_neighbors, use_rep="X_pca", random_state=seed)
        mods[omic] = m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mdata = mu.MuData(mods)
        mu.pp.neighbors(mdata, n_neighbors=n_neighbors, key_added="wnn", random_state=seed)
    out = ad.AnnData(obs=pd.DataFrame(index=pd.Index(cells).astype(str)))
    out.obsp["wnn_connectivities"] = sp.csr_matrix(
        mdata.obsp["wnn_connectivities"], dtype=np.float32
    )
    out.obsp["wnn_distances"] = sp.csr_matrix(mdata.obsp["wnn_distances"], dtype=np.float32)
    out.uns["wnn"] = {
        "connectivities_key": "wnn_connectivities",
        "distances_key": "wnn_distances",
        "params": {"n_neighbors": n_neighbors, "method": "wnn (muon)", "random_state": seed},
    }
    for omic, emb in pca_embeddings.items():
        out.obsm[f"X_pca_{omic}"] = np.asarray(emb, dtype=np.float32)
    return out
