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
from genomelearn.adna.splits import (
    assign_folds,
    assign_splits,
    balanced_sample,
    check_fold_sizes,
    fold_roles,
    length_matched_indices,
)
from genomelearn.errors import InputError
from tests.unit.test_ancient_dna_support import (
    random_reference,
    simulate_reads,
    write_bam,
    write_fasta,
)

HEADER = "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n"


def _sheet(tmp_path, rows, header=HEADER):
    p = tmp_path / "sheet.tsv"
    p.write_text("# comment\n" + header + "".join("\t".join(r) + "\n" for r in rows))
    return p


def test_sample_sheet_ok_and_defaults(tmp_path):
    p = _sheet(
        tmp_path,
        [
            ["A1", "ind1", "a.bam", "", "ancient", "double", "none"],
            ["M1", "ind2", "m.bam", "ref.fa", "modern", "single", "half"],
        ],
    )
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
        load_sample_sheet(
            _sheet(tmp_path, [["A", "i", "a.bam", "", "ancient", "double", "none"]] * 2)
        )
    with pytest.raises(InputError, match="different labels"):
        load_sample_sheet(
            _sheet(
                tmp_path,
                [
                    ["A", "i", "a.bam", "", "ancient", "double", "none"],
                    ["B", "i", "b.bam", "", "modern", "double", "none"],
                ],
            )
        )
    with pytest.raises(InputError, match="does not exist"):
        load_sample_sheet(tmp_path / "nope.tsv")


def test_splits_are_by_individual_and_deterministic():
    rng = np.random.default_rng(0)
    ind = pd.DataFrame(
        {
            "individual": [f"i{k}" for k in range(30)],
            "label": ["ancient"] * 12 + ["modern"] * 15 + ["unknown"] * 3,
            "group": ["mt", "nuc"] * 15,
            "n_reads": rng.integers(3, 9000, 30),
        }
    )
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
    assert sel.groupby(["g", "y"]).size().to_dict() == {
        ("a", 0): 15,
        ("a", 1): 15,
        ("b", 0): 10,
        ("b", 1): 10,
    }
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
    assert contamination_estimate(1, 100, 0.6, 0.01)["contamination"] == pytest.approx(
        (0.6 - 0.01) / 0.59
    )
    assert contamination_estimate(90, 100, 0.6, 0.01)["contamination"] == 0.0
    assert np.isnan(contamination_estimate(0, 0, 0.6, 0.01)["contamination"])
    lo, hi = wilson_interval(5, 10)
    assert lo < 0.5 < hi


def test_write_authentic_bam(tmp_path):
    ref = random_reference(2000, seed=4)
    fasta = write_fasta(tmp_path / "ref.fa", {"chrT": ref})
    bam = write_bam(
        tmp_path / "in.bam",
        {"chrT": len(ref)},
        simulate_reads(ref, "chrT", 60, seed=8, indels=False),
    )
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


def _individuals(n_anc, n_mod, seed=0, unknown=0):
    rng = np.random.default_rng(seed)
    n = n_anc + n_mod + unknown
    return pd.DataFrame(
        {
            "individual": [f"i{k}" for k in range(n)],
            "label": ["ancient"] * n_anc + ["modern"] * n_mod + ["unknown"] * unknown,
            "group": (["mt", "nuc"] * n)[:n],
            "n_reads": rng.integers(3, 9000, n),
        }
    )


def test_folds_stratified_balanced_and_every_individual_tested_once():
    ind = _individuals(15, 17, unknown=2)
    a = assign_folds(ind, 5, seed=1)
    pd.testing.assert_frame_equal(a, assign_folds(ind, 5, seed=1))
    assert set(a.loc[a["label"] == "unknown", "fold"]) == {-1}
    lab = a[a["fold"] >= 0]
    for _label, part in lab.groupby("label"):
        counts = np.bincount(part["fold"], minlength=5)
        assert counts.max() - counts.min() <= 1  # individuals per label and fold differ by ≤ 1
    for (_, _), stratum in lab.groupby(["label", "group"]):
        assert stratum["fold"].nunique() == min(5, len(stratum))  # strata spread over folds
    # each labelled individual is "test" in exactly one round, never in its own training set
    roles = np.stack([fold_roles(a["fold"].to_numpy(), f, 5) for f in range(5)])
    tested = (roles == "test").sum(axis=0)
    assert (tested[a["fold"] >= 0] == 1).all() and (tested[a["fold"] < 0] == 0).all()
    for f in range(5):
        r = roles[f]
        assert set(a.loc[r == "validation", "fold"]) == {(f + 1) % 5}
        assert not set(a.loc[r == "train", "individual"]) & set(a.loc[r != "train", "individual"])
    check_fold_sizes(a, 5, 3, "sheet.tsv")
    with pytest.raises(InputError, match="at least 3 folds"):
        assign_folds(ind, 2)


def test_small_study_fails_before_training_naming_counts_and_sheet(tmp_path):
    """A two-individual sheet (one ancient, one modern) cannot be cross-validated: the error names
    the per-fold counts, the totals and the sample sheet; check_folds runs at DAG time."""
    from genomelearn.adna.workflow_support import check_folds

    p = _sheet(
        tmp_path,
        [
            ["A1", "ind1", "a.bam", "", "ancient", "double", "none"],
            ["M1", "ind2", "m.bam", "", "modern", "double", "none"],
        ],
    )
    sheet = load_sample_sheet(p)
    cfg = {"split": {"n_folds": 5, "seed": 0, "min_individuals_per_label": 2}}
    with pytest.raises(InputError) as err:
        check_folds(sheet, cfg, p)
    msg = str(err.value)
    assert str(p) in msg and "ancient: [1, 0, 0, 0, 0]" in msg and "modern: [1, 0, 0, 0, 0]" in msg
    assert "1 ancient, 1 modern" in msg and "n_folds" in msg


def test_two_d_length_matching():
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 2, n)
    read_length = np.where(y == 1, rng.integers(30, 80, n), rng.integers(60, 100, n))
    frag = np.where(y == 1, read_length, rng.integers(60, 200, n))
    m = length_matched_indices(np.c_[read_length, frag], y, bin_width=10, seed=0)
    assert len(m) and y[m].sum() * 2 == len(m)
    key = pd.DataFrame({"r": read_length[m] // 10, "f": frag[m] // 10, "y": y[m]})
    per_bin = key.groupby(["r", "f", "y"]).size().unstack(fill_value=0)
    assert (per_bin[0] == per_bin[1]).all()


def test_individual_bootstrap_matches_sklearn_and_brackets_estimate():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from genomelearn.adna.pipeline import _ranking_metrics_weighted, individual_bootstrap

    rng = np.random.default_rng(0)
    ind = np.repeat(np.arange(20), 50)
    y = (ind % 2).astype(int)
    score = rng.normal(y * 0.8 + rng.normal(0, 0.5, 20)[ind], 1.0).round(
        1
    )  # ties, individual effects
    order = np.argsort(-score, kind="stable")
    s = score[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    auroc, auprc = _ranking_metrics_weighted(y[order].astype(float), last, np.ones(len(y)))
    assert auroc == pytest.approx(roc_auc_score(y, score))
    assert auprc == pytest.approx(average_precision_score(y, score))
    ci = individual_bootstrap(y, score, ind, n_boot=300, seed=0)
    assert (
        ci["auroc_low"] < auroc < ci["auroc_high"] and ci["auprc_low"] < auprc < ci["auprc_high"]
    )
    # one individual per class: resampling individuals cannot vary anything (a zero-width interval)
    one = individual_bootstrap(np.r_[0, 0, 1, 1], np.r_[0.1, 0.6, 0.5, 0.9], np.r_[0, 0, 1, 1], 20)
    assert one["auroc_low"] == one["auroc_high"] == 0.75


def test_threshold_needs_three_validation_individuals_per_label():
    from genomelearn.adna.pipeline import decontamination_threshold

    rng = np.random.default_rng(0)

    def frame(n_anc, n_mod):
        rows = [(f"a{i}", 1) for i in range(n_anc) for _ in range(100)] + [
            (f"m{i}", 0) for i in range(n_mod) for _ in range(100)
        ]
        return pd.DataFrame(
            {
                "individual": [r[0] for r in rows],
                "y": [r[1] for r in rows],
                "split": "validation",
                "library": "double",
                "group": "mtDNA",
            }
        )

    ok = frame(3, 4)
    out = decontamination_threshold(ok, rng.random(len(ok)) + ok["y"].to_numpy(), 0.05)
    assert (
        out["estimate_applies"]
        and out["estimate_reason"] == ""
        and out["comparable"] == "double/mtDNA"
    )
    assert out["validation_ancient_individuals"] == 3 and out["validation_modern_individuals"] == 4
    few = frame(3, 1)
    out = decontamination_threshold(few, rng.random(len(few)) + few["y"].to_numpy(), 0.05)
    assert (
        not out["estimate_applies"]
        and "1 modern" in out["estimate_reason"]
        and "at least 3" in out["estimate_reason"]
    )


def test_simulated_training_reads_differ_by_damage_only(tmp_path):
    """models.add_simulated: the profile comes from the training split's ancient reads, the
    templates from its modern reads only; each pair differs by C→T/G→A alone; training runs on the
    augmented table."""
    import pyarrow as pa

    from genomelearn.adna import pipeline as P
    from genomelearn.training import TrainConfig

    rng = np.random.default_rng(0)
    rows, refs = [], []
    roles = [("anc_train", "ancient", "train"), ("mod_train", "modern", "train")]
    roles += [("anc_val", "ancient", "validation"), ("mod_val", "modern", "validation")]
    for individual, label, split in roles:
        for i in range(40):
            ref = "".join(rng.choice(list("ACGT"), 50))
            seq = list(ref)
            if label == "ancient":  # C→T at the first 3 bases, G→A at the last 3
                seq[:3] = ["T" if b == "C" else b for b in seq[:3]]
                seq[-3:] = ["A" if b == "G" else b for b in seq[-3:]]
            rows.append(
                {
                    "sample": individual,
                    "record": i,
                    "name": f"{individual}{i}",
                    "length": 50,
                    "read_length": 50,
                    "length_source": "read",
                    "sequence": "".join(seq),
                    "reference": ref,
                    "individual": individual,
                    "label": label,
                    "group": "g",
                    "library": "double",
                    "split": split,
                    "fold": 0,
                    "y": int(label == "ancient"),
                }
            )
            refs.append(ref)
    df = pd.DataFrame(rows)
    table = pa.Table.from_pandas(
        df[P.META_COLUMNS + ["sequence", "reference"]], preserve_index=False
    )
    frame = df[P.META_COLUMNS + ["individual", "label", "group", "library", "split", "fold", "y"]]
    extra, extra_frame, profile = P.simulated_training_reads(table, frame, 30, seed=1)
    assert profile.ct5[0] > 0.5 and profile.ga3[0] > 0.5 and profile.ct5[5] == 0
    assert extra.num_rows == 60 and list(extra_frame["y"]) == [0] * 30 + [1] * 30
    assert set(extra_frame["split"]) == {"train"} and set(extra_frame["group"]) == {"simulated"}
    train_modern_refs = set(df.loc[df["individual"] == "mod_train", "reference"])
    seq, ref = extra.column("sequence").to_pylist(), extra.column("reference").to_pylist()
    assert set(ref) <= train_modern_refs  # never a validation read
    assert seq[:30] == ref[:30] and ref[30:] == ref[:30]
    changes = {(r, s) for a, b in zip(ref[30:], seq[30:]) for r, s in zip(a, b) if r != s}
    assert changes and changes <= {("C", "T"), ("G", "A")}
    assert extra.column("length").to_pylist()[:30] == extra.column("length").to_pylist()[30:]
    model, meta, _ = P.train_read_model(
        "damage_cnn",
        pa.concat_tables([table, extra]),
        pd.concat([frame, extra_frame], ignore_index=True),
        {"filters": 4, "kernel_size": 3, "hidden": 4, "max_length": 50},
        TrainConfig(max_epochs=1, batch_size=16, device="cpu"),
    )
    assert meta["n_train"] == 80 + 60
