"""PMD score (Skoglund et al. 2014): hand-computed values, a scalar per-read reference, real data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genomelearn.adna.pmd import PMDParameters, flat_strings, pmd_scores, pmd_scores_table
from genomelearn.adna.reads import ExtractionSettings, extract_table


def _flat(reads):
    seq = "".join(r[0] for r in reads).encode()
    ref = "".join(r[1] for r in reads).encode()
    qual = "".join(r[2] for r in reads).encode()
    off = np.cumsum([0] + [len(r[0]) for r in reads])
    u8 = lambda b: np.frombuffer(b, dtype=np.uint8)  # noqa: E731
    return u8(seq), u8(ref), u8(qual), off


def _p_match(d, e, pi):
    return (1 - d) * (1 - e) * (1 - pi) + d * e * (1 - pi) + e * pi * (1 - d)


def scalar_pmd(seq, ref, qual, p=0.3, c=0.01, pi=0.001, null=0.001):
    """Per-read, per-base reference written from the paper's formulas (slow, for testing)."""
    score = 0.0
    n = len(seq)
    for x, (a, b, q) in enumerate(zip(seq, ref, qual)):
        if "N" in (a, b):
            continue
        e = 10 ** (-(ord(q) - 33) / 10) / 3
        if b == "C" and a in "CT":
            k = x
        elif b == "G" and a in "GA":
            k = n - 1 - x
        else:
            continue
        d = p * (1 - p) ** k + c
        mism = (b == "C" and a == "T") or (b == "G" and a == "A")
        la = 1 - _p_match(d, e, pi) if mism else _p_match(d, e, pi)
        ln = 1 - _p_match(null, e, pi) if mism else _p_match(null, e, pi)
        score += math.log(la) - math.log(ln)
    return score


def test_single_terminal_c_to_t_by_hand():
    # one C->T at the 5' end (Q30), nothing else informative
    seq, ref, qual, off = _flat([("TAAA", "CAAA", "????")])
    e = 10**-3 / 3
    d = 0.3 + 0.01
    expected = math.log(1 - _p_match(d, e, 0.001)) - math.log(1 - _p_match(0.001, e, 0.001))
    assert pmd_scores(seq, ref, qual, off)[0] == pytest.approx(expected, rel=1e-12)
    assert expected > 3  # a single terminal C->T already passes the PMD >= 3 filter


def test_matches_scalar_reference_on_random_reads():
    rng = np.random.default_rng(0)
    reads = []
    for _ in range(200):
        n = int(rng.integers(20, 90))
        ref = "".join(rng.choice(list("ACGTN-"), n, p=[0.24, 0.24, 0.24, 0.24, 0.02, 0.02]))
        seq = list(ref.replace("-", "A"))
        for j in range(n):
            if rng.random() < 0.1:
                seq[j] = rng.choice(list("ACGTN"))
        qual = "".join(chr(33 + int(q)) for q in rng.integers(2, 41, n))
        reads.append(("".join(seq), ref, qual))
    s, r, q, off = _flat(reads)
    got = pmd_scores(s, r, q, off)
    want = np.array([scalar_pmd(*read) for read in reads])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    params = PMDParameters(p=0.5, constant=0.02, polymorphism=0.01, null_damage=0.0)
    want2 = np.array([scalar_pmd(*read, p=0.5, c=0.02, pi=0.01, null=0.0) for read in reads])
    np.testing.assert_allclose(pmd_scores(s, r, q, off, params), want2, rtol=1e-10, atol=1e-10)


def test_modern_reads_score_low_and_damaged_high():
    seq, ref, qual, off = _flat(
        [("ACGTACGTAC", "ACGTACGTAC", "I" * 10), ("TCGTACGTAA", "CCGTACGTAG", "I" * 10)]
    )
    clean, damaged = pmd_scores(seq, ref, qual, off)
    assert clean < 0 < 3 < damaged


def test_length_checks():
    with pytest.raises(ValueError, match="offsets"):
        pmd_scores(
            np.zeros(3, np.uint8), np.zeros(3, np.uint8), np.zeros(2, np.uint8), np.array([0, 3])
        )


def test_flat_strings_roundtrip():
    import pyarrow as pa

    col = pa.chunked_array([pa.array(["AC", "GTT"]), pa.array(["", "A"])])
    data, off = flat_strings(col)
    assert data.tobytes() == b"ACGTTA" and off.tolist() == [0, 2, 5, 5, 6]
    data, off = flat_strings(pa.array(["xx", "AC", "G"]).slice(1))
    assert data.tobytes() == b"ACG" and off.tolist() == [0, 2, 3]


def test_real_bam_scores_equal_scalar_reference(data_mirror):
    d = data_mirror / "ancient_dna/mtDNA_ancient_Pfrengle2021"
    table, _ = extract_table(
        d / "pmdtools_decontaminated/UF703.bam",
        "UF703",
        d / "rCRS.fa",
        settings=ExtractionSettings(min_mapq=0, min_length=0),
    )
    got = pmd_scores_table(table)
    seqs, refs, quals = (
        table.column(c).to_pylist() for c in ("sequence", "reference", "qualities")
    )
    want = np.array([scalar_pmd(s, r, q) for s, r, q in zip(seqs, refs, quals)])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    # reads PMDtools kept score high with our implementation too
    import pysam

    kept = {
        r.query_name
        for r in pysam.AlignmentFile(str(d / "pmdtools_decontaminated/UF703.pmds3filter.bam"))
    }
    names = np.array(table.column("name").to_pylist())
    assert np.mean(got[np.isin(names, list(kept))] >= 3) >= 0.9
