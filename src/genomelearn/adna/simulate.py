"""Controlled damage simulation: the same molecules with and without deamination.

The simulation benchmark of the field is gargammel (Renaud et al. 2017, Bioinformatics 33:577): it
cuts molecules from a reference, gives them an empirical fragment-length distribution and deaminates
them with position-specific C→T / G→A rates taken from real mapDamage tables. Here, so that *only*
damage differs between the classes:

* molecule start positions and strands are those of the modern samples' reads (their reference
  intervals), lengths are drawn from the empirical fragment-length distribution of the ancient
  training individuals, sequences are cut from the reference FASTA;
* each molecule is written twice as a merged single-end read (CIGAR ``<L>M``, MD and NM tags, MAPQ
  37, like the ancient BAMs): undamaged, and deaminated with position-specific rates;
* the rates come from a damage profile (the measured tables of the ancient samples, or gargammel's
  double- and single-stranded matrices), minus its interior (background) level, scaled so that the
  terminal C→T rate (the larger of the two ends: single-stranded libraries show C→T at both) equals
  the swept rate (0 % gives identical copies).

Vectorised with numpy over all molecules at once; seeded (same seed, same BAMs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genomelearn.errors import InputError

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_COMPLEMENT = np.zeros(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTN", b"TGCAN"):
    _COMPLEMENT[_a] = _b
_COMPLEMENT[ord("-")] = ord("-")


@dataclass
class DamageProfile:
    """Position-specific deamination probabilities (background removed).

    Attributes:
        name: profile name. ct5, ga5: float64 (P,) C→T / G→A probability at distance 0..P−1 from
            the molecule's 5' end; ct3, ga3: the same from the 3' end. Beyond P: 0.
    """

    name: str
    ct5: np.ndarray
    ga5: np.ndarray
    ct3: np.ndarray
    ga3: np.ndarray

    def scaled(self, terminal_ct: float) -> DamageProfile:
        """The profile scaled so that the terminal C→T rate, max(ct5[0], ct3[0]) (the 3' end matters
        for single-stranded libraries), equals ``terminal_ct``; all four curves by the same factor,
        clipped to [0, 1]. Raises InputError if the profile has no terminal C→T excess."""
        if terminal_ct == 0:
            z = np.zeros_like(self.ct5)
            return DamageProfile(self.name, z, z.copy(), z.copy(), z.copy())
        terminal = max(self.ct5[0], self.ct3[0])
        if terminal <= 0:
            raise InputError(f"damage profile {self.name}: no terminal C→T excess to scale")
        f = terminal_ct / terminal
        c = lambda a: np.clip(a * f, 0.0, 1.0)
        return DamageProfile(self.name, c(self.ct5), c(self.ga5), c(self.ct3), c(self.ga3))


def _excess(freq: np.ndarray, n_background: int = 5) -> np.ndarray:
    """Frequencies minus their interior level (median of the last ``n_background`` positions)."""
    return np.clip(freq - np.median(freq[-n_background:]), 0.0, None)


def profile_from_damage_tables(paths, name: str = "measured") -> DamageProfile:
    """Pooled profile of damage tables written by the extraction step (columns end, position
    (1-based), substitution "C>T"/"G>A", count, total): counts and totals are summed over the
    tables, then the interior level is removed.

    Raises:
        InputError: if no table is given or one lacks the C>T / G>A rows of both ends.
    """
    frames = [pd.read_csv(p, sep="\t") for p in paths]
    if not frames:
        raise InputError(f"damage profile {name}: no damage tables")
    tab = pd.concat(frames).groupby(["end", "substitution", "position"])[["count", "total"]].sum()
    out = {}
    for end in ("5p", "3p"):
        for sub in ("C>T", "G>A"):
            try:
                part = tab.loc[(end, sub)].sort_index()
            except KeyError as exc:
                raise InputError(
                    f"damage profile {name}: no {end} {sub} rows in {list(paths)}"
                ) from exc
            out[f"{sub[0]}{sub[2]}{end[0]}".lower()] = _excess(
                (part["count"] / part["total"].clip(lower=1)).to_numpy()
            )
    return DamageProfile(name, out["ct5"], out["ga5"], out["ct3"], out["ga3"])


def _read_gargammel_matrix(path) -> pd.DataFrame:
    """gargammel's deamination matrix (src/matrices/*.dat): rows = position (0, 1, ... from the 5'
    end; −80 ... 0 towards the 3' end, 0 = terminal base), columns "A->C" ... "T->G", cells
    "rate [low..high]"; returns the rates (float) ordered by distance from the end (0 first)."""
    raw = pd.read_csv(path, sep="\t", index_col=0, dtype=str)
    rates = raw.apply(lambda col: col.str.split(" ").str[0].astype(float))
    rates.index = np.abs(rates.index.astype(int))
    return rates.sort_index()


def profile_from_gargammel(five_prime, three_prime, name: str) -> DamageProfile:
    """Profile of a pair of gargammel matrices (``double-5.dat``/``double-3.dat``: double-stranded
    library, C→T at 5', G→A at 3'; ``single-*``: single-stranded, C→T at both ends)."""
    m5 = _read_gargammel_matrix(five_prime)
    m3 = _read_gargammel_matrix(three_prime)
    return DamageProfile(
        name,
        _excess(m5["C->T"].to_numpy()),
        _excess(m5["G->A"].to_numpy()),
        _excess(m3["C->T"].to_numpy()),
        _excess(m3["G->A"].to_numpy()),
    )


def length_distribution(paths) -> tuple[np.ndarray, np.ndarray]:
    """Pooled fragment-length distribution of length tables (columns length, count):
    (lengths int64, probabilities float64)."""
    tab = pd.concat([pd.read_csv(p, sep="\t") for p in paths]).groupby("length")["count"].sum()
    tab = tab[tab > 0]
    if tab.empty:
        raise InputError("simulation: the ancient training individuals have no fragment lengths")
    return tab.index.to_numpy(np.int64), (tab / tab.sum()).to_numpy()


@dataclass
class Molecules:
    """Simulated molecules in reference orientation.

    Attributes:
        contig: str. start: int64 (N,) 0-based leftmost reference position. length: int64 (N,).
        reverse: bool (N,) molecule on the reverse strand. reference: uint8 (N, Lmax) reference
        bases (ASCII, padded with 0 beyond ``length``).
    """

    contig: str
    start: np.ndarray
    length: np.ndarray
    reverse: np.ndarray
    reference: np.ndarray


def sample_molecules(
    reference_seq: bytes,
    contig: str,
    starts: np.ndarray,
    reverse: np.ndarray,
    lengths: np.ndarray,
    probs: np.ndarray,
    n: int,
    seed: int,
) -> Molecules:
    """Draw ``n`` molecules: a (start, strand) of the given modern read intervals and a length of
    the given distribution; molecules running off the contig end or holding non-ACGT bases are
    redrawn (vectorised, a few rounds).

    Raises:
        InputError: if too few valid molecules can be drawn (e.g. no intervals given).
    """
    rng = np.random.default_rng(seed)
    ref = np.frombuffer(reference_seq.upper(), dtype=np.uint8)
    acgt = np.isin(ref, BASES)
    bad_cum = np.r_[0, np.cumsum(~acgt)]
    if len(starts) == 0:
        raise InputError("simulation: no modern read intervals to place molecules on")
    got_s, got_l, got_r = [], [], []
    need = n
    for _ in range(20):
        pick = rng.integers(0, len(starts), 2 * need + 10)
        s = np.asarray(starts)[pick]
        r = np.asarray(reverse)[pick]
        ln = rng.choice(lengths, size=len(pick), p=probs)
        ok = (s + ln <= len(ref)) & (s >= 0)
        ok[ok] &= (bad_cum[s[ok] + ln[ok]] - bad_cum[s[ok]]) == 0
        got_s.append(s[ok][:need]), got_l.append(ln[ok][:need]), got_r.append(r[ok][:need])
        need -= int(min(ok.sum(), need))
        if need == 0:
            break
    if need:
        raise InputError(f"simulation: could only place {n - need} of {n} molecules on {contig}")
    start, length, rev = np.concatenate(got_s), np.concatenate(got_l), np.concatenate(got_r)
    lmax = int(length.max())
    j = np.arange(lmax)[None, :]
    valid = j < length[:, None]
    seq = np.where(valid, ref[np.minimum(start[:, None] + j, len(ref) - 1)], 0).astype(np.uint8)
    return Molecules(
        contig, start.astype(np.int64), length.astype(np.int64), rev.astype(bool), seq
    )


def deaminate(mol: Molecules, profile: DamageProfile, seed: int) -> np.ndarray:
    """Deaminated read sequences (reference orientation, uint8 (N, Lmax) like ``mol.reference``).

    On the molecule's own strand, a C at distance d5 from its 5' end and d3 from its 3' end becomes
    T with probability max(ct5[d5], ct3[d3]); a G becomes A with max(ga5[d5], ga3[d3]). Reverse-
    strand molecules are complemented and their ends swapped, so their damage appears as G→A at the
    alignment's right end, as in real BAMs.
    """
    rng = np.random.default_rng(seed)
    n, lmax = mol.reference.shape
    j = np.arange(lmax)[None, :]
    L = mol.length[:, None]
    valid = j < L
    # distance from the molecule's 5' end: left end for forward, right end for reverse molecules
    d_left, d_right = j, L - 1 - j
    d5 = np.where(mol.reverse[:, None], d_right, d_left)
    d3 = np.where(mol.reverse[:, None], d_left, d_right)

    def rate(curve, d):
        return np.where((d >= 0) & (d < len(curve)), curve[np.clip(d, 0, len(curve) - 1)], 0.0)

    p_ct = np.maximum(rate(profile.ct5, d5), rate(profile.ct3, d3))
    p_ga = np.maximum(rate(profile.ga5, d5), rate(profile.ga3, d3))
    # molecule-strand base: reference base for forward molecules, its complement for reverse ones
    strand_base = np.where(mol.reverse[:, None], _COMPLEMENT[mol.reference], mol.reference)
    u = rng.random((n, lmax))
    out = strand_base.copy()
    out[(strand_base == ord("C")) & (u < p_ct) & valid] = ord("T")
    out[(strand_base == ord("G")) & (u < p_ga) & valid] = ord("A")
    out = np.where(mol.reverse[:, None], _COMPLEMENT[out], out)
    return np.where(valid, out, 0).astype(np.uint8)


def md_tags(read: np.ndarray, ref: np.ndarray, length: np.ndarray) -> tuple[list[str], np.ndarray]:
    """SAM MD tags and NM counts of ungapped alignments (``<L>M``): (list of str, int64 (N,))."""
    mism = (read != ref) & (np.arange(read.shape[1])[None, :] < length[:, None])
    tags = []
    for i in range(len(length)):
        pos = np.flatnonzero(mism[i])
        parts, prev = [], 0
        for p in pos:
            parts.append(str(p - prev))
            parts.append(chr(ref[i, p]))
            prev = p + 1
        parts.append(str(int(length[i]) - prev))
        tags.append("".join(parts))
    return tags, mism.sum(axis=1).astype(np.int64)


def write_bam(
    path: str | os.PathLike,
    mol: Molecules,
    sequences: np.ndarray,
    contig_lengths: dict,
    prefix: str,
) -> None:
    """Write merged single-end reads (reference orientation, flag 16 for reverse molecules, CIGAR
    ``<L>M``, MAPQ 37, base quality 37, MD and NM tags) sorted by position, and index the BAM."""
    import pysam

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": c, "LN": int(n)} for c, n in contig_lengths.items()],
        "PG": [{"ID": "genomelearn-simulate", "PN": "genomelearn.adna.simulate"}],
    }
    tid = list(contig_lengths).index(mol.contig)
    md, nm = md_tags(sequences, mol.reference, mol.length)
    order = np.argsort(mol.start, kind="stable")
    tmp = path.with_suffix(".tmp.bam")
    with pysam.AlignmentFile(str(tmp), "wb", header=header) as out:
        for i in order:
            n = int(mol.length[i])
            a = pysam.AlignedSegment(out.header)
            a.query_name = f"{prefix}_{i}"
            a.flag = 16 if mol.reverse[i] else 0
            a.reference_id = tid
            a.reference_start = int(mol.start[i])
            a.mapping_quality = 37
            a.cigartuples = [(0, n)]
            a.query_sequence = sequences[i, :n].tobytes().decode()
            a.query_qualities = pysam.qualitystring_to_array("F" * n)
            a.set_tags([("MD", md[i], "Z"), ("NM", int(nm[i]), "i")])
            out.write(a)
    os.replace(tmp, path)
    pysam.index(str(path))
