"""Compare our PMD ≥ threshold filter (on PMDtools' own input BAM) and our decontaminated BAM with
the reads a real PMDtools run kept."""

import numpy as np
import pandas as pd

from genomelearn.workflow import get_logger, run_script


def _names(bam_path):
    import pysam

    with pysam.AlignmentFile(str(bam_path), "rb", check_sq=False) as bam:
        return [r.query_name for r in bam.fetch(until_eof=True)]


def main(smk):
    from genomelearn.adna.pmd import PMDParameters, pmd_scores_table
    from genomelearn.adna.reads import ExtractionSettings, extract_table

    log = get_logger()
    pmd_settings = dict(smk.params.pmd)
    threshold = float(pmd_settings.pop("threshold", 3.0))
    params = PMDParameters(**pmd_settings)
    settings = ExtractionSettings(**smk.params.settings)
    rows = []
    for name in smk.params.comparisons:
        reference = smk.input.get(f"{name}_reference")
        table, result = extract_table(
            smk.input[f"{name}_input"], name, reference, settings=settings
        )
        names = np.asarray(table.column("name").to_pylist(), dtype=object)
        pmd = pmd_scores_table(table, params)
        ours = pmd >= threshold
        theirs_list = _names(smk.input[f"{name}_filtered"])
        theirs = np.isin(names, theirs_list)
        both = ours & theirs
        agree = ours == theirs
        p_o, p_t = ours.mean(), theirs.mean()
        p_e = p_o * p_t + (1 - p_o) * (1 - p_t)
        kappa = (agree.mean() - p_e) / (1 - p_e) if p_e < 1 else float("nan")
        row = {
            "sample": name,
            "input_records": result.n_records,
            "scored_reads": int(len(names)),
            "pmdtools_kept": int(len(theirs_list)),
            "pmdtools_kept_scored": int(theirs.sum()),
            "ours_pmd_kept": int(ours.sum()),
            "both_kept": int(both.sum()),
            "decision_agreement": float(agree.mean()),
            "cohen_kappa": float(kappa),
            "pmdtools_reads_also_ours": float(both.sum() / max(theirs.sum(), 1)),
            "ours_reads_also_pmdtools": float(both.sum() / max(ours.sum(), 1)),
            "median_pmd_of_pmdtools_kept": float(np.median(pmd[theirs]))
            if theirs.any()
            else float("nan"),
        }
        authentic = smk.input.get(f"{name}_authentic")
        if authentic:
            ours_cls = set(_names(authentic))
            theirs_set = set(theirs_list)
            row.update(
                {
                    "classifier_kept": len(ours_cls),
                    "classifier_and_pmdtools": len(ours_cls & theirs_set),
                    "classifier_jaccard_pmdtools": len(ours_cls & theirs_set)
                    / max(len(ours_cls | theirs_set), 1),
                    "classifier_and_our_pmd": len(ours_cls & set(names[ours])),
                }
            )
        rows.append(row)
        log.info("%s", row)
    pd.DataFrame(rows).to_csv(smk.output.table, sep="\t", index=False, float_format="%.4f")


run_script(main, snakemake)  # noqa: F821
