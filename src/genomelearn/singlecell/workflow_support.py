"""Helpers of ``rules/singlecell.smk``: settings with defaults, input files, methods and targets.

Plain functions of the ``singlecell`` config block (a dict), so that the rules file holds rules only.
"""

from __future__ import annotations

from typing import Callable, Mapping

ROOT = "results/singlecell"
DIR = ROOT + "/{dataset}"  # every per-dataset output lives under DIR (the rules' wildcard)
LOG = "logs/singlecell/{dataset}"
BENCH = "benchmarks/singlecell/{dataset}"
# Analysis-wide keys the rules read. Their defaults live in config/schemas/singlecell.schema.yaml
# (filled in by Snakemake's validate); none are repeated here.
SETTINGS_KEYS = (
    "seed",
    "n_seeds",
    "n_neighbors",
    "n_components",
    "leiden_resolution",
    "leiden_resolutions",
    "umap_min_dist",
    "consensus_min_omics",
    "consensus_n_neighbors",
    "consensus_max_isolated",
    "hamming_block_size",
    "silhouette_max_cells",
    "train_threads",
    "knn_threads",
)


def settings(sc: Mapping) -> dict:
    """Analysis-wide settings of a validated ``singlecell`` block (defaults filled by the schema).

    An absent block (analysis not configured) gives None for every key and no seeds.

    Raises:
        KeyError: a key missing from a present block (it was not validated against its schema).
    """
    if not sc:
        return {**{key: None for key in SETTINGS_KEYS}, "seeds": []}
    out = {key: sc[key] for key in SETTINGS_KEYS}
    out["seeds"] = seeds(sc)
    return out


def seeds(sc: Mapping) -> list:
    """Training and clustering seeds: ``seed, seed + 1, …`` (``n_seeds`` of them)."""
    return [int(sc["seed"]) + i for i in range(int(sc["n_seeds"]))]


def peer_settings(sc: Mapping, peer: str) -> dict:
    return dict((sc.get("peers") or {}).get(peer) or {})


def peer_unavailable(sc: Mapping, dataset: str, peer: str) -> str:
    """Why ``peer`` cannot run on ``dataset`` (``""``: it can); see :func:`peers.availability`."""
    from genomelearn.singlecell import peers
    from genomelearn.singlecell.preprocess import omic_settings

    spec = sc["datasets"][dataset]
    specs = {
        o: omic_settings(spec["omics"][o], f"dataset {dataset} omic {o}")
        for o in omics(sc, dataset)
    }
    return peers.availability(peer, specs, bool(peer_settings(sc, peer).get("enabled", True)))


def datasets(sc: Mapping) -> list:
    return list((sc.get("datasets") or {}))


def omics(sc: Mapping, dataset: str) -> list:
    return list(sc["datasets"][dataset]["omics"])


def is_multi(sc: Mapping, dataset: str) -> bool:
    return len(omics(sc, dataset)) > 1


def input_files(sc: Mapping, dataset: str, resolve: Callable[[str, str | None], str]) -> dict:
    """Every input file of a dataset: {configured path: resolved local path} (``resolve(path, url)``)."""
    spec = sc["datasets"][dataset]
    entries = [spec["omics"][o] for o in omics(sc, dataset)]
    for key in ("metadata", "labels"):
        if spec.get(key) and spec[key].get("path"):
            entries.append(spec[key])
    return {e["path"]: resolve(e["path"], e.get("url")) for e in entries}


def omic_files(
    sc: Mapping, dataset: str, omic: str, resolve: Callable[[str, str | None], str]
) -> list:
    """The omic's matrix and, when the dataset has one, its metadata table (cell IDs of arrays)."""
    spec = sc["datasets"][dataset]
    files = input_files(sc, dataset, resolve)
    paths = [files[spec["omics"][omic]["path"]]]
    if spec.get("metadata"):
        paths.append(files[spec["metadata"]["path"]])
    return paths


def autoencoder_settings(sc: Mapping, key: str) -> dict:
    """Architecture block (``autoencoder`` / ``multimodal_autoencoder``) without ``training``; a
    null bottleneck means ``n_components`` (the schema's documented meaning of null)."""
    if not sc:
        return {}
    block = dict(sc[key])
    block.pop("training", None)
    if block.get("bottleneck") is None:
        block["bottleneck"] = sc["n_components"]
    return block


def training_overrides(sc: Mapping, key: str) -> dict:
    return dict((sc.get(key) or {}).get("training") or {})


def preprocessed(sc: Mapping, dataset: str) -> dict:
    return {o: f"{ROOT}/{dataset}/omics/{o}/preprocessed.h5ad" for o in omics(sc, dataset)}


def ae_embedding(dataset: str, omic: str, seed) -> str:
    """Per-seed autoencoder embedding of one omic (``omic = "joint"``: the multimodal one)."""
    base = f"{ROOT}/{dataset}/joint" if omic == "joint" else f"{ROOT}/{dataset}/omics/{omic}"
    return f"{base}/ae/seed{seed}/ae.parquet"


def peer_output(dataset: str, peer: str, seed=None) -> str:
    """Output of a peer: ``peers/scanpy.parquet``, ``peers/wnn.h5ad``, ``peers/<peer>/seed<s>/embedding.parquet``."""
    if peer == "scanpy":
        return f"{ROOT}/{dataset}/peers/scanpy.parquet"
    if peer == "wnn":
        return f"{ROOT}/{dataset}/peers/wnn.h5ad"
    return f"{ROOT}/{dataset}/peers/{peer}/seed{seed}/embedding.parquet"


def _per_seed(sc: Mapping, fn) -> dict:
    return {str(s): fn(s) for s in seeds(sc)}


def methods(sc: Mapping, dataset: str) -> list:
    """Metrics rows of a dataset: embeddings (parquet, per seed for trained ones), graph-only
    methods (``graphs.h5ad`` keys) and the peers (rows with ``unavailable`` when they cannot run).

    One omic: ``pca``, ``ae``, ``graph_<omic>``. Several: per omic ``pca_<omic>``, ``ae_<omic>``,
    ``graph_<omic>``, then ``graph_consensus`` (auto k), ``graph_consensus_k<n_neighbors>`` (equal
    k), ``pca`` (concatenated omics) and ``ae`` (joint). Then the peers ``scanpy``, ``scvi``,
    ``mofa``, ``wnn``.
    """
    base = f"{ROOT}/{dataset}"
    names = omics(sc, dataset)
    multi = len(names) > 1
    out = []
    for o in names:
        suffix = f"_{o}" if multi else ""
        out.append(
            {
                "name": f"pca{suffix}",
                "kind": "embedding",
                "omics": [o],
                "embedding": f"{base}/omics/{o}/pca.parquet",
            }
        )
        out.append(
            {
                "name": f"ae{suffix}",
                "kind": "embedding",
                "omics": [o],
                "embedding": _per_seed(sc, lambda s, o=o: ae_embedding(dataset, o, s)),
            }
        )
        out.append(
            {
                "name": f"graph_{o}",
                "kind": "graph",
                "omics": [o],
                "graph": f"graph_{o}",
                "layout": f"{base}/omics/{o}/pca.parquet",
            }
        )
    if multi:
        k = settings(sc)["n_neighbors"]
        for key in ("graph_consensus", f"graph_consensus_k{k}"):
            out.append(
                {
                    "name": key,
                    "kind": "graph",
                    "omics": names,
                    "graph": key,
                    "layout": f"{base}/joint/pca.parquet",
                }
            )
        out.append(
            {
                "name": "pca",
                "kind": "embedding",
                "omics": names,
                "embedding": f"{base}/joint/pca.parquet",
            }
        )
        out.append(
            {
                "name": "ae",
                "kind": "embedding",
                "omics": names,
                "embedding": _per_seed(sc, lambda s: ae_embedding(dataset, "joint", s)),
            }
        )
    layout = f"{base}/joint/pca.parquet" if multi else f"{base}/omics/{names[0]}/pca.parquet"
    for peer in ("scanpy", "scvi", "mofa", "wnn"):
        entry = {"name": peer, "kind": "graph" if peer == "wnn" else "embedding", "omics": names}
        reason = peer_unavailable(sc, dataset, peer)
        if reason:
            entry["unavailable"] = reason
        elif peer == "scanpy":
            entry["embedding"] = peer_output(dataset, peer)
        elif peer == "wnn":
            entry.update(
                {
                    "graph_file": peer_output(dataset, peer),
                    "graph": "wnn_connectivities",
                    "layout": layout,
                }
            )
        else:
            entry["embedding"] = _per_seed(sc, lambda s, p=peer: peer_output(dataset, p, s))
        out.append(entry)
    return out


def method_files(sc: Mapping, dataset: str) -> list:
    files = set()
    for m in methods(sc, dataset):
        emb = m.get("embedding")
        files.update(emb.values() if isinstance(emb, Mapping) else [emb] if emb else [])
        files.update(p for p in (m.get("layout"), m.get("graph_file")) if p)
    return sorted(files)


def histories(sc: Mapping) -> list:
    out = []
    for d in datasets(sc):
        for s in seeds(sc):
            out += [
                ae_embedding(d, o, s).replace("ae.parquet", "ae_history.tsv") for o in omics(sc, d)
            ]
            if is_multi(sc, d):
                out.append(ae_embedding(d, "joint", s).replace("ae.parquet", "ae_history.tsv"))
            if not peer_unavailable(sc, d, "scvi"):
                out.append(peer_output(d, "scvi", s).replace("embedding.parquet", "history.tsv"))
    return out


def summary_outputs() -> dict:
    """The analysis-wide tables (rule singlecell_summary)."""
    return {
        name: f"{ROOT}/{name}.tsv"
        for name in ("metrics", "graph_sizes", "training", "ranking", "ae_verdict")
    }


def targets(sc: Mapping) -> list:
    """Every final output of the analysis (per dataset and the summary tables)."""
    names = datasets(sc)
    if not names:
        return []
    out = [
        f"{ROOT}/{d}/{name}" for d in names for name in (f"{d}.h5ad", "metrics.tsv", "umap.png")
    ]
    return out + list(summary_outputs().values())
