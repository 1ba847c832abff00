"""genomelearn: deep learning for genomics, as a reproducible Snakemake workflow.

The package is the engine: plain functions and classes on standard types (numpy arrays, pandas
DataFrames, AnnData, pysam objects, torch modules). The Snakemake workflow in the repository root
wires files to these functions through thin scripts in ``scripts/``.
"""

__version__ = "0.2.0"
