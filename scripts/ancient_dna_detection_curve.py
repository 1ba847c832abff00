"""Controlled damage benchmark, step 2: extract the simulated BAMs like the real ones, score every
read with the model bundles trained on the real data, the PMD score (Skoglund et al. 2014) and the
length-only model, and write AUROC / AUPRC (damaged vs undamaged copies of the same molecules, with
bootstrap CIs over molecules) per profile × terminal C→T rate × model, plus a figure."""

import numpy as np
import pandas as pd

from genomelearn.workflow import get_logger, run_script

MODEL_ORDER = [
    "pmd_score",
    "ends_cnn",
    "damage_cnn",
    "damage_nolength_cnn",
    "read_cnn",
    "length_only",
]


def main(smk):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genomelearn.adna import pipeline as P
    from genomelearn.adna.pmd import PMDParameters, pmd_scores_table
    from genomelearn.adna.reads import ExtractionSettings, extract_table
    from genomelearn.adna.samplesheet import load_sample_sheet

    log = get_logger()
    manifest = pd.read_csv(smk.input.manifest, sep="\t")
    settings = ExtractionSettings(**smk.params.extraction)
    pmd_params = PMDParameters(**{k: v for k, v in smk.params.pmd.items() if k != "threshold"})
    bundles = {}
    for path in smk.input.bundles:
        model, info = P.load_bundle(path)
        bundles[info["kind"]] = (model, info)
    # length-only model of the bundle round (its training reads), as in the real evaluation
    sheet = load_sample_sheet(smk.input.sheet)
    splits = pd.read_csv(smk.input.splits, sep="\t")
    table = P.load_read_tables(dict(zip(sheet["sample"], smk.input.reads)), columns=P.META_COLUMNS)
    frame = P.read_frame(table, sheet, splits)
    train = P.training_indices(
        frame, "train", smk.params.models["max_train_reads_per_class"], smk.params.seed
    )
    length_model = P.fit_length_model(
        frame["length"].to_numpy()[train],
        frame["y"].to_numpy()[train],
        smk.params.length_model["n_knots"],
    )
    scored = {}
    for row in manifest.itertuples():
        tbl, _ = extract_table(row.bam, row.condition, None, row.bam + ".bai", settings)
        names = tbl.column("name").to_numpy(zero_copy_only=False)
        mol = np.array([int(n.rsplit("_", 1)[1]) for n in names])
        scores = {
            "pmd_score": pmd_scores_table(tbl, pmd_params),
            "length_only": P.length_model_scores(length_model, tbl.column("length").to_numpy()),
        }
        for kind, (model, info) in bundles.items():
            scores[kind] = P.score_reads(model, info["meta"], tbl, device="cpu")
        scored[row.condition] = (mol, scores)
    base_mol, base_scores = scored["undamaged"]
    n_boot = smk.params.n_bootstrap
    rows = []
    for row in manifest[manifest["condition"] != "undamaged"].itertuples():
        mol, scores = scored[row.condition]
        common = np.intersect1d(base_mol, mol)  # molecules kept by the filters in both copies
        ia = np.searchsorted(base_mol, common, sorter=np.argsort(base_mol))
        ia = np.argsort(base_mol)[ia]
        ib = np.argsort(mol)[np.searchsorted(mol, common, sorter=np.argsort(mol))]
        y = np.r_[np.zeros(len(common), int), np.ones(len(common), int)]
        unit = np.r_[common, common + 10**9]  # bootstrap over molecules (one read per unit)
        for name in [m for m in MODEL_ORDER if m in scores]:
            s = np.r_[base_scores[name][ia], scores[name][ib]]
            order = np.argsort(-s, kind="stable")
            ss = s[order]
            last = np.r_[np.flatnonzero(np.diff(ss) != 0), len(ss) - 1]
            auroc, auprc = P._ranking_metrics_weighted(
                y[order].astype(float), last, np.ones(len(s))
            )
            ci = P.individual_bootstrap(y, s, unit, n_boot, smk.params.seed)
            rows.append(
                {
                    "profile": row.profile,
                    "terminal_ct": row.terminal_ct,
                    "model": name,
                    "n_molecules": len(common),
                    "auroc": auroc,
                    **{k: ci[k] for k in ("auroc_low", "auroc_high")},
                    "auprc": auprc,
                    **{k: ci[k] for k in ("auprc_low", "auprc_high")},
                }
            )
    curve = pd.DataFrame(rows)
    curve.to_csv(smk.output.curve, sep="\t", index=False, float_format="%.4f")
    log.info("detection curve:\n%s", curve.to_string(index=False))
    profiles = list(dict.fromkeys(curve["profile"]))
    fig, axes = plt.subplots(
        1, len(profiles), figsize=(4.2 * len(profiles), 3.6), sharey=True, squeeze=False
    )
    for ax, prof in zip(axes[0], profiles):
        part = curve[curve["profile"] == prof]
        for name in [m for m in MODEL_ORDER if m in set(part["model"])]:
            d = part[part["model"] == name].sort_values("terminal_ct")
            x = 100 * d["terminal_ct"].to_numpy()
            ax.plot(x, d["auroc"], marker="o", ms=3, label=name)
            ax.fill_between(x, d["auroc_low"], d["auroc_high"], alpha=0.2)
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_title(prof.replace("_", " "))
        ax.set_xlabel("terminal C→T rate (%)")
    axes[0][0].set_ylabel("AUROC, damaged vs undamaged copy")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(smk.output.figure, dpi=120)


run_script(main, snakemake)  # noqa: F821
