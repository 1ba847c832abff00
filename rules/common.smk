# Shared helpers: config validation (the schemas fill in every default), dataset selection, input
# resolution (path -> data mirror -> download job, or a missing_input job that only fails).
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from genomelearn.errors import InputError
from genomelearn.io.inputs import (
    collect_checksums,
    collect_downloads,
    missing_input_message,
    relative_data_path,
    resolve_local,
)
from genomelearn.validation import (
    check_dataset_sizes,
    validate_config,
)

ANALYSES = ["introgression", "ancient_dna", "singlecell", "deconvolution"]
DOWNLOAD_DIR = "resources/downloads"
MISSING_DIR = "resources/missing"  # never written: inputs without a local copy or a URL

validate_config(
    config, Path(workflow.basedir) / "config" / "schemas" / "config.schema.yaml"
)
for _analysis in ANALYSES:
    _schema = Path(workflow.basedir) / "config" / "schemas" / f"{_analysis}.schema.yaml"
    if _analysis in config and _schema.exists():
        validate_config(config[_analysis], _schema, _analysis)


def _select_datasets():
    """Apply the top-level `datasets:` selection: keep only the named datasets of an analysis."""
    for analysis, names in (config.get("datasets") or {}).items():
        if names is None:
            continue
        defined = (config.get(analysis) or {}).get("datasets") or {}
        unknown = [name for name in names if name not in defined]
        if unknown:
            raise WorkflowError(
                f"config datasets.{analysis} names {', '.join(unknown)}, not defined under "
                f"{analysis}.datasets (defined: {', '.join(defined) or 'none'})"
            )
        config[analysis]["datasets"] = {name: defined[name] for name in names}


_select_datasets()


def get_datasets(analysis):
    """Names of the datasets of `analysis` that this run processes, in config order.

    All datasets of config[analysis]["datasets"], or only those listed in the top-level
    `datasets: {analysis: [names]}` selection (checked above). Empty when the analysis is off.
    """
    if not analysis_enabled(analysis):
        return []
    return list((config.get(analysis) or {}).get("datasets") or {})


def _data_mirror():
    mirror = config["data_mirror"]
    if mirror in (None, "", "auto"):
        sibling = Path(workflow.basedir).parent / "shared" / "data"
        return str(sibling) if sibling.is_dir() else None
    return str(Path(mirror).expanduser().resolve())


DATA_MIRROR = _data_mirror()
CHECKSUMS = collect_checksums(config)
DOWNLOADS = collect_downloads(
    config
)  # relative data path -> public URL (+ templates, input_path)
# relative data path -> error message (inputs without a local copy or a URL)
MISSING = {}
ALL_TARGETS = []


def analysis_enabled(name):
    """True when config[name] exists and its `enabled` key is true."""
    return bool((config.get(name) or {}).get("enabled", False))


def planning_only():
    """True while nothing will run: the Snakefile being parsed, a dry run (`-n`), or a DAG/report
    command (no executor). False in a real or `--touch` run once the DAG is being built.
    """
    return workflow.executor_plugin is None or workflow.dryrun


def input_path(value, url=None):
    """Resolve a configured input without touching the network.

    The path itself, else the same path under the data mirror, else (when a public `url` is
    configured) `resources/downloads/<path>`, which `rule download` fetches. An input with neither
    becomes `resources/missing/<path>`, the output of `rule missing_input` (which only fails, with
    the message below), so that a dry run lists it; in a real run it stops the workflow here,
    while the DAG is built, before any job runs, naming the path, the mirror and how to obtain it.
    """
    if value in (None, ""):
        return []
    found, tried = resolve_local(value, DATA_MIRROR)
    if found is not None:
        return str(found)
    relative = relative_data_path(value).as_posix()
    if url:
        DOWNLOADS[relative] = url
        return f"{DOWNLOAD_DIR}/{relative}"
    MISSING[relative] = missing_input_message(value, tried, DATA_MIRROR)
    if not planning_only():
        raise WorkflowError(MISSING[relative])
    return f"{MISSING_DIR}/{relative}"


def get_missing_input_message(wildcards):
    """The error of `resources/missing/<path>` (registered by input_path)."""
    if wildcards.path in MISSING:
        return MISSING[wildcards.path]
    return missing_input_message(
        wildcards.path, resolve_local(wildcards.path, DATA_MIRROR)[1], DATA_MIRROR
    )


def get_download_url(wildcards):
    """Public URL of `resources/downloads/<path>` (registered by input_path)."""
    if wildcards.path not in DOWNLOADS:
        raise WorkflowError(
            f"{DOWNLOAD_DIR}/{wildcards.path}: no configured input has this path and a URL"
        )
    return DOWNLOADS[wildcards.path]


def get_download_sha256(wildcards):
    """Expected sha256 of a download: `sha256` next to its url, or in a `sha256: {path: ...}` map."""
    url = get_download_url(wildcards)
    return CHECKSUMS.get(url) or CHECKSUMS.get(wildcards.path) or ""


# datasets below their analysis' minimum size stop the run here, before any job
check_dataset_sizes(config, input_path)


def training_settings(overrides=None):
    """Shared `training:` config merged with per-model overrides (None values ignored)."""
    merged = dict(config.get("training", {}))
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return merged
