# Ancient DNA authentication: sample sheet of BAMs -> per-read tables + damage profiles (one pass)
# -> individual-level splits -> PMD-score and length-only baselines, read CNNs -> metrics (all and
# length-matched) -> threshold at a target FPR -> decontaminated BAMs, contamination estimates,
# comparison with PMDtools. Results under results/ancient_dna/.
from genomelearn.adna import workflow_support as adna_support
from genomelearn.adna.samplesheet import load_sample_sheet as adna_load_sheet

ADNA = config.get("ancient_dna", {})
ADNA_DIR = adna_support.RESULTS
ADNA_MODELS = adna_support.MODELS
ADNA_SAMPLE_RE = "[A-Za-z0-9][A-Za-z0-9._-]*"
ADNA_DECON_MODEL = ADNA.get("decontamination", {}).get("model", "ends_cnn")
ADNA_SHEET_PATH = adna_support.sheet_path(ADNA, workflow.basedir)
ADNA_SHEET = None
ADNA_SAMPLES = []
if analysis_enabled("ancient_dna"):
    try:
        ADNA_SHEET = adna_load_sheet(ADNA_SHEET_PATH)
    except InputError as exc:
        raise WorkflowError(str(exc))
    validate(
        ADNA_SHEET,
        workflow.source_path("../config/schemas/ancient_samples.schema.yaml"),
    )
    ADNA_SAMPLES = list(ADNA_SHEET["sample"])

adna_bam = lambda wc: adna_support.bam(ADNA_SHEET, wc.sample, input_path)
adna_reference = lambda wc: adna_support.reference(ADNA_SHEET, wc.sample, input_path)
adna_index = lambda wc: adna_support.index(
    ADNA_SHEET, wc.sample, input_path, ADNA.get("missing_index", "build")
)
adna_training = lambda wc: training_settings(
    {
        **ADNA.get("models", {}).get("training", {}),
        **ADNA.get("models", {}).get("overrides", {}).get(wc.model, {}),
    }
)
adna_pmdtools_inputs = lambda wc: adna_support.pmdtools_inputs(
    ADNA, ADNA_SAMPLES, input_path
)


rule ancient_dna_index:
    input:
        bam=adna_bam,
    output:
        bai=f"{ADNA_DIR}/index/{{sample}}.bam.bai",
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
        reads=f"{ADNA_DIR}/reads/{{sample}}.parquet",
        damage=report(
            f"{ADNA_DIR}/damage/{{sample}}.tsv",
            caption="../report/ancient_dna/damage_table.rst",
            category="Ancient DNA",
            subcategory="Damage tables",
        ),
        lengths=f"{ADNA_DIR}/lengths/{{sample}}.tsv",
        summary=f"{ADNA_DIR}/extraction/{{sample}}.json",
        # mapDamage 2.2.1's tables (MultiQC's mapDamage module reads them; sample = folder name)
        misincorporation=f"{ADNA_DIR}/mapdamage/{{sample}}/misincorporation.txt",
        ct_5p=f"{ADNA_DIR}/mapdamage/{{sample}}/5pCtoT_freq.txt",
        ga_3p=f"{ADNA_DIR}/mapdamage/{{sample}}/3pGtoA_freq.txt",
        lgdistribution=f"{ADNA_DIR}/mapdamage/{{sample}}/lgdistribution.txt",
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
        damage=expand(f"{ADNA_DIR}/damage/{{sample}}.tsv", sample=ADNA_SAMPLES),
        lengths=expand(f"{ADNA_DIR}/lengths/{{sample}}.tsv", sample=ADNA_SAMPLES),
        summaries=expand(f"{ADNA_DIR}/extraction/{{sample}}.json", sample=ADNA_SAMPLES),
        sheet=ADNA_SHEET_PATH,
    output:
        summary=report(
            f"{ADNA_DIR}/damage_summary.tsv",
            caption="../report/ancient_dna/damage_summary.rst",
            category="Ancient DNA",
            subcategory="Overview",
        ),
        damage=report(
            f"{ADNA_DIR}/plots/damage_overview.png",
            caption="../report/ancient_dna/damage_overview.rst",
            category="Ancient DNA",
            subcategory="Overview",
        ),
        lengths=report(
            f"{ADNA_DIR}/plots/lengths.png",
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
            for path in expand(
                f"{ADNA_DIR}/damage/{{sample}}.png", sample=ADNA_SAMPLES
            )
        ],
    log:
        "logs/ancient_dna/overview.log",
    benchmark:
        "benchmarks/ancient_dna/overview.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        overview=ADNA.get("overview", {}),
    script:
        "../scripts/ancient_dna_overview.py"


rule ancient_dna_multiqc_content:
    input:
        damage=expand(f"{ADNA_DIR}/damage/{{sample}}.tsv", sample=ADNA_SAMPLES),
        summary=f"{ADNA_DIR}/damage_summary.tsv",
    output:
        table=f"{ADNA_DIR}/multiqc/ancient_dna_damage_mqc.tsv",
        ct_5p=f"{ADNA_DIR}/multiqc/ancient_dna_ct5p_mqc.yaml",
    log:
        "logs/ancient_dna/multiqc_content.log",
    benchmark:
        "benchmarks/ancient_dna/multiqc_content.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        overview=ADNA.get("overview", {}),
        samples=ADNA_SAMPLES,
    script:
        "../scripts/ancient_dna_multiqc.py"


if analysis_enabled("ancient_dna"):
    ALL_TARGETS.extend(
        [
            f"{ADNA_DIR}/multiqc/ancient_dna_damage_mqc.tsv",
            f"{ADNA_DIR}/multiqc/ancient_dna_ct5p_mqc.yaml",
        ]
        + expand(
            f"{ADNA_DIR}/mapdamage/{{sample}}/{{table}}",
            sample=ADNA_SAMPLES,
            table=[
                "misincorporation.txt",
                "5pCtoT_freq.txt",
                "3pGtoA_freq.txt",
                "lgdistribution.txt",
            ],
        )
    )


rule ancient_dna_splits:
    input:
        summaries=expand(f"{ADNA_DIR}/extraction/{{sample}}.json", sample=ADNA_SAMPLES),
        sheet=ADNA_SHEET_PATH,
        # too few individuals for the split: an error when the DAG is built, before any job
        sizes_ok=lambda wc: check_adna_split(ADNA_SHEET, ADNA, ADNA_SHEET_PATH),
    output:
        splits=report(
            f"{ADNA_DIR}/splits.tsv",
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
        reads=adna_support.reads(ADNA_SAMPLES),
        splits=f"{ADNA_DIR}/splits.tsv",
        sheet=ADNA_SHEET_PATH,
    output:
        scores=f"{ADNA_DIR}/scores/baselines.parquet",
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
        reads=adna_support.reads(ADNA_SAMPLES),
        splits=f"{ADNA_DIR}/splits.tsv",
        sheet=ADNA_SHEET_PATH,
    output:
        model=f"{ADNA_DIR}/models/{{model}}.pt",
        history=f"{ADNA_DIR}/models/{{model}}_history.tsv",
        scores=f"{ADNA_DIR}/scores/{{model}}.parquet",
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
        checkpoint_dir=f"{ADNA_DIR}/models/{{model}}_checkpoint",
    script:
        "../scripts/ancient_dna_train.py"


rule ancient_dna_evaluate:
    input:
        reads=adna_support.reads(ADNA_SAMPLES),
        splits=f"{ADNA_DIR}/splits.tsv",
        sheet=ADNA_SHEET_PATH,
        baselines=f"{ADNA_DIR}/scores/baselines.parquet",
        cnn=expand(f"{ADNA_DIR}/scores/{{model}}.parquet", model=ADNA_MODELS),
    output:
        metrics=report(
            f"{ADNA_DIR}/metrics.tsv",
            caption="../report/ancient_dna/metrics.rst",
            category="Ancient DNA",
            subcategory="Classifier",
        ),
        roc_all=report(
            f"{ADNA_DIR}/plots/roc_all.png",
            caption="../report/ancient_dna/roc.rst",
            category="Ancient DNA",
            subcategory="Classifier",
        ),
        roc_matched=report(
            f"{ADNA_DIR}/plots/roc_length_matched.png",
            caption="../report/ancient_dna/roc.rst",
            category="Ancient DNA",
            subcategory="Classifier",
        ),
        threshold=f"{ADNA_DIR}/threshold.tsv",
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
        reads=f"{ADNA_DIR}/reads/{{sample}}.parquet",
        scores=f"{ADNA_DIR}/scores/{ADNA_DECON_MODEL}.parquet",
        threshold=f"{ADNA_DIR}/threshold.tsv",
    output:
        bam=f"{ADNA_DIR}/{{sample}}.authentic.bam",
        bai=f"{ADNA_DIR}/{{sample}}.authentic.bam.bai",
        summary=f"{ADNA_DIR}/decontamination/{{sample}}.tsv",
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
            f"{ADNA_DIR}/decontamination/{{sample}}.tsv", sample=ADNA_SAMPLES
        ),
        threshold=f"{ADNA_DIR}/threshold.tsv",
        sheet=ADNA_SHEET_PATH,
        splits=f"{ADNA_DIR}/splits.tsv",
    output:
        table=report(
            f"{ADNA_DIR}/contamination.tsv",
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
        threshold=f"{ADNA_DIR}/threshold.tsv",
    output:
        table=report(
            f"{ADNA_DIR}/pmdtools_comparison.tsv",
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
