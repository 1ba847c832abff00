"""Factory and inputs of the torch models of the introgression analysis."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from genomelearn.encoding import kmer_vocab_size
from genomelearn.models.sequence import BagOfKmersMLP, CourseCNN, KmerBiLSTM
from genomelearn.models.transformer import KmerTransformer

DEEP_MODELS = ("kmer_mlp", "cnn", "bilstm", "transformer")


def build_deep_model(
    name: str, architecture: dict, window_length: int, token_k: int, n_count_features: int
):
    """Instantiate model ``name`` from its config block (``architecture``; ``training`` key ignored).

    Raises:
        ValueError: unknown model name.
    """
    arch = {k: v for k, v in architecture.items() if k != "training"}
    if name == "cnn":
        return CourseCNN(length=window_length, **arch)
    if name == "bilstm":
        return KmerBiLSTM(vocab_size=kmer_vocab_size(token_k), **arch)
    if name == "kmer_mlp":
        arch["hidden"] = tuple(arch.get("hidden", (128, 32)))
        return BagOfKmersMLP(n_features=n_count_features, **arch)
    if name == "transformer":  # tokenises the one-hot window itself (its own kmer/stride)
        return KmerTransformer(length=window_length, **arch)
    raise ValueError(f"unknown deep model {name!r}; choose from {DEEP_MODELS}")


def model_input(name: str, one_hot: np.ndarray, tokens: np.ndarray, counts: sp.csr_matrix):
    """The encoding model ``name`` reads: one-hot (N, L, 4) uint8 (cnn, transformer), tokens (N, W)
    int32 → int64 (bilstm), or counts CSR (kmer_mlp)."""
    if name in ("cnn", "transformer"):
        return one_hot
    if name == "bilstm":
        return tokens.astype(np.int64)
    if name == "kmer_mlp":
        return counts
    raise ValueError(f"unknown deep model {name!r}; choose from {DEEP_MODELS}")


def training_fingerprint(
    inputs: list,
    name: str,
    architecture: dict,
    training: dict,
    token_k: int,
    regression: bool,
) -> str:
    """Fingerprint of one deep-model training job (rule introgression_train_deep), passed to
    :func:`genomelearn.training.fit` so that a checkpoint of other inputs or settings is never
    resumed.

    Args:
        inputs: every input file of the job (windows, split, one-hot, tokens, counts), in order.
        name: model name; architecture: its architecture block.
        training: training settings including the seed of the job.
        token_k: k of the k-mer tokens; regression: True for the ``support`` labels.

    Returns:
        :func:`genomelearn.training.input_fingerprint` (sha256 hex) of the full content of every
        input, the settings and the genomelearn version.
    """
    from genomelearn.training import input_fingerprint

    return input_fingerprint(
        list(inputs),
        {
            "model": name,
            "arch": architecture,
            "train": training,
            "k": token_k,
            "regression": regression,
        },
    )
