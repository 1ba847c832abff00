"""MultiQC custom content: the per-sample damage summary table and the 5' C>T curves.

MultiQC (``multiqc results/ancient_dna``) shows these two files as sections of its report, next to
its own mapDamage module, which reads results/ancient_dna/mapdamage/<sample>/*_freq.txt.
"""

import pandas as pd

from genomelearn.workflow import run_script


def main(smk):
    from genomelearn.adna.multiqc import write_damage_curves, write_summary_table

    summary = pd.read_csv(smk.input.summary, sep="\t")
    tables = {
        sample: pd.read_csv(path, sep="\t")
        for sample, path in zip(smk.params.samples, smk.input.damage)
    }
    write_summary_table(smk.output.table, summary, min_reads=int(smk.params.overview["min_reads"]))
    write_damage_curves(smk.output.ct_5p, tables)


run_script(main, snakemake)  # noqa: F821
