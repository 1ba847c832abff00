"""The ancient-DNA sample sheet (tab-separated, one row per BAM).

Columns (``config/schemas/ancient_samples.schema.yaml`` is the formal schema):

    sample      unique name, safe characters only ([A-Za-z0-9][A-Za-z0-9._-]*): used in file names
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
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def load_sample_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a sample sheet.

    Args:
        path: TSV with a header line; lines starting with '#' are comments.

    Returns:
        DataFrame with the required columns plus ``group``, all strings, ``reference`` "" when
        empty, index = sample.

    Raises:
        InputError: missing file or column, unknown column, empty sheet, unsafe or duplicate
            sample name, unsafe individual or group name, empty BAM path, bad label / library /
            udg value, or an individual whose samples disagree on the label. Messages name the
            file and the line (1-based, counting the header as line 1 after comments).
    """
    if not os.path.exists(path):
        raise InputError(f"{path}: sample sheet does not exist")
    try:
        sheet = pd.read_csv(path, sep="\t", comment="#", dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot parse sample sheet as TSV ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in sheet.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; required: {REQUIRED_COLUMNS}")
    unknown = [c for c in sheet.columns if c not in REQUIRED_COLUMNS and c not in OPTIONAL_COLUMNS]
    if unknown:
        raise InputError(f"{path}: unknown column(s) {unknown}; allowed: {REQUIRED_COLUMNS + list(OPTIONAL_COLUMNS)}")
    if sheet.empty:
        raise InputError(f"{path}: sample sheet has no rows")
    for column, default in OPTIONAL_COLUMNS.items():
        if column not in sheet.columns:
            sheet[column] = default
        sheet[column] = sheet[column].replace("", default)
    sheet = sheet.apply(lambda col: col.str.strip())
    for row, rec in enumerate(sheet.itertuples(index=False), start=2):
        where = f"{path} line {row} (sample {rec.sample!r})"
        if not SAFE_NAME.match(rec.sample):
            raise InputError(f"{where}: sample name must match {SAFE_NAME.pattern} (letters, digits, '.', '_', '-')")
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
    dup = sheet["sample"][sheet["sample"].duplicated()]
    if len(dup):
        raise InputError(f"{path}: duplicate sample name(s) {sorted(set(dup))}")
    labels = sheet.groupby("individual")["label"].nunique()
    mixed = labels[labels > 1]
    if len(mixed):
        raise InputError(f"{path}: individual(s) {list(mixed.index)} have samples with different labels")
    return sheet.set_index("sample", drop=False)
