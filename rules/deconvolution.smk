# Bulk deconvolution (PredictFiberType / DeconRNASeq, NNLS): bulk counts + signature (given, or
# built from a reference AnnData) -> proportions with bootstrap intervals -> agreement with measured
# fractions -> depth robustness by binomial thinning. Results under results/deconvolution/<dataset>/.
from genomelearn.deconvolution import workflow_support as decon_support

DECON = config.get("deconvolution", {})
decon_out = decon_support.output

decon_settings = lambda wc: decon_support.dataset_settings(DECON, wc.dataset)
decon_file = lambda key: lambda wc: decon_support.resolve_file(
    DECON, wc.dataset, key, input_path
)
decon_signature_inputs = lambda wc: decon_support.signature_inputs(
    DECON, wc.dataset, input_path
)
decon_pseudobulk_source = lambda wc: decon_support.pseudobulk_source(
    DECON, wc.dataset, input_path
)


rule deconvolution_pseudobulk:
    input:
        source=decon_pseudobulk_source,
    output:
        reference=decon_out("pseudobulk_reference"),
        bulk=decon_out("pseudobulk_bulk"),
        truth=decon_out("pseudobulk_truth"),
        split=decon_out("pseudobulk_split"),
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
            decon_out("signature"),
            caption="../report/deconvolution/signature.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        markers=decon_out("markers"),
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
        signature=decon_out("signature"),
    output:
        proportions=report(
            decon_out("proportions"),
            caption="../report/deconvolution/proportions.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        genes=decon_out("genes"),
    log:
        "logs/deconvolution/{dataset}/deconvolve.log",
    benchmark:
        "benchmarks/deconvolution/{dataset}/deconvolve.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
        signature_name=lambda wc: decon_support.signature_source(DECON, wc.dataset),
    script:
        "../scripts/deconvolution_deconvolve.py"


rule deconvolution_agreement:
    input:
        proportions=decon_out("proportions"),
        bulk=decon_file("bulk"),
        signature=decon_out("signature"),
        measured=decon_file("measured"),
        published=decon_file("published"),
    output:
        agreement=report(
            decon_out("agreement"),
            caption="../report/deconvolution/agreement.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        merged=decon_out("comparison"),
        variants=report(
            decon_out("method_comparison"),
            caption="../report/deconvolution/method_comparison.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        published=report(
            decon_out("published_comparison"),
            caption="../report/deconvolution/published.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        scatter=report(
            decon_out("scatter"),
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
        signature=decon_out("signature"),
        measured=decon_file("measured"),
    output:
        curve=decon_out("depth_curve"),
        summary=report(
            decon_out("depth_summary"),
            caption="../report/deconvolution/depth_summary.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        plot=report(
            decon_out("depth_plot"),
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
        signature_name=lambda wc: decon_support.signature_source(DECON, wc.dataset),
    script:
        "../scripts/deconvolution_depth.py"
