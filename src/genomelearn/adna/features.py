"""Model inputs from the per-read table: padded base codes, damage codes, positions and length.

Reads vary in length (25–250 bp). Each read becomes a row of ``max_length`` positions: the read's
bases, then padding. A read longer than ``max_length`` keeps its first ``max_length // 2`` and its
last ``max_length - max_length // 2`` bases (both ends carry the damage signal). The batch source
builds float tensors one mini-batch at a time, trimmed to the longest read of the batch (rounded up
to an even length so that max-pooling sees whole pairs); padded positions are all-zero rows and are
masked out by the model.

The ``ends_cnn`` variant sees only the ``ends`` first and ``ends`` last bases of every read (2·ends
columns; column j < ends is base j from the 5' end, column 2·ends−1−k is base k from the 3' end, the
same positions whatever the read length). In a read shorter than 2·ends the two windows overlap:
each base is shown once, in the 5' window, and its column in the 3' window is masked (never
repeated), so a base is never counted twice and the encoding of a position does not change with the
read length (tested with reads of 25–60 bp). It has no length input: read and
fragment length are invisible to it, so it cannot separate the classes by length, which in the
default data differs between ancient (merged, short) and modern (long paired-end inserts, fixed
read lengths) libraries for technical reasons a real contaminant in an ancient library does not
share. It sees no read bases either, only where the reference has a C or a G and the mismatches
(a learned PMD score): with one-hot bases it memorises the mtDNA haplotype of the single ancient
training individual and generalises worse to new individuals (tested on the default data).

Channels (channels-first for Conv1d):
    0–3  one-hot read base A, C, G, T (all zero for N and padding)        [read_cnn, damage_cnn]
    4    C→T: reference C, read T                                           [damage-aware]
    5    G→A: reference G, read A                                           [damage-aware]
    6    any other mismatch to the reference (both bases ACGT)              [damage-aware]
    7    exp(−d5 / 5), d5 = distance (bp) from the read's 5' end            [damage-aware]
    8    exp(−d3 / 5), d3 = distance (bp) from the read's 3' end            [damage-aware]
Scalars (damage_cnn only): standardised log fragment length.
``damage_nolength_cnn`` is the damage_cnn ablation without any length information: the same 9
channels, no length scalar, and masked max-pooling only (masked mean pooling of the position
channels exp(−d/5) gives ≈ 5/L, i.e. the read length).
ends_cnn channels: 0 reference C, 1 reference G (reference base of a read base: the read base
where it matches, else the C of a C→T or the G of a G→A), then channels 4–8 above as 2–6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genomelearn.adna.pmd import flat_strings
from genomelearn.adna.reads import CODE_LUT, GAP, A, C, G, N, T

PAD = 6  # base code of padding positions (codes 0-3 ACGT, 4 N)
DAMAGE_NONE, DAMAGE_CT, DAMAGE_GA, DAMAGE_OTHER, DAMAGE_UNALIGNED = 0, 1, 2, 3, 4
N_CHANNELS = {"read_cnn": 4, "damage_cnn": 9, "damage_nolength_cnn": 9, "ends_cnn": 7}
N_SCALARS = {"read_cnn": 0, "damage_cnn": 1, "damage_nolength_cnn": 0, "ends_cnn": 0}
POOLING = {
    "read_cnn": "max_mean",
    "damage_cnn": "max_mean",
    "damage_nolength_cnn": "max",
    "ends_cnn": "max_mean",
}
#: version of the read encoding; a model bundle trained on another version is refused
#: (2: ends_cnn masks the overlap of short reads instead of repeating bases; damage_nolength_cnn)
FEATURE_VERSION = 2
POSITION_SCALE = 5.0


@dataclass
class ReadArrays:
    """Compact per-read model inputs.

    Attributes:
        bases: uint8 (N, L) base codes (0–3 ACGT, 4 N, 6 padding).
        damage: uint8 (N, L) damage codes (0 none, 1 C→T, 2 G→A, 3 other mismatch, 4 unaligned).
        read_length: int32 (N,) bases in the read.
        n_bases: int32 (N,) positions used (min(read_length, L)).
        length: int32 (N,) fragment length (bp).
        ends: 0, or the number of bases kept from each end (ends-only encoding, L = 2·ends).
    """

    bases: np.ndarray
    damage: np.ndarray
    read_length: np.ndarray
    n_bases: np.ndarray
    length: np.ndarray
    ends: int = 0

    def __len__(self) -> int:
        return len(self.n_bases)

    @property
    def max_length(self) -> int:
        return self.bases.shape[1]

    def take(self, idx: np.ndarray) -> ReadArrays:
        """Rows ``idx`` (a new ReadArrays)."""
        return ReadArrays(
            *(
                getattr(self, f)[idx]
                for f in ("bases", "damage", "read_length", "n_bases", "length")
            ),
            ends=self.ends,
        )


def source_positions(
    read_length: np.ndarray, width: int, max_length: int, ends: int = 0
) -> np.ndarray:
    """Position in the read (0-based from the 5' end) of each of the first ``width`` encoded
    columns, int64 (N, width); reads longer than ``max_length`` skip their middle. With ``ends``,
    the first ``ends`` columns are the first bases and the next ``ends`` the last bases; columns
    that :func:`ends_valid` masks (beyond a short read, or a base already in the 5' window) hold 0."""
    j = np.arange(width, dtype=np.int64)[None, :]
    rl = np.asarray(read_length, dtype=np.int64)[:, None]
    if ends:
        return np.where(
            ends_valid(read_length, ends)[:, :width], np.where(j < ends, j, rl - 2 * ends + j), 0
        )
    return np.where((rl > max_length) & (j >= max_length // 2), rl - (max_length - j), j)


def ends_valid(read_length: np.ndarray, ends: int) -> np.ndarray:
    """bool (N, 2·ends): which columns of the ends-only encoding hold a base.

    Column j < ends holds base j (if the read is longer than j); column ends + k holds base
    L − ends + k from the 5' end, only if that base is not already in the 5' window (≥ ends): in
    reads shorter than 2·ends the overlap is masked, never repeated."""
    j = np.arange(2 * int(ends), dtype=np.int64)[None, :]
    rl = np.asarray(read_length, dtype=np.int64)[:, None]
    return np.where(j < ends, j < rl, rl - 2 * ends + j >= ends)


def encode_reads(table, max_length: int = 150, chunk: int = 50000, ends: int = 0) -> ReadArrays:
    """Encode the reads of a per-read table (pyarrow Table with sequence, reference, length).

    Args:
        table: pyarrow Table with the columns of :data:`genomelearn.adna.reads.READ_TABLE_SCHEMA`.
        max_length: positions per read (longer reads keep both ends, see module docstring).
        chunk: reads encoded at a time (bounds temporary memory).
        ends: if > 0, ends-only encoding: 2·ends positions, the first and last ``ends`` bases
            (``max_length`` is then ignored).

    Returns:
        :class:`ReadArrays`.
    """
    seq, off = flat_strings(table.column("sequence"))
    ref, off_r = flat_strings(table.column("reference"))
    if not np.array_equal(off, off_r):
        raise ValueError("sequence and reference columns differ in per-read length")
    n = len(off) - 1
    if ends:
        max_length = 2 * int(ends)
    length = np.asarray(table.column("length").to_numpy(), dtype=np.int32)
    bases = np.full((n, max_length), PAD, dtype=np.uint8)
    damage = np.zeros((n, max_length), dtype=np.uint8)
    read_len = np.diff(off)
    n_bases = (
        np.full(n, max_length, np.int32)
        if ends
        else np.minimum(read_len, max_length).astype(np.int32)
    )
    if ends and n and read_len.min() < 1:
        raise ValueError("encode_reads: empty read")
    j = np.arange(max_length, dtype=np.int64)[None, :]
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        rl = read_len[s:e, None]
        src = source_positions(read_len[s:e], max_length, max_length, ends)
        valid = ends_valid(read_len[s:e], ends) if ends else j < np.minimum(rl, max_length)
        flat = off[s:e, None] + np.where(valid, src, 0)
        sc = CODE_LUT[seq[flat]]
        rc = CODE_LUT[ref[flat]]
        code = np.where(valid, sc, PAD).astype(np.uint8)
        dmg = np.full(sc.shape, DAMAGE_NONE, dtype=np.uint8)
        both = (sc < N) & (rc < N)
        dmg[both & (sc != rc)] = DAMAGE_OTHER
        dmg[(rc == C) & (sc == T)] = DAMAGE_CT
        dmg[(rc == G) & (sc == A)] = DAMAGE_GA
        dmg[rc == GAP] = DAMAGE_UNALIGNED
        dmg[~valid] = DAMAGE_NONE
        bases[s:e] = code
        damage[s:e] = dmg
    return ReadArrays(bases, damage, read_len.astype(np.int32), n_bases, length, ends=int(ends))


def kind_has_damage(kind: str) -> bool:
    """True for the models with damage/position channels."""
    return N_CHANNELS[kind] > 4


class ReadSource:
    """Batch source for :func:`genomelearn.training.fit` / ``predict`` over :class:`ReadArrays`.

    ``get(idx)`` returns ``(x, mask, scalars[, target])``: x float32 (B, C, Lb), mask bool (B, Lb),
    scalars float32 (B, S), target int64 (B,) when targets were given; Lb is the longest read of
    the batch rounded up to an even number.

    Args:
        arrays: encoded reads.
        kind: ``"read_cnn"`` (4 base channels, no scalars), ``"damage_cnn"`` (9 channels, length),
            ``"damage_nolength_cnn"`` (9 channels, no length) or ``"ends_cnn"`` (7 channels, no
            length; arrays from ``encode_reads(..., ends=E)``).
        targets: optional int64 (N,) labels (1 = ancient).
        length_mean, length_std: standardisation of log fragment length (from the training set).
    """

    def __init__(
        self,
        arrays: ReadArrays,
        kind: str,
        targets=None,
        length_mean: float = 0.0,
        length_std: float = 1.0,
    ):
        if kind not in N_CHANNELS:
            raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(N_CHANNELS)}")
        if (kind == "ends_cnn") != bool(arrays.ends):
            raise ValueError(
                "ends_cnn needs arrays from encode_reads(..., ends=E) and the other models full reads"
            )
        self.arrays = arrays
        self.kind = kind
        self.targets = None if targets is None else np.asarray(targets, dtype=np.int64)
        self.n_inputs = 3
        self.length_mean = float(length_mean)
        self.length_std = float(length_std) if length_std > 0 else 1.0

    def __len__(self) -> int:
        return len(self.arrays)

    def get(self, indices: np.ndarray) -> tuple[torch.Tensor, ...]:
        a = self.arrays
        indices = np.asarray(indices, dtype=np.int64)
        lb = int(a.n_bases[indices].max()) if len(indices) else 2
        lb += lb % 2
        lb = max(lb, 2)
        bases = a.bases[indices, :lb]
        b = len(indices)
        x = np.zeros((b, lb, N_CHANNELS[self.kind]), dtype=np.float32)
        mask = bases != PAD
        dmg = a.damage[indices, :lb]
        if self.kind == "ends_cnn":
            # no read bases: where the reference has a C or a G, the mismatches, and positions of
            # the columns (j < ends: base j from the 5' end; j >= ends: base 2·ends−1−j from the
            # 3' end), none of which depends on the read length
            x[:, :, 0] = ((bases == C) & (dmg == DAMAGE_NONE)) | (dmg == DAMAGE_CT)
            x[:, :, 1] = ((bases == G) & (dmg == DAMAGE_NONE)) | (dmg == DAMAGE_GA)
            x[:, :, 2] = dmg == DAMAGE_CT
            x[:, :, 3] = dmg == DAMAGE_GA
            x[:, :, 4] = dmg == DAMAGE_OTHER
            j = np.arange(lb)
            x[:, :, 5] = np.where(j < a.ends, np.exp(-j / POSITION_SCALE), 0.0)[None, :]
            x[:, :, 6] = np.where(
                j >= a.ends, np.exp(-(2 * a.ends - 1 - j) / POSITION_SCALE), 0.0
            )[None, :]
            x *= mask[:, :, None]  # masked columns (overlap of short reads) are all zero
        else:
            onehot = np.zeros((7, 4), dtype=np.float32)
            onehot[np.arange(4), np.arange(4)] = 1.0
            x[:, :, :4] = onehot[bases]
        if self.kind in ("damage_cnn", "damage_nolength_cnn"):
            x[:, :, 4] = dmg == DAMAGE_CT
            x[:, :, 5] = dmg == DAMAGE_GA
            x[:, :, 6] = dmg == DAMAGE_OTHER
            rl = a.read_length[indices]
            src = source_positions(rl, lb, a.max_length)
            x[:, :, 7] = np.exp(-src / POSITION_SCALE) * mask
            x[:, :, 8] = np.exp(-(rl[:, None] - 1 - src) / POSITION_SCALE) * mask
        if N_SCALARS[self.kind]:
            scalars = (
                (np.log(np.maximum(a.length[indices], 1)) - self.length_mean) / self.length_std
            )[:, None]
        else:
            scalars = np.zeros((b, 0), dtype=np.float32)
        out = (
            torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1))),
            torch.from_numpy(mask),
            torch.from_numpy(scalars.astype(np.float32)),
        )
        if self.targets is not None:
            out = out + (torch.from_numpy(self.targets[indices]),)
        return out


def build_read_model(kind: str, filters: int = 32, kernel_size: int = 5, hidden: int = 16):
    """A :class:`genomelearn.models.read_cnn.ReadCNN` for inputs of ``kind`` (input channels,
    length scalar and pooling from :data:`N_CHANNELS`, :data:`N_SCALARS`, :data:`POOLING`).

    Raises:
        ValueError: for an unknown kind."""
    from genomelearn.models.read_cnn import ReadCNN

    if kind not in N_CHANNELS:
        raise ValueError(f"unknown model {kind!r}; expected one of {sorted(N_CHANNELS)}")
    return ReadCNN(
        N_CHANNELS[kind], N_SCALARS[kind], filters, kernel_size, hidden, pooling=POOLING[kind]
    )
