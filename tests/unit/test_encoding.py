"""Exactness of genomelearn.encoding against a tiny pure-Python reference (no timings here).

Speed is measured by benchmarks/bench_introgression.py, never in unit tests.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from genomelearn import encoding as enc

ALPHABET = "ACGTacgtNnRYKM"  # bases, soft-masked bases, N and IUPAC ambiguity codes


# --------------------------------------------------------------------------- pure-Python reference
def ref_code(base: str) -> int:
    return "ACGT".index(base.upper()) if base.upper() in "ACGT" else 4


def ref_tokens(seq: str, k: int) -> list[int]:
    out = []
    for i in range(len(seq) - k + 1):
        kmer = seq[i : i + k].upper()
        if all(b in "ACGT" for b in kmer):
            value = 0
            for b in kmer:
                value = value * 4 + "ACGT".index(b)
            out.append(value + 1)
        else:
            out.append(4**k + 1)
    return out


def ref_counts(seqs: list[str], k: int) -> np.ndarray:
    dense = np.zeros((len(seqs), 4**k), dtype=np.float32)
    for r, seq in enumerate(seqs):
        for token, n in Counter(ref_tokens(seq, k)).items():
            if 1 <= token <= 4**k:
                dense[r, token - 1] = n
    return dense


def random_seqs(rng, n: int, length: int, n_rate: float = 0.05) -> list[str]:
    """Random sequences over ACGT/acgt with non-ACGT symbols at rate ``n_rate``."""
    core = np.array(list("ACGTacgt"))[rng.integers(0, 8, (n, length))]
    other = np.array(list("NnRYKM"))[rng.integers(0, 6, (n, length))]
    chars = np.where(rng.random((n, length)) < n_rate, other, core)
    return ["".join(row) for row in chars]


@pytest.fixture
def rng():
    return np.random.default_rng(20240607)


# --------------------------------------------------------------------------- to_codes
def test_to_codes_all_input_kinds_match_reference(rng):
    seqs = random_seqs(rng, 23, 31, n_rate=0.2)
    expected = np.array([[ref_code(b) for b in s] for s in seqs], dtype=np.uint8)
    as_bytes = [s.encode() for s in seqs]
    ascii_matrix = np.frombuffer(b"".join(as_bytes), dtype=np.uint8).reshape(23, 31)
    for given in (seqs, as_bytes, np.array(as_bytes, dtype="S31"), ascii_matrix, np.array(seqs)):
        got = enc.to_codes(given)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(enc.to_codes(ascii_matrix[0]), expected[:1])
    # every byte value: only ACGT/acgt are bases
    table = enc.to_codes(np.arange(256, dtype=np.uint8))[0]
    np.testing.assert_array_equal(table, [ref_code(chr(i)) for i in range(256)])


def test_to_codes_unequal_lengths_raise():
    with pytest.raises(ValueError, match="differ in length"):
        enc.to_codes(["ACGT", "ACG"])
    with pytest.raises(ValueError, match="differ in length"):
        enc.to_codes(np.array([b"ACGT", b"ACG"], dtype="S4"))  # numpy pads the short one with NUL


def test_to_codes_empty():
    assert enc.to_codes([]).shape == (0, 0)
    assert enc.to_codes(np.array([], dtype="S200")).shape == (0, 200)


# --------------------------------------------------------------------------- one_hot
def test_one_hot_matches_reference_and_lookup_table(rng):
    codes = rng.integers(0, 5, (40, 57), dtype=np.uint8)
    codes[3] = 4  # an all-N row
    got = enc.one_hot(codes)
    expected = np.array(
        [[[1 if c == j else 0 for j in range(4)] for c in row] for row in codes], dtype=np.uint8
    )
    assert got.dtype == np.uint8 and got.shape == (40, 57, 4)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, np.eye(5, 4, dtype=np.uint8)[codes])
    assert not got[3].any()


def test_one_hot_shapes_blocks_dtypes_and_table_path(rng, monkeypatch):
    codes = rng.integers(0, 5, (7, 300), dtype=np.uint8)
    expected = np.eye(5, 4, dtype=np.uint8)[codes]
    np.testing.assert_array_equal(enc.one_hot(codes[0]), expected[0])  # 1-D input
    np.testing.assert_array_equal(enc.one_hot(codes[:, ::3]), expected[:, ::3])  # non-contiguous
    np.testing.assert_array_equal(enc.one_hot(codes.astype(np.int64)), expected)
    assert enc.one_hot(np.zeros((0, 200), dtype=np.uint8)).shape == (0, 200, 4)
    monkeypatch.setattr(enc, "_ONE_HOT_BLOCK", 97)  # many blocks, ragged last one
    np.testing.assert_array_equal(enc.one_hot(codes), expected)
    monkeypatch.setattr(enc, "_LITTLE_ENDIAN", False)  # table gather used on big-endian hosts
    np.testing.assert_array_equal(enc.one_hot(codes), expected)


# --------------------------------------------------------------------------- kmer_tokens
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15])
@pytest.mark.parametrize("length", [15, 16, 41])
def test_kmer_tokens_match_reference(rng, k, length):
    seqs = random_seqs(rng, 12, length, n_rate=0.04)
    seqs[0] = "N" * length  # all-N row
    seqs[1] = "acgt" * (length // 4) + "a" * (length % 4)  # N-free, soft-masked row
    tokens = enc.kmer_tokens(enc.to_codes(seqs), k)
    assert tokens.dtype == np.int32 and tokens.shape == (12, length - k + 1)
    np.testing.assert_array_equal(tokens, np.array([ref_tokens(s, k) for s in seqs]))
    assert (tokens[0] == 4**k + 1).all()
    assert tokens.min() >= 1 and tokens.max() <= enc.kmer_vocab_size(k) - 1


@pytest.mark.parametrize("k", [1, 6, 10, 15])
def test_kmer_tokens_k_equals_length(rng, k):
    seqs = random_seqs(rng, 9, k, n_rate=0.1)
    tokens = enc.kmer_tokens(enc.to_codes(seqs), k)
    assert tokens.shape == (9, 1)
    np.testing.assert_array_equal(tokens, np.array([ref_tokens(s, k) for s in seqs]))


@pytest.mark.parametrize("k", [3, 10, 11])
def test_kmer_tokens_across_row_blocks(rng, monkeypatch, k):
    """Many small row blocks, some without any N: k-mers never leak across rows or blocks."""
    monkeypatch.setattr(enc, "_BLOCK_POSITIONS", 5 * 37 + 3)  # 5 rows per block, ragged last block
    seqs = random_seqs(rng, 53, 37, n_rate=0.0)
    for r in (7, 8, 31):  # N only in a few rows
        seqs[r] = seqs[r][:5] + "N" + seqs[r][6:]
    codes = enc.to_codes(seqs)
    expected = np.array([ref_tokens(s, k) for s in seqs])
    np.testing.assert_array_equal(enc.kmer_tokens(codes, k), expected)
    np.testing.assert_array_equal(enc.kmer_tokens(np.asfortranarray(codes), k), expected)
    np.testing.assert_array_equal(enc.kmer_tokens(codes.astype(np.int64), k), expected)


def test_kmer_tokens_empty_and_errors():
    out = enc.kmer_tokens(np.zeros((0, 200), dtype=np.uint8), 10)
    assert out.shape == (0, 191) and out.dtype == np.int32
    codes = np.zeros((2, 5), dtype=np.uint8)
    for k in (0, 16, 6):
        with pytest.raises(ValueError):
            enc.kmer_tokens(codes, k)
    with pytest.raises(ValueError):
        enc.kmer_tokens(codes[0], 2)


def test_kmer_vocab_size():
    assert [enc.kmer_vocab_size(k) for k in (1, 2, 10)] == [6, 18, 4**10 + 2]


# --------------------------------------------------------------------------- kmer_counts
@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_kmer_counts_match_reference(rng, k):
    seqs = random_seqs(rng, 30, 50, n_rate=0.05)
    seqs[4] = "n" * 50  # all-N row: empty CSR row
    seqs[5] = "A" * 50  # one k-mer 50 - k + 1 times
    counts = enc.kmer_counts(enc.kmer_tokens(enc.to_codes(seqs), k), k)
    assert counts.shape == (30, 4**k) and counts.dtype == np.float32
    assert counts.has_canonical_format
    assert (np.diff(counts.indptr)[4]) == 0 and counts[5, 0] == 50 - k + 1
    assert (counts.data > 0).all()
    np.testing.assert_array_equal(counts.toarray(), ref_counts(seqs, k))
    for r in range(30):  # strictly increasing column indices within each row
        assert (np.diff(counts.indices[counts.indptr[r] : counts.indptr[r + 1]]) > 0).all()


def test_kmer_counts_many_blocks_padding_and_empty(rng, monkeypatch):
    monkeypatch.setattr(enc, "_COUNT_BLOCK_ROWS", 7)
    seqs = random_seqs(rng, 45, 20, n_rate=0.1)
    tokens = enc.kmer_tokens(enc.to_codes(seqs), 3)
    tokens[:, :2] = 0  # padding id is not counted either
    counts = enc.kmer_counts(tokens, 3)
    expected = ref_counts([s[2:] for s in seqs], 3)
    np.testing.assert_array_equal(counts.toarray(), expected)
    np.testing.assert_array_equal(enc.kmer_counts(tokens.astype(np.int64), 3).toarray(), expected)
    empty = enc.kmer_counts(np.zeros((0, 191), dtype=np.int32), 10)
    assert empty.shape == (0, 4**10) and empty.nnz == 0


# --------------------------------------------------------------------------- kmer_strings, gc_fraction
@pytest.mark.parametrize("k", [1, 4, 10])
def test_kmer_strings_round_trip(rng, k):
    seqs = random_seqs(rng, 10, 30, n_rate=0.1)
    tokens = enc.kmer_tokens(enc.to_codes(seqs), k)
    for seq, row in zip(seqs, tokens):
        valid = row <= 4**k
        decoded = enc.kmer_strings(row[valid] - 1, k)
        expected = [seq[i : i + k].upper() for i in np.flatnonzero(valid)]
        assert decoded == expected
    assert enc.kmer_strings(range(16), 2) == [
        "".join(p) for p in itertools.product("ACGT", repeat=2)
    ]


def test_gc_fraction_matches_reference():
    seqs = ["GGCC", "ATAT", "NNNN", "GcAN", "acgt"]
    got = enc.gc_fraction(enc.to_codes(seqs))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [1.0, 0.0, np.nan, 2 / 3, 0.5], rtol=1e-6)
