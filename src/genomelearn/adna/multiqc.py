"""MultiQC custom content for the ancient-DNA damage profiles.

MultiQC (Ewels et al. 2016, Bioinformatics 32:3047) picks up files named ``*_mqc.tsv`` /
``*_mqc.yaml`` as custom content (https://docs.seqera.io/multiqc/custom_content): a header of
``# key: value`` lines (or a YAML document) with a section ``id``, ``section_name``, ``plot_type``
and the data. Two sections are written:

* ``genomelearn_adna_damage``: a table, one row per sample, of the damage summary (label, kept
  reads, C→T at the 5' end and G→A at the 3' end position 1 with their Wilson intervals, background
  substitution rate, median fragment length, whether the sample is below the minimum read count);
* ``genomelearn_adna_ct5p``: a line graph of the C→T frequency by distance from the 5' end.

MultiQC's own mapDamage module also reads the mapDamage-format tables written by the extraction.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

SUMMARY_SECTION = "genomelearn_adna_damage"
CURVE_SECTION = "genomelearn_adna_ct5p"
SUMMARY_COLUMNS = {
    "label": "label",
    "group": "group",
    "kept": "reads",
    "ct_5p1": "C>T 5' pos 1",
    "ct_5p1_ci_low": "C>T 5' pos 1 CI low",
    "ct_5p1_ci_high": "C>T 5' pos 1 CI high",
    "ga_3p1": "G>A 3' pos 1",
    "ga_3p1_ci_low": "G>A 3' pos 1 CI low",
    "ga_3p1_ci_high": "G>A 3' pos 1 CI high",
    "other_background": "other substitutions pos 10-25",
    "median_length": "median fragment length",
    "below_min_reads": "below min reads",
}


def write_summary_table(path, summary: pd.DataFrame, min_reads: int) -> None:
    """Write the damage summary as a MultiQC ``*_mqc.tsv`` table (section :data:`SUMMARY_SECTION`).

    Args:
        path: output path; the name must end in ``_mqc.tsv`` for MultiQC to find it.
        summary: ``damage_summary.tsv`` of the overview rule (columns ``sample`` and those of
            :data:`SUMMARY_COLUMNS` that exist).
        min_reads: the overview's minimum read count (named in the description).

    Raises:
        ValueError: ``path`` does not end in ``_mqc.tsv``; ``summary`` has no ``sample`` column.
    """
    if not str(path).endswith("_mqc.tsv"):
        raise ValueError(f"{path}: MultiQC custom content tables must end in _mqc.tsv")
    if "sample" not in summary:
        raise ValueError("damage summary has no 'sample' column")
    cols = [c for c in SUMMARY_COLUMNS if c in summary]
    table = summary[["sample", *cols]].rename(columns={"sample": "Sample", **SUMMARY_COLUMNS})
    header = {
        "id": SUMMARY_SECTION,
        "section_name": "Ancient DNA damage (genomelearn)",
        "description": (
            "Terminal substitution frequencies per sample (mapDamage definitions) with Wilson 95% "
            f"intervals; samples with fewer than {min_reads:,} kept reads are flagged."
        ),
        "plot_type": "table",
        "pconfig": {
            "id": f"{SUMMARY_SECTION}_table",
            "title": "genomelearn: ancient DNA damage",
            "namespace": "aDNA damage",
        },
    }
    lines = [f"# {line}" for line in yaml.safe_dump(header, sort_keys=False).splitlines()]
    _write(
        path, "\n".join(lines) + "\n" + table.to_csv(sep="\t", index=False, float_format="%.6g")
    )


def write_damage_curves(path, tables: dict, end: str = "5p", substitution: str = "C>T") -> None:
    """Write a MultiQC ``*_mqc.yaml`` line graph of one substitution by position, one line per sample.

    Args:
        path: output path ending in ``_mqc.yaml``.
        tables: {sample: damage table (:func:`genomelearn.adna.damage.damage_table`)}.
        end, substitution: which curve.

    Raises:
        ValueError: ``path`` does not end in ``_mqc.yaml``.
    """
    if not str(path).endswith("_mqc.yaml"):
        raise ValueError(f"{path}: MultiQC custom content YAML files must end in _mqc.yaml")
    data = {}
    for sample, tbl in tables.items():
        rows = tbl[(tbl["end"] == end) & (tbl["substitution"] == substitution)].sort_values(
            "position"
        )
        freq = rows["frequency"].to_numpy(dtype=np.float64)
        data[str(sample)] = {
            int(p): (None if np.isnan(f) else round(float(f), 6))
            for p, f in zip(rows["position"], freq)
        }
    doc = {
        "id": CURVE_SECTION,
        "section_name": f"Ancient DNA {substitution} at the {end[0]}' end (genomelearn)",
        "description": f"{substitution} frequency by distance from the {end[0]}' end of the reads, per sample.",
        "plot_type": "linegraph",
        "pconfig": {
            "id": f"{CURVE_SECTION}_plot",
            "title": f"genomelearn: {substitution} by position",
            "xlab": f"distance from the {end[0]}' end (bp)",
            "ylab": "frequency",
            "ymin": 0,
        },
        "data": data,
    }
    _write(path, yaml.safe_dump(doc, sort_keys=False))


def _write(path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text)
    os.replace(tmp, path)
