"""Fit one scikit-learn model on one fold (or the random split) with one seed; score every window
(rule introgression_train_classical).

Trained on the fold's ``train`` windows (class-balanced); the decision threshold maximises balanced
accuracy on its ``validation`` windows. The ``support`` label definition is fitted as a regression
of the number of maps calling each window.
"""

import time

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp

from genomelearn.introgression.classical import classical_features, classical_score, make_classical
from genomelearn.introgression.cv import balanced_threshold
from genomelearn.introgression.io import predictions_frame, read_split
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    name, seed = smk.wildcards.model, int(smk.wildcards.seed)
    regression = smk.wildcards.labels == "support"
    task = "regression" if regression else "classification"
    windows = pd.read_parquet(smk.input.windows)
    target = windows["support" if regression else "label"].to_numpy()
    split = read_split(smk.input.split, len(windows))
    counts = sp.load_npz(smk.input.counts).tocsr()
    features = classical_features(name, windows["gc"].to_numpy(), counts)
    train, val = split == "train", split == "validation"
    model = make_classical(name, seed=seed, threads=smk.threads, task=task, **smk.params.settings)
    start = time.perf_counter()
    model.fit(features[train], target[train])
    log.info(
        "%s (%s) on %s, seed %d: fitted %d windows in %.1f s",
        name,
        task,
        smk.wildcards.split,
        seed,
        train.sum(),
        time.perf_counter() - start,
    )
    score = classical_score(model, features, task)
    threshold = np.nan if regression else balanced_threshold(target[val], score[val])
    predictions_frame(split, target, score).assign(threshold=threshold).to_parquet(
        smk.output.predictions, index=False
    )
    joblib.dump(model, smk.output.model)


run_script(main, snakemake)  # noqa: F821
