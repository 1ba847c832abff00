"""PMD score of Skoglund et al. 2014 (PNAS 111:2229–2234, "Separating endogenous ancient DNA from
modern day contamination in a Siberian Neandertal"), vectorised over all bases of a batch of reads.

Model (paper, Methods and SI). A read is scored at every aligned position where the reference has
a C (read C or T) or a G (read G or A), in read (molecule) orientation. Let i be the 0-based
distance of the base from the 5' end of the read and z its 0-based distance from the 3' end. The
probability that a C is read as T through post-mortem deamination is modelled as a geometric decay
from the end plus a constant,

    D(k) = p (1 − p)^k + c          (k = i for reference C, k = z for reference G),

with p = 0.3 and c = 0.01. With ε = 10^(−Q/10) / 3 the base-call error probability from the base
quality Q and π = 0.001 the probability of a true polymorphism, the probability of observing the
reference base is

    P_match(D) = (1 − D)(1 − ε)(1 − π) + D ε (1 − π) + ε π (1 − D),

and of observing the deaminated base (T for C, A for G) is 1 − P_match(D). The PMD score is the log
likelihood ratio of the read under the damage model and under a null model whose damage
probability is a small constant (0.001, the default of the authors' PMDtools 0.50):

    PMD score = Σ_positions log P(obs | D(k)) − log P(obs | D_null).

Reads with PMD score ≥ 3 are the paper's "PMD-filtered" reads. Other mismatches (e.g. C→A) and
positions where the read or the reference is N are ignored, as are unaligned bases (soft clips,
insertions); they still count in i and z, as in the published implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genomelearn.adna.reads import CODE_LUT, A, C, G, T


@dataclass(frozen=True)
class PMDParameters:
    """Parameters of the PMD model (defaults: Skoglund et al. 2014 / PMDtools 0.50).

    Attributes:
        p: geometric decay parameter of the damage probability.
        constant: constant added to the damage probability (damage far from the ends).
        polymorphism: probability π of a true difference between the read's source and the reference.
        null_damage: damage probability of the null (modern) model at every position.
    """

    p: float = 0.3
    constant: float = 0.01
    polymorphism: float = 0.001
    null_damage: float = 0.001


def _p_match(damage: np.ndarray, eps: np.ndarray, pi: float) -> np.ndarray:
    return (1 - damage) * (1 - eps) * (1 - pi) + damage * eps * (1 - pi) + eps * pi * (1 - damage)


def pmd_scores(
    sequence: np.ndarray,
    reference: np.ndarray,
    qualities: np.ndarray,
    offsets: np.ndarray,
    params: PMDParameters | None = None,
) -> np.ndarray:
    """PMD score of each read.

    Args:
        sequence: uint8 ASCII read bases of all reads concatenated, molecule orientation.
        reference: uint8 ASCII reference base per read base (same layout; '-' or N = not scored).
        qualities: uint8 Phred+33 base qualities (same layout).
        offsets: int64 (N + 1,) start of each read in the flat arrays (offsets[-1] = total bases).
        params: :class:`PMDParameters`.

    Returns:
        float64 (N,) PMD scores (natural log likelihood ratios; 0 for reads without scorable C/G).

    Raises:
        ValueError: if the flat arrays differ in length or do not match ``offsets``.
    """
    params = params or PMDParameters()
    offsets = np.asarray(offsets, dtype=np.int64)
    total = int(offsets[-1])
    if not (len(sequence) == len(reference) == len(qualities) == total):
        raise ValueError(
            f"sequence ({len(sequence)}), reference ({len(reference)}) and qualities ({len(qualities)}) "
            f"must all have offsets[-1] = {total} bases"
        )
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    read = np.repeat(np.arange(n, dtype=np.int64), lengths)
    i = np.arange(total, dtype=np.int64) - offsets[read]
    z = lengths[read] - 1 - i
    s = CODE_LUT[sequence]
    r = CODE_LUT[reference]
    at_c = (r == C) & ((s == C) | (s == T))
    at_g = (r == G) & ((s == G) | (s == A))
    scored = at_c | at_g
    k = np.where(at_c, i, z)[scored]
    mismatch = ((s == T) & at_c | (s == A) & at_g)[scored]
    q = qualities[scored].astype(np.float64) - 33.0
    eps = 10.0 ** (-q / 10.0) / 3.0
    pi = params.polymorphism
    d_anc = params.p * (1.0 - params.p) ** k.astype(np.float64) + params.constant
    m_anc = _p_match(d_anc, eps, pi)
    m_null = _p_match(np.full_like(eps, params.null_damage), eps, pi)
    l_anc = np.where(mismatch, 1.0 - m_anc, m_anc)
    l_null = np.where(mismatch, 1.0 - m_null, m_null)
    contrib = np.log(l_anc) - np.log(l_null)
    return np.bincount(read[scored], weights=contrib, minlength=n)


def flat_strings(column) -> tuple[np.ndarray, np.ndarray]:
    """Zero-copy view of a pyarrow string column: (uint8 bytes, int64 offsets (N + 1,)).

    Args:
        column: ``pyarrow.StringArray`` or ``ChunkedArray`` of strings (no nulls).
    """
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if column.type == pa.string():
        column = column.cast(pa.large_string())
    if column.null_count:
        raise ValueError("string column has nulls")
    _, offsets_buf, data_buf = column.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[
        column.offset : column.offset + len(column) + 1
    ]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    start = int(offsets[0])
    return data[start : int(offsets[-1])], offsets - start


def pmd_scores_table(table, params: PMDParameters | None = None) -> np.ndarray:
    """PMD scores of every read of a per-read table (pyarrow Table with the columns of
    :data:`genomelearn.adna.reads.READ_TABLE_SCHEMA`).

    Returns:
        float64 (N,) PMD scores in table order.
    """
    seq, off = flat_strings(table.column("sequence"))
    ref, off_r = flat_strings(table.column("reference"))
    qual, off_q = flat_strings(table.column("qualities"))
    if not (np.array_equal(off, off_r) and np.array_equal(off, off_q)):
        raise ValueError("sequence, reference and qualities columns differ in per-read length")
    return pmd_scores(seq, ref, qual, off, params)
