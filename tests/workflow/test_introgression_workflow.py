"""End to end: the introgression workflow on a tiny config of the real data, and its bad-input paths."""

import shutil

import pandas as pd
import pytest
import yaml

from tests.workflow.helpers import REPO, run_snakemake

CONFIG = REPO / "tests" / "workflow" / "configs" / "introgression_tiny.yaml"
pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_mirror):
    workdir = tmp_path_factory.mktemp("introgression")
    result = run_snakemake(workdir, CONFIG, "introgression")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_outputs_and_metrics(finished_run):
    out = finished_run / "results" / "introgression" / "tiny"
    metrics = pd.read_csv(out / "metrics.tsv", sep="\t")
    for column in (
        "auroc_ci_low",
        "auroc_ci_high",
        "auprc_ci_low",
        "auprc_ci_high",
        "auroc_minus_gc",
        "auroc_minus_gc_ci_low",
        "auroc_minus_gc_ci_high",
        "p_beats_gc",
        "n_blocks",
        "n_seeds",
        "auroc_seed_sd",
        "balanced_accuracy_ci_low",
        "spearman",
        "spearman_ci_low",
    ):
        assert column in metrics.columns, column
    blocks = metrics[metrics["protocol"] == "blocks"]
    assert set(blocks["labels"]) == {"deserts", "depleted", "support"}
    deserts = blocks[blocks["labels"] == "deserts"].set_index("model")
    assert set(deserts.index) == {"gc_logreg", "random_forest", "cnn", "bilstm", "transformer"}
    assert (deserts.loc[["cnn", "bilstm"], "n_seeds"] == 2).all() and deserts["auroc_seed_sd"].loc[
        ["cnn"]
    ].notna().all()
    binary = blocks[blocks["labels"] != "support"]
    assert (
        (binary["auroc_ci_low"] <= binary["auroc"]) & (binary["auroc"] <= binary["auroc_ci_high"])
    ).all()
    assert blocks[blocks["labels"] == "support"]["spearman"].between(-1, 1).all()
    assert set(metrics["protocol"]) == {"blocks", "random"}
    # every labelled window used by the setting is scored exactly once out of fold per model and seed
    oof = pd.read_parquet(out / "predictions_oof.parquet")
    assert {"window", "fold", "model", "seed", "score"} <= set(oof.columns)
    cv = oof[oof["protocol"] == "blocks"]
    assert not cv.duplicated(["labels", "matching", "model", "seed", "window"]).any()
    folds = pd.read_csv(out / "deserts" / "matched" / "folds.tsv", sep="\t")
    n_test = folds[(folds["fold"] >= 0) & (folds["role"] == "test")]["n_windows"].sum()
    assert (cv[cv["labels"] == "deserts"].groupby(["model", "seed"]).size() == n_test).all()
    verdict = pd.read_csv(out / "verdict.tsv", sep="\t")
    assert verdict["verdict"].str.contains("GC").all() and len(verdict) >= 3
    assert (out / "figures" / "evaluation" / "forest_blocks.png").exists()
    leakage = pd.read_csv(out / "leakage.tsv", sep="\t").set_index("split")
    # the random split puts test windows next to training windows; the block folds do not
    assert (
        leakage.loc["random", "share_test_within_1000bp_of_train"]
        > leakage.loc["fold0", "share_test_within_1000bp_of_train"]
    )
    assert (leakage.drop(index="random")["share_test_within_1000bp_of_train"] == 0).all()
    assert (leakage.drop(index="random")["test_blocks_shared_with_train"] == 0).all()
    genes = pd.read_csv(out / "gene_scores.tsv", sep="\t")
    assert {
        "gene_name",
        "chrom",
        "start",
        "end",
        "fold",
        "n_windows",
        "mean_probability",
        "max_probability",
    } <= set(genes.columns)
    assert genes["mean_probability"].between(0, 1).all() and len(genes) > 50
    kmers = pd.read_csv(out / "deserts" / "matched" / "interpret" / "top_kmers.tsv", sep="\t")
    assert set(kmers["method"]) == {
        "bilstm_attribution",
        "random_forest_importance",
        "transformer_integrated_gradients",
    }
    ig = kmers[kmers["method"] == "transformer_integrated_gradients"]
    assert len(ig) == 10 and (ig["k"] == 4).all() and ig["kmer"].str.fullmatch("[ACGT]{4}").all()
    figures = out / "deserts" / "matched" / "figures" / "interpret"
    assert (figures / "kmer_embeddings.png").exists()
    assert (figures / "transformer_positions.png").exists()
    windows = pd.read_parquet(out / "deserts" / "windows.parquet")
    assert list(windows.columns[:8]) == [
        "chrom",
        "start",
        "end",
        "label",
        "gc",
        "n_fraction",
        "repeat_fraction",
        "block",
    ]
    support = pd.read_parquet(out / "support" / "windows.parquet")
    assert (
        support["support"].between(0, 12).all()
        and (support["label"] == (support["support"] > 0)).all()
    )


def test_rerun_is_reproducible(finished_run, tmp_path):
    """A second run from scratch gives identical predictions on CPU."""
    again = tmp_path / "again"
    rel = "results/introgression/tiny/deserts/matched/models/cnn/fold1/seed1/predictions.parquet"
    result = run_snakemake(again, CONFIG, rel)
    assert result.returncode == 0, result.stderr[-3000:]
    pd.testing.assert_frame_equal(
        pd.read_parquet(finished_run / rel), pd.read_parquet(again / rel)
    )


def test_report_builds(finished_run):
    result = run_snakemake(finished_run, CONFIG, "introgression", "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (finished_run / "report.html").stat().st_size > 10_000


def _config_with(tmp_path, **changes):
    cfg = yaml.safe_load(CONFIG.read_text())
    ds = cfg["introgression"]["datasets"]["tiny"]
    ds.update(changes)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_config_typo_fails_before_running(tmp_path, data_mirror):
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["introgression"]["windows"]["lenght"] = 100
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = run_snakemake(tmp_path / "wd", path, "introgression", "-n")
    assert result.returncode != 0
    assert "lenght" in result.stdout + result.stderr


def test_malformed_bed_names_file_and_line_and_leaves_no_output(tmp_path, data_mirror):
    bad = tmp_path / "bad.bed"
    bad.write_text("chr22\t20000000\t20100000\nchr22\t30000000\t29000000\n")
    path = _config_with(tmp_path, introgressed={"source": "bed", "path": str(bad)})
    workdir = tmp_path / "wd"
    result = run_snakemake(workdir, path, "results/introgression/tiny/deserts/regions.bed")
    assert result.returncode != 0
    assert "bad.bed line 2: end 29000000 < start 30000000" in result.stderr
    assert not (
        workdir / "results" / "introgression" / "tiny" / "deserts" / "regions.bed"
    ).exists()


def test_unknown_contig_and_missing_input(tmp_path, data_mirror):
    path = _config_with(tmp_path, contigs=["chr99"])
    result = run_snakemake(tmp_path / "wd", path, "results/introgression/tiny/deserts/regions.bed")
    assert result.returncode != 0 and "chr99" in result.stderr
    path = _config_with(tmp_path, deserts={"path": "no/such/deserts.bed"})
    # a dry run plans it as a missing_input job; a real run stops before any job, naming it
    result = run_snakemake(tmp_path / "wd2", path, "introgression", "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "output: resources/missing/no/such/deserts.bed" in result.stdout
    result = run_snakemake(tmp_path / "wd2", path, "introgression")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "no/such/deserts.bed" in output and "tried" in output and "no public URL" in output
    assert "Execute" not in output and not (tmp_path / "wd2" / "results").exists()


def test_fasta_without_index_fails_clearly(tmp_path, data_mirror):
    fa = tmp_path / "ref.fa.gz"
    shutil.copy(data_mirror / "introgression/reference/hg19_chr22_EPO_subset.fa.gz", fa)
    path = _config_with(tmp_path, reference={"path": str(fa)})
    workdir = tmp_path / "wd"
    result = run_snakemake(workdir, path, "results/introgression/tiny/deserts/windows.parquet")
    assert result.returncode != 0
    assert "no index" in result.stderr and "ref.fa.gz" in result.stderr
    assert not (workdir / "results/introgression/tiny/deserts/windows.parquet").exists()
