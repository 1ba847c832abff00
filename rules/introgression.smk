# Neanderthal introgression: reference FASTA + introgression maps + deserts -> labelled windows ->
# encodings -> leakage-free splits -> classical and deep models -> metrics, leakage audit, gene
# scores, interpretation. Results under results/introgression/<dataset>/.
from genomelearn.introgression import workflow_support as intro_support

INTRO = config.get("introgression", {})
INTRO_CLASSICAL = ["gc_logreg", "kmer_logreg", "random_forest"]
INTRO_DEEP = ["kmer_mlp", "cnn", "bilstm"]

intro_dataset = lambda wc: INTRO["datasets"][wc.dataset]
intro_introgressed_bed = lambda wc: intro_support.introgressed_bed(
    INTRO, wc.dataset, input_path
)
intro_file = lambda key: lambda wc: intro_support.dataset_file(
    INTRO, wc.dataset, key, input_path
)
intro_predictions = lambda wc: intro_support.predictions(INTRO, wc.dataset)
intro_model_training = lambda wc: training_settings(
    INTRO.get("deep_models", {}).get(wc.model, {}).get("training")
)


rule introgression_regions:
    input:
        introgressed=intro_introgressed_bed,
        deserts=intro_file("deserts"),
        mask=intro_file("mask"),
    output:
        regions="results/introgression/{dataset}/regions.bed",
        summary=report(
            "results/introgression/{dataset}/regions_summary.tsv",
            caption="../report/introgression/regions.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: data",
        ),
    log:
        "logs/introgression/{dataset}/regions.log",
    benchmark:
        "benchmarks/introgression/{dataset}/regions.tsv"
    conda:
        "../envs/introgression.yaml"
    params:
        contigs=lambda wc: intro_dataset(wc)["contigs"],
    script:
        "../scripts/introgression_regions.py"


rule introgression_windows:
    input:
        regions="results/introgression/{dataset}/regions.bed",
        reference=lambda wc: input_path(
            intro_dataset(wc)["reference"]["path"],
            intro_dataset(wc)["reference"].get("url"),
        ),
    output:
        windows="results/introgression/{dataset}/windows.parquet",
        summary="results/introgression/{dataset}/windows_summary.tsv",
    log:
        "logs/introgression/{dataset}/windows.log",
    benchmark:
        "benchmarks/introgression/{dataset}/windows.tsv"
    conda:
        "../envs/introgression.yaml"
    params:
        windows=INTRO["windows"],
        block_size=INTRO["splits"]["block_size"],
        seed=INTRO["splits"]["seed"],
    script:
        "../scripts/introgression_windows.py"


rule introgression_encode:
    input:
        windows="results/introgression/{dataset}/windows.parquet",
    output:
        one_hot="results/introgression/{dataset}/encoded/one_hot.npy",
        tokens="results/introgression/{dataset}/encoded/kmer_tokens.npy",
        counts="results/introgression/{dataset}/encoded/kmer_counts.npz",
    log:
        "logs/introgression/{dataset}/encode.log",
    benchmark:
        "benchmarks/introgression/{dataset}/encode.tsv"
    conda:
        "../envs/introgression.yaml"
    params:
        encoding=INTRO["encoding"],
    script:
        "../scripts/introgression_encode.py"


rule introgression_split:
    input:
        windows="results/introgression/{dataset}/windows.parquet",
    output:
        split="results/introgression/{dataset}/splits/{split}.tsv",
    log:
        "logs/introgression/{dataset}/split_{split}.log",
    benchmark:
        "benchmarks/introgression/{dataset}/split_{split}.tsv"
    wildcard_constraints:
        split="blocks|random",
    conda:
        "../envs/introgression.yaml"
    params:
        splits=INTRO["splits"],
    script:
        "../scripts/introgression_split.py"


rule introgression_leakage:
    input:
        windows="results/introgression/{dataset}/windows.parquet",
        splits=lambda wc: expand(
            "results/introgression/{dataset}/splits/{split}.tsv",
            dataset=wc.dataset,
            split=INTRO["splits"]["methods"],
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
        split_names=INTRO["splits"]["methods"],
    script:
        "../scripts/introgression_leakage.py"


rule introgression_train_classical:
    input:
        windows="results/introgression/{dataset}/windows.parquet",
        counts="results/introgression/{dataset}/encoded/kmer_counts.npz",
        split="results/introgression/{dataset}/splits/{split}.tsv",
    output:
        predictions="results/introgression/{dataset}/models/{model}/{split}/predictions.parquet",
        model="results/introgression/{dataset}/models/{model}/{split}/model.joblib",
    log:
        "logs/introgression/{dataset}/train_{model}_{split}.log",
    benchmark:
        "benchmarks/introgression/{dataset}/train_{model}_{split}.tsv"
    wildcard_constraints:
        model="|".join(INTRO_CLASSICAL),
    conda:
        "../envs/introgression.yaml"
    threads: 2
    params:
        settings=lambda wc: INTRO.get("classical_models", {}).get(wc.model, {}),
        count_k=INTRO["encoding"]["count_k"],
        seed=INTRO["splits"]["seed"],
    script:
        "../scripts/introgression_train_classical.py"


rule introgression_train_deep:
    input:
        windows="results/introgression/{dataset}/windows.parquet",
        one_hot="results/introgression/{dataset}/encoded/one_hot.npy",
        tokens="results/introgression/{dataset}/encoded/kmer_tokens.npy",
        counts="results/introgression/{dataset}/encoded/kmer_counts.npz",
        split="results/introgression/{dataset}/splits/{split}.tsv",
    output:
        predictions="results/introgression/{dataset}/models/{model}/{split}/predictions.parquet",
        model="results/introgression/{dataset}/models/{model}/{split}/model.pt",
        history="results/introgression/{dataset}/models/{model}/{split}/history.tsv",
    log:
        "logs/introgression/{dataset}/train_{model}_{split}.log",
    benchmark:
        "benchmarks/introgression/{dataset}/train_{model}_{split}.tsv"
    wildcard_constraints:
        model="|".join(INTRO_DEEP),
    conda:
        "../envs/introgression.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        architecture=lambda wc: {
            k: v
            for k, v in INTRO.get("deep_models", {}).get(wc.model, {}).items()
            if k != "training"
        },
        training=intro_model_training,
        token_k=INTRO["encoding"]["token_k"],
        checkpoint_dir="results/introgression/{dataset}/models/{model}/{split}/checkpoint",
    script:
        "../scripts/introgression_train_deep.py"


rule introgression_evaluate:
    input:
        windows="results/introgression/{dataset}/windows.parquet",
        splits=lambda wc: expand(
            "results/introgression/{dataset}/splits/{split}.tsv",
            dataset=wc.dataset,
            split=INTRO["splits"]["methods"],
        ),
        predictions=intro_predictions,
    output:
        metrics=report(
            "results/introgression/{dataset}/metrics.tsv",
            caption="../report/introgression/metrics.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
        curves=report(
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
    params:
        models=INTRO["models"],
        split_names=INTRO["splits"]["methods"],
    script:
        "../scripts/introgression_evaluate.py"


rule introgression_gene_scores:
    input:
        windows="results/introgression/{dataset}/windows.parquet",
        regions="results/introgression/{dataset}/regions.bed",
        reference=lambda wc: input_path(
            intro_dataset(wc)["reference"]["path"],
            intro_dataset(wc)["reference"].get("url"),
        ),
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
        block_size=INTRO["splits"]["block_size"],
        seed=INTRO["splits"]["seed"],
        classical=INTRO.get("classical_models", {}),
    script:
        "../scripts/introgression_gene_scores.py"


rule introgression_interpret:
    input:
        windows="results/introgression/{dataset}/windows.parquet",
        tokens="results/introgression/{dataset}/encoded/kmer_tokens.npy",
        split="results/introgression/{dataset}/splits/blocks.tsv",
        bilstm="results/introgression/{dataset}/models/bilstm/blocks/model.pt",
        forest="results/introgression/{dataset}/models/random_forest/blocks/model.joblib",
    output:
        positions=report(
            "results/introgression/{dataset}/interpret/position_importance.tsv",
            caption="../report/introgression/position_importance.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
        kmers=report(
            "results/introgression/{dataset}/interpret/top_kmers.tsv",
            caption="../report/introgression/top_kmers.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
        figures=report(
            directory("results/introgression/{dataset}/figures/interpret"),
            patterns=["{name}.png"],
            caption="../report/introgression/interpret_figures.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
    log:
        "logs/introgression/{dataset}/interpret.log",
    benchmark:
        "benchmarks/introgression/{dataset}/interpret.tsv"
    conda:
        "../envs/introgression.yaml"
    threads: 2
    params:
        interpret=INTRO["interpret"],
        architecture=INTRO.get("deep_models", {}).get("bilstm", {}),
        token_k=INTRO["encoding"]["token_k"],
        count_k=INTRO["encoding"]["count_k"],
        seed=INTRO["splits"]["seed"],
    script:
        "../scripts/introgression_interpret.py"
