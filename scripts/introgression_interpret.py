"""Interpretation of the BiLSTM and the random forest (rule introgression_interpret)."""

import os

import joblib
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from genomelearn.encoding import kmer_counts, kmer_strings, kmer_tokens, kmer_vocab_size, to_codes  # noqa: E402
from genomelearn.interpret import (
    aggregate_by_token,
    position_permutation_importance,
    token_attributions,
)  # noqa: E402
from genomelearn.introgression.io import read_split  # noqa: E402
from genomelearn.models.sequence import KmerBiLSTM  # noqa: E402
from genomelearn.training import ArraySource, predict  # noqa: E402
from genomelearn.validation import own_result
from genomelearn.workflow import get_logger, run_script  # noqa: E402


def main(smk):
    log = get_logger()
    p = smk.params.interpret
    os.makedirs(smk.output.figures, exist_ok=True)
    windows = pd.read_parquet(smk.input.windows)
    split = read_split(smk.input.split, len(windows))
    tokens = np.load(smk.input.tokens)
    labels = windows["label"].to_numpy()
    k_tok, k_count = smk.params.token_k, smk.params.count_k
    rng = np.random.default_rng(smk.params.seed)
    test = np.flatnonzero(split == "test")
    if len(test) > p["max_windows"]:
        test = np.sort(rng.choice(test, p["max_windows"], replace=False))
    saved = torch.load(own_result(smk.input.bilstm), map_location="cpu", weights_only=True)
    arch = {k: v for k, v in saved["architecture"].items() if k != "training"}
    model = KmerBiLSTM(vocab_size=kmer_vocab_size(k_tok), **arch)
    model.load_state_dict(saved["state_dict"])

    def predict_fn(tok):
        return predict(model, ArraySource([tok.astype(np.int64)]), batch_size=1024, device="cpu")[
            :, 1
        ]

    # 1. position-permutation importance (the course's method)
    positions = pd.DataFrame(
        position_permutation_importance(
            predict_fn, tokens[test], labels[test], p["permutation_position_bin"], smk.params.seed
        )
    )
    positions.to_csv(smk.output.positions, sep="\t", index=False, float_format="%.5f")
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar(
        positions["position_start"],
        positions["auroc_drop"],
        width=p["permutation_position_bin"],
        align="edge",
    )
    ax.set(
        xlabel="k-mer token position in window",
        ylabel="AUROC drop when permuted",
        title="BiLSTM position-permutation importance (test windows of CV fold 0)",
    )
    fig.tight_layout()
    fig.savefig(os.path.join(smk.output.figures, "position_importance.png"), dpi=120)
    plt.close(fig)

    # 2. most predictive k-mers: BiLSTM attributions and random-forest importances
    attributions = token_attributions(model, tokens[test], reference_token=4**k_tok + 1)
    ids, mean_attr, count = aggregate_by_token(tokens[test], attributions, min_count=3)
    valid = (ids >= 1) & (ids <= 4**k_tok)
    ids, mean_attr, count = ids[valid], mean_attr[valid], count[valid]
    top = p["top_kmers"]
    rows = []
    for direction, order in (
        ("introgressed", np.argsort(-mean_attr)[:top]),
        ("desert", np.argsort(mean_attr)[:top]),
    ):
        for kmer, value, n in zip(
            kmer_strings(ids[order] - 1, k_tok), mean_attr[order], count[order]
        ):
            rows.append(
                {
                    "method": "bilstm_attribution",
                    "kmer": kmer,
                    "k": k_tok,
                    "score": value,
                    "direction": direction,
                    "n_occurrences": int(n),
                }
            )
    forest = joblib.load(own_result(smk.input.forest))  # a pickle: only this run's own results/
    importance = forest.feature_importances_
    train = split == "train"
    codes = to_codes(windows["sequence"].to_numpy().astype("S"))
    counts = kmer_counts(kmer_tokens(codes, k_count), k_count)
    mean1 = np.asarray(counts[train & (labels == 1)].mean(axis=0)).ravel()
    mean0 = np.asarray(counts[train & (labels == 0)].mean(axis=0)).ravel()
    order = np.argsort(-importance)[:top]
    for kmer, j in zip(kmer_strings(order, k_count), order):
        rows.append(
            {
                "method": "random_forest_importance",
                "kmer": kmer,
                "k": k_count,
                "score": importance[j],
                "direction": "introgressed" if mean1[j] > mean0[j] else "desert",
                "n_occurrences": int(counts[:, j].sum()),
            }
        )
    pd.DataFrame(rows).to_csv(smk.output.kmers, sep="\t", index=False, float_format="%.6g")

    # 3. learned k-mer embeddings of the most frequent training k-mers, coloured by GC
    train_tokens = tokens[train].ravel()
    train_tokens = train_tokens[(train_tokens >= 1) & (train_tokens <= 4**k_tok)]
    uniq, freq = np.unique(train_tokens, return_counts=True)
    chosen = uniq[np.argsort(-freq)[:3000]]
    vectors = model.embedding.weight.detach().numpy()[chosen]
    kmers = kmer_strings(chosen - 1, k_tok)
    gc = np.array([(s.count("G") + s.count("C")) / k_tok for s in kmers])
    coords = {"PCA": PCA(n_components=2, random_state=smk.params.seed).fit_transform(vectors)}
    try:
        import umap

        coords["UMAP"] = umap.UMAP(random_state=smk.params.seed, n_jobs=1).fit_transform(vectors)
    except (
        ImportError
    ):  # umap-learn is a declared dependency; keep the PCA figure if it is missing
        log.warning("umap-learn not installed: skipping the UMAP of k-mer embeddings")
    fig, axes = plt.subplots(1, len(coords), figsize=(5 * len(coords), 4.2))
    for ax, (name, xy) in zip(np.atleast_1d(axes), coords.items()):
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=gc, s=4, cmap="viridis")
        ax.set(
            title=f"{name} of {len(chosen)} learned {k_tok}-mer embeddings",
            xlabel=f"{name} 1",
            ylabel=f"{name} 2",
        )
    fig.colorbar(sc, ax=axes, label="k-mer GC fraction")
    fig.savefig(os.path.join(smk.output.figures, "kmer_embeddings.png"), dpi=120)
    plt.close(fig)
    log.info("interpretation written for %d test windows", len(test))


run_script(main, snakemake)  # noqa: F821
