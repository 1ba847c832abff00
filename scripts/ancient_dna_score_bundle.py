"""Score every read of the sheet's samples with a given model bundle (models.bundle); trains
nothing. The bundle's JSON metadata (format, feature version, checksum) is checked before its
weights are loaded."""

import pyarrow as pa
import pyarrow.parquet as pq

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna import pipeline as P
    from genomelearn.adna.samplesheet import load_sample_sheet

    sheet = load_sample_sheet(smk.input.sheet)
    model, info = P.load_bundle(smk.params.bundle_dir)
    paths = dict(zip(sheet["sample"], smk.input.reads))
    table = P.load_read_tables(paths, columns=P.META_COLUMNS + ["sequence", "reference"])
    scores = P.score_reads(
        model, info["meta"], table, batch_size=smk.params.batch_size, device="cpu"
    )
    pq.write_table(
        pa.table(
            {
                "sample": table.column("sample"),
                "record": table.column("record"),
                info["kind"]: pa.array(scores),
            }
        ),
        smk.output.scores,
    )
    get_logger().info(
        "scored %d reads of %d samples with bundle %s (%s, trained on %s)",
        len(scores),
        len(paths),
        smk.params.bundle_dir,
        info["kind"],
        info["training_fingerprint"][:12],
    )


run_script(main, snakemake)  # noqa: F821
