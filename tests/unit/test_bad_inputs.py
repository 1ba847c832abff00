"""The bad-input matrix of issue 11 at engine level (fast): every case writes a bad input, asserts
the error (type :class:`~genomelearn.errors.InputError`, message naming the file and the record
with its physical line number), then fixes the input and asserts that the same call succeeds.

Scripts turn an :class:`InputError` into exit code 1 through :func:`genomelearn.workflow.run_script`
(tested below); that Snakemake removes the outputs of the failed job and that a rerun after the fix
succeeds without cleanup is tested with real Snakemake runs in tests/workflow/test_fault_matrix.py.
Inputs that are *tolerated* on purpose (``22`` vs ``chr22``, track lines, CRLF, lowercase and IUPAC
bases, a space-separated matrix) are in the matrix too: the first call must then succeed.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from genomelearn.errors import InputError
from tests.unit.test_ancient_dna_support import random_reference, write_bam, write_fasta

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "config" / "schemas"


@dataclass
class Case:
    """``make(tmp)`` writes the bad input; ``call(tmp)`` uses it; ``fix(tmp)`` repairs it.
    ``message``: regex the error must match (None: the input is tolerated and ``call`` succeeds)."""

    id: str
    make: Callable[[Path], None]
    call: Callable[[Path], object]
    fix: Callable[[Path], None] | None
    message: str | None


CASES: list[Case] = []


def case(id, message=None, fix=None):
    def register(pair):
        make, call = pair
        CASES.append(Case(id, make, call, fix, message))
        return pair

    return register


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------ BED
def _read_bed(tmp):
    from genomelearn.io.bed import read_bed

    return read_bed(tmp / "regions.bed")


def _good_bed(tmp):
    _write(tmp / "regions.bed", "chr1\t10\t20\nchr1\t30\t40\n")


case("bed-2-columns", r"regions\.bed line 2: expected at least 3 fields .* got 2", _good_bed)(
    (lambda t: _write(t / "regions.bed", "chr1\t10\t20\nchr1\t30\n"), _read_bed)
)
case("bed-start-after-end", r"regions\.bed line 1: end 10 < start 20", _good_bed)(
    (lambda t: _write(t / "regions.bed", "chr1\t20\t10\n"), _read_bed)
)
case("bed-empty", r"regions\.bed: BED file has no intervals", _good_bed)(
    (lambda t: _write(t / "regions.bed", ""), _read_bed)
)
# physical line numbers: the track and comment lines are counted
case(
    "bed-track-lines-then-bad-line", r"regions\.bed line 4: start/end must be integers", _good_bed
)(
    (
        lambda t: _write(
            t / "regions.bed", "track name=x\n# comment\nchr1\t1\t5\nchr1\tten\t20\n"
        ),
        _read_bed,
    )
)
case("bed-track-and-header-lines-tolerated")(
    (
        lambda t: _write(
            t / "regions.bed",
            "track name=x\nbrowser position chr1\nchrom\tstart\tend\nchr1\t1\t5\n",
        ),
        _read_bed,
    )
)


def _ensembl_names(tmp):
    from genomelearn.io.bed import read_bed

    frame = read_bed(tmp / "regions.bed")
    assert list(frame["chrom"]) == ["chr22"]


case("bed-22-vs-chr22-tolerated")(
    (lambda t: _write(t / "regions.bed", "22\t1\t5\n"), _ensembl_names)
)


def _mask_check(tmp):
    from genomelearn.io.bed import check_contigs_after_mask, read_bed

    beds = {"maps.bed": read_bed(tmp / "maps.bed"), "deserts.bed": read_bed(tmp / "deserts.bed")}
    check_contigs_after_mask(["chr22", "chr21"], beds, "mask.bed", read_bed(tmp / "mask.bed"))


def _mask_inputs(tmp, mask="chr22\t0\t1000\n"):
    _write(tmp / "maps.bed", "chr22\t100\t200\nchr21\t100\t200\n")
    _write(tmp / "deserts.bed", "chr22\t500\t600\nchr21\t500\t600\n")
    _write(tmp / "mask.bed", mask)


case(
    "bed-contig-absent-from-mask",
    r"contig chr21 has no sequence left after masking: mask\.bed has no interval on chr21 \(mask contigs: chr22\); "
    r"regions of chr21 from maps\.bed and deserts\.bed",
    lambda t: _write(t / "mask.bed", "chr22\t0\t1000\nchr21\t0\t1000\n"),
)((_mask_inputs, _mask_check))
case(
    "bed-mask-covers-no-region",
    r"contig chr21 has no sequence left after masking: mask\.bed covers none of its regions",
    lambda t: _write(t / "mask.bed", "chr22\t0\t1000\nchr21\t0\t1000\n"),
)((lambda t: _mask_inputs(t, "chr22\t0\t1000\nchr21\t5000\t6000\n"), _mask_check))
case(
    "bed-contig-absent-from-beds",
    r"contig chr21 \(configured in contigs\) has no region in maps\.bed or deserts\.bed",
    lambda t: _mask_inputs(t, "chr22\t0\t1000\nchr21\t0\t1000\n"),
)(
    (
        lambda t: (
            _mask_inputs(t, "chr22\t0\t1000\nchr21\t0\t1000\n"),
            _write(t / "maps.bed", "chr22\t100\t200\n"),
            _write(t / "deserts.bed", "chr22\t500\t600\n"),
        ),
        _mask_check,
    )
)


def _within_reference(tmp, merged=False):
    """As scripts/introgression_regions.py: every BED (mask, maps, deserts, introgressed) is
    checked against the reference's contig lengths; maps are checked after read_maps merged them."""
    from genomelearn.introgression.labels import read_maps
    from genomelearn.io.bed import check_within_contigs, read_bed
    from genomelearn.io.fasta import contig_lengths

    lengths = contig_lengths(tmp / "ref.fa")
    path = tmp / "regions.bed"
    frame = read_maps({"m": path}, ["chr22"])["m"] if merged else read_bed(path)
    check_within_contigs(path, frame, lengths, tmp / "ref.fa", ["chr22"])


def _past_end(tmp, end=260):
    write_fasta(tmp / "ref.fa", {"22": "ACGT" * 50, "21": "ACGT" * 100})  # Ensembl names
    _write(
        tmp / "regions.bed",
        f"track name=maps\nchr22\t10\t100\nchr22\t90\t{end}\nchr21\t300\t500\nchrX\t1\t9999\n",
    )


for _merged in (False, True):
    case(
        "bed-region-past-contig-end" + ("-merged-map" if _merged else ""),
        r"regions\.bed line 3: region chr22:90-260 ends past the end of contig chr22 "
        r"\(200 bp in \S*ref\.fa\); are the BED and the FASTA of the same genome build\?",
        lambda t: _past_end(t, 200),  # chr21 and chrX (not configured) are not checked
    )((_past_end, lambda t, m=_merged: _within_reference(t, m)))


# ---------------------------------------------------------------------------------------- FASTA
def _fetch(tmp, name="ref.fa.gz", contig="chr1"):
    from genomelearn.io.fasta import fetch_bytes, open_fasta

    fasta = open_fasta(tmp / name)
    return fetch_bytes(fasta, contig, tmp / name)


def _bgzip_fasta(tmp, truncate=False):
    write_fasta(tmp / "ref.fa", {"chr1": random_reference(200_000, seed=3)})
    subprocess.run(["bgzip", "-f", "-k", str(tmp / "ref.fa")], check=True)
    subprocess.run(["samtools", "faidx", str(tmp / "ref.fa.gz")], check=True)
    if truncate:
        data = (tmp / "ref.fa.gz").read_bytes()
        (tmp / "ref.fa.gz").write_bytes(data[: len(data) // 2])


case(
    "fasta-truncated-bgzip",
    r"ref\.fa\.gz: cannot read contig chr1 \(.*\): the file is truncated or corrupt",
    lambda t: _bgzip_fasta(t),
)((lambda t: _bgzip_fasta(t, truncate=True), _fetch))


def _plain_gzip(tmp):
    write_fasta(tmp / "ref.fa", {"chr1": random_reference(1000)})
    with open(tmp / "ref.fa", "rb") as src, gzip.open(tmp / "ref.fa.gz", "wb") as out:
        shutil.copyfileobj(src, out)
    shutil.copy(tmp / "ref.fa.fai", tmp / "ref.fa.gz.fai")


case(
    "fasta-plain-gzip",
    r"ref\.fa\.gz: gzip FASTA needs bgzip compression and a \.gzi index",
    lambda t: _bgzip_fasta(t),
)((_plain_gzip, _fetch))
case(
    "fasta-without-fai",
    r"ref\.fa: FASTA has no index ref\.fa\.fai; create it with `samtools faidx",
    lambda t: subprocess.run(["samtools", "faidx", str(t / "ref.fa")], check=True),
)(
    (
        lambda t: (write_fasta(t / "ref.fa", {"chr1": "ACGT" * 50}), (t / "ref.fa.fai").unlink()),
        lambda t: _fetch(t, "ref.fa"),
    )
)
case(
    "fasta-contig-absent",
    r"ref\.fa: contig '2' is not in the FASTA \(contigs: chr1\)",
    lambda t: write_fasta(t / "ref.fa", {"chr1": "ACGT" * 50, "chr2": "ACGT" * 50}),
)((lambda t: write_fasta(t / "ref.fa", {"chr1": "ACGT" * 50}), lambda t: _fetch(t, "ref.fa", "2")))


def _iupac(tmp):
    seq = _fetch(tmp, "ref.fa").tobytes().decode()
    assert seq.startswith("acgtRYKMNacgt")


case("fasta-lowercase-and-iupac-tolerated")(
    (lambda t: write_fasta(t / "ref.fa", {"chr1": "acgtRYKMNacgt" * 10}), _iupac)
)


# ---------------------------------------------------------------------------------- sample sheet
HEADER = "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"
ROW = "{name}\tind_{i}\t{name}.bam\t\t{label}\tdouble\tnone\n"


def _sheet_text(names=("A1", "M1"), header=HEADER, comment="# comment line\n\n"):
    rows = [
        ROW.format(name=n, i=i, label="ancient" if i % 2 == 0 else "modern")
        for i, n in enumerate(names)
    ]
    return comment + header + "".join(rows)


def _load_sheet(tmp):
    from genomelearn.adna.samplesheet import load_sample_sheet

    return load_sample_sheet(tmp / "sheet.tsv")


def _good_sheet(tmp):
    _write(tmp / "sheet.tsv", _sheet_text())


for _id, _names, _msg in [
    (
        "sheet-name-with-dotdot-slash",
        ("A1", "../M1"),
        r"sheet\.tsv line 5 \(sample '\.\./M1'\): sample name must match",
    ),
    (
        "sheet-name-with-space",
        ("A1", "M 1"),
        r"sheet\.tsv line 5 \(sample 'M 1'\): sample name must match",
    ),
    (
        "sheet-name-with-semicolon",
        ("A1;rm", "M1"),
        r"sheet\.tsv line 4 \(sample 'A1;rm'\): sample name must match",
    ),
    (
        "sheet-name-with-dot",
        ("A1", "M.1"),
        r"sheet\.tsv line 5 \(sample 'M\.1'\): sample name must match",
    ),
    (
        "sheet-duplicate-sample",
        ("A1", "A1"),
        r"sheet\.tsv line 5 \(sample 'A1'\): duplicate sample name 'A1' \(first on line 4\)",
    ),
]:
    case(_id, _msg, _good_sheet)(
        (lambda t, n=_names: _write(t / "sheet.tsv", _sheet_text(n)), _load_sheet)
    )

case("sheet-missing-column", r"sheet\.tsv: missing column\(s\) \['udg'\]", _good_sheet)(
    (
        lambda t: _write(
            t / "sheet.tsv",
            "sample\tindividual\tbam\treference\tlabel\tlibrary\nA1\ti\ta.bam\t\tancient\tdouble\n",
        ),
        _load_sheet,
    )
)
case("sheet-empty", r"sheet\.tsv: sample sheet is empty \(no header line\)", _good_sheet)(
    (lambda t: _write(t / "sheet.tsv", ""), _load_sheet)
)
case("sheet-header-only", r"sheet\.tsv: sample sheet has no rows", _good_sheet)(
    (lambda t: _write(t / "sheet.tsv", HEADER), _load_sheet)
)
case(
    "sheet-space-separated",
    r"sheet\.tsv line 3: the header has no tab \(fields separated by spaces instead of tabs\?\)",
    _good_sheet,
)(
    (
        lambda t: _write(
            t / "sheet.tsv", _sheet_text().replace("\t\t", "\t-\t").replace("\t", " ")
        ),
        _load_sheet,
    )
)
case(
    "sheet-row-with-spaces",
    r"sheet\.tsv line 5: 1 tab-separated field\(s\), but the header \(line 3\) has 7 \(fields separated by spaces",
    _good_sheet,
)(
    (
        lambda t: _write(
            t / "sheet.tsv",
            _sheet_text().replace(
                "M1\tind_1\tM1.bam\t\tmodern\tdouble\tnone", "M1 ind_1 M1.bam - modern double none"
            ),
        ),
        _load_sheet,
    )
)


def _crlf(tmp):
    sheet = _load_sheet(tmp)
    assert list(sheet["udg"]) == ["none", "none"] and list(sheet["sample"]) == ["A1", "M1"]


case("sheet-crlf-tolerated")(
    (lambda t: (t / "sheet.tsv").write_bytes(_sheet_text().replace("\n", "\r\n").encode()), _crlf)
)


# ------------------------------------------------------------------------------------------ BAM
def _reads(n=20):
    return [
        {
            "name": f"r{i}",
            "contig": "chr1",
            "pos": 10 * i,
            "cigar": "30M",
            "seq": "ACGT" * 7 + "AC",
        }
        for i in range(n)
    ]


def _good_bam(tmp):
    for suffix in (".bam", ".bam.bai"):
        (tmp / f"s{suffix}").unlink(missing_ok=True)
    write_bam(tmp / "s.bam", {"chr1": 5000}, _reads())


def _open_bam(tmp):
    from genomelearn.adna.bamcheck import open_bam

    bam, _ = open_bam(tmp / "s.bam", sample="S1")
    bam.close()


def _truncated_bam(tmp):
    _good_bam(tmp)
    data = (tmp / "s.bam").read_bytes()
    (tmp / "s.bam").write_bytes(data[:40])
    (tmp / "s.bam.bai").unlink()


def _stale_index(tmp):
    import os

    _good_bam(tmp)
    st = (tmp / "s.bam").stat()
    os.utime(tmp / "s.bam.bai", (st.st_atime - 60, st.st_mtime - 60))


case("bam-missing", r"sample 'S1', file .*s\.bam: BAM file does not exist", _good_bam)(
    (lambda t: None, _open_bam)
)
case("bam-truncated", r"sample 'S1', file .*s\.bam: cannot open BAM", _good_bam)(
    (_truncated_bam, _open_bam)
)
case(
    "bam-sam-text-named-bam", r"sample 'S1', file .*s\.bam: it is SAM text; convert it", _good_bam
)(
    (
        lambda t: _write(
            t / "s.bam",
            "@HD\tVN:1.6\n@SQ\tSN:chr1\tLN:5000\nr1\t0\tchr1\t1\t37\t4M\t*\t0\t0\tACGT\tIIII\n",
        ),
        _open_bam,
    )
)
case(
    "bam-unsorted",
    r"sample 'S1', file .*s\.bam: BAM is not coordinate-sorted \(header SO:unsorted\)",
    _good_bam,
)(
    (
        lambda t: write_bam(t / "s.bam", {"chr1": 5000}, _reads()[::-1], sort=False, index=False),
        _open_bam,
    )
)
case(
    "bam-stale-index",
    r"sample 'S1', file .*s\.bam: index .*s\.bam\.bai is older than the BAM",
    _good_bam,
)((_stale_index, _open_bam))


def _extract(tmp):
    """As scripts/ancient_dna_extract.py: stream every read; the sample sheet's reference column
    is ref.fa when that file exists, else empty (MD tags are used)."""
    from genomelearn.adna.reads import Extractor

    reference = tmp / "ref.fa" if (tmp / "ref.fa").exists() else None
    extractor = Extractor(tmp / "s.bam", "S1", reference=reference)
    return sum(batch.num_rows for batch in extractor.batches())


def _two_contig_bam(tmp, index=True):
    reads = _reads() + [{**r, "name": f"q{i}", "contig": "chr2"} for i, r in enumerate(_reads())]
    write_bam(tmp / "s.bam", {"chr1": 5000, "chr2": 4000}, reads, index=index)
    write_fasta(tmp / "ref.fa", {"chr1": random_reference(5000, seed=1)})


case(
    "bam-no-md-tags-and-no-reference",
    r"sample 'S1', file \S*s\.bam: read 'r0' \(record 1\) has no MD tag and no reference FASTA "
    r"is given in the sample sheet; add MD tags with `samtools calmd`",
    lambda t: write_fasta(t / "ref.fa", {"chr1": random_reference(5000, seed=1)}),
)((_good_bam, _extract))
for _index in (True, False):
    case(
        f"bam-contig-absent-from-reference{'' if _index else '-no-index'}",
        r"sample 'S1', file \S*s\.bam: contig 'chr2' has reads but is absent from the reference "
        r"\S*ref\.fa \(reference contigs: chr1\)",
        lambda t: write_fasta(
            t / "ref.fa",
            {"chr1": random_reference(5000, seed=1), "chr2": random_reference(4000, seed=2)},
        ),
    )((lambda t, i=_index: _two_contig_bam(t, i), _extract))


# ---------------------------------------------------------------------------------- single cell
def _sc_read(tmp, name="m.csv", orientation="cells_x_features"):
    from genomelearn.singlecell.io import read_omic

    return read_omic(tmp / name, orientation=orientation, where="dataset d omic rna")


def _matrix(n_cells=6, n_features=4, seed=0):
    values = np.random.default_rng(seed).normal(size=(n_cells, n_features)).round(3)
    return pd.DataFrame(
        values,
        index=[f"c{i}" for i in range(n_cells)],
        columns=[f"g{j}" for j in range(n_features)],
    )


def _good_matrix(tmp, name="m.csv", sep=","):
    _matrix().to_csv(tmp / name, sep=sep)


def _nan_cell(tmp):
    m = _matrix()
    m.iloc[2] = np.nan
    m.to_csv(tmp / "m.csv")


case(
    "sc-nan-cell",
    r"dataset d omic rna file .*m\.csv: 1 cell\(s\) with no observed value: c2",
    _good_matrix,
)((_nan_cell, _sc_read))
case(
    "sc-non-numeric", r"m\.csv line 3 \(cell c1\), column g2: non-numeric value 'x'", _good_matrix
)(
    (
        lambda t: (
            _matrix()
            .astype(object)
            .pipe(lambda m: (m.__setitem__("g2", ["1", "x", "2", "3", "4", "5"]), m)[1])
            .to_csv(t / "m.csv")
        ),
        _sc_read,
    )
)
case("sc-zero-cells", r"m\.csv: empty table \(0 data row\(s\)", _good_matrix)(
    (lambda t: _write(t / "m.csv", ",g0,g1\n"), _sc_read)
)
case("sc-duplicated-cell-ids", r"m\.csv: duplicated cell ID\(s\): c1", _good_matrix)(
    (lambda t: _matrix().rename(index={"c2": "c1"}).to_csv(t / "m.csv"), _sc_read)
)


def _space_matrix(tmp):
    adata = _sc_read(tmp, "m.tsv")
    assert adata.shape == (6, 4) and list(adata.var_names) == ["g0", "g1", "g2", "g3"]


case("sc-space-separated-sniffed")(
    (lambda t: _write(t / "m.tsv", _matrix().to_csv(sep=" ")), _space_matrix)
)
case("sc-semicolon-csv-sniffed")(
    (lambda t: _write(t / "m.csv", _matrix().to_csv(sep=";")), lambda t: _sc_read(t))
)


def _r_style(tmp):  # header one field shorter than the data lines (R write.table)
    adata = _sc_read(tmp, "m.tsv")
    assert list(adata.obs_names[:2]) == ["c0", "c1"] and list(adata.var_names) == [
        "g0",
        "g1",
        "g2",
        "g3",
    ]


case("sc-header-without-corner-cell-tolerated")(
    (lambda t: _write(t / "m.tsv", _matrix().to_csv(sep="\t").split("\t", 1)[1]), _r_style)
)
case(
    "sc-no-header",
    r"m\.csv: line 1 holds only numbers .* not a header of cell / feature names",
    _good_matrix,
)((lambda t: _write(t / "m.csv", _matrix().to_csv(header=False)), _sc_read))
case("sc-no-row-names", r"m\.csv: the first column holds numbers .* not row names", _good_matrix)(
    (lambda t: _write(t / "m.csv", _matrix().to_csv(index=False)), _sc_read)
)
case(
    "sc-no-delimiter",
    r"omic rna file \S*m\.csv line 1 has no comma delimiter and no other delimiter",
    _good_matrix,
)((lambda t: _write(t / "m.csv", "cells|g0|g1\nc0|1|2\nc1|3\n"), _sc_read))


def _sc_config(tmp, n_cells=(60,), cell_prefixes=("c",), labels=False):
    omics = {}
    for k, (n, prefix) in enumerate(zip(n_cells, cell_prefixes)):
        m = _matrix(n)
        m.index = [f"{prefix}{i}" for i in range(n)]
        m.to_csv(tmp / f"omic{k}.csv")
        omics[f"o{k}"] = {"path": str(tmp / f"omic{k}.csv")}
    spec = {"omics": omics}
    if labels:
        pd.DataFrame({"cell": [f"c{i}" for i in range(n_cells[0])], "celltype": "A"}).to_csv(
            tmp / "labels.csv", index=False
        )
        spec["labels"] = {"column": "cell_type", "path": str(tmp / "labels.csv")}
    _write(tmp / "sc.yaml", yaml.safe_dump({"n_neighbors": 15, "datasets": {"d": spec}}))


def _sc_sizes(tmp):
    from genomelearn.validation import singlecell_size_errors

    problems = singlecell_size_errors(
        yaml.safe_load((tmp / "sc.yaml").read_text()), lambda p, u=None: p
    )
    if problems:
        raise InputError("\n".join(problems))


for _n in (1, 5):
    case(
        f"sc-{_n}-cells-before-any-job",
        rf"dataset d: {_n} cell\(s\) \(o0: {_n}\), fewer than the 45 needed for n_neighbors 15",
        lambda t: _sc_config(t, (60,)),
    )((lambda t, n=_n: _sc_config(t, (n,)), _sc_sizes))
case(
    "sc-omics-share-no-cell",
    r"dataset d: no cell ID is shared by all omics \(o0: 60 cells, o1: 60 cells\)",
    lambda t: _sc_config(t, (60, 60), ("c", "c")),
)((lambda t: _sc_config(t, (60, 60), ("c", "x")), _sc_sizes))


def _sc_load(tmp):
    from genomelearn.singlecell.io import load_dataset

    spec = yaml.safe_load((tmp / "sc.yaml").read_text())["datasets"]["d"]
    return load_dataset("d", spec)


case(
    "sc-label-column-missing",
    r"dataset d: labels column 'cell_type' not found in .*labels\.csv \(columns: cell, celltype\)",
    lambda t: _write(t / "sc.yaml", (t / "sc.yaml").read_text().replace("cell_type", "celltype")),
)((lambda t: _sc_config(t, labels=True), _sc_load))


def _adna_sizes(tmp):
    from genomelearn.adna.samplesheet import load_sample_sheet
    from genomelearn.validation import adna_size_errors

    problems = adna_size_errors(load_sample_sheet(tmp / "sheet.tsv"), [0.6, 0.2, 0.2], "sheet.tsv")
    if problems:
        raise InputError("\n".join(problems))


case(
    "sheet-fewer-individuals-than-splits",
    r"sheet\.tsv: 2 modern individual\(s\), fewer than the 3 splits with a positive fraction \[0\.6, 0\.2, 0\.2\]",
    lambda t: _write(t / "sheet.tsv", _sheet_text(("A1", "M1", "A2", "M2", "A3", "M3"))),
)((lambda t: _write(t / "sheet.tsv", _sheet_text(("A1", "M1", "A2", "M2", "A3"))), _adna_sizes))


# -------------------------------------------------------------------------------- deconvolution
GENES = [f"G{i}" for i in range(8)]


def _bulk_text(genes=GENES, value=lambda g, s: 10 * (g + 1) + s, samples=("S1", "S2", "S3")):
    rows = ["gene\t" + "\t".join(samples)]
    rows += [
        name + "\t" + "\t".join(str(value(g, s)) for s in range(len(samples)))
        for g, name in enumerate(genes)
    ]
    return "\n".join(rows) + "\n"


def _good_bulk(tmp):
    _write(tmp / "bulk.tsv", _bulk_text())


def _read_bulk(tmp):
    from genomelearn.deconvolution import read_bulk_counts

    return read_bulk_counts(tmp / "bulk.tsv")


case(
    "deconv-negative-count",
    r"bulk\.tsv line 3, column 'S2' \(gene 'G1'\): negative value -4 in bulk counts",
    _good_bulk,
)(
    (
        lambda t: _write(
            t / "bulk.tsv", _bulk_text(value=lambda g, s: -4 if (g, s) == (1, 1) else 5)
        ),
        _read_bulk,
    )
)
case(
    "deconv-non-numeric-count",
    r"bulk\.tsv line 4, column 'S3' \(row 'G2'\): non-numeric value '12,5' in bulk counts",
    _good_bulk,
)(
    (
        lambda t: _write(
            t / "bulk.tsv", _bulk_text(value=lambda g, s: "12,5" if (g, s) == (2, 2) else 5)
        ),
        _read_bulk,
    )
)
case(
    "deconv-all-zero-sample",
    r"bulk\.tsv: sample\(s\) 'S2' \(column 3\) have no counts at all \(every value is 0",
    _good_bulk,
)(
    (
        lambda t: _write(t / "bulk.tsv", _bulk_text(value=lambda g, s: 0 if s == 1 else g + 1)),
        _read_bulk,
    )
)


def _signature(tmp, genes=GENES):
    values = np.random.default_rng(1).uniform(1, 50, size=(len(genes), 3)).round(2)
    frame = pd.DataFrame(values, index=pd.Index(genes, name="gene"), columns=["A", "B", "C"])
    frame.to_csv(tmp / "sig.tsv", sep="\t")


def _decon_block(tmp, source):
    spec = {"bulk": {"path": str(tmp / "bulk.tsv"), "url": None}}
    if source == "signature":
        spec["signature"] = {"path": "sig.tsv", "url": None}
    else:
        spec["reference"] = {"path": "ref.h5ad", "url": None, "markers": None}
    return {"datasets": {"d": spec}}


def _deconvolve(tmp, source="signature", depth=False):
    """As scripts/deconvolution_deconvolve.py (and _depth.py): the signature the steps read is the
    derived results/deconvolution/<dataset>/signature.tsv; messages name the user's source."""
    from genomelearn.deconvolution import (
        deconvolve,
        depth_robustness,
        read_bulk_counts,
        read_signature,
    )
    from genomelearn.deconvolution.workflow_support import signature_source

    bulk = read_bulk_counts(tmp / "bulk.tsv")
    signature = read_signature(tmp / "sig.tsv")
    names = {
        "bulk_name": str(tmp / "bulk.tsv"),
        "signature_name": signature_source(_decon_block(tmp, source), "d"),
    }
    if depth:
        return depth_robustness(bulk, signature, [50], 1, 0, **names)
    return deconvolve(bulk, signature, **names)


def _ensembl_bulk(tmp):
    _write(tmp / "bulk.tsv", _bulk_text([f"ENSG{i:011d}" for i in range(8)]))
    _signature(tmp)


def _fix_bulk_and_signature(tmp):
    _good_bulk(tmp)
    _signature(tmp)


for _id, _source, _depth, _msg in [
    (
        "deconv-signature-genes-absent-from-bulk",
        "signature",
        False,
        r"bulk\.tsv and sig\.tsv \(copied to results/deconvolution/d/signature\.tsv\) share 0 "
        r"gene\(s\) \(none\); at least 4 are needed for 3 cell types\. Signature genes e\.g\. G0, .*"
        r"bulk genes e\.g\. ENSG00000000000",
    ),
    (
        "deconv-overlap-names-the-reference",
        "reference",
        False,
        r"bulk\.tsv and results/deconvolution/d/signature\.tsv \(built from reference ref\.h5ad\) "
        r"share 0 gene\(s\)",
    ),
    (
        "deconv-depth-overlap-names-the-signature",
        "signature",
        True,
        r"bulk\.tsv and sig\.tsv \(copied to results/deconvolution/d/signature\.tsv\) share 0",
    ),
]:
    case(_id, _msg, _fix_bulk_and_signature)(
        (_ensembl_bulk, lambda t, s=_source, d=_depth: _deconvolve(t, s, d))
    )


def _some_absent(tmp):
    result = _deconvolve(tmp)
    assert result.dropped_signature_genes == ["G9"] and len(result.shared_genes) == 8


case("deconv-some-signature-genes-absent-dropped-and-listed")(
    (lambda t: (_good_bulk(t), _signature(t, GENES + ["G9"])), _some_absent)
)


# --------------------------------------------------------------------------------------- config
def _config(tmp):
    from genomelearn.validation import validate_config

    data = yaml.safe_load((tmp / "section.yaml").read_text())
    validate_config(data, SCHEMAS / f"{data.pop('_schema')}.schema.yaml", data.pop("_section", ""))


def _section(tmp, schema, body, section=None):
    _write(
        tmp / "section.yaml",
        yaml.safe_dump({"_schema": schema, "_section": section or schema, **body}),
    )


_INTRO = {
    "reference": {"path": "r.fa"},
    "contigs": ["chr22"],
    "introgressed": {"source": "consensus"},
    "deserts": {"path": "d.bed"},
}
for _id, _schema, _bad, _good, _msg in [
    (
        "config-typo",
        "introgression",
        {"windows": {"max_windows_per_clas": 5}},
        {"windows": {"max_windows_per_class": 5}},
        r"introgression\.windows: unknown key 'max_windows_per_clas' \(did you mean 'max_windows_per_class'\?\); allowed keys: length,",
    ),
    (
        "config-dataset-name-dotdot",
        "introgression",
        {"datasets": {"..": _INTRO}},
        {"datasets": {"chr22": _INTRO}},
        r"introgression\.datasets: name '\.\.' is not allowed: names must match \^\[A-Za-z0-9\]\[A-Za-z0-9_-\]\*\$",
    ),
    (
        "config-singlecell-dataset-name-slash",
        "singlecell",
        {"datasets": {"a/b": {"omics": {"rna": {"path": "x.h5ad"}}}}},
        {"datasets": {"a_b": {"omics": {"rna": {"path": "x.h5ad"}}}}},
        r"singlecell\.datasets: name 'a/b' is not allowed",
    ),
    (
        "config-deconvolution-dataset-name-dot",
        "deconvolution",
        {"datasets": {"x.y": {}}},
        {"datasets": {}},
        r"deconvolution\.datasets: name 'x\.y' is not allowed",
    ),
    (
        "config-pmdtools-sample-name",
        "ancient_dna",
        {"pmdtools": {"../S": {"input": "a.bam", "filtered": "b.bam"}}},
        {"pmdtools": {"S": {"input": "a.bam", "filtered": "b.bam"}}},
        r"ancient_dna\.pmdtools: name '\.\./S' is not allowed",
    ),
    (
        "config-enum",
        "ancient_dna",
        {"missing_index": "rebuild"},
        {"missing_index": "build"},
        r"ancient_dna\.missing_index: 'rebuild' is not allowed; allowed values: 'build', 'error'",
    ),
    (
        "config-out-of-range",
        "singlecell",
        {"n_neighbors": 1},
        {"n_neighbors": 2},
        r"singlecell\.n_neighbors: 1 is out of range; must be >= 2",
    ),
    (
        "config-one-of",
        "singlecell",
        {"consensus_n_neighbors": "many"},
        {"consensus_n_neighbors": "auto"},
        r"singlecell\.consensus_n_neighbors: 'many' is not allowed; allowed: a value of type integer; 'auto'",
    ),
]:
    case(_id, _msg, lambda t, s=_schema, g=_good: _section(t, s, g))(
        (lambda t, s=_schema, b=_bad: _section(t, s, b), _config)
    )


# ---------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(tmp_path, c: Case):
    c.make(tmp_path)
    if c.message is None:  # tolerated on purpose
        c.call(tmp_path)
        return
    with pytest.raises(InputError if not c.id.startswith("config") else Exception) as info:
        c.call(tmp_path)
    message = str(info.value)
    assert re.search(c.message, message), f"{c.id}: {message}"
    assert len(message.splitlines()) <= 8, f"{c.id}: error longer than a few lines:\n{message}"
    assert c.fix is not None
    c.fix(tmp_path)
    c.call(tmp_path)  # the rerun after the fix succeeds


def test_matrix_size():
    assert len(CASES) >= 65
    assert len({c.id for c in CASES}) == len(CASES)


def test_run_script_exits_1_on_input_error(tmp_path, capsys):
    from genomelearn.workflow import run_script

    class Smk:
        def __init__(self):
            self.log, self.rule, self.threads = [str(tmp_path / "x.log")], "demo", 1

    def main(smk):
        raise InputError(f"{tmp_path / 'regions.bed'} line 4: end 10 < start 20")

    with pytest.raises(SystemExit) as info:
        run_script(main, Smk())
    assert info.value.code == 1
    assert "regions.bed line 4: end 10 < start 20" in capsys.readouterr().err


def test_config_error_is_a_few_lines_not_the_schema(tmp_path):
    from snakemake.exceptions import WorkflowError

    from genomelearn.validation import validate_config

    bad = {
        "windows": {"max_windows_per_clas": 5, "length": "long"},
        "encodng": {},
        "splits": {"methods": ["blocks", "x"]},
    }
    with pytest.raises(WorkflowError) as info:
        validate_config(bad, SCHEMAS / "introgression.schema.yaml", "introgression")
    text = str(info.value)
    assert len(text.splitlines()) <= 6, text
    assert "unknown key 'encodng' (did you mean 'encoding'?)" in text
    assert "introgression.windows.length: 'long' has the wrong type; expected integer" in text
    assert "introgression.splits.methods[1]: 'x' is not allowed" in text
    assert "'description'" not in text  # no schema dump
