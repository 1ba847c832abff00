"""Preemption without a cluster: a training job is stopped by SIGTERM (what SLURM sends at a time
limit or on preemption) and later by SIGUSR1 (the usual `--signal` warning), each time in the middle
of training; every rerun of the workflow resumes from the checkpoint, and the final model equals
that of an uninterrupted run bit for bit (CPU).

Runs the tiny cluster config (tests/workflow/configs/cluster_tiny.yaml) with the local executor.
"""

import os
import re
from pathlib import Path
import signal

import pandas as pd
import pytest

from tests.slurm.cluster import (
    CHECKPOINT,
    HISTORY,
    PREDICTIONS,
    TRAIN_LOG,
    TRAIN_RULE,
    assert_same_training,
    epoch_checkpointed,
    mtime_ns,
    run,
    snakemake_cmd,
    snapshot,
    start,
    stop_tree,
    tail,
    training_pids,
    wait_for,
)

pytestmark = pytest.mark.workflow
# one torch thread: every run of the comparison trains with the same number of threads
LOCAL = ("--cores", "2", "--workflow-profile", "none", "--set-threads", f"{TRAIN_RULE}=1")
# genomelearn.training.fit logs "resumed from <checkpoint>: <n> epochs done, next batch <b>"
RESUMED = re.compile(r"resumed from \S+last\.pt: (\d+) epochs done, next batch (\d+)")


def _resumed(train_log):
    """(epochs done, next batch) of the checkpoint a run resumed from, or None."""
    match = RESUMED.search(train_log)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _interrupt_training(workdir, logdir, name, after_epoch, sig):
    """Run the workflow up to the CNN's predictions; once epoch ``after_epoch`` and its checkpoint
    are done, send ``sig`` to the training script (it lands in the next epoch). Returns the
    training log of that run."""
    log = logdir / f"{name}.log"
    before = mtime_ns(workdir / CHECKPOINT)
    proc = start(snakemake_cmd(workdir, *LOCAL, targets=(PREDICTIONS,)), log)
    try:
        pids = wait_for(
            lambda: training_pids(proc.pid),
            timeout=240,
            what="the training process",
            proc=proc,
            log=log,
        )
        assert len(pids) == 1, pids
        wait_for(
            lambda: epoch_checkpointed(workdir, after_epoch, before),
            timeout=120,
            what=f"epoch {after_epoch} of the CNN and its checkpoint",
            proc=proc,
            log=log,
            interval=0.02,
        )
        os.kill(pids[0], sig)
        rc = proc.wait(timeout=120)
    finally:
        stop_tree(proc.pid)
    train_log = tail(workdir / TRAIN_LOG, 10**6)
    assert rc != 0, f"snakemake should fail when training is interrupted\n{tail(log)}"
    assert f"TrainingInterrupted: training interrupted by signal {int(sig)}" in train_log, (
        train_log
    )
    assert (workdir / CHECKPOINT).exists(), "no checkpoint left behind"
    assert not (workdir / PREDICTIONS).exists(), "a failed job must leave no output"
    return train_log


def test_interrupted_training_resumes_to_identical_model(tmp_path, data_mirror):
    workdir, logs = tmp_path / "run", tmp_path / "snakemake_logs"

    # 1. SIGTERM during the second epoch (after the epoch-1 checkpoint)
    first = _interrupt_training(workdir, logs, "1_sigterm", after_epoch=1, sig=signal.SIGTERM)
    assert _resumed(first) is None

    # 2. rerun: resumes inside epoch 2; stopped again by SIGUSR1 during its third epoch
    second = _interrupt_training(workdir, logs, "2_sigusr1", after_epoch=2, sig=signal.SIGUSR1)
    # the batch the signal lands on is a race (it may arrive before the first batch of the epoch);
    # a deterministic mid-epoch resume is tested in tests/unit/test_training.py
    assert _resumed(second)[0] == 1 and _resumed(second)[1] >= 0, second

    # 3. rerun to the end: resumes from epoch 2
    rc = run(
        snakemake_cmd(workdir, *LOCAL, targets=(PREDICTIONS,)), logs / "3_resume.log", timeout=240
    )
    assert rc == 0, tail(logs / "3_resume.log")
    third = tail(workdir / TRAIN_LOG, 10**6)
    assert _resumed(third)[0] == 2 and _resumed(third)[1] >= 0, third
    history = pd.read_csv(workdir / HISTORY, sep="\t")
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert history["resumed_from_epoch"].iloc[0] == 2
    assert not (workdir / CHECKPOINT).exists(), "checkpoint must be removed after success"
    resumed = snapshot(workdir, tmp_path / "resumed")

    # 4. the same training, uninterrupted
    rc = run(
        snakemake_cmd(workdir, *LOCAL, "--forcerun", TRAIN_RULE, targets=(PREDICTIONS,)),
        logs / "4_reference.log",
        timeout=240,
    )
    assert rc == 0, tail(logs / "4_reference.log")
    reference = snapshot(workdir, tmp_path / "reference")
    assert _resumed((reference / Path(TRAIN_LOG).name).read_text()) is None
    assert pd.read_csv(reference / "history.tsv", sep="\t")["resumed_from_epoch"].isna().all()

    metrics = assert_same_training(resumed, reference)
    for name, text in (("SIGTERM run", first), ("SIGUSR1 run", second), ("final run", third)):
        print(
            name,
            [
                line.split(" INFO ")[-1]
                for line in text.splitlines()
                if "signal" in line or "resumed" in line
            ],
        )
    print("test-split metrics, resumed twice vs uninterrupted:", metrics)
