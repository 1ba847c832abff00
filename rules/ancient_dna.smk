# Ancient DNA authentication: sample sheet of BAMs -> per-read tables + damage profiles (one pass)
# -> individual-level splits -> PMD-score and length-only baselines, read CNNs -> metrics (all and
# length-matched) -> threshold at a target FPR -> decontaminated BAMs, contamination estimates,
# comparison with PMDtools. Results under results/ancient_dna/.
from pathlib import Path as _AdnaPath

ADNA = config.get("ancient_dna", {})
ADNA_DIR = "results/ancient_dna"
ADNA_MODELS = ["read_cnn", "damage_cnn", "ends_cnn"]
ADNA_SAMPLE_RE = "[A-Za-z0-9][A-Za-z0-9._-]*"


def _adna_sheet_path():
    path = _AdnaPath(ADNA.get("sample_sheet", "config/ancient_samples.tsv"))
    if not path.exists() and not path.is_absolute():
        path = _AdnaPath(workflow.basedir) / path
    return path


def _adna_load_sheet():
    from genomelearn.adna.samplesheet import load_sample_sheet

    path = _adna_sheet_path()
    try:
        sheet = load_sample_sheet(path)
    except InputError as exc:
        raise WorkflowError(str(exc))
    validate(
        sheet, workflow.source_path("../config/schemas/ancient_samples.schema.yaml")
    )
    return sheet


ADNA_SHEET = _adna_load_sheet() if analysis_enabled("ancient_dna") else None
ADNA_SAMPLES = list(ADNA_SHEET["sample"]) if ADNA_SHEET is not None else []


def adna_bam(wildcards):
    return input_path(ADNA_SHEET.loc[wildcards.sample, "bam"])


def adna_reference(wildcards):
    ref = ADNA_SHEET.loc[wildcards.sample, "reference"]
    return input_path(ref) if ref else []


def adna_index(wildcards):
    """The BAM's own index when it has one; else one built under results/ (mirror is read-only),
    unless missing_index is "error" (then the extraction step reports the missing index).
    """
    from genomelearn.adna.bamcheck import find_index

    existing = find_index(adna_bam(wildcards))
    if existing is not None:
        return str(existing)
    if ADNA.get("missing_index", "build") == "build":
        return ADNA_DIR + f"/index/{wildcards.sample}.bam.bai"
    return []


def adna_reads(wildcards=None):
    return expand(ADNA_DIR + "/reads/{sample}.parquet", sample=ADNA_SAMPLES)


def adna_training(wildcards):
    return training_settings(ADNA.get("models", {}).get("training"))


def adna_pmdtools_inputs(wildcards):
    files = {}
    for name, spec in ADNA.get("pmdtools", {}).items():
        files[f"{name}_input"] = input_path(spec["input"])
        files[f"{name}_filtered"] = input_path(spec["filtered"])
        if spec.get("reference"):
            files[f"{name}_reference"] = input_path(spec["reference"])
        if name in ADNA_SAMPLES:
            files[f"{name}_authentic"] = ADNA_DIR + f"/{name}.authentic.bam"
    return files


def adna_targets():
    targets = [
        ADNA_DIR + "/metrics.tsv",
        ADNA_DIR + "/contamination.tsv",
        ADNA_DIR + "/damage_summary.tsv",
        ADNA_DIR + "/plots/damage_overview.png",
        ADNA_DIR + "/plots/lengths.png",
        ADNA_DIR + "/plots/roc_all.png",
    ]
    targets += expand(ADNA_DIR + "/{sample}.authentic.bam", sample=ADNA_SAMPLES)
    targets += expand(ADNA_DIR + "/damage/{sample}.png", sample=ADNA_SAMPLES)
    if ADNA.get("pmdtools"):
        targets.append(ADNA_DIR + "/pmdtools_comparison.tsv")
    return targets


if analysis_enabled("ancient_dna"):
    ALL_TARGETS.extend(adna_targets())


rule ancient_dna_index:
    input:
        bam=adna_bam,
    output:
        bai=ADNA_DIR + "/index/{sample}.bam.bai",
    log:
        "logs/ancient_dna/index/{sample}.log",
    benchmark:
        "benchmarks/ancient_dna/index/{sample}.tsv"
    wildcard_constraints:
        sample=ADNA_SAMPLE_RE,
    conda:
        "../envs/ancient_dna.yaml"
    script:
        "../scripts/ancient_dna_index.py"


rule ancient_dna_extract:
    input:
        bam=adna_bam,
        index=adna_index,
        reference=adna_reference,
    output:
        reads=ADNA_DIR + "/reads/{sample}.parquet",
        damage=report(
            ADNA_DIR + "/damage/{sample}.tsv",
            caption="../report/ancient_dna/damage_table.rst",
            category="Ancient DNA",
            subcategory="Damage tables",
        ),
        lengths=ADNA_DIR + "/lengths/{sample}.tsv",
        summary=ADNA_DIR + "/extraction/{sample}.json",
    log:
        "logs/ancient_dna/extract/{sample}.log",
    benchmark:
        "benchmarks/ancient_dna/extract/{sample}.tsv"
    wildcard_constraints:
        sample=ADNA_SAMPLE_RE,
    conda:
        "../envs/ancient_dna.yaml"
    params:
        settings=ADNA.get("extraction", {}),
        require_index=ADNA.get("missing_index", "build") == "error",
    script:
        "../scripts/ancient_dna_extract.py"


rule ancient_dna_overview:
    input:
        damage=expand(ADNA_DIR + "/damage/{sample}.tsv", sample=ADNA_SAMPLES),
        lengths=expand(ADNA_DIR + "/lengths/{sample}.tsv", sample=ADNA_SAMPLES),
        summaries=expand(ADNA_DIR + "/extraction/{sample}.json", sample=ADNA_SAMPLES),
        sheet=_adna_sheet_path(),
    output:
        summary=report(
            ADNA_DIR + "/damage_summary.tsv",
            caption="../report/ancient_dna/damage_summary.rst",
            category="Ancient DNA",
            subcategory="Overview",
        ),
        damage=report(
            ADNA_DIR + "/plots/damage_overview.png",
            caption="../report/ancient_dna/damage_overview.rst",
            category="Ancient DNA",
            subcategory="Overview",
        ),
        lengths=report(
            ADNA_DIR + "/plots/lengths.png",
            caption="../report/ancient_dna/lengths.rst",
            category="Ancient DNA",
            subcategory="Overview",
        ),
        damage_plots=[
            report(
                path,
                caption="../report/ancient_dna/damage_plot.rst",
                category="Ancient DNA",
                subcategory="Damage profiles",
            )
            for path in expand(ADNA_DIR + "/damage/{sample}.png", sample=ADNA_SAMPLES)
        ],
    log:
        "logs/ancient_dna/overview.log",
    benchmark:
        "benchmarks/ancient_dna/overview.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    script:
        "../scripts/ancient_dna_overview.py"


rule ancient_dna_splits:
    input:
        summaries=expand(ADNA_DIR + "/extraction/{sample}.json", sample=ADNA_SAMPLES),
        sheet=_adna_sheet_path(),
    output:
        splits=report(
            ADNA_DIR + "/splits.tsv",
            caption="../report/ancient_dna/splits.rst",
            category="Ancient DNA",
            subcategory="Classifier",
        ),
    log:
        "logs/ancient_dna/splits.log",
    benchmark:
        "benchmarks/ancient_dna/splits.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        split=ADNA.get("split", {}),
    script:
        "../scripts/ancient_dna_splits.py"


rule ancient_dna_baselines:
    input:
        reads=adna_reads,
        splits=ADNA_DIR + "/splits.tsv",
        sheet=_adna_sheet_path(),
    output:
        scores=ADNA_DIR + "/scores/baselines.parquet",
    log:
        "logs/ancient_dna/baselines.log",
    benchmark:
        "benchmarks/ancient_dna/baselines.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        pmd=ADNA.get("pmd", {}),
        length_model=ADNA.get("length_model", {}),
        models=ADNA.get("models", {}),
        seed=ADNA.get("split", {}).get("seed", 0),
    script:
        "../scripts/ancient_dna_baselines.py"


rule ancient_dna_train_cnn:
    input:
        reads=adna_reads,
        splits=ADNA_DIR + "/splits.tsv",
        sheet=_adna_sheet_path(),
    output:
        model=ADNA_DIR + "/models/{model}.pt",
        history=ADNA_DIR + "/models/{model}_history.tsv",
        scores=ADNA_DIR + "/scores/{model}.parquet",
    log:
        "logs/ancient_dna/train_{model}.log",
    benchmark:
        "benchmarks/ancient_dna/train_{model}.tsv"
    wildcard_constraints:
        model="|".join(ADNA_MODELS),
    conda:
        "../envs/ancient_dna.yaml"
    # one thread each: the two models train side by side on a 2-core machine (torch intra-op
    # threads contend badly when cores are shared)
    threads: 1
    resources:
        mem_mb=4000,
    params:
        models=ADNA.get("models", {}),
        training=adna_training,
        checkpoint_dir=ADNA_DIR + "/models/{model}_checkpoint",
    script:
        "../scripts/ancient_dna_train.py"


rule ancient_dna_evaluate:
    input:
        reads=adna_reads,
        splits=ADNA_DIR + "/splits.tsv",
        sheet=_adna_sheet_path(),
        baselines=ADNA_DIR + "/scores/baselines.parquet",
        cnn=expand(ADNA_DIR + "/scores/{model}.parquet", model=ADNA_MODELS),
    output:
        metrics=report(
            ADNA_DIR + "/metrics.tsv",
            caption="../report/ancient_dna/metrics.rst",
            category="Ancient DNA",
            subcategory="Classifier",
        ),
        roc_all=report(
            ADNA_DIR + "/plots/roc_all.png",
            caption="../report/ancient_dna/roc.rst",
            category="Ancient DNA",
            subcategory="Classifier",
        ),
        roc_matched=report(
            ADNA_DIR + "/plots/roc_length_matched.png",
            caption="../report/ancient_dna/roc.rst",
            category="Ancient DNA",
            subcategory="Classifier",
        ),
        threshold=ADNA_DIR + "/threshold.tsv",
    log:
        "logs/ancient_dna/evaluate.log",
    benchmark:
        "benchmarks/ancient_dna/evaluate.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        evaluation=ADNA.get("evaluation", {}),
        pmd_threshold=ADNA.get("pmd", {}).get("threshold", 3.0),
        decontamination=ADNA.get("decontamination", {}),
    script:
        "../scripts/ancient_dna_evaluate.py"


rule ancient_dna_decontaminate:
    input:
        bam=adna_bam,
        reads=ADNA_DIR + "/reads/{sample}.parquet",
        scores=ADNA_DIR
        + "/scores/"
        + ADNA.get("decontamination", {}).get("model", "ends_cnn")
        + ".parquet",
        threshold=ADNA_DIR + "/threshold.tsv",
    output:
        bam=ADNA_DIR + "/{sample}.authentic.bam",
        bai=ADNA_DIR + "/{sample}.authentic.bam.bai",
        summary=ADNA_DIR + "/decontamination/{sample}.tsv",
    log:
        "logs/ancient_dna/decontaminate/{sample}.log",
    benchmark:
        "benchmarks/ancient_dna/decontaminate/{sample}.tsv"
    wildcard_constraints:
        sample=ADNA_SAMPLE_RE,
    conda:
        "../envs/ancient_dna.yaml"
    params:
        decontamination=ADNA.get("decontamination", {}),
    script:
        "../scripts/ancient_dna_decontaminate.py"


rule ancient_dna_contamination:
    input:
        summaries=expand(
            ADNA_DIR + "/decontamination/{sample}.tsv", sample=ADNA_SAMPLES
        ),
        threshold=ADNA_DIR + "/threshold.tsv",
        sheet=_adna_sheet_path(),
        splits=ADNA_DIR + "/splits.tsv",
    output:
        table=report(
            ADNA_DIR + "/contamination.tsv",
            caption="../report/ancient_dna/contamination.rst",
            category="Ancient DNA",
            subcategory="Decontamination",
        ),
    log:
        "logs/ancient_dna/contamination.log",
    benchmark:
        "benchmarks/ancient_dna/contamination.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    script:
        "../scripts/ancient_dna_contamination.py"


rule ancient_dna_pmdtools:
    input:
        unpack(adna_pmdtools_inputs),
        threshold=ADNA_DIR + "/threshold.tsv",
    output:
        table=report(
            ADNA_DIR + "/pmdtools_comparison.tsv",
            caption="../report/ancient_dna/pmdtools.rst",
            category="Ancient DNA",
            subcategory="Decontamination",
        ),
    log:
        "logs/ancient_dna/pmdtools.log",
    benchmark:
        "benchmarks/ancient_dna/pmdtools.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        comparisons=ADNA.get("pmdtools", {}),
        pmd=ADNA.get("pmd", {}),
        settings=ADNA.get("extraction", {}),
        samples=ADNA_SAMPLES,
    script:
        "../scripts/ancient_dna_pmdtools.py"
