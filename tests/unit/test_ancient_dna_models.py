"""Read CNNs: shapes, padding invariance, encoding of damage channels, a short training run."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from genomelearn.adna.features import (
    DAMAGE_CT,
    DAMAGE_GA,
    DAMAGE_OTHER,
    DAMAGE_UNALIGNED,
    PAD,
    ReadSource,
    encode_reads,
)
from genomelearn.adna.features import build_read_model as build_model
from genomelearn.models.read_cnn import ReadCNN


def _table(seqs, refs, lengths=None):
    return pa.table(
        {
            "sequence": pa.array(seqs),
            "reference": pa.array(refs),
            "length": pa.array(lengths or [len(s) for s in seqs], type=pa.int32()),
        }
    )


def test_encoding_codes_and_long_reads():
    t = _table(["TACGA", "A" * 10 + "C" * 10], ["CACGG", "A" * 10 + "C" * 10])
    arr = encode_reads(t, max_length=8)
    assert arr.bases[0, :5].tolist() == [3, 0, 1, 2, 0] and (arr.bases[0, 5:] == PAD).all()
    assert arr.damage[0, :5].tolist() == [DAMAGE_CT, 0, 0, 0, DAMAGE_GA]
    # long read: first 4 and last 4 bases
    assert arr.bases[1].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert arr.n_bases.tolist() == [5, 8] and arr.read_length.tolist() == [5, 20]
    arr2 = encode_reads(_table(["ATG", "GA"], ["-CA", "TA"]), 4)
    assert arr2.damage[0, :3].tolist() == [DAMAGE_UNALIGNED, DAMAGE_CT, DAMAGE_OTHER]
    assert arr2.damage[1, :2].tolist() == [DAMAGE_OTHER, 0]


@pytest.mark.parametrize("kind", ["read_cnn", "damage_cnn", "damage_nolength_cnn"])
def test_output_does_not_depend_on_padding(kind):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (31, 44, 57)]
    t = _table(seqs, seqs)
    model = build_model(kind).eval()
    short = ReadSource(encode_reads(t, 60), kind)
    long = ReadSource(encode_reads(t, 150), kind)
    with torch.no_grad():
        a = model(*short.get(np.arange(3)))
        b = model(*long.get(np.arange(3)))
        # one read alone (its own batch length) vs in a batch padded to the longest read
        c = model(*short.get(np.array([0])))
        x, m, s = long.get(np.arange(3))
        d = model(torch.nn.functional.pad(x, (0, 40)), torch.nn.functional.pad(m, (0, 40)), s)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[:1], c)
    torch.testing.assert_close(a, d)
    assert a.shape == (3, 2)


def test_architecture_is_the_course_model():
    model = ReadCNN()
    assert model.conv1.out_channels == 32 and model.conv1.kernel_size == (5,)
    assert model.conv2.out_channels == 32 and model.conv2.kernel_size == (5,)
    assert model.dense.out_features == 16 and model.out.out_features == 2
    dmg = build_model("damage_cnn")
    assert dmg.conv1.in_channels == 9 and dmg.n_scalars == 1


def test_damage_cnn_learns_terminal_damage_quickly():
    from genomelearn.training import TrainConfig, classification_loss, fit, predict

    rng = np.random.default_rng(1)
    seqs, refs, y = [], [], []
    for i in range(600):
        n = int(rng.integers(30, 60))
        ref = "".join(rng.choice(list("ACGT"), n))
        ref = "C" + ref[1:]
        ancient = i % 2
        seq = ("T" if ancient else "C") + ref[1:]
        seqs.append(seq)
        refs.append(ref)
        y.append(ancient)
    arr = encode_reads(_table(seqs, refs), 64)
    y = np.array(y)
    src = ReadSource(arr.take(np.arange(400)), "damage_cnn", y[:400], 3.7, 0.3)
    val = ReadSource(arr.take(np.arange(400, 600)), "damage_cnn", y[400:], 3.7, 0.3)
    torch.manual_seed(0)
    model = build_model("damage_cnn")
    res = fit(
        model,
        src,
        val,
        classification_loss,
        TrainConfig(max_epochs=8, batch_size=32, learning_rate=0.01, patience=3, device="cpu"),
    )
    prob = predict(
        model,
        ReadSource(arr.take(np.arange(400, 600)), "damage_cnn", None, 3.7, 0.3),
        device="cpu",
    )[:, 1]
    assert res.history["val_loss"].min() < 0.2
    assert np.mean((prob > 0.5) == y[400:]) > 0.95


def test_ends_encoding_hides_length():
    from genomelearn.adna.features import source_positions

    core = "ACGTTGCA"
    short = "T" + core + "GGGG" + core + "A"
    long = "T" + core + "GGGG" * 10 + core + "A"
    t = _table(
        [short, long, "TACG"], [short.replace("T", "C", 1), long.replace("T", "C", 1), "CACG"]
    )
    arr = encode_reads(t, ends=9)
    assert arr.bases.shape == (3, 18) and (arr.bases[:2] != PAD).all()
    np.testing.assert_array_equal(arr.bases[0], arr.bases[1])
    np.testing.assert_array_equal(arr.damage[0], arr.damage[1])
    assert arr.damage[0, 0] == DAMAGE_CT
    # a 4-bp read shows each base once (5' window) and masks the rest, never repeats a base
    assert source_positions(np.array([4]), 18, 18, ends=9).tolist() == [[0, 1, 2, 3] + [0] * 14]
    assert (arr.bases[2, :4] != PAD).all() and (arr.bases[2, 4:] == PAD).all()
    model = build_model("ends_cnn").eval()
    src = ReadSource(arr, "ends_cnn")
    x, m, s = src.get(np.arange(3))
    assert (
        x.shape == (3, 7, 18) and s.shape == (3, 0) and bool(m[:2].all()) and int(m[2].sum()) == 4
    )
    assert float(x[2, :, 4:].abs().sum()) == 0.0
    assert x[0, 0, 0] == 1 and x[0, 2, 0] == 1  # reference C, C->T at the 5' end
    with torch.no_grad():
        out = model(x, m, s)
    torch.testing.assert_close(out[0], out[1])
    with pytest.raises(ValueError, match="ends_cnn needs"):
        ReadSource(encode_reads(t, 30), "ends_cnn")


def test_ends_cnn_short_reads_25_to_60_bp_same_positions_no_repeats():
    """Reads of 25-60 bp: every base appears at most once, column j (j < ends) is always base j from
    the 5' end and column 2·ends−1−k base k from the 3' end, whatever the read length; reads that
    share their ends get the same encoding of those ends and, with no overlap, the same output."""
    from genomelearn.adna.features import ends_valid, source_positions

    ends = 20
    rng = np.random.default_rng(3)
    five = "".join(rng.choice(list("ACGT"), 30))
    three = "".join(rng.choice(list("ACGT"), 30))
    seqs = [(five + three)[:n] for n in range(25, 61)]
    rl = np.array([len(s) for s in seqs])
    valid = ends_valid(rl, ends)
    src = source_positions(rl, 2 * ends, 2 * ends, ends=ends)
    for i, n in enumerate(rl):
        pos = src[i][valid[i]]
        assert (
            len(pos) == len(set(pos.tolist())) == min(n, 2 * ends)
        )  # each base once, none repeated
        assert (src[i, :ends][valid[i, :ends]] == np.arange(min(n, ends))).all()
        k = np.arange(ends)[::-1]  # column ends + (ends-1-k) holds base k from the 3' end
        assert (src[i, ends:][valid[i, ends:]] == (n - 1 - k)[valid[i, ends:]]).all()
    refs = ["C" + s[1:] for s in seqs]
    seqs = ["T" + s[1:] for s in seqs]
    arr = encode_reads(_table(seqs, refs), ends=ends)
    # the 5' window is the same for every read (all share their first 25 bases)
    first = min(25, ends)
    assert (arr.bases[:, :first] == arr.bases[0, :first]).all()
    assert (arr.damage[:, 0] == DAMAGE_CT).all()
    # the masked columns are exactly the overlap: read length n < 40 masks 40 - n columns
    assert ((arr.bases == PAD).sum(axis=1) == np.maximum(2 * ends - rl, 0)).all()
    # reads of 40-60 bp that share both 20-bp ends are encoded and scored identically
    torch.manual_seed(0)
    model = build_model("ends_cnn").eval()
    a = five[:ends] + three[-ends:]
    long_reads = [a, a[:ends] + "ACGTACGTAC" + a[ends:], a[:ends] + "G" * 20 + a[ends:]]
    arr2 = encode_reads(_table(long_reads, long_reads), ends=ends)
    with torch.no_grad():
        out = model(*ReadSource(arr2, "ends_cnn").get(np.arange(3)))
    torch.testing.assert_close(out[0], out[1])
    torch.testing.assert_close(out[0], out[2])


def test_damage_nolength_cnn_has_no_length_input():
    """The ablation: no length scalar, max pooling only; a read without damage gives the same output
    as the same read with an undamaged middle of another length (no 1/L through mean pooling)."""
    torch.manual_seed(0)
    model = build_model("damage_nolength_cnn").eval()
    assert model.n_scalars == 0 and model.pooling == "max" and model.dense.in_features == 32
    rng = np.random.default_rng(0)
    left = "".join(rng.choice(list("ACGT"), 15))
    right = "".join(rng.choice(list("ACGT"), 15))
    # the middle repeats the same periodic 10-mer: max pooling over more copies of the same
    # windows gives the same maximum
    mid = "".join(rng.choice(list("ACGT"), 10))
    seqs = [left + mid * k + right for k in (3, 5, 8)]
    src = ReadSource(encode_reads(_table(seqs, seqs), 150), "damage_nolength_cnn")
    x, m, s = src.get(np.arange(3))
    assert s.shape == (3, 0)
    with torch.no_grad():
        out = model(x, m, s)
    assert out.shape == (3, 2) and torch.isfinite(out).all()


def _damage_reads(n, seed, start=0):
    """Reads with (ancient, label 1) or without (modern) a 5' C->T; per-read table columns."""
    rng = np.random.default_rng(seed)
    seqs, refs, y = [], [], []
    for i in range(n):
        ref = "C" + "".join(rng.choice(list("ACGT"), int(rng.integers(30, 60)) - 1))
        ancient = (i + start) % 2
        seqs.append(("T" if ancient else "C") + ref[1:])
        refs.append(ref)
        y.append(ancient)
    return seqs, refs, np.array(y)


def test_bundle_scores_a_new_sample_without_retraining(tmp_path):
    """Train once, write the bundle, load it (JSON checked before torch.load(weights_only=True)) and
    score reads of a sample that was not in training; refuse another feature version."""
    import json

    import genomelearn.adna.pipeline as P
    from genomelearn.training import TrainConfig, classification_loss, fit

    seqs, refs, y = _damage_reads(400, 1)
    arr = encode_reads(_table(seqs, refs), ends=20)
    torch.manual_seed(0)
    model = build_model("ends_cnn")
    fit(
        model,
        ReadSource(arr.take(np.arange(300)), "ends_cnn", y[:300]),
        ReadSource(arr.take(np.arange(300, 400)), "ends_cnn", y[300:]),
        classification_loss,
        TrainConfig(max_epochs=6, batch_size=32, learning_rate=0.01, patience=3, device="cpu"),
    )
    meta = {
        "kind": "ends_cnn",
        "max_length": 150,
        "ends": 20,
        "length_mean": 0.0,
        "length_std": 1.0,
        "filters": 32,
        "kernel_size": 5,
        "hidden": 16,
    }
    bundle = tmp_path / "models" / "ends_cnn"
    P.write_bundle(
        bundle, model.cpu(), meta, {"threshold": 0.5, "estimate_applies": True}, {"x": 1}, "f" * 64
    )
    new_seqs, new_refs, new_y = _damage_reads(200, 99)  # a new sample, other molecules
    new = _table(new_seqs, new_refs).append_column(
        "read_length", pa.array([len(s) for s in new_seqs])
    )
    loaded, info = P.load_bundle(bundle)
    assert info["kind"] == "ends_cnn" and info["training_fingerprint"] == "f" * 64
    score = P.score_reads(loaded, info["meta"], new, device="cpu")
    assert np.mean((score > 0.5) == new_y) > 0.9
    np.testing.assert_allclose(score, P.score_reads(model.eval(), meta, new, device="cpu"))
    # another feature version: clear error before any weights are read
    data = json.loads((bundle / "bundle.json").read_text())
    data["feature_version"] = 1
    (bundle / "bundle.json").write_text(json.dumps(data))
    with pytest.raises(Exception, match="feature version 1.*retrain"):
        P.load_bundle(bundle)
    data["feature_version"] = info["feature_version"]
    (bundle / "bundle.json").write_text(json.dumps(data))
    (bundle / "weights.pt").write_bytes(b"not weights")
    with pytest.raises(Exception, match="weights.pt missing or not the one"):
        P.load_bundle(bundle)
    with pytest.raises(Exception, match="no bundle.json"):
        P.load_bundle(tmp_path)
