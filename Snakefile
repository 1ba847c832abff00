# genomelearn: deep learning for genomics as one reproducible workflow.
#   snakemake --cores 2                      run every enabled analysis (config/config.yaml)
#   snakemake --cores 2 singlecell           one analysis (introgression, ancient_dna, singlecell, deconvolution)
#   snakemake --report report.html           HTML report of the finished run
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/introgression.smk"
include: "rules/ancient_dna.smk"
include: "rules/singlecell.smk"
include: "rules/deconvolution.smk"
include: "rules/workflow.smk"


# The final outputs of each analysis (for the selected datasets), defined here only.
TARGETS = {
    "introgression": [
        path
        for dataset in get_datasets("introgression")
        for path in intro_support.targets(INTRO, dataset)
    ],
    "ancient_dna": adna_support.targets(ADNA, ADNA_SAMPLES) if ADNA_SAMPLES else [],
    "singlecell": SC_TARGETS if get_datasets("singlecell") else [],
    "deconvolution": [
        path
        for dataset in get_datasets("deconvolution")
        for path in decon_support.targets(DECON, dataset)
    ],
}
ALL_TARGETS.extend(
    path
    for analysis in ANALYSES
    if analysis_enabled(analysis)
    for path in TARGETS[analysis]
)


rule all:
    # Every enabled analysis, the run-time table and (benchmarks.enabled) the benchmark tables.
    default_target: True
    input:
        ALL_TARGETS,
        RUN_TIMES if ALL_TARGETS else [],
        BENCHMARK_TABLES,


rule introgression:
    input:
        TARGETS["introgression"],


rule ancient_dna:
    input:
        TARGETS["ancient_dna"],


rule singlecell:
    input:
        TARGETS["singlecell"],


rule deconvolution:
    input:
        TARGETS["deconvolution"],
