"""Embeddings (PCA, autoencoders), UMAP layouts and Leiden clusters.

* PCA: scikit-learn ``PCA`` (sparse input centred implicitly, never densified; missing values
  mean-imputed since PCA cannot take them).
* Autoencoders: :mod:`genomelearn.models.autoencoder`, trained with the shared loop
  :func:`genomelearn.training.fit` on mini-batches from :class:`OmicsSource` (CSR rows sliced and
  densified one batch at a time), CUDA when present.
* UMAP: ``umap.umap_.simplicial_set_embedding`` (umap-learn; what ``scanpy.tl.umap`` calls) on a
  given weighted graph, so that embeddings and graph-only methods (per-omic graphs, consensus) are
  laid out the same way.
* Leiden: ``scanpy.tl.leiden`` (igraph backend, fixed seed) on the same graph.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from genomelearn.models.autoencoder import (
    COUNT_LIKELIHOODS,
    Autoencoder,
    CountAutoencoder,
    EncoderView,
    MultimodalAutoencoder,
    autoencoder_loss,
)
from genomelearn.singlecell.graphs import leiden_clusters, mean_impute  # noqa: F401 (re-export)
from genomelearn.training import FitResult, TrainConfig, fit, predict, seed_everything


def pca_embedding(X, n_comps: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of the cells (scikit-learn PCA).

    Args:
        X: (n, p) dense float (NaN mean-imputed) or CSR (kept sparse: ARPACK solver with implicit
            centring).
        n_comps: requested components; capped at min(p, n - 1).
        seed: random state of the ARPACK / randomized solvers.

    Returns:
        (scores (n, k) float32, explained_variance_ratio (k,) float64).
    """
    from sklearn.decomposition import PCA

    n, p = X.shape
    k = max(1, min(int(n_comps), p, n - 1))
    if sp.issparse(X) and k >= min(n, p) - 1 and n * p <= 10**7:
        X = X.toarray()  # all components of a small matrix: exact SVD below
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float32)
    else:
        X = mean_impute(X)
    # Small dense matrices: exact SVD. Otherwise ARPACK (a few sparse mat-vec products per
    # iteration, implicit centring for sparse input); it needs k < min(n, p).
    solver = "full" if not sp.issparse(X) and (n <= 5000 or k >= min(n, p) - 1) else "arpack"
    if solver == "arpack":
        k = min(k, min(n, p) - 1)
    model = PCA(n_components=k, svd_solver=solver, random_state=seed)
    scores = model.fit_transform(X)
    return scores.astype(np.float32), model.explained_variance_ratio_


class OmicsSource:
    """Mini-batch source over aligned cell × feature matrices, for :func:`genomelearn.training.fit`.

    Each matrix may be a CSR matrix (rows sliced and densified per batch only — the full matrix is
    never densified) or a dense array with NaN = missing. ``get(idx)`` returns, per matrix, a float32
    tensor (B, F) with missing entries set to 0, followed by its float32 mask (1 observed, 0 missing)
    when ``masks[i]`` is true.

    Args:
        matrices: aligned matrices, same number of rows.
        masks: per matrix, whether to emit a mask (default: only for dense matrices holding NaN).
        rows: optional subset of row numbers; the source then has ``len(rows)`` items and item ``i``
            is row ``rows[i]`` (train / validation split without copying the data).
    """

    def __init__(
        self,
        matrices: Sequence,
        masks: Sequence[bool] | None = None,
        rows: np.ndarray | None = None,
    ):
        self.matrices = [
            sp.csr_matrix(m, dtype=np.float32)
            if sp.issparse(m)
            else np.asarray(m, dtype=np.float32)
            for m in matrices
        ]
        lengths = {m.shape[0] for m in self.matrices}
        if len(lengths) != 1:
            raise ValueError(f"matrices differ in number of rows: {sorted(lengths)}")
        if masks is None:
            masks = [(not sp.issparse(m)) and bool(np.isnan(m).any()) for m in self.matrices]
        self.masks = list(masks)
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self._n = lengths.pop() if self.rows is None else len(self.rows)
        self.n_inputs = len(self.matrices) + sum(self.masks)

    def __len__(self) -> int:
        return self._n

    def get(self, indices: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Rows ``indices`` (int array, positions in this source) as CPU float32 tensors."""
        idx = np.asarray(indices, dtype=np.int64)
        if self.rows is not None:
            idx = self.rows[idx]
        out = []
        for m, with_mask in zip(self.matrices, self.masks):
            block = m[idx].toarray() if sp.issparse(m) else m[idx]
            observed = ~np.isnan(block)
            x = np.where(observed, block, 0.0).astype(np.float32, copy=False)
            out.append(torch.from_numpy(np.ascontiguousarray(x)))
            if with_mask:
                out.append(torch.from_numpy(observed.astype(np.float32)))
        return tuple(out)


@dataclass
class AutoencoderSettings:
    """Architecture and split of an autoencoder (config ``singlecell.autoencoder``).

    Attributes:
        hidden: encoder hidden widths (decoder mirrors them); (256, 128, 64) = 8 linear layers.
        bottleneck: embedding width.
        dropout: dropout after hidden activations.
        validation_fraction: share of cells held out for early stopping (at least one cell).
    """

    hidden: list = field(default_factory=lambda: [256, 128, 64])
    bottleneck: int = 10
    dropout: float = 0.1
    validation_fraction: float = 0.2


def split_cells(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``n`` cells into (train, validation) row numbers (sorted)."""
    if n < 2:
        raise ValueError(f"need at least 2 cells to train an autoencoder, got {n}")
    n_val = min(max(1, int(round(fraction * n))), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _train(
    model, matrices, masks, settings, train, checkpoint_dir, log, fingerprint=""
) -> tuple[np.ndarray, FitResult]:
    n = matrices[0].shape[0]
    tr, va = split_cells(n, settings.validation_fraction, train.seed)
    result = fit(
        model,
        OmicsSource(matrices, masks, rows=tr),
        OmicsSource(matrices, masks, rows=va),
        loss_fn=autoencoder_loss,
        config=train,
        checkpoint_dir=checkpoint_dir,
        log=log,
        fingerprint=fingerprint,
    )
    embedding = predict(
        EncoderView(model),
        OmicsSource(matrices, masks),
        batch_size=4096,
        device=train.device,
        softmax=False,
    )
    return embedding, result


def train_autoencoder(
    X,
    likelihood: str,
    settings: AutoencoderSettings,
    train: TrainConfig,
    checkpoint_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    counts=None,
    fingerprint: str = "",
) -> tuple[Autoencoder | CountAutoencoder, np.ndarray, FitResult]:
    """Train an :class:`Autoencoder` (or, for ``"nb"``/``"zinb"``, a :class:`CountAutoencoder`)
    on one omic and embed every cell.

    The cells are split (seeded) into training and validation sets; validation loss drives early
    stopping only (the method is unsupervised: labels are never seen).

    Args:
        X: (n, F) CSR or dense float32 (NaN = missing → masked loss).
        likelihood: ``"gaussian"``, ``"bernoulli"``, ``"nb"`` or ``"zinb"``.
        settings: architecture and validation fraction.
        train: shared training settings (seed, epochs, batch size, device, …).
        checkpoint_dir: for :func:`genomelearn.training.fit` checkpoints / resume.
        log: progress callback.
        counts: (n, F) raw counts of the same genes (CSR or dense), required for ``"nb"``/``"zinb"``
            (the encoder then reads ``X``, the likelihood scores ``counts``).
        fingerprint: passed to :func:`genomelearn.training.fit` (stale checkpoints are ignored).

    Returns:
        (trained model on its device, embedding (n, bottleneck) float32, FitResult).

    Raises:
        ValueError: a count likelihood without ``counts`` or with a shape other than ``X``'s.
    """
    seed_everything(train.seed)
    if likelihood in COUNT_LIKELIHOODS:
        if counts is None or counts.shape != X.shape:
            raise ValueError(f"likelihood {likelihood!r} needs raw counts of shape {X.shape}")
        model = CountAutoencoder(
            X.shape[1],
            settings.hidden,
            settings.bottleneck,
            settings.dropout,
            likelihood == "zinb",
        )
        embedding, result = _train(
            model, [X, counts], [False, False], settings, train, checkpoint_dir, log, fingerprint
        )
        return model, embedding, result
    masked = (not sp.issparse(X)) and bool(np.isnan(np.asarray(X)).any())
    model = Autoencoder(
        X.shape[1], settings.hidden, settings.bottleneck, settings.dropout, likelihood
    )
    embedding, result = _train(
        model, [X], [masked], settings, train, checkpoint_dir, log, fingerprint
    )
    return model, embedding, result


def train_multimodal_autoencoder(
    matrices: Sequence,
    likelihoods: Sequence[str],
    settings: AutoencoderSettings,
    train: TrainConfig,
    checkpoint_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    fingerprint: str = "",
) -> tuple[MultimodalAutoencoder, np.ndarray, FitResult]:
    """Train a :class:`MultimodalAutoencoder` on aligned omics and embed every cell jointly.

    Args:
        matrices: per omic (n, F_m) CSR or dense (NaN = missing), same cells in the same order.
        likelihoods: per omic ``"gaussian"`` / ``"bernoulli"``.
        settings, train, checkpoint_dir, log: as in :func:`train_autoencoder`.

    Returns:
        (model, joint embedding (n, bottleneck) float32, FitResult).
    """
    seed_everything(train.seed)
    model = MultimodalAutoencoder(
        [m.shape[1] for m in matrices],
        likelihoods,
        settings.hidden,
        settings.bottleneck,
        settings.dropout,
    )
    embedding, result = _train(
        model,
        list(matrices),
        [True] * len(matrices),
        settings,
        train,
        checkpoint_dir,
        log,
        fingerprint,
    )
    return model, embedding, result


def concat_pca(matrices: Sequence, n_comps: int = 10, seed: int = 0) -> np.ndarray:
    """Baseline joint embedding: PCA of the concatenated omics, each block standardised per feature
    (NaN mean-imputed) and scaled by 1/sqrt(F_m) so that every omic carries the same total variance.

    Returns:
        (n, k) float32.
    """
    blocks = []
    for m in matrices:
        dense = m.toarray() if sp.issparse(m) else np.asarray(m, dtype=np.float32)
        dense = mean_impute(dense)
        sd = dense.std(axis=0)
        sd[sd == 0] = 1.0
        blocks.append((dense - dense.mean(axis=0)) / sd / np.sqrt(dense.shape[1]))
    scores, _ = pca_embedding(np.hstack(blocks).astype(np.float32), n_comps, seed)
    return scores


def umap_layout(
    graph: sp.spmatrix, data: np.ndarray, seed: int = 0, min_dist: float = 0.5, spread: float = 1.0
) -> np.ndarray:
    """2-D UMAP layout of a weighted graph (umap-learn ``simplicial_set_embedding``, scanpy defaults).

    Args:
        graph: (n, n) symmetric connectivities (UMAP fuzzy simplicial set or consensus graph).
        data: (n, d) float data used by umap-learn only to place disconnected components.
        seed: random state (single-threaded optimisation: reruns are identical).
        min_dist, spread: UMAP layout parameters.

    Returns:
        (n, 2) float32 coordinates.
    """
    from umap.umap_ import find_ab_params, simplicial_set_embedding

    n = graph.shape[0]
    a, b = find_ab_params(spread, min_dist)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords, _ = simplicial_set_embedding(
            data=np.asarray(data, dtype=np.float32),
            graph=sp.coo_matrix(graph, dtype=np.float32),
            n_components=2,
            initial_alpha=1.0,
            a=a,
            b=b,
            gamma=1.0,
            negative_sample_rate=5,
            n_epochs=500 if n <= 10000 else 200,
            init="spectral",
            random_state=np.random.RandomState(seed),
            metric="euclidean",
            metric_kwds={},
            densmap=False,
            densmap_kwds={},
            output_dens=False,
        )
    return np.asarray(coords, dtype=np.float32)
