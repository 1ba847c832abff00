"""A small transformer encoder over k-mer tokens of fixed-length DNA windows.

Architecture (Vaswani et al. 2017, "Attention is all you need", with pre-layer normalisation,
Xiong et al. 2020): one-hot window (B, L, 4) -> k-mer tokens every ``stride`` bp (computed inside
the model, on the device) -> token embedding (4**k + 1 ids; the last id is any k-mer holding a
non-ACGT base) scaled by sqrt(d) + fixed sinusoidal positional encoding -> ``n_layers`` encoder
layers (:class:`EncoderBlock`: ``n_heads`` heads, GELU feed-forward of ``ff_dim``) -> final layer norm -> mean over
tokens -> dropout -> linear -> logits. DNABERT (Ji et al. 2021, Bioinformatics 37:2112) reads
overlapping k-mers the same way (stride < k); the Nucleotide Transformer (Dalla-Torre et al. 2025,
Nat Methods 22:287) reads non-overlapping 6-mers (stride = k). The defaults (k = 4, stride 4: 50
tokens of a 200-bp window, d = 64, 4 heads, 2 layers) keep it small enough to train on a laptop
CPU; stride 2 (99 tokens) trains at half the speed.

The model reads the same one-hot input as :class:`genomelearn.models.sequence.CourseCNN` and, like
:class:`genomelearn.models.sequence.KmerBiLSTM`, exposes ``embed`` / ``forward_embedded`` so that
gradient attributions (:func:`genomelearn.interpret.integrated_gradients`) run over its token
embeddings.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["EncoderBlock", "KmerTransformer", "sinusoidal_positions"]


def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    """Fixed positional encoding of Vaswani et al. 2017: float32 (n_positions, d_model).

    ``PE[p, 2i] = sin(p / 10000**(2i/d))``, ``PE[p, 2i + 1] = cos(p / 10000**(2i/d))``.
    """
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]
    rate = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    pe = torch.zeros(n_positions, d_model)
    pe[:, 0::2] = torch.sin(position * rate)
    pe[:, 1::2] = torch.cos(position * rate)[:, : d_model // 2]
    return pe


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder layer: x + MHA(LN(x)), then x + FF(LN(x)).

    Attention runs through ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels,
    no dropout on the attention weights); dropout acts on the two residual branches. Training
    throughput on CPU is about twice that of ``nn.TransformerEncoderLayer`` with the same dropout,
    whose attention-weight dropout draws a (B, heads, T, T) mask per layer.

    Args:
        d_model: width d; n_heads: heads (d divisible by n_heads); ff_dim: feed-forward units;
        dropout: residual-branch dropout.

    Input/output: float (B, T, d).
    """

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_dim), nn.GELU(), nn.Linear(ff_dim, d_model))
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        q, k, v = (
            self.qkv(self.norm1(x))
            .view(b, t, 3, self.n_heads, d // self.n_heads)
            .permute(2, 0, 3, 1, 4)
        )
        return q, k, v  # each (B, heads, T, d / heads)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention probabilities (B, heads, T, T) of this layer for input x (B, T, d)."""
        q, k, _ = self._heads(x)
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self._heads(x)
        attended = nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.drop1(self.out(attended.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop2(self.ff(self.norm2(x)))


class KmerTransformer(nn.Module):
    """Transformer encoder classifier over k-mer tokens of one-hot DNA.

    Args:
        length: window length L (bp); tokens T = (L - kmer) // stride + 1.
        kmer: k-mer length of a token (1 = single nucleotides; vocabulary 4**k + 1).
        stride: bp between token starts (stride < kmer: overlapping k-mers).
        d_model: embedding / model width d (divisible by ``n_heads``).
        n_heads: attention heads per layer.
        n_layers: encoder layers.
        ff_dim: hidden units of each layer's feed-forward block.
        dropout: dropout in the encoder layers and before the output layer.
        n_classes: output classes (2).

    Input: uint8/float (B, L, 4) one-hot (an all-zero row = N). Output: float32 logits
    (B, n_classes).

    Raises:
        ValueError: kmer or stride < 1, kmer > L, kmer > 12, or d_model not divisible by n_heads.
    """

    def __init__(
        self,
        length: int,
        kmer: int = 4,
        stride: int = 4,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        ff_dim: int = 128,
        dropout: float = 0.1,
        n_classes: int = 2,
    ):
        super().__init__()
        if not 1 <= kmer <= 12 or stride < 1 or kmer > length:
            raise ValueError(
                f"need 1 <= kmer <= min(12, length) and stride >= 1; got kmer={kmer}, stride={stride}, length={length}"
            )
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.length, self.kmer, self.stride, self.d_model = length, kmer, stride, d_model
        self.n_tokens = (length - kmer) // stride + 1
        self.n_token_id = 4**kmer  # id of a k-mer holding a non-ACGT base
        self.embedding = nn.Embedding(4**kmer + 1, d_model)
        self.register_buffer(
            "positions", sinusoidal_positions(self.n_tokens, d_model), persistent=False
        )
        self.register_buffer("powers", 4 ** torch.arange(kmer - 1, -1, -1), persistent=False)
        self.layers = nn.ModuleList(
            EncoderBlock(d_model, n_heads, ff_dim, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_model, n_classes))

    def tokens(self, one_hot: torch.Tensor) -> torch.Tensor:
        """k-mer token ids int64 (B, T) of one-hot windows (B, L, 4); N-containing k-mers get 4**k.

        Raises:
            ValueError: if the window length differs from the model's.
        """
        if one_hot.shape[1] != self.length or one_hot.shape[-1] != 4:
            raise ValueError(
                f"expected one-hot windows (B, {self.length}, 4), got {tuple(one_hot.shape)}"
            )
        valid = one_hot.sum(-1) == 1  # (B, L)
        codes = one_hot.argmax(-1)  # (B, L) int64
        kmers = codes.unfold(1, self.kmer, self.stride)  # (B, T, k)
        ids = (kmers * self.powers).sum(-1)
        ok = (~valid).to(torch.int16).unfold(1, self.kmer, self.stride).sum(-1) == 0
        return torch.where(ok, ids, torch.full_like(ids, self.n_token_id))

    def embed(self, one_hot: torch.Tensor) -> torch.Tensor:
        """Token embeddings float32 (B, T, d_model), before scaling and positional encoding."""
        return self.embedding(self.tokens(one_hot))

    def forward_embedded(self, embedded: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) from token embeddings (B, T, d_model) (used for attributions)."""
        x = embedded * math.sqrt(self.d_model) + self.positions
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x).mean(dim=1))

    def attention_maps(self, one_hot: torch.Tensor) -> list[torch.Tensor]:
        """Attention probabilities of every layer: list of n_layers float (B, heads, T, T)."""
        x = self.embed(one_hot) * math.sqrt(self.d_model) + self.positions
        maps = []
        for layer in self.layers:
            maps.append(layer.attention_weights(x))
            x = layer(x)
        return maps

    def forward(self, one_hot: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(self.embed(one_hot))

    def token_spans(self) -> torch.Tensor:
        """int64 (T, 2): 0-based half-open bp span [start, end) of every token in the window."""
        starts = torch.arange(self.n_tokens) * self.stride
        return torch.stack([starts, starts + self.kmer], dim=1)
