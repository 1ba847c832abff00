# Single-cell: PCA vs autoencoder embeddings, UMAP, Leiden, clustering metrics and multi-omics
# integration (kNN graph per omic -> consensus graph; multimodal autoencoder).
# Per dataset: match cells -> preprocess + PCA per omic -> autoencoder per omic -> graphs ->
# (multi-omics: joint PCA, multimodal autoencoder) -> analyse (UMAP, Leiden, metrics) -> plot.
# Results under results/singlecell/<dataset>/ (see README, section singlecell).
SC = config.get("singlecell", {})
SC_DIR = "results/singlecell/{dataset}"
SC_LOG = "logs/singlecell/{dataset}"
SC_BENCH = "benchmarks/singlecell/{dataset}"
SC_SETTINGS = {
    "seed": SC.get("seed", 0),
    "n_neighbors": SC.get("n_neighbors", 15),
    "n_components": SC.get("n_components", 10),
    "leiden_resolution": SC.get("leiden_resolution", 1.0),
    "umap_min_dist": SC.get("umap_min_dist", 0.5),
    "consensus_min_omics": SC.get("consensus_min_omics"),
    "consensus_n_neighbors": SC.get("consensus_n_neighbors", "auto"),
    "consensus_max_isolated": SC.get("consensus_max_isolated", 0.01),
    "hamming_block_size": SC.get("hamming_block_size", 512),
    "silhouette_max_cells": SC.get("silhouette_max_cells", 5000),
    "train_threads": SC.get("train_threads", 1),
}


wildcard_constraints:
    dataset="[A-Za-z0-9_.-]+",
    omic="[A-Za-z0-9_]+",


def sc_spec(dataset):
    return SC["datasets"][dataset]


def sc_omics(dataset):
    return list(sc_spec(dataset)["omics"])


def sc_multi(dataset):
    return len(sc_omics(dataset)) > 1


def sc_files(dataset):
    """Every input file of a dataset: {configured path: resolved local path}."""
    spec = sc_spec(dataset)
    entries = [spec["omics"][o] for o in sc_omics(dataset)]
    for key in ("metadata", "labels"):
        if spec.get(key) and spec[key].get("path"):
            entries.append(spec[key])
    return {e["path"]: input_path(e["path"], e.get("url")) for e in entries}


def sc_omic_files(wildcards):
    """The omic's matrix and, for arrays, the metadata table of cell IDs."""
    spec = sc_spec(wildcards.dataset)
    files = sc_files(wildcards.dataset)
    paths = [files[spec["omics"][wildcards.omic]["path"]]]
    if spec.get("metadata"):
        paths.append(files[spec["metadata"]["path"]])
    return paths


def sc_autoencoder(key):
    block = dict(SC.get(key) or {})
    block.pop("training", None)
    if block.get("bottleneck") is None:
        block["bottleneck"] = SC_SETTINGS["n_components"]
    return block


def sc_training(key):
    return training_settings((SC.get(key) or {}).get("training"))


def sc_preprocessed(wildcards):
    return {
        o: f"results/singlecell/{wildcards.dataset}/omics/{o}/preprocessed.h5ad"
        for o in sc_omics(wildcards.dataset)
    }


def sc_methods(dataset):
    """Metrics rows of a dataset: embeddings (parquet) and graph-only methods (graphs.h5ad keys)."""
    base = f"results/singlecell/{dataset}"
    omics = sc_omics(dataset)
    multi = len(omics) > 1
    methods = []
    for o in omics:
        suffix = f"_{o}" if multi else ""
        methods.append(
            {
                "name": f"pca{suffix}",
                "omics": [o],
                "embedding": f"{base}/omics/{o}/pca.parquet",
            }
        )
        methods.append(
            {
                "name": f"ae{suffix}",
                "omics": [o],
                "embedding": f"{base}/omics/{o}/ae.parquet",
            }
        )
        methods.append(
            {
                "name": f"graph_{o}",
                "omics": [o],
                "graph": f"graph_{o}",
                "layout": f"{base}/omics/{o}/pca.parquet",
            }
        )
    if multi:
        methods.append(
            {
                "name": "graph_consensus",
                "omics": omics,
                "graph": "graph_consensus",
                "layout": f"{base}/joint/pca.parquet",
            }
        )
        methods.append(
            {"name": "pca", "omics": omics, "embedding": f"{base}/joint/pca.parquet"}
        )
        methods.append(
            {"name": "ae", "omics": omics, "embedding": f"{base}/joint/ae.parquet"}
        )
    return methods


def sc_method_files(wildcards):
    files = set()
    for m in sc_methods(wildcards.dataset):
        files.update(p for p in (m.get("embedding"), m.get("layout")) if p)
    return sorted(files)


def sc_histories(datasets):
    out = []
    for d in datasets:
        out += [f"results/singlecell/{d}/omics/{o}/ae_history.tsv" for o in sc_omics(d)]
        if sc_multi(d):
            out.append(f"results/singlecell/{d}/joint/ae_history.tsv")
    return out


SC_DATASETS = list(SC.get("datasets", {}))

SC_TARGETS = (
    expand(
        [
            SC_DIR + "/{dataset}.h5ad",
            SC_DIR + "/metrics.tsv",
            SC_DIR + "/umap.png",
        ],
        dataset=SC_DATASETS,
    )
    + [
        "results/singlecell/metrics.tsv",
        "results/singlecell/graph_sizes.tsv",
        "results/singlecell/training.tsv",
    ]
    if SC_DATASETS
    else []
)

if analysis_enabled("singlecell"):
    ALL_TARGETS.extend(SC_TARGETS)


rule singlecell:
    # Every output of the single-cell analysis: `snakemake --cores 2 singlecell`.
    input:
        SC_TARGETS,


rule singlecell_match_cells:
    input:
        lambda wc: sorted(sc_files(wc.dataset).values()),
    output:
        cells=SC_DIR + "/cells.tsv",
        dropped=SC_DIR + "/dropped_cells.tsv",
    log:
        SC_LOG + "/singlecell_match_cells.log",
    benchmark:
        SC_BENCH + "/singlecell_match_cells.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        spec=lambda wc: sc_spec(wc.dataset),
        resolved=lambda wc: sc_files(wc.dataset),
    script:
        "../scripts/singlecell_match_cells.py"


rule singlecell_preprocess:
    input:
        cells=SC_DIR + "/cells.tsv",
        files=sc_omic_files,
    output:
        h5ad=SC_DIR + "/omics/{omic}/preprocessed.h5ad",
        pca=SC_DIR + "/omics/{omic}/pca.parquet",
    log:
        SC_LOG + "/singlecell_preprocess.{omic}.log",
    benchmark:
        SC_BENCH + "/singlecell_preprocess.{omic}.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        spec=lambda wc: sc_spec(wc.dataset),
        resolved=lambda wc: sc_files(wc.dataset),
        n_components=SC_SETTINGS["n_components"],
        seed=SC_SETTINGS["seed"],
    script:
        "../scripts/singlecell_preprocess.py"


rule singlecell_train_autoencoder:
    input:
        h5ad=SC_DIR + "/omics/{omic}/preprocessed.h5ad",
    output:
        embedding=SC_DIR + "/omics/{omic}/ae.parquet",
        model=SC_DIR + "/omics/{omic}/ae_model.pt",
        history=SC_DIR + "/omics/{omic}/ae_history.tsv",
    log:
        SC_LOG + "/singlecell_train_autoencoder.{omic}.log",
    benchmark:
        SC_BENCH + "/singlecell_train_autoencoder.{omic}.tsv"
    conda:
        "../envs/singlecell.yaml"
    threads: SC_SETTINGS["train_threads"]
    params:
        settings=sc_autoencoder("autoencoder"),
        training=sc_training("autoencoder"),
        checkpoints=SC_DIR + "/checkpoints/ae_{omic}",
    script:
        "../scripts/singlecell_train_autoencoder.py"


rule singlecell_graphs:
    input:
        unpack(sc_preprocessed),
    output:
        graphs=SC_DIR + "/graphs.h5ad",
        sizes=SC_DIR + "/graph_sizes.tsv",
    log:
        SC_LOG + "/singlecell_graphs.log",
    benchmark:
        SC_BENCH + "/singlecell_graphs.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        n_neighbors=SC_SETTINGS["n_neighbors"],
        min_omics=SC_SETTINGS["consensus_min_omics"],
        consensus_k=SC_SETTINGS["consensus_n_neighbors"],
        max_isolated=SC_SETTINGS["consensus_max_isolated"],
        block_size=SC_SETTINGS["hamming_block_size"],
        seed=SC_SETTINGS["seed"],
    script:
        "../scripts/singlecell_graphs.py"


rule singlecell_joint_pca:
    input:
        unpack(sc_preprocessed),
    output:
        pca=SC_DIR + "/joint/pca.parquet",
    log:
        SC_LOG + "/singlecell_joint_pca.log",
    benchmark:
        SC_BENCH + "/singlecell_joint_pca.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        n_components=SC_SETTINGS["n_components"],
        seed=SC_SETTINGS["seed"],
    script:
        "../scripts/singlecell_joint_pca.py"


rule singlecell_train_multimodal_autoencoder:
    input:
        unpack(sc_preprocessed),
    output:
        embedding=SC_DIR + "/joint/ae.parquet",
        model=SC_DIR + "/joint/ae_model.pt",
        history=SC_DIR + "/joint/ae_history.tsv",
    log:
        SC_LOG + "/singlecell_train_multimodal_autoencoder.log",
    benchmark:
        SC_BENCH + "/singlecell_train_multimodal_autoencoder.tsv"
    conda:
        "../envs/singlecell.yaml"
    threads: SC_SETTINGS["train_threads"]
    params:
        settings=sc_autoencoder("multimodal_autoencoder"),
        training=sc_training("multimodal_autoencoder"),
        checkpoints=SC_DIR + "/checkpoints/ae_joint",
    script:
        "../scripts/singlecell_train_multimodal_autoencoder.py"


rule singlecell_analyse:
    input:
        cells=SC_DIR + "/cells.tsv",
        first=lambda wc: f"results/singlecell/{wc.dataset}/omics/{sc_omics(wc.dataset)[0]}/preprocessed.h5ad",
        graphs=SC_DIR + "/graphs.h5ad",
        embeddings=sc_method_files,
    output:
        h5ad=SC_DIR + "/{dataset}.h5ad",
        metrics=report(
            SC_DIR + "/metrics.tsv",
            caption="../report/singlecell/metrics.rst",
            category="Single-cell",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "table": "metrics"},
        ),
    log:
        SC_LOG + "/singlecell_analyse.log",
    benchmark:
        SC_BENCH + "/singlecell_analyse.tsv"
    conda:
        "../envs/singlecell.yaml"
    params:
        methods=lambda wc: sc_methods(wc.dataset),
        settings=SC_SETTINGS,
    script:
        "../scripts/singlecell_analyse.py"


rule singlecell_plot:
    input:
        h5ad=SC_DIR + "/{dataset}.h5ad",
    output:
        png=report(
            SC_DIR + "/umap.png",
            caption="../report/singlecell/umap.rst",
            category="Single-cell",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "UMAP"},
        ),
    log:
        SC_LOG + "/singlecell_plot.log",
    benchmark:
        SC_BENCH + "/singlecell_plot.tsv"
    conda:
        "../envs/singlecell.yaml"
    script:
        "../scripts/singlecell_plot.py"


rule singlecell_summary:
    input:
        metrics=expand(SC_DIR + "/metrics.tsv", dataset=SC_DATASETS),
        sizes=expand(SC_DIR + "/graph_sizes.tsv", dataset=SC_DATASETS),
        histories=sc_histories(SC_DATASETS),
    output:
        metrics=report(
            "results/singlecell/metrics.tsv",
            caption="../report/singlecell/metrics.rst",
            category="Single-cell",
            subcategory="All datasets",
            labels={"dataset": "all", "table": "metrics"},
        ),
        sizes=report(
            "results/singlecell/graph_sizes.tsv",
            caption="../report/singlecell/graph_sizes.rst",
            category="Single-cell",
            subcategory="All datasets",
            labels={"dataset": "all", "table": "graph sizes"},
        ),
        training=report(
            "results/singlecell/training.tsv",
            caption="../report/singlecell/training.rst",
            category="Single-cell",
            subcategory="All datasets",
            labels={"dataset": "all", "table": "autoencoder training"},
        ),
    log:
        "logs/singlecell/singlecell_summary.log",
    benchmark:
        "benchmarks/singlecell/singlecell_summary.tsv"
    conda:
        "../envs/singlecell.yaml"
    script:
        "../scripts/singlecell_summary.py"
