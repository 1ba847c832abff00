"""The workflow on a real SLURM through profiles/slurm, with a preemption of the training job.

Needs a SLURM controller (tests/slurm/start-slurm.sh starts a single-node one with partitions
`main` (default) and `gpu`, a fake GPU and no accounting); skipped without one, except in CI.

The workflow, run twice, checked from SLURM's own records (scontrol/squeue), the sbatch calls and
the job logs:

1. `snakemake --profile profiles/slurm` on the tiny config (GPU request style `gpus`); once the CNN
   has finished its first epoch, `scancel --signal=TERM` on its SLURM job (what SLURM sends at a
   time limit, by the profile's `--signal`, or on preemption); the workflow stops with an error.
2. The workflow is rerun (GPU request style `gres`) and completes; the CNN resumes from its
   checkpoint.
3. Every job of the DAG ran as a SLURM job and completed; CPU jobs in the default partition without
   GPU, training jobs in the `gpu` partition with a GPU (`--gpus=1`, then `--gres=gpu:1`), the
   profile's time limit, memory, CPUs and `--signal=TERM@...`.
4. The resumed model equals an uninterrupted CPU run of the same training, bit for bit.
"""

import re
from pathlib import Path
import subprocess

import pandas as pd
import pytest

from tests.slurm.cluster import (
    PREDICTIONS,
    REPO,
    TRAIN_LOG,
    TRAIN_RULE,
    assert_same_training,
    cancel_jobs,
    copy_inputs,
    dag_job_counts,
    epoch_checkpointed,
    profile_settings,
    run,
    running_job_id,
    slurm_jobs,
    snakemake_cmd,
    snapshot,
    start,
    stop_tree,
    tail,
    wait_for,
)

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

PROFILE = REPO / "profiles" / "slurm"
SIGNAL_SECONDS = 120
TRAIN_RUNTIME_MIN = 15
TRAIN_MEM_MB = 3000
# The profile's own settings, sized for the test node; only the site knobs are set here.
SITE_ENV = {
    "GENOMELEARN_SLURM_GPU_PARTITION": "gpu",
    "GENOMELEARN_SLURM_TRAIN_RUNTIME": str(TRAIN_RUNTIME_MIN),
    "GENOMELEARN_SLURM_TRAIN_MEM_MB": str(TRAIN_MEM_MB),
    "GENOMELEARN_SLURM_SIGNAL_SECONDS": str(SIGNAL_SECONDS),
}


def _slurm_cmd(workdir, *extra):
    return snakemake_cmd(
        workdir,
        "--profile",
        str(PROFILE),
        # the workflow's own profiles/default (local: cores 2, latency-wait 5) would override it
        "--workflow-profile",
        "none",
        # test speed: poll SLURM every second at first; keep logs; no automatic retry
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--slurm-keep-successful-logs",
        "--retries",
        "0",
        "--latency-wait",
        "10",
        "--verbose",  # logs each sbatch call
        *extra,
    )


def _sbatch_calls(log_path, rule):
    """The sbatch command lines the plugin logged for ``rule`` (without the --wrap payload)."""
    calls = []
    for line in tail(log_path, 10**8).splitlines():
        if line.startswith("sbatch call:") and f"--comment rule_{rule}_" in line:
            calls.append(line.split(" --wrap=")[0])
    return calls


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory, data_mirror):
    from tests.slurm.cluster import require_slurm

    require_slurm()
    base = tmp_path_factory.mktemp("slurm")
    workdir, refdir, logs = base / "run", base / "reference_run", base / "snakemake_logs"
    cpus = "1"  # one CPU and torch thread per training job: it runs beside the other jobs on a small node
    env = {**SITE_ENV, "GENOMELEARN_SLURM_TRAIN_CPUS": cpus}
    procs = []
    try:
        # the jobs Snakemake plans for the workflow (dry run in an empty directory, meanwhile)
        dag = start(
            snakemake_cmd(base / "dag", "--dry-run", "--cores", "1", "--workflow-profile", "none"),
            logs / "0_dag.log",
        )
        procs.append(dag)

        # 1. run; SIGTERM the training job through SLURM after its first epoch
        first_log = logs / "1_gpus.log"
        proc = start(
            _slurm_cmd(workdir), first_log, env={**env, "GENOMELEARN_SLURM_GPU_REQUEST": "gpus"}
        )
        procs.append(proc)
        job_id = wait_for(
            lambda: running_job_id(workdir, TRAIN_RULE, "_fold0_"),
            timeout=330,
            what="the CNN's SLURM job to start",
            proc=proc,
            log=first_log,
            interval=0.5,
        )
        wait_for(
            lambda: epoch_checkpointed(workdir, 1, 0),
            timeout=120,
            what="epoch 1 of the CNN in its SLURM job and its checkpoint",
            proc=proc,
            log=first_log,
            interval=0.02,
        )
        subprocess.run(["scancel", "--signal=TERM", job_id], check=True)
        first_rc = proc.wait(timeout=180)
        first_train_log = tail(workdir / TRAIN_LOG, 10**6)

        # 4. (meanwhile) the same training uninterrupted, locally on CPU with as many threads, in a
        # copy of the inputs the SLURM jobs made
        copy_inputs(workdir, refdir)
        ref_log = logs / "3_reference.log"
        ref = start(
            snakemake_cmd(
                refdir,
                "--cores",
                "2",
                "--workflow-profile",
                "none",
                "--set-threads",
                f"{TRAIN_RULE}={cpus}",
                targets=(PREDICTIONS,),
            ),
            ref_log,
        )
        procs.append(ref)

        # 2. rerun to the end, GPUs requested as generic resources this time
        second_log = logs / "2_gres.log"
        second_rc = run(
            _slurm_cmd(workdir),
            second_log,
            env={**env, "GENOMELEARN_SLURM_GPU_REQUEST": "gres"},
            timeout=300,
        )
        assert second_rc == 0, tail(second_log)
        resumed = snapshot(workdir, base / "resumed")
        jobs = slurm_jobs(workdir)

        assert ref.wait(timeout=240) == 0, tail(ref_log)
        reference = snapshot(refdir, base / "reference")
        assert dag.wait(timeout=60) == 0, tail(logs / "0_dag.log")
        expected = dag_job_counts(logs / "0_dag.log")
    finally:
        for proc in procs:
            stop_tree(proc.pid)
        cancel_jobs(workdir)
    summary = jobs[
        [
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
        ]
    ]
    print("\nSLURM jobs of the workflow (scontrol):\n" + summary.to_string(index=False))
    return {
        "workdir": workdir,
        "expected": expected,
        "jobs": jobs,
        "first_rc": first_rc,
        "killed_job": int(job_id),
        "first_train_log": first_train_log,
        "first_log": first_log,
        "second_log": second_log,
        "resumed": resumed,
        "reference": reference,
        "cpus": int(cpus),
    }


def test_every_job_ran_as_a_slurm_job(slurm_run):
    jobs, expected = slurm_run["jobs"], slurm_run["expected"]
    assert expected and TRAIN_RULE in expected, expected
    done = jobs[jobs["state"] == "COMPLETED"]
    assert done.groupby("rule").size().to_dict() == expected
    # the only other SLURM job is the training attempt stopped in step 1
    others = jobs[jobs["state"] != "COMPLETED"]
    assert others["job_id"].tolist() == [slurm_run["killed_job"]], others.to_string()
    assert others["rule"].tolist() == [TRAIN_RULE]
    assert others["state"].tolist() == ["FAILED"]
    # each job's stdout is a SLURM log of a Snakemake job step that ran that rule
    for row in done.itertuples():
        text = tail(row.stdout, 10**7)
        assert f"Finished jobid: 0 (Rule: {row.rule})" in text, (row.rule, row.stdout)


def test_training_on_gpu_partition_with_gpu_request(slurm_run):
    jobs = slurm_run["jobs"]
    train = jobs[jobs["rule"] == TRAIN_RULE]
    cpu = jobs[jobs["rule"] != TRAIN_RULE]
    assert (train["partition"] == "gpu").all()
    first = _sbatch_calls(slurm_run["first_log"], TRAIN_RULE)
    second = _sbatch_calls(slurm_run["second_log"], TRAIN_RULE)
    # one job per CV fold (2 folds): fold 0 is submitted in both runs (stopped in the first), fold 1
    # in whichever run reached it first
    assert len(first) >= 1 and len(second) >= 1 and len(first) + len(second) == 3, (first, second)
    # step 1 asked with --gpus=1 (TresPerJob), step 2 with --gres=gpu:1 (TresPerNode)
    by_gpus = train[train["tres_per_job"] == "gres:gpu:1"]
    by_gres = train[train["tres_per_node"] == "gres:gpu:1"]
    assert len(by_gpus) == len(first) and len(by_gres) == len(second), train.to_string()
    assert len(by_gpus) + len(by_gres) == len(train), train.to_string()
    assert (train["time_limit"] == f"00:{TRAIN_RUNTIME_MIN:02d}:00").all()
    assert (train["min_memory"] == f"{TRAIN_MEM_MB}M").all()
    assert (train["num_cpus"] == slurm_run["cpus"]).all()
    default_partition = subprocess.run(
        ["sinfo", "-h", "-o", "%P"], capture_output=True, text=True
    ).stdout
    default_partition = next(p.rstrip("*") for p in default_partition.split() if p.endswith("*"))
    assert (cpu["partition"] == default_partition).all(), cpu.to_string()
    assert (cpu["tres_per_job"] == "").all() and (cpu["tres_per_node"] == "").all()
    defaults = profile_settings(PROFILE, SITE_ENV)["default-resources"]
    # the profile's default memory, except rules that declare their own `resources: mem_mb`
    own_memory = {"introgression_evaluate": "3000M"}
    expected_memory = cpu["rule"].map(own_memory).fillna(f"{defaults['mem_mb']}M")
    assert (cpu["min_memory"] == expected_memory).all(), cpu.to_string()
    assert (
        cpu["time_limit"] == f"{defaults['runtime'] // 60:02d}:{defaults['runtime'] % 60:02d}:00"
    ).all()

    calls = [(call, "--gpus=1") for call in first] + [(call, "--gres=gpu:1") for call in second]
    for call, request in calls:
        assert " -p gpu " in call and request in call, call
        assert f"--signal=TERM@{SIGNAL_SECONDS}" in call and "--requeue" in call, call
        assert (
            f"--cpus-per-task={slurm_run['cpus']}" in call and f"--mem {TRAIN_MEM_MB}" in call
        ), call
    assert not any("--gres" in call for call in first) and not any(
        "--gpus" in call for call in second
    )


def test_preempted_training_resumed_from_checkpoint(slurm_run):
    assert slurm_run["first_rc"] != 0, tail(slurm_run["first_log"])
    first = slurm_run["first_train_log"]
    assert "TrainingInterrupted: training interrupted by signal 15" in first, first
    resumed_log = (slurm_run["resumed"] / Path(TRAIN_LOG).name).read_text()
    match = re.search(
        r"resumed from \S+last\.pt: (\d+) epochs done, next batch (\d+)", resumed_log
    )
    assert match, resumed_log
    assert int(match.group(1)) >= 1 and int(match.group(2)) > 0, match.group(
        0
    )  # inside epoch 2 or later
    history = pd.read_csv(slurm_run["resumed"] / "history.tsv", sep="\t")
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert 1 <= history["resumed_from_epoch"].iloc[0] < 6
    print(
        "\nSIGTERM:",
        [line.split(" INFO ")[-1] for line in first.splitlines() if "signal" in line][:1],
    )
    print("rerun:", match.group(0))


def test_resumed_model_equals_uninterrupted_run(slurm_run):
    metrics = assert_same_training(slurm_run["resumed"], slurm_run["reference"])
    ref_history = pd.read_csv(slurm_run["reference"] / "history.tsv", sep="\t")
    assert ref_history["resumed_from_epoch"].isna().all()
    print("\ntest-split metrics, resumed on SLURM vs uninterrupted on CPU:", metrics)
