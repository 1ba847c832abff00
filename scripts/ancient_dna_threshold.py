"""The decontamination threshold of the bundle in use (trained here or given by models.bundle),
with its validation keep rates and whether a contamination estimate applies."""

import json

import pandas as pd

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna.pipeline import load_bundle

    _, info = load_bundle(smk.params.bundle_dir)
    thr = info["threshold"]
    pd.DataFrame([{"model": info["kind"], **thr}]).to_csv(
        smk.output.threshold, sep="\t", index=False, float_format="%.6g"
    )
    get_logger().info("threshold of %s: %s", smk.params.bundle_dir, json.dumps(thr))


run_script(main, snakemake)  # noqa: F821
