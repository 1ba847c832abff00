"""Decontamination: a score threshold at a target false-positive rate, the filtered BAM, and an
estimate of the contamination fraction.

Threshold. Reads are kept when their score (probability of "ancient") is strictly above a threshold
t chosen on the modern reads of the validation individuals: t is the smallest observed validation
score such that at most ``target_fpr`` of those reads score above it. A modern read of an unseen
individual is then kept with probability ≈ target_fpr (checked on the test individuals).

Contamination estimate. If a sample is a mixture of authentic ancient reads (a fraction 1 − c) and
modern contaminant reads (c), the expected fraction of reads kept is k = (1 − c)·TPR + c·FPR, where
TPR and FPR are the keep rates of ancient and modern validation reads. Hence

    ĉ = (TPR − k) / (TPR − FPR), clipped to [0, 1],

with a 95 % interval from the Wilson interval of k (binomial over the sample's scored reads).
Assumptions, stated in the report: the sample's authentic reads are scored like the validation
ancient reads (similar damage, length and library type), and the validation ancient reads are
themselves authentic (their own contamination makes TPR, hence ĉ, too low).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genomelearn.errors import InputError


def threshold_at_fpr(negative_scores: np.ndarray, target_fpr: float) -> float:
    """Threshold t such that the fraction of ``negative_scores`` > t is ≤ ``target_fpr`` (and as
    close to it as the ties allow).

    Args:
        negative_scores: (M,) scores of modern (negative) validation reads.
        target_fpr: in [0, 1).

    Returns:
        float threshold; keep reads with ``score > t``.

    Raises:
        ValueError: if no negative scores are given or target_fpr is outside [0, 1).
    """
    s = np.sort(np.asarray(negative_scores, dtype=np.float64))
    if len(s) == 0:
        raise ValueError("threshold_at_fpr: no negative (modern validation) scores")
    if not 0.0 <= target_fpr < 1.0:
        raise ValueError(f"target_fpr must be in [0, 1), got {target_fpr}")
    allowed = int(np.floor(target_fpr * len(s) + 1e-9))  # negatives that may lie above t
    t = s[len(s) - 1 - allowed]
    # ties at t: (s > t) never exceeds `allowed`; lower t while that still holds
    return float(t)


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (NaNs when n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def contamination_estimate(kept: int, scored: int, tpr: float, fpr: float) -> dict:
    """Mixture estimate of the contamination fraction from the share of reads kept.

    Args:
        kept: reads above the threshold. scored: reads scored (passed the read filter).
        tpr: keep rate of ancient validation reads. fpr: keep rate of modern validation reads.

    Returns:
        dict with share_kept, contamination, contamination_low, contamination_high (95 %; NaN
        when scored = 0 or tpr <= fpr).
    """
    if scored == 0 or not tpr > fpr:
        nan = float("nan")
        return {
            "share_kept": kept / scored if scored else nan,
            "contamination": nan,
            "contamination_low": nan,
            "contamination_high": nan,
        }
    k = kept / scored
    lo_k, hi_k = wilson_interval(kept, scored)

    def c_of(share):
        return float(np.clip((tpr - share) / (tpr - fpr), 0.0, 1.0))

    return {
        "share_kept": k,
        "contamination": c_of(k),
        "contamination_low": c_of(hi_k),
        "contamination_high": c_of(lo_k),
    }


def write_authentic_bam(
    bam_path,
    out_path,
    records: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    sample: str,
    tag: str = "ZS",
    index=None,
) -> dict:
    """Write the reads scoring above ``threshold`` to a new BAM with their score in a float tag,
    and index it.

    The input is streamed in file order (a coordinate-sorted input gives a sorted output); a read
    is identified by its record number in the stream (``record`` column of the read table), so
    mates and duplicate names are unambiguous. Written to temporary files renamed at the end.

    Args:
        bam_path: input BAM (the same file the read table was extracted from).
        out_path: output BAM; ``<out_path>.bai`` is written beside it.
        records: int64 (M,) record numbers of the scored reads.
        scores: float (M,) their scores.
        threshold: keep ``score > threshold``.
        sample: sample name (messages, @PG line).
        tag: two-character tag for the score (type f); must be X?, Y?, Z? or contain a lowercase
            letter (SAM local-use tags).
        index: optional explicit index of the input (unused for streaming; accepted for symmetry).

    Returns:
        dict with records (in the BAM), scored, kept.

    Raises:
        InputError: unknown tag name, or a record number beyond the end of the BAM (the read table
            and the BAM disagree).
    """
    import pysam

    from genomelearn.adna.bamcheck import open_bam

    if (
        len(tag) != 2
        or not (tag[0] in "XYZ" or any(ch.islower() for ch in tag))
        or not tag.isalnum()
    ):
        raise InputError(
            f"score tag {tag!r} is not a SAM local-use tag (X?, Y?, Z? or with a lowercase letter)"
        )
    records = np.asarray(records, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    keep = scores > threshold
    kept_records = records[keep]
    kept_scores = scores[keep]
    order = np.argsort(kept_records)
    kept_records, kept_scores = kept_records[order], kept_scores[order]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.part.bam")
    tmp_bai = Path(str(tmp) + ".bai")
    bam, _ = open_bam(bam_path, sample, None, False)
    n_records = 0
    written = 0
    try:
        header = bam.header.to_dict()
        header.setdefault("PG", []).append(
            {
                "ID": f"genomelearn-ancient_dna.{len(header.get('PG', []))}",
                "PN": "genomelearn",
                "CL": f"authentic reads of {sample}: {tag}:f score > {threshold:.6g}",
            }
        )
        with pysam.AlignmentFile(str(tmp), "wb", header=header) as out:
            j = 0
            next_record = kept_records[0] if len(kept_records) else -1
            for read in bam.fetch(until_eof=True):
                if n_records == next_record:
                    read.set_tag(tag, float(kept_scores[j]), value_type="f")
                    out.write(read)
                    written += 1
                    j += 1
                    next_record = kept_records[j] if j < len(kept_records) else -1
                n_records += 1
        if written != len(kept_records):
            raise InputError(
                f"sample {sample!r}, file {bam_path}: the read table refers to record {next_record + 1} but the "
                f"BAM has {n_records} records: the table was extracted from another file"
            )
        pysam.index(str(tmp), str(tmp_bai))
        os.replace(tmp, out_path)
        os.replace(tmp_bai, Path(str(out_path) + ".bai"))
    finally:
        bam.close()
        for f in (tmp, tmp_bai):
            if f.exists():
                f.unlink()
    return {"records": n_records, "scored": int(len(records)), "kept": int(written)}
