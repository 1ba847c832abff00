"""Validate a dataset's inputs, match cells across omics, attach labels (rule singlecell_match_cells)."""

from genomelearn.singlecell.pipeline import match_step
from genomelearn.workflow import get_logger, run_script


def main(smk):
    resolved = dict(smk.params.resolved)
    match_step(
        smk.wildcards.dataset,
        smk.params.spec,
        lambda path: resolved.get(path, path),
        smk.output.cells,
        smk.output.dropped,
        log=get_logger().info,
    )


run_script(main, snakemake)  # noqa: F821 - injected by Snakemake
