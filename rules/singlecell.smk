# Single-cell: PCA vs autoencoder embeddings, UMAP, Leiden, clustering metrics and multi-omics
# integration (kNN graph per omic -> consensus graph; multimodal autoencoder).
# Per dataset: match cells -> preprocess + PCA per omic -> autoencoder per omic -> graphs ->
# (multi-omics: joint PCA, multimodal autoencoder) -> analyse (UMAP, Leiden, metrics) -> plot.
# Peers on the same preprocessed input: scanpy's standard path, scVI (counts), MOFA+ and WNN
# (multi-omics); every method is scored at every seed (config n_seeds) with the same k and the same
# Leiden resolution search. Results under results/singlecell/<dataset>/ (docs/singlecell.md).
from genomelearn.singlecell import workflow_support as sc_support

SC = config.get("singlecell", {})
SC_DIR = sc_support.DIR
SC_LOG = sc_support.LOG
SC_BENCH = sc_support.BENCH
SC_SETTINGS = sc_support.settings(SC)
SC_TARGETS = sc_support.targets(SC)
SC_SUMMARY = sc_support.summary_outputs()
SC_SEEDS = SC_SETTINGS[
    "seeds"
]  # one job trains every seed (fewer, longer jobs on small data)


rule singlecell_match_cells:
    input:
        lambda wc: sorted(sc_support.input_files(SC, wc.dataset, input_path).values()),
    output:
        cells=f"{SC_DIR}/cells.tsv",
        dropped=f"{SC_DIR}/dropped_cells.tsv",
    log:
        f"{SC_LOG}/singlecell_match_cells.log",
    benchmark:
        f"{SC_BENCH}/singlecell_match_cells.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        spec=lambda wc: SC["datasets"][wc.dataset],
        resolved=lambda wc: sc_support.input_files(SC, wc.dataset, input_path),
    script:
        "../scripts/singlecell_match_cells.py"


rule singlecell_preprocess:
    input:
        cells=f"{SC_DIR}/cells.tsv",
        files=lambda wc: sc_support.omic_files(SC, wc.dataset, wc.omic, input_path),
    output:
        h5ad=f"{SC_DIR}/omics/{{omic}}/preprocessed.h5ad",
        pca=f"{SC_DIR}/omics/{{omic}}/pca.parquet",
    log:
        f"{SC_LOG}/singlecell_preprocess.{{omic}}.log",
    benchmark:
        f"{SC_BENCH}/singlecell_preprocess.{{omic}}.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        spec=lambda wc: SC["datasets"][wc.dataset],
        resolved=lambda wc: sc_support.input_files(SC, wc.dataset, input_path),
        n_components=SC_SETTINGS["n_components"],
        seed=SC_SETTINGS["seed"],
    script:
        "../scripts/singlecell_preprocess.py"


rule singlecell_train_autoencoder:
    input:
        h5ad=f"{SC_DIR}/omics/{{omic}}/preprocessed.h5ad",
    output:
        embeddings=[f"{SC_DIR}/omics/{{omic}}/ae/seed{s}/ae.parquet" for s in SC_SEEDS],
        models=[f"{SC_DIR}/omics/{{omic}}/ae/seed{s}/ae_model.pt" for s in SC_SEEDS],
        histories=[
            f"{SC_DIR}/omics/{{omic}}/ae/seed{s}/ae_history.tsv" for s in SC_SEEDS
        ],
    log:
        f"{SC_LOG}/singlecell_train_autoencoder.{{omic}}.log",
    benchmark:
        f"{SC_BENCH}/singlecell_train_autoencoder.{{omic}}.tsv"
    conda:
        "../envs/singlecell.yaml"
    threads: SC_SETTINGS["train_threads"]
    params:
        settings=sc_support.autoencoder_settings(SC, "autoencoder"),
        training=training_settings(sc_support.training_overrides(SC, "autoencoder")),
        seeds=SC_SEEDS,
        checkpoints=f"{SC_DIR}/checkpoints/ae_{{omic}}",
    script:
        "../scripts/singlecell_train_autoencoder.py"


rule singlecell_graphs:
    input:
        unpack(lambda wc: sc_support.preprocessed(SC, wc.dataset)),
    output:
        graphs=f"{SC_DIR}/graphs.h5ad",
        sizes=f"{SC_DIR}/graph_sizes.tsv",
    log:
        f"{SC_LOG}/singlecell_graphs.log",
    benchmark:
        f"{SC_BENCH}/singlecell_graphs.tsv"
    conda:
        "../envs/singlecell.yaml"
    threads: SC_SETTINGS["knn_threads"]
    params:
        n_neighbors=SC_SETTINGS["n_neighbors"],
        min_omics=SC_SETTINGS["consensus_min_omics"],
        consensus_k=SC_SETTINGS["consensus_n_neighbors"],
        max_isolated=SC_SETTINGS["consensus_max_isolated"],
        block_size=SC_SETTINGS["hamming_block_size"],
        seed=SC_SETTINGS["seed"],
        approximate_above=SC["approximate_knn_above"],
    script:
        "../scripts/singlecell_graphs.py"


rule singlecell_joint_pca:
    input:
        unpack(lambda wc: sc_support.preprocessed(SC, wc.dataset)),
    output:
        pca=f"{SC_DIR}/joint/pca.parquet",
    log:
        f"{SC_LOG}/singlecell_joint_pca.log",
    benchmark:
        f"{SC_BENCH}/singlecell_joint_pca.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        n_components=SC_SETTINGS["n_components"],
        seed=SC_SETTINGS["seed"],
    script:
        "../scripts/singlecell_joint_pca.py"


rule singlecell_train_multimodal_autoencoder:
    input:
        unpack(lambda wc: sc_support.preprocessed(SC, wc.dataset)),
    output:
        embeddings=[f"{SC_DIR}/joint/ae/seed{s}/ae.parquet" for s in SC_SEEDS],
        models=[f"{SC_DIR}/joint/ae/seed{s}/ae_model.pt" for s in SC_SEEDS],
        histories=[f"{SC_DIR}/joint/ae/seed{s}/ae_history.tsv" for s in SC_SEEDS],
    log:
        f"{SC_LOG}/singlecell_train_multimodal_autoencoder.log",
    benchmark:
        f"{SC_BENCH}/singlecell_train_multimodal_autoencoder.tsv"
    conda:
        "../envs/singlecell.yaml"
    threads: SC_SETTINGS["train_threads"]
    params:
        settings=sc_support.autoencoder_settings(SC, "multimodal_autoencoder"),
        training=training_settings(
            sc_support.training_overrides(SC, "multimodal_autoencoder")
        ),
        seeds=SC_SEEDS,
        checkpoints=f"{SC_DIR}/checkpoints/ae_joint",
    script:
        "../scripts/singlecell_train_multimodal_autoencoder.py"


rule singlecell_scanpy:
    # Peer: scanpy's standard path (scale, PCA) on the same preprocessed omics.
    input:
        unpack(lambda wc: sc_support.preprocessed(SC, wc.dataset)),
    output:
        embedding=sc_support.peer_output("{dataset}", "scanpy"),
    log:
        f"{SC_LOG}/singlecell_scanpy.log",
    benchmark:
        f"{SC_BENCH}/singlecell_scanpy.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        settings=sc_support.peer_settings(SC, "scanpy"),
        seed=SC_SETTINGS["seed"],
    script:
        "../scripts/singlecell_peers.py"


rule singlecell_scvi:
    # Peer: scVI on the raw counts of the highly variable genes, one model per seed.
    input:
        unpack(lambda wc: sc_support.preprocessed(SC, wc.dataset)),
    output:
        embeddings=[sc_support.peer_output("{dataset}", "scvi", s) for s in SC_SEEDS],
        histories=[
            sc_support.peer_output("{dataset}", "scvi", s).replace(
                "embedding.parquet", "history.tsv"
            )
            for s in SC_SEEDS
        ],
    log:
        f"{SC_LOG}/singlecell_scvi.log",
    benchmark:
        f"{SC_BENCH}/singlecell_scvi.tsv"
    conda:
        "../envs/singlecell.yaml"
    threads: SC_SETTINGS["train_threads"]
    params:
        settings=sc_support.peer_settings(SC, "scvi"),
        seeds=SC_SEEDS,
    script:
        "../scripts/singlecell_peers.py"


rule singlecell_mofa:
    # Peer: MOFA+ factors of the multi-omics datasets, one model per seed.
    input:
        unpack(lambda wc: sc_support.preprocessed(SC, wc.dataset)),
    output:
        embeddings=[sc_support.peer_output("{dataset}", "mofa", s) for s in SC_SEEDS],
    log:
        f"{SC_LOG}/singlecell_mofa.log",
    benchmark:
        f"{SC_BENCH}/singlecell_mofa.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        settings=sc_support.peer_settings(SC, "mofa"),
        seeds=SC_SEEDS,
    script:
        "../scripts/singlecell_peers.py"


rule singlecell_wnn:
    # Peer: muon's weighted nearest neighbours of the per-omic PCA embeddings (a graph).
    input:
        cells=f"{SC_DIR}/cells.tsv",
        pcas=lambda wc: [
            f"{sc_support.ROOT}/{wc.dataset}/omics/{o}/pca.parquet"
            for o in sc_support.omics(SC, wc.dataset)
        ],
    output:
        graph=sc_support.peer_output("{dataset}", "wnn"),
    log:
        f"{SC_LOG}/singlecell_wnn.log",
    benchmark:
        f"{SC_BENCH}/singlecell_wnn.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        omics=lambda wc: sc_support.omics(SC, wc.dataset),
        n_neighbors=SC_SETTINGS["n_neighbors"],
        seed=SC_SETTINGS["seed"],
    script:
        "../scripts/singlecell_peers.py"


rule singlecell_analyse:
    input:
        cells=f"{SC_DIR}/cells.tsv",
        first=lambda wc: next(iter(sc_support.preprocessed(SC, wc.dataset).values())),
        graphs=f"{SC_DIR}/graphs.h5ad",
        embeddings=lambda wc: sc_support.method_files(SC, wc.dataset),
    output:
        h5ad=f"{SC_DIR}/analysis.h5ad",
        metrics=report(
            f"{SC_DIR}/metrics.tsv",
            caption="../report/singlecell/metrics.rst",
            category="Single-cell",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "table": "metrics"},
        ),
        seeds=f"{SC_DIR}/metrics_seeds.tsv",
    log:
        f"{SC_LOG}/singlecell_analyse.log",
    benchmark:
        f"{SC_BENCH}/singlecell_analyse.tsv"
    conda:
        "../envs/singlecell.yaml"
    threads: SC_SETTINGS["knn_threads"]
    params:
        methods=lambda wc: sc_support.methods(SC, wc.dataset),
        settings=SC_SETTINGS,
        approximate_above=SC["approximate_knn_above"],
    script:
        "../scripts/singlecell_analyse.py"


rule singlecell_plot:
    input:
        h5ad=f"{SC_DIR}/analysis.h5ad",
    output:
        png=report(
            f"{SC_DIR}/umap.png",
            caption="../report/singlecell/umap.rst",
            category="Single-cell",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "UMAP"},
        ),
    log:
        f"{SC_LOG}/singlecell_plot.log",
    benchmark:
        f"{SC_BENCH}/singlecell_plot.tsv"
    conda:
        "../envs/singlecell.yaml"
    script:
        "../scripts/singlecell_plot.py"


rule singlecell_summary:
    input:
        metrics=expand(f"{SC_DIR}/metrics.tsv", dataset=sc_support.datasets(SC)),
        seeds=expand(f"{SC_DIR}/metrics_seeds.tsv", dataset=sc_support.datasets(SC)),
        sizes=expand(f"{SC_DIR}/graph_sizes.tsv", dataset=sc_support.datasets(SC)),
        histories=sc_support.histories(SC),
    output:
        metrics=report(
            SC_SUMMARY["metrics"],
            caption="../report/singlecell/metrics.rst",
            category="Single-cell",
            subcategory="All datasets",
            labels={"dataset": "all", "table": "metrics"},
        ),
        sizes=report(
            SC_SUMMARY["graph_sizes"],
            caption="../report/singlecell/graph_sizes.rst",
            category="Single-cell",
            subcategory="All datasets",
            labels={"dataset": "all", "table": "graph sizes"},
        ),
        training=report(
            SC_SUMMARY["training"],
            caption="../report/singlecell/training.rst",
            category="Single-cell",
            subcategory="All datasets",
            labels={"dataset": "all", "table": "autoencoder training"},
        ),
        ranking=report(
            SC_SUMMARY["ranking"],
            caption="../report/singlecell/ranking.rst",
            category="Single-cell",
            subcategory="All datasets",
            labels={"dataset": "all", "table": "ranking (scIB bio)"},
        ),
        verdict=report(
            SC_SUMMARY["ae_verdict"],
            caption="../report/singlecell/ae_verdict.rst",
            category="Single-cell",
            subcategory="All datasets",
            labels={"dataset": "all", "table": "autoencoder vs PCA and scanpy"},
        ),
    log:
        "logs/singlecell/singlecell_summary.log",
    benchmark:
        "benchmarks/singlecell/singlecell_summary.tsv"
    conda:
        "../envs/singlecell.yaml"
    script:
        "../scripts/singlecell_summary.py"


rule singlecell_export:
    # scanpy-native outputs: <dataset>.h5ad (obsm embeddings; every graph as obsp
    # <key>_connectivities and <key>_distances + uns[<key>]) and MuData <dataset>.h5mu.
    input:
        unpack(
            lambda wc: {
                "cells": f"{SC_DIR}/cells.tsv".format(dataset=wc.dataset),
                "graphs": f"{SC_DIR}/graphs.h5ad".format(dataset=wc.dataset),
                "analysis": f"{SC_DIR}/analysis.h5ad".format(dataset=wc.dataset),
                **{
                    f"omic_{omic}": path
                    for omic, path in sc_support.preprocessed(SC, wc.dataset).items()
                },
            }
        ),
    output:
        h5ad=f"{SC_DIR}/{{dataset}}.h5ad",
        h5mu=f"{SC_DIR}/{{dataset}}.h5mu",
    log:
        f"{SC_LOG}/singlecell_export.log",
    benchmark:
        f"{SC_BENCH}/singlecell_export.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        n_neighbors=SC_SETTINGS["n_neighbors"],
        seed=SC_SETTINGS["seed"],
        approximate_above=SC["approximate_knn_above"],
    script:
        "../scripts/singlecell_export.py"
