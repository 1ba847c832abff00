"""profiles/slurm without a cluster: how it renders under its environment variables, that it covers
every torch training rule of the workflow, and that Snakemake accepts it (dry run)."""

import re
import subprocess

import pytest

from tests.slurm.cluster import REPO, TRAIN_RULE, clean_env, profile_settings, snakemake_cmd

PROFILE = REPO / "profiles" / "slurm"


def _torch_training_rules() -> set[str]:
    """Rules named `*_train_*` whose script trains with genomelearn.training."""
    rules = set()
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        for match in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M):
            name, body = match.group(1), match.group(2)
            script = re.search(r'script:\s*\n\s*"\.\./(scripts/[^"]+)"', body)
            if (
                "_train_" in name
                and script
                and "genomelearn.training" in (REPO / script.group(1)).read_text()
            ):
                rules.add(name)
    return rules


def test_defaults():
    prof = profile_settings(PROFILE, {})
    assert prof["executor"] == "slurm"
    assert prof["slurm-status-command"] == "squeue"  # clusters without slurmdbd accounting
    assert prof["default-resources"] == {
        "runtime": 60,
        "mem_mb": 4000,
    }  # partition/account: cluster defaults
    train = prof["set-resources"][TRAIN_RULE]
    assert train == {
        "runtime": 240,
        "mem_mb": 16000,
        "cpus_per_task": 4,
        "slurm_extra": "'--signal=TERM@300'",
        "slurm_partition": "gpu",
        "gpu": 1,
    }
    assert prof["set-threads"][TRAIN_RULE] == 4


def test_every_torch_training_rule_gets_a_gpu():
    prof = profile_settings(PROFILE, {})
    expected = _torch_training_rules()
    assert TRAIN_RULE in expected
    assert set(prof["set-resources"]) == expected
    assert set(prof["set-threads"]) == expected
    assert all(
        res["gpu"] == 1 and res["slurm_partition"] == "gpu"
        for res in prof["set-resources"].values()
    )


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"GENOMELEARN_SLURM_GPU_REQUEST": "gres"}, {"gres": "gpu:1", "slurm_partition": "gpu"}),
        (
            {
                "GENOMELEARN_SLURM_GPU_REQUEST": "gres",
                "GENOMELEARN_SLURM_GPUS": "2",
                "GENOMELEARN_SLURM_GPU_MODEL": "a100",
            },
            {"gres": "gpu:a100:2", "slurm_partition": "gpu"},
        ),
        (
            {"GENOMELEARN_SLURM_GPU_MODEL": "h100", "GENOMELEARN_SLURM_GPU_PARTITION": "accel"},
            {"gpu": 1, "gpu_model": "h100", "slurm_partition": "accel"},
        ),
        ({"GENOMELEARN_SLURM_GPU_REQUEST": "none"}, {}),
    ],
)
def test_gpu_request_styles(env, expected):
    train = profile_settings(PROFILE, env)["set-resources"][TRAIN_RULE]
    gpu_keys = {
        k: v for k, v in train.items() if k in ("gpu", "gpu_model", "gres", "slurm_partition")
    }
    assert gpu_keys == expected


def test_site_settings():
    prof = profile_settings(
        PROFILE,
        {
            "GENOMELEARN_SLURM_ACCOUNT": "lab42",
            "GENOMELEARN_SLURM_PARTITION": "short",
            "GENOMELEARN_SLURM_TRAIN_CPUS": "8",
            "GENOMELEARN_SLURM_TRAIN_MEM_MB": "32000",
            "GENOMELEARN_SLURM_TRAIN_RUNTIME": "600",
            "GENOMELEARN_SLURM_SIGNAL_SECONDS": "900",
        },
    )
    assert prof["default-resources"] == {
        "runtime": 60,
        "mem_mb": 4000,
        "slurm_partition": "short",
        "slurm_account": "lab42",
    }
    train = prof["set-resources"][TRAIN_RULE]
    assert (train["cpus_per_task"], train["mem_mb"], train["runtime"]) == (8, 32000, 600)
    assert train["slurm_extra"] == "'--signal=TERM@900'"
    assert prof["set-threads"][TRAIN_RULE] == 8


def test_bad_gpu_request_style_is_refused():
    with pytest.raises(
        Exception, match="GENOMELEARN_SLURM_GPU_REQUEST must be gpus, gres or none"
    ):
        profile_settings(PROFILE, {"GENOMELEARN_SLURM_GPU_REQUEST": "cuda"})


def test_snakemake_applies_the_profile(tmp_path):
    """Dry run through the profile: the training job carries the GPU resources, the others not."""
    env_cmd = snakemake_cmd(
        tmp_path, "--profile", str(PROFILE), "--workflow-profile", "none", "--dry-run"
    )
    out = subprocess.run(
        env_cmd,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(
            {"GENOMELEARN_SLURM_GPU_REQUEST": "gres", "GENOMELEARN_SLURM_TRAIN_CPUS": "3"}
        ),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    resources = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text):
        name = re.match(r"(?:local)?rule (\w+):", block)
        line = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
        if name and line:
            resources[name.group(1)] = line.group(1)
    assert TRAIN_RULE in resources, text[-3000:]
    train = resources[TRAIN_RULE]
    for item in (
        "gres=gpu:1",
        "slurm_partition=gpu",
        "cpus_per_task=3",
        "runtime=240",
        "mem_mb=16000",
        "slurm_extra=--signal=TERM@300",
    ):
        assert item in train, train
    for rule, res in resources.items():
        if rule != TRAIN_RULE:
            assert "gres=" not in res and "slurm_partition" not in res and "runtime=60" in res, (
                rule,
                res,
            )
