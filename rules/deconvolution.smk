# Bulk deconvolution (PredictFiberType / DeconRNASeq, NNLS): bulk counts + signature (given, or
# built from a reference AnnData) -> proportions with bootstrap intervals -> agreement with measured
# fractions -> depth robustness by binomial thinning. Results under results/deconvolution/<dataset>/.
from genomelearn.deconvolution import workflow_support as decon_support

DECON = config.get("deconvolution", {})

decon_settings = lambda wc: decon_support.dataset_settings(DECON, wc.dataset)
decon_file = lambda key: lambda wc: decon_support.resolve_file(
    DECON, wc.dataset, key, input_path
)
decon_signature_inputs = lambda wc: decon_support.signature_inputs(
    DECON, wc.dataset, input_path
)
decon_pseudobulk_source = lambda wc: input_path(
    DECON["datasets"][wc.dataset]["pseudobulk"]["path"],
    DECON["datasets"][wc.dataset]["pseudobulk"].get("url"),
)


rule deconvolution_pseudobulk:
    input:
        source=decon_pseudobulk_source,
    output:
        reference="results/deconvolution/{dataset}/pseudobulk/reference.h5ad",
        bulk="results/deconvolution/{dataset}/pseudobulk/bulk.tsv",
        truth="results/deconvolution/{dataset}/pseudobulk/truth.tsv",
        split="results/deconvolution/{dataset}/pseudobulk/split.tsv",
    log:
        "logs/deconvolution/{dataset}/pseudobulk.log",
    benchmark:
        "benchmarks/deconvolution/{dataset}/pseudobulk.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_pseudobulk.py"


rule deconvolution_signature:
    input:
        unpack(decon_signature_inputs),
    output:
        signature=report(
            "results/deconvolution/{dataset}/signature.tsv",
            caption="../report/deconvolution/signature.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        markers="results/deconvolution/{dataset}/markers.tsv",
    log:
        "logs/deconvolution/{dataset}/signature.log",
    benchmark:
        "benchmarks/deconvolution/{dataset}/signature.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_signature.py"


rule deconvolution_deconvolve:
    input:
        bulk=decon_file("bulk"),
        signature="results/deconvolution/{dataset}/signature.tsv",
    output:
        proportions=report(
            "results/deconvolution/{dataset}/proportions.tsv",
            caption="../report/deconvolution/proportions.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        genes="results/deconvolution/{dataset}/genes.tsv",
    log:
        "logs/deconvolution/{dataset}/deconvolve.log",
    benchmark:
        "benchmarks/deconvolution/{dataset}/deconvolve.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_deconvolve.py"


rule deconvolution_agreement:
    input:
        proportions="results/deconvolution/{dataset}/proportions.tsv",
        bulk=decon_file("bulk"),
        signature="results/deconvolution/{dataset}/signature.tsv",
        measured=decon_file("measured"),
        published=decon_file("published"),
    output:
        agreement=report(
            "results/deconvolution/{dataset}/agreement.tsv",
            caption="../report/deconvolution/agreement.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        merged="results/deconvolution/{dataset}/comparison.tsv",
        variants=report(
            "results/deconvolution/{dataset}/method_comparison.tsv",
            caption="../report/deconvolution/method_comparison.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        published=report(
            "results/deconvolution/{dataset}/published_comparison.tsv",
            caption="../report/deconvolution/published.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        scatter=report(
            "results/deconvolution/{dataset}/scatter.png",
            caption="../report/deconvolution/scatter.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
    log:
        "logs/deconvolution/{dataset}/agreement.log",
    benchmark:
        "benchmarks/deconvolution/{dataset}/agreement.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_agreement.py"


rule deconvolution_depth:
    input:
        bulk=decon_file("bulk"),
        signature="results/deconvolution/{dataset}/signature.tsv",
        measured=decon_file("measured"),
    output:
        curve="results/deconvolution/{dataset}/depth_curve.tsv",
        summary=report(
            "results/deconvolution/{dataset}/depth_summary.tsv",
            caption="../report/deconvolution/depth_summary.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        plot=report(
            "results/deconvolution/{dataset}/depth_curve.png",
            caption="../report/deconvolution/depth_curve.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
    log:
        "logs/deconvolution/{dataset}/depth.log",
    benchmark:
        "benchmarks/deconvolution/{dataset}/depth.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_depth.py"
