"""Snakemake script of rule missing_input: an input without a local copy or a public URL.

Fails at once with the message of ``genomelearn.io.inputs.missing_input_message`` (the configured
path, the paths tried, the data mirror, how to obtain the file); writes no output.
"""

message = snakemake.params.message  # noqa: F821
with open(snakemake.log[0], "w") as log:  # noqa: F821
    print(f"ERROR: {message}", file=log)
raise SystemExit(f"ERROR: {message}")
