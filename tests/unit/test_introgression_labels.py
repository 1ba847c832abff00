"""Chromosome-wide labels (depleted negatives, map support) and composition matching."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pybedtools
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from genomelearn.errors import InputError
from genomelearn.introgression import labels as L
from genomelearn.introgression.matching import composition_cells, match_composition, quantile_edges

DATA = (
    Path(
        os.environ.get(
            "GENOMELEARN_DATA_MIRROR", Path(__file__).resolve().parents[3] / "shared" / "data"
        )
    )
    / "introgression"
)


def _bed(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end"]).astype(
        {"start": np.int64, "end": np.int64}
    )


def _intervals(bedframe):
    return sorted(map(tuple, bedframe[["chrom", "start", "end"]].itertuples(index=False)))


def test_depleted_is_covered_minus_buffered_union():
    mask = _bed([("chr1", 0, 1000), ("chr1", 2000, 3000), ("chr2", 0, 500)])
    maps = {
        "a": _bed([("chr1", 100, 200)]),
        "b": _bed([("chr1", 150, 400), ("chr2", 0, 10)]),
        "c": _bed([]),
    }
    dep, summary = L.depleted_regions(mask, maps, ["chr1"], buffer_bp=50)
    assert _intervals(dep) == [("chr1", 0, 50), ("chr1", 450, 1000), ("chr1", 2000, 3000)]
    assert summary["covered_bp"] == 2000 and summary["union_bp"] == 300
    assert summary["depleted_unbuffered_bp"] == 1700 and summary["depleted_bp"] == 50 + 550 + 1000
    dep0, _ = L.depleted_regions(mask, maps, ["chr1"], buffer_bp=0)
    assert _intervals(dep0) == [("chr1", 0, 100), ("chr1", 400, 1000), ("chr1", 2000, 3000)]
    with pytest.raises(ValueError, match="buffer_bp"):
        L.depleted_regions(mask, maps, ["chr1"], buffer_bp=-1)
    with pytest.raises(InputError, match="chr9"):
        L.depleted_regions(mask, maps, ["chr9"], buffer_bp=0)


def test_build_depleted_regions_classes_apart_and_errors():
    mask = _bed([("chr1", 0, 10_000)])
    maps = {
        "a": _bed([("chr1", 1000, 2000)]),
        "b": _bed([("chr1", 1500, 3000), ("chr1", 8000, 8200)]),
    }
    intro = _bed([("chr1", 1200, 2500), ("chr1", 6000, 6100)])  # the second one is in no map
    regions, summary = L.build_depleted_regions(intro, mask, maps, ["chr1"], buffer_bp=300)
    pos, neg = regions[regions["label"] == 1], regions[regions["label"] == 0]
    assert regions["label"].dtype == np.int8
    assert _intervals(pos) == [("chr1", 1200, 2500), ("chr1", 6000, 6100)]
    assert _intervals(neg) == [
        ("chr1", 0, 700),
        ("chr1", 3300, 5700),
        ("chr1", 6400, 7700),
        ("chr1", 8500, 10_000),
    ]
    assert summary["introgressed_bp_final"] == 1400
    with pytest.raises(InputError, match="no depleted sequence"):
        L.build_depleted_regions(intro, mask, maps, ["chr1"], buffer_bp=5000)


def test_overlaps_any_is_half_open():
    windows = _bed(
        [
            ("chr1", 0, 100),
            ("chr1", 100, 200),
            ("chr1", 199, 300),
            ("chr2", 0, 50),
            ("chr1", 300, 400),
        ]
    )
    hit = L.overlaps_any(windows, _bed([("chr1", 200, 300)]))
    assert hit.tolist() == [False, False, True, False, False]


def test_window_support_matches_bedtools_counts():
    rng = np.random.default_rng(3)
    maps = {}
    for m in range(12):
        starts = np.sort(rng.integers(0, 1_000_000, 60))
        maps[f"m{m}"] = L.bed.merge(
            _bed([("chr1", s, s + rng.integers(1, 30_000)) for s in starts])
        )
    starts = rng.integers(0, 1_000_000, 5000)
    windows = _bed([("chr1", s, s + 200) for s in starts])
    support = L.window_support(windows, maps)
    assert support.dtype == np.int8 and support.min() >= 0 and support.max() <= 12
    expected = np.zeros(len(windows), dtype=int)
    w_bt = pybedtools.BedTool.from_dataframe(windows)
    for frame in maps.values():
        counted = w_bt.intersect(pybedtools.BedTool.from_dataframe(frame), c=True).to_dataframe()
        expected += (counted.iloc[:, 3].to_numpy() > 0).astype(int)
    assert np.array_equal(support, expected)
    assert len(np.unique(support)) > 3  # the synthetic maps overlap each other


def test_bp_per_block_cuts_at_block_edges():
    out = L.bp_per_block(_bed([("chr1", 900, 2100), ("chr1", 5000, 5001), ("chr2", 0, 10)]), 1000)
    assert out["block"].tolist() == ["chr1:0", "chr1:1", "chr1:2", "chr1:5", "chr2:0"]
    assert out["bp"].tolist() == [100, 1000, 100, 1, 10]


@pytest.mark.skipif(
    not (DATA / "maps_hg19").is_dir(), reason="real introgression data not mirrored"
)
def test_chr22_depleted_sequence_of_the_real_maps():
    """The issue's chr22 figures: the union of the 12 maps covers 29.6 Mb; 3.36 Mb of covered
    sequence lies outside it (measured: 29,638,302 bp and 3,356,244 bp, 19 one-Mb blocks)."""
    from genomelearn.io.bed import read_bed

    base = DATA / "maps_hg19" / "introgression_maps" / "maps_by_method"
    maps = L.read_maps({m: base / m / f"{m}_regions_merged.bed" for m in L.MAP_METHODS}, ["chr22"])
    mask = read_bed(DATA / "reference" / "hg19_chr22_EPO_covered.bed")
    dep, summary = L.depleted_regions(mask, maps, ["chr22"], buffer_bp=0)
    assert summary["union_bp"] == 29_638_302
    assert (
        summary["depleted_bp"] == 3_356_244 == summary["covered_bp"] - summary["union_covered_bp"]
    )
    assert len(L.bp_per_block(dep, 1_000_000)) == 19


# ------------------------------------------------------------------ composition matching


def _gc_only_set(n, seed):
    """Positives and negatives differ in GC only (repeat fraction has one distribution)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(np.int8)
    gc = np.where(labels == 1, rng.normal(0.45, 0.05, n), rng.normal(0.40, 0.07, n)).clip(0, 1)
    repeat = rng.beta(0.6, 1.5, n)
    repeat[rng.random(n) < 0.3] = 0.0  # a point mass at 0, as for real soft-masking
    return labels, gc, repeat


def _gc_auroc(train, test, labels, gc):
    model = LogisticRegression().fit(gc[train, None], labels[train])
    return roc_auc_score(labels[test], model.predict_proba(gc[test, None])[:, 1])


def test_matching_brings_a_gc_only_model_to_chance():
    labels, gc, repeat = _gc_only_set(40_000, seed=1)
    half = np.arange(len(labels)) < len(labels) // 2
    train, test = np.flatnonzero(half), np.flatnonzero(~half)
    before = _gc_auroc(train, test, labels, gc)
    m_train = train[match_composition(labels[train], gc[train], repeat[train], 20, 5, seed=0)]
    picked = match_composition(labels[test], gc[test], repeat[test], 20, 5, seed=1)
    m_test = test[picked]
    after = _gc_auroc(m_train, m_test, labels, gc)
    assert before > 0.65
    assert abs(after - 0.5) < 0.05
    # negatives now follow the positives' joint cells (cells of the set before matching)
    cells = composition_cells(labels[test], gc[test], repeat[test], 20, 5)[picked]
    pos = np.bincount(cells[labels[m_test] == 1], minlength=cells.max() + 1)
    neg = np.bincount(cells[labels[m_test] == 0], minlength=cells.max() + 1)
    assert np.abs(pos - neg).max() <= 1


def test_matching_is_seeded_keeps_positives_and_honours_the_ratio():
    labels, gc, repeat = _gc_only_set(20_000, seed=2)
    a = match_composition(labels, gc, repeat, 10, 3, seed=5, negatives_per_positive=0.5)
    b = match_composition(labels, gc, repeat, 10, 3, seed=5, negatives_per_positive=0.5)
    c = match_composition(labels, gc, repeat, 10, 3, seed=6, negatives_per_positive=0.5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == np.int64 and np.all(np.diff(a) > 0)
    n_pos, n_neg = (labels[a] == 1).sum(), (labels[a] == 0).sum()
    assert abs(n_neg / n_pos - 0.5) < 0.02
    assert n_pos > 0.9 * (labels == 1).sum()  # positives dropped only where negatives are scarce


def test_matching_edges_and_errors():
    edges = quantile_edges(np.array([0.0, 0.0, 0.0, 0.1, 0.2, np.nan]), 5)
    assert edges[0] == 0.0 and edges[-1] == 0.2 and np.all(np.diff(edges) > 0)
    labels = np.array([1, 1, 0, 0])
    with pytest.raises(
        ValueError, match="0 negatives"
    ):  # negatives outside the positives' GC range
        match_composition(labels, np.array([0.4, 0.5, 0.9, 0.95]), np.zeros(4), 5, 1, seed=0)
    with pytest.raises(ValueError, match="0/1"):
        match_composition(np.array([1, 2]), np.zeros(2), np.zeros(2), 5, 1, seed=0)
    with pytest.raises(ValueError, match="length"):
        match_composition(labels, np.zeros(3), np.zeros(4), 5, 1, seed=0)
