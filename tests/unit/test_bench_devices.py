"""Smoke test of benchmarks/bench_devices.py: every torch model trains through the workflow's
functions and gets a rate (the numbers themselves are benchmark output, never asserted)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def test_bench_devices_runs_every_model_small(tmp_path):
    out = tmp_path / "table.tsv"
    cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "bench_devices.py"),
        "--windows",
        "256",
        "--cells",
        "400",
        "--epochs",
        "1",
        "--cpu-threads",
        "1",
        "--adna-results",
        str(tmp_path / "no_results"),
        "--tsv",
        str(out),
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(out, sep="\t")
    trained = table.dropna(subset=["cpu_rate"])
    assert set(trained["model"]) == {
        "introgression cnn",
        "introgression bilstm",
        "introgression transformer",
        "single-cell autoencoder",
        "single-cell multimodal_autoencoder",
    }
    assert (trained["cpu_rate"] > 0).all() and trained["cpu_final_val_loss"].notna().all()
    # without read tables the ancient DNA row says so instead of inventing a number
    adna = table[table["model"] == "ancient DNA read CNNs"]
    assert len(adna) == 1 and "not measured" in adna["setup"].iloc[0]
    assert (
        "| introgression cnn |" in proc.stdout and "| introgression transformer |" in proc.stdout
    )
