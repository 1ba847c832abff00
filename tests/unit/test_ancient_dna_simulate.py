"""Controlled damage simulation: rates follow the profile, only damage differs between the copies,
the BAMs carry valid MD tags (the extractor rebuilds the true reference from them)."""

from __future__ import annotations

import numpy as np
import pytest

from genomelearn.adna import simulate as S
from genomelearn.adna.reads import ExtractionSettings, extract_table


def _reference(n=5000, seed=0):
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), n)).encode()


def _profile(t5=0.3, t3=0.2, positions=15):
    d = np.arange(positions)
    return S.DamageProfile(
        "test", t5 * 0.5**d, np.zeros(positions), np.zeros(positions), t3 * 0.5**d
    )


def test_deamination_rates_follow_the_profile_on_the_molecule_strand():
    ref = _reference()
    n = 20000
    starts = np.random.default_rng(1).integers(0, 4800, 500)
    rev = np.arange(500) % 2 == 1
    mol = S.sample_molecules(
        ref, "chrT", starts, rev, np.array([40, 60]), np.array([0.5, 0.5]), n, seed=2
    )
    assert mol.length.min() >= 40 and (mol.start + mol.length <= len(ref)).all()
    out = S.deaminate(mol, _profile(), seed=3)
    fwd = ~mol.reverse
    # forward molecules: C->T at the left (5') end at ~0.3, G->A at the right (3') end at ~0.2
    c0 = mol.reference[fwd, 0] == ord("C")
    assert np.mean(out[fwd, 0][c0] == ord("T")) == pytest.approx(0.3, abs=0.03)
    last = mol.length[fwd] - 1
    g_last = mol.reference[fwd][np.arange(fwd.sum()), last]
    o_last = out[fwd][np.arange(fwd.sum()), last]
    assert np.mean(o_last[g_last == ord("G")] == ord("A")) == pytest.approx(0.2, abs=0.03)
    # reverse molecules: their 5' end is the alignment's right end, damage shows as G->A there
    rl = mol.length[mol.reverse] - 1
    g_r = mol.reference[mol.reverse][np.arange(mol.reverse.sum()), rl]
    o_r = out[mol.reverse][np.arange(mol.reverse.sum()), rl]
    assert np.mean(o_r[g_r == ord("G")] == ord("A")) == pytest.approx(0.3, abs=0.03)
    # the interior is untouched; rate 0 gives identical copies
    long = mol.length == 60  # 15 profile positions from each end: 15..44 is interior
    assert (out[long, 15:45] == mol.reference[long, 15:45]).all()
    same = S.deaminate(mol, _profile().scaled(0.0), seed=3)
    np.testing.assert_array_equal(same, mol.reference)
    scaled = _profile().scaled(0.1)
    assert scaled.ct5[0] == pytest.approx(0.1) and scaled.ga3[0] == pytest.approx(0.2 / 3)


def test_simulated_bam_has_valid_md_tags_and_same_molecules(tmp_path):
    ref = _reference()
    starts = np.arange(0, 4800, 7)
    mol = S.sample_molecules(
        ref,
        "chrT",
        starts,
        starts % 2 == 0,
        np.array([35, 50, 80]),
        np.array([0.3, 0.4, 0.3]),
        300,
        seed=0,
    )
    dam = S.deaminate(mol, _profile(0.5, 0.5), seed=1)
    for name, seqs in (("undamaged", mol.reference), ("damaged", dam)):
        S.write_bam(tmp_path / f"{name}.bam", mol, seqs, {"chrT": len(ref)}, name)
    und, _ = extract_table(
        str(tmp_path / "undamaged.bam"),
        "u",
        None,
        str(tmp_path / "undamaged.bam.bai"),
        ExtractionSettings(min_mapq=0, min_length=0),
    )
    dmg, _ = extract_table(
        str(tmp_path / "damaged.bam"),
        "d",
        None,
        str(tmp_path / "damaged.bam.bai"),
        ExtractionSettings(min_mapq=0, min_length=0),
    )
    assert und.num_rows == dmg.num_rows == 300

    # same molecules: same lengths and the same reference rebuilt from the MD tags
    def key(t):
        return sorted(zip(t.column("start").to_pylist(), t.column("reference").to_pylist()))

    assert key(und) == key(dmg)
    assert und.column("n_mismatches").to_numpy().sum() == 0
    assert dmg.column("n_mismatches").to_numpy().sum() > 0


def test_gargammel_profiles_from_the_mirror(data_mirror):
    d = data_mirror / "ancient_dna/damage_profiles_gargammel/src/matrices"
    ds = S.profile_from_gargammel(d / "double-5.dat", d / "double-3.dat", "double")
    ss = S.profile_from_gargammel(d / "single-5.dat", d / "single-3.dat", "single")
    # double-stranded: C->T at 5', G->A at 3'; single-stranded: C->T at both ends, 3' strongest
    assert ds.ct5[0] > ds.ct5[5] and ds.ga3[0] > ds.ga3[5]
    assert ss.ct3[0] > ss.ct5[0] > 0 and ss.ct3[0] > ss.ga3[0]
