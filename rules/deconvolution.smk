# Bulk deconvolution (PredictFiberType / DeconRNASeq, NNLS): bulk counts + signature (given, or
# built from a reference AnnData) -> proportions with bootstrap intervals -> agreement with measured
# fractions -> depth robustness by binomial thinning. Results under results/deconvolution/<dataset>/.
DECON = config.get("deconvolution", {})
DECON_DIR = "results/deconvolution/{dataset}"
DECON_LOG = "logs/deconvolution/{dataset}"
DECON_BENCH = "benchmarks/deconvolution/{dataset}"
DECON_GLOBAL_KEYS = [
    "method",
    "normalization",
    "n_bootstrap",
    "seed",
    "depths",
    "n_repeats",
]
DECON_GLOBAL_DEFAULTS = {
    "method": "deconrnaseq",
    "normalization": "cpm",
    "n_bootstrap": 1000,
    "seed": 0,
    "depths": [1000000, 100000, 10000],
    "n_repeats": 20,
}
DECON_REFERENCE_DEFAULTS = {
    "cluster_key": None,
    "layer": None,
    "use_raw": False,
    "log1p": "auto",
    "marker_layer": None,
    "marker_use_raw": False,
    "n_markers": 20,
    "max_pval_adj": 0.05,
    "min_log2fc": 1.0,
}


def decon_dataset(wildcards):
    return DECON["datasets"][wildcards.dataset]


def decon_settings(wildcards):
    """Dataset settings with the analysis-wide defaults filled in (plain dict for the scripts)."""
    spec = decon_dataset(wildcards)
    cfg = {
        key: (
            spec.get(key)
            if spec.get(key) is not None
            else DECON.get(key, DECON_GLOBAL_DEFAULTS[key])
        )
        for key in DECON_GLOBAL_KEYS
    }
    cfg["measured_columns"] = dict(spec.get("measured_columns") or {})
    if spec.get("reference"):
        ref = {**DECON_REFERENCE_DEFAULTS, **spec["reference"]}
        ref.pop("markers", None)
        cfg["reference"] = {k: v for k, v in ref.items() if k not in ("path", "url")}
    return cfg


def decon_file(key):
    """Input function: the resolved path of dataset[key] ({path, url}), or [] when absent."""

    def resolve(wildcards):
        spec = decon_dataset(wildcards).get(key)
        if not spec:
            return []
        return input_path(spec["path"], spec.get("url"))

    return resolve


def decon_signature_inputs(wildcards):
    spec = decon_dataset(wildcards)
    if spec.get("signature"):
        return {"signature": decon_file("signature")(wildcards)}
    ref = spec["reference"]
    inputs = {"reference": input_path(ref["path"], ref.get("url"))}
    if ref.get("markers"):
        inputs["markers"] = input_path(
            ref["markers"]["path"], ref["markers"].get("url")
        )
    return inputs


def decon_targets(name):
    spec = DECON["datasets"][name]
    files = ["signature.tsv", "proportions.tsv", "genes.tsv"]
    if spec.get("measured"):
        files += [
            "agreement.tsv",
            "comparison.tsv",
            "published_comparison.tsv",
            "scatter.png",
        ]
    if spec.get("depth_robustness", True):
        files += ["depth_curve.tsv", "depth_summary.tsv", "depth_curve.png"]
    return expand(DECON_DIR + "/{file}", dataset=name, file=files)


if analysis_enabled("deconvolution"):
    for _ds in DECON["datasets"]:
        ALL_TARGETS.extend(decon_targets(_ds))


rule deconvolution_signature:
    input:
        unpack(decon_signature_inputs),
    output:
        signature=report(
            DECON_DIR + "/signature.tsv",
            caption="../report/deconvolution/signature.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        markers=DECON_DIR + "/markers.tsv",
    log:
        DECON_LOG + "/signature.log",
    benchmark:
        DECON_BENCH + "/signature.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_signature.py"


rule deconvolution_deconvolve:
    input:
        bulk=decon_file("bulk"),
        signature=DECON_DIR + "/signature.tsv",
    output:
        proportions=report(
            DECON_DIR + "/proportions.tsv",
            caption="../report/deconvolution/proportions.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        genes=DECON_DIR + "/genes.tsv",
    log:
        DECON_LOG + "/deconvolve.log",
    benchmark:
        DECON_BENCH + "/deconvolve.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_deconvolve.py"


rule deconvolution_agreement:
    input:
        proportions=DECON_DIR + "/proportions.tsv",
        bulk=decon_file("bulk"),
        signature=DECON_DIR + "/signature.tsv",
        measured=decon_file("measured"),
        published=decon_file("published"),
    output:
        agreement=report(
            DECON_DIR + "/agreement.tsv",
            caption="../report/deconvolution/agreement.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        merged=DECON_DIR + "/comparison.tsv",
        published=report(
            DECON_DIR + "/published_comparison.tsv",
            caption="../report/deconvolution/published.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        scatter=report(
            DECON_DIR + "/scatter.png",
            caption="../report/deconvolution/scatter.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
    log:
        DECON_LOG + "/agreement.log",
    benchmark:
        DECON_BENCH + "/agreement.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_agreement.py"


rule deconvolution_depth:
    input:
        bulk=decon_file("bulk"),
        signature=DECON_DIR + "/signature.tsv",
        measured=decon_file("measured"),
    output:
        curve=DECON_DIR + "/depth_curve.tsv",
        summary=report(
            DECON_DIR + "/depth_summary.tsv",
            caption="../report/deconvolution/depth_summary.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
        plot=report(
            DECON_DIR + "/depth_curve.png",
            caption="../report/deconvolution/depth_curve.rst",
            category="Bulk deconvolution",
            subcategory="{dataset}",
        ),
    log:
        DECON_LOG + "/depth.log",
    benchmark:
        DECON_BENCH + "/depth.tsv"
    conda:
        "../envs/deconvolution.yaml"
    params:
        cfg=decon_settings,
    script:
        "../scripts/deconvolution_depth.py"
