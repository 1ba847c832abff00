"""Shared pytest fixtures: repository paths, the real-data mirror, small synthetic FASTA/BED files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_MIRROR = Path(os.environ.get("GENOMELEARN_DATA_MIRROR", REPO.parent / "shared" / "data"))


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    if not DATA_MIRROR.is_dir():
        pytest.skip(f"real-data mirror not found at {DATA_MIRROR}")
    return DATA_MIRROR


@pytest.fixture
def small_fasta(tmp_path) -> Path:
    """A 2-contig indexed FASTA (chr1: 5,000 bp random ACGT with an N run at 1,000-1,100; chr2: 3,000 bp)."""
    import pysam

    rng = np.random.default_rng(1)
    seq1 = np.array(list("ACGT"))[rng.integers(0, 4, 5000)]
    seq1[1000:1100] = "N"
    seq2 = np.array(list("acgt"))[rng.integers(0, 4, 3000)]
    path = tmp_path / "ref.fa"
    with open(path, "w") as fh:
        for name, seq in (("chr1", seq1), ("chr2", seq2)):
            s = "".join(seq)
            fh.write(f">{name}\n" + "\n".join(s[i : i + 60] for i in range(0, len(s), 60)) + "\n")
    pysam.faidx(str(path))
    return path
