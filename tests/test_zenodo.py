"""Replication-package source: download through Zenodo's records API (a local stand-in), atomic
unpack, adapter, ingest; and the generic checked download (pooch.retrieve) it builds on.

The package is a small zip built here in the authors' raw layout (numpy power traces, epoch files,
the processed parquet); it is served from 127.0.0.1 on a free port, so nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _zenodo_server import FakeZenodo

from dlenergy.ingest import SOURCE_LEDGER, ingest_dataset
from dlenergy.layout import read_runs_table
from dlenergy.sources.download import (
    ChecksumError,
    DownloadError,
    IncompleteDownload,
    fetch,
    fetch_and_unpack,
    unpack,
)
from dlenergy.sources.zenodo import PROCESSED_NAME, canonical_environment, convert_zenodo, fetch_raw, image_side

N_SAMPLES, N_EPOCHS, EPOCH_S = 24, 5, 4  # 1 Hz samples, epoch ends every 4 s

# (raw env folder, parquet environment, gpu, arch, dataset, stamp, parquet row?, logs?)
RUNS = [
    ("server", "Server", "NVIDIA GeForce RTX 3090", "vgg16", "chesslive-occupancy", "20230501T100000", True, True),
    ("server", "Server", "NVIDIA GeForce RTX 3090", "vgg16", "chesslive-occupancy", "20230501T103000", True, True),
    ("server", "Server", "NVIDIA GeForce RTX 3090", "vgg16", "chesslive-occupancy", "20230501T110000", False, True),
    (
        "desktop",
        "Desktop ML Engineer",
        "NVIDIA GeForce RTX 3070",
        "mobilenet_v2",
        "chesslive-occupancy",
        "20230502T090000",
        True,
        True,
    ),
    (
        "desktop",
        "Desktop Normal User",
        "NVIDIA GeForce GTX 750 Ti",
        "mobilenet_v2",
        "chesslive-occupancy",
        "20230503T090000",
        True,
        True,
    ),
    ("server", "Server", "NVIDIA GeForce RTX 3090", "inception_v3", "stanford_dogs", "20230504T080000", True, False),
]


def _trace(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # rounded as nvidia-smi writes it, so the expected energy uses the logged values
    return np.round(150.0 + 50.0 * np.sin(np.arange(N_SAMPLES) / 3.0) + rng.normal(0, 2, N_SAMPLES), 2)


def build_package(root: Path) -> tuple[Path, dict]:
    """Write the raw layout under ``root/data/metrics`` and zip it; return (zip path, expected GPU energies)."""
    metrics = root / "pkg" / "data" / "metrics"
    rows, expected = [], {}
    for k, (env, penv, gpu, arch, ds, stamp, has_row, has_logs) in enumerate(RUNS):
        t0 = pd.Timestamp(stamp) + pd.Timedelta(seconds=1)
        canon = canonical_environment(env, gpu)
        if has_logs:
            d = metrics / "raw" / env / arch / ds
            d.mkdir(parents=True, exist_ok=True)
            p = _trace(k)
            ts = [t0 + pd.Timedelta(seconds=i) for i in range(N_SAMPLES)]
            lines = [
                "timestamp,gpu_name,gpu_usage,gpu_memory_usage,gpu_total_memory,gpu_memory_used,gpu_power_draw,gpu_max_power,gpu_temperature"
            ]
            lines += [
                f"{t:%Y-%m-%d %H:%M:%S}.000,{gpu},80 %,30 %,8192 MiB,4000 MiB,{w:.2f} W,240.00 W,60"
                for t, w in zip(ts, p)
            ]
            (d / f"gpu-{stamp}.csv").write_text("\n".join(lines) + "\n")
            cpu = ["timestamp,cpu usage (%),memory usage (MB),temperature (Celsius),total memory (GB)"]
            cpu += [f"{t.isoformat()},10.0,2000.0,40.0,16" for t in ts]
            (d / f"cpu-{stamp}.csv").write_text("\n".join(cpu) + "\n")
            ends = [t0 + pd.Timedelta(seconds=EPOCH_S * (e + 1)) for e in range(N_EPOCHS)]
            ep = ["epoch,end_time"] + [f"{e},{t:%Y-%m-%d %H:%M:%S.%f}" for e, t in enumerate(ends)]
            (d / f"epoch_end-{stamp}.csv").write_text("\n".join(ep) + "\n")
            n_win = EPOCH_S * N_EPOCHS + 1
            if has_row:  # logs without a parquet row are not converted
                expected[f"{canon}-{arch}-{ds}-{stamp}"] = float(np.sum(0.5 * (p[1:n_win] + p[: n_win - 1])))
        if has_row:
            rows.append(
                {
                    "training environment": penv,
                    "architecture": arch,
                    "dataset": ds,
                    "run_id": hashlib.md5(stamp.encode()).hexdigest(),
                    "start time": t0,
                    "gpu model": gpu,
                    "batch size": 32,
                    "image size": "(128, 128)",
                    "training size": 23807,
                    "validation size": 10203,
                    "total ram (GB)": 16 if env == "server" else 32,
                    "GFLOPs": 1.5,
                    "trained epochs": N_EPOCHS,
                    "measured epochs": N_EPOCHS,
                    "total seen images": 1061 * 32 * N_EPOCHS,
                    "return code": 0,
                    "accuracy": 0.95,
                    "f1-score": 0.94,
                }
            )
    # incompressible filler so the archive spans several download chunks (the cut lands mid-way)
    aux = metrics / "auxiliary"
    aux.mkdir(parents=True)
    (aux / "padding.bin").write_bytes(np.random.default_rng(0).bytes(300_000))
    proc = metrics / "processed"
    proc.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(proc / PROCESSED_NAME, compression="gzip")
    archive = root / "data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted((root / "pkg").rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(root / "pkg"))
    return archive, expected


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.payload``; honours Range; ``server.cut_at`` closes the connection early."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append(dict(self.headers))
        data = srv.payload
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and srv.honor_range:
            start = int(rng[6:].split("-")[0])
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Type", "application/zip")
        if srv.send_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if srv.cut_at is not None:
            self.wfile.write(body[: srv.cut_at])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)
        if not srv.send_length:
            self.close_connection = True


@pytest.fixture
def server(request):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.payload, srv.cut_at, srv.honor_range, srv.send_length, srv.requests = b"", None, True, True, []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()

    def stop():
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)

    request.addfinalizer(stop)
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/records/1/files/data.zip?download=1"
    return srv


@pytest.fixture
def package(tmp_path):
    return build_package(tmp_path / "build")


@pytest.fixture
def zenodo_server():
    srv = FakeZenodo().start()
    yield srv
    srv.stop()


def test_download_unpack_convert_ingest(zenodo_server, package, tmp_path):
    archive, expected = package
    # the record as Zenodo's records API lists it (files, sizes, md5), the archive beside a README
    zenodo_server.add("11505891", {"data.zip": archive.read_bytes(), "README.md": b"# package\n"})
    raw = fetch_raw(tmp_path / "zenodo" / "raw", api_base=zenodo_server.api)
    assert (raw / "data" / "metrics" / "processed" / PROCESSED_NAME).is_file()
    assert [p.name for p in (tmp_path / "zenodo").iterdir() if p.name.startswith(".")] == []
    assert zenodo_server.file_requests() == [("/api/records/11505891/files/data.zip/content", None)]
    # a second fetch finds the verified archive and does not download again
    fetch_raw(tmp_path / "zenodo" / "raw", api_base=zenodo_server.api)
    assert len(zenodo_server.file_requests()) == 1 and len(zenodo_server.api_requests()) == 2

    canon = tmp_path / "zenodo" / "canonical"
    ledger = convert_zenodo(raw, canon)
    runs = read_runs_table(canon / "runs.csv").frame
    assert sorted(runs.run_id) == sorted(expected)
    env = dict(zip(runs.run_id, runs.environment))
    assert env["local_ml_engineer-mobilenet_v2-chesslive-occupancy-20230502T090000"] == "local_ml_engineer"
    assert env["local_normal_user-mobilenet_v2-chesslive-occupancy-20230503T090000"] == "local_normal_user"
    assert set(runs.loc[runs.environment == "cloud", "total_ram_gb"]) == {16}
    assert runs.image_size.eq(128).all() and runs.train_start.notna().all()
    reasons = dict(zip(ledger.run_id, ledger.reason))
    assert "logs without a row" in reasons["cloud-vgg16-chesslive-occupancy-20230501T110000"]
    orphan_row = [r for r in reasons if r.startswith("cloud-inception_v3-stanford_dogs-")]
    assert len(orphan_row) == 1 and "has no logs" in reasons[orphan_row[0]]
    assert pd.read_csv(canon / SOURCE_LEDGER).shape[0] == len(ledger) == 2

    r, e, led = ingest_dataset(canon)
    assert sorted(r.run_id) == sorted(expected)
    assert r.has_epoch_markers.all() and r.epochs_measured.eq(N_EPOCHS).all()
    assert len(e) == N_EPOCHS * len(expected)
    got = dict(zip(r.run_id, r.gpu_energy_j))
    for rid, want in expected.items():
        assert got[rid] == pytest.approx(want, rel=1e-9), rid
    assert np.allclose(r.ram_energy_j, 2000.0 * 3.75e-4 * EPOCH_S * N_EPOCHS)
    assert set(led.run_id) == set(ledger.run_id)


def test_wrong_checksum_fails_and_leaves_nothing(server, package, tmp_path):
    archive, _ = package
    server.payload = archive.read_bytes()
    wrong = "sha256:" + "0" * 64
    out = tmp_path / "zenodo" / "raw"
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        fetch_and_unpack(server.url, wrong, out)
    assert not out.exists()
    dl = tmp_path / "zenodo" / "download"
    assert not dl.exists() or [p.name for p in dl.iterdir()] == []  # no archive, no part, no temp file
    # an archive already on disk whose checksum does not match is not unpacked either
    with pytest.raises(ChecksumError, match="refusing to unpack"):
        unpack(archive, out, wrong)
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_interrupted_download_never_unpacks_and_resumes(server, package, tmp_path):
    archive, _ = package
    data = archive.read_bytes()
    server.payload, server.cut_at = data, len(data) // 2
    out = tmp_path / "zenodo" / "raw"
    with pytest.raises(IncompleteDownload, match="run again to resume"):
        fetch_and_unpack(server.url, sha256(archive), out)
    assert not out.exists()
    dl = tmp_path / "zenodo" / "download"
    assert not (dl / "data.zip").exists()
    parts = list(dl.glob(".data.zip.part"))
    assert len(parts) == 1 and 0 < parts[0].stat().st_size < len(data)
    # the server is back: the next run resumes from the part with a Range request
    server.cut_at = None
    kept = parts[0].stat().st_size
    fetch_and_unpack(server.url, sha256(archive), out)
    assert server.requests[-1].get("Range") == f"bytes={kept}-"
    assert (out / "data" / "metrics" / "processed" / PROCESSED_NAME).is_file()
    assert not list(dl.glob(".*.part"))
    # a second fetch finds the verified archive and does not download again
    n = len(server.requests)
    assert fetch(server.url, sha256(archive), dl) == dl / "data.zip"
    assert len(server.requests) == n


def test_early_close_without_length_is_caught_by_the_checksum(server, package, tmp_path):
    archive, _ = package
    data = archive.read_bytes()
    server.payload, server.send_length, server.cut_at = data, False, len(data) // 3
    out = tmp_path / "raw"
    with pytest.raises(ChecksumError):
        fetch_and_unpack(server.url, sha256(archive), out)
    assert not out.exists()


def test_corrupt_archive_is_not_unpacked(package, tmp_path):
    archive, _ = package
    bad = tmp_path / "bad.zip"
    data = bytearray(archive.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(64)
    bad.write_bytes(bytes(data))
    out = tmp_path / "raw"
    with pytest.raises((DownloadError, zipfile.BadZipFile)):
        unpack(bad, out)  # no hash given: the zip's own CRCs catch it
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip", "build"]


def test_environment_and_image_size_helpers():
    assert canonical_environment("Server") == "cloud"
    assert canonical_environment("Desktop ML Engineer") == "local_ml_engineer"
    assert canonical_environment("desktop", "NVIDIA GeForce RTX 3070") == "local_ml_engineer"
    assert canonical_environment("desktop", "NVIDIA GeForce GTX 750 Ti") == "local_normal_user"
    assert canonical_environment("desktop-v2") == "local_ml_engineer"
    assert image_side("(128, 128)") == 128 and image_side("224x224") == 224 and image_side(72) == 72
    assert image_side(None) is None
