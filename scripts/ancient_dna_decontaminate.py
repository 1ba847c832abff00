"""Authentic reads of one sample: reads whose classifier score is above the threshold, with the
score in a float tag; plus the share kept and the contamination estimate."""

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from genomelearn.workflow import get_logger, run_script


def main(smk):
    from genomelearn.adna.decontaminate import contamination_estimate, write_authentic_bam

    sample = smk.wildcards.sample
    thr = pd.read_csv(smk.input.threshold, sep="\t").iloc[0]
    model = thr["model"]
    scores = pq.read_table(smk.input.scores, filters=[("sample", "=", sample)])
    records = scores.column("record").to_numpy()
    values = scores.column(model).to_numpy()
    n_table = pq.read_metadata(smk.input.reads).num_rows
    if len(records) != n_table:
        raise ValueError(
            f"{smk.input.scores}: {len(records)} scores for sample {sample} but {n_table} reads"
        )
    dec = smk.params.decontamination
    counts = write_authentic_bam(
        smk.input.bam,
        smk.output.bam,
        records,
        values,
        float(thr["threshold"]),
        sample,
        tag=dec.get("tag", "ZS"),
    )
    est = contamination_estimate(
        counts["kept"],
        counts["scored"],
        float(thr["validation_tpr"]),
        float(thr["validation_fpr"]),
    )
    row = {
        "sample": sample,
        "model": model,
        "threshold": float(thr["threshold"]),
        **counts,
        **est,
        "mean_score": float(pc.mean(scores.column(model)).as_py())
        if len(values)
        else float("nan"),
    }
    pd.DataFrame([row]).to_csv(smk.output.summary, sep="\t", index=False, float_format="%.6g")
    get_logger().info("%s", row)


run_script(main, snakemake)  # noqa: F821
