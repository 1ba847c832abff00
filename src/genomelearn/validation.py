"""Config checks that run when the workflow is parsed, before any job: short schema errors, safe
names, datasets too small for the analysis, and the rule that model files are loaded only from
the run's own results.

* :func:`validate_config` validates a config block against its JSON schema (filling in the
  schema's defaults, as :func:`snakemake.utils.validate` does) and turns violations into a few
  lines — key path, offending value, allowed values — instead of Snakemake's dump of the schema.
* :func:`check_dataset_sizes` counts the cells of every single-cell dataset and the individuals of
  the ancient-DNA sample sheet from their headers / indexes (no matrix is read) and stops the run
  when a dataset is below the minimum that its analysis needs.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from genomelearn.errors import InputError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
"""Dataset, sample and model names: used as file and directory names, so no '.', '..', '/',
spaces or shell metacharacters."""

MAX_ERRORS = 5


def check_name(name: str, what: str = "name", where: str = "") -> str:
    """Return ``name`` if it matches :data:`SAFE_NAME`.

    Raises:
        InputError: ``"<where>: <what> '../x' is not a safe name ..."``.
    """
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        prefix = f"{where}: " if where else ""
        raise InputError(
            f"{prefix}{what} {name!r} is not a safe name: it must match {SAFE_NAME.pattern} "
            "(letters, digits, '_' and '-'; no '.', '/', spaces or other characters), "
            "because it names files and directories"
        )
    return name


def own_result(path: str | os.PathLike, root: str = "results") -> Path:
    """``path`` if it lies under ``root`` (relative to the working directory) after resolving
    symbolic links and ``..``: the only place model bundles and joblib files are loaded from.

    Raises:
        InputError: for a path outside ``root``.
    """
    resolved = Path(path).resolve()
    base = Path(root).resolve()
    if resolved != base and base not in resolved.parents:
        raise InputError(
            f"{path}: refusing to load a model file from outside this run's {root}/ directory"
        )
    return Path(path)


# ------------------------------------------------------------------------------------ schemas
def _load_schema(schema_path: str | os.PathLike) -> dict:
    import yaml

    with open(schema_path) as fh:
        return yaml.safe_load(fh)


def _validator(schema: dict):
    """Draft 2020-12 validator that also fills in ``default`` values (like Snakemake's)."""
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        for name, prop in properties.items():
            if "default" in prop and isinstance(instance, dict):
                instance.setdefault(name, copy.deepcopy(prop["default"]))
        yield from validate_properties(validator, properties, instance, subschema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})(schema)


def _key_path(section: str, path) -> str:
    parts = [section] if section else []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else str(p))
    return ".".join(parts).replace(".[", "[") or "(top level)"


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(error, section: str) -> str:
    """One or two lines for one :class:`jsonschema.ValidationError`."""
    where = _key_path(section, error.absolute_path)
    kind, schema = error.validator, error.schema
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        hints = []
        for key in extra:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return f"{where}: unknown key {', '.join(hints)}; allowed keys: {', '.join(allowed) or 'none'}"
    if "propertyNames" in error.relative_schema_path or "propertyNames" in error.schema_path:
        return (
            f"{where}: name {_short(error.instance)} is not allowed: names must match "
            f"{schema.get('pattern', error.validator_value)!s} (letters, digits, '_' and '-'; "
            "no '.', '/', spaces), because they name files and directories"
        )
    if kind == "enum":
        return f"{where}: {_short(error.instance)} is not allowed; allowed values: {', '.join(map(repr, error.validator_value))}"
    if kind == "required":
        missing = [
            k
            for k in error.validator_value
            if isinstance(error.instance, dict) and k not in error.instance
        ]
        return f"{where}: missing required key(s) {', '.join(map(repr, missing))}"
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{where}: {_short(error.instance)} has the wrong type; expected {expected}"
    if kind == "pattern":
        return (
            f"{where}: {_short(error.instance)} does not match the pattern {error.validator_value}"
        )
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {
            "minimum": ">=",
            "maximum": "<=",
            "exclusiveMinimum": ">",
            "exclusiveMaximum": "<",
        }[kind]
        return f"{where}: {_short(error.instance)} is out of range; must be {word} {error.validator_value}"
    if kind in ("oneOf", "anyOf") and error.context:
        options = []
        for sub in error.context:
            if sub.validator == "const":
                options.append(repr(sub.validator_value))
            elif sub.validator == "type":
                options.append(f"a value of type {sub.validator_value}")
            elif sub.validator == "enum":
                options.extend(map(repr, sub.validator_value))
            else:
                options.append(sub.message)
        return f"{where}: {_short(error.instance)} is not allowed; allowed: {'; '.join(dict.fromkeys(options))}"
    return f"{where}: {error.message[:300]}"


def schema_errors(data, schema_path: str | os.PathLike, section: str = "") -> list[str]:
    """Violations of ``schema_path`` by ``data``, one short line each (defaults are filled into
    ``data`` in place, as Snakemake's ``validate`` does). Empty list: valid."""
    validator = _validator(_load_schema(schema_path))
    errors = sorted(
        validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.validator)
    )
    return [_describe(e, section) for e in errors]


def validate_config(data, schema_path: str | os.PathLike, section: str = "") -> None:
    """Validate (and fill defaults into) a config block; raise a short error on violations.

    Args:
        data: the config mapping (``config`` or ``config["introgression"]``); changed in place.
        schema_path: YAML JSON-schema file.
        section: key path of ``data`` in the config (``"introgression"``), for the messages.

    Raises:
        snakemake.exceptions.WorkflowError: at most :data:`MAX_ERRORS` lines such as
            ``introgression.windows: unknown key 'max_windows_per_clas' (did you mean
            'max_windows_per_class'?); allowed keys: length, max_n_fraction, ...``.
    """
    from snakemake.exceptions import WorkflowError

    lines = schema_errors(data, schema_path, section)
    if lines:
        shown = lines[:MAX_ERRORS] + (
            [f"... and {len(lines) - MAX_ERRORS} more"] if len(lines) > MAX_ERRORS else []
        )
        raise WorkflowError(
            f"invalid config ({len(lines)} problem{'s' if len(lines) > 1 else ''}; schema {Path(schema_path).name}):\n  "
            + "\n  ".join(shown)
        )


# ------------------------------------------------------------------------------- dataset sizes
def min_cells(n_neighbors: int) -> int:
    """Smallest single-cell dataset analysed: 3 × ``n_neighbors`` cells.

    With n cells a random embedding already shares k/(n-1) of each cell's k nearest neighbours
    with the input space; below 3k cells that chance level exceeds 1/3 and reaches 1 at n = k + 1,
    so k-NN preservation, and the kNN graphs of Leiden and UMAP, carry no information.
    """
    return 3 * int(n_neighbors)


def _h5ad_cell_ids(path):
    import h5py
    import pandas as pd

    with h5py.File(path, "r") as fh:
        obs = fh["obs"]
        if isinstance(obs, h5py.Dataset):  # anndata < 0.7: obs is a compound dataset
            values = obs["index"]
        else:
            values = obs[obs.attrs.get("_index", "_index")][()]
    return pd.Index([v.decode() if isinstance(v, bytes) else str(v) for v in values])


def _cell_ids(path: str, fmt: str, orientation: str, meta_ids, where: str):
    """Cell IDs of one omic (or a RangeIndex of its cell count), reading headers / shapes only."""
    import numpy as np
    import pandas as pd

    from genomelearn.singlecell import io as sc_io

    if fmt == "h5ad":
        return _h5ad_cell_ids(path)
    if fmt in ("csv", "tsv"):
        sep = sc_io.sniff_delimiter(path, "," if fmt == "csv" else "\t", where)
        if orientation == "features_x_cells":
            return pd.Index(sc_io.column_names(path, sep).fillna("").astype(str).to_numpy())
        column = pd.read_csv(path, sep=sep, usecols=[0], dtype=str).iloc[:, 0]
        return pd.Index(column.astype(str).to_numpy())
    if fmt == "npy":
        shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
    else:
        with np.load(path, allow_pickle=False) as npz:
            shape = tuple(npz["shape"])
    n = shape[1] if orientation == "features_x_cells" and len(shape) == 2 else shape[0]
    return meta_ids if meta_ids is not None and len(meta_ids) == n else pd.RangeIndex(n)


class _NotLocalYet(Exception):
    """An input resolved to a file that a job will download (or that is missing): not checked."""


def _local(path: str) -> str:
    if not Path(path).exists():
        raise _NotLocalYet(path)
    return path


def singlecell_size_errors(sc: Mapping, resolve: Callable[[str, str | None], str]) -> list[str]:
    """Problems of every single-cell dataset that can be seen without reading its matrices:
    duplicated cell IDs, and fewer cells than :func:`min_cells` (after cell matching).

    A dataset with an input not on disk yet (to be downloaded by a job, or missing: see the
    workflow's ``input_path``) is skipped: it is checked by the first run (or dry run) that finds
    it on disk."""
    from genomelearn.singlecell import io as sc_io

    n_neighbors = int(sc["n_neighbors"])  # schema default filled in by validate_config
    need = min_cells(n_neighbors)
    problems = []
    for name, spec in (sc.get("datasets") or {}).items():
        where = f"dataset {name}"
        try:
            meta_ids = None
            if spec.get("metadata"):
                meta_path = _local(resolve(spec["metadata"]["path"], spec["metadata"].get("url")))
                table = sc_io.read_table(meta_path, where)
                meta_ids = sc_io._ids_from_table(
                    table, spec["metadata"].get("id_column"), meta_path, where
                )
            counts, common = {}, None
            for omic, ospec in spec["omics"].items():
                path = _local(resolve(ospec["path"], ospec.get("url")))
                fmt = ospec.get("format") or sc_io.infer_format(path)
                owhere = f"{where} omic {omic} file {path}"
                ids = _cell_ids(
                    path, fmt, ospec.get("orientation") or "cells_x_features", meta_ids, owhere
                )
                sc_io._check_ids(ids, "cell", owhere)
                counts[omic] = len(ids)
                common = set(ids) if common is None else common & set(ids)
        except _NotLocalYet:
            continue
        except InputError as exc:
            problems.append(str(exc))
            continue
        except (OSError, KeyError, ValueError) as exc:  # unreadable: the rule's own checks name it
            problems.append(f"{where}: cannot count its cells ({type(exc).__name__}: {exc})")
            continue
        n_cells = len(common) if len(counts) > 1 else next(iter(counts.values()))
        if len(counts) > 1 and n_cells == 0:
            problems.append(
                f"{where}: no cell ID is shared by all omics ({', '.join(f'{o}: {c} cells' for o, c in counts.items())}); "
                "the omics must name the same cells"
            )
        elif n_cells < need:
            per_omic = ", ".join(f"{o}: {c}" for o, c in counts.items())
            shared = f"; {n_cells} shared by all omics" if len(counts) > 1 else ""
            problems.append(
                f"{where}: {n_cells} cell(s) ({per_omic}{shared}), fewer than the {need} needed for "
                f"n_neighbors {n_neighbors} (3 x n_neighbors: below that the kNN graphs and the k-NN "
                "preservation metric are close to trivial); add cells or lower singlecell.n_neighbors"
            )
    return problems


def adna_size_errors(sheet, fractions, sheet_path: str) -> list[str]:
    """Too few individuals for the individual-level split: every split with a positive fraction
    (train / validation / test) needs at least one ancient and one modern individual, so each class
    needs as many individuals as there are such splits."""
    n_splits = sum(1 for f in fractions if f > 0)
    problems = []
    for label in ("ancient", "modern"):
        n = sheet.loc[sheet["label"] == label, "individual"].nunique()
        if n < n_splits:
            problems.append(
                f"{sheet_path}: {n} {label} individual(s), fewer than the {n_splits} splits with a positive "
                f"fraction {list(fractions)} (splits are made by individual; each needs both classes)"
            )
    return problems


def check_adna_split(sheet, adna: Mapping, sheet_path) -> list:
    """Input function of the rule ``ancient_dna_splits``: evaluated when the DAG is built, so a
    sample sheet with too few individuals stops the run before any job (and only when a requested
    target needs the split). Returns ``[]`` (no extra input files).

    Raises:
        snakemake.exceptions.WorkflowError: from :func:`adna_size_errors`.
    """
    from snakemake.exceptions import WorkflowError

    problems = adna_size_errors(sheet, adna["split"]["fractions"], str(sheet_path))
    if problems:
        raise WorkflowError("too few individuals (nothing was run):\n  " + "\n  ".join(problems))
    return []


def check_dataset_sizes(config: Mapping, resolve: Callable[[str, str | None], str]) -> None:
    """Stop before any job runs when an enabled single-cell dataset is below its minimum size
    (:func:`singlecell_size_errors`; the ancient-DNA individuals are checked by
    :func:`check_adna_split`).

    Raises:
        snakemake.exceptions.WorkflowError: listing every dataset, with its counts.
    """
    from snakemake.exceptions import WorkflowError

    sc = config.get("singlecell") or {}
    problems = singlecell_size_errors(sc, resolve) if sc.get("enabled") else []
    if problems:
        raise WorkflowError(
            "input too small or invalid (nothing was run):\n  " + "\n  ".join(problems)
        )
