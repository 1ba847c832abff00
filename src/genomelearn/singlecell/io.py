"""Reading single-cell inputs: h5ad, CSV/TSV matrices, NumPy arrays + metadata; cell matching; labels.

Every problem with an input raises :class:`genomelearn.errors.InputError` whose message names the
dataset, the omic and the file (and the record: line, cell or feature) — before anything is written.

Supported per-omic inputs (``format``):

* ``h5ad`` — AnnData (anndata.read_h5ad); ``.X`` dense or sparse, cells = ``obs_names``.
* ``csv`` / ``tsv`` — a table with a header row and the row names in the first column (gzip allowed);
  ``orientation`` says whether rows are features (``features_x_cells``, e.g. Bioconductor / MOFA
  exports) or cells (``cells_x_features``). ``NA``/empty cells are missing values.
* ``npy`` — a 2-D numeric NumPy array (``np.load``, no pickles); ``npz`` — a scipy sparse matrix
  (``scipy.sparse.save_npz``). Cell IDs come from the dataset's metadata table (row order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genomelearn.errors import InputError

if TYPE_CHECKING:
    import anndata as ad

FORMATS = ("h5ad", "csv", "tsv", "npy", "npz")
ORIENTATIONS = ("cells_x_features", "features_x_cells")
MATCHING = ("strict", "intersect")
_MAX_LISTED = 20


def _listing(items, limit: int = _MAX_LISTED) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    return shown + (f" … (+{len(items) - limit} more)" if len(items) > limit else "")


def infer_format(path: str | os.PathLike) -> str:
    """Format from the file name: .h5ad, .csv(.gz), .tsv/.txt(.gz), .npy, .npz.

    Raises:
        InputError: for an unknown extension.
    """
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in (
        (".h5ad", "h5ad"),
        (".csv", "csv"),
        (".tsv", "tsv"),
        (".txt", "tsv"),
        (".npy", "npy"),
        (".npz", "npz"),
    ):
        if name.endswith(ext):
            return fmt
    raise InputError(
        f"{path}: cannot infer the format from the file name; set format to one of {FORMATS}"
    )


_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", r"\s+": "whitespace"}
_SNIFF_LINES = 50


def _head_lines(path: str | os.PathLike, n: int) -> list[str]:
    import gzip
    import itertools

    with open(path, "rb") as fh:
        magic = fh.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rt", newline="") as fh:
        return [line.rstrip("\r\n") for line in itertools.islice(fh, n)]


def _split(line: str, sep: str) -> list[str]:
    import re

    return re.split(sep, line.strip()) if sep == r"\s+" else line.split(sep)


def sniff_delimiter(path: str | os.PathLike, expected: str, where: str) -> str:
    """The delimiter of a text table: ``expected`` when it splits the header line, else another one
    (comma, tab, semicolon, runs of whitespace) when exactly one gives every one of the first 50
    non-empty lines the same number (> 1) of fields, give or take the empty corner cell of a header
    with row names. Quoted fields are not parsed here: a table whose header holds ``expected`` is
    always read with it.

    Returns:
        the delimiter, as a ``pandas.read_csv`` ``sep`` (``r"\\s+"`` for whitespace).

    Raises:
        InputError: no candidate, or several, fit: the message names the file, the expected
            delimiter and what the first line looks like.
    """
    try:
        lines = [line for line in _head_lines(path, _SNIFF_LINES) if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: cannot read {path} as text ({exc})") from exc
    if not lines:
        raise InputError(f"{where}: {path} is empty")
    if expected in lines[0]:
        return expected
    fits = []
    for sep in _DELIMITERS:
        widths = [len(_split(line, sep)) for line in lines]
        header, body = widths[0], set(widths[1:]) or {widths[0]}
        if len(body) == 1 and body.pop() in (header, header + 1) and max(widths) > 1:
            fits.append(sep)
    if len(fits) == 1:
        return fits[0]
    expected_name = _DELIMITERS.get(expected, repr(expected))
    where = where if str(path) in where else f"{where}: {path}"
    first = lines[0] if len(lines[0]) <= 60 else lines[0][:60] + "…"
    if not fits:
        raise InputError(
            f"{where} line 1 has no {expected_name} delimiter and no other delimiter "
            f"(comma, tab, semicolon, whitespace) splits its first {len(lines)} lines into the same number of "
            f"fields; first line: {first!r}"
        )
    raise InputError(
        f"{where} line 1 has no {expected_name} delimiter and the delimiter is ambiguous "
        f"({', '.join(_DELIMITERS[f] for f in fits)} all fit); set format or fix the file; first line: {first!r}"
    )


def column_names(path: str | os.PathLike, sep: str, n_columns: int | None = None) -> pd.Series:
    """Names in the header row of a table with row names, verbatim (pandas would rename repeats).

    The header's first field is the corner cell of the row names, unless the header has exactly
    ``n_columns`` fields (R ``write.table`` style, one field shorter than the data lines);
    ``n_columns`` None: the width of the second line minus one.
    """
    header = pd.read_csv(
        path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False
    ).iloc[0]
    if n_columns is None:
        lines = [line for line in _head_lines(path, 2) if line.strip()]
        n_columns = len(_split(lines[1], sep)) - 1 if len(lines) > 1 else len(header) - 1
    return (
        header.reset_index(drop=True)
        if len(header) == n_columns
        else header.iloc[1:].reset_index(drop=True)
    )


def _check_header_and_row_names(frame: pd.DataFrame, where: str) -> None:
    """A table read with a header row and row names: say which is missing when it looks so."""

    def numeric(values) -> bool:
        converted = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce")
        return len(converted) > 0 and bool(converted.notna().all())

    if numeric(frame.columns):
        raise InputError(
            f"{where}: line 1 holds only numbers ({_listing(list(frame.columns)[:5], 5)}), not a header of "
            "cell / feature names; the table needs a header row and row names in the first column"
        )
    index = pd.Series(frame.index.astype(str))
    if numeric(index) and index.str.contains(r"[.eE]").any():
        raise InputError(
            f"{where}: the first column holds numbers ({_listing(list(index)[:3], 3)}, ...), not row names; "
            "the table needs row names (cell or feature IDs) in the first column"
        )


def read_table(path: str | os.PathLike, where: str, sep: str | None = None) -> pd.DataFrame:
    """Read a metadata table (CSV or tab-separated, header row) as strings, keeping row order.

    Args:
        path: .csv/.tsv/.txt file (gzip allowed).
        where: prefix for error messages (e.g. ``"dataset scMT"``).
        sep: separator; default ``,`` for .csv(.gz), tab otherwise.

    Raises:
        InputError: unreadable or empty file.
    """
    if sep is None:
        expected = "," if str(path).lower().removesuffix(".gz").endswith(".csv") else "\t"
        sep = sniff_delimiter(path, expected, where) if os.path.isfile(path) else expected
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: cannot read table {path}: {exc}") from exc
    if table.empty:
        raise InputError(f"{where}: table {path} has no rows")
    if table.columns[0].startswith("Unnamed: 0"):  # R write.csv: empty header of the row names
        table = table.rename(columns={table.columns[0]: "_row"})
    return table


def _check_ids(ids: pd.Index, what: str, where: str) -> None:
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        raise InputError(f"{where}: duplicated {what} ID(s): {_listing(dup)}")
    missing = ids.isna() | (ids.astype(str).str.strip() == "")
    if missing.any():
        raise InputError(
            f"{where}: empty {what} ID at position(s) {_listing(np.flatnonzero(np.asarray(missing)))}"
        )


def _numeric_frame(frame: pd.DataFrame, where: str, rows_are: str) -> np.ndarray:
    """Float32 values of a table read as strings; InputError on the first non-numeric entry."""
    values = frame.apply(pd.to_numeric, errors="coerce")
    bad = values.isna().to_numpy() & frame.notna().to_numpy()
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(
            f"{where} line {r + 2} ({rows_are[:-1]} {frame.index[r]!s}), column {frame.columns[c]!s}: "
            f"non-numeric value {frame.iat[r, c]!r} ({int(bad.sum())} non-numeric value(s) in all)"
        )
    return values.to_numpy(dtype=np.float32)


def _validate_matrix(X, where: str, cells: pd.Index, features: pd.Index) -> None:
    """Finite or NaN values; no feature or cell that is missing everywhere."""
    if sp.issparse(X):
        data = X.data
        if not np.all(np.isfinite(data) | np.isnan(data)):
            raise InputError(f"{where}: infinite value(s) in the matrix")
        if np.isnan(data).any():
            raise InputError(
                f"{where}: NaN stored in a sparse matrix (missing values need a dense input)"
            )
        return
    X = np.asarray(X)
    if np.isinf(X).any():
        r, c = np.argwhere(np.isinf(X))[0]
        raise InputError(f"{where}: infinite value at cell {cells[r]}, feature {features[c]}")
    nan = np.isnan(X)
    if nan.any():
        empty_features = np.flatnonzero(nan.all(axis=0))
        if len(empty_features):
            raise InputError(
                f"{where}: {len(empty_features)} feature(s) missing in every cell: "
                f"{_listing(features[empty_features])}"
            )
        empty_cells = np.flatnonzero(nan.all(axis=1))
        if len(empty_cells):
            raise InputError(
                f"{where}: {len(empty_cells)} cell(s) with no observed value: {_listing(cells[empty_cells])}"
            )


def read_omic(
    path: str | os.PathLike,
    fmt: str | None = None,
    orientation: str = "cells_x_features",
    cell_ids: pd.Index | None = None,
    where: str = "",
) -> ad.AnnData:
    """Read one omic's matrix as AnnData (cells × features), validated.

    Args:
        path: input file.
        fmt: one of :data:`FORMATS` (default: from the extension).
        orientation: ``cells_x_features`` or ``features_x_cells`` (csv/tsv/npy/npz).
        cell_ids: cell IDs in row (or column, for features_x_cells) order; required for npy/npz,
            ignored for h5ad/csv/tsv which carry their own IDs.
        where: prefix of error messages (dataset and omic).

    Returns:
        AnnData with float32 ``.X`` (CSR when the input is sparse; NaN = missing in dense input),
        string ``obs_names`` (cells) and ``var_names`` (features; ``f0, f1, …`` for arrays).

    Raises:
        InputError: unreadable file, non-numeric value (with its line), wrong shape, duplicated cell
            IDs, infinite values, a feature or cell with no observed value.
    """
    import anndata as ad

    fmt = fmt or infer_format(path)
    where = f"{where} file {path}".strip()
    if fmt not in FORMATS:
        raise InputError(f"{where}: unknown format {fmt!r}; expected one of {FORMATS}")
    if orientation not in ORIENTATIONS:
        raise InputError(
            f"{where}: unknown orientation {orientation!r}; expected one of {ORIENTATIONS}"
        )
    try:
        if fmt == "h5ad":
            adata = ad.read_h5ad(path)
            X = adata.X
            if X is None:
                raise InputError(f"{where}: the AnnData has no .X matrix")
            if sp.issparse(X):
                X = sp.csr_matrix(X, dtype=np.float32)
            else:
                X = np.asarray(X)
                if not np.issubdtype(X.dtype, np.number):
                    raise InputError(f"{where}: .X has non-numeric dtype {X.dtype}")
                X = X.astype(np.float32)
            cells = pd.Index(adata.obs_names.astype(str))
            features = pd.Index(adata.var_names.astype(str))
            obs = adata.obs.copy()
            obs.index = cells
        elif fmt in ("csv", "tsv"):
            sep = sniff_delimiter(path, "," if fmt == "csv" else "\t", where)
            frame = pd.read_csv(path, sep=sep, index_col=0, dtype=str)
            if frame.shape[0] == 0 or frame.shape[1] == 0:
                raise InputError(
                    f"{where}: empty table ({frame.shape[0]} data row(s), {frame.shape[1]} column(s) after "
                    f"the row names; delimiter {_DELIMITERS.get(sep, sep)})"
                )
            _check_header_and_row_names(frame, where)
            # pandas renames repeated header names (c1, c1.1): take the header row verbatim
            header = column_names(path, sep, frame.shape[1])
            frame.index = frame.index.astype(str)
            frame.columns = pd.Index(header.fillna("").astype(str).to_numpy())
            rows_are = "features" if orientation == "features_x_cells" else "cells"
            values = _numeric_frame(frame, where, rows_are)
            if orientation == "features_x_cells":
                X, cells, features = values.T.copy(), frame.columns, frame.index
            else:
                X, cells, features = values, frame.index, frame.columns
            obs = pd.DataFrame(index=cells)
        else:
            if fmt == "npy":
                X = np.load(path, allow_pickle=False)
                if X.ndim != 2:
                    raise InputError(f"{where}: expected a 2-D array, got shape {X.shape}")
                if not np.issubdtype(X.dtype, np.number):
                    raise InputError(f"{where}: non-numeric array dtype {X.dtype}")
                X = X.astype(np.float32)
            else:
                X = sp.load_npz(path).tocsr().astype(np.float32)
            if orientation == "features_x_cells":
                X = X.T.tocsr() if sp.issparse(X) else X.T.copy()
            if cell_ids is None:
                raise InputError(
                    f"{where}: {fmt} input needs cell IDs (set the dataset's metadata table)"
                )
            if len(cell_ids) != X.shape[0]:
                raise InputError(
                    f"{where}: {X.shape[0]} rows (cells) but the metadata table lists {len(cell_ids)} cell IDs"
                )
            cells = pd.Index(cell_ids).astype(str)
            features = pd.Index([f"f{i}" for i in range(X.shape[1])])
            obs = pd.DataFrame(index=cells)
    except InputError:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
    ) as exc:
        raise InputError(f"{where}: cannot read: {exc}") from exc
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{where}: empty matrix of shape {X.shape}")
    _check_ids(pd.Index(cells), "cell", where)
    features = pd.Index(features)
    if features.duplicated().any():
        features = pd.Index(ad.utils.make_index_unique(features.astype(str)))
    _validate_matrix(X, where, pd.Index(cells), features)
    out = ad.AnnData(X=X, obs=obs)
    out.obs_names = pd.Index(cells).astype(str)
    out.var_names = features.astype(str)
    return out


def match_cells(
    omics: Mapping[str, ad.AnnData], mode: str = "strict", where: str = ""
) -> tuple[dict, dict]:
    """Align the omics of a dataset on their cell IDs.

    Args:
        omics: omic name → AnnData (cells as ``obs_names``).
        mode: ``"strict"`` — every omic must hold exactly the same cell IDs (any order);
            ``"intersect"`` — keep the cells present in every omic (the caller logs the dropped IDs).
        where: prefix of error messages (dataset name).

    Returns:
        (aligned omics in the first omic's cell order, dropped IDs per omic: {omic: [ids]}).

    Raises:
        InputError: strict mode with unmatched IDs (the message lists them per omic), or no cell in
            common.
    """
    if mode not in MATCHING:
        raise InputError(f"{where}: unknown cell_matching {mode!r}; expected one of {MATCHING}")
    names = list(omics)
    first = omics[names[0]].obs_names
    common = set(first)
    for name in names[1:]:
        common &= set(omics[name].obs_names)
    dropped = {name: [c for c in omics[name].obs_names if c not in common] for name in names}
    if any(dropped.values()) and mode == "strict":
        parts = [f"{name}: {len(ids)} ({_listing(ids)})" for name, ids in dropped.items() if ids]
        raise InputError(
            f"{where}: cell IDs differ between omics ({len(common)} shared); IDs not present in every omic — "
            + "; ".join(parts)
            + ". Fix the inputs or set cell_matching: intersect to keep only the shared cells."
        )
    if not common:
        raise InputError(f"{where}: no cell ID is shared by all omics {names}")
    order = [c for c in first if c in common]
    return {name: omics[name][order].copy() for name in names}, dropped


@dataclass
class Dataset:
    """A loaded dataset: aligned omics and optional labels.

    Attributes:
        name: dataset name.
        omics: omic name → AnnData (same cells, same order).
        labels: pd.Series of str (index = cell IDs, NaN = unlabelled) or None.
        dropped: cells dropped by intersect matching, per omic.
    """

    name: str
    omics: dict
    labels: pd.Series | None
    dropped: dict = field(default_factory=dict)

    @property
    def cells(self) -> pd.Index:
        return next(iter(self.omics.values())).obs_names


def _ids_from_table(table: pd.DataFrame, id_column: str | None, path, where: str) -> pd.Index:
    col = id_column or table.columns[0]
    if col not in table.columns:
        raise InputError(
            f"{where}: ID column {col!r} not in {path} (columns: {_listing(table.columns)})"
        )
    ids = pd.Index(table[col].astype(str))
    _check_ids(ids, "cell", f"{where} file {path}")
    return ids


def load_dataset(name: str, spec: Mapping, resolve: Callable[[str], str] = str) -> Dataset:
    """Load and validate every input of one dataset of the config.

    Args:
        name: dataset name (used in messages).
        spec: the dataset's config block: ``omics`` ({omic: {path, format, orientation, …}}),
            optional ``metadata`` ({path, id_column}: cell IDs in row order for npy/npz inputs, and a
            source of labels), optional ``labels`` ({column, path, id_column}), ``cell_matching``.
        resolve: maps a configured path to a readable local path (the workflow's ``input_path``).

    Returns:
        :class:`Dataset`.

    Raises:
        InputError: any input problem (see :func:`read_omic`, :func:`match_cells`), an absent labels
            column (the message lists the columns present), cells missing from the labels table.
    """
    where = f"dataset {name}"
    meta_ids = None
    meta_table = None
    meta_path = None
    if spec.get("metadata"):
        meta_path = resolve(spec["metadata"]["path"])
        meta_table = read_table(meta_path, where)
        meta_ids = _ids_from_table(meta_table, spec["metadata"].get("id_column"), meta_path, where)
        meta_table.index = meta_ids
    omics = {}
    paths = {}
    for omic, ospec in spec["omics"].items():
        path = resolve(ospec["path"])
        paths[omic] = path
        omics[omic] = read_omic(
            path,
            fmt=ospec.get("format"),
            orientation=ospec.get("orientation", "cells_x_features"),
            cell_ids=meta_ids,
            where=f"{where} omic {omic}",
        )
    aligned, dropped = match_cells(omics, spec.get("cell_matching", "strict"), where)
    labels = None
    lspec = spec.get("labels")
    if lspec:
        column = lspec["column"]
        if lspec.get("path"):
            lpath = resolve(lspec["path"])
            table = read_table(lpath, where)
            table.index = _ids_from_table(table, lspec.get("id_column"), lpath, where)
            sources = [(lpath, table)]
        elif meta_table is not None:
            sources = [(meta_path, meta_table)]
        else:
            sources = [(paths[o], omics[o].obs) for o in aligned]
        found = [(p, t) for p, t in sources if column in t.columns]
        if not found:
            present = sorted({str(c) for _, t in sources for c in t.columns})
            raise InputError(
                f"{where}: labels column {column!r} not found in {', '.join(str(p) for p, _ in sources)} "
                f"(columns: {_listing(present) or 'none'})"
            )
        lpath, table = found[0]
        cells = next(iter(aligned.values())).obs_names
        missing = cells[~cells.isin(table.index)]
        if len(missing):
            raise InputError(
                f"{where}: {len(missing)} cell(s) absent from labels file {lpath}: {_listing(missing)}"
            )
        raw = table.loc[cells, column]
        labels = pd.Series(
            [str(v) if pd.notna(v) else np.nan for v in raw],
            index=cells,
            name=column,
            dtype=object,
        )
        if labels.notna().sum() == 0:
            raise InputError(
                f"{where}: labels column {column!r} in {lpath} is empty for every cell"
            )
    return Dataset(
        name=name, omics=aligned, labels=labels, dropped={k: v for k, v in dropped.items() if v}
    )
