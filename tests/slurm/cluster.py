"""Helpers of the cluster tests: run Snakemake in the background, find and signal the training
process, read SLURM's own records of a workflow's jobs, and compare two training runs.

Used by tests/workflow/test_preemption.py (local, no SLURM) and tests/workflow/test_slurm_workflow.py
(a real single-node SLURM started by tests/slurm/start-slurm.sh).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
CONFIG = REPO / "tests" / "workflow" / "configs" / "cluster_tiny.yaml"
START_SLURM = REPO / "tests" / "slurm" / "start-slurm.sh"
DATASET = "tiny"
TRAIN_RULE = "introgression_train_deep"
# the CNN's job of block-CV fold 0, seed 0, in the setting deserts/unmatched of cluster_tiny.yaml
SETTING = "deserts/unmatched"
MODEL_DIR = f"results/introgression/{DATASET}/{SETTING}/models/cnn/fold0/seed0"
PREDICTIONS = f"{MODEL_DIR}/predictions.parquet"
HISTORY = f"{MODEL_DIR}/history.tsv"
CHECKPOINT = f"{MODEL_DIR}/checkpoint/last.pt"
TRAIN_LOG = f"logs/introgression/{DATASET}/{SETTING}/train_cnn_fold0_seed0.log"


def snakemake_cmd(workdir: Path, *args: str, targets: tuple[str, ...] = ()) -> list[str]:
    """``python -m snakemake -s <repo>/Snakefile --directory workdir <targets> --configfile
    cluster_tiny.yaml *args`` (targets first: options such as --configfile, --forcerun or
    --set-threads take several values and would swallow them)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        *targets,
        "--configfile",
        str(CONFIG),
        *args,
    ]


def clean_env(env: dict | None = None) -> dict:
    """The environment of the calling process without its GENOMELEARN_SLURM_* site settings (the
    tests set those they need explicitly), plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GENOMELEARN_SLURM_")}
    return {**base, **(env or {})}


def start(cmd: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    """Start ``cmd`` in the background (environment: :func:`clean_env`), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(log_path, "w")
    return subprocess.Popen(
        cmd, stdout=fh, stderr=subprocess.STDOUT, env=clean_env(env), text=True
    )


def run(cmd: list[str], log_path: Path, env: dict | None = None, timeout: float = 300) -> int:
    """Run ``cmd`` to the end (output to ``log_path``); returns its exit code."""
    proc = start(cmd, log_path, env)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_tree(proc.pid)
        raise AssertionError(
            f"timed out after {timeout} s: {' '.join(cmd)}\n{tail(log_path)}"
        ) from None


def tail(path: Path, n: int = 4000) -> str:
    """Last ``n`` characters of a text file ('' if it does not exist)."""
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except FileNotFoundError:
        return ""


def wait_for(
    predicate,
    timeout: float,
    what: str,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
    interval: float = 0.1,
):
    """Poll ``predicate()`` until it is truthy; fail after ``timeout`` s or when ``proc`` ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"snakemake ended (exit {proc.returncode}) before {what}\n{tail(log) if log else ''}"
            )
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what}\n{tail(log) if log else ''}"
    )


def log_contains(path: Path, text: str) -> bool:
    return text in tail(path, 10**7)


def mtime_ns(path: Path) -> int:
    """Modification time of ``path`` in ns (0 if it does not exist)."""
    try:
        return Path(path).stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def epoch_checkpointed(workdir: Path, epoch: int, previous_mtime: int) -> bool:
    """True once the training log reports ``epoch`` and the checkpoint written right after that
    epoch is on disk (newer than ``previous_mtime``): a signal sent now lands in the next epoch."""
    return (
        log_contains(Path(workdir) / TRAIN_LOG, f"epoch {epoch}: train_loss")
        and mtime_ns(Path(workdir) / CHECKPOINT) > previous_mtime
    )


def training_pids(root_pid: int) -> list[int]:
    """Pids of the python processes running the training script below ``root_pid``.

    Snakemake writes each `script:` to ``.snakemake/scripts/tmp*.introgression_train_deep.py`` and runs
    it with the job's shell, which execs python, so the script's process is a descendant.
    """
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    pids = []
    for child in children:
        try:
            cmdline = child.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(arg.endswith(f".{TRAIN_RULE}.py") for arg in cmdline):
            pids.append(child.pid)
    return pids


def stop_tree(pid: int) -> None:
    """SIGKILL a process started by the tests and all its descendants (cleanup after a failure)."""
    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def snapshot(workdir: Path, dest: Path) -> Path:
    """Copy the CNN's predictions, history and training log to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel in (PREDICTIONS, HISTORY, TRAIN_LOG):
        shutil.copy2(workdir / rel, dest / Path(rel).name)
    return dest


def split_metrics(predictions: pd.DataFrame) -> dict:
    """AUROC/AUPRC/accuracy of the test windows (genomelearn.evaluation.binary_metrics)."""
    from genomelearn.evaluation import binary_metrics

    test = predictions[predictions["split"] == "test"]
    return binary_metrics(test["label"].to_numpy(), test["score"].to_numpy())


def assert_same_training(resumed: Path, reference: Path) -> dict:
    """Assert the resumed run ended exactly like the uninterrupted one; return both runs' test metrics.

    Compared: every per-window score (float32, bit for bit), the per-epoch train/validation losses,
    the best epoch, and the test metrics computed from the scores.
    """
    a = pd.read_parquet(resumed / Path(PREDICTIONS).name)
    b = pd.read_parquet(reference / Path(PREDICTIONS).name)
    pd.testing.assert_frame_equal(a[["window", "split", "label"]], b[["window", "split", "label"]])
    np.testing.assert_array_equal(a["score"].to_numpy(), b["score"].to_numpy())
    ha = pd.read_csv(resumed / Path(HISTORY).name, sep="\t")
    hb = pd.read_csv(reference / Path(HISTORY).name, sep="\t")
    cols = ["epoch", "train_loss", "val_loss", "best_epoch"]
    pd.testing.assert_frame_equal(ha[cols], hb[cols], check_exact=True)
    ma, mb = split_metrics(a), split_metrics(b)
    assert pd.Series(ma).equals(pd.Series(mb)), (ma, mb)
    return {"resumed": ma, "uninterrupted": mb}


# ---------------------------------------------------------------- SLURM


def profile_settings(profile_dir: Path, env: dict) -> dict:
    """The SLURM profile as Snakemake reads it (YTE template rendered) with exactly the
    ``GENOMELEARN_SLURM_*`` settings in ``env`` (those of the calling shell are ignored)."""
    import yte

    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("GENOMELEARN_SLURM_")]:
        del os.environ[key]
    os.environ.update(env)
    try:
        with open(Path(profile_dir) / "config.yaml") as fh:
            return yte.process_yaml(fh, require_use_yte=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def slurm_up() -> bool:
    """True when the SLURM client tools are installed and a controller answers."""
    if shutil.which("sinfo") is None or shutil.which("squeue") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def require_slurm() -> None:
    """Skip when no SLURM is reachable, except in CI (CI=true), where that is a failure."""
    if slurm_up():
        return
    message = f"no SLURM controller reachable (start one as root with: bash {START_SLURM.relative_to(REPO)})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + " -- CI must start SLURM before pytest")
    pytest.skip(message)


def scontrol_job(job_id: str) -> dict[str, str]:
    """``scontrol show job -o <id>`` as a key -> value mapping (values up to the next key)."""
    out = subprocess.run(
        ["scontrol", "show", "job", "-o", str(job_id)], capture_output=True, text=True, check=True
    ).stdout
    fields: dict[str, str] = {}
    for token in out.split():
        if "=" in token:
            key, value = token.split("=", 1)
            fields[key] = value
    return fields


def slurm_jobs(workdir: Path) -> pd.DataFrame:
    """Every SLURM job (any state; finished jobs stay listed for MinJobAge) whose working directory is
    ``workdir``, with scontrol's record of it: job_id, rule (from the plugin's comment
    ``rule_<rule>_wildcards_<wildcards>``), state, partition, gpu request, time limit, memory, CPUs."""
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%Z"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = []
    for line in out.splitlines():
        job_id, _, job_dir = line.strip().partition("|")
        if job_dir and Path(job_dir).resolve() == Path(workdir).resolve():
            info = scontrol_job(job_id)
            comment = info.get("Comment", "")
            rule = (
                comment[len("rule_") :].split("_wildcards_")[0]
                if comment.startswith("rule_")
                else ""
            )
            rows.append(
                {
                    "job_id": int(job_id),
                    "rule": rule,
                    "state": info.get("JobState"),
                    "exit_code": info.get("ExitCode"),
                    "partition": info.get("Partition"),
                    "tres_per_job": info.get("TresPerJob", ""),
                    "tres_per_node": info.get("TresPerNode", ""),
                    "time_limit": info.get("TimeLimit"),
                    "min_memory": info.get("MinMemoryNode"),
                    "num_cpus": int(info.get("NumCPUs", 0)),
                    "comment": comment,
                    "stdout": info.get("StdOut"),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "job_id",
            "rule",
            "state",
            "exit_code",
            "partition",
            "tres_per_job",
            "tres_per_node",
            "time_limit",
            "min_memory",
            "num_cpus",
            "comment",
            "stdout",
        ],
    ).sort_values("job_id", ignore_index=True)


def running_job_id(workdir: Path, rule: str, comment_contains: str = "") -> str | None:
    """SLURM id of the RUNNING job of ``rule`` in ``workdir`` whose comment (the plugin's
    ``rule_<rule>_wildcards_<values joined by _>``) contains ``comment_contains``, if any."""
    jobs = slurm_jobs(workdir)
    hit = jobs[
        (jobs["rule"] == rule)
        & (jobs["state"] == "RUNNING")
        & jobs["comment"].str.contains(comment_contains, regex=False)
    ]
    return str(hit["job_id"].iloc[-1]) if len(hit) else None


def cancel_jobs(workdir: Path) -> None:
    """scancel every pending/running job of ``workdir`` (cleanup after a failed test)."""
    if shutil.which("squeue") is None:
        return
    try:
        jobs = slurm_jobs(workdir)
    except (OSError, subprocess.CalledProcessError):
        return
    active = jobs[
        jobs["state"].isin(["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED"])
    ]
    for job_id in active["job_id"]:
        subprocess.run(["scancel", str(job_id)], capture_output=True)


def dag_job_counts(dry_run_log: Path) -> dict[str, int]:
    """Jobs per rule in the "Job stats" table of a Snakemake dry run's output, without `all`."""
    counts, in_table = {}, False
    for line in tail(dry_run_log, 10**7).splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table, counts = True, {}
            continue
        if in_table:
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] == "total":
                    in_table = False
                elif parts[0] != "all":
                    counts[parts[0]] = int(parts[1])
            elif parts and not set(parts[0]) <= {"-"}:
                in_table = False
    return counts


def copy_inputs(workdir: Path, dest: Path) -> None:
    """Copy the CNN's inputs (windows, encodings, splits) from ``workdir`` to ``dest`` with their
    modification times, so that Snakemake in ``dest`` only has the training left to do."""
    labels, matching = SETTING.split("/")
    src = Path(workdir) / f"results/introgression/{DATASET}/{labels}"
    out = Path(dest) / f"results/introgression/{DATASET}/{labels}"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("regions.bed", "regions_summary.tsv", "windows.parquet", "windows_summary.tsv"):
        shutil.copy2(src / name, out / name)
    shutil.copytree(src / "encoded", out / "encoded", copy_function=shutil.copy2)
    (out / matching).mkdir(exist_ok=True)
    shutil.copytree(
        src / matching / "splits", out / matching / "splits", copy_function=shutil.copy2
    )
    shutil.copy2(src / matching / "folds.tsv", out / matching / "folds.tsv")
