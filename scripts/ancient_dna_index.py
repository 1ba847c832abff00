"""Index a coordinate-sorted BAM that has no index, writing the index under results/ (the input may
be read-only). An unsorted BAM gives a clear error and no index."""

from pathlib import Path

from genomelearn.errors import InputError
from genomelearn.workflow import get_logger, run_script


def main(smk):
    import pysam

    from genomelearn.adna.bamcheck import open_bam

    sample = smk.wildcards.sample
    bam_path = smk.input.bam
    out = Path(smk.output.bai)
    bam, _ = open_bam(bam_path, sample)  # FASTQ/SAM/empty/SO checks
    bam.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        pysam.index(str(bam_path), str(tmp))
    except pysam.SamtoolsError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(
            f"sample {sample!r}, file {bam_path}: cannot index the BAM ({str(exc).strip()}); "
            f"is it coordinate-sorted? sort it with `samtools sort`"
        ) from exc
    tmp.replace(out)
    get_logger().info("indexed %s -> %s", bam_path, out)


run_script(main, snakemake)  # noqa: F821
