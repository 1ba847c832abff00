# Workflow-level report items: per-rule run time and peak memory from every job's `benchmark:`
# file, and (config benchmarks.enabled) the tables of the benchmark scripts.
import glob

RUN_TIMES = "results/workflow/run_times.tsv"
BENCH_SCRIPTS = sorted(
    Path(script).stem.removeprefix("bench_")
    for script in glob.glob(str(Path(workflow.basedir) / "benchmarks" / "bench_*.py"))
    if "--tsv" in Path(script).read_text()
)
BENCHMARK_TABLES = (
    expand("results/benchmarks/{bench}.tsv", bench=BENCH_SCRIPTS)
    if config["benchmarks"]["enabled"]
    else []
)


localrules:
    download,
    missing_input,


rule download:
    # One job per remote input missing from disk and mirror (compute nodes often lack network:
    # a local rule). Atomic write, sha256 check, retries; a mismatch removes the file.
    output:
        f"{DOWNLOAD_DIR}/{{path}}",
    log:
        "logs/downloads/{path}.log",
    wildcard_constraints:
        path=".+",
    retries: 2
    conda:
        "../envs/deconvolution.yaml"
    params:
        url=get_download_url,
        sha256=get_download_sha256,
    script:
        "../scripts/download.py"


rule missing_input:
    # An input with neither a local copy nor a public URL (see input_path): listed by a dry run;
    # run, it fails at once with the path, the mirror and how to obtain the file, writing nothing.
    output:
        f"{MISSING_DIR}/{{path}}",
    log:
        "logs/missing/{path}.log",
    wildcard_constraints:
        path=".+",
    retries: 0
    conda:
        "../envs/deconvolution.yaml"
    params:
        message=get_missing_input_message,
    script:
        "../scripts/missing_input.py"


rule run_times:
    # After every other target: collects benchmarks/<analysis>/**/*.tsv of the enabled analyses.
    input:
        lambda wildcards: ALL_TARGETS,
    output:
        report(
            RUN_TIMES,
            caption="../report/workflow/run_times.rst",
            category="Run time and benchmarks",
            labels={"table": "run time and peak memory per job"},
        ),
    log:
        "logs/workflow/run_times.log",
    conda:
        "../envs/deconvolution.yaml"
    params:
        folders=lambda wildcards: [
            f"benchmarks/{analysis}"
            for analysis in ANALYSES
            if analysis_enabled(analysis)
        ],
    script:
        "../scripts/workflow_run_times.py"


rule benchmark_table:
    # `python benchmarks/bench_<name>.py --tsv OUT`: speed/memory ratios against named baselines.
    input:
        script=lambda wildcards: f"{workflow.basedir}/benchmarks/bench_{wildcards.bench}.py",
    output:
        report(
            "results/benchmarks/{bench}.tsv",
            caption="../report/workflow/benchmark.rst",
            category="Run time and benchmarks",
            subcategory="Benchmarks",
            labels={"benchmark": "{bench}"},
        ),
    log:
        "logs/benchmarks/{bench}.log",
    wildcard_constraints:
        bench="[A-Za-z0-9_]+",
    conda:
        "../envs/introgression.yaml"
    threads: 2
    shell:
        "python {input.script:q} --tsv {output:q} > {log:q} 2>&1"
