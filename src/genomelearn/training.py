"""One training loop for every torch model of genomelearn.

Features (all models get them for free):

* device choice: CUDA when present (``device="auto"``), else CPU;
* on CUDA only: bf16 autocast (mixed precision) and pinned-memory host-to-device copies; the CPU
  path stays in float32 and deterministic;
* deterministic shuffling: the permutation of epoch ``e`` is drawn from ``seed + e``, so a resumed
  run visits the same batches in the same order as an uninterrupted one;
* early stopping on validation loss (``patience`` epochs without an improvement of ``min_delta``),
  best weights restored at the end;
* a checkpoint ``last.pt`` after every epoch, and mid-epoch when SIGTERM or SIGUSR1 arrives (what a
  SLURM time limit or preemption sends), after which :class:`TrainingInterrupted` is raised (exit
  code 143 from scripts); the next call of :func:`fit` with the same ``checkpoint_dir`` resumes at
  the exact batch where it stopped, so the final weights equal those of an uninterrupted run on CPU.

Data come from a *batch source*: any object with ``__len__``, ``n_inputs`` and
``get(indices) -> tuple[torch.Tensor, ...]``. :class:`ArraySource` covers numpy arrays, torch tensors
and scipy CSR matrices (densified one batch at a time).
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

LossFn = Callable[[nn.Module, tuple], torch.Tensor]


class TrainingInterrupted(RuntimeError):
    """Raised after a checkpoint was written because SIGTERM/SIGUSR1 arrived during training."""

    exit_code = 143


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`.

    Attributes:
        max_epochs: upper bound on epochs.
        batch_size: items per mini-batch.
        learning_rate: Adam learning rate.
        weight_decay: AdamW weight decay (0 = plain Adam behaviour).
        patience: epochs without validation improvement before stopping.
        min_delta: smallest decrease of validation loss that counts as an improvement.
        seed: seed of weights initialisation (via :func:`seed_everything`) and shuffling.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        mixed_precision: bf16 autocast on CUDA (ignored on CPU).
        num_workers: reserved for loaders that read from disk; in-memory sources ignore it.
    """

    max_epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 3
    min_delta: float = 0.0
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    num_workers: int = 0

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainConfig":
        """Build from a config mapping; ``None`` values are skipped.

        Raises:
            ValueError: on a key that is not a field (a config typo).
        """
        values = {k: v for k, v in (values or {}).items() if v is not None}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown training setting(s) {unknown}; valid: {sorted(names)}")
        return cls(**values)


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        history: one row per epoch: epoch (1-based), train_loss, val_loss, seconds,
            items_per_second (training items per wall-clock second).
        best_epoch: epoch whose weights were restored.
        resumed_from_epoch: completed epochs found in the checkpoint (None if trained from scratch).
        device: device trained on, e.g. ``"cpu"``.
    """

    history: pd.DataFrame
    best_epoch: int
    resumed_from_epoch: int | None
    device: str


class BatchSource(Protocol):
    """Anything :func:`fit` can draw mini-batches from."""

    n_inputs: int

    def __len__(self) -> int: ...

    def get(self, indices: np.ndarray) -> tuple[torch.Tensor, ...]: ...


def _as_tensor_rows(array, indices: np.ndarray) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array[torch.from_numpy(indices)]
    if hasattr(array, "tocsr") and not isinstance(array, np.ndarray):  # scipy sparse
        return torch.from_numpy(np.asarray(array[indices].todense(), dtype=np.float32))
    return torch.from_numpy(np.ascontiguousarray(array[indices]))


class ArraySource:
    """In-memory batch source over aligned arrays.

    Args:
        inputs: model inputs, each indexable by rows: numpy arrays, torch tensors or scipy
            sparse matrices (CSR; densified to float32 per batch, never as a whole).
        targets: optional per-item targets (appended last to each batch), e.g. int64 class labels.

    Raises:
        ValueError: if the arrays do not have the same number of rows.
    """

    def __init__(self, inputs: Sequence, targets=None):
        self.arrays = list(inputs) + ([targets] if targets is not None else [])
        self.n_inputs = len(inputs)
        lengths = {a.shape[0] for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(f"inputs and targets differ in number of rows: {sorted(lengths)}")
        self._n = lengths.pop()
        self.arrays = [
            a.tocsr() if hasattr(a, "tocsr") and not isinstance(a, np.ndarray) else a
            for a in self.arrays
        ]

    def __len__(self) -> int:
        return self._n

    def get(self, indices: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Rows ``indices`` (int64 array) of every array, as CPU tensors."""
        return tuple(_as_tensor_rows(a, indices) for a in self.arrays)


def input_fingerprint(paths: Sequence, settings=None, chunk_bytes: int = 1 << 22) -> str:
    """Fingerprint of a training run: sha256 over the *full* content of every input file, the
    settings (JSON, keys sorted) and the genomelearn version.

    Pass it as ``fit(..., fingerprint=...)`` so that a checkpoint written for other inputs (same
    path, shape and size but other bytes), other settings or another code version is never resumed.

    Args:
        paths: input files (str or Path), hashed in the order given; directories are not accepted.
        settings: any JSON-serialisable object (model architecture, training settings, seeds...).
        chunk_bytes: read size; the whole file is hashed whatever its size.

    Returns:
        64-character hexadecimal sha256 digest (str).

    Raises:
        FileNotFoundError / IsADirectoryError: when a path is missing or a directory.
    """
    import hashlib
    import json

    from genomelearn import __version__

    digest = hashlib.sha256()
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(f"genomelearn {__version__}".encode())
    for path in paths:
        file_digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(chunk_bytes), b""):
                file_digest.update(block)
        digest.update(file_digest.digest())
    return digest.hexdigest()


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) random generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def choose_device(preference: str = "auto") -> torch.device:
    """``"auto"`` → CUDA if available else CPU; otherwise the named device.

    Raises:
        ValueError: if CUDA is requested but not available.
    """
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"training.device is {preference!r} but CUDA is not available on this machine"
        )
    return device


def classification_loss(model: nn.Module, batch: tuple) -> torch.Tensor:
    """Mean cross-entropy of ``model(*batch[:-1])`` (logits, shape (B, C)) against ``batch[-1]`` (int64, (B,))."""
    logits = model(*batch[:-1])
    return nn.functional.cross_entropy(logits.float(), batch[-1])


def _to_device(batch: tuple, device: torch.device) -> tuple:
    if device.type == "cuda":
        return tuple(t.pin_memory().to(device, non_blocking=True) for t in batch)
    return batch


def _epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _sidecar(ckpt_path: Path) -> Path:
    return ckpt_path.with_suffix(".fingerprint")


def _remove_checkpoint(ckpt_path: Path) -> None:
    for path in (_sidecar(ckpt_path), ckpt_path, ckpt_path.with_name(ckpt_path.name + ".tmp")):
        path.unlink(missing_ok=True)


def _save_checkpoint(obj: dict, ckpt_path: Path, fingerprint: str) -> None:
    """Write ``last.pt`` then its sidecar ``last.fingerprint`` (both atomically).

    The sidecar is removed first: a kill between the two writes leaves a checkpoint without a
    sidecar, which is never resumed (rather than a sidecar that vouches for another checkpoint).
    """
    import json

    sidecar = _sidecar(ckpt_path)
    sidecar.unlink(missing_ok=True)
    _atomic_save(obj, ckpt_path)
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint, "checkpoint": ckpt_path.name}) + "\n")
    os.replace(tmp, sidecar)


def _load_checkpoint(ckpt_path: Path, fingerprint: str, device: torch.device, log) -> dict | None:
    """The checkpoint at ``ckpt_path`` if it provably belongs to the run ``fingerprint``, else None.

    Order: the sidecar JSON is compared first (``last.pt`` is not opened when it is missing,
    unreadable or different); then ``last.pt`` is read with ``weights_only=True`` and its embedded
    fingerprint compared again. A rejected checkpoint is deleted so that it can't be resumed later.
    """
    import json

    sidecar = _sidecar(ckpt_path)
    if not ckpt_path.exists():
        if sidecar.exists():
            sidecar.unlink()
        return None
    try:
        recorded = json.loads(sidecar.read_text()).get("fingerprint", "")
    except (OSError, ValueError, AttributeError):
        recorded = ""
    reason = None
    saved = None
    if not recorded:
        reason = f"no fingerprint recorded in {sidecar.name}"
    elif recorded != fingerprint:
        reason = "written for other inputs, settings or code version"
    else:
        try:
            saved = torch.load(ckpt_path, map_location=device, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - truncated file, foreign pickle, unsupported global
            reason = f"unreadable with weights_only=True ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        else:
            embedded = (
                saved.get("state", {}).get("fingerprint", "") if isinstance(saved, dict) else ""
            )
            if embedded != fingerprint:
                reason = "its embedded fingerprint differs from its sidecar"
                saved = None
    if reason is not None:
        log(f"ignoring stale checkpoint {ckpt_path} ({reason}); training from scratch")
        _remove_checkpoint(ckpt_path)
        return None
    return saved


class _SignalFlag:
    """Records SIGTERM/SIGUSR1 while installed (main thread only)."""

    signals = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def __enter__(self):
        try:
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: cannot install handlers
            self._previous = {}
        return self

    def _handle(self, signum, frame):
        self.received = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


class _Optimizers:
    """AdamW for dense parameters; SparseAdam for ``nn.Embedding(sparse=True)`` tables.

    A k-mer embedding (4**10 rows) gets sparse gradients: only the rows of tokens in the batch are
    updated, instead of a dense Adam step over every row (0.2 s per step on CPU for 1M×16).
    SparseAdam applies no weight decay.
    """

    def __init__(self, model: nn.Module, config: TrainConfig):
        sparse = [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse]
        sparse_ids = {id(p) for p in sparse}
        dense = [p for p in model.parameters() if id(p) not in sparse_ids and p.requires_grad]
        self.optimizers = []
        if dense:
            self.optimizers.append(
                torch.optim.AdamW(dense, lr=config.learning_rate, weight_decay=config.weight_decay)
            )
        if sparse:
            self.optimizers.append(torch.optim.SparseAdam(sparse, lr=config.learning_rate))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def state_dict(self) -> list:
        return [opt.state_dict() for opt in self.optimizers]

    def load_state_dict(self, states: list) -> None:
        for opt, state in zip(self.optimizers, states, strict=True):
            opt.load_state_dict(state)


def _evaluate_loss(model, source, loss_fn, batch_size, device, autocast) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), autocast():
        for start in range(0, len(source), batch_size):
            idx = np.arange(start, min(start + batch_size, len(source)))
            batch = _to_device(source.get(idx), device)
            total += float(loss_fn(model, batch)) * len(idx)
            count += len(idx)
    return total / max(count, 1)


def fit(
    model: nn.Module,
    train_source: BatchSource,
    val_source: BatchSource,
    loss_fn: LossFn = classification_loss,
    config: TrainConfig | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    fingerprint: str = "",
) -> FitResult:
    """Train ``model`` with AdamW, early stopping on validation loss, checkpoints and resume.

    Args:
        model: a torch module; moved to the chosen device and left there with the best weights.
        train_source: batch source of training items (shuffled each epoch).
        val_source: batch source of validation items (fixed order); must not be empty.
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``; the batch is already on the device.
        config: hyper-parameters (defaults: :class:`TrainConfig`).
        checkpoint_dir: directory for ``last.pt`` and its sidecar ``last.fingerprint``; if it
            holds a checkpoint of the same ``fingerprint``, training resumes from it (epoch, batch,
            optimizer state, history, best weights). None: no checkpoints.
        log: callable for progress lines (default: silent).
        fingerprint: identifies the run: :func:`input_fingerprint` of every input file and the
            settings. The sidecar JSON is compared *before* ``last.pt`` is opened; the checkpoint
            is then read with ``torch.load(weights_only=True)`` (tensors and plain containers
            only, never arbitrary pickles) and its embedded fingerprint compared again. A
            checkpoint whose fingerprint differs, is missing or is empty is stale: it is deleted
            and training starts afresh. With an empty ``fingerprint`` no checkpoint is ever
            resumed (nothing could prove it belongs to this run).

    Returns:
        :class:`FitResult`.

    Raises:
        TrainingInterrupted: after writing a checkpoint, when SIGTERM or SIGUSR1 arrived.
        ValueError: if a source is empty.
    """
    config = config or TrainConfig()
    log = log or (lambda message: None)
    if len(train_source) == 0 or len(val_source) == 0:
        raise ValueError(
            f"empty training ({len(train_source)}) or validation ({len(val_source)}) set"
        )
    device = choose_device(config.device)
    model.to(device)
    use_amp = device.type == "cuda" and config.mixed_precision

    def autocast():
        if use_amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    optimizer = _Optimizers(model, config)
    ckpt_path = Path(checkpoint_dir) / "last.pt" if checkpoint_dir is not None else None
    state = {
        "epoch": 0,  # completed epochs
        "batch": 0,  # next batch index inside the current epoch
        "running_loss": 0.0,
        "running_items": 0,
        "epoch_seconds": 0.0,
        "history": [],
        "best_val": float("inf"),
        "best_epoch": 0,
        "best_state": None,
        "bad_epochs": 0,
        "done": False,
        "fingerprint": fingerprint,
    }
    resumed_from = None
    saved = None
    if ckpt_path is not None and not fingerprint:
        log(
            f"no run fingerprint given: any checkpoint in {ckpt_path.parent} is ignored (training from scratch)"
        )
        _remove_checkpoint(ckpt_path)
    elif ckpt_path is not None:
        saved = _load_checkpoint(ckpt_path, fingerprint, device, log)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state.update(saved["state"])
        resumed_from = state["epoch"]
        log(f"resumed from {ckpt_path}: {state['epoch']} epochs done, next batch {state['batch']}")
    if ckpt_path is not None:
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)

    def save_checkpoint():
        if ckpt_path is not None:
            _save_checkpoint(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state},
                ckpt_path,
                fingerprint,
            )

    n = len(train_source)
    n_batches = (n + config.batch_size - 1) // config.batch_size
    with _SignalFlag() as flag:
        while not state["done"] and state["epoch"] < config.max_epochs:
            epoch = state["epoch"] + 1
            order = _epoch_permutation(n, config.seed, epoch)
            # The same generator state at each batch, whether resumed or not (dropout etc.).
            model.train()
            start_time = time.perf_counter()
            for b in range(state["batch"], n_batches):
                torch.manual_seed(config.seed * 1_000_003 + epoch * 10_007 + b)
                idx = order[b * config.batch_size : (b + 1) * config.batch_size]
                batch = _to_device(train_source.get(idx), device)
                optimizer.zero_grad(set_to_none=True)
                with autocast():
                    loss = loss_fn(model, batch)
                loss.backward()
                optimizer.step()
                state["running_loss"] += float(loss.detach()) * len(idx)
                state["running_items"] += len(idx)
                state["batch"] = b + 1
                if flag.received is not None:
                    state["epoch_seconds"] += time.perf_counter() - start_time
                    save_checkpoint()
                    log(
                        f"signal {flag.received} received: checkpoint written at epoch {epoch} batch {b + 1}"
                    )
                    raise TrainingInterrupted(
                        f"training interrupted by signal {flag.received} at epoch {epoch}, batch {b + 1}/{n_batches}; "
                        + f"checkpoint {ckpt_path} written, rerun to resume"
                    )
            seconds = state["epoch_seconds"] + time.perf_counter() - start_time
            train_loss = state["running_loss"] / max(state["running_items"], 1)
            val_loss = _evaluate_loss(
                model, val_source, loss_fn, max(config.batch_size, 256), device, autocast
            )
            state["history"].append(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "seconds": seconds,
                    "items_per_second": n / seconds if seconds > 0 else float("nan"),
                }
            )
            log(
                f"epoch {epoch}: train_loss {train_loss:.4f} val_loss {val_loss:.4f} ({n / seconds:.0f} items/s)"
            )
            if val_loss < state["best_val"] - config.min_delta:
                state["best_val"] = val_loss
                state["best_epoch"] = epoch
                state["best_state"] = {
                    k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()
                }
                state["bad_epochs"] = 0
            else:
                state["bad_epochs"] += 1
                if state["bad_epochs"] >= config.patience:
                    log(f"early stopping after epoch {epoch} (best epoch {state['best_epoch']})")
                    state["done"] = True
            state.update(
                epoch=epoch, batch=0, running_loss=0.0, running_items=0, epoch_seconds=0.0
            )
            save_checkpoint()
            if flag.received is not None:
                raise TrainingInterrupted(
                    f"training interrupted by signal {flag.received} after epoch {epoch}; checkpoint {ckpt_path} written"
                )
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    return FitResult(
        history=pd.DataFrame(
            state["history"],
            columns=["epoch", "train_loss", "val_loss", "seconds", "items_per_second"],
        ),
        best_epoch=state["best_epoch"],
        resumed_from_epoch=resumed_from,
        device=str(device),
    )


def predict(
    model: nn.Module,
    source: BatchSource,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
    softmax: bool = True,
) -> np.ndarray:
    """Run ``model(*batch[:source.n_inputs])`` over ``source`` in order.

    Returns:
        float32 array (N, C): class probabilities if ``softmax`` else raw outputs.
    """
    device = choose_device(device) if isinstance(device, str) else device
    model.to(device)
    model.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(source), batch_size):
            idx = np.arange(start, min(start + batch_size, len(source)))
            batch = _to_device(source.get(idx)[: source.n_inputs], device)
            out = model(*batch).float()
            if softmax:
                out = torch.softmax(out, dim=-1)
            outputs.append(out.cpu().numpy())
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32, copy=False)
