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
