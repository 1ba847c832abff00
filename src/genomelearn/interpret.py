"""Model interpretation: position-permutation importance, k-mer attributions (gradient x input,
integrated gradients, attention rollout), embedding maps."""

from __future__ import annotations

from collections.abc import Callable

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
        rows.append(
            {"position_start": start, "position_end": stop, "auroc": auc, "auroc_drop": base - auc}
        )
    return rows


def token_attributions(
    model, tokens: np.ndarray, reference_token: int, batch_size: int = 512
) -> np.ndarray:
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


def aggregate_by_token(
    tokens: np.ndarray, values: np.ndarray, min_count: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``values`` per distinct token (tokens seen at least ``min_count`` times).

    Returns:
        (token_ids, mean_value, count), each (T,).
    """
    ids, inverse, counts = np.unique(tokens.ravel(), return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=values.ravel().astype(np.float64))
    keep = counts >= min_count
    return ids[keep], (sums[keep] / counts[keep]), counts[keep]


def integrated_gradients(
    model,
    inputs: np.ndarray,
    steps: int = 32,
    baseline: np.ndarray | None = None,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Integrated gradients of the class-1 logit margin over a model's token embeddings.

    For window i with token embeddings e (T, d) and a baseline e0 (default: all zeros, i.e. no
    token information; the transformer still adds its positional encoding),
    ``attribution[i, t] = sum_d (e - e0)[t, d] * mean_s ∂m/∂e[t, d] (e0 + a_s (e - e0))`` with
    ``m = logit_1 - logit_0`` (the log-odds of "introgressed") and ``a_s = (s + 0.5) / steps``
    (midpoint Riemann sum). Completeness: the attributions of a window sum to
    ``m(e) - m(e0)`` up to the Riemann error, which shrinks with ``steps``
    (Sundararajan, Taly & Yan 2017, "Axiomatic attribution for deep networks", ICML).

    Args:
        model: module with ``embed(inputs) -> (B, T, d)`` and ``forward_embedded(e) -> (B, 2)``
            logits (:class:`genomelearn.models.transformer.KmerTransformer`: one-hot inputs;
            :class:`genomelearn.models.sequence.KmerBiLSTM`: int64 tokens). Put in eval mode.
        inputs: (N, ...) model inputs, e.g. uint8 one-hot (N, L, 4) for the transformer.
        steps: interpolation steps (>= 1).
        baseline: optional float array broadcastable to (T, d) (e.g. one embedding row, (d,));
            None = zeros.
        batch_size: interpolated windows per forward/backward pass (memory bound: about
            batch_size x T x d floats per activation).
        device: torch device for the passes.

    Returns:
        float32 (N, T): attribution of every token position (positive = towards introgressed).

    Raises:
        ValueError: steps < 1.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    device = torch.device(device)
    model.to(device)
    model.eval()
    alphas = ((torch.arange(steps, dtype=torch.float32) + 0.5) / steps).to(device)
    per_chunk = max(1, batch_size // steps)
    out = []
    for start in range(0, len(inputs), per_chunk):
        batch = torch.as_tensor(np.asarray(inputs[start : start + per_chunk]), device=device)
        with torch.no_grad():
            embedded = model.embed(batch).float()
        if baseline is None:
            ref = torch.zeros_like(embedded)
        else:
            ref = torch.as_tensor(baseline, dtype=torch.float32, device=device).expand_as(embedded)
        diff = embedded - ref
        path = ref[None] + alphas[:, None, None, None] * diff[None]
        path = path.reshape(-1, *embedded.shape[1:])
        path.requires_grad_(True)
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN's RNN backward needs train mode
            logits = model.forward_embedded(path)
        margin = (logits[:, 1] - logits[:, 0]).sum()
        (grad,) = torch.autograd.grad(margin, path)
        mean_grad = grad.reshape(steps, *embedded.shape).mean(0)
        out.append((diff * mean_grad).sum(-1).detach().cpu().numpy().astype(np.float32))
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out)


def attention_rollout(
    model, inputs: np.ndarray, batch_size: int = 256, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020, "Quantifying attention flow in transformers", ACL).

    Per layer the head-averaged attention A (T, T) is mixed with the residual path,
    ``A' = (A + I) / 2`` (rows renormalised), and the layers are multiplied,
    ``R = A'_n ... A'_1``. The model pools by the mean over tokens, so the importance of token t is
    the mean over query rows of ``R[:, t]``. Unsigned (it says where the model looks, not in which
    direction); use :func:`integrated_gradients` for signed attributions.

    Args:
        model: module with ``attention_maps(inputs) -> list of (B, heads, T, T)``
            (:class:`genomelearn.models.transformer.KmerTransformer`).
        inputs: (N, ...) model inputs (uint8 one-hot (N, L, 4) for the transformer).

    Returns:
        float32 (N, T), each row summing to 1.
    """
    device = torch.device(device)
    model.to(device)
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            batch = torch.as_tensor(np.asarray(inputs[start : start + batch_size]), device=device)
            rollout = None
            for attention in model.attention_maps(batch):
                a = attention.float().mean(1)
                a = a + torch.eye(a.shape[-1], device=device)
                a = a / a.sum(-1, keepdim=True)
                rollout = a if rollout is None else a @ rollout
            out.append(rollout.mean(1).cpu().numpy().astype(np.float32))
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out)


def token_to_base_attributions(
    attributions: np.ndarray, spans: np.ndarray, length: int
) -> np.ndarray:
    """Spread per-token attributions over the bases each token covers (sum preserved).

    Token t covering bases [spans[t, 0], spans[t, 1]) gives each of them
    ``attribution[:, t] / (end - start)``; a base covered by several (overlapping) tokens sums
    their shares. One matrix product (N, T) @ (T, L).

    Args:
        attributions: float (N, T) per-token values (:func:`integrated_gradients`).
        spans: int (T, 2) 0-based half-open bp spans (``KmerTransformer.token_spans()``).
        length: window length L (bp).

    Returns:
        float32 (N, L).

    Raises:
        ValueError: spans not (T, 2) matching the attributions, or outside [0, length].
    """
    spans = np.asarray(spans, dtype=np.int64)
    if spans.ndim != 2 or spans.shape != (attributions.shape[1], 2):
        raise ValueError(f"spans must be ({attributions.shape[1]}, 2), got {spans.shape}")
    empty = spans[:, 1] <= spans[:, 0]
    if (spans[:, 0] < 0).any() or (spans[:, 1] > length).any() or empty.any():
        raise ValueError(f"token spans must lie inside [0, {length}) and be non-empty")
    positions = np.arange(length)
    covers = (positions[None, :] >= spans[:, :1]) & (positions[None, :] < spans[:, 1:])
    spread = covers / (spans[:, 1:] - spans[:, :1])
    return (np.asarray(attributions, dtype=np.float64) @ spread).astype(np.float32)


def top_kmer_attributions(
    tokens: np.ndarray,
    attributions: np.ndarray,
    k: int,
    top: int,
    first_id: int,
    min_count: int = 3,
) -> list[dict]:
    """The k-mers with the largest and the smallest mean attribution per occurrence.

    Tokens ``first_id .. first_id + 4**k - 1`` are the ACGT k-mers (2-bit codes, big-endian, as
    :func:`genomelearn.encoding.kmer_strings` decodes them); every other id (padding, N-holding
    k-mers) is left out.

    Args:
        tokens: int (N, T) token ids of the attributed windows.
        attributions: float (N, T) per-token attributions, same shape (positive = towards class 1,
            introgressed).
        k: k-mer length of a token.
        top: k-mers listed per direction.
        first_id: id of the k-mer ``A...A`` (1 for :class:`genomelearn.models.sequence.KmerBiLSTM`
            tokens, 0 for :class:`genomelearn.models.transformer.KmerTransformer`).
        min_count: k-mers seen fewer times are left out (their mean is noise).

    Returns:
        up to ``2 * top`` dicts: kmer, k, score (mean attribution), direction ("introgressed" for
        the ``top`` largest, then "desert" for the ``top`` smallest), n_occurrences.

    Raises:
        ValueError: tokens and attributions differ in shape.
    """
    from genomelearn.encoding import kmer_strings

    if np.shape(tokens) != np.shape(attributions):
        raise ValueError(
            f"tokens {np.shape(tokens)} and attributions {np.shape(attributions)} differ in shape"
        )
    ids, mean_attr, count = aggregate_by_token(tokens, attributions, min_count=min_count)
    valid = (ids >= first_id) & (ids < first_id + 4**k)
    ids, mean_attr, count = ids[valid], mean_attr[valid], count[valid]
    rows = []
    for direction, order in (
        ("introgressed", np.argsort(-mean_attr, kind="stable")[:top]),
        ("desert", np.argsort(mean_attr, kind="stable")[:top]),
    ):
        for kmer, value, n in zip(
            kmer_strings(ids[order] - first_id, k), mean_attr[order], count[order]
        ):
            rows.append(
                {
                    "kmer": kmer,
                    "k": k,
                    "score": float(value),
                    "direction": direction,
                    "n_occurrences": int(n),
                }
            )
    return rows


def transformer_attributions(
    model, one_hot: np.ndarray, steps: int = 32, batch_size: int = 1024
) -> dict[str, np.ndarray]:
    """Integrated gradients and attention rollout of a KmerTransformer, per token and per base.

    Runs :func:`integrated_gradients` (zero-embedding baseline, ``steps`` midpoint steps) and
    :func:`attention_rollout` on CPU, and spreads both over the bases of each token with
    :func:`token_to_base_attributions` (sums preserved), so that models of different k and stride
    share one position axis.

    Args:
        model: :class:`genomelearn.models.transformer.KmerTransformer` (put in eval mode here).
        one_hot: uint8 (N, L, 4) one-hot windows (L = ``model.length``).
        steps: integrated-gradients interpolation steps (>= 1).
        batch_size: interpolated windows per pass (memory bound).

    Returns:
        dict of ``tokens`` int64 (N, T) token ids (0..4**k - 1 ACGT k-mers, 4**k N-holding),
        ``token_ig`` float32 (N, T), ``base_ig`` float32 (N, L) (signed, towards class 1),
        ``base_rollout`` float32 (N, L) (each row sums to 1).

    Raises:
        ValueError: no windows, windows of another length than the model's, steps < 1.
    """
    one_hot = np.asarray(one_hot)
    if one_hot.ndim != 3 or one_hot.shape[1] != model.length:
        raise ValueError(
            f"expected one-hot windows (N, {model.length}, 4), got {tuple(one_hot.shape)}"
        )
    if len(one_hot) == 0:
        raise ValueError("no windows to attribute")
    model.eval()
    with torch.no_grad():
        tokens = model.tokens(torch.as_tensor(one_hot)).numpy()
    token_ig = integrated_gradients(model, one_hot, steps=steps, batch_size=batch_size)
    rollout = attention_rollout(model, one_hot)
    spans = model.token_spans().numpy()
    return {
        "tokens": tokens,
        "token_ig": token_ig,
        "base_ig": token_to_base_attributions(token_ig, spans, model.length),
        "base_rollout": token_to_base_attributions(rollout, spans, model.length),
    }
