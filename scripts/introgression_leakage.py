"""Leakage audit of each split (rule introgression_leakage)."""

import numpy as np
import pandas as pd

from genomelearn.encoding import to_codes
from genomelearn.introgression.splits import distance_to_nearest, shared_kmer_fraction
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    windows = pd.read_parquet(smk.input.windows)
    codes = to_codes(windows["sequence"].to_numpy().astype("S"))
    p = smk.params.leakage
    rows = []
    for name, path in zip(smk.params.split_names, smk.input.splits):
        split = pd.read_csv(path, sep="\t")["split"].to_numpy()
        train, test = split == "train", split == "test"
        distance = distance_to_nearest(windows, train)[test]
        row = {
            "split": name,
            "n_train": int(train.sum()),
            "n_test": int(test.sum()),
            "n_buffer": int((split == "buffer").sum()),
            "n_unused": int((split == "unused").sum()),
            "test_blocks_shared_with_train": int(
                len(set(windows.loc[test, "block"]) & set(windows.loc[train, "block"]))
            ),
            f"share_test_within_{p['distance_bp']}bp_of_train": float(
                np.mean(distance < p["distance_bp"])
            ),
            "median_test_distance_to_train_bp": float(np.median(distance)),
        }
        for k in p["shared_kmer_lengths"]:
            row[f"share_test_sharing_{k}mer_with_train"] = float(
                np.mean(shared_kmer_fraction(codes[test], codes[train], k))
            )
        rows.append(row)
        log.info("%s", row)
    pd.DataFrame(rows).to_csv(smk.output.leakage, sep="\t", index=False)


run_script(main, snakemake)  # noqa: F821
