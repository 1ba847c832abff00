"""Checkpoints that never resume the wrong model (issue 11).

:func:`genomelearn.training.fit` resumes ``last.pt`` only when its sidecar ``last.fingerprint``
and the fingerprint embedded in the checkpoint both equal the run's fingerprint
(:func:`genomelearn.training.input_fingerprint`: full-content sha256 of every input + settings +
version). The sidecar is compared before ``last.pt`` is opened, and ``last.pt`` is read with
``torch.load(weights_only=True)``, so a foreign pickle is never executed.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from genomelearn.training import (
    ArraySource,
    TrainConfig,
    TrainingInterrupted,
    fit,
    input_fingerprint,
    seed_everything,
)

SETTINGS = {"hidden": 16, "learning_rate": 0.01}


def _write_inputs(path, permute_columns=False):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    if permute_columns:  # same path, shape, dtype and file size; other bytes
        x = x[:, [1, 0, 2, 3, 4, 5]]
    np.save(path, x)
    return path


def _load(path):
    x = np.load(path)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return ArraySource([x[:300]], y[:300]), ArraySource([x[300:]], y[300:])


def _model():
    seed_everything(0)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2)
    )


def _config(max_epochs=4, learning_rate=0.01):
    return TrainConfig(
        max_epochs=max_epochs,
        batch_size=32,
        patience=10,
        learning_rate=learning_rate,
        device="cpu",
    )


def _interrupted_run(data, ckpt, fingerprint, config, at_call=15):
    """fit() stopped by SIGUSR1 in the middle of epoch 2; leaves a checkpoint in ``ckpt``."""
    calls = {"n": 0}

    def loss_with_signal(model, batch):
        calls["n"] += 1
        if calls["n"] == at_call:
            os.kill(os.getpid(), signal.SIGUSR1)
        return torch.nn.functional.cross_entropy(model(*batch[:-1]), batch[-1])

    with pytest.raises(TrainingInterrupted):
        fit(
            _model(),
            *_load(data),
            loss_fn=loss_with_signal,
            config=config,
            checkpoint_dir=ckpt,
            fingerprint=fingerprint,
        )
    assert (ckpt / "last.pt").exists() and (ckpt / "last.fingerprint").exists()


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _reference(data, config):
    model = _model()
    fit(model, *_load(data), config=config)
    return model


def test_resume_with_same_fingerprint_is_bit_identical(tmp_path):
    data = _write_inputs(tmp_path / "x.npy")
    fp = input_fingerprint([data], SETTINGS)
    _interrupted_run(data, tmp_path / "ckpt", fp, _config())
    model = _model()
    result = fit(
        model, *_load(data), config=_config(), checkpoint_dir=tmp_path / "ckpt", fingerprint=fp
    )
    assert result.resumed_from_epoch == 1
    assert _same_weights(model, _reference(data, _config()))


def test_same_path_shape_and_size_other_content_never_resumes(tmp_path):
    data = _write_inputs(tmp_path / "x.npy")
    size = data.stat().st_size
    _interrupted_run(data, tmp_path / "ckpt", input_fingerprint([data], SETTINGS), _config())
    _write_inputs(data, permute_columns=True)
    assert data.stat().st_size == size and np.load(data).shape == (400, 6)
    fp = input_fingerprint([data], SETTINGS)
    logs = []
    model = _model()
    result = fit(
        model,
        *_load(data),
        config=_config(),
        checkpoint_dir=tmp_path / "ckpt",
        fingerprint=fp,
        log=logs.append,
    )
    assert result.resumed_from_epoch is None
    assert any("ignoring stale checkpoint" in line for line in logs), logs
    assert _same_weights(model, _reference(data, _config()))


def test_changed_settings_never_resume(tmp_path):
    data = _write_inputs(tmp_path / "x.npy")
    _interrupted_run(data, tmp_path / "ckpt", input_fingerprint([data], SETTINGS), _config())
    new_settings = {**SETTINGS, "learning_rate": 0.02}
    model = _model()
    result = fit(
        model,
        *_load(data),
        config=_config(learning_rate=0.02),
        checkpoint_dir=tmp_path / "ckpt",
        fingerprint=input_fingerprint([data], new_settings),
    )
    assert result.resumed_from_epoch is None
    assert _same_weights(model, _reference(data, _config(learning_rate=0.02)))


def test_input_fingerprint_hashes_beyond_the_first_mebibyte(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"\0" * (3 << 20))
    b.write_bytes(b"\0" * ((3 << 20) - 1) + b"\1")
    assert input_fingerprint([a]) != input_fingerprint([b])
    assert input_fingerprint([a], {"k": 1}) != input_fingerprint([a], {"k": 2})
    assert input_fingerprint([a], {"k": 1}) == input_fingerprint([a], {"k": 1})


@pytest.mark.parametrize("fingerprint", ["", None])
def test_empty_fingerprint_never_resumes(tmp_path, fingerprint):
    data = _write_inputs(tmp_path / "x.npy")
    # a checkpoint of an earlier run with the same (empty) fingerprint is not resumed either
    _interrupted_run(data, tmp_path / "ckpt", "some-run", _config())
    kwargs = {} if fingerprint is None else {"fingerprint": fingerprint}
    result = fit(
        _model(),
        *_load(data),
        config=_config(max_epochs=1),
        checkpoint_dir=tmp_path / "ckpt",
        **kwargs,
    )
    assert result.resumed_from_epoch is None
    # nor is the checkpoint it wrote itself (its sidecar records an empty fingerprint)
    assert (tmp_path / "ckpt" / "last.pt").exists()
    again = fit(
        _model(),
        *_load(data),
        config=_config(max_epochs=2),
        checkpoint_dir=tmp_path / "ckpt",
        **kwargs,
    )
    assert again.resumed_from_epoch is None


@pytest.mark.parametrize("sidecar", ["missing", "empty", "garbage"])
def test_checkpoint_without_recorded_fingerprint_is_never_resumed(tmp_path, sidecar):
    data = _write_inputs(tmp_path / "x.npy")
    fp = input_fingerprint([data], SETTINGS)
    _interrupted_run(data, tmp_path / "ckpt", fp, _config())
    side = tmp_path / "ckpt" / "last.fingerprint"
    if sidecar == "missing":
        side.unlink()
    else:
        side.write_text(json.dumps({"fingerprint": ""}) if sidecar == "empty" else "{not json")
    result = fit(
        _model(), *_load(data), config=_config(), checkpoint_dir=tmp_path / "ckpt", fingerprint=fp
    )
    assert result.resumed_from_epoch is None


def test_old_checkpoint_without_fingerprint_is_never_resumed(tmp_path):
    """A checkpoint of the earlier format (no sidecar; fingerprint "" inside) is discarded."""
    data = _write_inputs(tmp_path / "x.npy")
    _interrupted_run(data, tmp_path / "ckpt", "x", _config())
    saved = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)
    saved["state"]["fingerprint"] = ""
    torch.save(saved, tmp_path / "ckpt" / "last.pt")
    # the sidecar vouches for "x", the checkpoint itself does not
    result = fit(
        _model(), *_load(data), config=_config(), checkpoint_dir=tmp_path / "ckpt", fingerprint="x"
    )
    assert result.resumed_from_epoch is None


class _Payload:
    """Unpickling this object creates a marker file: proves whether a pickle was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("torch_format", [False, True])
@pytest.mark.parametrize("sidecar_matches", [False, True])
def test_foreign_pickle_is_never_executed(tmp_path, sidecar_matches, torch_format):
    data = _write_inputs(tmp_path / "x.npy")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    marker = tmp_path / "pwned"
    payload = {"state": {"fingerprint": "fp"}, "x": _Payload(marker)}
    if torch_format:
        torch.save(payload, ckpt / "last.pt")
    else:
        with open(ckpt / "last.pt", "wb") as fh:
            pickle.dump(payload, fh)
    assert not marker.exists()
    if sidecar_matches:  # even a sidecar that vouches for it does not make the pickle run
        (ckpt / "last.fingerprint").write_text(json.dumps({"fingerprint": "fp"}))
    logs = []
    result = fit(
        _model(),
        *_load(data),
        config=_config(max_epochs=1),
        checkpoint_dir=ckpt,
        fingerprint="fp",
        log=logs.append,
    )
    assert result.resumed_from_epoch is None
    assert not marker.exists(), "the checkpoint's pickle was executed"
    assert any("ignoring stale checkpoint" in line for line in logs), logs


_KILLED_TRAINER = textwrap.dedent(
    """
    import sys, time, torch
    sys.path[:0] = [{tests!r}, {src!r}]
    from test_checkpoints import _config, _load, _model
    from genomelearn.training import fit
    def slow_loss(model, batch):
        time.sleep(0.01)
        return torch.nn.functional.cross_entropy(model(*batch[:-1]), batch[-1])
    fit(_model(), *_load({data!r}), loss_fn=slow_loss, config=_config(), checkpoint_dir={ckpt!r}, fingerprint={fp!r})
    """
)


def test_resume_after_kill_9_is_bit_identical(tmp_path):
    """SIGKILL (no handler can run) after the epoch-1 checkpoint: the rerun resumes from it."""
    data = _write_inputs(tmp_path / "x.npy")
    fp = input_fingerprint([data], SETTINGS)
    ckpt = tmp_path / "ckpt"
    here = os.path.dirname(__file__)
    src = os.path.join(os.path.dirname(os.path.dirname(here)), "src")
    script = _KILLED_TRAINER.format(tests=here, src=src, data=str(data), ckpt=str(ckpt), fp=fp)
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not (ckpt / "last.fingerprint").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no checkpoint within 60 s"
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    model = _model()
    result = fit(model, *_load(data), config=_config(), checkpoint_dir=ckpt, fingerprint=fp)
    assert result.resumed_from_epoch is not None and result.resumed_from_epoch >= 1
    assert _same_weights(model, _reference(data, _config()))


def test_model_files_load_only_from_own_results(tmp_path, monkeypatch):
    from genomelearn.errors import InputError
    from genomelearn.validation import own_result

    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "m").mkdir(parents=True)
    (tmp_path / "results" / "m" / "model.joblib").write_bytes(b"x")
    (tmp_path / "elsewhere.joblib").write_bytes(b"x")
    assert own_result("results/m/model.joblib") == Path("results/m/model.joblib")
    for outside in (
        "elsewhere.joblib",
        "results/../elsewhere.joblib",
        str(tmp_path / "elsewhere.joblib"),
    ):
        with pytest.raises(InputError, match="outside this run's results/"):
            own_result(outside)
    (tmp_path / "results" / "link.joblib").symlink_to(tmp_path / "elsewhere.joblib")
    with pytest.raises(InputError, match="outside"):
        own_result("results/link.joblib")
