"""Input resolution and downloads (genomelearn.io.inputs): no network is touched."""

from __future__ import annotations

import hashlib
import io
import urllib.error

import pytest

from genomelearn.errors import InputError
from genomelearn.io.inputs import collect_checksums, download, resolve_local, sha256sum


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
