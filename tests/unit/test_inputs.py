"""Input resolution and downloads (genomelearn.io.inputs): no network is touched."""

from __future__ import annotations

import hashlib
import io
import urllib.error

import pytest

from genomelearn.errors import InputError
from genomelearn.io.inputs import (
    collect_checksums,
    download,
    missing_input_message,
    obtain_hint,
    resolve_local,
    sha256sum,
)


def test_resolve_local_prefers_path_then_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "a").mkdir(parents=True)
    (mirror / "a" / "x.txt").write_text("m")
    monkeypatch.chdir(tmp_path)
    found, tried = resolve_local("a/x.txt", mirror)
    assert found == mirror / "a" / "x.txt" and tried[0] == "a/x.txt"
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("local")
    assert resolve_local("a/x.txt", mirror)[0].read_text() == "local"
    assert resolve_local("a/missing.txt", mirror) == (
        None,
        ["a/missing.txt", str(mirror / "a" / "missing.txt")],
    )


def test_missing_input_message_names_path_mirror_and_source(tmp_path):
    path = "ancient_dna/nuclear_ancient_Sima/Sima.incisor.subset_test.GRCh37header.bam"
    tried = [path, str(tmp_path / path)]
    message = missing_input_message(path, tried, tmp_path)
    assert f"input {path} is missing" in message and ", ".join(tried) in message
    assert f"data_mirror: {tmp_path}" in message and "AuthentiCT" in message
    assert "config/README.md" in message and len(message.splitlines()) <= 10
    assert "none" in missing_input_message(path, tried, None)
    # longest prefix wins; a path outside the default data points to the user's own options
    assert "non-N" in obtain_hint("/introgression/reference/hg19_chr22_EPO_covered.bed")
    assert "maffilter" in obtain_hint("introgression/reference/hg19_chr22_EPO_subset.fa.gz")
    assert obtain_hint("my/own.bam").startswith("your own input")


def test_size_check_skips_inputs_not_on_disk_yet(tmp_path):
    from genomelearn.validation import singlecell_size_errors

    sc = {"n_neighbors": 15, "datasets": {"d": {"omics": {"rna": {"path": "x.h5ad"}}}}}
    pending = str(tmp_path / "resources" / "downloads" / "x.h5ad")
    assert singlecell_size_errors(sc, lambda path, url=None: pending) == []


def test_download_checks_sha256(tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(b"ACGT\n" * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    out = tmp_path / "dl" / "x.txt"
    lines = []
    assert download(source.as_uri(), out, sha256=digest.upper(), log=lines.append) == digest
    assert out.read_bytes() == source.read_bytes() and sha256sum(out) == digest
    assert any(digest in line for line in lines)
    assert not list(out.parent.glob(".part-*"))


def test_checksum_mismatch_is_a_clear_error_and_leaves_no_file(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("changed upstream")
    out = tmp_path / "dl" / "x.txt"
    with pytest.raises(InputError, match="checksum mismatch.*expected sha256 0{64}.*removed"):
        download(source.as_uri(), out, sha256="0" * 64, log=lambda line: None, retries=0)
    assert not out.exists() and not list(out.parent.iterdir())


def test_network_errors_are_retried(tmp_path, monkeypatch):
    monkeypatch.setattr("genomelearn.io.inputs.time.sleep", lambda seconds: None)
    calls = []

    def flaky(url, timeout):
        calls.append(url)
        if len(calls) < 3:
            raise urllib.error.URLError("connection reset")
        return io.BytesIO(b"data")

    out = tmp_path / "x.bin"
    download("https://example.org/x.bin", out, retries=2, log=lambda line: None, opener=flaky)
    assert len(calls) == 3 and out.read_bytes() == b"data"
    calls.clear()
    with pytest.raises(InputError, match="failed after 2 attempts: .*connection reset"):
        download("https://example.org/x.bin", tmp_path / "y", retries=1, log=print, opener=flaky)
    assert not (tmp_path / "y").exists()


def test_collect_checksums_next_to_url_and_by_path():
    config = {
        "a": {"datasets": {"d": {"bulk": {"path": "p", "url": "https://u/p", "sha256": "AB"}}}},
        "maps": {"consensus_url": "https://u/{n}", "sha256": {"maps/6.bed.gz": "cd"}},
        "b": [{"path": "q", "url": None, "sha256": None}],
    }
    assert collect_checksums(config) == {"https://u/p": "ab", "maps/6.bed.gz": "cd"}
