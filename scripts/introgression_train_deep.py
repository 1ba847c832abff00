"""Train one torch model on one fold (or the random split) with one seed, with the shared loop;
score every window (rule introgression_train_deep).

Class-balanced cross-entropy (class weights n / (2 n_class) of the training windows); early
stopping on the fold's validation blocks, whose balanced accuracy also sets the decision threshold.
For the ``support`` label definition the model's logit difference is fitted to the standardised
support by mean squared error. Resumable: a checkpoint is written every epoch and on
SIGTERM/SIGUSR1; rerunning the rule resumes (only from a checkpoint of the same inputs and settings).
"""

import shutil

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from genomelearn.introgression.cv import balanced_threshold
from genomelearn.introgression.deep import build_deep_model, model_input, training_fingerprint
from genomelearn.introgression.io import predictions_frame, read_split
from genomelearn.training import (
    ArraySource,
    TrainConfig,
    fit,
    predict,
    seed_everything,
)
from genomelearn.workflow import get_logger, run_script


def weighted_classification_loss(class_weight: torch.Tensor):
    """Cross-entropy with per-class weights (class balance)."""

    def loss(model, batch):
        logits = model(*batch[:-1])
        return torch.nn.functional.cross_entropy(
            logits.float(), batch[-1], weight=class_weight.to(logits.device)
        )

    return loss


def regression_loss(model, batch):
    """MSE between the logit difference (class 1 - class 0) and a float target."""
    logits = model(*batch[:-1]).float()
    return torch.nn.functional.mse_loss(logits[:, 1] - logits[:, 0], batch[-1])


def main(smk):
    log = get_logger()
    name = smk.wildcards.model
    regression = smk.wildcards.labels == "support"
    windows = pd.read_parquet(smk.input.windows)
    split = read_split(smk.input.split, len(windows))
    # every encoding is offered (one-hot memory-mapped, so unread pages cost nothing); the model's
    # own model_input picks the one it reads, so a newly registered model plugs in by name
    one_hot = np.load(smk.input.one_hot, mmap_mode="r")
    tokens = np.load(smk.input.tokens)
    counts = sp.load_npz(smk.input.counts).tocsr()
    x = model_input(name, one_hot, tokens, counts)
    settings = dict(smk.params.training, seed=int(smk.wildcards.seed))
    config = TrainConfig.from_dict(settings)
    seed_everything(config.seed)
    n_features, window_length = counts.shape[1], one_hot.shape[1]
    model = build_deep_model(
        name, smk.params.architecture, window_length, smk.params.token_k, n_features
    )
    train, val = np.flatnonzero(split == "train"), np.flatnonzero(split == "validation")
    x_arr = np.asarray(x) if not sp.issparse(x) else x
    if regression:
        support = windows["support"].to_numpy().astype(np.float64)
        mean, sd = support[train].mean(), max(support[train].std(), 1e-6)
        target, target_out = ((support - mean) / sd).astype(np.float32), support
        loss_fn = regression_loss
    else:
        target = target_out = windows["label"].to_numpy().astype(np.int64)
        n_class = np.bincount(target[train], minlength=2).astype(np.float64)
        weight = torch.tensor(len(train) / (2 * np.maximum(n_class, 1)), dtype=torch.float32)
        log.info(
            "class weights %s (training windows per class %s)", weight.tolist(), n_class.tolist()
        )
        loss_fn = weighted_classification_loss(weight)
    fingerprint = training_fingerprint(
        list(smk.input), name, smk.params.architecture, settings, smk.params.token_k, regression
    )
    result = fit(
        model,
        ArraySource([x_arr[train]], target[train]),
        ArraySource([x_arr[val]], target[val]),
        loss_fn=loss_fn,
        config=config,
        checkpoint_dir=smk.params.checkpoint_dir,
        log=log.info,
        fingerprint=fingerprint,
    )
    log.info(
        "best epoch %d on %s; resumed from %s",
        result.best_epoch,
        result.device,
        result.resumed_from_epoch,
    )
    logits = predict(model, ArraySource([x_arr]), batch_size=2048, softmax=not regression)
    if regression:
        score = (logits[:, 1] - logits[:, 0]) * sd + mean  # predicted support
        threshold = np.nan
    else:
        score = logits[:, 1]
        threshold = balanced_threshold(target[val], score[val])
    predictions_frame(split, target_out, score).assign(threshold=threshold).to_parquet(
        smk.output.predictions, index=False
    )
    torch.save(
        {"state_dict": model.state_dict(), "architecture": smk.params.architecture, "model": name},
        smk.output.model,
    )
    history = result.history.assign(
        best_epoch=result.best_epoch,
        device=result.device,
        resumed_from_epoch=result.resumed_from_epoch,
    )
    history.to_csv(smk.output.history, sep="\t", index=False)
    shutil.rmtree(smk.params.checkpoint_dir, ignore_errors=True)


run_script(main, snakemake)  # noqa: F821
