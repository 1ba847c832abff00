"""Synthetic BAM/FASTA builders shared by the ancient-DNA unit tests (no tests here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

COMP = str.maketrans("ACGTN", "TGCAN")


def write_fasta(path: Path, contigs: dict[str, str]) -> Path:
    import pysam

    with open(path, "w") as fh:
        for name, seq in contigs.items():
            fh.write(
                f">{name}\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n"
            )
    pysam.faidx(str(path))
    return path


def random_reference(length: int = 3000, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return "".join(np.array(list("ACGT"))[rng.integers(0, 4, length)])


def write_bam(
    path: Path,
    contigs: dict[str, int],
    reads: list[dict],
    sort: bool = True,
    index: bool = True,
    header_extra: dict | None = None,
) -> Path:
    """Write reads given as dicts (name, flag, contig, pos, cigar, seq, qual?, mapq?, tags?, tlen?,
    mate_pos?) to a BAM; sorted by position unless ``sort`` is False."""
    import pysam

    header = {
        "HD": {"VN": "1.6", "SO": "coordinate" if sort else "unsorted"},
        "SQ": [{"SN": n, "LN": ln} for n, ln in contigs.items()],
    }
    if header_extra:
        header.update(header_extra)
    names = list(contigs)
    if sort:
        reads = sorted(reads, key=lambda r: (names.index(r["contig"]), r["pos"]))
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for r in reads:
            a = pysam.AlignedSegment(out.header)
            a.query_name = r["name"]
            a.flag = r.get("flag", 0)
            a.reference_id = names.index(r["contig"])
            a.reference_start = r["pos"]
            a.mapping_quality = r.get("mapq", 37)
            a.cigarstring = r["cigar"]
            a.query_sequence = r["seq"]
            a.query_qualities = pysam.qualitystring_to_array(r.get("qual", "I" * len(r["seq"])))
            if r.get("flag", 0) & 1:
                a.next_reference_id = a.reference_id
                a.next_reference_start = r.get("mate_pos", r["pos"])
                a.template_length = r.get("tlen", 0)
            for tag, value in r.get("tags", {}).items():
                a.set_tag(tag, value)
            out.write(a)
    if index and sort:
        pysam.index(str(path))
    return path


def add_md(bam: Path, fasta: Path, out: Path) -> Path:
    """Copy of ``bam`` with MD/NM tags computed by samtools calmd (via pysam), sorted and indexed."""
    import pysam

    sam = pysam.calmd(str(bam), str(fasta))
    tmp = out.with_suffix(".sam")
    tmp.write_text(sam)
    pysam.sort("-o", str(out), str(tmp))
    pysam.index(str(out))
    return out


def simulate_reads(
    ref: str,
    contig: str,
    n: int,
    seed: int = 1,
    damage: float = 0.0,
    indels: bool = True,
    softclips: bool = True,
) -> list[dict]:
    """Single-end reads from ``ref`` with optional C→T damage near the 5' end of the molecule,
    soft clips and indels (the CIGAR is built to match the read)."""
    rng = np.random.default_rng(seed)
    reads = []
    for i in range(n):
        length = int(rng.integers(30, 80))
        pos = int(rng.integers(10, len(ref) - length - 20))
        frag = list(ref[pos : pos + length])
        reverse = bool(rng.random() < 0.5)
        # molecule orientation: damage C->T near the 5' end of the molecule
        mol = list("".join(frag).translate(COMP)[::-1]) if reverse else frag
        for j in range(min(5, len(mol))):
            if mol[j] == "C" and rng.random() < damage:
                mol[j] = "T"
        if rng.random() < 0.05:
            mol[int(rng.integers(0, len(mol)))] = "N"
        seq = "".join(mol).translate(COMP)[::-1] if reverse else "".join(mol)
        cigar = f"{length}M"
        kind = rng.random()
        if indels and kind < 0.15 and length > 40:
            # insertion of 2 bases after 20 aligned bases
            seq = seq[:20] + "AG" + seq[20:]
            cigar = f"20M2I{length - 20}M"
        elif indels and kind < 0.3 and length > 40:
            # deletion of 3 reference bases after 25 aligned bases
            seq = seq[:25] + seq[28:]
            cigar = f"25M3D{length - 28}M"
        elif softclips and kind < 0.45:
            seq = "TTTT" + seq[4:]
            cigar = f"4S{length - 4}M"
            pos += 4
        reads.append(
            {
                "name": f"r{i}",
                "flag": 16 if reverse else 0,
                "contig": contig,
                "pos": pos,
                "cigar": cigar,
                "seq": seq,
            }
        )
    return reads
