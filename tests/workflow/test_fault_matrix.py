"""The fault matrix of issue 11 with real Snakemake runs on tiny configs (the rest of the bad-input
matrix runs at engine level in tests/unit/test_bad_inputs.py and tests/unit/test_checkpoints.py).

Each case asserts the message, the exit code, that no partial output is left, and that a rerun
after the fix succeeds without manual cleanup:

* config errors stop Snakemake before any job, in a few lines (typo, unsafe dataset name ``..``,
  a single-cell dataset of 5 cells);
* a configured contig that the mask does not cover fails its job, naming contig, mask and BEDs;
* faults while the CNN of tests/workflow/configs/cluster_tiny.yaml trains: a second run at once
  (refused by Snakemake's lock), ``kill -9`` of the training job, ``kill -9`` of Snakemake itself
  (the one case that needs a command before the rerun: ``snakemake --unlock``, which Snakemake's
  message names), and a kill followed by a change of settings or of input content (never resumed).
The exact resume after SIGTERM / SIGUSR1 is tested in tests/workflow/test_preemption.py and after
``kill -9`` bit for bit in tests/unit/test_checkpoints.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.slurm.cluster import (
    CHECKPOINT,
    CONFIG,
    HISTORY,
    PREDICTIONS,
    SNAKEFILE,
    TRAIN_LOG,
    TRAIN_RULE,
    epoch_checkpointed,
    mtime_ns,
    run,
    start,
    stop_tree,
    tail,
    training_pids,
    wait_for,
)

pytestmark = pytest.mark.workflow
# the workflow profile (profiles/default: rerun-incomplete) as a user runs it; one torch thread
ARGS = ("--cores", "2", "--set-threads", f"{TRAIN_RULE}=1")


def _cmd(workdir: Path, configfile: Path, *args: str, targets=(PREDICTIONS,)) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir), *targets,
        "--configfile", str(configfile), *ARGS, *args,
    ]  # fmt: skip


def _snakemake(
    workdir: Path, configfile: Path, *args: str, targets=(PREDICTIONS,)
) -> subprocess.CompletedProcess:
    return subprocess.run(
        _cmd(workdir, configfile, *args, targets=targets),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _tiny(tmp_path: Path, name: str, edit) -> Path:
    cfg = yaml.safe_load(CONFIG.read_text())
    edit(cfg)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# ------------------------------------------------------------------------- errors before any job
def _typo(cfg):
    cfg["introgression"]["windows"]["max_windows_per_clas"] = cfg["introgression"]["windows"].pop(
        "max_windows_per_class"
    )


def _dotdot(cfg):
    cfg["introgression"]["datasets"][".."] = cfg["introgression"]["datasets"].pop("tiny")


def _singlecell(n_cells):
    def edit(cfg):
        cfg["introgression"]["enabled"] = False
        root = Path(os.environ["FAULT_MATRIX_TMP"])
        values = np.random.default_rng(0).normal(size=(n_cells, 5)).round(3)
        pd.DataFrame(
            values, index=[f"c{i}" for i in range(n_cells)], columns=[f"g{j}" for j in range(5)]
        ).to_csv(root / f"cells{n_cells}.csv")
        cfg["singlecell"] = {
            "enabled": True,
            "n_neighbors": 15,
            "datasets": {"small": {"omics": {"rna": {"path": str(root / f"cells{n_cells}.csv")}}}},
        }

    return edit


DAG_CASES = [
    (
        "config-typo",
        _typo,
        None,
        "introgression.windows: unknown key 'max_windows_per_clas' (did you mean 'max_windows_per_class'?)",
    ),
    (
        "dataset-name-dotdot",
        _dotdot,
        None,
        "introgression.datasets: name '..' is not allowed: names must match ^[A-Za-z0-9][A-Za-z0-9_-]*$",
    ),
    (
        "singlecell-5-cells",
        _singlecell(5),
        _singlecell(60),
        "dataset small: 5 cell(s) (rna: 5), fewer than the 45 needed for n_neighbors 15",
    ),
]


@pytest.mark.parametrize("name, breaks, fixes, message", DAG_CASES, ids=[c[0] for c in DAG_CASES])
def test_error_before_any_job(tmp_path, monkeypatch, name, breaks, fixes, message):
    monkeypatch.setenv("FAULT_MATRIX_TMP", str(tmp_path))
    workdir = tmp_path / "run"
    proc = _snakemake(workdir, _tiny(tmp_path, "bad", breaks), "-n", targets=())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert message in out, out
    # one screen: the message, Snakemake's "WorkflowError in file ..." line and a short traceback
    assert len(out.strip().splitlines()) <= 15, out
    assert not (workdir / "results").exists()
    fixed = _tiny(tmp_path, "fixed", fixes or (lambda cfg: None))
    proc = _snakemake(workdir, fixed, "-n", targets=())
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------------- errors inside a job
def test_contig_not_covered_by_mask(tmp_path):
    regions = "results/introgression/tiny/deserts/regions.bed"
    bad = _tiny(
        tmp_path,
        "bad",
        lambda cfg: cfg["introgression"]["datasets"]["tiny"].update(contigs=["chr22", "chr21"]),
    )
    proc = _snakemake(tmp_path / "run", bad, targets=(regions,))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert (
        "contig chr21 has no sequence left after masking" in out
        and "hg19_chr22_EPO_covered.bed" in out
    ), out
    assert not (tmp_path / "run" / regions).exists()
    proc = _snakemake(tmp_path / "run", CONFIG, targets=(regions,))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "run" / regions).stat().st_size > 0


# ---------------------------------------------------------------------------------- faults
def _start_and_wait_for_epoch(workdir: Path, configfile: Path, log: Path, epoch: int, *args: str):
    """Start the workflow to the CNN's predictions; return (process, training pid) once ``epoch`` and
    its checkpoint are written."""
    before = mtime_ns(workdir / CHECKPOINT)
    proc = start(_cmd(workdir, configfile, *args), log)
    pids = wait_for(
        lambda: training_pids(proc.pid),
        timeout=300,
        what="the training process",
        proc=proc,
        log=log,
    )
    wait_for(
        lambda: epoch_checkpointed(workdir, epoch, before),
        timeout=120, what=f"epoch {epoch} and its checkpoint", proc=proc, log=log, interval=0.02,
    )  # fmt: skip
    return proc, pids[0]


def _kill_training(workdir, configfile, log, *args):
    proc, pid = _start_and_wait_for_epoch(workdir, configfile, log, 1, *args)
    os.kill(pid, signal.SIGKILL)
    try:
        rc = proc.wait(timeout=120)
    finally:
        stop_tree(proc.pid)
    assert rc == 1, tail(log)
    assert (workdir / CHECKPOINT).exists()
    assert not (workdir / PREDICTIONS).exists(), "a killed job must leave no output"


def _history(workdir):
    return pd.read_csv(workdir / HISTORY, sep="\t")


def test_faults_during_training(tmp_path):
    workdir, logs = tmp_path / "run", tmp_path / "logs"

    # 1. a second run at once is refused by Snakemake's lock (the training is paused meanwhile, so
    #    that it is still at epoch 1 afterwards); 2. kill -9 of the training job
    proc, pid = _start_and_wait_for_epoch(workdir, CONFIG, logs / "1_first.log", 1)
    try:
        os.kill(pid, signal.SIGSTOP)
        second = _snakemake(workdir, CONFIG)
        assert second.returncode == 1, second.stderr
        assert "cannot be locked" in second.stdout + second.stderr, second.stderr
        os.kill(pid, signal.SIGKILL)
        assert proc.wait(timeout=120) == 1, tail(logs / "1_first.log")
    finally:
        stop_tree(proc.pid)
    assert (workdir / CHECKPOINT).exists() and not (workdir / PREDICTIONS).exists()

    # 3. kill -9 of Snakemake itself (and then of its orphaned job, as when a node is lost),
    #    while the rerun trains from the checkpoint
    proc, pid = _start_and_wait_for_epoch(workdir, CONFIG, logs / "3_snakemake.log", 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    os.kill(pid, signal.SIGKILL)
    assert f"resumed from {CHECKPOINT}: 1 epochs done" in tail(workdir / TRAIN_LOG, 10**6)
    assert not (workdir / PREDICTIONS).exists()

    # 4. Snakemake's lock outlives a kill -9 of Snakemake (it can't tell a dead owner from a live
    #    one): the rerun stops, names the fix and touches nothing; after `--unlock` a plain rerun
    #    succeeds (incomplete outputs are rerun by the profile's rerun-incomplete) and resumes
    locked = _snakemake(workdir, CONFIG)
    assert locked.returncode == 1 and "--unlock" in locked.stdout + locked.stderr
    assert _snakemake(workdir, CONFIG, "--unlock").returncode == 0
    rc = run(_cmd(workdir, CONFIG), logs / "4_rerun.log", timeout=300)
    assert rc == 0, tail(logs / "4_rerun.log")
    assert _history(workdir)["resumed_from_epoch"].iloc[0] >= 2
    assert not (workdir / CHECKPOINT).exists()

    # 5. kill, then other settings: the checkpoint is never resumed
    _kill_training(workdir, CONFIG, logs / "5_kill.log", "--forcerun", TRAIN_RULE)
    other_lr = _tiny(tmp_path, "lr", lambda cfg: cfg["training"].update(learning_rate=0.002))
    rc = run(_cmd(workdir, other_lr), logs / "6_settings.log", timeout=300)
    assert rc == 0, tail(logs / "6_settings.log")
    assert "ignoring stale checkpoint" in tail(workdir / TRAIN_LOG, 10**6)
    assert _history(workdir)["resumed_from_epoch"].isna().all()

    # 6. kill, then other input content (same paths; the split seed changes the split file)
    _kill_training(workdir, other_lr, logs / "7_kill.log", "--forcerun", TRAIN_RULE)
    other_split = _tiny(
        tmp_path,
        "split",
        lambda cfg: (
            cfg["training"].update(learning_rate=0.002),
            cfg["introgression"]["splits"].update(seed=1),
        ),
    )
    rc = run(_cmd(workdir, other_split), logs / "8_content.log", timeout=300)
    assert rc == 0, tail(logs / "8_content.log")
    train_log = tail(workdir / TRAIN_LOG, 10**6)
    assert (
        "ignoring stale checkpoint" in train_log and "last.pt: " not in train_log
    )  # no "resumed from <ckpt>: "
    assert _history(workdir)["resumed_from_epoch"].isna().all()
