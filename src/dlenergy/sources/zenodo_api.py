"""Zenodo records through pooch: resolve a pinned record's files, download one (md5-checked, resumable).

At run time, for a source configured as ``zenodo: {doi: 10.5281/zenodo.<id>, file: null}``:

1. :func:`resolve_record` asks Zenodo's records API, ``GET <zenodo_api><id>``, for the record's
   files: name, size, md5 checksum and download link (:class:`FileSpec`).  The parsing is pooch's
   :class:`pooch.downloaders.ZenodoRepository` (the class behind ``doi:`` URLs and
   :meth:`pooch.Pooch.load_registry_from_doi`): its ``populate_registry`` fills a pooch registry
   (``name -> "md5:<hex>"``) and its ``download_url`` gives each file's link.
2. :func:`fetch_record_file` downloads the chosen file with :meth:`pooch.Pooch.fetch` (registry =
   the API's md5, ``urls`` = the API's link; pooch streams into a temporary file, checks the md5 and
   only then moves it into place) through
   :class:`~dlenergy.sources.download.ResumableHTTPDownloader` (a ``.part`` file resumed with
   ``Range``; the API's size detects a short transfer).
3. :func:`fetch_source` (the library entry point; the CLI's ``dlenergy fetch``) then unpacks it
   atomically with :func:`dlenergy.sources.download.unpack` (md5 checked again, unsafe members
   refused).  The rule scripts split this in two: :func:`download_source` and :func:`unpack_download`.

Every failure is a :class:`~dlenergy.sources.download.DownloadError` with a one-line message; at
source level (:func:`source_errors`) it names the source and ends with "pass data_dir=PATH ... to use
an unpacked copy".

Why a subclass of pooch's ``ZenodoRepository`` (:class:`ZenodoRecord`) instead of pooch's
``DOIDownloader`` / ``Pooch.load_registry_from_doi()`` as they are:

* Base URLs.  pooch resolves a DOI by following ``https://doi.org/<doi>`` (``doi_to_url``),
  accepts the result only when its host is exactly ``zenodo.org``, and reads the API at the class
  constant ``https://zenodo.org/api/records``.  None of these can point at a local test server, so
  the tested code path could not be the run-time one.  :class:`ZenodoRecord` takes the API base
  from the config (``zenodo_api``; tests: ``http://127.0.0.1:<port>/api/records/``) and everything
  after that is the same code at run time and in the tests.
* No doi.org hop.  A Zenodo DOI is ``10.5281/zenodo.<record id>`` by construction, and the doi.org
  redirect of a version DOI ends at ``https://zenodo.org/records/<record id>``: exactly the archive
  URL pooch's ``doi_to_repository`` would hand to ``ZenodoRepository``; :class:`ZenodoRecord` builds
  it from the DOI directly.  This keeps the record pinned (a *concept* DOI would redirect to the
  newest version) and removes a second third-party service from the run.  If the API answers with a
  different record id (a concept record), a warning names both ids.
* Errors.  pooch's ``api_response`` does not check the HTTP status (a 404's JSON becomes a
  ``KeyError`` later, a 500 page a ``JSONDecodeError``); the override turns each failure into one line.
* JSON shapes.  pooch 1.9 handles a list of files with ``key`` / ``checksum: "md5:..."`` /
  ``links.self`` (what ``/api/records/<id>`` serves; pooch's "legacy") and a list with ``filename`` /
  bare ``checksum`` / ``filesize`` (pooch's "new", whose link it hard-codes to ``https://zenodo.org``).
  It fails on InvenioRDM's ``files: {entries: {name: {checksum, size, links: {content}}}}``; the
  subclass adds that shape ("entries", a dict or a list) and builds the "new" shape's link from the
  configured site.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pooch
from pooch.downloaders import REQUESTS_HEADERS, ZenodoRepository

from ..io import write_text
from .download import (
    TIMEOUT_S,
    ChecksumError,
    DownloadError,
    ResumableHTTPDownloader,
    SourceConfigError,
    Unreachable,
    checksum_error,
    one_line,
    part_path,
    quiet_pooch,
    short_reason,
    unpack,
    verify,
)

log = logging.getLogger(__name__)

#: Zenodo's records API; a record is ``<ZENODO_API><record id>`` (config: ``zenodo_api``)
ZENODO_API = "https://zenodo.org/api/records/"
#: the end of every source-level error message
DATA_DIR_HINT = "pass data_dir=PATH (snakemake --config data_dir=PATH) to use an unpacked copy instead"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
_ZENODO_DOI = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?10\.5281/zenodo\.(\d+)/?$", re.IGNORECASE)
_RECORD_URL = re.compile(r"^https?://[^/]+/(?:api/)?records?/(\d+)/?$")
_HASH = re.compile(r"^(?:(md5|sha1|sha256|sha512):)?([0-9a-fA-F]+)$")


class ZenodoAPIError(DownloadError):
    """Zenodo's records API could not say what to download (HTTP error, malformed JSON, no such file)."""


class ZenodoUnreachable(ZenodoAPIError, Unreachable):
    """Zenodo's records API could not be reached (offline, name resolution, connection refused)."""


@dataclass(frozen=True)
class FileSpec:
    """One file of a Zenodo record as the records API describes it."""

    name: str
    url: str
    size: int | None
    md5: str  #: hex digest, without the ``md5:`` prefix

    @property
    def known_hash(self) -> str:
        """The checksum in pooch's notation (``md5:<hex>``)."""
        return f"md5:{self.md5}"


@dataclass(frozen=True)
class ZenodoSpec:
    """Where a source's data is on Zenodo (``sources.<name>.zenodo`` in the config)."""

    doi: str
    record: str
    file: str | None = None
    known_hash: str | None = None


def record_id(doi_or_record: str | int) -> str:
    """The record id of a Zenodo DOI, record URL or id.

    Examples
    --------
    >>> record_id("10.5281/zenodo.11505891"), record_id("doi:10.5281/zenodo.7828518")
    ('11505891', '7828518')
    >>> record_id("https://zenodo.org/records/7828518"), record_id(7828518)
    ('7828518', '7828518')
    """
    text = str(doi_or_record).strip()
    if text.isdigit():
        return text
    for pattern in (_ZENODO_DOI, _RECORD_URL):
        m = pattern.match(text)
        if m:
            return m.group(1)
    raise SourceConfigError(f"{text!r} is not a Zenodo DOI (10.5281/zenodo.<record id>), record URL or record id")


def _site(api_base: str) -> str:
    """``https://zenodo.org`` from ``https://zenodo.org/api/records/``."""
    base = api_base.rstrip("/")
    for tail in ("/api/records", "/records"):
        if base.endswith(tail):
            return base[: -len(tail)]
    return base


class ZenodoRecord(ZenodoRepository):
    """pooch's :class:`~pooch.downloaders.ZenodoRepository` for a pinned record at a configurable API.

    Parameters
    ----------
    doi_or_record : str or int
        ``10.5281/zenodo.<id>``, a record URL, or the id.
    api_base : str
        The records API (``https://zenodo.org/api/records/``); the record is ``<api_base><id>``.
    timeout : float
        Seconds for the connection and each read.
    """

    def __init__(self, doi_or_record: str | int, api_base: str = ZENODO_API, timeout: float = TIMEOUT_S):
        rid = record_id(doi_or_record)
        self.site = _site(api_base)
        super().__init__(
            f"10.5281/zenodo.{rid}", f"{self.site}/records/{rid}", timeout=timeout, headers=dict(REQUESTS_HEADERS)
        )
        self.record = rid
        self.base_api_url = api_base.rstrip("/")  # pooch's class constant, per instance
        self.api_url = f"{self.base_api_url}/{rid}"

    @property
    def api_response(self) -> dict:
        """The record's JSON (fetched once), or a one-line :class:`ZenodoAPIError`."""
        if self._api_response is None:
            import requests

            what = f"Zenodo records API {self.api_url}"
            try:
                r = requests.get(self.api_url, **self.kwargs)
            except requests.exceptions.RequestException as exc:
                raise ZenodoUnreachable(f"cannot reach the {what} ({short_reason(exc)})") from exc
            if r.status_code != 200:
                hint = " (no such record)" if r.status_code in (404, 410) else ""
                raise ZenodoAPIError(f"the {what} answered HTTP {r.status_code} {r.reason or ''}".rstrip() + hint)
            try:
                data = r.json()
            except ValueError as exc:
                raise ZenodoAPIError(f"the {what} sent malformed JSON ({one_line(exc)})") from exc
            if not isinstance(data, dict) or not isinstance(data.get("files"), list | dict):
                raise ZenodoAPIError(f"the {what} sent JSON without a 'files' list or 'files.entries'")
            self._api_response = data
        return self._api_response

    @property
    def api_version(self) -> str:
        """pooch's "legacy" (``key``) or "new" (``filename``) list, or "entries" (``files.entries``)."""
        if self._api_version is None:
            files = self.api_response["files"]
            if isinstance(files, dict):
                if not isinstance(files.get("entries"), dict | list):
                    raise ZenodoAPIError(f"{self.api_url}: 'files' has no 'entries' (files not public?)")
                self._api_version = "entries"
            else:
                try:
                    super().api_version  # noqa: B018 (pooch's detection, cached by pooch)
                except (ValueError, TypeError) as exc:
                    raise ZenodoAPIError(f"{self.api_url}: unknown file list ({one_line(exc)})") from exc
        return self._api_version

    def _entries(self) -> dict[str, dict]:
        entries = self.api_response["files"]["entries"]
        if isinstance(entries, list):
            return {e["key"]: e for e in entries}
        return {e.get("key", name): e for name, e in entries.items()}

    def download_url(self, file_name: str) -> str:
        """The link of ``file_name`` (pooch's lookup; "entries" and "new" links from the configured site)."""
        try:
            if self.api_version == "entries":
                links = self._entries()[file_name]["links"]
                return links.get("content") or links["self"]
            if self.api_version == "new":
                super().download_url(file_name)  # pooch's check that the file is there
                return f"{self.site}/records/{self.api_response['id']}/files/{quote(file_name)}?download=1"
            return super().download_url(file_name)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ZenodoAPIError(f"{self.api_url}: file {file_name!r} has no download link ({exc!r})") from exc
        except ValueError as exc:  # pooch: not in the record
            raise ZenodoAPIError(one_line(exc)) from exc

    def populate_registry(self, pooch_obj) -> None:
        """Fill ``pooch_obj.registry`` with ``name -> "md5:<hex>"`` (as ``Pooch.load_registry_from_doi``)."""
        try:
            if self.api_version == "entries":
                for name, e in self._entries().items():
                    pooch_obj.registry[name] = e["checksum"]
            else:
                super().populate_registry(pooch_obj)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ZenodoAPIError(f"{self.api_url}: a file entry lacks its name or checksum ({exc!r})") from exc

    def _size(self, name: str) -> int | None:
        if self.api_version == "entries":
            size = self._entries()[name].get("size")
        else:
            key, field = ("key", "size") if self.api_version == "legacy" else ("filename", "filesize")
            size = next((f.get(field) for f in self.api_response["files"] if f.get(key) == name), None)
        return int(size) if isinstance(size, int | float) and size >= 0 else None

    def files(self) -> list[FileSpec]:
        """Every file of the record: name, link, size and md5, in the record's order."""
        holder = SimpleNamespace(registry={})
        self.populate_registry(holder)
        out = []
        for name, checksum in holder.registry.items():
            alg, _, digest = str(checksum).rpartition(":")
            if (alg or "md5").lower() != "md5" or not re.fullmatch(r"[0-9a-fA-F]{32}", digest):
                raise ZenodoAPIError(f"{self.api_url}: file {name!r} has no md5 checksum ({checksum!r})")
            out.append(FileSpec(name, self.download_url(name), self._size(name), digest.lower()))
        if str(self.api_response.get("id", self.record)) != self.record:
            log.warning(
                "record %s: the API answered with record %s (a concept record follows the newest "
                "version); its files are used",
                self.record,
                self.api_response.get("id"),
            )
        return out


def resolve_record(
    doi_or_record: str | int, api_base: str = ZENODO_API, file: str | None = None, *, timeout: float = TIMEOUT_S
) -> list[FileSpec]:
    """The files of a Zenodo record (or those matching ``file``) from its records API.

    Parameters
    ----------
    doi_or_record : str or int
        ``10.5281/zenodo.<id>``, a record URL, or the id (pinned: no doi.org redirect).
    api_base : str
        The records API, default :data:`ZENODO_API`.
    file : str, optional
        A file name or glob; None: all files.

    Returns
    -------
    list of FileSpec
        Name, download link, size in bytes and md5 of each file.

    Raises
    ------
    ZenodoUnreachable, ZenodoAPIError
        One-line messages: the API cannot be reached, answers an HTTP error or malformed JSON, or
        no file matches ``file``.

    Examples
    --------
    >>> files = resolve_record("10.5281/zenodo.7828518")  # doctest: +SKIP
    >>> [(f.name, f.size) for f in files]  # doctest: +SKIP
    """
    repo = ZenodoRecord(doi_or_record, api_base, timeout)
    files = repo.files()
    if file is None:
        return files
    hits = [f for f in files if f.name == file] or [f for f in files if fnmatch.fnmatchcase(f.name, file)]
    if not hits:
        names = ", ".join(f.name for f in files) or "none"
        raise ZenodoAPIError(f"record {repo.record} has no file matching {file!r} (its files: {names})")
    return hits


def select_file(files: list[FileSpec], file: str | None, record: str) -> FileSpec:
    """The one file to download: the match of ``file``, else the record's single archive."""
    if not files:
        raise ZenodoAPIError(f"record {record} lists no files (restricted or embargoed?)")
    cand = files if file is not None else [f for f in files if f.name.lower().endswith(ARCHIVE_SUFFIXES)]
    if len(cand) == 1:
        return cand[0]
    names = ", ".join(f.name for f in (cand or files)) or "none"
    what = f"{len(cand)} files match {file!r}" if file is not None else f"{len(cand)} archives"
    raise ZenodoAPIError(f"record {record} has {what} ({names}); name the one to use (zenodo.file / --file)")


def local_name(name: str) -> str:
    """A file name safe to create in a folder (a record's file name may hold ``/`` or start with dots).

    Examples
    --------
    >>> local_name("GAISSA-UPC/seaa2023_ect-v1.0.zip"), local_name("../x.zip")
    ('GAISSA-UPC_seaa2023_ect-v1.0.zip', 'x.zip')
    """
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._") or "archive"


def check_pin(spec: FileSpec, known_hash: str | None, record: str) -> None:
    """Raise :class:`ChecksumError` when an md5 pin differs from what the records API reports."""
    if not known_hash:
        return
    alg, _, want = known_hash.rpartition(":")
    if (alg or "sha256").lower() == "md5" and want.strip().lower() != spec.md5:
        raise ChecksumError(
            f"record {record}: file {spec.name} has md5 {spec.md5} on Zenodo, but known_hash pins md5 "
            f"{want.strip().lower()}; the record's file changed or the pin is wrong (nothing was downloaded)"
        )


def fetch_record_file(
    spec: FileSpec,
    dest_dir: str | Path,
    *,
    fname: str | None = None,
    known_hash: str | None = None,
    timeout: float = TIMEOUT_S,
    record: str = "?",
) -> Path:
    """Download one file of a record with pooch into ``dest_dir`` (md5-checked, resumable).

    Nothing is downloaded when ``dest_dir/fname`` is already there with the API's md5.  A pinned
    ``known_hash`` must agree with the API (md5) or with the downloaded bytes (another algorithm).

    Parameters
    ----------
    spec : FileSpec
        The file, from :func:`resolve_record`.
    dest_dir : path
        Download folder (the ``.part`` file of an interrupted transfer is kept there).
    fname : str, optional
        Local file name; default :func:`local_name` of the record's name.
    known_hash : str, optional
        ``md5:<hex>`` (checked against the API before downloading) or ``sha256:<hex>`` (checked after).

    Returns
    -------
    Path
        The verified file.

    Raises
    ------
    ChecksumError
        The bytes do not match the md5 (nothing kept: the next call downloads again) or the pin.
    IncompleteDownload
        The transfer was cut short; the part is kept and the next call resumes it.
    Unreachable, DownloadError
        The server cannot be reached, or answered an HTTP error.
    """
    check_pin(spec, known_hash, record)
    dest_dir = Path(dest_dir)
    fname = fname or local_name(spec.name)
    repo = pooch.create(
        path=dest_dir,
        base_url=f"{spec.url.rsplit('/', 1)[0]}/",
        registry={fname: spec.known_hash},
        urls={fname: spec.url},
    )
    downloader = ResumableHTTPDownloader(
        part_path(dest_dir, fname), timeout=timeout, expected_size=spec.size, headers=dict(REQUESTS_HEADERS)
    )
    try:
        with quiet_pooch():
            path = Path(repo.fetch(fname, downloader=downloader))
    except ValueError as exc:  # pooch: the md5 of the downloaded bytes differs from the API's
        raise checksum_error(f"record {record}: {spec.name}", exc, "the next run downloads it again") from exc
    if known_hash and not known_hash.lower().startswith("md5:"):
        verify(path, known_hash)
    return path


def zenodo_spec(source: str, src_cfg: dict | None) -> ZenodoSpec:
    """A source's ``zenodo: {doi, file, known_hash}`` block, or :class:`SourceConfigError` saying what to set."""
    block = (src_cfg or {}).get("zenodo") or {}
    where = f"sources.{source}.zenodo"
    if not isinstance(block, dict) or not block.get("doi"):
        raise SourceConfigError(
            f"source '{source}': no Zenodo record configured; set {where}.doi (10.5281/zenodo.<record id>), or "
            f"{DATA_DIR_HINT}"
        )
    try:
        rid = record_id(block["doi"])
    except SourceConfigError as exc:
        raise SourceConfigError(f"source '{source}': {where}.doi: {exc}; {DATA_DIR_HINT}") from exc
    known_hash = block.get("known_hash")
    if known_hash is not None and not _HASH.match(str(known_hash).strip()):
        raise SourceConfigError(
            f"source '{source}': {where}.known_hash {known_hash!r} is not 'md5:<hex>' or 'sha256:<hex>'"
        )
    return ZenodoSpec(str(block["doi"]), rid, block.get("file"), str(known_hash).strip() if known_hash else None)


def checked_source_config(source: str, src_cfg: dict) -> dict:
    """``src_cfg`` as a plain dict once :func:`zenodo_spec` accepts it (for a Snakemake params lambda)."""
    zenodo_spec(source, src_cfg)
    return dict(src_cfg)


@contextlib.contextmanager
def source_errors(source: str) -> Iterator[None]:
    """Re-raise a :class:`DownloadError` as one line naming ``source`` and ending with the data_dir hint."""
    try:
        yield
    except DownloadError as exc:
        raise type(exc)(one_line(f"source '{source}': {exc}; {DATA_DIR_HINT}")) from exc


def download_source(
    source: str,
    src_cfg: dict,
    archive: str | Path,
    *,
    api_base: str = ZENODO_API,
    spec_file: str | Path | None = None,
    timeout: float = TIMEOUT_S,
) -> FileSpec:
    """Resolve the source's pinned record and download its archive to ``archive``.

    ``spec_file`` (default ``<archive>.json``, :func:`spec_path`) records the :class:`FileSpec`
    (name, link, size, md5) and the record, so :func:`unpack_download` checks the archive again
    without asking the API.  Errors: one line naming the source (:func:`source_errors`).
    """
    spec = zenodo_spec(source, src_cfg)
    archive = Path(archive)
    with source_errors(source):
        files = resolve_record(spec.record, api_base, spec.file, timeout=timeout)
        chosen = select_file(files, spec.file, spec.record)
        log.info(
            "record %s (%s): %s, %s bytes, md5 %s, from %s",
            spec.record,
            spec.doi,
            chosen.name,
            chosen.size,
            chosen.md5,
            chosen.url,
        )
        fetch_record_file(
            chosen, archive.parent, fname=archive.name, known_hash=spec.known_hash, timeout=timeout, record=spec.record
        )
    info = {**asdict(chosen), "record": spec.record, "doi": spec.doi, "api": api_base}
    write_text(json.dumps(info, indent=2) + "\n", spec_file or spec_path(archive))
    return chosen


def preflight(source: str, src_cfg: dict, api_base: str = ZENODO_API, *, timeout: float = TIMEOUT_S) -> FileSpec:
    """Resolve the file a download would fetch, before any job runs (the pipeline calls it at start).

    Raises the same one-line errors as :func:`download_source` (no network, API error, no such
    file), so an offline run stops at once with one line instead of inside a job.
    """
    spec = zenodo_spec(source, src_cfg)
    with source_errors(source):
        return select_file(resolve_record(spec.record, api_base, spec.file, timeout=timeout), spec.file, spec.record)


def spec_path(archive: str | Path) -> Path:
    """Where :func:`download_source` records the downloaded file's :class:`FileSpec`."""
    archive = Path(archive)
    return archive.with_name(f"{archive.name}.json")


def unpack_download(
    source: str,
    archive: str | Path,
    out_dir: str | Path,
    known_hash: str | None = None,
    spec_file: str | Path | None = None,
) -> Path:
    """Unpack an archive :func:`download_source` fetched, checking its md5 (and a pin) again first."""
    archive = Path(archive)
    spec_file = Path(spec_file) if spec_file is not None else spec_path(archive)
    with source_errors(source):
        try:
            info = json.loads(spec_file.read_text())
            md5 = info["md5"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DownloadError(
                f"{spec_file}: unreadable download record ({one_line(exc)}); delete {archive} and run again"
            ) from exc
        if known_hash and not known_hash.lower().startswith("md5:"):
            verify(archive, known_hash)
        return unpack(archive, out_dir, f"md5:{md5}", meta=info)


def fetch_source(
    source: str,
    src_cfg: dict,
    out_dir: str | Path,
    *,
    api_base: str = ZENODO_API,
    cache_dir: str | Path | None = None,
    timeout: float = TIMEOUT_S,
) -> tuple[Path, FileSpec]:
    """Resolve, download and unpack a source's pinned Zenodo record into ``out_dir``.

    The library entry point (``dlenergy fetch``): :func:`download_source` into ``cache_dir``
    (default ``<out_dir>/../download``) as ``<source>.archive``, then :func:`unpack_download`.

    Parameters
    ----------
    source : str
        Source name (used in messages and as the archive's name).
    src_cfg : dict
        The source's config, with ``zenodo: {doi, file, known_hash}``.
    out_dir : path
        Folder to unpack into (replaced atomically).
    api_base : str
        Zenodo's records API (config ``zenodo_api``).

    Returns
    -------
    (Path, FileSpec)
        ``out_dir`` and the file that was unpacked.

    Raises
    ------
    DownloadError
        One line: what failed, ending with how to use an unpacked copy instead.

    Examples
    --------
    >>> cfg = {"zenodo": {"doi": "10.5281/zenodo.7828518", "file": None}}
    >>> fetch_source("seaa2023", cfg, "data/seaa2023/raw")  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    cache = Path(cache_dir) if cache_dir is not None else out_dir.parent / "download"
    archive = cache / f"{local_name(source)}.archive"
    chosen = download_source(source, src_cfg, archive, api_base=api_base, timeout=timeout)
    known_hash = zenodo_spec(source, src_cfg).known_hash
    return unpack_download(source, archive, out_dir, known_hash), chosen


def source_config(name_or_doi: str, *, file: str | None = None, known_hash: str | None = None) -> tuple[str, dict]:
    """(source name, source config) for a known source (``seaa2023``, ``zenodo``) or a Zenodo DOI / record id.

    Examples
    --------
    >>> source_config("zenodo")[1]["zenodo"]["doi"]
    '10.5281/zenodo.11505891'
    >>> source_config("10.5281/zenodo.123", file="data.zip")
    ('zenodo-123', {'zenodo': {'doi': '10.5281/zenodo.123', 'file': 'data.zip', 'known_hash': None}})
    """
    from .seaa2023 import ZENODO_DOI as SEAA2023_DOI
    from .zenodo import ZENODO_DOI as PACKAGE_DOI

    records = {"seaa2023": SEAA2023_DOI, "zenodo": PACKAGE_DOI}
    if name_or_doi in records:
        name, doi = name_or_doi, records[name_or_doi]
    else:
        try:
            name, doi = f"zenodo-{record_id(name_or_doi)}", str(name_or_doi)
        except SourceConfigError as exc:
            raise SourceConfigError(f"{exc}; known sources: {', '.join(records)}") from exc
    return name, {"zenodo": {"doi": doi, "file": file, "known_hash": known_hash}}
