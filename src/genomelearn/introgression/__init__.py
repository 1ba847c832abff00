"""Neanderthal introgression: labelled windows, genomic-block splits, leakage audit, gene scores."""
