"""Training throughput of every torch model of genomelearn, CPU against GPU.

Every model trains through the workflow's own functions and the shared loop
(``genomelearn.training.fit``: AdamW, bf16 autocast and pinned-memory copies on CUDA, fp32 on CPU),
with the architectures and batch sizes of ``config/config.yaml``:

* introgression ``cnn`` (one-hot), ``bilstm`` (10-mer tokens) and ``transformer`` (k-mer tokens
  built from the one-hot inside the model; 4-mers every 2 bp, d = 64, 4 heads, 2 layers by default):
  synthetic 200-bp windows (uniform random bases), ``--windows`` of them;
* ancient DNA ``read_cnn``, ``damage_cnn`` and ``ends_cnn``: the real reads extracted by the default
  workflow (``results/ancient_dna/reads/*.parquet`` + ``splits.tsv``; ``--adna-results``), capped
  per class and individual as in the workflow; skipped with a note when absent;
* single-cell ``autoencoder`` (8 linear layers, 10-d bottleneck): synthetic sparse counts of
  ``--cells`` cells x 2,000 genes (as ``bench_singlecell.py``), batch 256, CSR rows densified per
  batch only;
* single-cell ``multimodal_autoencoder``: the same counts plus a second omic of 1,000 methylation
  rates per cell with half of the values missing (masked Bernoulli loss).

Rates are training items per second of the best of ``--epochs`` epochs (the first epoch on CUDA
includes kernel selection and warm-up); the validation pass is not timed. GPU columns read
"not measured" where ``torch.cuda`` is unavailable.

Usage: python benchmarks/bench_devices.py [--cells 100000] [--windows 20000] [--epochs 3]
       [--cpu-threads N] [--tsv table.tsv]
Prints one markdown table; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def _fit_rate(history) -> tuple[float, str]:
    rates = history["items_per_second"].astype(float)
    return float(rates.max()), ", ".join(f"{r:,.0f}" for r in rates)


def _train_config(block: dict, device: str, epochs: int, seed: int, base: dict):
    from genomelearn.training import TrainConfig

    values = {**base, **(block or {})}
    values.update(max_epochs=epochs, patience=epochs + 1, device=device, seed=seed)
    return TrainConfig.from_dict(values)


def introgression_jobs(config: dict, args):
    from genomelearn import encoding
    from genomelearn.introgression.deep import build_deep_model, model_input
    from genomelearn.training import ArraySource, classification_loss, fit

    rng = np.random.default_rng(args.seed)
    n_train, n_val = args.windows, max(512, args.windows // 10)
    codes = rng.integers(0, 4, size=(n_train + n_val, 200), dtype=np.uint8)
    labels = rng.integers(0, 2, n_train + n_val).astype(np.int64)
    intro = config["introgression"]
    token_k = int(intro.get("encoding", {}).get("token_k", 10))
    count_k = int(intro.get("encoding", {}).get("count_k", 6))
    one_hot, tokens = encoding.one_hot(codes), encoding.kmer_tokens(codes, token_k)
    for name in ("cnn", "bilstm", "transformer"):
        block = intro["deep_models"][name]

        def job(device, name=name, block=block):
            import torch

            torch.manual_seed(args.seed)
            inputs = model_input(name, one_hot, tokens, None)
            model = build_deep_model(name, block, 200, token_k, 4**count_k)
            cfg = _train_config(
                block.get("training"), device, args.epochs, args.seed, config.get("training", {})
            )
            result = fit(
                model,
                ArraySource([inputs[:n_train]], labels[:n_train]),
                ArraySource([inputs[n_train:]], labels[n_train:]),
                classification_loss,
                cfg,
            )
            return result, cfg.batch_size

        yield f"introgression {name}", "windows", f"{n_train:,} synthetic 200-bp windows", job


def adna_jobs(config: dict, args):
    import pandas as pd

    results = Path(args.adna_results)
    reads = sorted((results / "reads").glob("*.parquet"))
    if not reads or not (results / "splits.tsv").exists():
        yield (
            "ancient DNA read CNNs",
            "reads",
            f"not measured: no read tables under {results}/reads (run the workflow first)",
            None,
        )
        return
    from genomelearn.adna import pipeline as P
    from genomelearn.adna.samplesheet import load_sample_sheet

    adna = config["ancient_dna"]
    sheet = load_sample_sheet(REPO / adna.get("sample_sheet", "config/ancient_samples.tsv"))
    splits = pd.read_csv(results / "splits.tsv", sep="\t")
    paths = {
        s: results / "reads" / f"{s}.parquet"
        for s in sheet["sample"]
        if (results / "reads" / f"{s}.parquet").exists()
    }
    table = P.load_read_tables(paths, columns=P.META_COLUMNS + ["sequence", "reference"])
    frame = P.read_frame(table, sheet, splits)
    models = adna["models"]
    settings = {k: v for k, v in models.items() if k not in ("training", "overrides")}
    for kind in ("read_cnn", "damage_cnn", "ends_cnn"):
        block = {**models.get("training", {}), **models.get("overrides", {}).get(kind, {})}

        def job(device, kind=kind, block=block):
            cfg = _train_config(block, device, args.epochs, args.seed, config.get("training", {}))
            _, meta, result = P.train_read_model(kind, table, frame, settings, cfg)
            job.setup = f"{meta['n_train']:,} real training reads (default workflow)"
            return result, cfg.batch_size

        job.setup = "real reads of the default workflow"
        yield f"ancient DNA {kind}", "reads", job.setup, job


def singlecell_jobs(config: dict, args):
    import scipy.sparse as sp
    from bench_singlecell import synthetic_counts

    from genomelearn.singlecell import embed

    X = synthetic_counts(args.cells)
    rng = np.random.default_rng(args.seed)
    meth = rng.random((args.cells, 1000), dtype=np.float32)
    meth[rng.random(meth.shape) < 0.5] = np.nan
    sc = config["singlecell"]

    def settings(block):
        return embed.AutoencoderSettings(
            hidden=list(block["hidden"]),
            bottleneck=10,
            dropout=block["dropout"],
            validation_fraction=0.01,
        )

    def ae(device):
        block = sc["autoencoder"]
        cfg = _train_config(
            {**block.get("training", {}), "batch_size": 256},
            device,
            args.epochs,
            args.seed,
            config.get("training", {}),
        )
        _, _, result = embed.train_autoencoder(X, "gaussian", settings(block), cfg)
        return result, cfg.batch_size

    def mm(device):
        block = sc["multimodal_autoencoder"]
        cfg = _train_config(
            {**block.get("training", {}), "batch_size": 256},
            device,
            args.epochs,
            args.seed,
            config.get("training", {}),
        )
        _, _, result = embed.train_multimodal_autoencoder(
            [X, meth], ["gaussian", "bernoulli"], settings(block), cfg
        )
        return result, cfg.batch_size

    assert sp.issparse(X)
    yield (
        "single-cell autoencoder",
        "cells",
        f"{args.cells:,} synthetic cells x 2,000 genes (CSR, 5 % non-zero)",
        ae,
    )
    yield (
        "single-cell multimodal_autoencoder",
        "cells",
        f"{args.cells:,} cells: 2,000 genes (CSR) + 1,000 CpG rates (50 % missing)",
        mm,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--windows", type=int, default=20_000, help="synthetic introgression training windows"
    )
    parser.add_argument(
        "--cells", type=int, default=100_000, help="synthetic single-cell training cells"
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cpu-threads", type=int, default=min(os.cpu_count() or 1, 16))
    parser.add_argument("--adna-results", default=str(REPO / "results" / "ancient_dna"))
    parser.add_argument(
        "--only", nargs="*", default=None, help="substrings of the model names to run"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tsv", "--out", dest="tsv", default=None, help="also write the table here (TSV)"
    )
    args = parser.parse_args()

    import pandas as pd
    import torch
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    torch.set_num_threads(args.cpu_threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    gpu_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    rows = []
    for jobs in (introgression_jobs, adna_jobs, singlecell_jobs):
        for model, unit, setup, job in jobs(config, args):
            if args.only and not any(s in model for s in args.only):
                continue
            row = {"model": model, "unit": unit, "setup": setup}
            if job is None:
                rows.append(row)
                continue
            for device in devices:
                start = time.perf_counter()
                result, batch = job(device)
                best, per_epoch = _fit_rate(result.history)
                key = "gpu" if device == "cuda" else "cpu"
                row[f"{key}_rate"], row[f"{key}_per_epoch"] = best, per_epoch
                row[f"{key}_final_val_loss"] = float(result.history["val_loss"].iloc[-1])
                row["batch"] = batch
                row["setup"] = getattr(job, "setup", setup)
                print(
                    f"  measured: {model} on {result.device} ({time.perf_counter() - start:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            row["load_average_1min"] = os.getloadavg()[
                0
            ]  # other processes on the host depress the CPU rates
            rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("cpu_rate", "gpu_rate", "batch", "cpu_final_val_loss", "gpu_final_val_loss"):
        if column not in table:
            table[column] = np.nan
    print(
        f"# genomelearn training throughput, CPU vs GPU\n\nhost: {platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"CPU rows with {args.cpu_threads} torch threads; GPU: {gpu_name or 'none (not measured)'}; torch {torch.__version__}; "
        f"{args.epochs} epochs each, best epoch shown; 1-min load average after the rows: "
        f"{', '.join(f'{v:.1f}' for v in table.get('load_average_1min', pd.Series(dtype=float)).dropna())}.\n"
    )
    lines = [
        "| model | setup | batch | CPU items/s | GPU items/s | GPU / CPU | validation loss CPU / GPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        cpu_rate, gpu_rate = r.get("cpu_rate"), r.get("gpu_rate")
        cpu_s = f"{cpu_rate:,.0f} {r['unit']}/s" if pd.notna(cpu_rate) else "not measured"
        gpu_s = f"{gpu_rate:,.0f} {r['unit']}/s" if pd.notna(gpu_rate) else "not measured: no GPU"
        ratio = f"{gpu_rate / cpu_rate:.1f}×" if pd.notna(gpu_rate) and pd.notna(cpu_rate) else "—"
        batch = f"{int(r['batch'])}" if pd.notna(r.get("batch")) else "—"
        losses = " / ".join(
            f"{r[c]:.4f}" if pd.notna(r.get(c)) else "—"
            for c in ("cpu_final_val_loss", "gpu_final_val_loss")
        )
        lines.append(
            f"| {r['model']} | {r['setup']} | {batch} | {cpu_s} | {gpu_s} | {ratio} | {losses} |"
        )
    print("\n".join(lines))
    if args.tsv:
        table.to_csv(args.tsv, sep="\t", index=False)


if __name__ == "__main__":
    main()
