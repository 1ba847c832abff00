"""Labelled introgressed/desert regions (rule introgression_regions)."""

import pandas as pd

from genomelearn.introgression.regions import build_labelled_regions, read_deserts
from genomelearn.io.bed import check_contigs_after_mask, normalise_contig, read_bed
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    contigs = [normalise_contig(c, "ucsc") for c in smk.params.contigs]
    introgressed = read_bed(smk.input.introgressed)
    deserts = read_deserts(smk.input.deserts)
    mask = read_bed(smk.input.mask) if smk.input.mask else None
    check_contigs_after_mask(contigs, {smk.input.introgressed: introgressed, smk.input.deserts: deserts}, smk.input.mask, mask)
    regions, summary = build_labelled_regions(introgressed, deserts, contigs, mask)
    log.info("regions: %s", summary)
    regions.to_csv(smk.output.regions, sep="\t", header=False, index=False)
    pd.DataFrame(
        {
            "quantity": list(summary),
            "value": list(summary.values()),
        }
    ).to_csv(smk.output.summary, sep="\t", index=False)


run_script(main, snakemake)  # noqa: F821
