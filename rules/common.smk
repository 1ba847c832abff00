# Shared helpers: config validation, input resolution (path -> data mirror -> public URL), targets.
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from genomelearn.errors import InputError
from genomelearn.io.inputs import resolve_input
from genomelearn.validation import (
    check_adna_split,
    check_dataset_sizes,
    validate_config,
)

ANALYSES = ["introgression", "ancient_dna", "singlecell", "deconvolution"]

validate_config(
    config, Path(workflow.basedir) / "config" / "schemas" / "config.schema.yaml"
)
for _analysis in ANALYSES:
    _schema = Path(workflow.basedir) / "config" / "schemas" / f"{_analysis}.schema.yaml"
    if _analysis in config and _schema.exists():
        validate_config(config[_analysis], _schema, _analysis)


def _data_mirror():
    mirror = config.get("data_mirror")
    if mirror in (None, "", "auto"):
        sibling = Path(workflow.basedir).parent / "shared" / "data"
        return str(sibling) if sibling.is_dir() else None
    return str(Path(mirror).expanduser().resolve())


DATA_MIRROR = _data_mirror()
ALL_TARGETS = []


def analysis_enabled(name):
    """True when config[name] exists and its `enabled` key is true."""
    return bool(config.get(name, {}).get("enabled", False))


def input_path(value, url=None):
    """Resolve a configured input: the path itself, else under the data mirror, else download `url`.

    Raises a clear error naming the path, the mirror and the URL when none works.
    """
    if value in (None, ""):
        return []
    try:
        return str(resolve_input(value, mirror=DATA_MIRROR, url=url))
    except InputError as exc:
        raise WorkflowError(str(exc))


# datasets below their analysis' minimum size stop the run here, before any job
check_dataset_sizes(config, input_path)


def training_settings(overrides=None):
    """Shared `training:` config merged with per-model overrides (None values ignored)."""
    merged = dict(config.get("training", {}))
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return merged
