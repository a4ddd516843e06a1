"""The SEAA 2023 logs that ship with the project: archive + manifest, checked before every use."""

from __future__ import annotations

import csv
import hashlib
import tarfile
from pathlib import Path

import pytest

from dlenergy.sources.embedded import (
    ARCHIVE_NAME,
    MANIFEST_NAME,
    ManifestError,
    make_archive,
    read_manifest,
    unpack_embedded,
    verify_tree,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "seaa2023"


def _tree(root: Path) -> Path:
    (root / "cloud" / "vgg16").mkdir(parents=True)
    (root / "cloud" / "vgg16" / "gpu-power-20230101T100000.csv").write_text("timestamp,power.draw [W]\n")
    (root / "metadata").mkdir()
    (root / "metadata" / "model_metrics.parquet").write_bytes(bytes(range(256)) * 10)
    (root / "LICENSE").write_text("CC BY 4.0\n")
    return root


@pytest.fixture
def packed(tmp_path):
    src = _tree(tmp_path / "src")
    archive, manifest = make_archive(src, tmp_path / "pack", preset=1)
    return src, archive, manifest


def test_manifest_lists_archive_and_every_file_with_size_and_sha256(packed):
    src, archive, manifest = packed
    rows = read_manifest(manifest)
    assert rows[ARCHIVE_NAME].size == archive.stat().st_size
    assert rows[ARCHIVE_NAME].sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    files = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    assert sorted(k.removeprefix("raw/") for k in rows if k != ARCHIVE_NAME) == files
    lic = rows["raw/LICENSE"]
    assert (lic.size, lic.sha256) == (10, hashlib.sha256(b"CC BY 4.0\n").hexdigest())


def test_archive_is_deterministic(packed, tmp_path):
    src, archive, _ = packed
    again, _ = make_archive(src, tmp_path / "again", preset=1)
    assert again.read_bytes() == archive.read_bytes()
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
    assert {m.mtime for m in members} == {1718668800} and {m.uid for m in members} == {0}


def test_unpack_gives_the_same_bytes(packed, tmp_path):
    src, archive, manifest = packed
    out = unpack_embedded(archive, manifest, tmp_path / "raw")
    for p in src.rglob("*"):
        if p.is_file():
            assert (out / p.relative_to(src)).read_bytes() == p.read_bytes()
    verify_tree(out, manifest)  # passes as unpacked


def test_altered_archive_is_refused_and_nothing_unpacked(packed, tmp_path):
    _, archive, manifest = packed
    data = bytearray(archive.read_bytes())
    data[-20] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match=rf"{ARCHIVE_NAME}: altered \(sha256"):
        unpack_embedded(archive, manifest, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_archive_with_an_altered_member_but_updated_archive_row_is_refused(packed, tmp_path):
    """Someone rebuilt the archive with a changed log and fixed only the archive's own manifest row."""
    src, archive, manifest = packed
    (src / "LICENSE").write_text("changed\n")
    rebuilt, _ = make_archive(src, tmp_path / "rebuilt", preset=1)
    rows = list(csv.reader(manifest.open()))
    rows[1] = [ARCHIVE_NAME, str(rebuilt.stat().st_size), hashlib.sha256(rebuilt.read_bytes()).hexdigest()]
    with open(manifest, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    archive.write_bytes(rebuilt.read_bytes())
    with pytest.raises(ManifestError, match=r"LICENSE: altered"):
        unpack_embedded(archive, manifest, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: (d / "LICENSE").unlink(), r"LICENSE: missing"),
        (lambda d: (d / "LICENSE").write_text("CC BY 4.1\n"), r"LICENSE: altered \(sha256"),
        (
            lambda d: (d / "LICENSE").write_text("CC BY 4.0 and more\n"),
            r"LICENSE: altered \(size 19 bytes, manifest says 10\)",
        ),
        (lambda d: (d / "cloud" / "extra.csv").write_text("x"), r"extra.csv is not in the manifest"),
    ],
)
def test_an_unpacked_copy_is_checked_before_use(packed, tmp_path, change, message):
    _, archive, manifest = packed
    out = unpack_embedded(archive, manifest, tmp_path / "raw")
    change(out)
    with pytest.raises(ManifestError, match=message):
        verify_tree(out, manifest)


def test_malformed_manifest_names_its_line(packed):
    _, _, manifest = packed
    manifest.write_text(manifest.read_text() + "raw/x,notanumber,abc\n")
    n = len(manifest.read_text().splitlines())
    with pytest.raises(ManifestError, match=rf"{MANIFEST_NAME}:{n}: malformed"):
        read_manifest(manifest)


def test_shipped_archive_matches_its_manifest_and_the_real_logs(seaa_dir):
    """The archive in the repository: 309 runs' logs, metadata and the data license, all as listed."""
    rows = read_manifest(SHIPPED / MANIFEST_NAME)
    assert rows[ARCHIVE_NAME].size == (SHIPPED / ARCHIVE_NAME).stat().st_size
    assert len([k for k in rows if k.startswith("raw/") and "/gpu-power-" in k]) == 309
    for name in ("LICENSE", "PROVENANCE.md", "CITATION.cff", "metadata/model_metrics.parquet"):
        assert (seaa_dir / name).is_file() and f"raw/{name}" in rows
    assert "Attribution 4.0" in (seaa_dir / "LICENSE").read_text()
    notice = (SHIPPED / "NOTICE.md").read_text()
    assert "CC BY 4.0" in notice and "10.5281/zenodo.7828518" in notice and "10.1109/SEAA60479.2023.00031" in notice
