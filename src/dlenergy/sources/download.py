"""Checked, resumable download of a published archive and its atomic unpacking.

* :func:`fetch` downloads with :func:`pooch.retrieve` (``known_hash`` required, ``progressbar=False``).
  pooch streams into a temporary file next to the target and moves it into place only when the
  checksum matches; a mismatch raises :class:`ChecksumError` and leaves no archive behind.  Over
  HTTP(S) the bytes are first collected in a persistent ``.<name>.part`` file: a download cut short
  (connection lost, server closed early) raises :class:`IncompleteDownload`, keeps the part, and the
  next call resumes it with an HTTP ``Range`` request (or starts over when the server ignores it).
* :func:`unpack` checks the archive's hash again, extracts it (zip or tar) into a temporary folder
  next to the destination and renames that folder into place only when extraction finished: no
  partial dataset is ever at the destination, and nothing is unpacked from an archive whose checksum
  does not match.
* :func:`source_spec` reads ``url`` and ``known_hash`` of a source from the config and says clearly
  what to set when they are missing.

Hashes use pooch's notation: ``sha256:<hex>`` (or a bare sha256), ``md5:<hex>`` (Zenodo lists md5
checksums on each record page), ``sha1:...``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pooch

from ._common import atomic_dir

log = logging.getLogger(__name__)

UNPACK_INFO = ".dlenergy-unpacked.json"
CHUNK = 1 << 16  #: bytes per read; a cut connection loses at most the chunk in flight
TIMEOUT_S = 60


class DownloadError(RuntimeError):
    """The archive could not be fetched or unpacked."""


class ChecksumError(DownloadError):
    """The archive's checksum differs from ``known_hash``."""


class IncompleteDownload(DownloadError):
    """The server sent fewer bytes than announced; the part is kept for a resumed download."""


class SourceConfigError(ValueError):
    """A source's download is not configured (missing ``url`` / ``known_hash``)."""


@dataclass(frozen=True)
class DownloadSpec:
    url: str
    known_hash: str
    fname: str


def archive_name(url: str) -> str:
    """File name of the archive a URL points to (query and ``/content`` suffix of Zenodo API URLs dropped)."""
    path = unquote(urlparse(url).path)
    parts = [p for p in path.split("/") if p]
    if parts and parts[-1] == "content" and len(parts) > 1:
        parts = parts[:-1]
    name = parts[-1] if parts else "archive"
    if url.startswith("doi:"):
        name = url.rsplit("/", 1)[-1]
    return name


def source_spec(source: str, src_cfg: dict) -> DownloadSpec:
    """``url``/``known_hash`` of a source, or :class:`SourceConfigError` telling the user what to set."""
    url = (src_cfg or {}).get("url")
    known_hash = (src_cfg or {}).get("known_hash")
    how = (
        f"set sources.{source}.url and sources.{source}.known_hash in config.yaml (or --config), "
        f"e.g. known_hash: 'md5:<checksum shown on the Zenodo record page>' or 'sha256:<hex>', "
        f"or pass --config data_dir=/path/to/the/unpacked/archive to use a copy you already have"
    )
    if not url:
        raise SourceConfigError(f"source '{source}': no download URL configured (url is null); {how}")
    if "PLACEHOLDER" in str(url).upper():
        raise SourceConfigError(f"source '{source}': the download URL {url!r} is a placeholder; {how}")
    if not known_hash or "PLACEHOLDER" in str(known_hash).upper():
        raise SourceConfigError(
            f"source '{source}': the archive at {url} has no known checksum (known_hash is {known_hash!r}); "
            f"refusing to analyse an unverified download; {how}"
        )
    return DownloadSpec(str(url), str(known_hash), archive_name(str(url)))


def checked_source_config(source: str, src_cfg: dict) -> dict:
    """``src_cfg`` as a plain dict once :func:`source_spec` accepts it (for a Snakemake params lambda)."""
    source_spec(source, src_cfg)
    return dict(src_cfg)


class ResumableHTTPDownloader:
    """A pooch downloader that keeps a ``.part`` file and resumes it with HTTP Range requests."""

    def __init__(self, part_file: Path, timeout: float = TIMEOUT_S):
        self.part_file = Path(part_file)
        self.timeout = timeout

    def __call__(self, url: str, output_file, pooch_obj, check_only: bool = False):
        import requests

        if check_only:
            r = requests.head(url, timeout=self.timeout, allow_redirects=True)
            return r.status_code == 200
        have = self.part_file.stat().st_size if self.part_file.is_file() else 0
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with requests.get(url, headers=headers, stream=True, timeout=self.timeout, allow_redirects=True) as r:
                if have and r.status_code == 416:  # the part is already complete (or longer than the file)
                    total = _total_from_range(r.headers.get("Content-Range"))
                    if total is not None and total == have:
                        self._deliver(output_file)
                        return None
                    self.part_file.unlink(missing_ok=True)
                    raise IncompleteDownload(f"{url}: stale partial download discarded ({have} bytes); try again")
                r.raise_for_status()
                if have and r.status_code == 206:
                    mode, start = "ab", have
                    total = _total_from_range(r.headers.get("Content-Range"))
                else:  # 200: the server ignored Range, start over
                    mode, start = "wb", 0
                    total = int(r.headers["Content-Length"]) if r.headers.get("Content-Length", "").isdigit() else None
                self.part_file.parent.mkdir(parents=True, exist_ok=True)
                got = start
                with open(self.part_file, mode) as fh:
                    for chunk in r.iter_content(chunk_size=CHUNK):
                        if chunk:
                            fh.write(chunk)
                            got += len(chunk)
        except requests.exceptions.RequestException as exc:
            kept = self.part_file.stat().st_size if self.part_file.is_file() else 0
            raise IncompleteDownload(
                f"{url}: download interrupted ({type(exc).__name__}: {exc}); {kept} bytes kept in "
                f"{self.part_file}, run again to resume"
            ) from exc
        if total is not None and got != total:
            raise IncompleteDownload(
                f"{url}: got {got} of {total} bytes; the part is kept in {self.part_file}, run again to resume"
            )
        self._deliver(output_file)
        return None

    def _deliver(self, output_file) -> None:
        # hand the complete part to pooch (which checks the hash, then moves it into place); the part is
        # gone afterwards, so a checksum mismatch means a fresh download next time
        if hasattr(output_file, "write"):
            with open(self.part_file, "rb") as fh:
                shutil.copyfileobj(fh, output_file)
            self.part_file.unlink()
        else:
            os.replace(self.part_file, output_file)


def _total_from_range(content_range: str | None) -> int | None:
    # "bytes 100-199/200" or "bytes */200"
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1].strip()
        return int(tail) if tail.isdigit() else None
    return None


def fetch(url: str, known_hash: str, dest_dir: str | Path, fname: str | None = None) -> Path:
    """Download ``url`` into ``dest_dir/fname`` unless a file with the right checksum is already there.

    Raises :class:`ChecksumError` when the downloaded bytes do not match ``known_hash`` (nothing is
    left at the target) and :class:`IncompleteDownload` when the transfer was cut short (the bytes so
    far are kept for the next call).
    """
    if not known_hash:
        raise SourceConfigError(f"{url}: known_hash is required (refusing to use an unverified download)")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    fname = fname or archive_name(url)
    scheme = urlparse(url).scheme.lower()
    downloader = ResumableHTTPDownloader(dest_dir / f".{fname}.part") if scheme in ("http", "https") else None
    try:
        path = pooch.retrieve(url, known_hash=known_hash, fname=fname, path=dest_dir, progressbar=False,
                              downloader=downloader)
    except ValueError as exc:
        if "hash" in str(exc).lower():
            raise ChecksumError(
                f"{url}: checksum mismatch: {exc}. The download was discarded and nothing was unpacked; "
                f"if the record was updated on purpose, set known_hash to the new checksum"
            ) from exc
        raise
    return Path(path)


def verify(archive: str | Path, known_hash: str) -> None:
    """Raise :class:`ChecksumError` unless ``archive`` matches ``known_hash``."""
    archive = Path(archive)
    if not archive.is_file():
        raise DownloadError(f"{archive}: archive not found")
    alg, _, want = known_hash.rpartition(":")
    alg = (alg or "sha256").lower()
    try:
        got = pooch.file_hash(str(archive), alg=alg)
    except ValueError as exc:  # unknown algorithm
        raise DownloadError(f"{archive}: cannot check known_hash {known_hash!r}: {exc}") from exc
    if got.lower() != want.strip().lower():
        raise ChecksumError(
            f"{archive}: checksum mismatch: {alg} is {got}, known_hash expects {want}; refusing to unpack it"
        )


def _safe_target(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise DownloadError(f"archive member {name!r} would be written outside {root}; refusing to unpack")
    return target


def _extract(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DownloadError(f"{archive}: member {bad!r} is corrupt (CRC mismatch); refusing to unpack")
            for m in zf.infolist():
                _safe_target(into, m.filename)
            zf.extractall(into)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for m in tf.getmembers():
                _safe_target(into, m.name)
            tf.extractall(into, filter="data")
        return
    raise DownloadError(f"{archive}: not a zip or tar archive")


def unpack(archive: str | Path, out_dir: str | Path, known_hash: str | None = None, *, meta: dict | None = None) -> Path:
    """Extract ``archive`` into ``out_dir`` atomically (temporary folder, then rename).

    With ``known_hash`` the archive is checked first and nothing is extracted on a mismatch.  A
    failure during extraction removes the temporary folder and leaves ``out_dir`` as it was.
    """
    archive, out_dir = Path(archive), Path(out_dir)
    if known_hash:
        verify(archive, known_hash)
    elif not archive.is_file():
        raise DownloadError(f"{archive}: archive not found")
    with atomic_dir(out_dir) as tmp:
        try:
            _extract(archive, tmp)
        except (zipfile.BadZipFile, zlib.error, tarfile.TarError, EOFError) as exc:
            raise DownloadError(f"{archive}: corrupt archive ({type(exc).__name__}: {exc}); nothing was unpacked") from exc
        info = {"archive": archive.name, "known_hash": known_hash, **(meta or {})}
        (tmp / UNPACK_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return out_dir


def fetch_and_unpack(url: str, known_hash: str, out_dir: str | Path, cache_dir: str | Path | None = None) -> Path:
    """:func:`fetch` into ``cache_dir`` (default: next to ``out_dir``), then :func:`unpack` into ``out_dir``."""
    out_dir = Path(out_dir)
    cache_dir = Path(cache_dir) if cache_dir is not None else out_dir.parent / "download"
    archive = fetch(url, known_hash, cache_dir)
    return unpack(archive, out_dir, known_hash, meta={"url": url})
