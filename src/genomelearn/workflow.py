"""Glue between Snakemake scripts and the engine: logging, threads, errors.

Every script in ``scripts/`` ends with ``run_script(main, snakemake)``.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Callable

LOGGER_NAME = "genomelearn"


def get_logger() -> logging.Logger:
    """The package logger (configured by :func:`run_script` to write to the rule's log file)."""
    return logging.getLogger(LOGGER_NAME)


def _configure_logging(log_path: str | None) -> logging.Logger:
    logger = get_logger()
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w")
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(fmt)
    stream.setLevel(logging.WARNING)
    logger.addHandler(stream)
    return logger


def set_threads(threads: int) -> None:
    """Limit torch and BLAS thread pools to ``threads`` (the rule's ``threads:``)."""
    threads = max(int(threads), 1)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    numba = sys.modules.get("numba")
    if numba is None:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
    else:
        # numba already imported (e.g. by the ancient-DNA extraction kernel): its thread pool size
        # is read from the environment at import and at every compilation, and may not change once
        # the pool runs (a later compilation would raise). Before the pool starts, read the new
        # value now; once it runs, keep its size and cap the threads in use instead.
        from numba.np.ufunc import parallel

        if parallel._is_initialized:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        else:
            os.environ["NUMBA_NUM_THREADS"] = str(threads)
            numba.core.config.reload_config()
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # torch is optional for CPU-only steps
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass


def run_script(main: Callable, snakemake) -> None:
    """Run ``main(snakemake)`` with logging to ``snakemake.log[0]`` and a clean failure path.

    On an exception the message (and traceback) goes to the log, the message to stderr, and the
    process exits 1 (143 for :class:`genomelearn.training.TrainingInterrupted`), so Snakemake marks
    the job failed and removes its partial outputs.
    """
    log_path = snakemake.log[0] if len(snakemake.log) else None
    logger = _configure_logging(log_path)
    set_threads(getattr(snakemake, "threads", 1))
    try:
        main(snakemake)
    except Exception as exc:  # noqa: BLE001 - report every failure the same way
        logger.error("%s: %s\n%s", type(exc).__name__, exc, traceback.format_exc())
        print(
            f"genomelearn error in rule {snakemake.rule}: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        for handler in logger.handlers:
            handler.flush()
        sys.exit(getattr(exc, "exit_code", 1))
