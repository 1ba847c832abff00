"""Run the workflow in a scratch directory with a test config (default config/config.yaml not merged)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_snakemake(
    workdir: Path, configfile: Path, *args: str, timeout: int = 900
) -> subprocess.CompletedProcess:
    """``snakemake -s <repo>/Snakefile --directory workdir --configfile configfile --cores 2 *args``."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
