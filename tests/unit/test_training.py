"""The shared training loop: determinism, early stopping, checkpoint/resume, signals, sources."""

import os
import signal

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from genomelearn.training import (
    ArraySource,
    TrainConfig,
    TrainingInterrupted,
    fit,
    predict,
    seed_everything,
)


def _data(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def _model():
    seed_everything(0)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2)
    )


def _run(tmp=None, max_epochs=4, **kw):
    x, y = _data()
    model = _model()
    cfg = TrainConfig(
        max_epochs=max_epochs, batch_size=32, patience=10, learning_rate=0.01, device="cpu"
    )
    result = fit(
        model,
        ArraySource([x[:300]], y[:300]),
        ArraySource([x[300:]], y[300:]),
        config=cfg,
        checkpoint_dir=tmp,
        **kw,
    )
    return model, result


def test_fit_learns_and_is_deterministic():
    m1, r1 = _run()
    m2, r2 = _run()
    assert r1.history["val_loss"].iloc[-1] < r1.history["val_loss"].iloc[0]
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    x, y = _data()
    prob = predict(m1, ArraySource([x[300:]]), device="cpu")
    assert prob.shape == (100, 2) and prob.dtype == np.float32
    assert ((prob[:, 1] > 0.5) == y[300:]).mean() > 0.8


def test_early_stopping_restores_best_epoch():
    x, y = _data()
    model = _model()
    # validation labels are noise: validation loss stops improving early
    y_val = np.random.default_rng(5).integers(0, 2, 100)
    cfg = TrainConfig(max_epochs=30, batch_size=32, patience=2, learning_rate=0.05, device="cpu")
    result = fit(model, ArraySource([x[:300]], y[:300]), ArraySource([x[300:]], y_val), config=cfg)
    assert len(result.history) < 30
    assert result.best_epoch == int(
        result.history.loc[result.history["val_loss"].idxmin(), "epoch"]
    )


def test_resume_after_signal_matches_uninterrupted(tmp_path):
    reference, _ = _run()

    calls = {"n": 0}

    def loss_with_signal(model, batch):
        calls["n"] += 1
        if calls["n"] == 15:  # mid-epoch 2
            os.kill(os.getpid(), signal.SIGUSR1)
        return torch.nn.functional.cross_entropy(model(*batch[:-1]), batch[-1])

    x, y = _data()
    model = _model()
    cfg = TrainConfig(max_epochs=4, batch_size=32, patience=10, learning_rate=0.01, device="cpu")
    train, val = ArraySource([x[:300]], y[:300]), ArraySource([x[300:]], y[300:])
    with pytest.raises(TrainingInterrupted):
        fit(
            model,
            train,
            val,
            loss_fn=loss_with_signal,
            config=cfg,
            checkpoint_dir=tmp_path,
            fingerprint="run",
        )
    assert (tmp_path / "last.pt").exists()
    resumed = _model()
    result = fit(resumed, train, val, config=cfg, checkpoint_dir=tmp_path, fingerprint="run")
    assert result.resumed_from_epoch == 1
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_stale_checkpoint_is_ignored(tmp_path):
    _run(tmp_path, max_epochs=2, fingerprint="a")
    _, result = _run(tmp_path, max_epochs=2, fingerprint="b")
    assert result.resumed_from_epoch is None


def test_array_source_sparse_and_errors():
    x = sp.random(10, 5, density=0.3, format="csr", random_state=0, dtype=np.float32)
    src = ArraySource([x], np.arange(10))
    xb, yb = src.get(np.array([1, 3]))
    assert xb.shape == (2, 5) and torch.allclose(xb, torch.tensor(x[[1, 3]].toarray()))
    with pytest.raises(ValueError, match="rows"):
        ArraySource([np.zeros((3, 2))], np.zeros(4))
    with pytest.raises(ValueError, match="unknown training setting"):
        TrainConfig.from_dict({"max_epoch": 3})
