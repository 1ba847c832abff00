"""Reading and validating the tables of a bulk deconvolution: counts, signatures, measured fractions.

All readers take tab-separated (``.tsv``/``.txt``, optionally ``.gz``) or comma-separated
(``.csv``) text with one header line. The first column holds the row names (genes or samples).
R's ``write.table`` layout, whose header has one field fewer than the data rows (no name for the
row-name column), is accepted too: it is how PredictFiberType (Oskolkov et al. 2022) ships its
``bulk_expr.txt`` and ``signatures_matrix.txt``.

Every problem raises :class:`genomelearn.errors.InputError` naming the file and the line, gene or
sample at fault; nothing is silently dropped.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from genomelearn.errors import InputError

__all__ = [
    "read_matrix",
    "read_bulk_counts",
    "read_signature",
    "read_measured",
    "read_markers",
    "write_tsv",
]


def _open_text(path: Path):
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt")
    return open(path, "rt")


def _separator(path: Path) -> str:
    name = str(path).lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def read_matrix(path: str | os.PathLike, what: str = "matrix") -> pd.DataFrame:
    """Read a numeric table with row names in the first column.

    Args:
        path: TSV/TXT/CSV file (``.gz`` allowed). Header: column names, optionally preceded by a
            name for the row-name column (both layouts accepted).
        what: word used in error messages ("bulk counts", "signature", ...).

    Returns:
        DataFrame of float64, index = row names (str), columns = column names (str), in file order.

    Raises:
        InputError: missing/empty file, ragged rows, duplicate row or column names, empty or
            non-numeric cells, infinite values. The message names the file, the line number
            (1-based, header = line 1) and the column.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} file not found")
    sep = _separator(path)
    with _open_text(path) as handle:
        text = handle.read()
    lines = [line for line in text.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise InputError(f"{path}: {what} file needs a header line and at least one data line")
    header = lines[0].split(sep)
    first = lines[1].split(sep)
    if len(header) == len(first) - 1:  # R write.table layout: no name for the row-name column
        columns = [c.strip().strip('"') for c in header]
    elif len(header) == len(first):
        columns = [c.strip().strip('"') for c in header[1:]]
    else:
        raise InputError(
            f"{path} line 2: {len(first)} fields but the header has {len(header)} "
            f"(separator {sep!r})"
        )
    if not columns:
        raise InputError(f"{path} line 1: no data columns in the header")
    seen: dict[str, int] = {}
    for i, col in enumerate(columns):
        if col in seen:
            raise InputError(
                f"{path} line 1: duplicate column name {col!r} (columns {seen[col] + 2} and {i + 2})"
            )
        seen[col] = i
    _check_field_counts(lines[1:], sep, len(columns) + 1, path)
    frame = pd.read_csv(
        io.StringIO("\n".join(lines[1:])),
        sep=sep,
        header=None,
        dtype=str,
        keep_default_na=False,
        names=["__row__", *columns],
        index_col=False,
        engine="c",
    )
    names = frame["__row__"].str.strip()
    dup = names.duplicated(keep=False)
    if dup.any():
        first_dup = names[dup].iloc[0]
        where = [str(i + 2) for i in np.flatnonzero(names.to_numpy() == first_dup)]
        raise InputError(
            f"{path} lines {', '.join(where)}: duplicate row name {first_dup!r} "
            f"({int(names.duplicated().sum())} duplicated names in all; make them unique or sum them first)"
        )
    empty_name = names == ""
    if empty_name.any():
        raise InputError(f"{path} line {int(np.flatnonzero(empty_name)[0]) + 2}: empty row name")
    raw = frame[columns]
    values = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        cell = raw.iat[r, c]
        reason = "empty cell" if cell.strip() == "" else f"non-numeric value {cell!r}"
        raise InputError(
            f"{path} line {r + 2}, column {columns[c]!r} (row {names.iat[r]!r}): {reason} in {what}"
            f" ({int(bad.sum())} such cells in all)"
        )
    return pd.DataFrame(
        values, index=pd.Index(names.to_numpy(), name=None), columns=pd.Index(columns)
    )


def _check_field_counts(lines: list[str], sep: str, n_fields: int, path: Path) -> None:
    counts = np.fromiter((line.count(sep) + 1 for line in lines), dtype=np.int64, count=len(lines))
    wrong = np.flatnonzero(counts != n_fields)
    if wrong.size:
        i = int(wrong[0])
        raise InputError(f"{path} line {i + 2}: {counts[i]} fields, expected {n_fields}")


def _check_nonnegative(frame: pd.DataFrame, path: Path, what: str) -> None:
    values = frame.to_numpy()
    neg = values < 0
    if neg.any():
        r, c = np.argwhere(neg)[0]
        raise InputError(
            f"{path} line {r + 2}, column {frame.columns[c]!r} (gene {frame.index[r]!r}): negative value "
            f"{values[r, c]:g} in {what} ({int(neg.sum())} negative cells in all)"
        )


def read_bulk_counts(path: str | os.PathLike) -> pd.DataFrame:
    """Read a bulk RNA-seq matrix, genes x samples (raw counts or a normalised, non-negative scale).

    Args:
        path: table with genes as rows (first column: gene symbol) and samples as columns.

    Returns:
        DataFrame float64 (genes, samples), index = gene names, columns = sample IDs (str).

    Raises:
        InputError: any :func:`read_matrix` error; negative values; a sample with zero total.
    """
    path = Path(path)
    frame = read_matrix(path, "bulk counts")
    _check_nonnegative(frame, path, "bulk counts")
    totals = frame.sum(axis=0).to_numpy()
    empty = np.flatnonzero(totals <= 0)
    if empty.size:
        shown = ", ".join(f"{frame.columns[i]!r} (column {i + 2})" for i in empty[:5])
        raise InputError(
            f"{path}: sample(s) {shown}{' ...' if empty.size > 5 else ''} have no counts at all "
            f"(every value is 0; {empty.size} such sample(s)); remove them or fix the export"
        )
    return frame


def read_signature(path: str | os.PathLike) -> pd.DataFrame:
    """Read a signature matrix, marker genes x cell types (mean expression, non-negative).

    Args:
        path: table with genes as rows and one column per cell type.

    Returns:
        DataFrame float64 (genes, cell types).

    Raises:
        InputError: any :func:`read_matrix` error; negative values; fewer genes than cell types;
            a cell type whose column is constant (no information after DeconRNASeq's scaling).
    """
    path = Path(path)
    frame = read_matrix(path, "signature")
    _check_nonnegative(frame, path, "signature")
    if frame.shape[0] <= frame.shape[1]:
        raise InputError(
            f"{path}: {frame.shape[0]} genes for {frame.shape[1]} cell types; a signature needs more "
            "genes than cell types"
        )
    constant = frame.columns[frame.std(axis=0).to_numpy() == 0]
    if len(constant):
        raise InputError(
            f"{path}: cell type column(s) {', '.join(constant)} are constant over genes"
        )
    return frame


def read_measured(
    path: str | os.PathLike, columns: dict[str, str] | None, cell_types: list[str]
) -> pd.DataFrame:
    """Read measured cell-type fractions (e.g. fibre-type fractions from myosin heavy chain protein).

    Args:
        path: table, one row per sample (first column: sample ID), one column per measured fraction.
        columns: {column in the file: cell type in the signature}; None or empty: use the file's
            columns that are named like a cell type.
        cell_types: cell types of the signature (the allowed targets of ``columns``).

    Returns:
        DataFrame float64 (samples, measured cell types), columns renamed to cell types; values in
        [0, 1].

    Raises:
        InputError: read errors; a mapped column absent from the file; a target that is not a cell
            type; no usable column; a fraction outside [0, 1] (the message suggests dividing
            percentages by 100).
    """
    path = Path(path)
    frame = read_matrix(path, "measured fractions")
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"{path} line 1: column(s) {', '.join(missing)} not in the header "
                f"(columns: {', '.join(frame.columns)})"
            )
        unknown = [t for t in columns.values() if t not in cell_types]
        if unknown:
            raise InputError(
                f"{path}: measured column(s) mapped to unknown cell type(s) {', '.join(unknown)} "
                f"(signature cell types: {', '.join(cell_types)})"
            )
        frame = frame[list(columns)].rename(columns=columns)
    else:
        keep = [c for c in frame.columns if c in cell_types]
        if not keep:
            raise InputError(
                f"{path} line 1: no column named like a cell type ({', '.join(cell_types)}); "
                "map the columns with `measured_columns`"
            )
        frame = frame[keep]
    values = frame.to_numpy()
    out = (values < 0) | (values > 1)
    if out.any():
        r, c = np.argwhere(out)[0]
        raise InputError(
            f"{path} line {r + 2}, sample {frame.index[r]!r}: fraction {values[r, c]:g} outside [0, 1] "
            "(give fractions, not percentages)"
        )
    return frame


def read_markers(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a marker table: two columns ``cluster`` and ``gene`` (header required), one marker a line.

    Returns:
        {cluster: [genes in file order]}.

    Raises:
        InputError: missing columns, empty cells, or the same gene listed twice for one cluster.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: marker file not found")
    table = pd.read_csv(path, sep=_separator(path), dtype=str, keep_default_na=False)
    for col in ("cluster", "gene"):
        if col not in table.columns:
            raise InputError(
                f"{path} line 1: column {col!r} missing (columns: {', '.join(table.columns)})"
            )
    markers: dict[str, list[str]] = {}
    for i, (cluster, gene) in enumerate(zip(table["cluster"], table["gene"]), start=2):
        if not cluster.strip() or not gene.strip():
            raise InputError(f"{path} line {i}: empty cluster or gene")
        genes = markers.setdefault(cluster.strip(), [])
        if gene.strip() in genes:
            raise InputError(
                f"{path} line {i}: gene {gene!r} listed twice for cluster {cluster!r}"
            )
        genes.append(gene.strip())
    if not markers:
        raise InputError(f"{path}: no markers")
    return markers


def write_tsv(frame: pd.DataFrame, path: str | os.PathLike, index: bool = False) -> None:
    """Write a table as TSV (creating the directory), floats with 15 significant digits."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index=index, float_format="%.15g")
