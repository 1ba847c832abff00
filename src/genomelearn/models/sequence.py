"""Sequence classifiers for fixed-length DNA windows.

* :class:`CourseCNN` — the 1D CNN of the course ("Deep Learning for Neanderthal introgression",
  N. Oskolkov): Conv1D 32×5 → Conv1D 32×5 → MaxPool 2 → Dense 16 → 2 classes, ReLU, on one-hot.
* :class:`KmerBiLSTM` — k-mer embedding → bidirectional LSTM → Dense → 2 classes, on overlapping
  k-mer tokens (the course's NLP model; it reports 99.4 % validation accuracy on a random split).
* :class:`BagOfKmersMLP` — multi-layer perceptron on k-mer count vectors (the course's bag of words).
"""

from __future__ import annotations

import torch
from torch import nn


class CourseCNN(nn.Module):
    """1D CNN on one-hot DNA.

    Args:
        length: window length L (bp).
        filters: convolution filters per layer (course: 32).
        kernel_size: convolution width (course: 5).
        dense_units: hidden dense units (course: 16).
        dropout: dropout before the output layer.
        n_classes: output classes (2).

    Input: uint8 or float (B, L, 4) one-hot. Output: float logits (B, n_classes).
    """

    def __init__(
        self,
        length: int,
        filters: int = 32,
        kernel_size: int = 5,
        dense_units: int = 16,
        dropout: float = 0.0,
        n_classes: int = 2,
    ):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(4, filters, kernel_size),
            nn.ReLU(),
            nn.Conv1d(filters, filters, kernel_size),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Flatten(),
        )
        flat = filters * ((length - 2 * (kernel_size - 1)) // 2)
        self.head = nn.Sequential(
            nn.Linear(flat, dense_units),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense_units, n_classes),
        )

    def forward(self, one_hot: torch.Tensor) -> torch.Tensor:
        x = one_hot.float().transpose(1, 2)  # (B, 4, L)
        return self.head(self.features(x))


class KmerBiLSTM(nn.Module):
    """Embedding of k-mer tokens → bidirectional LSTM → dense → logits.

    Args:
        vocab_size: number of token ids (``genomelearn.encoding.kmer_vocab_size(k)``).
        embedding_dim: k-mer embedding size.
        hidden_size: LSTM units per direction.
        dense_units: hidden dense units.
        dropout: dropout on the pooled LSTM output.
        n_classes: output classes.

    Input: int32/int64 tokens (B, W). Output: float logits (B, n_classes). The sequence summary
    is the concatenation of the last forward and the first backward hidden state. The embedding
    has sparse gradients (4**k rows; :func:`genomelearn.training.fit` updates it with SparseAdam).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 10,
        hidden_size: int = 16,
        dense_units: int = 16,
        dropout: float = 0.2,
        n_classes: int = 2,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0, sparse=True)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(2 * hidden_size, dense_units),
            nn.ReLU(),
            nn.Linear(dense_units, n_classes),
        )

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token embeddings (B, W, embedding_dim)."""
        return self.embedding(tokens.long())

    def forward_embedded(self, embedded: torch.Tensor) -> torch.Tensor:
        """Logits from already-embedded tokens (used for gradient attributions)."""
        _, (h_n, _) = self.lstm(embedded)
        return self.head(torch.cat([h_n[0], h_n[1]], dim=1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(self.embed(tokens))


class BagOfKmersMLP(nn.Module):
    """MLP on k-mer count vectors (log1p-scaled inside the model).

    Args:
        n_features: number of k-mers (4**k).
        hidden: hidden layer sizes.
        dropout: dropout after each hidden layer.
        n_classes: output classes.

    Input: float (B, n_features) counts. Output: float logits (B, n_classes).
    """

    def __init__(
        self,
        n_features: int,
        hidden: tuple[int, ...] = (128, 32),
        dropout: float = 0.3,
        n_classes: int = 2,
    ):
        super().__init__()
        layers, width = [], n_features
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        return self.net(torch.log1p(counts.float()))
