"""Read-level CNN classifiers for ancient vs modern DNA.

The course's one-hot CNN (Conv1D 32×5 → Conv1D 32×5 → MaxPool 2 → Dense 16 → 2 classes) adapted to
reads of variable length: inputs are padded with all-zero rows, every convolution output is
multiplied by the validity mask (so padding never leaks into the next layer), and the flatten of
the fixed-length original is replaced by masked global max- and mean-pooling over the valid
positions. The output is therefore identical whatever the amount of padding (tested). The
damage-aware variant is the same network with 9 input channels (bases, C→T / G→A / other mismatch
indicators, distances from both ends) and the log fragment length concatenated before the dense
layer (see :mod:`genomelearn.adna.features`). The ends-only variant (``ends_cnn``, 7 channels) is
the same network fed only the first and last bases of each read, as reference-C/G, mismatch and
position channels, without read bases or length (a learned, length-blind PMD score). With
``pooling="max"`` the masked mean pooling is left out (the mean of a position channel over a read
gives its length); the input width and scalars are parameters (the encodings live in
:mod:`genomelearn.adna.features`, which builds the models with ``build_read_model``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ReadCNN(nn.Module):
    """Masked 1-D CNN over one read.

    Args:
        in_channels: input channels (4 one-hot bases; 9 damage-aware; 7 ends-only).
        n_scalars: per-read scalar features concatenated after pooling (0 or 1).
        filters: convolution filters (32 in the course model).
        kernel_size: convolution width (5).
        hidden: dense layer width (16).
        n_classes: output classes (2: modern, ancient).
        pooling: ``"max_mean"`` (masked max and mean pooling) or ``"max"`` (masked max pooling only).

    Forward:
        x: float32 (B, C, L) with L even; mask: bool (B, L), True at read positions;
        scalars: float32 (B, n_scalars). Returns logits float32 (B, n_classes).
    """

    def __init__(
        self,
        in_channels: int = 4,
        n_scalars: int = 0,
        filters: int = 32,
        kernel_size: int = 5,
        hidden: int = 16,
        n_classes: int = 2,
        pooling: str = "max_mean",
    ):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd (same-length convolutions)")
        if pooling not in ("max_mean", "max"):
            raise ValueError(f"pooling must be 'max_mean' or 'max', got {pooling!r}")
        self.pooling = pooling
        self.in_channels = in_channels
        self.n_scalars = n_scalars
        self.conv1 = nn.Conv1d(in_channels, filters, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(filters, filters, kernel_size, padding=kernel_size // 2)
        self.pool = nn.MaxPool1d(2)
        self.dense = nn.Linear((2 if pooling == "max_mean" else 1) * filters + n_scalars, hidden)
        self.out = nn.Linear(hidden, n_classes)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, scalars: torch.Tensor | None = None
    ) -> torch.Tensor:
        if x.shape[-1] % 2:
            x = F.pad(x, (0, 1))
            mask = F.pad(mask, (0, 1))
        m = mask.to(x.dtype).unsqueeze(1)  # (B, 1, L)
        h = F.relu(self.conv1(x)) * m
        h = F.relu(self.conv2(h)) * m
        h = self.pool(h)
        pm = self.pool(m)  # (B, 1, L/2): 1 where the pair holds a read position
        valid = pm > 0
        h_max = h.masked_fill(~valid, float("-inf")).amax(dim=-1)
        h_max = torch.where(torch.isfinite(h_max), h_max, torch.zeros_like(h_max))
        if self.pooling == "max":
            z = h_max
        else:
            h_mean = (h * pm).sum(dim=-1) / pm.sum(dim=-1).clamp(min=1.0)
            z = torch.cat([h_max, h_mean], dim=1)
        if self.n_scalars:
            z = torch.cat([z, scalars.to(z.dtype)], dim=1)
        return self.out(F.relu(self.dense(z)))
