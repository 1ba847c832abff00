"""Single-cell benchmark: the workflow's graph → Leiden + UMAP path beside scanpy's own pipeline.

Same matrix for both: a seeded Gaussian mixture standing in for a PCA / autoencoder embedding
(``--dims`` columns, default 10 = the workflow's n_components; 20 populations). Per size, each
pipeline runs in its own fresh process (numba JIT, imports and data generation included, as a
user pays them); the parent reads the child's CPU from ``os.wait4`` and its peak RSS as the larger
of its own ``ru_maxrss`` and the summed RSS of its process tree sampled every 0.2 s (psutil; the
workflow path overlaps Leiden in a second process above ``--approximate-above`` cells):

* ``workflow`` — :func:`genomelearn.singlecell.graphs.neighbors_leiden_umap`: kNN once (exact up to
  ``--approximate-above`` cells, NN-descent above; ``--threads`` threads), UMAP connectivities,
  igraph Leiden iterated to convergence (``n_iterations=-1``; scanpy below: 2 iterations) and
  UMAP layout from that graph (umap-learn ``simplicial_set_embedding``); with ``--threads`` ≥ 2 and
  NN-descent, Leiden runs in a second process while the layout runs (``leiden_umap_s``: the pair);
* ``scanpy`` — ``sc.pp.neighbors(n_neighbors=k + 1, use_rep="X")`` (scanpy's own choice:
  exact below 4,096 / 8,192 cells, pynndescent above) + ``sc.tl.leiden(flavor="igraph",
  n_iterations=2)`` + ``sc.tl.umap`` with ``sc.settings.n_jobs = --threads``;
* ``rapids`` (only with ``--rapids`` and when rapids-singlecell and a GPU are present) — the same
  steps with rapids-singlecell.

Columns: ``total_s`` (process wall time), ``cpu_s`` (its user + system CPU seconds, all threads:
the fairer number on a busy shared machine), ``compute_s`` / ``compute_cpu_s`` (wall / CPU after the
data exist), per-step wall seconds,
``peak_rss_gb``, the number of Leiden clusters and their ARI against the mixture's populations
(same data, so a faster path must not cluster worse), and per size the ratios workflow / scanpy.
Targets (issue 14): workflow time ≤ scanpy's at 1 M cells, peak RSS ≤ 16 GB.

``--ae-sizes`` also runs the earlier autoencoder-throughput worker (one epoch of the 8-layer
autoencoder on synthetic sparse counts; ``ae_s_per_epoch_per_1M`` beside the 45 s target).

Usage: python benchmarks/bench_singlecell.py [--sizes 10000 100000 1000000] [--threads 2]
       [--dims 10] [--approximate-above 50000] [--tsv table.tsv] [--rapids] [--ae-sizes N ...]
Prints one table; not part of the test suite.

1 M cells (the issue's target size; run it on an otherwise idle node, each pipeline takes tens of
minutes on 2 cores): ``python benchmarks/bench_singlecell.py --sizes 1000000 --threads 2
--tsv bench_sc_1m.tsv`` (or one pipeline per call with ``--pipelines workflow`` / ``scanpy``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

N_GENES = 2000
DENSITY = 0.05
TARGET_S_PER_EPOCH_PER_1M = 45.0
N_POPULATIONS = 20
K = 15


def synthetic_counts(
    n_cells: int, n_genes: int = N_GENES, density: float = DENSITY, seed: int = 0
):
    """CSR float32 (n_cells, n_genes): log1p of 1 + Poisson(1) counts at ~density random entries, by blocks."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    blocks = []
    for start in range(0, n_cells, 100_000):
        rows = min(100_000, n_cells - start)
        per_row = rng.binomial(n_genes, density, size=rows)
        indptr = np.concatenate([[0], np.cumsum(per_row)])
        cols = rng.integers(0, n_genes, size=indptr[-1], dtype=np.int32)
        data = np.log1p(1 + rng.poisson(1.0, size=indptr[-1])).astype(np.float32)
        block = sp.csr_matrix((data, cols, indptr), shape=(rows, n_genes))
        block.sum_duplicates()
        blocks.append(block)
    return sp.vstack(blocks, format="csr")


def synthetic_embedding(n_cells: int, dims: int = 10, seed: int = 0):
    """(n_cells, dims) float32 Gaussian mixture of N_POPULATIONS populations, and their labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4.0, size=(N_POPULATIONS, dims))
    labels = rng.integers(0, N_POPULATIONS, size=n_cells)
    X = np.empty((n_cells, dims), dtype=np.float32)
    for s in range(0, n_cells, 200_000):
        e = min(s + 200_000, n_cells)
        X[s:e] = centres[labels[s:e]] + rng.normal(0, 1.0, size=(e - s, dims))
    return X, labels


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _scanpy_default_transformer(n_cells: int, threads: int):
    """The kNN transformer ``sc.pp.neighbors`` picks by itself (None below 8,192 cells: exact).

    Above 8,192 cells scanpy 1.11 builds ``PyNNDescentTransformer`` with umap-learn's settings;
    with pynndescent 0.7 that returns a ``csr_array``, on which scanpy 1.11.5 calls the removed
    ``getnnz`` (AttributeError). The same transformer with the same settings, returning a
    ``csr_matrix``, keeps scanpy's own default path running.
    """
    if n_cells < 8192:
        return None
    import numpy as np
    import scipy.sparse as sp
    from pynndescent import PyNNDescentTransformer

    class Transformer(PyNNDescentTransformer):
        def transform(self, X, y=None):
            return sp.csr_matrix(super().transform(X, y))

        def fit_transform(self, X, y=None, **fit_params):
            return sp.csr_matrix(super().fit_transform(X, y, **fit_params))

    return Transformer(
        n_neighbors=K + 1,
        metric="euclidean",
        random_state=0,
        n_jobs=threads,
        n_trees=min(64, 5 + round(n_cells**0.5 / 20.0)),
        n_iters=max(5, round(np.log2(n_cells))),
    )


def pipeline_worker(
    n_cells: int, pipeline: str, dims: int, threads: int, approximate_above: int | None
) -> dict:
    import warnings

    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    X, labels = synthetic_embedding(n_cells, dims)
    out = {"cells": n_cells, "dims": dims, "pipeline": pipeline, "threads": threads}
    start = time.perf_counter()
    cpu_start = time.process_time()
    if pipeline == "workflow":
        from genomelearn.singlecell import graphs

        timings = {}
        _, clusters, coords = graphs.neighbors_leiden_umap(
            X,
            K,
            seed=0,
            approximate_above=approximate_above,
            n_jobs=threads,
            backend="cpu",
            timings=timings,
        )
        out.update(timings)
        out["knn"] = graphs.knn_method(n_cells, approximate_above)
    elif pipeline in ("scanpy", "rapids"):
        import anndata as ad

        adata = ad.AnnData(X=X)
        if pipeline == "scanpy":
            import scanpy as sc

            sc.settings.n_jobs = threads
            transformer = _scanpy_default_transformer(n_cells, threads)
            steps = (
                (
                    "knn_s",
                    lambda: sc.pp.neighbors(
                        adata,
                        n_neighbors=K + 1,
                        use_rep="X",
                        random_state=0,
                        transformer=transformer,
                    ),
                ),
                (
                    "leiden_s",
                    lambda: sc.tl.leiden(adata, flavor="igraph", n_iterations=2, random_state=0),
                ),
                ("umap_s", lambda: sc.tl.umap(adata, random_state=0, min_dist=0.5)),
            )
            out["knn"] = "exact" if transformer is None else "pynndescent (scanpy default)"
        else:
            import rapids_singlecell as rsc

            steps = (
                (
                    "knn_s",
                    lambda: rsc.pp.neighbors(
                        adata, n_neighbors=K + 1, use_rep="X", random_state=0
                    ),
                ),
                ("leiden_s", lambda: rsc.tl.leiden(adata, random_state=0)),
                ("umap_s", lambda: rsc.tl.umap(adata, random_state=0, min_dist=0.5)),
            )
            out["knn"] = "rapids"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, step in steps:
                t = time.perf_counter()
                step()
                out[name] = time.perf_counter() - t
        clusters = adata.obs["leiden"].astype(str).to_numpy()
        coords = np.asarray(adata.obsm["X_umap"])
    else:
        raise ValueError(f"unknown pipeline {pipeline!r}")
    out["compute_s"] = time.perf_counter() - start
    out["compute_cpu_s"] = time.process_time() - cpu_start  # all threads; robust to a busy machine
    out["n_clusters"] = len(np.unique(clusters))
    out["ari_vs_populations"] = float(adjusted_rand_score(labels, clusters))
    out["umap_finite"] = bool(np.isfinite(coords).all())
    out["peak_rss_gb_self"] = _peak_gb()
    return out


def ae_worker(n_cells: int, device: str, threads: int) -> dict:
    """One autoencoder epoch on synthetic sparse counts (the earlier throughput benchmark)."""
    import torch

    torch.set_num_threads(threads)
    from genomelearn.singlecell import embed
    from genomelearn.training import TrainConfig

    X = synthetic_counts(n_cells)
    out = {"cells": n_cells, "pipeline": "autoencoder", "device": device}
    settings = embed.AutoencoderSettings(
        hidden=[256, 128, 64], bottleneck=10, dropout=0.1, validation_fraction=0.01
    )
    train = TrainConfig(max_epochs=1, batch_size=256, patience=1, device=device)
    start = time.perf_counter()
    _, _, result = embed.train_autoencoder(X, "gaussian", settings, train)
    out["compute_s"] = time.perf_counter() - start
    out["ae_epoch_s"] = float(result.history["seconds"].iloc[0])
    out["ae_s_per_epoch_per_1M"] = (
        out["ae_epoch_s"] * 1e6 / (n_cells * (1 - settings.validation_fraction))
    )
    out["ratio_epoch_vs_45s_target"] = out["ae_s_per_epoch_per_1M"] / TARGET_S_PER_EPOCH_PER_1M
    out["peak_rss_gb_self"] = _peak_gb()
    return out


def _sample_tree_rss(pid: int, every_s: float = 0.2) -> float:
    """Until ``pid`` exits (it is left unreaped for ``os.wait4``): the peak, over samples every
    ``every_s``, of the summed RSS (GB) of ``pid`` and all its descendants (psutil)."""
    import psutil

    peak = 0.0
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return peak
    while True:
        try:
            if root.status() == psutil.STATUS_ZOMBIE:
                return peak
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return peak
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak = max(peak, total / 1024**3)
        time.sleep(every_s)


def run_child(args: list[str], threads: int) -> tuple[dict | None, float, float, float, str]:
    """Run this script as a child; returns (its RESULT dict, wall s, CPU s, peak RSS GB, stderr tail)."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, *args], stdout=out, stderr=err, text=True, env=env
        )
        tree_peak = _sample_tree_rss(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)  # its rusage (CPU includes reaped grandchildren)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    # Linux: KiB; ru_maxrss is the largest single process, so a second process (overlapped
    # Leiden) is counted through the sampled sum over the process tree.
    peak = max(usage.ru_maxrss / 1024**2, tree_peak)
    cpu = usage.ru_utime + usage.ru_stime
    line = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    result = json.loads(line[0][len("RESULT ") :]) if line else None
    return result, wall, cpu, peak, stderr[-3000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dims", type=int, default=10)
    parser.add_argument(
        "--approximate-above",
        type=int,
        default=50_000,
        help="the workflow's approximate_knn_above",
    )
    parser.add_argument(
        "--rapids", action="store_true", help="also run rapids-singlecell (needs it and a GPU)"
    )
    parser.add_argument(
        "--ae-sizes", type=int, nargs="*", default=[], help="also time one autoencoder epoch"
    )
    parser.add_argument(
        "--pipelines",
        nargs="+",
        default=["workflow", "scanpy"],
        choices=["workflow", "scanpy"],
        help="CPU pipelines to run (ratios need both)",
    )
    parser.add_argument("--device", default="cpu", help="device of the autoencoder worker")
    parser.add_argument("--tsv", default=None, help="also write the table here (TSV)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cells", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        if args.worker == "autoencoder":
            res = ae_worker(args.cells, args.device, args.threads)
        else:
            res = pipeline_worker(
                args.cells, args.worker, args.dims, args.threads, args.approximate_above
            )
        print("RESULT " + json.dumps(res), flush=True)
        return
    import pandas as pd

    pipelines = list(args.pipelines)
    if args.rapids:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
        from genomelearn.singlecell.graphs import rapids_available

        if rapids_available():
            pipelines.append("rapids")
        else:
            print(
                "--rapids: rapids_singlecell or a CUDA device is missing; GPU path not measured",
                file=sys.stderr,
            )
    jobs = [(n, p) for n in args.sizes for p in pipelines] + [
        (n, "autoencoder") for n in args.ae_sizes
    ]
    rows = []
    for n, pipeline in jobs:
        child = [
            "--worker",
            pipeline,
            "--cells",
            str(n),
            "--threads",
            str(args.threads),
            "--dims",
            str(args.dims),
            "--approximate-above",
            str(args.approximate_above),
            "--device",
            args.device,
        ]
        result, wall, cpu, peak, err = run_child(child, args.threads)
        if result is None:
            print(f"{pipeline} at {n} cells failed:\n{err}", file=sys.stderr)
            rows.append(
                {
                    "cells": n,
                    "pipeline": pipeline,
                    "total_s": wall,
                    "cpu_s": cpu,
                    "peak_rss_gb": peak,
                    "failed": True,
                }
            )
            continue
        result.update(total_s=wall, cpu_s=cpu, peak_rss_gb=peak)
        rows.append(result)
        print(f"done {pipeline} {n} cells: {json.dumps(result)}", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    if table.empty:
        return
    graph_rows = table[table["pipeline"].isin(["workflow", "scanpy"])]
    if {"workflow", "scanpy"} <= set(graph_rows["pipeline"]):
        measured = [
            c
            for c in ("total_s", "cpu_s", "compute_s", "compute_cpu_s", "peak_rss_gb")
            if c in graph_rows
        ]
        wide = graph_rows.pivot_table(index="cells", columns="pipeline", values=measured)
        for col in measured:
            ratio = (wide[(col, "workflow")] / wide[(col, "scanpy")]).rename(
                f"ratio_{col}_workflow_vs_scanpy"
            )
            table = table.merge(ratio, left_on="cells", right_index=True, how="left")
        table.loc[
            table["pipeline"] != "workflow",
            [c for c in table if c.startswith("ratio_") and "scanpy" in c],
        ] = float("nan")
    table["meets_16gb"] = table["peak_rss_gb"] <= 16
    columns = [
        "cells",
        "pipeline",
        "knn",
        "total_s",
        "cpu_s",
        "compute_s",
        "compute_cpu_s",
        "knn_s",
        "leiden_s",
        "umap_s",
        "leiden_umap_s",
        "peak_rss_gb",
        "n_clusters",
        "ari_vs_populations",
        "ratio_total_s_workflow_vs_scanpy",
        "ratio_cpu_s_workflow_vs_scanpy",
        "ratio_compute_s_workflow_vs_scanpy",
        "ratio_compute_cpu_s_workflow_vs_scanpy",
        "ratio_peak_rss_gb_workflow_vs_scanpy",
        "meets_16gb",
    ]
    columns = [c for c in columns if c in table] + [c for c in table if c not in columns]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.tsv:
        table[columns].to_csv(args.tsv, sep="\t", index=False)


if __name__ == "__main__":
    main()
