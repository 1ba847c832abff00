# genomelearn: deep learning for genomics as one reproducible workflow.
#   snakemake --cores 2                      run every enabled analysis (config/config.yaml)
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


rule all:
    default_target: True
    input:
        ALL_TARGETS,
