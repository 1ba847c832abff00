"""Fit one scikit-learn model on one split and predict every window (rule introgression_train_classical)."""

import time

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp

from genomelearn.introgression.classical import classical_features, make_classical
from genomelearn.introgression.io import predictions_frame, read_split
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    name = smk.wildcards.model
    windows = pd.read_parquet(smk.input.windows, columns=["label", "gc"])
    labels = windows["label"].to_numpy()
    split = read_split(smk.input.split, len(windows))
    counts = sp.load_npz(smk.input.counts).tocsr()
    features = classical_features(name, windows["gc"].to_numpy(), counts)
    train = split == "train"
    model = make_classical(name, seed=smk.params.seed, threads=smk.threads, **smk.params.settings)
    start = time.perf_counter()
    model.fit(features[train], labels[train])
    log.info("%s on %s split: fitted %d windows in %.1f s", name, smk.wildcards.split, train.sum(), time.perf_counter() - start)
    score = model.predict_proba(features)[:, 1]
    predictions_frame(split, labels, score).to_parquet(smk.output.predictions, index=False)
    joblib.dump(model, smk.output.model)


run_script(main, snakemake)  # noqa: F821
