"""The k-mer transformer: tokens, shapes, the introgression factory, a learnable motif task through
the shared training loop, bit-identical resume, and attributions that peak at the motif."""

import os
import signal

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from genomelearn.encoding import one_hot, to_codes
from genomelearn.interpret import (
    attention_rollout,
    integrated_gradients,
    token_to_base_attributions,
    top_kmer_attributions,
    transformer_attributions,
)
from genomelearn.introgression.deep import build_deep_model, model_input
from genomelearn.models.transformer import KmerTransformer, sinusoidal_positions
from genomelearn.training import (
    ArraySource,
    TrainConfig,
    TrainingInterrupted,
    fit,
    predict,
    seed_everything,
)

MOTIF = to_codes(np.array([b"GATTACA"]))[0]
LENGTH = 48
SMALL = {
    "kmer": 3,
    "stride": 1,
    "d_model": 32,
    "n_heads": 4,
    "n_layers": 2,
    "ff_dim": 64,
    "dropout": 0.1,
}


def _motif_data(n, seed):
    """Uniform random windows; label 1 windows carry GATTACA at a random position."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, LENGTH)).astype(np.uint8)
    labels = (rng.random(n) < 0.5).astype(np.int64)
    where = rng.integers(0, LENGTH - len(MOTIF) + 1, n)
    for i in np.flatnonzero(labels):
        codes[i, where[i] : where[i] + len(MOTIF)] = MOTIF
    return one_hot(codes), labels, where


def test_tokens_shapes_and_factory():
    codes = to_codes(np.array([b"ACGTNA"]))
    model = KmerTransformer(6, kmer=2, stride=1, d_model=8, n_heads=2, n_layers=1, ff_dim=8)
    tokens = model.tokens(torch.from_numpy(one_hot(codes)))
    # AC=1, CG=6, GT=11, TN and NA hold an N -> 4**2
    assert tokens.tolist() == [[1, 6, 11, 16, 16]]
    assert model.token_spans().tolist() == [[0, 2], [1, 3], [2, 4], [3, 5], [4, 6]]
    strided = KmerTransformer(200, kmer=4, stride=2)
    assert strided.n_tokens == 99
    x = torch.from_numpy(
        one_hot(np.random.default_rng(0).integers(0, 4, (3, 200)).astype(np.uint8))
    )
    assert strided(x).shape == (3, 2) and strided(x).dtype == torch.float32
    maps = strided.attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 99, 99)
    assert torch.allclose(maps[0].sum(-1), torch.ones(3, 4, 99))
    with pytest.raises(ValueError, match="one-hot windows"):
        strided(x[:, :100])
    with pytest.raises(ValueError, match="divisible"):
        KmerTransformer(200, d_model=30, n_heads=4)
    pe = sinusoidal_positions(5, 8)
    assert pe.shape == (5, 8) and torch.allclose(pe[0, 1::2], torch.ones(4))
    # registered like the other deep models: reads the one-hot windows
    model = build_deep_model(
        "transformer", {**SMALL, "training": {"max_epochs": 1}}, LENGTH, 10, 0
    )
    assert isinstance(model, KmerTransformer) and model.n_tokens == LENGTH - 2
    oh = np.zeros((2, LENGTH, 4), dtype=np.uint8)
    assert model_input("transformer", oh, None, None) is oh


@pytest.fixture(scope="module")
def motif_model():
    torch.set_num_threads(1)
    x, y, _ = _motif_data(1800, seed=0)
    seed_everything(0)
    model = KmerTransformer(LENGTH, **SMALL)
    cfg = TrainConfig(
        max_epochs=6, batch_size=64, learning_rate=3e-3, patience=6, device="cpu", seed=0
    )
    result = fit(
        model, ArraySource([x[:1500]], y[:1500]), ArraySource([x[1500:]], y[1500:]), config=cfg
    )
    return model, result


def test_transformer_learns_a_motif(motif_model):
    model, result = motif_model
    x, y, _ = _motif_data(600, seed=1)
    score = predict(model, ArraySource([x]), device="cpu")[:, 1]
    assert roc_auc_score(y, score) > 0.9
    assert result.history["val_loss"].min() < result.history["val_loss"].iloc[0]


def test_attributions_peak_at_the_motif(motif_model):
    model, _ = motif_model
    x, y, where = _motif_data(200, seed=2)
    pos = np.flatnonzero(y == 1)[:40]
    attr = integrated_gradients(model, x[pos], steps=24, batch_size=960)
    assert attr.shape == (len(pos), model.n_tokens) and attr.dtype == np.float32
    bases = token_to_base_attributions(attr, model.token_spans().numpy(), LENGTH)
    assert bases.shape == (len(pos), LENGTH)
    np.testing.assert_allclose(bases.sum(1), attr.sum(1), rtol=1e-4, atol=1e-4)
    peak = bases.argmax(1)
    assert np.mean((peak >= where[pos]) & (peak < where[pos] + len(MOTIF))) > 0.8
    # completeness: attributions sum to the margin difference between input and zero baseline
    with torch.no_grad():
        e = model.embed(torch.from_numpy(x[pos]))
        logits, base = model.forward_embedded(e), model.forward_embedded(torch.zeros_like(e))
        delta = ((logits[:, 1] - logits[:, 0]) - (base[:, 1] - base[:, 0])).numpy()
    coarse = integrated_gradients(model, x[pos[:4]], steps=16, batch_size=1024)
    fine = integrated_gradients(model, x[pos[:4]], steps=512, batch_size=2048)
    error = np.abs(fine.sum(1) - delta[:4])
    assert (error < 0.03 * np.abs(delta[:4])).all() and error.max() < np.abs(
        coarse.sum(1) - delta[:4]
    ).max()
    # attention rollout: rows sum to one and the most-attended token lies at (or next to) the motif
    rollout = attention_rollout(model, x[pos])
    np.testing.assert_allclose(rollout.sum(1), 1.0, rtol=1e-5)
    top = rollout.argmax(1)
    assert np.mean((top >= where[pos] - 2) & (top < where[pos] + len(MOTIF))) > 0.6


def test_interpretation_step_finds_the_motif_kmers(motif_model):
    """What rule introgression_interpret writes for the transformer: integrated gradients
    aggregated to k-mers (top_kmers.tsv rows) and per-base profiles (the position figure)."""
    model, _ = motif_model
    x, y, where = _motif_data(120, seed=4)
    result = transformer_attributions(model, x, steps=32)
    n, t = len(x), model.n_tokens
    assert result["tokens"].shape == (n, t) and result["token_ig"].shape == (n, t)
    assert result["base_ig"].shape == (n, LENGTH) and result["base_rollout"].shape == (n, LENGTH)
    np.testing.assert_array_equal(result["tokens"], model.tokens(torch.from_numpy(x)).numpy())
    np.testing.assert_allclose(
        result["base_ig"].sum(1), result["token_ig"].sum(1), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(result["base_rollout"].sum(1), 1.0, rtol=1e-5)
    # the signed per-base profile of motif windows peaks inside the motif
    pos = np.flatnonzero(y == 1)
    inside = np.zeros((len(pos), LENGTH), dtype=bool)
    for row, i in enumerate(pos):
        inside[row, where[i] : where[i] + len(MOTIF)] = True
    magnitude = np.abs(result["base_ig"][pos])
    assert magnitude[inside].mean() > 3 * magnitude[~inside].mean()
    # the most "introgressed" (class-1) 3-mers are pieces of GATTACA
    rows = top_kmer_attributions(result["tokens"], result["token_ig"], 3, 5, first_id=0)
    assert [r["direction"] for r in rows] == ["introgressed"] * 5 + ["desert"] * 5
    motif_kmers = {"GAT", "ATT", "TTA", "TAC", "ACA"}
    best = [r["kmer"] for r in rows[:5]]
    assert best[0] in motif_kmers and len(motif_kmers & set(best)) >= 3, best
    scores = [r["score"] for r in rows]
    assert scores[:5] == sorted(scores[:5], reverse=True) and scores[5:] == sorted(scores[5:])
    assert all(r["k"] == 3 and r["n_occurrences"] >= 3 for r in rows)
    with pytest.raises(ValueError, match="one-hot windows"):
        transformer_attributions(model, x[:, :-1])
    with pytest.raises(ValueError, match="no windows"):
        transformer_attributions(model, x[:0])


def test_top_kmer_attributions_ids_counts_and_errors():
    # BiLSTM-style ids: 1 = AA, 16 = TT, 0 padding and 17 the N k-mer are never listed
    tokens = np.array([[1, 1, 1, 16, 16, 16, 0, 17], [1, 16, 16, 0, 0, 17, 17, 17]])
    attr = np.array([[1, 1, 1, -2, -2, -2, 9, 9], [1, -2, -2, 9, 9, 9, 9, 9]], dtype=float)
    rows = top_kmer_attributions(tokens, attr, 2, 1, first_id=1)
    assert rows == [
        {"kmer": "AA", "k": 2, "score": 1.0, "direction": "introgressed", "n_occurrences": 4},
        {"kmer": "TT", "k": 2, "score": -2.0, "direction": "desert", "n_occurrences": 5},
    ]
    # transformer ids start at 0 (AA); 4**k is the N k-mer
    rows = top_kmer_attributions(tokens - 1, attr, 2, 1, first_id=0, min_count=5)
    assert [r["kmer"] for r in rows] == ["TT", "TT"]  # AA (4 occurrences) is below min_count
    with pytest.raises(ValueError, match="shape"):
        top_kmer_attributions(tokens, attr[:, :3], 2, 1, first_id=1)


def test_resume_after_signal_is_bit_identical(tmp_path):
    x, y, _ = _motif_data(300, seed=3)
    cfg = TrainConfig(
        max_epochs=3, batch_size=32, learning_rate=3e-3, patience=5, device="cpu", seed=1
    )
    train, val = ArraySource([x[:240]], y[:240]), ArraySource([x[240:]], y[240:])
    tiny = {**SMALL, "d_model": 16, "n_heads": 2, "ff_dim": 32}

    def fresh():
        seed_everything(1)
        return KmerTransformer(LENGTH, **tiny)

    reference = fresh()
    fit(reference, train, val, config=cfg)
    calls = {"n": 0}

    def loss_with_signal(model, batch):
        calls["n"] += 1
        if calls["n"] == 12:  # mid-epoch 2 (8 batches per epoch)
            os.kill(os.getpid(), signal.SIGUSR1)
        return torch.nn.functional.cross_entropy(model(*batch[:-1]), batch[-1])

    with pytest.raises(TrainingInterrupted):
        fit(
            fresh(),
            train,
            val,
            loss_fn=loss_with_signal,
            config=cfg,
            checkpoint_dir=tmp_path,
            fingerprint="motif",
        )
    resumed = fresh()
    result = fit(resumed, train, val, config=cfg, checkpoint_dir=tmp_path, fingerprint="motif")
    assert result.resumed_from_epoch == 1
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_integrated_gradients_runs_on_the_bilstm_too():
    from genomelearn.models.sequence import KmerBiLSTM

    seed_everything(0)
    model = KmerBiLSTM(vocab_size=4**3 + 2, embedding_dim=6, hidden_size=5, dense_units=4)
    tokens = np.random.default_rng(0).integers(1, 4**3 + 1, (5, 30)).astype(np.int64)
    attr = integrated_gradients(model, tokens, steps=256)
    assert attr.shape == (5, 30)
    with torch.no_grad():
        e = model.embed(torch.from_numpy(tokens))
        logits, base = model.forward_embedded(e), model.forward_embedded(torch.zeros_like(e))
        delta = ((logits[:, 1] - logits[:, 0]) - (base[:, 1] - base[:, 0])).numpy()
    np.testing.assert_allclose(attr.sum(1), delta, rtol=0.02, atol=1e-3)
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(model, tokens, steps=0)
