"""The ancient-DNA sample sheet (tab-separated, one row per BAM).

Columns (``config/schemas/ancient_samples.schema.yaml`` is the formal schema):

    sample      unique name, safe characters only ([A-Za-z0-9][A-Za-z0-9_-]*): used in file names
    individual  the person/animal the sample comes from (splits are made by individual)
    bam         BAM path (absolute, relative to the working directory, or to the data mirror)
    reference   reference FASTA of the alignment, or empty to rebuild the reference from MD tags
    label       ancient | modern | unknown (unknown samples are scored, never trained on)
    library     double | single (-stranded library preparation)
    udg         none | half | full (uracil-DNA-glycosylase treatment)
    group       optional: stratum of the split and of class balancing (e.g. mtDNA / nuclear), so that
                each class has the same genomic composition; default "all"
"""

from __future__ import annotations

import os
import re

import pandas as pd

from genomelearn.errors import InputError

REQUIRED_COLUMNS = ["sample", "individual", "bam", "reference", "label", "library", "udg"]
OPTIONAL_COLUMNS = {"group": "all"}
LABELS = ("ancient", "modern", "unknown")
LIBRARIES = ("double", "single")
UDG = ("none", "half", "full")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # = genomelearn.validation.SAFE_NAME


def _read_rows(path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header fields and (physical line number, fields) of every data line: comment ('#') and
    blank lines are skipped but counted; CRLF line ends are accepted."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc})") from exc
    header, rows = None, []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if header is None:
            if len(fields) == 1 and len(line.split()) > 1:
                raise InputError(
                    f"{path} line {lineno}: the header has no tab (fields separated by spaces instead of "
                    "tabs?); the sample sheet must be tab-separated"
                )
            header = (lineno, fields)
            continue
        if len(fields) != len(header[1]):
            hint = (
                " (fields separated by spaces instead of tabs?)"
                if len(fields) == 1 and " " in line.strip()
                else ""
            )
            raise InputError(
                f"{path} line {lineno}: {len(fields)} tab-separated field(s), but the header (line {header[0]}) "
                f"has {len(header[1])}{hint}"
            )
        rows.append((lineno, fields))
    if header is None:
        raise InputError(f"{path}: sample sheet is empty (no header line)")
    return header[1], rows


def load_sample_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a sample sheet.

    Args:
        path: TSV with a header line; lines starting with '#' are comments; CRLF accepted.

    Returns:
        DataFrame with the required columns plus ``group``, all strings, ``reference`` "" when
        empty, index = sample.

    Raises:
        InputError: missing file or column, unknown column, empty sheet, a line with another
            number of fields than the header, unsafe or duplicate sample name, unsafe individual or
            group name, empty BAM path, bad label / library / udg value, or an individual whose
            samples disagree on the label. Messages name the file and the physical line number
            (comment and blank lines counted).
    """
    if not os.path.exists(path):
        raise InputError(f"{path}: sample sheet does not exist")
    columns, rows = _read_rows(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; required: {REQUIRED_COLUMNS}")
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS and c not in OPTIONAL_COLUMNS]
    if unknown:
        raise InputError(
            f"{path}: unknown column(s) {unknown}; allowed: {REQUIRED_COLUMNS + list(OPTIONAL_COLUMNS)}"
        )
    if not rows:
        raise InputError(f"{path}: sample sheet has no rows")
    sheet = pd.DataFrame([fields for _, fields in rows], columns=columns, dtype=str)
    lines = [lineno for lineno, _ in rows]
    for column, default in OPTIONAL_COLUMNS.items():
        if column not in sheet.columns:
            sheet[column] = default
        sheet[column] = sheet[column].replace("", default)
    first_line = {}
    for row, rec in zip(lines, sheet.itertuples(index=False)):
        where = f"{path} line {row} (sample {rec.sample!r})"
        if not SAFE_NAME.match(rec.sample):
            raise InputError(
                f"{where}: sample name must match {SAFE_NAME.pattern} (letters, digits, '_', '-'; no '.', '/', "
                "spaces or ';'): it names output files"
            )
        if rec.sample in first_line:
            raise InputError(
                f"{where}: duplicate sample name {rec.sample!r} (first on line {first_line[rec.sample]})"
            )
        first_line[rec.sample] = row
        for column in ("individual", "group"):
            value = getattr(rec, column)
            if not SAFE_NAME.match(value):
                raise InputError(f"{where}: {column} {value!r} must match {SAFE_NAME.pattern}")
        if not rec.bam:
            raise InputError(f"{where}: empty bam path")
        if rec.label not in LABELS:
            raise InputError(f"{where}: label {rec.label!r} is not one of {LABELS}")
        if rec.library not in LIBRARIES:
            raise InputError(f"{where}: library {rec.library!r} is not one of {LIBRARIES}")
        if rec.udg not in UDG:
            raise InputError(f"{where}: udg {rec.udg!r} is not one of {UDG}")
    labels = sheet.groupby("individual")["label"].nunique()
    mixed = labels[labels > 1]
    if len(mixed):
        raise InputError(
            f"{path}: individual(s) {list(mixed.index)} have samples with different labels"
        )
    return sheet.set_index("sample", drop=False)
