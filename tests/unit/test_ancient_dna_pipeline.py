"""Sample sheet, individual-level splits, length matching, thresholds, contamination, BAM writer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest

from genomelearn.adna.decontaminate import (
    contamination_estimate,
    threshold_at_fpr,
    wilson_interval,
    write_authentic_bam,
)
from genomelearn.adna.reads import ExtractionSettings, extract_table
from genomelearn.adna.samplesheet import load_sample_sheet
from genomelearn.adna.splits import assign_splits, balanced_sample, length_matched_indices
from genomelearn.errors import InputError
from tests.unit.test_ancient_dna_support import random_reference, simulate_reads, write_bam, write_fasta

HEADER = "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"


def _sheet(tmp_path, rows, header=HEADER):
    p = tmp_path / "sheet.tsv"
    p.write_text("# comment\n" + header + "".join("\t".join(r) + "\n" for r in rows))
    return p


def test_sample_sheet_ok_and_defaults(tmp_path):
    p = _sheet(tmp_path, [["A1", "ind1", "a.bam", "", "ancient", "double", "none"],
                          ["M1", "ind2", "m.bam", "ref.fa", "modern", "single", "half"]])
    sheet = load_sample_sheet(p)
    assert list(sheet["sample"]) == ["A1", "M1"] and list(sheet["group"]) == ["all", "all"]
    assert sheet.loc["A1", "reference"] == ""


@pytest.mark.parametrize(
    "row, message",
    [
        (["bad name", "i", "a.bam", "", "ancient", "double", "none"], "line 3.*sample name"),
        (["../x", "i", "a.bam", "", "ancient", "double", "none"], "sample name"),
        (["A", "i", "a.bam", "", "old", "double", "none"], "line 3.*label 'old'"),
        (["A", "i", "a.bam", "", "ancient", "triple", "none"], "library"),
        (["A", "i", "a.bam", "", "ancient", "double", "some"], "udg"),
        (["A", "i", "", "", "ancient", "double", "none"], "empty bam"),
    ],
)
def test_sample_sheet_errors(tmp_path, row, message):
    with pytest.raises(InputError, match=message):
        load_sample_sheet(_sheet(tmp_path, [row]))


def test_sample_sheet_structure_errors(tmp_path):
    with pytest.raises(InputError, match="missing column"):
        load_sample_sheet(_sheet(tmp_path, [["A", "i"]], header="sample\tindividual\n"))
    with pytest.raises(InputError, match="duplicate sample"):
        load_sample_sheet(_sheet(tmp_path, [["A", "i", "a.bam", "", "ancient", "double", "none"]] * 2))
    with pytest.raises(InputError, match="different labels"):
        load_sample_sheet(_sheet(tmp_path, [["A", "i", "a.bam", "", "ancient", "double", "none"],
                                            ["B", "i", "b.bam", "", "modern", "double", "none"]]))
    with pytest.raises(InputError, match="does not exist"):
        load_sample_sheet(tmp_path / "nope.tsv")


def test_splits_are_by_individual_and_deterministic():
    rng = np.random.default_rng(0)
    ind = pd.DataFrame({
        "individual": [f"i{k}" for k in range(30)],
        "label": ["ancient"] * 12 + ["modern"] * 15 + ["unknown"] * 3,
        "group": ["mt", "nuc"] * 15,
        "n_reads": rng.integers(3, 9000, 30),
    })
    a = assign_splits(ind, (0.6, 0.2, 0.2), seed=1)
    b = assign_splits(ind, (0.6, 0.2, 0.2), seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a["individual"].is_unique
    assert set(a.loc[a["label"] == "unknown", "split"]) == {"none"}
    for (_, _), stratum in a[a["label"] != "unknown"].groupby(["label", "group"]):
        if len(stratum) >= 3:
            assert set(stratum["split"]) == {"train", "validation", "test"}
        share = stratum.groupby("split")["n_reads"].sum() / stratum["n_reads"].sum()
        assert share["train"] >= 0.35
    with pytest.raises(InputError):
        assign_splits(ind, (0.5, 0.2, 0.2))


def test_balanced_sample_and_length_matching():
    y = np.r_[np.zeros(100, int), np.ones(30, int)]
    groups = np.r_[np.repeat(["a", "b"], 50), np.repeat(["a", "b"], [20, 10])]
    idx = balanced_sample(y, groups, cap_per_class=15, seed=0)
    sel = pd.DataFrame({"y": y[idx], "g": groups[idx]})
    assert sel.groupby(["g", "y"]).size().to_dict() == {("a", 0): 15, ("a", 1): 15, ("b", 0): 10, ("b", 1): 10}
    length = np.r_[np.full(100, 300), np.full(30, 60)]
    length[:5] = 61
    m = length_matched_indices(length, y, bin_width=10, seed=0)
    assert len(m) == 10 and y[m].sum() == 5 and set(length[m] // 10) == {6}


def test_threshold_at_fpr():
    rng = np.random.default_rng(0)
    neg = rng.random(1000)
    for fpr in (0.0, 0.01, 0.05, 0.5):
        t = threshold_at_fpr(neg, fpr)
        assert np.mean(neg > t) <= fpr + 1e-12
        assert np.mean(neg > t) >= fpr - 0.002
    tied = np.r_[np.zeros(990), np.ones(10)]
    assert np.mean(tied > threshold_at_fpr(tied, 0.005)) <= 0.005
    with pytest.raises(ValueError):
        threshold_at_fpr([], 0.01)


def test_contamination_estimate():
    est = contamination_estimate(kept=50, scored=100, tpr=0.6, fpr=0.01)
    assert est["contamination"] == pytest.approx((0.6 - 0.5) / 0.59)
    assert est["contamination_low"] <= est["contamination"] <= est["contamination_high"]
    assert contamination_estimate(1, 100, 0.6, 0.01)["contamination"] == pytest.approx((0.6 - 0.01) / 0.59)
    assert contamination_estimate(90, 100, 0.6, 0.01)["contamination"] == 0.0
    assert np.isnan(contamination_estimate(0, 0, 0.6, 0.01)["contamination"])
    lo, hi = wilson_interval(5, 10)
    assert lo < 0.5 < hi


def test_write_authentic_bam(tmp_path):
    ref = random_reference(2000, seed=4)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    bam = write_bam(tmp_path / "in.bam", {"chrT": len(ref)}, simulate_reads(ref, "chrT", 60, seed=8, indels=False))
    table, _ = extract_table(bam, "s", fasta, settings=ExtractionSettings(0, 0))
    records = table.column("record").to_numpy()
    scores = np.linspace(0, 1, len(records))
    out = tmp_path / "out" / "s.authentic.bam"
    counts = write_authentic_bam(bam, out, records, scores, 0.5, "s", tag="ZS")
    assert counts == {"records": 60, "scored": 60, "kept": int((scores > 0.5).sum())}
    with pysam.AlignmentFile(str(out)) as fh:
        got = [(r.query_name, r.get_tag("ZS")) for r in fh.fetch("chrT")]  # uses the index
    names = table.column("name").to_numpy()
    want = dict(zip(names[scores > 0.5], scores[scores > 0.5]))
    assert {n for n, _ in got} == set(want)
    assert all(abs(s - want[n]) < 1e-6 for n, s in got)
    assert (tmp_path / "out" / "s.authentic.bam.bai").exists()
    with pytest.raises(InputError, match="local-use tag"):
        write_authentic_bam(bam, out, records, scores, 0.5, "s", tag="XA1")
    with pytest.raises(InputError, match="another file"):
        write_authentic_bam(bam, tmp_path / "x.bam", np.array([500]), np.array([1.0]), 0.5, "s")
    assert not (tmp_path / "x.bam").exists()
