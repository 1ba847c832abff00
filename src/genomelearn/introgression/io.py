"""Reading the intermediate files of the introgression workflow."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genomelearn.errors import InputError


def read_split(path, n_windows: int) -> np.ndarray:
    """Split name per window (object (n_windows,)) from a split TSV (window, split).

    Raises:
        InputError: if the file does not cover exactly windows 0..n_windows-1.
    """
    table = pd.read_csv(path, sep="\t")
    if (
        list(table.columns) != ["window", "split"]
        or len(table) != n_windows
        or not (table["window"].to_numpy() == np.arange(n_windows)).all()
    ):
        raise InputError(
            f"{path}: split file does not match the {n_windows} windows (columns window, split expected)"
        )
    return table["split"].to_numpy(dtype=object)


def predictions_frame(split: np.ndarray, labels: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """Per-window predictions: window, split, label, score (P(introgressed), float32)."""
    return pd.DataFrame(
        {
            "window": np.arange(len(split)),
            "split": split,
            "label": labels.astype(np.int8),
            "score": score.astype(np.float32),
        }
    )
