"""One streaming pass over a sample's BAM: per-read table (parquet), damage profile and
fragment-length tables, extraction summary."""

import json
import os

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna.damage import damage_summary, damage_table, length_table
    from genomelearn.adna.mapdamage_format import write_mapdamage_tables
    from genomelearn.adna.reads import ExtractionSettings, extract_to_parquet

    log = get_logger()
    sample = smk.wildcards.sample
    settings = ExtractionSettings(**smk.params.settings)
    reference = smk.input.reference if smk.input.reference else None
    index = smk.input.index if smk.input.index else None
    result = extract_to_parquet(
        smk.input.bam,
        sample,
        smk.output.reads,
        reference=reference,
        index=index,
        settings=settings,
        require_index=smk.params.require_index,
    )
    try:
        damage = damage_table(result.damage_counts)
        damage.to_csv(smk.output.damage, sep="\t", index=False, float_format="%.6g")
        length_table(result.length_counts).to_csv(
            smk.output.lengths, sep="\t", index=False, float_format="%.6g"
        )
        summary = {
            "sample": sample,
            "bam": str(smk.input.bam),
            "reference": str(reference) if reference else None,
            "records": result.n_records,
            "kept": result.n_kept,
            "filters": settings.filters,
            "filtered": result.filtered,
            **damage_summary(damage),
        }
        # mapDamage 2.2.1's tables (its header names the -i/-r arguments: here the sheet's paths)
        write_mapdamage_tables(
            os.path.dirname(smk.output.misincorporation),
            result,
            str(smk.input.bam),
            str(reference) if reference else "no reference FASTA (MD tags)",
            length=settings.mapdamage_length,
            readplot=min(settings.damage_positions, settings.mapdamage_length),
        )
        with open(smk.output.summary, "w") as fh:
            json.dump(summary, fh, indent=1)
    except Exception:
        os.remove(smk.output.reads)
        raise
    log.info(
        "%s: %d records, %d kept, filtered %s",
        sample,
        result.n_records,
        result.n_kept,
        result.filtered,
    )


run_script(main, snakemake)  # noqa: F821
