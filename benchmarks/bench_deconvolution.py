"""Speed of the batched deconvolution solvers against SciPy's per-sample solvers (one CPU core).

Target (issue "Bulk deconvolution"): 10,000 synthetic bulk samples deconvolved in under 10 s on one
core. Baselines, named:

* ``scipy SLSQP per sample`` -- ``scipy.optimize.minimize(method="SLSQP")`` with x >= 0 and
  sum(x) = 1, one call per sample: the Python analogue of DeconRNASeq's per-sample
  ``limSolve::lsei`` loop.
* ``scipy nnls per sample`` -- ``scipy.optimize.nnls`` (Lawson-Hanson), one call per sample.

Rows report wall time, samples per second, the speed-up over the baseline and the agreement with
it: max |difference| of the weights, the largest relative objective difference (ours - baseline;
tiny positive values come from the baseline violating sum(x) = 1 by its own tolerance, shown in
``baseline_constraint_violation``; ours satisfies it to 1e-15).
Baselines run on ``--baseline-samples`` samples and are extrapolated linearly to the full batch
(marked "extrapolated"); everything else runs on the full batch.

Run:  python benchmarks/bench_deconvolution.py [--samples 10000] [--baseline-samples 2000]
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import optimize  # noqa: E402

try:  # belt and braces: also limit pools already initialised
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover
    pass

from genomelearn.deconvolution import bootstrap_proportions, deconvolve  # noqa: E402
from genomelearn.deconvolution.core import design_matrices  # noqa: E402
from genomelearn.deconvolution.solvers import solve_batched_qp  # noqa: E402


def synthetic(n_samples: int, n_genes: int, k: int, rng: np.random.Generator):
    S = rng.gamma(0.6, 20.0, size=(n_genes, k))
    P = rng.dirichlet(np.ones(k), size=n_samples)
    X = rng.poisson(S @ P.T * 50).astype(float)
    return S, X


def slsqp(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    k = A.shape[1]
    res = optimize.minimize(
        lambda x: 0.5 * np.sum((A @ x - b) ** 2),
        np.full(k, 1.0 / k),
        jac=lambda x: A.T @ (A @ x - b),
        method="SLSQP",
        bounds=[(0, None)] * k,
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1, "jac": lambda x: np.ones(k)}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    return res.x


def timed(fn, repeats: int = 3):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def scaled(S: np.ndarray, X: np.ndarray):
    A = (S - S.mean(0)) / S.std(0, ddof=1)
    B = (X - X.mean(0)) / X.std(0, ddof=1)
    return A, B


def bench_case(k: int, n_genes: int, n: int, n_base: int, rng) -> list[dict]:
    S, X = synthetic(n, n_genes, k, rng)
    rows = []
    A, B = scaled(S, X)

    def ours_simplex():
        G, C = design_matrices(S, X, "deconrnaseq")
        return solve_batched_qp(G[0], C[0], sum_to_one=True).x

    t_ours, x_ours = timed(ours_simplex)
    t_base, x_base = timed(lambda: np.array([slsqp(A, B[:, i]) for i in range(n_base)]), repeats=1)
    t_base_full = t_base * n / n_base
    obj = lambda x, idx: 0.5 * ((A @ x.T - B[:, idx]) ** 2).sum(axis=0)  # noqa: E731
    idx = np.arange(n_base)
    rows.append(
        {
            "problem": f"DeconRNASeq simplex QP, k={k}, {n_genes} genes",
            "method": "batched active set (this repo)",
            "samples": n,
            "seconds": t_ours,
            "samples_per_s": n / t_ours,
            "baseline": "scipy SLSQP per sample",
            "baseline_seconds": t_base_full,
            "baseline_note": f"extrapolated from {n_base}" if n_base < n else "measured",
            "speedup": t_base_full / t_ours,
            "max_abs_diff": float(np.abs(x_ours[:n_base] - x_base).max()),
            "objective_rel_diff": float(
                ((obj(x_ours[:n_base], idx) - obj(x_base, idx)) / obj(x_base, idx)).max()
            ),
            "baseline_constraint_violation": float(
                max(np.abs(x_base.sum(axis=1) - 1).max(), -x_base.min(initial=0.0))
            ),
        }
    )

    def ours_nnls():
        G, C = design_matrices(S, X, "nnls")
        return solve_batched_qp(G[0], C[0], sum_to_one=False).x

    t_ours, x_ours = timed(ours_nnls)
    n_nn = min(n, max(n_base, 10_000))
    t_base, x_base = timed(
        lambda: np.array([optimize.nnls(S, X[:, i])[0] for i in range(n_nn)]), repeats=1
    )
    t_base_full = t_base * n / n_nn
    rows.append(
        {
            "problem": f"NNLS, k={k}, {n_genes} genes",
            "method": "batched active set (this repo)",
            "samples": n,
            "seconds": t_ours,
            "samples_per_s": n / t_ours,
            "baseline": "scipy nnls per sample",
            "baseline_seconds": t_base_full,
            "baseline_note": f"extrapolated from {n_nn}" if n_nn < n else "measured",
            "speedup": t_base_full / t_ours,
            "max_abs_diff": float(np.abs(x_ours[:n_nn] - x_base).max()),
            "objective_rel_diff": float(
                (
                    (
                        ((S @ x_ours[:n_nn].T - X[:, :n_nn]) ** 2).sum(0)
                        - ((S @ x_base.T - X[:, :n_nn]) ** 2).sum(0)
                    )
                    / ((S @ x_base.T - X[:, :n_nn]) ** 2).sum(0)
                ).max()
            ),
            "baseline_constraint_violation": float(max(0.0, -x_base.min(initial=0.0))),
        }
    )
    return rows


def bench_end_to_end(n: int, rng) -> dict:
    """deconvolve() on DataFrames: CPM over 2,000 genes, alignment, scaling, solve (fibre-type shape)."""
    S, _ = synthetic(1, 18, 2, rng)
    other = rng.poisson(300, size=(1982, n))
    _, Xs = synthetic(n, 18, 2, rng)
    genes = [f"g{i}" for i in range(2000)]
    bulk = pd.DataFrame(np.vstack([Xs, other]), index=genes, columns=[f"s{i}" for i in range(n)])
    sig = pd.DataFrame(S, index=genes[:18], columns=["typeII", "typeI"])
    t, res = timed(lambda: deconvolve(bulk, sig, "deconrnaseq", "cpm"))
    return {
        "problem": "deconvolve() end to end: 2,000 genes x samples, CPM, 18-gene signature, k=2",
        "method": "genomelearn.deconvolution.deconvolve",
        "samples": n,
        "seconds": t,
        "samples_per_s": n / t,
        "baseline": "target: < 10 s",
        "baseline_seconds": 10.0,
        "baseline_note": "issue target",
        "speedup": 10.0 / t,
        "max_abs_diff": np.nan,
        "objective_rel_diff": np.nan,
        "baseline_constraint_violation": np.nan,
    }


def bench_bootstrap(rng) -> dict:
    S, X = synthetic(22, 18, 2, rng)
    t, _ = timed(lambda: bootstrap_proportions(S, X, "deconrnaseq", 1000, 0))
    # per-sample SLSQP cost of the same 22,000 fits, measured on 1,000 of them
    A, B = scaled(S, X)
    tb, _ = timed(lambda: [slsqp(A, B[:, i % 22]) for i in range(1000)], repeats=1)
    return {
        "problem": "bootstrap over genes: 1,000 replicates x 22 samples (fibre-type shape)",
        "method": "weighted normal equations + batched QP",
        "samples": 22_000,
        "seconds": t,
        "samples_per_s": 22_000 / t,
        "baseline": "scipy SLSQP per fit",
        "baseline_seconds": tb * 22,
        "baseline_note": "extrapolated from 1000",
        "speedup": tb * 22 / t,
        "max_abs_diff": np.nan,
        "objective_rel_diff": np.nan,
        "baseline_constraint_violation": np.nan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--baseline-samples", type=int, default=2_000)
    parser.add_argument(
        "--tsv", "--out", dest="tsv", default=None, help="also write the table to this TSV path"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for k, g in [(2, 18), (6, 120), (12, 300)]:
        rows.extend(bench_case(k, g, args.samples, args.baseline_samples, rng))
    rows.append(bench_end_to_end(args.samples, rng))
    rows.append(bench_bootstrap(rng))
    table = pd.DataFrame(rows)
    with pd.option_context(
        "display.width", 250, "display.max_columns", 20, "display.max_colwidth", 60
    ):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.tsv:
        table.to_csv(args.tsv, sep="\t", index=False)


if __name__ == "__main__":
    main()
