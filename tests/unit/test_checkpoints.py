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
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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


# ------------------------------------------------------------- per analysis: the real fingerprints
# Each analysis builds its fingerprint with a package function (the one its script or step calls):
# ancient DNA genomelearn.adna.pipeline.training_fingerprint (scripts/ancient_dna_train.py),
# single cell genomelearn.singlecell.pipeline.autoencoder_fingerprint (autoencoder_step),
# introgression genomelearn.introgression.deep.training_fingerprint
# (scripts/introgression_train_deep.py). ``inputs(tmp)`` writes the analysis' input files;
# ``change(tmp)`` rewrites one of them with other bytes but the same path, shape and file size;
# ``fingerprint(tmp, learning_rate)`` is the analysis' fingerprint with that training setting.


def _adna_inputs(tmp, swap_labels=False):
    labels = ["modern", "ancient"] if swap_labels else ["ancient", "modern"]
    sheet = "sample\tindividual\tbam\treference\tlabel\tlibrary\tudg\n" + "".join(
        f"S{i}\tind_{i}\tS{i}.bam\t\t{label}\tdouble\tnone\n" for i, label in enumerate(labels)
    )
    (tmp / "sheet.tsv").write_text(sheet)
    (tmp / "splits.tsv").write_text("individual\tfold\nind_0\t0\nind_1\t1\n")
    for i in range(2):
        table = pa.table({"record": np.arange(50), "length": np.full(50, 40 + i)})
        pq.write_table(table, tmp / f"S{i}.parquet")


def _adna_fingerprint(tmp, learning_rate):
    from genomelearn.adna.pipeline import training_fingerprint

    return training_fingerprint(
        tmp / "sheet.tsv",
        tmp / "splits.tsv",
        [tmp / "S0.parquet", tmp / "S1.parquet"],
        "read_cnn",
        0,
        {"channels": [16, 32], "max_train_reads_per_class": 1000},
        {"learning_rate": learning_rate, "max_epochs": 4, "seed": 0},
    )


def _sc_inputs(tmp, permute_columns=False):
    import anndata as ad

    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    if permute_columns:
        x = x[:, [1, 0, 2, 3, 4, 5]]
    adata = ad.AnnData(x)
    adata.obs_names = [f"c{i}" for i in range(40)]
    adata.var_names = [f"g{j}" for j in range(6)]
    adata.uns["singlecell_omic"] = {"likelihood": "gaussian"}
    adata.write_h5ad(tmp / "rna.h5ad")


def _sc_fingerprint(tmp, learning_rate):
    from genomelearn.singlecell.embed import AutoencoderSettings
    from genomelearn.singlecell.pipeline import autoencoder_fingerprint

    settings = AutoencoderSettings(hidden=[8], bottleneck=2)
    train = TrainConfig(max_epochs=4, learning_rate=learning_rate, device="cpu")
    return autoencoder_fingerprint(tmp / "rna.h5ad", settings, train, "gaussian")


def _intro_inputs(tmp, permute_windows=False):
    one_hot = np.eye(4, dtype=np.uint8)[np.random.default_rng(0).integers(0, 4, size=(30, 50))]
    if permute_windows:
        one_hot = one_hot[::-1]
    np.save(tmp / "one_hot.npy", one_hot)
    (tmp / "split.tsv").write_text("".join(f"{i}\ttrain\n" for i in range(30)))


def _intro_fingerprint(tmp, learning_rate):
    from genomelearn.introgression.deep import training_fingerprint

    return training_fingerprint(
        [tmp / "split.tsv", tmp / "one_hot.npy"],
        "cnn",
        {"filters": 16},
        {"learning_rate": learning_rate, "max_epochs": 4, "seed": 1},
        4,
        False,
    )


ANALYSES = {
    "ancient_dna": (_adna_inputs, _adna_fingerprint, "sheet.tsv"),
    "singlecell": (_sc_inputs, _sc_fingerprint, "rna.h5ad"),
    "introgression": (_intro_inputs, _intro_fingerprint, "one_hot.npy"),
}


@pytest.mark.parametrize("analysis", list(ANALYSES))
def test_analysis_checkpoint_resumes_only_for_same_inputs_and_settings(tmp_path, analysis):
    write_inputs, fingerprint, changed_file = ANALYSES[analysis]
    write_inputs(tmp_path)
    fp = fingerprint(tmp_path, 0.01)
    assert fp == fingerprint(tmp_path, 0.01)  # deterministic
    data = _write_inputs(tmp_path / "x.npy")
    ckpt = tmp_path / "ckpt"

    def rerun(new_fp, config):
        logs = []
        model = _model()
        result = fit(
            model,
            *_load(data),
            config=config,
            checkpoint_dir=ckpt,
            fingerprint=new_fp,
            log=logs.append,
        )
        return model, result, logs

    # (a) settings changed after a kill: another fingerprint, the checkpoint is not resumed
    _interrupted_run(data, ckpt, fp, _config())
    fp_settings = fingerprint(tmp_path, 0.02)
    assert fp_settings != fp
    model, result, logs = rerun(fp_settings, _config(learning_rate=0.02))
    assert result.resumed_from_epoch is None
    assert any("ignoring stale checkpoint" in line for line in logs), logs
    assert _same_weights(model, _reference(data, _config(learning_rate=0.02)))

    # (b) input content changed after a kill, same path, shape and size: not resumed
    _interrupted_run(data, ckpt, fp, _config())
    size = (tmp_path / changed_file).stat().st_size
    write_inputs(tmp_path, True)
    assert (tmp_path / changed_file).stat().st_size == size
    fp_content = fingerprint(tmp_path, 0.01)
    assert fp_content not in (fp, fp_settings)
    model, result, logs = rerun(fp_content, _config())
    assert result.resumed_from_epoch is None
    assert any("ignoring stale checkpoint" in line for line in logs), logs

    # (c) same inputs and settings as the killed run: resumed, bit-identical to an uninterrupted run
    write_inputs(tmp_path)
    _interrupted_run(data, ckpt, fp, _config())
    assert fingerprint(tmp_path, 0.01) == fp
    model, result, logs = rerun(fp, _config())
    assert result.resumed_from_epoch == 1
    assert any("resumed from" in line for line in logs), logs
    assert _same_weights(model, _reference(data, _config()))


def test_singlecell_autoencoder_step_resumes_only_its_own_checkpoint(tmp_path, monkeypatch):
    """The real single-cell step: its checkpoint directory is keyed on path, shape and settings,
    so content changed in place (columns of .X permuted: same path, shape and size) finds the old
    checkpoint; the content fingerprint makes fit() ignore it. Same inputs resume it."""
    import genomelearn.singlecell.pipeline as sc
    from genomelearn.singlecell.embed import AutoencoderSettings

    monkeypatch.setattr(sc.shutil, "rmtree", lambda *a, **k: None)  # keep it, as after a kill
    settings = AutoencoderSettings(hidden=[8], bottleneck=2, dropout=0.0)

    def step(learning_rate=0.01):
        logs = []
        train = TrainConfig(
            max_epochs=3, batch_size=16, patience=5, learning_rate=learning_rate, device="cpu"
        )
        out = tmp_path / f"out_{learning_rate}"
        out.mkdir(exist_ok=True)
        sc.autoencoder_step(
            str(tmp_path / "rna.h5ad"),
            settings,
            train,
            str(out / "embedding.parquet"),
            str(out / "model.pt"),
            str(out / "history.tsv"),
            str(tmp_path / "ckpt"),
            logs.append,
        )
        return logs, pd.read_parquet(out / "embedding.parquet")

    _sc_inputs(tmp_path)
    size = (tmp_path / "rna.h5ad").stat().st_size
    logs, first = step()
    assert not any("resumed from" in line for line in logs)
    logs, again = step()  # same inputs and settings: resumed
    assert any("resumed from" in line for line in logs), logs
    pd.testing.assert_frame_equal(again, first)
    logs, _ = step(learning_rate=0.02)  # settings changed: not resumed
    assert not any("resumed from" in line for line in logs), logs
    _sc_inputs(tmp_path, permute_columns=True)  # content changed, same path, shape and size
    assert (tmp_path / "rna.h5ad").stat().st_size == size
    logs, _ = step()
    assert any("ignoring stale checkpoint" in line for line in logs), logs
    assert not any("resumed from" in line for line in logs), logs


def test_ancient_dna_read_model_resumes_only_its_own_checkpoint(tmp_path):
    """The real ancient-DNA training (:func:`genomelearn.adna.pipeline.train_read_model`, as
    scripts/ancient_dna_train.py calls it with ``training_fingerprint``) on reads extracted from a
    tiny BAM: the checkpoint left behind is resumed by the same inputs and settings, and ignored
    after a learning-rate change or after the sample sheet's labels were swapped in place (same
    path, same size)."""
    from genomelearn.adna import pipeline as P
    from genomelearn.adna.reads import Extractor
    from tests.unit.test_ancient_dna_support import random_reference, write_bam, write_fasta

    reads = [
        {"name": f"r{i}", "contig": "chr1", "pos": 7 * i, "cigar": "30M", "seq": "ACGT" * 7 + "AC"}
        for i in range(48)
    ]
    write_bam(tmp_path / "s.bam", {"chr1": 5000}, reads)
    write_fasta(tmp_path / "ref.fa", {"chr1": random_reference(5000, seed=1)})
    batches = list(Extractor(tmp_path / "s.bam", "S0", reference=tmp_path / "ref.fa").batches())
    table = pa.Table.from_batches(batches)
    pq.write_table(table, tmp_path / "S0.parquet")
    n = table.num_rows
    frame = pd.DataFrame(
        {
            "y": np.arange(n) % 2,
            "group": "all",
            "split": np.where(np.arange(n) < 3 * n // 4, "train", "validation"),
        }
    )
    _adna_inputs(tmp_path)
    settings = {"filters": 4, "kernel_size": 3, "hidden": 4, "max_length": 40}

    def train(learning_rate=0.01):
        training = {"max_epochs": 2, "batch_size": 8, "learning_rate": learning_rate}
        fp = P.training_fingerprint(
            tmp_path / "sheet.tsv",
            tmp_path / "splits.tsv",
            [tmp_path / "S0.parquet"],
            "read_cnn",
            0,
            settings,
            training,
        )
        config = TrainConfig.from_dict({**training, "device": "cpu", "patience": 5})
        logs = []
        model, _, result = P.train_read_model(
            "read_cnn", table, frame, settings, config, tmp_path / "ckpt", logs.append, fp
        )
        return model, result, logs

    first, result, _ = train()
    assert result.resumed_from_epoch is None and (tmp_path / "ckpt" / "last.pt").exists()
    again, result, logs = train()  # as after a kill: same inputs and settings resume
    assert result.resumed_from_epoch == 2, logs
    assert _same_weights(first, again)
    _, result, logs = train(learning_rate=0.02)  # settings changed
    assert result.resumed_from_epoch is None
    assert any("ignoring stale checkpoint" in line for line in logs), logs
    train()  # a checkpoint of the original settings again
    size = (tmp_path / "sheet.tsv").stat().st_size
    _adna_inputs(tmp_path, swap_labels=True)  # content changed, same path and size
    assert (tmp_path / "sheet.tsv").stat().st_size == size
    _, result, logs = train()
    assert result.resumed_from_epoch is None
    assert any("ignoring stale checkpoint" in line for line in logs), logs


class _Files(list):
    """Snakemake-like input/output: a list of paths that also has them as attributes."""

    def __init__(self, **named):
        super().__init__(str(v) for v in named.values())
        self.__dict__.update({k: str(v) for k, v in named.items()})


def test_introgression_train_deep_script_resumes_only_its_own_checkpoint(tmp_path, monkeypatch):
    """scripts/introgression_train_deep.py run as Snakemake runs it (the ``snakemake`` object
    faked), its checkpoint kept as after a kill: the same inputs and settings resume it; another
    learning rate, or the one-hot windows rewritten in place (same path, shape and size), do not."""
    import runpy
    import shutil
    import types

    import scipy.sparse as sp

    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)  # keep the checkpoint
    rng = np.random.default_rng(0)
    n, length = 60, 20
    pd.DataFrame({"label": np.arange(n) % 2}).to_parquet(tmp_path / "windows.parquet")
    split = np.array(["train"] * 40 + ["validation"] * 10 + ["test"] * 10)
    pd.DataFrame({"window": np.arange(n), "split": split}).to_csv(
        tmp_path / "split.tsv", sep="\t", index=False
    )
    one_hot = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, size=(n, length))]
    np.save(tmp_path / "one_hot.npy", one_hot)
    np.save(tmp_path / "tokens.npy", rng.integers(0, 64, size=(n, 15)).astype(np.int32))
    sp.save_npz(tmp_path / "counts.npz", sp.csr_matrix(rng.poisson(1, size=(n, 16))))
    inputs = _Files(
        windows=tmp_path / "windows.parquet",
        split=tmp_path / "split.tsv",
        one_hot=tmp_path / "one_hot.npy",
        tokens=tmp_path / "tokens.npy",
        counts=tmp_path / "counts.npz",
    )
    script = Path(__file__).resolve().parents[2] / "scripts" / "introgression_train_deep.py"

    def run(learning_rate=0.01, name="a"):
        log = tmp_path / f"{name}.log"
        smk = types.SimpleNamespace(
            input=inputs,
            output=_Files(
                predictions=tmp_path / f"{name}.parquet",
                model=tmp_path / f"{name}.pt",
                history=tmp_path / f"{name}.tsv",
            ),
            wildcards=types.SimpleNamespace(model="cnn", labels="deserts", seed="0"),
            params=types.SimpleNamespace(
                architecture={"filters": 4, "kernel_size": 3, "dense_units": 4},
                training={
                    "max_epochs": 2,
                    "batch_size": 8,
                    "learning_rate": learning_rate,
                    "patience": 5,
                    "device": "cpu",
                },
                token_k=3,
                checkpoint_dir=str(tmp_path / "ckpt"),
            ),
            log=[str(log)],
            rule="introgression_train_deep",
            threads=1,
        )
        runpy.run_path(str(script), init_globals={"snakemake": smk})
        return log.read_text(), torch.load(tmp_path / f"{name}.pt", weights_only=True)

    text, first = run(name="first")
    assert "epochs done" not in text and (tmp_path / "ckpt" / "last.pt").exists()
    text, again = run(name="again")  # same inputs and settings: resumed
    assert "epochs done" in text, text
    assert all(torch.equal(first["state_dict"][k], v) for k, v in again["state_dict"].items())
    text, _ = run(learning_rate=0.02, name="lr")  # settings changed
    assert "ignoring stale checkpoint" in text and "epochs done" not in text, text
    run(name="base")  # a checkpoint of the original settings again
    size = (tmp_path / "one_hot.npy").stat().st_size
    np.save(tmp_path / "one_hot.npy", one_hot[::-1])  # content changed, same path/shape/size
    assert (tmp_path / "one_hot.npy").stat().st_size == size
    text, _ = run(name="content")
    assert "ignoring stale checkpoint" in text and "epochs done" not in text, text
