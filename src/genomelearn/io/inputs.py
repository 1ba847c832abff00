"""Input resolution: a configured path, else the same path under a local data mirror, else a download.

The workflow reads public data. A user may have it anywhere; a site may keep a local mirror (the
default is the sibling ``../shared/data``); otherwise the file is fetched once from its public URL
(recorded in the config, from the data MANIFEST) into ``resources/downloads/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from genomelearn.errors import InputError


def resolve_input(
    path: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
    url: str | None = None,
    download_dir: str | os.PathLike = "resources/downloads",
) -> Path:
    """Return an existing local path for an input file.

    Order: ``path`` itself if it exists; else, for a relative ``path``, ``mirror / path``; else a
    previous download ``download_dir / path``; else ``url`` downloaded atomically to
    ``download_dir / path`` (written to a temporary file and renamed, so an interrupted download
    leaves nothing behind).

    Args:
        path: the configured path (absolute, or relative to the working directory or the mirror).
        mirror: directory of a local data mirror, or None.
        url: public URL of the file, or None.
        download_dir: where downloads are kept.

    Returns:
        Path of an existing file or directory.

    Raises:
        InputError: if no candidate exists and the download is impossible or fails; the message
            names the path, the mirror candidate and the URL tried.
    """
    candidate = Path(path)
    if candidate.exists():
        return candidate
    tried = [str(candidate)]
    relative = Path(str(path).lstrip("/")) if candidate.is_absolute() else candidate
    if mirror and not candidate.is_absolute():  # an absolute path means exactly that file
        in_mirror = Path(mirror) / relative
        if in_mirror.exists():
            return in_mirror
        tried.append(str(in_mirror))
    downloaded = Path(download_dir) / relative
    if downloaded.exists():
        return downloaded
    if url:
        downloaded.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=downloaded.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out)
            os.replace(tmp, downloaded)
            return downloaded
        except (urllib.error.URLError, OSError, ValueError) as exc:
            Path(tmp).unlink(missing_ok=True)
            raise InputError(
                f"input {path!s} not found: tried {', '.join(tried)}; download from {url} failed: {exc}"
            ) from exc
    raise InputError(
        f"input {path!s} not found: tried {', '.join(tried)}"
        + ("" if mirror else " (no data_mirror configured)")
        + "; no public URL configured for it"
    )
