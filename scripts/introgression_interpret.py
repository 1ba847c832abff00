"""Interpretation of the BiLSTM, the random forest and, where trained, the transformer
(rule introgression_interpret).

BiLSTM: position-permutation importance, first-order k-mer attributions, k-mer embedding maps.
Random forest: impurity importances of k-mer counts. Transformer (fold 0, first seed): integrated
gradients aggregated to k-mers (``transformer_integrated_gradients`` rows of top_kmers.tsv) and a
per-base profile of mean |integrated gradients| and attention rollout
(figures/interpret/transformer_positions.png).
"""

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
from genomelearn.interpret import (  # noqa: E402
    position_permutation_importance,
    token_attributions,
    token_to_base_attributions,
    top_kmer_attributions,
    transformer_attributions,
)
from genomelearn.introgression.deep import build_deep_model  # noqa: E402
from genomelearn.introgression.io import read_split  # noqa: E402
from genomelearn.models.sequence import KmerBiLSTM  # noqa: E402
from genomelearn.training import ArraySource, predict  # noqa: E402
from genomelearn.validation import own_result
from genomelearn.workflow import get_logger, run_script  # noqa: E402


def interpret_transformer(smk, test, test_labels, top, figures):
    """Integrated gradients of the transformer on the test windows: top-k-mer rows and the
    per-base profile figure (mean |IG| by class, mean attention rollout)."""
    log = get_logger()
    saved = torch.load(own_result(smk.input.transformer), map_location="cpu", weights_only=True)
    one_hot = np.load(smk.input.one_hot, mmap_mode="r")
    model = build_deep_model(
        "transformer", saved["architecture"], one_hot.shape[1], smk.params.token_k, 0
    )
    model.load_state_dict(saved["state_dict"])
    result = transformer_attributions(
        model, np.asarray(one_hot[test]), steps=smk.params.interpret["integrated_gradients_steps"]
    )
    rows = [
        {"method": "transformer_integrated_gradients", **row}
        for row in top_kmer_attributions(
            result["tokens"], result["token_ig"], model.kmer, top, first_id=0
        )
    ]
    position = np.arange(model.length)
    magnitude = np.abs(result["base_ig"])
    fig, (ax_ig, ax_roll) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for label, name in ((1, "introgressed"), (0, "desert / negative")):
        chosen = test_labels == label
        if chosen.any():
            ax_ig.plot(position, magnitude[chosen].mean(0), label=f"{name} ({chosen.sum()})")
    ax_ig.set(
        ylabel="mean |integrated gradients|",
        title=(
            f"Transformer attributions by base (test windows of CV fold 0, "
            f"{smk.params.interpret['integrated_gradients_steps']} steps)"
        ),
    )
    ax_ig.legend(fontsize=8)
    ax_roll.plot(position, result["base_rollout"].mean(0), color="tab:green")
    spans = model.token_spans().numpy()
    uniform = token_to_base_attributions(
        np.full((1, len(spans)), 1 / len(spans)), spans, model.length
    )[0]  # equal attention to every token, spread like the rollout (edge bases have fewer tokens)
    ax_roll.plot(position, uniform, color="grey", lw=0.8, ls="--", label="uniform over tokens")
    ax_roll.set(xlabel="base position in window (bp)", ylabel="mean attention rollout")
    ax_roll.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(figures, "transformer_positions.png"), dpi=120)
    plt.close(fig)
    log.info(
        "transformer integrated gradients on %d test windows: mean |IG| per base %.4g",
        len(test),
        float(magnitude.mean()),
    )
    return rows


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
    top = p["top_kmers"]
    rows = [
        {"method": "bilstm_attribution", **row}
        for row in top_kmer_attributions(tokens[test], attributions, k_tok, top, first_id=1)
    ]
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
    if "transformer" in smk.input.keys():
        chosen = test
        if len(chosen) > p["transformer_windows"]:  # integrated gradients cost windows x steps
            chosen = np.sort(rng.choice(test, p["transformer_windows"], replace=False))
        rows += interpret_transformer(smk, chosen, labels[chosen], top, smk.output.figures)
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
