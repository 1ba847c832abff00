"""Autoencoders for single-cell embeddings (PyTorch).

* :class:`Autoencoder`: one omic → bottleneck → reconstruction. With the default three hidden layers
  it is the 8-layer (4 encoder + 4 decoder linear layers) fully connected network of the course
  (N. Oskolkov, "Deep learning for single-cell biology"; cf. Keras ``Dense`` stacks with ELU).
* :class:`MultimodalAutoencoder`: one encoder per omic, their top hidden layers concatenated into a
  joint bottleneck, one decoder per omic from that bottleneck (the usual multi-modal autoencoder
  design, e.g. Zuo & Chen 2021 scMVAE without the variational part).

Missing values (methylation sites without reads, NaN in the input) are handled by a mask: the
encoder sees a neutral value at a missing entry (``0`` after centring), and the reconstruction loss
is averaged over observed entries only — nothing is imputed as 0 = "unmethylated".

Likelihoods: ``"gaussian"`` (mean-squared error on log-normalised or scaled expression) or
``"bernoulli"`` (binary cross-entropy on methylation rates / binarised accessibility in [0, 1];
the decoder then outputs logits).

* :class:`CountAutoencoder`: raw UMI counts. The encoder reads log-normalised expression; the
  decoder gives each gene's share of the cell's transcripts (softmax), scaled by the cell's observed
  library size to the negative-binomial mean, with one inverse dispersion per gene — the
  likelihood of scVI (Lopez et al. 2018, Nat Methods 15:1053; deterministic encoder, no KL term)
  and DCA (Eraslan et al. 2019, Nat Commun 10:390). ``"zinb"`` adds a per-gene, per-cell dropout
  probability (zero-inflated NB).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

LIKELIHOODS = ("gaussian", "bernoulli")
COUNT_LIKELIHOODS = ("nb", "zinb")


def _mlp(sizes: Sequence[int], dropout: float, last_activation: bool) -> nn.Sequential:
    """Linear layers between consecutive ``sizes`` with ELU (+ dropout) after each but maybe the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ELU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _prepare_input(x: torch.Tensor, mask: torch.Tensor | None, likelihood: str) -> torch.Tensor:
    """Encoder input: bernoulli values are centred (x - 0.5); missing entries (mask 0) become 0."""
    if likelihood == "bernoulli":
        x = x - 0.5
    if mask is not None:
        x = x * mask
    return x


def masked_reconstruction_loss(
    output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, likelihood: str
) -> torch.Tensor:
    """Mean reconstruction loss over observed entries.

    Args:
        output: (B, F) decoder output (mean for gaussian, logits for bernoulli).
        target: (B, F) float32 input values (missing entries hold any finite value, e.g. 0).
        mask: (B, F) float32 1 = observed, 0 = missing; None = all observed.
        likelihood: ``"gaussian"`` (squared error) or ``"bernoulli"`` (binary cross-entropy with
            logits; targets in [0, 1]).

    Returns:
        Scalar tensor: sum of per-entry losses over observed entries / number of observed entries.
    """
    output = output.float()
    if likelihood == "gaussian":
        per_entry = (output - target) ** 2
    elif likelihood == "bernoulli":
        per_entry = nn.functional.binary_cross_entropy_with_logits(
            output, target, reduction="none"
        )
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}; expected one of {LIKELIHOODS}")
    if mask is None:
        return per_entry.mean()
    return (per_entry * mask).sum() / mask.sum().clamp_min(1.0)


class Autoencoder(nn.Module):
    """Fully connected autoencoder for one omic.

    Architecture: ``n_features → hidden[0] → … → hidden[-1] → bottleneck`` (encoder, ELU between
    layers, linear bottleneck) and the mirror image back to ``n_features`` (decoder, linear output).
    ``hidden=(256, 128, 64)`` gives 8 linear layers.

    Args:
        n_features: input width F.
        hidden: widths of the encoder's hidden layers (decoder mirrors them).
        bottleneck: embedding width D.
        dropout: dropout after each hidden activation (0 = none).
        likelihood: ``"gaussian"`` or ``"bernoulli"`` (see module docstring).

    Inputs are float32 tensors (B, F) and an optional mask (B, F) (1 observed, 0 missing).
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (256, 128, 64),
        bottleneck: int = 10,
        dropout: float = 0.0,
        likelihood: str = "gaussian",
    ):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; expected one of {LIKELIHOODS}")
        if n_features < 1 or bottleneck < 1:
            raise ValueError(
                f"n_features ({n_features}) and bottleneck ({bottleneck}) must be >= 1"
            )
        self.n_features = int(n_features)
        self.bottleneck = int(bottleneck)
        self.likelihood = likelihood
        sizes = [self.n_features, *[int(h) for h in hidden], self.bottleneck]
        self.encoder = _mlp(sizes, dropout, last_activation=False)
        self.decoder = _mlp(sizes[::-1], dropout, last_activation=False)

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, F) input (+ mask) → (B, D) bottleneck."""
        return self.encoder(_prepare_input(x, mask, self.likelihood))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, F) input (+ mask) → (B, F) reconstruction (mean, or logits for bernoulli)."""
        return self.decoder(self.encode(x, mask))

    def loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Masked mean reconstruction loss of a batch (scalar)."""
        return masked_reconstruction_loss(self(x, mask), x, mask, self.likelihood)


class MultimodalAutoencoder(nn.Module):
    """One encoder per omic into a joint bottleneck, one decoder per omic.

    Encoder of omic m: ``F_m → hidden[0] → … → hidden[-1]`` (ELU). The top hidden layers of all
    omics are concatenated and mapped linearly to the joint bottleneck D. Decoder of omic m:
    ``D → hidden[-1] → … → hidden[0] → F_m``.

    Args:
        n_features: input width of each omic, in a fixed omic order.
        likelihoods: ``"gaussian"`` / ``"bernoulli"`` per omic (same order).
        hidden: encoder hidden widths (shared by all omics).
        bottleneck: joint embedding width D.
        dropout: dropout after hidden activations.

    ``forward(x_1, mask_1, …, x_M, mask_M)`` takes each omic's (B, F_m) float32 values and (B, F_m)
    mask (1 observed, 0 missing); it returns the list of reconstructions.
    """

    def __init__(
        self,
        n_features: Sequence[int],
        likelihoods: Sequence[str],
        hidden: Sequence[int] = (256, 128, 64),
        bottleneck: int = 10,
        dropout: float = 0.0,
    ):
        super().__init__()
        if len(n_features) != len(likelihoods) or len(n_features) < 1:
            raise ValueError("n_features and likelihoods must be non-empty and of the same length")
        for lik in likelihoods:
            if lik not in LIKELIHOODS:
                raise ValueError(f"unknown likelihood {lik!r}; expected one of {LIKELIHOODS}")
        hidden = [int(h) for h in hidden]
        if not hidden:
            raise ValueError("the multimodal autoencoder needs at least one hidden layer per omic")
        self.likelihoods = list(likelihoods)
        self.n_features = [int(f) for f in n_features]
        self.bottleneck = int(bottleneck)
        self.encoders = nn.ModuleList(
            _mlp([f, *hidden], dropout, last_activation=True) for f in self.n_features
        )
        self.joint = nn.Linear(hidden[-1] * len(self.n_features), self.bottleneck)
        self.decoders = nn.ModuleList(
            _mlp([self.bottleneck, *hidden[::-1], f], dropout, last_activation=False)
            for f in self.n_features
        )

    def _split(self, tensors: Sequence[torch.Tensor]):
        if len(tensors) != 2 * len(self.n_features):
            raise ValueError(
                f"expected {2 * len(self.n_features)} tensors (value, mask per omic), got {len(tensors)}"
            )
        return tensors[0::2], tensors[1::2]

    def encode(self, *tensors: torch.Tensor) -> torch.Tensor:
        """(x_1, mask_1, …) → (B, D) joint bottleneck."""
        xs, masks = self._split(tensors)
        hs = [
            enc(_prepare_input(x, m, lik))
            for enc, x, m, lik in zip(self.encoders, xs, masks, self.likelihoods)
        ]
        return self.joint(torch.cat(hs, dim=1))

    def forward(self, *tensors: torch.Tensor) -> list[torch.Tensor]:
        """(x_1, mask_1, …) → [reconstruction_1, …] (means, or logits for bernoulli omics)."""
        z = self.encode(*tensors)
        return [dec(z) for dec in self.decoders]

    def loss(self, *tensors: torch.Tensor) -> torch.Tensor:
        """Sum over omics of each omic's masked mean reconstruction loss (each omic weighs equally)."""
        xs, masks = self._split(tensors)
        outputs = self(*tensors)
        return sum(
            masked_reconstruction_loss(o, x, m, lik)
            for o, x, m, lik in zip(outputs, xs, masks, self.likelihoods)
        )


def negative_binomial_nll(
    counts: torch.Tensor,
    mean: torch.Tensor,
    theta: torch.Tensor,
    dropout_logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-entry negative log-likelihood of counts under a (zero-inflated) negative binomial.

    NB(x; mu, theta) = Γ(x+θ)/(Γ(θ) x!) (θ/(θ+mu))^θ (mu/(θ+mu))^x (mean mu, inverse dispersion θ;
    the parametrisation of scVI's ``NegativeBinomial`` / DCA). With ``dropout_logits`` (logit of the
    zero-inflation probability π): P(0) = π + (1-π) NB(0), P(x>0) = (1-π) NB(x).

    Args:
        counts: (B, F) float32 non-negative counts.
        mean: (B, F) positive NB means.
        theta: (F,) or (B, F) positive inverse dispersions.
        dropout_logits: (B, F) logits of π, or None (plain NB).

    Returns:
        (B, F) float32 negative log-likelihoods.
    """
    eps = 1e-8
    theta = theta.expand_as(mean)
    log_theta_mu = torch.log(theta + mean + eps)
    nb_log = (
        theta * (torch.log(theta + eps) - log_theta_mu)
        + counts * (torch.log(mean + eps) - log_theta_mu)
        + torch.lgamma(counts + theta)
        - torch.lgamma(theta)
        - torch.lgamma(counts + 1.0)
    )
    if dropout_logits is None:
        return -nb_log
    # log(pi + (1 - pi) NB(0)) and log((1 - pi) NB(x)) in a numerically stable form (scVI's)
    softplus_pi = nn.functional.softplus(-dropout_logits)
    nb_zero = theta * (torch.log(theta + eps) - log_theta_mu)
    zero_case = nn.functional.softplus(-dropout_logits + nb_zero) - softplus_pi
    nonzero_case = -dropout_logits - softplus_pi + nb_log
    return -torch.where(counts < eps, zero_case, nonzero_case)


class CountAutoencoder(nn.Module):
    """Autoencoder of raw counts with a (zero-inflated) negative-binomial likelihood.

    Encoder: log-normalised expression ``F → hidden… → bottleneck`` (ELU, linear bottleneck).
    Decoder: ``bottleneck → …hidden → F`` logits; ``softmax × library size`` = NB mean (library =
    the cell's total counts over the modelled genes, as scVI's observed library); inverse
    dispersion ``exp(log_theta)``, one per gene (scVI ``dispersion="gene"``). ``zero_inflated``
    adds a linear head from the last decoder hidden layer giving the dropout logits.

    Args:
        n_features: genes F.
        hidden, bottleneck, dropout: as :class:`Autoencoder`.
        zero_inflated: ZINB instead of NB.

    Batches are ``(x, counts)``: (B, F) float32 log-normalised values and (B, F) float32 raw counts.
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (256, 128, 64),
        bottleneck: int = 10,
        dropout: float = 0.0,
        zero_inflated: bool = False,
    ):
        super().__init__()
        if n_features < 1 or bottleneck < 1:
            raise ValueError(
                f"n_features ({n_features}) and bottleneck ({bottleneck}) must be >= 1"
            )
        self.n_features = int(n_features)
        self.bottleneck = int(bottleneck)
        self.likelihood = "zinb" if zero_inflated else "nb"
        sizes = [self.n_features, *[int(h) for h in hidden], self.bottleneck]
        self.encoder = _mlp(sizes, dropout, last_activation=False)
        back = sizes[::-1]
        self.decoder_hidden = (
            _mlp(back[:-1], dropout, last_activation=True) if len(back) > 2 else nn.Identity()
        )
        self.scale = nn.Linear(back[-2], self.n_features)
        self.dropout_head = nn.Linear(back[-2], self.n_features) if zero_inflated else None
        self.log_theta = nn.Parameter(torch.zeros(self.n_features))

    def encode(self, x: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
        """(B, F) log-normalised input → (B, D) bottleneck (``counts`` is ignored)."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor, counts: torch.Tensor) -> tuple:
        """→ (NB mean (B, F), theta (F,), dropout logits (B, F) or None)."""
        h = self.decoder_hidden(self.encode(x))
        library = counts.sum(dim=1, keepdim=True)
        mean = torch.softmax(self.scale(h), dim=1) * library
        logits = self.dropout_head(h) if self.dropout_head is not None else None
        return mean, torch.exp(self.log_theta), logits

    def loss(self, x: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Mean per-entry (ZI)NB negative log-likelihood of the batch's counts (scalar)."""
        mean, theta, logits = self(x, counts)
        return negative_binomial_nll(counts, mean, theta, logits).mean()


def autoencoder_loss(model: nn.Module, batch: tuple) -> torch.Tensor:
    """Loss function for :func:`genomelearn.training.fit`: ``model.loss(*batch)``."""
    return model.loss(*batch)


class EncoderView(nn.Module):
    """Wraps an (multimodal) autoencoder so that ``forward`` returns the bottleneck (for ``predict``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model.encode(*tensors)
