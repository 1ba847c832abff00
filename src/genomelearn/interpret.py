"""Model interpretation: position-permutation importance, k-mer attributions, embedding maps."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from sklearn.metrics import roc_auc_score


def position_permutation_importance(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    tokens: np.ndarray,
    labels: np.ndarray,
    bin_size: int = 1,
    seed: int = 0,
) -> list[dict]:
    """Drop in AUROC when the tokens of a block of positions are permuted across windows.

    The course's interpretation of the BiLSTM: shuffle one position (column) at a time over the
    test windows; a large drop marks a position the model relies on. Positions are permuted in
    bins of ``bin_size`` columns (the same row permutation for every column of a bin).

    Args:
        predict_fn: maps tokens (N, W) to P(class 1) (N,).
        tokens: int (N, W) tokens of held-out windows.
        labels: (N,) labels in {0, 1}.
        bin_size: columns permuted together.
        seed: permutation seed.

    Returns:
        one dict per bin: position_start, position_end (0-based, half-open token columns),
        auroc, auroc_drop.
    """
    rng = np.random.default_rng(seed)
    base = roc_auc_score(labels, predict_fn(tokens))
    rows = []
    for start in range(0, tokens.shape[1], bin_size):
        stop = min(start + bin_size, tokens.shape[1])
        permuted = tokens.copy()
        permuted[:, start:stop] = tokens[rng.permutation(len(tokens)), start:stop]
        auc = roc_auc_score(labels, predict_fn(permuted))
        rows.append({"position_start": start, "position_end": stop, "auroc": auc, "auroc_drop": base - auc})
    return rows


def token_attributions(model, tokens: np.ndarray, reference_token: int, batch_size: int = 512) -> np.ndarray:
    """First-order occlusion estimate for every token of a KmerBiLSTM-like model.

    attribution[i, j] = ∂(logit₁ − logit₀)/∂e_ij · (e_ij − e_ref): the change in the
    introgressed-vs-desert logit margin when token j of window i is replaced by ``reference_token``
    (the N-k-mer token), to first order (gradient × input difference, Shrikumar et al. 2016).

    Args:
        model: module with ``embed(tokens)`` and ``forward_embedded(embedded)``.
        tokens: int (N, W).
        reference_token: token id used as the "absent" reference.

    Returns:
        float32 (N, W).
    """
    model.eval()
    device = next(model.parameters()).device
    out = np.zeros(tokens.shape, dtype=np.float32)
    ref = model.embed(torch.tensor([[reference_token]], device=device)).detach()
    for start in range(0, len(tokens), batch_size):
        batch = torch.as_tensor(tokens[start : start + batch_size], device=device).long()
        embedded = model.embed(batch).detach().requires_grad_(True)
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN's RNN backward needs train mode
            logits = model.forward_embedded(embedded)
        margin = (logits[:, 1] - logits[:, 0]).sum()
        (grad,) = torch.autograd.grad(margin, embedded)
        out[start : start + len(batch)] = ((embedded - ref) * grad).sum(-1).detach().cpu().numpy()
    return out


def aggregate_by_token(tokens: np.ndarray, values: np.ndarray, min_count: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``values`` per distinct token (tokens seen at least ``min_count`` times).

    Returns:
        (token_ids, mean_value, count), each (T,).
    """
    ids, inverse, counts = np.unique(tokens.ravel(), return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=values.ravel().astype(np.float64))
    keep = counts >= min_count
    return ids[keep], (sums[keep] / counts[keep]), counts[keep]
