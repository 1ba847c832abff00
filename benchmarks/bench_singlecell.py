"""Single-cell benchmark: autoencoder training throughput, peak memory, PCA and UMAP time.

Synthetic sparse counts (cells × 2,000 genes, ~5 % non-zero, log1p) of increasing size. Each size
runs in its own process (so the peak RSS is that size's own). Per size:

* ``ae_cells_per_s`` — one epoch of the 8-layer autoencoder (genomelearn.training.fit, batch 256,
  CSR rows densified per batch only); ``ae_s_per_epoch_per_1M`` — the same as seconds per epoch
  per million cells, beside the target of 45 s (scVI's reported GPU pace, Lopez et al. 2018);
* ``pca_s`` — scikit-learn PCA (10 components) of the same sparse matrix, the baseline embedding;
* ``umap_s`` — kNN + fuzzy graph + UMAP layout of the 10-d autoencoder embedding, as the workflow
  does (``--umap-sizes``; the exact kNN query on ``--threads`` threads, as the rules' ``knn_threads``),
  and ``umap_learn_s`` — ``umap.UMAP(random_state=0).fit_transform`` of the same embedding (the plain
  umap-learn baseline, single-threaded because it is seeded; ``--baseline-umap-sizes``); both after a
  small warm-up run, so that numba compilation is not timed;
* ``peak_rss_gb`` vs ``dense_gb`` (the size the full matrix would take densified, float32).

Usage: python benchmarks/bench_singlecell.py [--sizes 10000 100000 1000000] [--device cpu|cuda]
       [--umap-sizes 10000 100000] [--baseline-umap-sizes 10000] [--threads 2] [--out table.tsv]
Prints one table of ratios; not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

N_GENES = 2000
DENSITY = 0.05
TARGET_S_PER_EPOCH_PER_1M = 45.0


def synthetic_counts(n_cells: int, n_genes: int = N_GENES, density: float = DENSITY, seed: int = 0):
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


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def worker(n_cells: int, device: str, umap: bool, baseline_umap: bool, threads: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from genomelearn.singlecell import embed, graphs
    from genomelearn.training import TrainConfig

    X = synthetic_counts(n_cells)
    out = {"cells": n_cells, "genes": N_GENES, "nnz": int(X.nnz), "device": device,
           "dense_gb": n_cells * N_GENES * 4 / 1024**3, "matrix_gb": (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1024**3}
    start = time.perf_counter()
    embed.pca_embedding(X, 10)
    out["pca_s"] = time.perf_counter() - start
    settings = embed.AutoencoderSettings(hidden=[256, 128, 64], bottleneck=10, dropout=0.1, validation_fraction=0.01)
    train = TrainConfig(max_epochs=1, batch_size=256, patience=1, device=device)
    start = time.perf_counter()
    _, emb, result = embed.train_autoencoder(X, "gaussian", settings, train)
    out["ae_total_s"] = time.perf_counter() - start  # epoch + validation + embedding of every cell
    out["ae_epoch_s"] = float(result.history["seconds"].iloc[0])
    out["ae_cells_per_s"] = float(result.history["items_per_second"].iloc[0])
    out["ae_s_per_epoch_per_1M"] = out["ae_epoch_s"] * 1e6 / (n_cells * (1 - settings.validation_fraction))
    out["train_device"] = result.device
    if device.startswith("cuda"):
        out["gpu_peak_gb"] = torch.cuda.max_memory_allocated() / 1024**3
    out["peak_rss_gb"] = _peak_gb()
    if umap or baseline_umap:  # compile umap-learn's numba kernels first: time the work, not the JIT
        small = np.asarray(emb[:300])
        idx, dist = graphs.euclidean_knn(small, 15)
        embed.umap_layout(graphs.knn_connectivities(idx, dist), small)
        if baseline_umap:
            import umap as umap_learn

            umap_learn.UMAP(n_neighbors=15, random_state=0, n_epochs=10).fit_transform(small)
    if umap:
        start = time.perf_counter()
        idx, dist = graphs.euclidean_knn(emb, 15, n_jobs=threads)
        g = graphs.knn_connectivities(idx, dist)
        embed.umap_layout(g, emb)
        out["umap_s"] = time.perf_counter() - start
    if baseline_umap:
        import umap as umap_learn

        start = time.perf_counter()
        umap_learn.UMAP(n_neighbors=15, random_state=0).fit_transform(np.asarray(emb))
        out["umap_learn_s"] = time.perf_counter() - start
    out["peak_rss_gb"] = _peak_gb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--umap-sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--baseline-umap-sizes", type=int, nargs="*", default=[10_000])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="also write the table here (TSV)")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        res = worker(args.worker, args.device, args.worker in args.umap_sizes, args.worker in args.baseline_umap_sizes, args.threads)
        print("RESULT " + json.dumps(res))
        return
    import pandas as pd

    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--worker", str(n), "--device", args.device, "--threads", str(args.threads),
               "--umap-sizes", *map(str, args.umap_sizes), "--baseline-umap-sizes", *map(str, args.baseline_umap_sizes)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            print(f"size {n} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(line[0][len("RESULT "):]))
        print(f"done {n} cells: {rows[-1]}", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    if table.empty:
        return
    table["ratio_epoch_vs_45s_target"] = table["ae_s_per_epoch_per_1M"] / TARGET_S_PER_EPOCH_PER_1M
    table["ratio_ae_epoch_vs_pca"] = table["ae_epoch_s"] / table["pca_s"]
    table["ratio_peak_rss_vs_dense"] = table["peak_rss_gb"] / table["dense_gb"]
    if "umap_learn_s" in table:
        table["ratio_umap_vs_umap_learn"] = table["umap_s"] / table["umap_learn_s"]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.out:
        table.to_csv(args.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
