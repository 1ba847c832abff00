"""Train one torch model on one split with the shared loop; predict every window (rule introgression_train_deep).

Resumable: a checkpoint is written every epoch and on SIGTERM/SIGUSR1; rerunning the rule resumes.
"""

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from genomelearn.introgression.deep import build_deep_model, model_input
from genomelearn.introgression.io import predictions_frame, read_split
from genomelearn.training import ArraySource, TrainConfig, fit, predict, seed_everything
from genomelearn.workflow import get_logger, run_script


def _fingerprint(smk) -> str:
    parts = [json.dumps({"arch": smk.params.architecture, "train": smk.params.training, "k": smk.params.token_k}, sort_keys=True)]
    for path in smk.input:
        with open(path, "rb") as fh:
            parts.append(hashlib.sha256(fh.read(1 << 20)).hexdigest())
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def main(smk):
    log = get_logger()
    name = smk.wildcards.model
    windows = pd.read_parquet(smk.input.windows, columns=["label"])
    labels = windows["label"].to_numpy().astype(np.int64)
    split = read_split(smk.input.split, len(windows))
    one_hot = np.load(smk.input.one_hot, mmap_mode="r") if name == "cnn" else None
    tokens = np.load(smk.input.tokens) if name == "bilstm" else None
    counts = sp.load_npz(smk.input.counts).tocsr() if name == "kmer_mlp" else None
    x = model_input(name, one_hot, tokens, counts)
    config = TrainConfig.from_dict(smk.params.training)
    seed_everything(config.seed)
    n_features = counts.shape[1] if counts is not None else 0
    window_length = one_hot.shape[1] if one_hot is not None else 0
    model = build_deep_model(name, smk.params.architecture, window_length, smk.params.token_k, n_features)
    train, val = np.flatnonzero(split == "train"), np.flatnonzero(split == "validation")
    x_arr = np.asarray(x) if not sp.issparse(x) else x
    result = fit(
        model,
        ArraySource([x_arr[train]], labels[train]),
        ArraySource([x_arr[val]], labels[val]),
        config=config,
        checkpoint_dir=smk.params.checkpoint_dir,
        log=log.info,
        fingerprint=_fingerprint(smk),
    )
    log.info("best epoch %d on %s; resumed from %s", result.best_epoch, result.device, result.resumed_from_epoch)
    score = predict(model, ArraySource([x_arr]), batch_size=2048)[:, 1]
    predictions_frame(split, labels, score).to_parquet(smk.output.predictions, index=False)
    torch.save({"state_dict": model.state_dict(), "architecture": smk.params.architecture, "model": name}, smk.output.model)
    history = result.history.assign(best_epoch=result.best_epoch, device=result.device, resumed_from_epoch=result.resumed_from_epoch)
    history.to_csv(smk.output.history, sep="\t", index=False)
    shutil.rmtree(smk.params.checkpoint_dir, ignore_errors=True)


run_script(main, snakemake)  # noqa: F821
