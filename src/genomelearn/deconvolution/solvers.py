"""Batched least-squares solvers for deconvolution: simplex-constrained (DeconRNASeq) and NNLS.

Both problems are small convex quadratic programs in the k cell-type weights, one per bulk sample:

    minimise   0.5 x' G x - c' x        (G = A'A, c = A'b for signature A and bulk profile b)
    subject to x >= 0                   (NNLS, Lawson & Hanson 1974)
               and, for DeconRNASeq, sum(x) = 1   (``limSolve::lsei`` in Gong & Szustakowski 2013)

:func:`solve_batched_qp` solves all samples at once with a primal active-set method (Nocedal &
Wright, *Numerical Optimization*, Algorithm 16.3): every iteration solves the equality-constrained
KKT system of each still-running sample with one batched ``numpy.linalg.solve`` over
(n, k+1, k+1) arrays, so the Python loop runs over iterations (at most a few times k), never over
samples. The method is exact: it stops at the KKT point of each strictly convex problem, which is
the unique optimum (same answer as ``scipy.optimize.nnls`` and SLSQP/``lsei``, to rounding).
"""

from __future__ import annotations

import numpy as np

__all__ = ["solve_batched_qp", "QPResult"]


class QPResult:
    """Solution of a batch of QPs.

    Attributes:
        x: (n, k) float64 optimal weights (NaN rows where the input row was not finite).
        converged: (n,) bool, False only if ``max_iter`` was reached (never observed in practice).
        n_iter: number of active-set iterations used by the slowest sample.
    """

    def __init__(self, x: np.ndarray, converged: np.ndarray, n_iter: int):
        self.x = x
        self.converged = converged
        self.n_iter = n_iter


def _solve_subproblems(
    G: np.ndarray, c: np.ndarray, fixed: np.ndarray, sum_to_one: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise 0.5 x'Gx - c'x with x_i = 0 on ``fixed`` (and sum x = 1) for each row.

    G: (m, k, k) or (k, k); c: (m, k); fixed: (m, k) bool.
    Returns x: (m, k) and lam: (m,) the multiplier of sum(x) = 1 (zeros without it).
    """
    m, k = c.shape
    free = ~fixed
    G = G if G.ndim == 3 else G[None, :, :]
    size = k + 1 if sum_to_one else k
    M = np.zeros((m, size, size))
    mask = free[:, :, None] & free[:, None, :]
    M[:, :k, :k] = np.where(mask, G, 0.0)
    diag = np.arange(k)
    M[:, diag, diag] += fixed  # x_i = 0 for fixed variables
    rhs = np.zeros((m, size))
    rhs[:, :k] = np.where(free, c, 0.0)
    if sum_to_one:
        M[:, :k, k] = free
        M[:, k, :k] = free
        rhs[:, k] = 1.0
    try:
        sol = np.linalg.solve(M, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:  # a (nearly) singular system somewhere in the batch: least norm
        sol = np.matmul(np.linalg.pinv(M), rhs[:, :, None])[:, :, 0]
    lam = sol[:, k] if sum_to_one else np.zeros(m)
    return sol[:, :k], lam


def solve_batched_qp(
    G: np.ndarray,
    c: np.ndarray,
    sum_to_one: bool = True,
    max_iter: int | None = None,
    tol: float = 1e-10,
) -> QPResult:
    """Solve n non-negative (optionally simplex-constrained) least-squares QPs at once.

    Args:
        G: (k, k) Gram matrix A'A shared by all samples, or (n, k, k) one per sample; symmetric
            positive definite (full column rank A); if a KKT system of the batch is singular
            the batch falls back to the least-norm (pseudo-inverse) solution.
        c: (n, k) float64, A'b per sample. Rows with non-finite values give NaN rows.
        sum_to_one: add the constraint sum(x) = 1 (DeconRNASeq / ``lsei`` with E = 1', F = 1).
            Without it the problem is NNLS.
        max_iter: cap on active-set iterations (default 10 k + 20).
        tol: relative tolerance for a zero step and for negative multipliers.

    Returns:
        :class:`QPResult` with x (n, k).

    Raises:
        ValueError: on inconsistent shapes.
    """
    c = np.asarray(c, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"c must be (n, k), got shape {c.shape}")
    n, k = c.shape
    G = np.asarray(G, dtype=float)
    shared = G.shape == (k, k)
    if not shared and G.shape != (n, k, k):
        raise ValueError(f"G must be ({k}, {k}) or ({n}, {k}, {k}), got {G.shape}")
    max_iter = 10 * k + 20 if max_iter is None else max_iter

    def gram(rows):  # the Gram matrices of some samples, without copying a shared one
        return G if shared else G[rows]

    with np.errstate(invalid="ignore"):
        finite = np.isfinite(c).all(axis=1) & (
            np.isfinite(G).all() if shared else np.isfinite(G).all(axis=(1, 2))
        )
        scale = (
            np.abs(c).max(axis=1, initial=0.0)
            + (np.abs(G).max() if shared else np.abs(G).max(axis=(1, 2)))
            + 1e-300
        )

    # Warm start: the working set is the set of variables that are <= 0 in the solution with no
    # bounds (only the equality), a good guess of the final active set; the starting point is a
    # feasible point with exactly that support (0 for NNLS, uniform on the support for the simplex).
    x = np.full((n, k), np.nan)
    fixed = np.ones((n, k), dtype=bool)
    idx = np.flatnonzero(finite)
    if idx.size:
        free0, _ = _solve_subproblems(
            gram(idx), c[idx], np.zeros((idx.size, k), dtype=bool), sum_to_one
        )
        f0 = free0 > 0
        if sum_to_one:
            none = ~f0.any(axis=1)
            f0[none, np.argmax(free0[none], axis=1)] = True
            x[idx] = f0 / f0.sum(axis=1, keepdims=True)
        else:
            x[idx] = 0.0
        fixed[idx] = ~f0
    running = finite.copy()
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        idx = np.flatnonzero(running)
        if idx.size == 0:
            n_iter -= 1
            break
        Gi, ci, fi, xi = gram(idx), c[idx], fixed[idx], x[idx]
        xs, lam = _solve_subproblems(Gi, ci, fi, sum_to_one)
        p = xs - xi
        xmag = np.maximum(np.abs(xi).max(axis=1), np.abs(xs).max(axis=1))
        moving = np.abs(p).max(axis=1) > tol * (1.0 + xmag)

        # Stationary samples: check the multipliers of the active bounds, release the worst one.
        st = ~moving
        if st.any():
            s_idx = idx[st]
            Gs = Gi if shared else Gi[st]
            grad = np.matmul(Gs, xs[st][:, :, None])[:, :, 0] - ci[st]
            mu = grad + lam[st, None]  # multiplier of x_i >= 0 (KKT: G x - c + lam 1 - mu = 0)
            mu = np.where(fi[st], mu, np.inf)
            j = np.argmin(mu, axis=1)
            worst = mu[np.arange(j.size), j]
            optimal = worst >= -tol * scale[s_idx]
            running[s_idx[optimal]] = False
            release = s_idx[~optimal]
            fixed[release, j[~optimal]] = False
            x[s_idx] = np.where(fi[st], 0.0, np.maximum(xs[st], 0.0))

        # Moving samples: step towards the subproblem optimum until a bound blocks.
        if moving.any():
            m_idx = idx[moving]
            pm, xm, fm = p[moving], xi[moving], fi[moving]
            blocking = (pm < 0) & ~fm
            ratio = np.where(blocking, xm / np.where(blocking, -pm, 1.0), np.inf)
            j = np.argmin(ratio, axis=1)
            alpha = np.minimum(1.0, ratio[np.arange(j.size), j])
            xm = xm + alpha[:, None] * pm
            blocked = alpha < 1.0
            rows = np.flatnonzero(blocked)
            xm[rows, j[blocked]] = 0.0
            fm = fm.copy()
            fm[rows, j[blocked]] = True
            xm = np.where(fm, 0.0, np.maximum(xm, 0.0))
            x[m_idx] = xm
            fixed[m_idx] = fm
    converged = ~running
    converged[~finite] = True
    return QPResult(x, converged, n_iter)
