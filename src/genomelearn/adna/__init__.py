"""Ancient DNA authentication: read extraction, damage profiles, PMD scores, read classifiers and
decontamination.

Modules:
    samplesheet    the sample sheet (sample, individual, bam, reference, label, library, udg).
    bamcheck       opening a BAM with clear errors (FASTQ/SAM given as BAM, empty, unsorted, index).
    reads          streaming extraction of filtered reads (pysam) into a per-read parquet table and
                   mapDamage-compatible misincorporation counts, in one pass.
    damage         damage-profile tables (C→T / G→A by position), mapDamage table reader, plots.
    pmd            the PMD score of Skoglund et al. 2014 (PNAS 111:2229), vectorised.
    features       model inputs from the read table (padded base codes, damage channels, lengths).
    splits         individual-level train/validation/test split and length-matched evaluation sets.
    decontaminate  score threshold at a target false-positive rate, contamination estimate, BAM writer.
"""
