# Ancient DNA authentication: sample sheet of BAMs -> per-read tables + damage profiles (one pass)
# -> individual-level K-fold CV folds -> PMD-score and length-only baselines, read CNNs per CV
# round -> out-of-fold metrics with individual-bootstrap CIs (all, length-matched, 2-D matched) ->
# model bundles (round split.bundle_fold) with the threshold at a target FPR -> decontaminated
# BAMs, contamination estimates, comparison with PMDtools. With models.bundle: PATH, a given bundle
# scores and decontaminates the samples and nothing trains. Results under results/ancient_dna/.
from genomelearn.adna import workflow_support as adna_support
from genomelearn.adna.samplesheet import load_sample_sheet as adna_load_sheet

# schema defaults filled in (also when the block is absent: the rules below index it directly)
ADNA = config.get("ancient_dna", {"enabled": False})
validate(ADNA, workflow.source_path("../config/schemas/ancient_dna.schema.yaml"))
ADNA_DECON_MODEL = ADNA["decontamination"]["model"]
ADNA_DIR = adna_support.RESULTS
ADNA_MODELS = adna_support.MODELS
ADNA_SAMPLE_RE = "[A-Za-z0-9][A-Za-z0-9._-]*"
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
    try:
        ADNA_DECON_MODEL = adna_support.decontamination_model(ADNA)
    except InputError as exc:
        raise WorkflowError(str(exc))


# the sample sheet once its CV folds are checked: evaluated while the DAG is built, so folds with
# too few individuals of a label stop the run before any job (extraction included) starts, and
# only when the classifier is among the requested targets
adna_checked_sheet = lambda wc: adna_support.checked_sheet(
    ADNA_SHEET, ADNA, ADNA_SHEET_PATH
)


adna_bam = lambda wc: adna_support.bam(ADNA_SHEET, wc.sample, input_path)
adna_reference = lambda wc: adna_support.reference(ADNA_SHEET, wc.sample, input_path)
adna_index = lambda wc: adna_support.index(
    ADNA_SHEET, wc.sample, input_path, ADNA.get("missing_index", "build")
)
adna_training = lambda wc: training_settings(
    {
        **ADNA["models"]["training"],
        **ADNA["models"]["overrides"][wc.model],
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


rule ancient_dna_splits:
    input:
        summaries=expand(f"{ADNA_DIR}/extraction/{{sample}}.json", sample=ADNA_SAMPLES),
        sheet=adna_checked_sheet,
    output:
        splits=report(
            adna_support.SPLITS,
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
        split=ADNA["split"],
    script:
        "../scripts/ancient_dna_splits.py"


rule ancient_dna_baselines:
    input:
        reads=adna_support.reads(ADNA_SAMPLES),
        splits=adna_support.SPLITS,
        sheet=ADNA_SHEET_PATH,
    output:
        scores=adna_support.BASELINES,
    log:
        "logs/ancient_dna/baselines.log",
    benchmark:
        "benchmarks/ancient_dna/baselines.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        pmd=ADNA["pmd"],
        length_model=ADNA["length_model"],
        models=ADNA["models"],
        split=ADNA["split"],
        seed=ADNA["split"]["seed"],
    script:
        "../scripts/ancient_dna_baselines.py"


# the bundle round: trains, scores every read, writes the reusable bundle and the round's
# out-of-fold scores
rule ancient_dna_train_cnn:
    input:
        reads=adna_support.reads(ADNA_SAMPLES),
        splits=adna_support.SPLITS,
        sheet=ADNA_SHEET_PATH,
    output:
        bundle_dir=directory(adna_support.MODEL_DIR),
        scores=adna_support.MODEL_SCORES,
        cv_scores=adna_support.CV_SCORES.replace(
            "{fold}", str(ADNA["split"]["bundle_fold"])
        ),
        history=adna_support.CV_HISTORY.replace(
            "{fold}", str(ADNA["split"]["bundle_fold"])
        ),
    log:
        "logs/ancient_dna/train_{model}.log",
    benchmark:
        "benchmarks/ancient_dna/train_{model}.tsv"
    wildcard_constraints:
        model="|".join(ADNA_MODELS),
    conda:
        "../envs/ancient_dna.yaml"
    # one thread each: the models train side by side on a 2-core machine (torch intra-op
    # threads contend badly when cores are shared)
    threads: 1
    resources:
        mem_mb=4000,
    params:
        fold=ADNA["split"]["bundle_fold"],
        bundle=True,
        split=ADNA["split"],
        models=ADNA["models"],
        training=adna_training,
        extraction=ADNA["extraction"],
        decontamination=ADNA["decontamination"],
        checkpoint_dir=lambda wc: adna_support.CV_CHECKPOINT.format(
            model=wc.model, fold=ADNA["split"]["bundle_fold"]
        ),
    script:
        "../scripts/ancient_dna_train.py"


# the other CV rounds: train, score the round's test individuals
rule ancient_dna_cv_cnn:
    input:
        reads=adna_support.reads(ADNA_SAMPLES),
        splits=adna_support.SPLITS,
        sheet=ADNA_SHEET_PATH,
    output:
        cv_scores=adna_support.CV_SCORES,
        history=adna_support.CV_HISTORY,
    log:
        "logs/ancient_dna/cv_{model}_fold{fold}.log",
    benchmark:
        "benchmarks/ancient_dna/cv_{model}_fold{fold}.tsv"
    wildcard_constraints:
        model="|".join(ADNA_MODELS),
        fold="|".join(
            str(f)
            for f in range(ADNA["split"]["n_folds"])
            if f != ADNA["split"]["bundle_fold"]
        ),
    conda:
        "../envs/ancient_dna.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        fold=lambda wc: int(wc.fold),
        bundle=False,
        split=ADNA["split"],
        models=ADNA["models"],
        training=adna_training,
        extraction=ADNA["extraction"],
        decontamination=ADNA["decontamination"],
        checkpoint_dir=lambda wc: adna_support.CV_CHECKPOINT.format(
            model=wc.model, fold=wc.fold
        ),
    script:
        "../scripts/ancient_dna_train.py"


rule ancient_dna_evaluate:
    input:
        reads=adna_support.reads(ADNA_SAMPLES),
        splits=adna_support.SPLITS,
        sheet=ADNA_SHEET_PATH,
        baselines=adna_support.BASELINES,
        cv=adna_support.cv_outputs(ADNA),
    output:
        metrics=report(
            adna_support.METRICS,
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
            f"{ADNA_DIR}/plots/roc_length_2d_matched.png",
            caption="../report/ancient_dna/roc.rst",
            category="Ancient DNA",
            subcategory="Classifier",
        ),
    log:
        "logs/ancient_dna/evaluate.log",
    benchmark:
        "benchmarks/ancient_dna/evaluate.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        evaluation=ADNA["evaluation"],
        pmd_threshold=ADNA["pmd"]["threshold"],
        n_folds=ADNA["split"]["n_folds"],
    script:
        "../scripts/ancient_dna_evaluate.py"


# with models.bundle: score the sheet's samples with the given bundle, train nothing
rule ancient_dna_score_bundle:
    input:
        reads=adna_support.reads(ADNA_SAMPLES),
        sheet=ADNA_SHEET_PATH,
    output:
        scores=f"{ADNA_DIR}/scores/bundle_{{model}}.parquet",
    log:
        "logs/ancient_dna/score_bundle_{model}.log",
    benchmark:
        "benchmarks/ancient_dna/score_bundle_{model}.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        bundle_dir=lambda wc: adna_support.bundle_dir(ADNA, wc.model),
        batch_size=ADNA["models"]["score_batch_size"],
    script:
        "../scripts/ancient_dna_score_bundle.py"


rule ancient_dna_threshold:
    input:
        bundle=adna_support.bundle_dir(ADNA, ADNA_DECON_MODEL) if ADNA_SAMPLES else [],
    output:
        threshold=adna_support.THRESHOLD,
    log:
        "logs/ancient_dna/threshold.log",
    conda:
        "../envs/ancient_dna.yaml"
    params:
        bundle_dir=lambda wc, input: input.bundle,
    script:
        "../scripts/ancient_dna_threshold.py"


rule ancient_dna_decontaminate:
    input:
        bam=adna_bam,
        reads=f"{ADNA_DIR}/reads/{{sample}}.parquet",
        scores=(
            (
                adna_support.MODEL_SCORES.format(model=ADNA_DECON_MODEL)
                if adna_support.given_bundle(ADNA) is None
                else f"{ADNA_DIR}/scores/bundle_{ADNA_DECON_MODEL}.parquet"
            )
            if ADNA_SAMPLES
            else []
        ),
        threshold=adna_support.THRESHOLD,
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
        decontamination=ADNA["decontamination"],
    script:
        "../scripts/ancient_dna_decontaminate.py"


rule ancient_dna_contamination:
    input:
        summaries=expand(
            f"{ADNA_DIR}/decontamination/{{sample}}.tsv", sample=ADNA_SAMPLES
        ),
        threshold=adna_support.THRESHOLD,
        sheet=ADNA_SHEET_PATH,
        splits=adna_support.SPLITS if adna_support.given_bundle(ADNA) is None else [],
    output:
        table=report(
            adna_support.CONTAMINATION,
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
        threshold=adna_support.THRESHOLD,
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
        comparisons=ADNA["pmdtools"],
        pmd=ADNA["pmd"],
        settings=ADNA["extraction"],
        samples=ADNA_SAMPLES,
    script:
        "../scripts/ancient_dna_pmdtools.py"


# controlled damage benchmark (gargammel-style): only damage differs between the classes
rule ancient_dna_simulate:
    input:
        sheet=ADNA_SHEET_PATH,
        splits=adna_support.SPLITS,
        reads=adna_support.reads(ADNA_SAMPLES),
        lengths=expand(f"{ADNA_DIR}/lengths/{{sample}}.tsv", sample=ADNA_SAMPLES),
        damage=expand(f"{ADNA_DIR}/damage/{{sample}}.tsv", sample=ADNA_SAMPLES),
        gargammel=(
            [input_path(p) for p in ADNA["simulation"]["gargammel"].values()]
            if adna_support.simulation_enabled(ADNA)
            and analysis_enabled("ancient_dna")
            else []
        ),
    output:
        undamaged=f"{adna_support.SIMULATED}/bams/undamaged.bam",
        # declared after the BAM: Snakemake touches outputs in order after the job, and an index
        # older than its BAM is refused as stale
        undamaged_index=f"{adna_support.SIMULATED}/bams/undamaged.bam.bai",
        manifest=f"{adna_support.SIMULATED}/conditions.tsv",
        profiles=report(
            f"{adna_support.SIMULATED}/damage_profiles.tsv",
            caption="../report/ancient_dna/simulated_profiles.rst",
            category="Ancient DNA",
            subcategory="Simulated damage",
        ),
    log:
        "logs/ancient_dna/simulate.log",
    benchmark:
        "benchmarks/ancient_dna/simulate.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        simulation=ADNA["simulation"],
        gargammel=lambda wc, input: dict(
            zip(ADNA["simulation"]["gargammel"], input.gargammel)
        ),
        references=lambda wc: {
            s: adna_support.reference(ADNA_SHEET, s, input_path)
            for s in ADNA_SAMPLES
            if ADNA_SHEET.loc[s, "reference"]
        },
        outdir=lambda wc, output: output.undamaged.rsplit("/", 1)[0],
    script:
        "../scripts/ancient_dna_simulate.py"


rule ancient_dna_detection_curve:
    input:
        manifest=f"{adna_support.SIMULATED}/conditions.tsv",
        bundles=expand(adna_support.MODEL_DIR, model=ADNA_MODELS),
        sheet=ADNA_SHEET_PATH,
        splits=adna_support.SPLITS,
        reads=adna_support.reads(ADNA_SAMPLES),
    output:
        curve=report(
            adna_support.DETECTION_CURVE,
            caption="../report/ancient_dna/detection_curve.rst",
            category="Ancient DNA",
            subcategory="Simulated damage",
        ),
        figure=report(
            f"{adna_support.SIMULATED}/detection_curve.png",
            caption="../report/ancient_dna/detection_curve.rst",
            category="Ancient DNA",
            subcategory="Simulated damage",
        ),
    log:
        "logs/ancient_dna/detection_curve.log",
    benchmark:
        "benchmarks/ancient_dna/detection_curve.tsv"
    conda:
        "../envs/ancient_dna.yaml"
    params:
        extraction=ADNA["extraction"],
        pmd=ADNA["pmd"],
        models=ADNA["models"],
        length_model=ADNA["length_model"],
        seed=ADNA["split"]["seed"],
        n_bootstrap=ADNA["simulation"]["n_bootstrap"],
    script:
        "../scripts/ancient_dna_detection_curve.py"
