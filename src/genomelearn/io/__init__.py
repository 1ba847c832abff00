"""Readers and writers for the standard files of the field (FASTA, BED, tables) and input resolution."""
