"""The real SEAA 2023 logs that ship inside the project: one xz tar archive plus a manifest.

``data/seaa2023/`` of the repository holds three tracked files:

* ``seaa2023-raw.tar.xz`` -- the raw logs of the 309 runs and their metadata, byte-identical to
  ``data/metrics/raw/`` of GAISSA-UPC/seaa2023_ect at commit 6fa5af6 (Zenodo 10.5281/zenodo.7828518),
  with the data's ``LICENSE`` (CC BY 4.0), ``PROVENANCE.md`` and ``CITATION.cff``;
* ``MANIFEST.csv`` -- ``path,size,sha256`` of the archive itself and of every file in it (paths
  relative to ``data/seaa2023/``; the files unpack under ``raw/``);
* ``NOTICE.md`` -- attribution and license.

:func:`unpack_embedded` checks the archive against the manifest, extracts it atomically (unsafe
members refused, :mod:`dlenergy.sources.download`) and checks every extracted file's size and
sha256 before the folder appears; :func:`verify_tree` re-checks an unpacked folder before each use.
Any altered, missing or extra file is a :class:`ManifestError` that names it.

:func:`make_archive` is how the archive and manifest were made (deterministic: sorted members,
fixed mtime, owner 0, modes 0644/0755, xz preset 9e), so anyone can rebuild and compare them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import lzma
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ._common import atomic_dir
from .download import DownloadError, _extract

ARCHIVE_NAME = "seaa2023-raw.tar.xz"
MANIFEST_NAME = "MANIFEST.csv"
NOTICE_NAME = "NOTICE.md"
UNPACKED = "raw"  #: the folder (next to the manifest) the archive's members unpack into
MTIME = 1718668800  #: 2024-06-18, the upstream commit's date: every member's mtime in the archive
_BLOCK = 1 << 20


class ManifestError(DownloadError):
    """The embedded data does not match its manifest (a file altered, missing or unexpected)."""


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    sha256: str


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def read_manifest(path: str | Path) -> dict[str, Entry]:
    """``{path: Entry}`` from a ``MANIFEST.csv``; a malformed line is a :class:`ManifestError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    out: dict[str, Entry] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != ["path", "size", "sha256"]:
            raise ManifestError(f"{path}:1: manifest header must be 'path,size,sha256', not {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            try:
                out[row["path"]] = Entry(row["path"], int(row["size"]), str(row["sha256"]).lower())
            except (TypeError, ValueError):
                raise ManifestError(f"{path}:{line}: malformed manifest line {row}") from None
    return out


def _check_file(root: Path, entry: Entry) -> str | None:
    p = root / entry.path
    if not p.is_file():
        return f"{p}: missing (listed in the manifest)"
    if p.stat().st_size != entry.size:
        return f"{p}: altered (size {p.stat().st_size} bytes, manifest says {entry.size})"
    if sha256_of(p) != entry.sha256:
        return f"{p}: altered (sha256 differs from the manifest)"
    return None


def verify_tree(root: str | Path, manifest: str | Path, prefix: str = UNPACKED) -> None:
    """Check the files under ``root`` against the manifest's ``prefix/...`` entries.

    Raises :class:`ManifestError` naming the first altered or missing file, or a file that the
    manifest does not list (hidden bookkeeping files such as ``.dlenergy-unpacked.json`` excepted).
    """
    root = Path(root)
    entries = {k: v for k, v in read_manifest(manifest).items() if k.startswith(prefix + "/")}
    for key in sorted(entries):
        e = entries[key]
        problem = _check_file(root, Entry(key[len(prefix) + 1 :], e.size, e.sha256))
        if problem:
            raise ManifestError(f"embedded SEAA 2023 data: {problem}; restore it with `git checkout data/seaa2023`")
    listed = {k[len(prefix) + 1 :] for k in entries}
    extra = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".") and str(p.relative_to(root)) not in listed
    )
    if extra:
        raise ManifestError(
            f"embedded SEAA 2023 data: {root / extra[0]} is not in the manifest {manifest} "
            f"({len(extra)} unlisted file(s))"
        )


def verify_archive(archive: str | Path, manifest: str | Path) -> None:
    """Check the archive's size and sha256 against its manifest row (named by the archive's file name)."""
    archive = Path(archive)
    entry = read_manifest(manifest).get(archive.name)
    if entry is None:
        raise ManifestError(f"{manifest}: no row for the archive {archive.name}")
    problem = _check_file(archive.parent, entry)
    if problem:
        raise ManifestError(f"embedded SEAA 2023 archive: {problem}; restore it with `git checkout data/seaa2023`")


def unpack_embedded(archive: str | Path, manifest: str | Path, out_dir: str | Path) -> Path:
    """Verify, extract and re-verify the embedded archive into ``out_dir`` (atomically).

    Nothing appears at ``out_dir`` unless the archive and every extracted file match the manifest.
    """
    verify_archive(archive, manifest)
    with atomic_dir(out_dir) as tmp:
        _extract(Path(archive), tmp)
        verify_tree(tmp, manifest)
    return Path(out_dir)


def _member(name: str, data: bytes | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.size, info.mode = len(data), 0o644
    return info


def make_archive(src_dir: str | Path, out_dir: str | Path, preset: int = 9 | lzma.PRESET_EXTREME) -> tuple[Path, Path]:
    """Write ``ARCHIVE_NAME`` and ``MANIFEST_NAME`` for the files under ``src_dir`` into ``out_dir``.

    Deterministic: the same files give the same archive bytes.  Returns (archive, manifest).
    """
    src, out = Path(src_dir), Path(out_dir)
    files = sorted(p for p in src.rglob("*") if p.is_file())
    dirs = sorted({q for p in files for q in p.relative_to(src).parents if str(q) != "."})
    rows = []
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in dirs:
            tf.addfile(_member(d.as_posix(), None))
        for p in files:
            data = p.read_bytes()
            rel = p.relative_to(src).as_posix()
            tf.addfile(_member(rel, data), io.BytesIO(data))
            rows.append((f"{UNPACKED}/{rel}", len(data), hashlib.sha256(data).hexdigest()))
    archive = out / ARCHIVE_NAME
    out.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(lzma.compress(buf.getvalue(), format=lzma.FORMAT_XZ, preset=preset))
    manifest = out / MANIFEST_NAME
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["path", "size", "sha256"])
        w.writerow([ARCHIVE_NAME, archive.stat().st_size, sha256_of(archive)])
        w.writerows(rows)
    return archive, manifest
