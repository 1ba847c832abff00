"""Bulk deconvolution: cell-type proportions from bulk RNA-seq and a single-cell signature.

Reproduces PredictFiberType (Oskolkov et al. 2022, Skeletal Muscle 12:16), i.e. DeconRNASeq
(Gong & Szustakowski 2013) with ``use.scale = TRUE``, and adds NNLS, signatures built from an
AnnData reference, bootstrap intervals, agreement tests as R reports them, and depth robustness by
binomial thinning. Modules:

* :mod:`.tables` -- reading/validating bulk counts, signatures, measured fractions, markers.
* :mod:`.solvers` -- batched active-set QP (simplex-constrained least squares and NNLS).
* :mod:`.core` -- normalisation, gene alignment, deconvolution, bootstrap, thinning.
* :mod:`.signatures` -- markers (scanpy Wilcoxon) and signatures from a reference AnnData.
* :mod:`.agreement` -- Spearman (R's AS 89 p-value) and Pearson agreement tables.
* :mod:`.robustness` -- depth curves by binomial thinning.
* :mod:`.plots` -- scatter and depth-curve figures.
"""

from .agreement import agreement_table, pearson_test, spearman_test
from .core import (
    METHODS,
    NORMALIZATIONS,
    DeconvolutionResult,
    bootstrap_proportions,
    deconvolve,
    deconvolve_arrays,
    normalize_bulk,
    proportions_with_intervals,
    thin_counts,
)
from .robustness import depth_robustness, summarize_depth_curve
from .signatures import build_signature, find_markers
from .solvers import solve_batched_qp
from .tables import read_bulk_counts, read_markers, read_matrix, read_measured, read_signature

__all__ = [
    "METHODS",
    "NORMALIZATIONS",
    "DeconvolutionResult",
    "agreement_table",
    "bootstrap_proportions",
    "build_signature",
    "deconvolve",
    "deconvolve_arrays",
    "depth_robustness",
    "find_markers",
    "normalize_bulk",
    "pearson_test",
    "proportions_with_intervals",
    "read_bulk_counts",
    "read_markers",
    "read_matrix",
    "read_measured",
    "read_signature",
    "solve_batched_qp",
    "spearman_test",
    "summarize_depth_curve",
    "thin_counts",
]
