"""Snakemake script of rule download: fetch one public input, check its sha256, log each step."""

from genomelearn.errors import InputError
from genomelearn.io.inputs import download

with open(snakemake.log[0], "w") as log:  # noqa: F821

    def note(line: str) -> None:
        print(line, file=log, flush=True)

    try:
        download(
            snakemake.params.url,  # noqa: F821
            snakemake.output[0],  # noqa: F821
            sha256=snakemake.params.sha256 or None,  # noqa: F821
            log=note,
        )
    except InputError as exc:
        note(f"ERROR: {exc}")
        raise SystemExit(f"ERROR: {exc}") from None
