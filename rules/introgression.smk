# Neanderthal introgression: reference FASTA + introgression maps + deserts -> labelled windows ->
# encodings -> leakage-free splits -> classical and deep models -> metrics, leakage audit, gene
# scores, interpretation. Results under results/introgression/<dataset>/.
INTRO = config.get("introgression", {})
INTRO_DIR = "results/introgression/{dataset}"
INTRO_CLASSICAL = ["gc_logreg", "kmer_logreg", "random_forest"]
INTRO_DEEP = ["kmer_mlp", "cnn", "bilstm"]


def intro_dataset(wildcards):
    return INTRO["datasets"][wildcards.dataset]


def intro_introgressed_bed(wildcards):
    spec = intro_dataset(wildcards)["introgressed"]
    maps = INTRO["maps"]
    if spec["source"] == "consensus":
        n = spec["min_methods"]
        return input_path(
            maps["consensus_path"].format(min_methods=n),
            maps["consensus_url"].format(min_methods=n),
        )
    if spec["source"] == "method":
        method = spec["method"]
        return input_path(
            maps["method_path"].format(method=method),
            maps["method_url"].format(method=method),
        )
    return input_path(spec["path"], spec.get("url"))


def intro_file(key):
    def resolve(wildcards):
        spec = intro_dataset(wildcards).get(key)
        if not spec:
            return []
        return input_path(spec["path"], spec.get("url"))

    return resolve


def intro_predictions(wildcards):
    return expand(
        INTRO_DIR + "/models/{model}/{split}/predictions.parquet",
        dataset=wildcards.dataset,
        model=INTRO["models"],
        split=INTRO["splits"]["methods"],
    )


def intro_model_training(wildcards):
    spec = INTRO.get("deep_models", {}).get(wildcards.model, {})
    return training_settings(spec.get("training"))


def intro_targets():
    names = ["metrics.tsv", "leakage.tsv", "regions_summary.tsv"]
    if INTRO.get("datasets") and INTRO.get("genes", {}).get("model"):
        names.append("gene_scores.tsv")
    # interpretation needs the BiLSTM and the random forest trained on the blocks split
    if {"bilstm", "random_forest"} <= set(INTRO["models"]) and "blocks" in INTRO["splits"]["methods"]:
        names += ["interpret/position_importance.tsv", "interpret/top_kmers.tsv"]
    return names


if analysis_enabled("introgression"):
    for _ds, _spec in INTRO["datasets"].items():
        _names = intro_targets()
        if not _spec.get("genes"):
            _names = [n for n in _names if n != "gene_scores.tsv"]
        ALL_TARGETS.extend(expand(INTRO_DIR + "/{name}", dataset=_ds, name=_names))


rule introgression_regions:
    input:
        introgressed=intro_introgressed_bed,
        deserts=intro_file("deserts"),
        mask=intro_file("mask"),
    output:
        regions=INTRO_DIR + "/regions.bed",
        summary=report(
            INTRO_DIR + "/regions_summary.tsv",
            caption="../report/introgression/regions.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: data",
        ),
    params:
        contigs=lambda wc: intro_dataset(wc)["contigs"],
    log:
        "logs/introgression/{dataset}/regions.log",
    benchmark:
        "benchmarks/introgression/{dataset}/regions.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_regions.py"


rule introgression_windows:
    input:
        regions=INTRO_DIR + "/regions.bed",
        reference=lambda wc: input_path(
            intro_dataset(wc)["reference"]["path"], intro_dataset(wc)["reference"].get("url")
        ),
    output:
        windows=INTRO_DIR + "/windows.parquet",
        summary=INTRO_DIR + "/windows_summary.tsv",
    params:
        windows=INTRO["windows"],
        block_size=INTRO["splits"]["block_size"],
        seed=INTRO["splits"]["seed"],
    log:
        "logs/introgression/{dataset}/windows.log",
    benchmark:
        "benchmarks/introgression/{dataset}/windows.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_windows.py"


rule introgression_encode:
    input:
        windows=INTRO_DIR + "/windows.parquet",
    output:
        one_hot=INTRO_DIR + "/encoded/one_hot.npy",
        tokens=INTRO_DIR + "/encoded/kmer_tokens.npy",
        counts=INTRO_DIR + "/encoded/kmer_counts.npz",
    params:
        encoding=INTRO["encoding"],
    log:
        "logs/introgression/{dataset}/encode.log",
    benchmark:
        "benchmarks/introgression/{dataset}/encode.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_encode.py"


rule introgression_split:
    input:
        windows=INTRO_DIR + "/windows.parquet",
    output:
        split=INTRO_DIR + "/splits/{split}.tsv",
    params:
        splits=INTRO["splits"],
    wildcard_constraints:
        split="blocks|random",
    log:
        "logs/introgression/{dataset}/split_{split}.log",
    benchmark:
        "benchmarks/introgression/{dataset}/split_{split}.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_split.py"


rule introgression_leakage:
    input:
        windows=INTRO_DIR + "/windows.parquet",
        splits=lambda wc: expand(
            INTRO_DIR + "/splits/{split}.tsv",
            dataset=wc.dataset,
            split=INTRO["splits"]["methods"],
        ),
    output:
        leakage=report(
            INTRO_DIR + "/leakage.tsv",
            caption="../report/introgression/leakage.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
    params:
        leakage=INTRO["leakage"],
        split_names=INTRO["splits"]["methods"],
    log:
        "logs/introgression/{dataset}/leakage.log",
    benchmark:
        "benchmarks/introgression/{dataset}/leakage.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_leakage.py"


rule introgression_train_classical:
    input:
        windows=INTRO_DIR + "/windows.parquet",
        counts=INTRO_DIR + "/encoded/kmer_counts.npz",
        split=INTRO_DIR + "/splits/{split}.tsv",
    output:
        predictions=INTRO_DIR + "/models/{model}/{split}/predictions.parquet",
        model=INTRO_DIR + "/models/{model}/{split}/model.joblib",
    params:
        settings=lambda wc: INTRO.get("classical_models", {}).get(wc.model, {}),
        count_k=INTRO["encoding"]["count_k"],
        seed=INTRO["splits"]["seed"],
    wildcard_constraints:
        model="|".join(INTRO_CLASSICAL),
    threads: 2
    log:
        "logs/introgression/{dataset}/train_{model}_{split}.log",
    benchmark:
        "benchmarks/introgression/{dataset}/train_{model}_{split}.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_train_classical.py"


rule introgression_train_deep:
    input:
        windows=INTRO_DIR + "/windows.parquet",
        one_hot=INTRO_DIR + "/encoded/one_hot.npy",
        tokens=INTRO_DIR + "/encoded/kmer_tokens.npy",
        counts=INTRO_DIR + "/encoded/kmer_counts.npz",
        split=INTRO_DIR + "/splits/{split}.tsv",
    output:
        predictions=INTRO_DIR + "/models/{model}/{split}/predictions.parquet",
        model=INTRO_DIR + "/models/{model}/{split}/model.pt",
        history=INTRO_DIR + "/models/{model}/{split}/history.tsv",
    params:
        architecture=lambda wc: {
            k: v
            for k, v in INTRO.get("deep_models", {}).get(wc.model, {}).items()
            if k != "training"
        },
        training=intro_model_training,
        token_k=INTRO["encoding"]["token_k"],
        checkpoint_dir=INTRO_DIR + "/models/{model}/{split}/checkpoint",
    wildcard_constraints:
        model="|".join(INTRO_DEEP),
    threads: 2
    resources:
        mem_mb=4000,
    log:
        "logs/introgression/{dataset}/train_{model}_{split}.log",
    benchmark:
        "benchmarks/introgression/{dataset}/train_{model}_{split}.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_train_deep.py"


rule introgression_evaluate:
    input:
        windows=INTRO_DIR + "/windows.parquet",
        splits=lambda wc: expand(
            INTRO_DIR + "/splits/{split}.tsv",
            dataset=wc.dataset,
            split=INTRO["splits"]["methods"],
        ),
        predictions=intro_predictions,
    output:
        metrics=report(
            INTRO_DIR + "/metrics.tsv",
            caption="../report/introgression/metrics.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
        curves=report(
            directory(INTRO_DIR + "/figures/evaluation"),
            patterns=["{name}.png"],
            caption="../report/introgression/curves.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: evaluation",
        ),
    params:
        models=INTRO["models"],
        split_names=INTRO["splits"]["methods"],
    log:
        "logs/introgression/{dataset}/evaluate.log",
    benchmark:
        "benchmarks/introgression/{dataset}/evaluate.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_evaluate.py"


rule introgression_gene_scores:
    input:
        windows=INTRO_DIR + "/windows.parquet",
        regions=INTRO_DIR + "/regions.bed",
        reference=lambda wc: input_path(
            intro_dataset(wc)["reference"]["path"], intro_dataset(wc)["reference"].get("url")
        ),
        genes=intro_file("genes"),
        mask=intro_file("mask"),
    output:
        scores=report(
            INTRO_DIR + "/gene_scores.tsv",
            caption="../report/introgression/gene_scores.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: genes",
        ),
        folds=INTRO_DIR + "/gene_scores_folds.tsv",
    params:
        genes=INTRO["genes"],
        windows=INTRO["windows"],
        encoding=INTRO["encoding"],
        contigs=lambda wc: intro_dataset(wc)["contigs"],
        block_size=INTRO["splits"]["block_size"],
        seed=INTRO["splits"]["seed"],
        classical=INTRO.get("classical_models", {}),
    threads: 2
    log:
        "logs/introgression/{dataset}/gene_scores.log",
    benchmark:
        "benchmarks/introgression/{dataset}/gene_scores.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_gene_scores.py"


rule introgression_interpret:
    input:
        windows=INTRO_DIR + "/windows.parquet",
        tokens=INTRO_DIR + "/encoded/kmer_tokens.npy",
        split=INTRO_DIR + "/splits/blocks.tsv",
        bilstm=INTRO_DIR + "/models/bilstm/blocks/model.pt",
        forest=INTRO_DIR + "/models/random_forest/blocks/model.joblib",
    output:
        positions=report(
            INTRO_DIR + "/interpret/position_importance.tsv",
            caption="../report/introgression/position_importance.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
        kmers=report(
            INTRO_DIR + "/interpret/top_kmers.tsv",
            caption="../report/introgression/top_kmers.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
        figures=report(
            directory(INTRO_DIR + "/figures/interpret"),
            patterns=["{name}.png"],
            caption="../report/introgression/interpret_figures.rst",
            category="Neanderthal introgression",
            subcategory="{dataset}: interpretation",
        ),
    params:
        interpret=INTRO["interpret"],
        architecture=INTRO.get("deep_models", {}).get("bilstm", {}),
        token_k=INTRO["encoding"]["token_k"],
        count_k=INTRO["encoding"]["count_k"],
        seed=INTRO["splits"]["seed"],
    threads: 2
    log:
        "logs/introgression/{dataset}/interpret.log",
    benchmark:
        "benchmarks/introgression/{dataset}/interpret.tsv"
    conda:
        "../envs/introgression.yaml"
    script:
        "../scripts/introgression_interpret.py"


rule introgression:
    # Every output of the introgression analysis: `snakemake --cores 2 introgression`.
    input:
        [
            expand(INTRO_DIR + "/{name}", dataset=_ds, name=intro_targets())
            for _ds in INTRO.get("datasets", {})
        ],
