"""The new user's path: README size, every advertised target and README command builds its DAG,
offline dry runs list download jobs, downloads check sha256, a user config runs only its datasets."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

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


def test_offline_dry_run_without_mirror_lists_downloads(tmp_path):
    empty = tmp_path / "empty_mirror"
    empty.mkdir()
    result = snakemake(
        "deconvolution", "--dry-run", "--cores", "1", "--directory", str(tmp_path),
        "--configfile", str(REPO / "config" / "config.yaml"), "--config", f"data_mirror={empty}",
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    downloads = set(re.findall(r"output: (resources/downloads/\S+)", result.stdout))
    assert downloads == {
        f"resources/downloads/{FIBERTYPE}/{name}"
        for name in (
            "bulk_expr.txt",
            "signatures_matrix.txt",
            "true_type1.txt",
            "deconv_prediction.txt",
        )
    } | {"resources/downloads/singlecell/scRNA/10x_pbmc68k_reduced.h5ad"}, out[-3000:]


def test_missing_input_without_url_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty_mirror"
    empty.mkdir()
    result = snakemake(
        "introgression", "--dry-run", "--cores", "1", "--directory", str(tmp_path),
        "--configfile", str(REPO / "config" / "config.yaml"), "--config", f"data_mirror={empty}",
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "not found: tried" in out and "no public URL is configured" in out, out[-3000:]


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
