"""Zenodo through its records API: resolve a pinned record (both JSON shapes), download with pooch
(md5, resume), unpack atomically (unsafe members refused), and one-line errors.

Everything runs against ``_zenodo_server.FakeZenodo`` on 127.0.0.1; the code under test is the one
used at run time, only the API base differs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from _zenodo_server import FakeZenodo, closed_port

from dlenergy.sources import download as dl
from dlenergy.sources.download import (
    UNPACK_INFO,
    ChecksumError,
    DownloadError,
    IncompleteDownload,
    SourceConfigError,
    UnsafeArchive,
)
from dlenergy.sources.zenodo_api import (
    DATA_DIR_HINT,
    FileSpec,
    ZenodoAPIError,
    ZenodoUnreachable,
    download_source,
    fetch_source,
    record_id,
    resolve_record,
    select_file,
    unpack_download,
    zenodo_spec,
)

ROOT = Path(__file__).resolve().parents[1]
RID = "7828518"
#: the dataset inside the archive: a few files, one large and incompressible so the download spans chunks
CONTENT = {
    "seaa2023_ect-6fa5af6/README.md": b"# SEAA 2023 energy measurements\n",
    "seaa2023_ect-6fa5af6/data/metrics/raw/cloud/vgg16/gpu-power-20230309T132750.csv": b"timestamp,power\n1,2\n" * 50,
    "seaa2023_ect-6fa5af6/data/blob.bin": random.Random(0).randbytes(300_000),
}
BLOB = CONTENT["seaa2023_ect-6fa5af6/data/blob.bin"]


def tar_xz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def cfg(**zen) -> dict:
    return {
        "layout": "seaa2023",
        "path": None,
        "fetch": "zenodo",
        "zenodo": {"doi": f"10.5281/zenodo.{RID}", "file": None, **zen},
    }


def assert_unpacked(out: Path) -> None:
    got = {
        p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != UNPACK_INFO
    }
    assert got == CONTENT


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def zenodo_server():
    srv = FakeZenodo().start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("shape", ["legacy", "entries", "entries_list", "new"])
def test_resolve_record_reads_names_sizes_md5_and_links(zenodo_server, shape):
    archive = tar_xz(CONTENT)
    notes = b"release notes\n"
    zenodo_server.add(RID, {"GAISSA-UPC/seaa2023_ect-v1.0.tar.xz": archive, "notes.txt": notes}, shape)
    files = resolve_record(f"10.5281/zenodo.{RID}", zenodo_server.api)
    link = {
        "new": f"{zenodo_server.base}/records/{RID}/files/GAISSA-UPC/seaa2023_ect-v1.0.tar.xz?download=1",
    }.get(shape, zenodo_server.content_url(RID, "GAISSA-UPC/seaa2023_ect-v1.0.tar.xz"))
    assert files[0] == FileSpec("GAISSA-UPC/seaa2023_ect-v1.0.tar.xz", link, len(archive), md5(archive))
    assert files[1].name == "notes.txt" and files[1].size == len(notes) and files[1].md5 == md5(notes)
    assert zenodo_server.requests == [(f"/api/records/{RID}", None)]  # one API call, nothing downloaded
    # the record's single archive is chosen by default; a name or glob picks one explicitly
    assert select_file(files, None, RID).name.endswith(".tar.xz")
    assert [f.name for f in resolve_record(RID, zenodo_server.api, "*.txt")] == ["notes.txt"]


@pytest.mark.parametrize(("shape", "pack"), [("legacy", tar_xz), ("entries", zipped), ("new", tar_xz)])
def test_fetch_source_downloads_checks_and_unpacks(zenodo_server, tmp_path, shape, pack):
    archive = pack(CONTENT)
    zenodo_server.add(RID, {"seaa2023_ect-v1.0.bin": archive}, shape)
    out = tmp_path / "data" / "seaa2023" / "raw"
    path, spec = fetch_source("seaa2023", cfg(file="seaa2023_ect-*"), out, api_base=zenodo_server.api)
    assert path == out and spec.md5 == md5(archive) and spec.size == len(archive)
    assert_unpacked(out)
    info = json.loads((out / UNPACK_INFO).read_text())
    assert info["md5"] == md5(archive) and info["record"] == RID and info["known_hash"] == f"md5:{md5(archive)}"
    dl_dir = tmp_path / "data" / "seaa2023" / "download"
    assert leftovers(dl_dir) == ["seaa2023.archive", "seaa2023.archive.json"]
    assert (dl_dir / "seaa2023.archive").read_bytes() == archive
    assert leftovers(out.parent) == ["download", "raw"]  # no temporary folder left beside them
    assert len(zenodo_server.api_requests()) == 1 and len(zenodo_server.file_requests()) == 1
    # again: the API is asked (the pinned record), the verified archive is not downloaded twice
    fetch_source("seaa2023", cfg(file="seaa2023_ect-*"), out, api_base=zenodo_server.api)
    assert len(zenodo_server.api_requests()) == 2 and len(zenodo_server.file_requests()) == 1
    assert_unpacked(out)


def test_wrong_checksum_unpacks_nothing_and_the_next_run_downloads_again(zenodo_server, tmp_path):
    archive = tar_xz(CONTENT)
    rec = zenodo_server.add(RID, {"seaa.tar.xz": archive})
    rec.md5["seaa.tar.xz"] = "0" * 32  # the API announces a checksum the bytes do not have
    out = tmp_path / "seaa2023" / "raw"
    with pytest.raises(ChecksumError) as err:
        fetch_source("seaa2023", cfg(), out, api_base=zenodo_server.api)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("source 'seaa2023': record 7828518: seaa.tar.xz: checksum mismatch")
    assert f"expected md5:{'0' * 32} but got {md5(archive)}" in msg and msg.endswith(DATA_DIR_HINT)
    assert not out.exists() and leftovers(tmp_path / "seaa2023") == ["download"]
    assert leftovers(tmp_path / "seaa2023" / "download") == []  # no archive, no part, no temporary file
    del rec.md5["seaa.tar.xz"]
    fetch_source("seaa2023", cfg(), out, api_base=zenodo_server.api)
    assert_unpacked(out)
    downloads = zenodo_server.file_requests()
    assert len(downloads) == 2 and downloads[1][1] is None  # a fresh download, not a resumed one


@pytest.mark.parametrize("send_length", [True, False])
def test_interrupted_transfer_keeps_the_part_and_resumes_with_range(zenodo_server, tmp_path, send_length):
    archive = tar_xz(CONTENT)
    zenodo_server.add(RID, {"seaa.tar.xz": archive})
    zenodo_server.cut_at, zenodo_server.send_length = len(archive) // 2, send_length
    out = tmp_path / "seaa2023" / "raw"
    # without Content-Length the size the API announced still shows the transfer is short
    with pytest.raises(IncompleteDownload, match="run again to resume") as err:
        fetch_source("seaa2023", cfg(), out, api_base=zenodo_server.api)
    assert "\n" not in str(err.value) and str(err.value).endswith(DATA_DIR_HINT)
    dl_dir = tmp_path / "seaa2023" / "download"
    assert not out.exists() and leftovers(dl_dir) == [".seaa2023.archive.part"]
    kept = (dl_dir / ".seaa2023.archive.part").read_bytes()
    # what arrived is kept (less at most the read in flight when the connection broke)
    assert archive.startswith(kept) and len(archive) // 2 - dl.CHUNK < len(kept) <= len(archive) // 2
    zenodo_server.cut_at = None
    fetch_source("seaa2023", cfg(), out, api_base=zenodo_server.api)
    assert zenodo_server.file_requests()[-1][1] == f"bytes={len(kept)}-"
    assert len(zenodo_server.file_requests()) == 2
    assert_unpacked(out)
    assert leftovers(dl_dir) == ["seaa2023.archive", "seaa2023.archive.json"]


@pytest.mark.parametrize(
    ("pack", "member", "link"),
    [
        (tar_xz, "../escaped.txt", None),
        (tar_xz, "/tmp/absolute.txt", None),
        (tar_xz, "seaa/link", "../../escaped.txt"),
        (tar_xz, "seaa/abs-link", "/etc/passwd"),
        (zipped, "../escaped.txt", None),
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_unpacked(zenodo_server, tmp_path, pack, member, link):
    members = dict(CONTENT)
    if link is None:
        members[member] = b"evil\n"
        data = pack(members)
    else:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as tf:
            for name, body in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(body)
                tf.addfile(info, io.BytesIO(body))
            sym = tarfile.TarInfo(member)
            sym.type, sym.linkname = tarfile.SYMTYPE, link
            tf.addfile(sym)
        data = buf.getvalue()
    zenodo_server.add(RID, {"seaa.bin": data})
    out = tmp_path / "a" / "b" / "raw"
    with pytest.raises(UnsafeArchive, match="would be written outside the destination; refusing to unpack") as err:
        fetch_source("seaa2023", cfg(file="seaa.bin"), out, api_base=zenodo_server.api)
    assert repr(member)[1:-1] in str(err.value) and "\n" not in str(err.value)
    assert not out.exists() and leftovers(out.parent) == ["download"]
    assert not (tmp_path / "a" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()


def test_api_unreachable_is_one_line(tmp_path):
    api = f"http://127.0.0.1:{closed_port()}/api/records/"
    out = tmp_path / "raw"
    with pytest.raises(ZenodoUnreachable) as err:
        fetch_source("zenodo", {"zenodo": {"doi": "10.5281/zenodo.11505891"}}, out, api_base=api)
    assert str(err.value) == (
        f"source 'zenodo': cannot reach the Zenodo records API {api}11505891 ([Errno 111] Connection refused); "
        f"{DATA_DIR_HINT}"
    )
    assert isinstance(err.value, DownloadError) and not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("status", "body", "expect"),
    [
        (404, None, "answered HTTP 404 Not Found (no such record)"),
        (500, None, "answered HTTP 500 Internal Server Error"),
        (200, b'{"id": 7828518, "files": [', "sent malformed JSON (Expecting value"),
        (200, b'{"id": 7828518, "metadata": {}}', "sent JSON without a 'files' list or 'files.entries'"),
        (200, b'{"id": 7828518, "files": [{"key": "a.zip", "links": {}}]}', "a file entry lacks its name or checksum"),
        (
            200,
            b'{"id": 7828518, "files": [{"key": "a.zip", "checksum": "sha1:ab", "links": {"self": "x"}}]}',
            "file 'a.zip' has no md5 checksum ('sha1:ab')",
        ),
        (200, b'{"id": 7828518, "files": {"enabled": false}}', "'files' has no 'entries'"),
    ],
)
def test_api_errors_are_one_line(zenodo_server, tmp_path, status, body, expect):
    zenodo_server.api_status, zenodo_server.api_body = status, body
    if status == 404:
        zenodo_server.api_status = 200  # no such record: the API's own 404
    with pytest.raises(ZenodoAPIError) as err:
        fetch_source("seaa2023", cfg(), tmp_path / "raw", api_base=zenodo_server.api)
    msg = str(err.value)
    assert "\n" not in msg and expect in msg and msg.startswith("source 'seaa2023': ") and msg.endswith(DATA_DIR_HINT)
    assert len(zenodo_server.requests) == 1 and not zenodo_server.file_requests()
    assert leftovers(tmp_path) == []


def test_file_selection_errors_name_the_files(zenodo_server, tmp_path):
    zenodo_server.add(RID, {"a.zip": zipped(CONTENT), "b.tar.xz": tar_xz(CONTENT), "c.txt": b"x"}, "entries")
    with pytest.raises(ZenodoAPIError, match=r"record 7828518 has 2 archives \(a\.zip, b\.tar\.xz\); name the one"):
        fetch_source("seaa2023", cfg(), tmp_path / "raw", api_base=zenodo_server.api)
    with pytest.raises(
        ZenodoAPIError, match=r"has no file matching 'd\.zip' \(its files: a\.zip, b\.tar\.xz, c\.txt\)"
    ):
        fetch_source("seaa2023", cfg(file="d.zip"), tmp_path / "raw", api_base=zenodo_server.api)
    path, spec = fetch_source("seaa2023", cfg(file="b.tar.*"), tmp_path / "raw", api_base=zenodo_server.api)
    assert spec.name == "b.tar.xz"
    assert_unpacked(path)
    assert len(zenodo_server.file_requests()) == 1


def test_known_hash_pin_must_agree(zenodo_server, tmp_path):
    archive = tar_xz(CONTENT)
    zenodo_server.add(RID, {"seaa.tar.xz": archive})
    with pytest.raises(ChecksumError, match=f"has md5 {md5(archive)} on Zenodo, but known_hash pins md5 {'1' * 32}"):
        fetch_source("seaa2023", cfg(known_hash="md5:" + "1" * 32), tmp_path / "raw", api_base=zenodo_server.api)
    assert not zenodo_server.file_requests()  # refused before downloading
    sha = "sha256:" + hashlib.sha256(archive).hexdigest()
    upper = f"md5:{md5(archive).upper()}"
    fetch_source("seaa2023", cfg(known_hash=upper), tmp_path / "raw", api_base=zenodo_server.api)
    fetch_source("seaa2023", cfg(known_hash=sha), tmp_path / "raw2", api_base=zenodo_server.api)
    assert_unpacked(tmp_path / "raw2")
    with pytest.raises(ChecksumError, match="refusing to unpack"):
        fetch_source("seaa2023", cfg(known_hash="sha256:" + "0" * 64), tmp_path / "raw3", api_base=zenodo_server.api)
    assert not (tmp_path / "raw3").exists()
    # raw, raw2 and raw3 share the cache tmp_path/download: the verified archive was downloaded once
    assert len(zenodo_server.file_requests()) == 1


def test_config_errors_say_what_to_set():
    with pytest.raises(
        SourceConfigError,
        match=r"source 'zenodo': no Zenodo record configured; set sources\.zenodo\.zenodo\.doi.*data_dir=",
    ):
        zenodo_spec("zenodo", {"layout": "zenodo", "path": None})
    with pytest.raises(SourceConfigError, match=r"sources\.seaa2023\.zenodo\.doi: 'PLACEHOLDER' is not a Zenodo DOI"):
        zenodo_spec("seaa2023", {"zenodo": {"doi": "PLACEHOLDER"}})
    with pytest.raises(SourceConfigError, match=r"known_hash 'abc:zz' is not 'md5:<hex>'"):
        zenodo_spec("seaa2023", {"zenodo": {"doi": RID, "known_hash": "abc:zz"}})
    spec = zenodo_spec("zenodo", {"zenodo": {"doi": "https://doi.org/10.5281/zenodo.11505891", "file": "data.zip"}})
    assert (spec.record, spec.file, spec.known_hash) == ("11505891", "data.zip", None)
    assert record_id("https://zenodo.org/api/records/42") == "42"


def test_download_then_unpack_as_the_rules_do(zenodo_server, tmp_path):
    archive = zipped(CONTENT)
    zenodo_server.add(RID, {"seaa.zip": archive}, "entries")
    target = tmp_path / "download" / "seaa2023.archive"
    spec = download_source("seaa2023", cfg(), target, api_base=zenodo_server.api, spec_file=tmp_path / "spec.json")
    assert target.read_bytes() == archive and json.loads((tmp_path / "spec.json").read_text())["md5"] == spec.md5
    # the archive is altered on disk after the download: the unpack step refuses it
    target.write_bytes(archive[:-1] + bytes([archive[-1] ^ 0xFF]))
    with pytest.raises(ChecksumError, match="refusing to unpack it"):
        unpack_download("seaa2023", target, tmp_path / "raw", spec_file=tmp_path / "spec.json")
    assert not (tmp_path / "raw").exists()
    target.write_bytes(archive)
    unpack_download("seaa2023", target, tmp_path / "raw", spec_file=tmp_path / "spec.json")
    assert_unpacked(tmp_path / "raw")


def _run(args: list[str], env_extra: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "dlenergy", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_cli_fetch_downloads_and_fails_in_one_line(zenodo_server, tmp_path):
    archive = tar_xz(CONTENT)
    zenodo_server.add(RID, {"seaa.tar.xz": archive}, "entries")
    res = _run(["fetch", "seaa2023", "--out", str(tmp_path / "raw"), "--api", zenodo_server.api])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == (
        f"seaa.tar.xz ({len(archive):,} bytes, md5 {md5(archive)}) of 10.5281/zenodo.{RID} "
        f"unpacked into {tmp_path / 'raw'}"
    )
    assert_unpacked(tmp_path / "raw")
    # offline: the API's port is closed; one line on stderr, exit status 2, no traceback
    api = f"http://127.0.0.1:{closed_port()}/api/records/"
    res = _run(["fetch", "zenodo"], {"DLENERGY_ZENODO_API": api}, cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == (
        f"error: source 'zenodo': cannot reach the Zenodo records API {api}11505891 ([Errno 111] Connection "
        f"refused); {DATA_DIR_HINT}\n"
    )
    assert leftovers(tmp_path) == ["download", "raw"]


def test_rule_scripts_download_unpack_and_fail_in_one_line(zenodo_server, tmp_path):
    archive = tar_xz(CONTENT)
    zenodo_server.add(RID, {"seaa.tar.xz": archive})
    script = ROOT / "workflow" / "scripts" / "download.py"
    code = (
        "import runpy, sys, json\n"
        "a = json.loads(sys.argv[1])\n"
        "class NL(list):\n"  # Snakemake's named lists: by position, by name, and get()
        "    def __init__(self, d): super().__init__(d.values()); self.__dict__.update(d)\n"
        "    def get(self, k, default=None): return self.__dict__.get(k, default)\n"
        "def nl(d): return NL(d)\n"
        "class S: pass\n"
        "s = S(); s.output, s.input, s.params = nl(a['output']), nl(a['input']), nl(a['params'])\n"
        "s.log, s.rule, s.scriptdir = [a['log']], 'download_archive', a['scriptdir']\n"
        "sys.path.insert(0, a['scriptdir'])\n"  # as Snakemake's script preamble does
        "runpy.run_path(a['script'], init_globals={'snakemake': s}, run_name='__main__')\n"
    )

    def run_script(name: str, api: str, inputs: dict, outputs: dict) -> subprocess.CompletedProcess:
        args = {
            "script": str(script.with_name(name)),
            "scriptdir": str(script.parent),
            "log": str(tmp_path / f"{name}.log"),
            "input": inputs,
            "output": outputs,
            "params": {"source": "seaa2023", "src_cfg": cfg(), "api_base": api},
        }
        return subprocess.run(
            [sys.executable, "-c", code, json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    arch = {
        "archive": str(tmp_path / "dl" / "seaa2023.archive"),
        "spec": str(tmp_path / "dl" / "seaa2023.archive.json"),
    }
    res = run_script("download.py", zenodo_server.api, {}, arch)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert Path(arch["archive"]).read_bytes() == archive
    res = run_script("download_unpack.py", zenodo_server.api, arch, {"raw": str(tmp_path / "raw")})
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert_unpacked(tmp_path / "raw")
    api = f"http://127.0.0.1:{closed_port()}/api/records/"
    res = run_script("download.py", api, {}, {"archive": str(tmp_path / "x.archive"), "spec": str(tmp_path / "x.json")})
    line = (
        f"source 'seaa2023': cannot reach the Zenodo records API {api}{RID} ([Errno 111] Connection refused); "
        f"{DATA_DIR_HINT}"
    )
    assert res.returncode == 1 and res.stderr == f"error: {line}\n"
    assert (tmp_path / "download.py.log").read_text().rstrip().endswith(f"ERROR {line}")


def test_generic_fetch_maps_http_errors(zenodo_server, tmp_path):
    # the generic pooch.retrieve path: an HTTP error status is one line, not a resumable interruption
    with pytest.raises(DownloadError, match=r"/api/records/1/files/x\.zip/content: HTTP 404 Not Found$"):
        dl.fetch(zenodo_server.content_url("1", "x.zip"), "md5:" + "0" * 32, tmp_path)
    assert leftovers(tmp_path) == []


def test_seaa2023_fetch_raw_uses_the_pinned_record(zenodo_server, tmp_path):
    from dlenergy.sources import seaa2023

    archive = zipped(CONTENT)
    zenodo_server.add(RID, {"GAISSA-UPC/seaa2023_ect-v1.0.zip": archive}, "entries")
    assert seaa2023.fetch_raw(tmp_path / "raw", api_base=zenodo_server.api) == tmp_path / "raw"
    assert_unpacked(tmp_path / "raw")
    assert zenodo_server.api_requests() == [(f"/api/records/{RID}", None)]
    assert leftovers(tmp_path / "download") == ["seaa2023.archive", "seaa2023.archive.json"]
