"""Get a raw dataset file: download it (with a checksum) or take a user's local copy.

A download goes to a temporary file next to its destination while its SHA-256 is computed, and is
moved into place only when the checksum matches, so a failed or corrupted download leaves nothing
behind.  Where only a prefix of the SHA-256 is known (load-atoms publishes 12 hex digits) the
prefix is checked; where nothing is known the file is taken as is and its digest is reported.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

from .io import atomic_path

BLOCK = 1 << 20


class ChecksumError(RuntimeError):
    """A file's SHA-256 does not match the one the config expects."""


class AcquireError(RuntimeError):
    """A dataset file could be neither found locally nor downloaded."""


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: str | os.PathLike, expected: str | None, what: str) -> str:
    """Check `path` against a full SHA-256 or a prefix of one; return the actual digest."""
    actual = sha256(path)
    if expected and not actual.startswith(expected.lower()):
        raise ChecksumError(f"{what}: {path} has SHA-256 {actual}, expected "
                            f"{'one starting with ' if len(expected) < 64 else ''}{expected}. If this file is "
                            f"the one you mean to use, accept it with `{what}.sha256: {actual[:12]}` (or null)")
    return actual


def local_copy(path: str | os.PathLike, filename: str) -> Path:
    """A user's local copy: `path` itself if it is a file, or `path/filename` if it is a folder."""
    path = Path(path).expanduser()
    candidate = path / filename if path.is_dir() else path
    if not candidate.is_file():
        raise AcquireError(f"local copy {candidate} does not exist")
    return candidate


def download(url: str, destination: Path, progress=None) -> None:
    """Stream `url` to `destination` atomically (urllib: http, https and file URLs)."""
    with atomic_path(destination) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                total = response.headers.get("Content-Length")
                if progress is not None and total:
                    progress.reset(total=int(total))
                for block in iter(lambda: response.read(BLOCK), b""):
                    out.write(block)
                    if progress is not None:
                        progress.update(len(block))
        except OSError as error:  # URLError is an OSError; its traceback helps nobody
            raise AcquireError(f"Download {url} by hand (or copy it from a machine with internet) and "
                               f"set the config's `path:` to the file or its folder; downloading it here "
                               f"failed: {error}") from None


def acquire(destination: str | os.PathLike, *, url: str | None = None, path: str | None = None,
            sha256_expected: str | None = None, what: str = "dataset file", progress=None) -> dict:
    """Put the verified file at `destination` (a copy of `path` if given, else a download of
    `url`) and return provenance: where it came from and its SHA-256."""
    destination = Path(destination)
    filename = Path(url).name if url else destination.name
    if path:
        source = local_copy(path, filename)
        verify(source, sha256_expected, what)
        with atomic_path(destination) as tmp:
            tmp.unlink()
            try:  # a hard link costs no space (C-SYNTH-23M is GBs); else copy
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
        origin = str(source)
    elif url:
        download(url, destination, progress)
        origin = url
    else:
        raise AcquireError(f"{what}: neither `url` nor `path` is set in the config")
    try:
        digest = verify(destination, sha256_expected, what)
    except ChecksumError:
        destination.unlink(missing_ok=True)
        raise
    return {"origin": origin, "sha256": digest, "bytes": destination.stat().st_size,
            "checked_against": sha256_expected}
