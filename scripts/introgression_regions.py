"""Labelled regions of one label definition (rule introgression_regions).

deserts: introgressed (1) vs all_deserts.bg (0); depleted: introgressed (1) vs covered sequence
outside every map (0); support: the covered sequence (windows get their map count later).
"""

import numpy as np
import pandas as pd

from genomelearn.introgression.regions import build_labelled_regions, read_deserts
from genomelearn.io import bed
from genomelearn.io.bed import (
    check_contigs_after_mask,
    check_within_contigs,
    normalise_contig,
    read_bed,
)
from genomelearn.io.fasta import contig_lengths
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    labels = smk.wildcards.labels
    contigs = [normalise_contig(c, "ucsc") for c in smk.params.contigs]
    lengths = contig_lengths(smk.input.reference)

    def within(path, frame):  # a record past its contig end names the BED file and its line
        check_within_contigs(path, frame, lengths, smk.input.reference, contigs)
        return frame

    mask = within(smk.input.mask, read_bed(smk.input.mask)) if smk.input.mask else None
    if labels == "deserts":
        introgressed = within(smk.input.introgressed, read_bed(smk.input.introgressed))
        deserts = within(smk.input.deserts, read_deserts(smk.input.deserts))
        check_contigs_after_mask(
            contigs,
            {smk.input.introgressed: introgressed, smk.input.deserts: deserts},
            smk.input.mask,
            mask,
        )
        regions, summary = build_labelled_regions(introgressed, deserts, contigs, mask)
    else:
        from genomelearn.errors import InputError
        from genomelearn.introgression.labels import build_depleted_regions, read_maps

        if mask is None:
            raise InputError(
                f"label definition {labels!r} needs the dataset's `mask` (covered sequence BED)"
            )
        maps = read_maps(dict(zip(smk.params.methods, smk.input.maps)), contigs)
        for path, frame in zip(smk.input.maps, maps.values()):
            within(path, frame)
        if labels == "depleted":
            introgressed = within(smk.input.introgressed, read_bed(smk.input.introgressed))
            regions, summary = build_depleted_regions(
                introgressed, mask, maps, contigs, smk.params.depleted_buffer_bp
            )
        else:
            covered = bed.merge(mask[mask["chrom"].isin(contigs)])
            if covered.empty:
                raise InputError(f"{smk.input.mask}: no covered sequence on {contigs}")
            regions = (
                covered[["chrom", "start", "end"]].assign(label=np.int8(0)).reset_index(drop=True)
            )
            summary = {"covered_regions": len(regions), "covered_bp": bed.total_length(regions)}
    log.info("regions (%s): %s", labels, summary)
    regions.to_csv(smk.output.regions, sep="\t", header=False, index=False)
    pd.DataFrame({"quantity": list(summary), "value": list(summary.values())}).to_csv(
        smk.output.summary, sep="\t", index=False
    )


run_script(main, snakemake)  # noqa: F821
