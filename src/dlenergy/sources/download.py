"""Checked, resumable download of a published archive and its atomic unpacking.

* :class:`ResumableHTTPDownloader` is a pooch downloader (pass it to :meth:`pooch.Pooch.fetch` or
  :func:`pooch.retrieve`).  pooch streams into a temporary file next to the target and moves it into
  place only when the checksum matches; before that, the bytes are collected in a persistent
  ``.<name>.part`` file: a transfer cut short (connection lost, server closed early, fewer bytes than
  the ``Content-Length`` or than the size the records API announced) raises
  :class:`IncompleteDownload`, keeps the part, and the next call resumes it with an HTTP ``Range``
  request (or starts over when the server ignores it).  A server that cannot be reached raises
  :class:`Unreachable`; an HTTP error status raises :class:`DownloadError`.  Every message is one line.
* :func:`fetch` downloads one URL with :func:`pooch.retrieve` (``known_hash`` required); a mismatch
  raises :class:`ChecksumError` and leaves no archive behind (the next call downloads again).
* :func:`unpack` checks the archive's hash again, extracts it (zip or tar) into a temporary folder
  next to the destination and renames that folder into place only when extraction finished: no
  partial dataset is ever at the destination, nothing is unpacked from an archive whose checksum
  does not match, and an archive with a member that would land outside the destination (absolute
  path, ``..``, a link pointing out) is refused as a whole.

Zenodo records (resolving a DOI's files, sizes and md5 checksums through the records API) are in
:mod:`dlenergy.sources.zenodo_api`, which uses these pieces.  Hashes use pooch's notation:
``sha256:<hex>`` (or a bare sha256), ``md5:<hex>`` (what Zenodo lists), ``sha1:...``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pooch

from ._common import atomic_dir

log = logging.getLogger(__name__)

UNPACK_INFO = ".dlenergy-unpacked.json"
CHUNK = 1 << 16  #: bytes per read; a cut connection loses at most the chunk in flight
TIMEOUT_S = 60
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")


class DownloadError(RuntimeError):
    """The archive could not be fetched or unpacked (the message is one line)."""


class ChecksumError(DownloadError):
    """The archive's checksum differs from the known one."""


class IncompleteDownload(DownloadError):
    """The server sent fewer bytes than announced; the part is kept for a resumed download."""


class Unreachable(DownloadError):
    """The server could not be reached (no network, name resolution, connection refused, timeout)."""


class SourceConfigError(ValueError):
    """A source's download is not configured correctly (says what to set)."""


def one_line(text: str) -> str:
    """``text`` with every run of white space (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def short_reason(exc: BaseException) -> str:
    """A short, one-line cause of a :mod:`requests` exception (``[Errno 111] Connection refused``).

    Examples
    --------
    >>> import requests
    >>> short_reason(requests.ConnectionError("Max retries exceeded (Caused by NewConnectionError("
    ...     "'<conn>: Failed to establish a new connection: [Errno 111] Connection refused'))"))
    '[Errno 111] Connection refused'
    >>> short_reason(requests.exceptions.ReadTimeout("read timed out"))
    'timed out (ReadTimeout)'
    """
    import requests

    if isinstance(exc, requests.exceptions.Timeout):
        return f"timed out ({type(exc).__name__})"
    m = _ERRNO.search(str(exc))
    if m:
        return m.group(0).strip().rstrip(".")
    text = one_line(str(exc))
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


@contextlib.contextmanager
def quiet_pooch() -> Iterator[None]:
    """Silence pooch's own INFO messages (it logs to stderr); dlenergy logs what it does itself."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def archive_name(url: str) -> str:
    """File name of the archive a URL points to (query and ``/content`` suffix of Zenodo API URLs dropped).

    Examples
    --------
    >>> archive_name("https://zenodo.org/api/records/7828518/files/seaa.zip/content")
    'seaa.zip'
    >>> archive_name("https://zenodo.org/records/11505891/files/data.zip?download=1")
    'data.zip'
    """
    path = unquote(urlparse(url).path)
    parts = [p for p in path.split("/") if p]
    if parts and parts[-1] == "content" and len(parts) > 1:
        parts = parts[:-1]
    name = parts[-1] if parts else "archive"
    if url.startswith("doi:"):
        name = url.rsplit("/", 1)[-1]
    return name


class ResumableHTTPDownloader:
    """A pooch downloader that keeps a ``.part`` file and resumes it with HTTP Range requests.

    Parameters
    ----------
    part_file : path
        Where the bytes received so far are kept between calls.
    timeout : float
        Seconds to wait for the connection and for each read.
    expected_size : int, optional
        Size the publisher announced (Zenodo's records API): a transfer that ends short of it is
        incomplete even when the server sent no ``Content-Length``.
    headers : dict, optional
        Extra request headers (pooch's user agent for Zenodo).
    """

    def __init__(
        self, part_file: Path, timeout: float = TIMEOUT_S, expected_size: int | None = None, headers: dict | None = None
    ):
        self.part_file = Path(part_file)
        self.timeout = timeout
        self.expected_size = expected_size
        self.headers = dict(headers or {})

    def __call__(self, url: str, output_file, pooch_obj, check_only: bool = False):
        import requests

        if check_only:
            r = requests.head(url, timeout=self.timeout, allow_redirects=True, headers=self.headers)
            return r.status_code == 200
        have = self.part_file.stat().st_size if self.part_file.is_file() else 0
        headers = {**self.headers, "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            r = requests.get(url, headers=headers, stream=True, timeout=self.timeout, allow_redirects=True)
        except requests.exceptions.RequestException as exc:
            raise Unreachable(f"cannot download {url} ({short_reason(exc)})") from exc
        with r:
            plan = self._plan(url, r, have)
            if plan is None:  # the part was already complete
                self._deliver(output_file)
                return None
            mode, start, total = plan
            got = self._stream(url, r, mode, start)
        total = total if total is not None else self.expected_size
        if total is not None and got != total:
            raise IncompleteDownload(
                f"{url}: got {got} of {total} bytes; the part is kept in {self.part_file}, run again to resume"
            )
        self._deliver(output_file)
        return None

    def _plan(self, url: str, r, have: int) -> tuple[str, int, int | None] | None:
        """(file mode, first byte, total size) for this response; None when the part is complete."""
        if have and r.status_code == 416:  # the part is already complete (or longer than the file)
            total = _total_from_range(r.headers.get("Content-Range"))
            if total is None:
                total = self.expected_size
            if total is not None and total == have:
                return None
            self.part_file.unlink(missing_ok=True)
            raise IncompleteDownload(f"{url}: stale partial download discarded ({have} bytes); run again")
        if r.status_code >= 400:
            raise DownloadError(f"{url}: HTTP {r.status_code} {r.reason or ''}".rstrip())
        if have and r.status_code == 206:
            return "ab", have, _total_from_range(r.headers.get("Content-Range"))
        length = r.headers.get("Content-Length", "")
        return "wb", 0, int(length) if length.isdigit() else None  # 200: the server ignored Range

    def _stream(self, url: str, r, mode: str, start: int) -> int:
        import requests

        self.part_file.parent.mkdir(parents=True, exist_ok=True)
        got = start
        try:
            with open(self.part_file, mode) as fh:
                for chunk in r.iter_content(chunk_size=CHUNK):
                    if chunk:
                        fh.write(chunk)
                        got += len(chunk)
        except requests.exceptions.RequestException as exc:
            raise IncompleteDownload(
                f"{url}: download interrupted ({short_reason(exc)}); {got} bytes kept in "
                f"{self.part_file}, run again to resume"
            ) from exc
        return got

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


def part_path(dest_dir: str | Path, fname: str) -> Path:
    """The ``.part`` file that collects ``fname``'s bytes in ``dest_dir`` until they are complete."""
    return Path(dest_dir) / f".{fname.replace('/', '_')}.part"


def checksum_error(where: str, exc: ValueError, hint: str) -> ChecksumError:
    """pooch's hash-mismatch ``ValueError`` as a one-line :class:`ChecksumError`."""
    return ChecksumError(one_line(f"{where}: checksum mismatch: {exc} Nothing was unpacked; {hint}"))


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
    downloader = ResumableHTTPDownloader(part_path(dest_dir, fname)) if scheme in ("http", "https") else None
    try:
        with quiet_pooch():
            path = pooch.retrieve(
                url, known_hash=known_hash, fname=fname, path=dest_dir, progressbar=False, downloader=downloader
            )
    except ValueError as exc:
        if "hash" in str(exc).lower():
            raise checksum_error(
                url, exc, "if the archive was updated on purpose, set known_hash to the new checksum"
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


class UnsafeArchive(DownloadError):
    """An archive member would land outside the destination (absolute path, ``..``, a link out)."""


def _inside(root: Path, name: str) -> bool:
    return (root / name).resolve().is_relative_to(root.resolve())


def _check_members(archive: Path, into: Path, members: list[tuple[str, str | None, str | None]]) -> None:
    """Refuse the whole archive if a member, or a link's target, would land outside ``into``.

    ``members``: (name, link text or None, the link's target as a path from the archive root or None).
    """
    for name, link, target in members:
        paths = [name] if link is None else [name, link]
        escapes = (
            any(os.path.isabs(p) for p in paths)
            or not _inside(into, name)
            or (target is not None and not _inside(into, target))
        )
        if escapes:
            where = name if link is None else f"{name} -> {link}"
            raise UnsafeArchive(
                f"{archive}: member {where!r} would be written outside the destination; refusing to unpack "
                f"(nothing was unpacked)"
            )


def _tar_member(m: tarfile.TarInfo) -> tuple[str, str | None, str | None]:
    if m.issym():  # relative to the link's folder
        return m.name, m.linkname, os.path.join(os.path.dirname(m.name), m.linkname)
    if m.islnk():  # relative to the archive root
        return m.name, m.linkname, m.linkname
    return m.name, None, None


def _extract(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DownloadError(f"{archive}: member {bad!r} is corrupt (CRC mismatch); refusing to unpack")
            _check_members(archive, into, [(m.filename, None, None) for m in zf.infolist()])
            zf.extractall(into)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            _check_members(archive, into, [_tar_member(m) for m in members])
            try:
                tf.extractall(into, members=members, filter="data")
            except tarfile.FilterError as exc:  # device files, odd modes: what the "data" filter refuses
                raise UnsafeArchive(f"{archive}: {one_line(exc)}; refusing to unpack (nothing was unpacked)") from exc
        return
    raise DownloadError(f"{archive}: not a zip or tar archive; nothing was unpacked")


def unpack(
    archive: str | Path, out_dir: str | Path, known_hash: str | None = None, *, meta: dict | None = None
) -> Path:
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
            raise DownloadError(
                f"{archive}: corrupt archive ({type(exc).__name__}: {one_line(exc)}); nothing was unpacked"
            ) from exc
        info = {"archive": archive.name, "known_hash": known_hash, **(meta or {})}
        (tmp / UNPACK_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return out_dir


def fetch_and_unpack(url: str, known_hash: str, out_dir: str | Path, cache_dir: str | Path | None = None) -> Path:
    """:func:`fetch` into ``cache_dir`` (default: next to ``out_dir``), then :func:`unpack` into ``out_dir``."""
    out_dir = Path(out_dir)
    cache_dir = Path(cache_dir) if cache_dir is not None else out_dir.parent / "download"
    archive = fetch(url, known_hash, cache_dir)
    return unpack(archive, out_dir, known_hash, meta={"url": url})
