# Neanderthal introgression: reference FASTA + introgression maps + deserts -> labelled windows of
# three label definitions (deserts, depleted, support) -> encodings -> block K-fold cross-validation
# folds (and the leaky random split), composition-matched or not -> one job per model x fold x seed
# -> out-of-fold metrics with block-bootstrap CIs, verdict, forest plot, leakage audit, gene scores,
# interpretation. Results under results/introgression/<dataset>/ (paths: workflow_support).
from genomelearn.introgression import workflow_support as intro_support

INTRO = config.get("introgression", {})
INTRO_CLASSICAL = ["gc_logreg", "kmer_logreg", "random_forest"]
INTRO_DEEP = [m for m in INTRO.get("models", []) if not intro_support.is_classical(m)]
INTRO_SPLITS = intro_support.split_names(INTRO) if INTRO else []
INTRO_JOB_LOG = "logs/introgression/{dataset}/{labels}/{matching}/train_{model}_{split}_seed{seed}.log"

intro_dataset = lambda wc: INTRO["datasets"][wc.dataset]
intro_introgressed_bed = lambda wc: intro_support.introgressed_bed(
    INTRO, wc.dataset, input_path
)
intro_file = lambda key: lambda wc: intro_support.dataset_file(
    INTRO, wc.dataset, key, input_path
)
intro_reference = lambda wc: input_path(
    intro_dataset(wc)["reference"]["path"], intro_dataset(wc)["reference"]["url"]
)
intro_maps = lambda wc: intro_support.map_beds(INTRO, wc.labels, input_path)
intro_jobs = [
    (lab, match, model, split, seed)
    for lab, match, model in (intro_support.grid(INTRO) if INTRO else [])
    for split in intro_support.trained_splits(INTRO, lab, match, model)
    for seed in intro_support.seeds(INTRO, model, lab, match)
]
intro_settings = sorted({(j[0], j[1]) for j in intro_jobs})
intro_labels = sorted({j[0] for j in intro_jobs})
intro_primary = intro_support.primary(INTRO) if INTRO else ("deserts", "matched")


wildcard_constraints:
    labels="deserts|depleted|support",
    matching="matched|unmatched",


rule introgression_regions:
    input:
        introgressed=intro_introgressed_bed,
        deserts=intro_file("deserts"),
        mask=intro_file("mask"),
        maps=intro_maps,
        reference=intro_reference,
    output:
        regions="results/introgression/{dataset}/{labels}/regions.bed",
        summary=report(
            "results/introgression/{dataset}/{labels}/regions_summary.tsv",
            caption="../report/introgression/regions.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: data",
        ),
    log:
        "logs/introgression/{dataset}/{labels}/regions.log",
    benchmark:
        "benchmarks/introgression/{dataset}/{labels}/regions.tsv"
    conda:
        "../envs/introgression.yaml"
    params:
        contigs=lambda wc: intro_dataset(wc)["contigs"],
        methods=INTRO["maps"]["methods"],
        depleted_buffer_bp=INTRO["depleted"]["buffer_bp"],
    script:
        "../scripts/introgression_regions.py"


rule introgression_windows:
    input:
        regions="results/introgression/{dataset}/{labels}/regions.bed",
        reference=intro_reference,
        maps=lambda wc: intro_maps(wc) if wc.labels == "support" else [],
    output:
        windows="results/introgression/{dataset}/{labels}/windows.parquet",
        summary="results/introgression/{dataset}/{labels}/windows_summary.tsv",
    log:
        "logs/introgression/{dataset}/{labels}/windows.log",
    benchmark:
        "benchmarks/introgression/{dataset}/{labels}/windows.tsv"
    conda:
        "../envs/introgression.yaml"
    params:
        windows=INTRO["windows"],
        block_size=INTRO["splits"]["block_size"],
        seed=INTRO["splits"]["seed"],
        contigs=lambda wc: intro_dataset(wc)["contigs"],
        methods=INTRO["maps"]["methods"],
    script:
        "../scripts/introgression_windows.py"


rule introgression_encode:
    input:
        windows="results/introgression/{dataset}/{labels}/windows.parquet",
    output:
        one_hot="results/introgression/{dataset}/{labels}/encoded/one_hot.npy",
        tokens="results/introgression/{dataset}/{labels}/encoded/kmer_tokens.npy",
        counts="results/introgression/{dataset}/{labels}/encoded/kmer_counts.npz",
    log:
        "logs/introgression/{dataset}/{labels}/encode.log",
    benchmark:
        "benchmarks/introgression/{dataset}/{labels}/encode.tsv"
    conda:
        "../envs/introgression.yaml"
    params:
        encoding=INTRO["encoding"],
    script:
        "../scripts/introgression_encode.py"


rule introgression_split:
    input:
        windows="results/introgression/{dataset}/{labels}/windows.parquet",
    output:
        splits=expand(
            "results/introgression/{dataset}/{labels}/{matching}/splits/{split}.tsv",
            split=INTRO_SPLITS,
            allow_missing=True,
        ),
        folds=report(
            "results/introgression/{dataset}/{labels}/{matching}/folds.tsv",
            caption="../report/introgression/folds.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
    log:
        "logs/introgression/{dataset}/{labels}/{matching}/split.log",
    benchmark:
        "benchmarks/introgression/{dataset}/{labels}/{matching}/split.tsv"
    conda:
        "../envs/introgression.yaml"
    params:
        splits=INTRO["splits"],
        matching=INTRO["matching"],
        names=INTRO_SPLITS,
    script:
        "../scripts/introgression_split.py"


rule introgression_leakage:
    input:
        windows=lambda wc: expand(
            "results/introgression/{dataset}/{labels}/windows.parquet",
            dataset=wc.dataset,
            labels=intro_primary[0],
        ),
        splits=lambda wc: expand(
            "results/introgression/{dataset}/{labels}/{matching}/splits/{split}.tsv",
            dataset=wc.dataset,
            labels=intro_primary[0],
            matching=intro_primary[1],
            split=INTRO_SPLITS,
        ),
    output:
        leakage=report(
            "results/introgression/{dataset}/leakage.tsv",
            caption="../report/introgression/leakage.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
    log:
        "logs/introgression/{dataset}/leakage.log",
    benchmark:
        "benchmarks/introgression/{dataset}/leakage.tsv"
    conda:
        "../envs/introgression.yaml"
    params:
        leakage=INTRO["leakage"],
        split_names=INTRO_SPLITS,
    script:
        "../scripts/introgression_leakage.py"


rule introgression_train_classical:
    input:
        windows="results/introgression/{dataset}/{labels}/windows.parquet",
        counts="results/introgression/{dataset}/{labels}/encoded/kmer_counts.npz",
        split="results/introgression/{dataset}/{labels}/{matching}/splits/{split}.tsv",
    output:
        predictions="results/introgression/{dataset}/{labels}/{matching}/models/{model}/{split}/seed{seed}/predictions.parquet",
        model="results/introgression/{dataset}/{labels}/{matching}/models/{model}/{split}/seed{seed}/model.joblib",
    log:
        INTRO_JOB_LOG,
    benchmark:
        "benchmarks/introgression/{dataset}/{labels}/{matching}/train_{model}_{split}_seed{seed}.tsv"
    wildcard_constraints:
        model="|".join(INTRO_CLASSICAL),
        split=r"fold\d+|random",
        seed=r"\d+",
    conda:
        "../envs/introgression.yaml"
    threads: 1
    params:
        settings=lambda wc: INTRO["classical_models"][wc.model],
    script:
        "../scripts/introgression_train_classical.py"


rule introgression_train_deep:
    input:
        windows="results/introgression/{dataset}/{labels}/windows.parquet",
        one_hot="results/introgression/{dataset}/{labels}/encoded/one_hot.npy",
        tokens="results/introgression/{dataset}/{labels}/encoded/kmer_tokens.npy",
        counts="results/introgression/{dataset}/{labels}/encoded/kmer_counts.npz",
        split="results/introgression/{dataset}/{labels}/{matching}/splits/{split}.tsv",
    output:
        predictions="results/introgression/{dataset}/{labels}/{matching}/models/{model}/{split}/seed{seed}/predictions.parquet",
        model="results/introgression/{dataset}/{labels}/{matching}/models/{model}/{split}/seed{seed}/model.pt",
        history="results/introgression/{dataset}/{labels}/{matching}/models/{model}/{split}/seed{seed}/history.tsv",
    log:
        INTRO_JOB_LOG,
    benchmark:
        "benchmarks/introgression/{dataset}/{labels}/{matching}/train_{model}_{split}_seed{seed}.tsv"
    wildcard_constraints:
        model="|".join(INTRO_DEEP) if INTRO_DEEP else "no-deep-model",
        split=r"fold\d+|random",
        seed=r"\d+",
    conda:
        "../envs/introgression.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        architecture=lambda wc: {
            k: v for k, v in INTRO["deep_models"][wc.model].items() if k != "training"
        },
        training=lambda wc: training_settings(
            INTRO["deep_models"][wc.model]["training"]
        ),
        token_k=INTRO["encoding"]["token_k"],
        checkpoint_dir="results/introgression/{dataset}/{labels}/{matching}/models/{model}/{split}/seed{seed}/checkpoint",
    script:
        "../scripts/introgression_train_deep.py"


rule introgression_evaluate:
    input:
        windows=lambda wc: expand(
            "results/introgression/{dataset}/{labels}/windows.parquet",
            dataset=wc.dataset,
            labels=intro_labels,
        ),
        folds=lambda wc: [
            f"results/introgression/{wc.dataset}/{lab}/{match}/folds.tsv"
            for lab, match in intro_settings
        ],
        predictions=lambda wc: intro_support.predictions(INTRO, wc.dataset),
    output:
        metrics=report(
            "results/introgression/{dataset}/metrics.tsv",
            caption="../report/introgression/metrics.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
        verdict=report(
            "results/introgression/{dataset}/verdict.tsv",
            caption="../report/introgression/verdict.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
        oof="results/introgression/{dataset}/predictions_oof.parquet",
        figures=report(
            directory("results/introgression/{dataset}/figures/evaluation"),
            patterns=["{name}.png"],
            caption="../report/introgression/curves.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
    log:
        "logs/introgression/{dataset}/evaluate.log",
    benchmark:
        "benchmarks/introgression/{dataset}/evaluate.tsv"
    conda:
        "../envs/introgression.yaml"
    resources:
        mem_mb=3000,
    params:
        jobs=intro_jobs,
        window_labels=intro_labels,
        fold_keys=[f"{lab}/{match}" for lab, match in intro_settings],
        bootstrap=INTRO["bootstrap"],
        primary=intro_primary,
    script:
        "../scripts/introgression_evaluate.py"


rule introgression_gene_scores:
    input:
        windows=lambda wc: expand(
            "results/introgression/{dataset}/{labels}/windows.parquet",
            dataset=wc.dataset,
            labels=intro_primary[0],
        ),
        splits=lambda wc: expand(
            "results/introgression/{dataset}/{labels}/{matching}/splits/{split}.tsv",
            dataset=wc.dataset,
            labels=intro_primary[0],
            matching=intro_primary[1],
            split=[s for s in INTRO_SPLITS if s != "random"],
        ),
        reference=intro_reference,
        genes=intro_file("genes"),
        mask=intro_file("mask"),
    output:
        scores=report(
            "results/introgression/{dataset}/gene_scores.tsv",
            caption="../report/introgression/gene_scores.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: genes",
        ),
        folds="results/introgression/{dataset}/gene_scores_folds.tsv",
    log:
        "logs/introgression/{dataset}/gene_scores.log",
    benchmark:
        "benchmarks/introgression/{dataset}/gene_scores.tsv"
    conda:
        "../envs/introgression.yaml"
    threads: 2
    params:
        genes=INTRO["genes"],
        windows=INTRO["windows"],
        encoding=INTRO["encoding"],
        contigs=lambda wc: intro_dataset(wc)["contigs"],
        splits=INTRO["splits"],
        seed=lambda wc: intro_support.seeds(
            INTRO, INTRO["genes"]["model"], *intro_primary
        )[0],
        classical=INTRO["classical_models"],
        primary=intro_primary,
    script:
        "../scripts/introgression_gene_scores.py"


rule introgression_interpret:
    input:
        # the transformer of fold 0 (first seed) and the one-hot windows, when it is trained here
        unpack(
            lambda wc: intro_support.interpret_transformer(
                INTRO, wc.dataset, wc.labels, wc.matching
            )
        ),
        windows="results/introgression/{dataset}/{labels}/windows.parquet",
        tokens="results/introgression/{dataset}/{labels}/encoded/kmer_tokens.npy",
        split="results/introgression/{dataset}/{labels}/{matching}/splits/fold0.tsv",
        bilstm=lambda wc: expand(
            "results/introgression/{dataset}/{labels}/{matching}/models/{model}/{split}/seed{seed}/model.pt",
            **wc,
            model="bilstm",
            split="fold0",
            seed=intro_support.seeds(INTRO, "bilstm", wc.labels, wc.matching)[0],
        )[0],
        forest=lambda wc: expand(
            "results/introgression/{dataset}/{labels}/{matching}/models/{model}/{split}/seed{seed}/model.joblib",
            **wc,
            model="random_forest",
            split="fold0",
            seed=intro_support.seeds(INTRO, "random_forest", wc.labels, wc.matching)[
                0
            ],
        )[0],
    output:
        positions=report(
            "results/introgression/{dataset}/{labels}/{matching}/interpret/position_importance.tsv",
            caption="../report/introgression/position_importance.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
        kmers=report(
            "results/introgression/{dataset}/{labels}/{matching}/interpret/top_kmers.tsv",
            caption="../report/introgression/top_kmers.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
        figures=report(
            directory(
                "results/introgression/{dataset}/{labels}/{matching}/figures/interpret"
            ),
            patterns=["{name}.png"],
            caption="../report/introgression/interpret_figures.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
    log:
        "logs/introgression/{dataset}/{labels}/{matching}/interpret.log",
    benchmark:
        "benchmarks/introgression/{dataset}/{labels}/{matching}/interpret.tsv"
    conda:
        "../envs/introgression.yaml"
    threads: 2
    params:
        interpret=INTRO["interpret"],
        architecture=INTRO["deep_models"]["bilstm"],
        token_k=INTRO["encoding"]["token_k"],
        count_k=INTRO["encoding"]["count_k"],
        seed=INTRO["splits"]["seed"],
    script:
        "../scripts/introgression_interpret.py"
