"""`dlenergy measure` without a GPU: replay / fake nvidia-smi / fake NVML backends, end to end.

The command under test is run as ``python -m dlenergy measure ... -- python -c CHILD`` with a
sampling period of 0.1 s; the written dataset is checked with the layout-v1 parsers (and with
``dlenergy.validate`` when that module exists).  The code lives in ``dlenergy.recording``;
``dlenergy.measure`` is the former flat module, kept as an alias (tests/test_recording.py checks it).
"""

from __future__ import annotations

import csv
import math
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from dlenergy.layout import read_runs_table
from dlenergy.parsing import read_cpu_log, read_epochs, read_gpu_log
from dlenergy.recording.backends import GpuSample, NoGpuError, NvmlBackend, ReplayBackend
from dlenergy.recording.errors import EXIT_NO_GPU, EXIT_USAGE, MeasureError
from dlenergy.recording.measure import return_code_of
from dlenergy.recording.recorder import Recorder, append_run_row, gpu_header, gpu_line

ROOT = Path(__file__).resolve().parents[1]
H100 = ROOT.parent / "shared" / "data" / "h100-fixture"  # read in place, never copied into the repo
H100_RESNET = H100 / "runs" / "h100-resnet50-20261122T120733" / "gpu.csv"
META = [
    "--architecture",
    "resnet50",
    "--dataset",
    "synthetic",
    "--batch-size",
    "32",
    "--image-size",
    "96",
    "--training-size",
    "1000",
    "--validation-size",
    "200",
    "--gflops",
    "4.1",
]


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not part of a fresh clone)")
    return path


def write_trace(path: Path, n: int = 24, dt: float = 0.25, with_energy: bool = True, step_w: float = 10.0) -> Path:
    """A small nvidia-smi-style trace: power ramps 100 -> 100 + step_w * (n - 1) W."""
    t0 = datetime(2026, 1, 2, 3, 4, 5)
    head = "timestamp, name, utilization.gpu [%], utilization.memory [%], memory.total [MiB], memory.used [MiB], power.draw [W], power.limit [W], temperature.gpu"
    if with_energy:
        head += ", total_energy_consumption [mJ]"
    lines = [head]
    e = 5_000_000
    for i in range(n):
        ts = (t0 + timedelta(seconds=i * dt)).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
        p = 100.0 + step_w * i
        row = f"{ts}, Fake GPU 16GB, {i % 100} %, {i % 50} %, 16384 MiB, {1000 + i} MiB, {p:.2f} W, 300.00 W, {40 + i % 10}"
        if with_energy:
            row += f", {e}"
            e += int(p * dt * 1000)
        lines.append(row)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def trace(tmp_path):
    return write_trace(tmp_path / "trace.csv")


def measure_cmd(out: Path, run_id: str, child: str, *extra: str, period: float = 0.1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dlenergy",
        "measure",
        "--out",
        str(out),
        "--run-id",
        run_id,
        *META,
        "--period",
        str(period),
        *extra,
        "--",
        sys.executable,
        "-c",
        textwrap.dedent(child),
    ]


def env_with(backend: str | None, **extra) -> dict:
    env = dict(os.environ)
    env.pop("DLENERGY_RUN_DIR", None)
    if backend is None:
        env.pop("DLENERGY_GPU_BACKEND", None)
    else:
        env["DLENERGY_GPU_BACKEND"] = backend
    env.update(extra)
    return env


def check_dataset(ds: Path, run_id: str) -> dict:
    """Layout-v1 checks of one recorded run; returns the parsed pieces."""
    try:  # another engineer's validator, when present
        from dlenergy.validate import validate_dataset
    except ImportError:
        validate_dataset = None
    if validate_dataset is not None:
        fatal = [p for p in validate_dataset(ds) if getattr(p, "fatal", True)]
        assert not fatal, "\n".join(map(str, fatal))
    runs = read_runs_table(ds / "runs.csv", strict=True).frame
    row = runs.loc[runs["run_id"] == run_id]
    assert len(row) == 1
    rd = ds / "runs" / run_id
    gpu, grep = read_gpu_log(rd / "gpu.csv")
    cpu, crep = read_cpu_log(rd / "cpu.csv")
    epochs = read_epochs(rd / "epochs.csv") if (rd / "epochs.csv").exists() else None
    return {"row": row.iloc[0], "gpu": gpu, "gpu_report": grep, "cpu": cpu, "cpu_report": crep, "epochs": epochs}


MARKING_CHILD = """
    import os, time, pathlib, dlenergy
    pathlib.Path(os.environ["DLENERGY_RUN_DIR"], "child_env.txt").write_text(
        os.environ["DLENERGY_RUN_ID"] + "|" + os.environ["DLENERGY_TRAIN_START"])
    x = []
    for epoch in range(3):
        x.append(bytearray(4_000_000))   # a little RSS
        t = time.time()
        while time.time() - t < 0.15:    # a little CPU
            pass
        time.sleep(0.1)
        dlenergy.mark_epoch(val_f1=0.5 + 0.1 * epoch)
"""


def _assert_recorded(ds: Path, run_id: str, rc: int, n_epochs: int):
    got = check_dataset(ds, run_id)
    row = got["row"]
    assert int(row["return_code"]) == rc
    assert not pd_isna(row["train_start"])
    assert got["gpu_report"].n_dropped == 0 and got["cpu_report"].n_dropped == 0
    assert len(got["gpu"]) >= 5 and len(got["cpu"]) >= 3
    assert got["cpu"]["ram_used_mb"].max() > 5
    assert got["epochs"] is not None and got["epochs"]["epoch"].tolist() == list(range(n_epochs))
    assert float(row["epochs_trained"]) == n_epochs
    # the GPU samples cover the training window, taken every ~0.1 s
    t = got["gpu"]["t"].to_numpy()
    start = row["train_start"].timestamp() if hasattr(row["train_start"], "timestamp") else None
    assert t[0] <= start + 0.05
    assert t[-1] >= got["epochs"]["end_time"].iloc[-1].timestamp() - 0.01
    assert 0.07 < np.median(np.diff(t)) < 0.2
    return got


def pd_isna(x) -> bool:
    import pandas as pd

    return bool(pd.isna(x))


# --------------------------------------------------------------------------------------------
# end to end through the CLI
# --------------------------------------------------------------------------------------------


def test_measure_replays_h100_trace_end_to_end(tmp_path):
    trace = need(H100_RESNET)
    ds = tmp_path / "ds"
    res = subprocess.run(
        measure_cmd(ds, "h100-replay", MARKING_CHILD),
        env=env_with(f"replay:{trace}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    got = _assert_recorded(ds, "h100-replay", 0, 3)
    row = got["row"]
    assert row["gpu_model"] == "NVIDIA H100 80GB HBM3"
    assert row["architecture"] == "resnet50" and int(row["batch_size"]) == 32 and float(row["gflops"]) == 4.1
    # every replayed power value comes from the trace; the trace has no energy counter column
    ref, _ = read_gpu_log(trace)
    assert set(got["gpu"]["power_w"].round(2)) <= set(ref["power_w"].round(2))
    assert "energy_counter_mj" not in got["gpu"] or got["gpu"]["energy_counter_mj"].isna().all()
    # the child saw the run folder, id and train_start through the environment
    run_id, start = (ds / "runs" / "h100-replay" / "child_env.txt").read_text().split("|")
    assert run_id == "h100-replay" and start == str(row["train_start"])
    # epoch metric columns written by mark_epoch(val_f1=...)
    assert got["epochs"]["val_f1"].round(3).tolist() == [0.5, 0.6, 0.7]


def test_measure_self_contained_trace_with_energy_counter(tmp_path, trace):
    ds = tmp_path / "ds"
    res = subprocess.run(
        measure_cmd(ds, "run-a", MARKING_CHILD, "--environment", "ci box", "--meta", "seed=3"),
        env=env_with(f"replay:{trace}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    got = _assert_recorded(ds, "run-a", 0, 3)
    assert got["row"]["environment"] == "ci box" and got["row"]["gpu_model"] == "Fake GPU 16GB"
    assert float(got["row"]["seed"]) == 3
    e = got["gpu"]["energy_counter_mj"].to_numpy()
    assert np.isfinite(e).all() and (np.diff(e) >= 0).all() and e[-1] > e[0]
    header = (ds / "runs" / "run-a" / "gpu.csv").read_text().splitlines()[0]
    assert header.endswith("total_energy_consumption [mJ]") and header.startswith(
        "timestamp, name, utilization.gpu [%]"
    )
    # a second run appends to the same runs.csv; the same id is refused before its command runs
    res2 = subprocess.run(
        measure_cmd(ds, "run-b", "pass"), env=env_with(f"replay:{trace}"), capture_output=True, text=True, timeout=60
    )
    assert res2.returncode == 0, res2.stderr
    marker = tmp_path / "ran"
    res3 = subprocess.run(
        measure_cmd(ds, "run-a", f"open({str(marker)!r}, 'w')"),
        env=env_with(f"replay:{trace}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res3.returncode == EXIT_USAGE and "already" in res3.stderr and not marker.exists()
    runs = read_runs_table(ds / "runs.csv", strict=True).frame
    assert runs["run_id"].tolist() == ["run-a", "run-b"]


def test_killed_command_keeps_logs_and_row(tmp_path, trace):
    ds = tmp_path / "ds"
    child = """
        import os, signal, time, dlenergy
        for e in range(2):
            time.sleep(0.2)
            dlenergy.mark_epoch()
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    res = subprocess.run(
        measure_cmd(ds, "killed", child), env=env_with(f"replay:{trace}"), capture_output=True, text=True, timeout=60
    )
    # documented convention: killed by signal N -> 128 + N, also measure's own exit status
    assert res.returncode == 128 + signal.SIGKILL == 137, res.stderr
    got = check_dataset(ds, "killed")
    assert int(got["row"]["return_code"]) == 137
    assert got["epochs"]["epoch"].tolist() == [0, 1]
    rd = ds / "runs" / "killed"
    for name in ("gpu.csv", "cpu.csv", "epochs.csv"):
        lines = (rd / name).read_text().splitlines()
        n = len(next(csv.reader([lines[0]])))
        # no partial line except possibly the last one
        assert all(len(next(csv.reader([ln]))) == n for ln in lines[1:-1]), name
    assert got["gpu_report"].n_cut <= 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_is_forwarded_to_the_command(tmp_path, trace, sig):
    ds = tmp_path / "ds"
    flag = tmp_path / "got_signal"
    ready = tmp_path / "ready"
    child = f"""
        import signal, sys, time, pathlib
        def handler(signum, frame):
            pathlib.Path({str(flag)!r}).write_text(str(signum))
            sys.exit(7)
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        pathlib.Path({str(ready)!r}).write_text("1")
        time.sleep(30)
    """
    p = subprocess.Popen(
        measure_cmd(ds, "sig", child),
        env=env_with(f"replay:{trace}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 20
        while not ready.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "child did not start"
        time.sleep(0.2)
        p.send_signal(sig)
        _, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert flag.read_text() == str(int(sig)), err
    assert p.returncode == 7, err
    got = check_dataset(ds, "sig")
    assert int(got["row"]["return_code"]) == 7


def test_command_that_cannot_start_is_recorded_as_127(tmp_path, trace):
    ds = tmp_path / "ds"
    cmd = measure_cmd(ds, "nocmd", "pass")
    cmd[cmd.index("--") + 1 :] = [str(tmp_path / "no-such-program")]
    res = subprocess.run(cmd, env=env_with(f"replay:{trace}"), capture_output=True, text=True, timeout=60)
    assert res.returncode == 127 and "cannot start" in res.stderr
    runs = read_runs_table(ds / "runs.csv", strict=True).frame
    assert int(runs["return_code"].iloc[0]) == 127
    assert pd_isna(runs["train_start"].iloc[0])  # no training began: an empty window otherwise
    rd = ds / "runs" / "nocmd"
    assert read_gpu_log(rd / "gpu.csv")[1].n_kept >= 2 and not (rd / "cpu.csv").exists()
    try:
        from dlenergy.validate import validate_dataset
    except ImportError:
        return
    assert not [p for p in validate_dataset(ds) if p.fatal]


def test_no_gpu_refuses_before_starting_the_command(tmp_path):
    ds = tmp_path / "ds"
    marker = tmp_path / "command_ran"
    res = subprocess.run(
        measure_cmd(ds, "nogpu", f"open({str(marker)!r}, 'w')"),
        env=env_with("none"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == EXIT_NO_GPU
    assert "no GPU" in res.stderr
    assert not marker.exists()
    assert not ds.exists()  # nothing written either


def test_auto_backend_without_nvml_and_nvidia_smi_refuses(tmp_path):
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("NVML works on this machine: the auto backend would find a GPU")
    except Exception:
        pass
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    marker = tmp_path / "command_ran"
    cmd = measure_cmd(tmp_path / "ds", "auto", f"open({str(marker)!r}, 'w')")
    res = subprocess.run(cmd, env=env_with(None, PATH=str(empty_bin)), capture_output=True, text=True, timeout=60)
    assert res.returncode == EXIT_NO_GPU, res.stderr
    assert "nvml" in res.stderr and "nvidia-smi" in res.stderr
    assert not marker.exists()


FAKE_SMI = """#!{python}
import sys, time, signal, datetime
args = sys.argv[1:]
q = next(a.split("=", 1)[1] for a in args if a.startswith("--query-gpu="))
fields = q.split(",")
if "--format=csv,noheader" in args:
    print("0, Fake SMI GPU")
    sys.exit(0)
ms = int(args[args.index("-lms") + 1])
units = {{"utilization.gpu": " [%]", "utilization.memory": " [%]", "memory.total": " [MiB]", "memory.used": " [MiB]",
         "power.draw": " [W]", "power.limit": " [W]"}}
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print(", ".join(f + units.get(f, "") for f in fields), flush=True)
vals = {{"name": "Fake SMI GPU", "utilization.gpu": "50 %", "utilization.memory": "10 %", "memory.total": "8192 MiB",
        "memory.used": "1000 MiB", "power.draw": "150.00 W", "power.limit": "250.00 W", "temperature.gpu": "60",
        "index": "0"}}
while True:
    vals["timestamp"] = datetime.datetime.now().strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
    print(", ".join(vals[f] for f in fields), flush=True)
    time.sleep(ms / 1000)
"""


def test_nvidia_smi_backend_with_a_fake_nvidia_smi(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    smi = bindir / "nvidia-smi"
    smi.write_text(FAKE_SMI.format(python=sys.executable))
    smi.chmod(0o755)
    ds = tmp_path / "ds"
    env = env_with("nvidia-smi", PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    res = subprocess.run(measure_cmd(ds, "smi", MARKING_CHILD), env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    got = check_dataset(ds, "smi")
    assert got["row"]["gpu_model"] == "Fake SMI GPU"
    assert len(got["gpu"]) >= 5 and (got["gpu"]["power_w"] == 150.0).all()
    assert got["gpu_report"].n_dropped == 0


# --------------------------------------------------------------------------------------------
# library pieces
# --------------------------------------------------------------------------------------------


def test_layout_names_agree_with_the_layout_and_parser_modules():
    # recording.runfolder keeps its own copy of the layout's names so that the recorder does not import
    # pandas; the header aliases are one table (dlenergy.headers) shared by the parser and the replay backend
    import dlenergy.layout as layout
    import dlenergy.recording.runfolder as m
    from dlenergy.headers import GPU_COLUMNS
    from dlenergy.parsing import GPU_COLUMNS as PARSER_GPU_COLUMNS
    from dlenergy.recording.backends import TRACE_ALIASES

    assert (m.RUNS_FILE, m.RUNS_DIR, m.GPU_FILE, m.CPU_FILE, m.EPOCHS_FILE) == (
        layout.RUNS_FILE,
        layout.RUNS_DIR,
        layout.GPU_FILE,
        layout.CPU_FILE,
        layout.EPOCHS_FILE,
    )
    assert m.RUN_ID_ALLOWED == layout.RUN_ID_ALLOWED
    assert list(m.RUNS_REQUIRED) == list(layout.RUNS_REQUIRED)
    assert TRACE_ALIASES is GPU_COLUMNS and PARSER_GPU_COLUMNS is GPU_COLUMNS
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, dlenergy.measure, dlenergy.markers; print('pandas' in sys.modules, 'pyarrow' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["False", "False"]


def test_return_code_convention():
    assert return_code_of(0) == 0 and return_code_of(3) == 3
    assert return_code_of(-signal.SIGKILL) == 137 and return_code_of(-signal.SIGTERM) == 143


def test_replay_backend_follows_the_wall_clock_and_loops(trace):
    now = [100.0]
    b = ReplayBackend(trace, clock=lambda: now[0])
    assert b.open() == ["Fake GPU 16GB"] and b.has_energy_counter
    s0 = b.sample()[0]
    assert s0.power_w == 100.0 and s0.power_limit_w == 300.0 and s0.memory_total_mib == 16384
    now[0] += 0.26  # second sample of the trace (0.25 s apart)
    s1 = b.sample()[0]
    assert s1.power_w == 110.0 and s1.energy_mj - s0.energy_mj == 25_000
    now[0] = 100.0 + 24 * 0.25 + 0.01  # one full loop (24 samples x 0.25 s) later
    s2 = b.sample()[0]
    assert s2.power_w == 100.0 and s2.energy_mj > s1.energy_mj


def test_replay_backend_reads_the_h100_trace():
    b = ReplayBackend(need(H100_RESNET))
    assert b.open() == ["NVIDIA H100 80GB HBM3"]
    assert not b.has_energy_counter
    s = b.sample()[0]
    assert s.power_w == pytest.approx(123.79) and s.memory_total_mib == 81559 and s.power_limit_w == 700


def test_written_lines_parse_back(tmp_path):
    p = tmp_path / "gpu.csv"
    t0 = datetime(2026, 5, 6, 7, 8, 9, 123456)
    samples = [
        GpuSample(0, "A, B", 101.5, 50, 5, 8192, 1024.4, 300, 61, 10_000),
        GpuSample(0, "A, B", None, None, None, None, None, None, None, None),
        GpuSample(0, "A, B", 99.25, 40, 4, 8192, 1000, 300, 62, 12_000),
    ]
    lines = [gpu_header(with_index=False, with_energy=True)]
    lines += [gpu_line(t0 + timedelta(seconds=i), s, with_index=False, with_energy=True) for i, s in enumerate(samples)]
    p.write_text("\n".join(lines) + "\n")
    df, rep = read_gpu_log(p)
    assert rep.n_dropped == 0 and len(df) == 3
    assert df["power_w"].tolist()[0] == 101.5 and math.isnan(df["power_w"].tolist()[1])
    assert df["energy_counter_mj"].tolist()[::2] == [10_000, 12_000]
    assert str(df["timestamp"].iloc[0]) == "2026-05-06 07:08:09.123000"


class _FakeNvmlError(Exception):
    pass


class _NotSupported(_FakeNvmlError):
    pass


def _fake_pynvml(n_gpus: int = 2) -> types.ModuleType:
    m = types.ModuleType("pynvml")
    m.NVMLError = _FakeNvmlError
    m.NVMLError_NotSupported = _NotSupported
    m.NVML_TEMPERATURE_GPU = 0
    m.calls = {"energy": 0, "shutdown": 0}
    m.nvmlInit = lambda: None
    m.nvmlShutdown = lambda: m.calls.__setitem__("shutdown", m.calls["shutdown"] + 1)
    m.nvmlDeviceGetCount = lambda: n_gpus
    m.nvmlDeviceGetHandleByIndex = lambda i: i
    m.nvmlDeviceGetName = lambda h: b"Fake A100" if h == 0 else "Fake V100"
    m.nvmlDeviceGetPowerUsage = lambda h: 250_500 + h  # mW
    m.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=97, memory=40)
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=40 * 2**30, used=3 * 2**30)
    m.nvmlDeviceGetEnforcedPowerLimit = lambda h: 400_000

    def temp(h, sensor):
        raise _NotSupported()

    def energy(h):
        if h == 1:
            raise _NotSupported()
        m.calls["energy"] += 1
        return 123_456_789

    m.nvmlDeviceGetTemperature = temp
    m.nvmlDeviceGetTotalEnergyConsumption = energy
    return m


def test_nvml_backend_units_and_unsupported_fields(monkeypatch):
    fake = _fake_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    b = NvmlBackend()
    assert b.open() == ["Fake A100", "Fake V100"] and b.has_energy_counter
    s = b.sample()
    b.sample()
    assert [x.index for x in s] == [0, 1]
    assert s[0].power_w == 250.5 and s[1].power_w == 250.501 and s[0].power_limit_w == 400.0
    assert s[0].memory_total_mib == 40 * 1024 and s[0].memory_used_mib == 3 * 1024
    assert s[0].utilization_gpu == 97 and s[0].temperature_c is None
    assert s[0].energy_mj == 123_456_789 and s[1].energy_mj is None
    assert fake.calls["energy"] == 3  # probe + two samples of GPU 0; GPU 1 is not asked again
    b.close()
    assert fake.calls["shutdown"] == 1
    line = gpu_line(datetime(2026, 1, 1), s[1], with_index=True, with_energy=True)
    assert line.split(", ")[1:3] == ["1", "Fake V100"] and line.endswith("[N/A], [N/A]")


def test_nvml_backend_bad_index_is_no_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(1))
    with pytest.raises(NoGpuError, match="index"):
        NvmlBackend([3]).open()


class _SlowBackend:
    """A polled backend whose reads take 30 ms (a third of the period)."""

    name = "slow"
    polled = True
    devices = ["Slow GPU"]
    has_energy_counter = False

    def sample(self):
        time.sleep(0.03)
        return [GpuSample(0, "Slow GPU", 100.0)]

    def close(self):
        pass


def test_recorder_schedule_does_not_drift(tmp_path):
    rec = Recorder(tmp_path / "gpu.csv", tmp_path / "cpu.csv", _SlowBackend(), period=0.1)
    rec.attach(os.getpid())
    t = time.monotonic()
    rec.start()
    time.sleep(1.2)
    rec.stop()
    elapsed = time.monotonic() - t
    df, rep = read_gpu_log(tmp_path / "gpu.csv")
    cpu, _ = read_cpu_log(tmp_path / "cpu.csv")
    # ~13 samples (first + 12 ticks + last) -- a drifting loop (sleep(period) after each read) gives ~10
    assert abs(len(df) - (elapsed / 0.1 + 1)) <= 2.5, (len(df), elapsed)
    assert 0.09 < np.median(np.diff(df["t"].to_numpy())) < 0.115
    assert len(cpu) >= 10 and rep.n_dropped == 0


def _append_many(args):
    ds, worker, n = args
    for i in range(n):
        append_run_row(ds, _row(f"w{worker}-{i}"))


def _row(run_id: str, **extra) -> dict:
    row = {
        "run_id": run_id,
        "environment": "e",
        "gpu_model": "g",
        "architecture": "a",
        "dataset": "d",
        "batch_size": 1,
        "image_size": 2,
        "training_size": 3,
        "validation_size": 4,
        "total_ram_gb": 5.5,
        "gflops": 0.1,
        "return_code": 0,
        "train_start": "2026-01-01 00:00:00.000001",
    }
    row.update(extra)
    return row


def test_concurrent_appends_never_interleave(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    with mp.get_context("fork").Pool(4) as pool:
        pool.map(_append_many, [(ds, w, 12) for w in range(6)])
    runs = read_runs_table(ds / "runs.csv", strict=True).frame
    assert len(runs) == 72 and runs["run_id"].is_unique
    assert (ds / "runs.csv").read_text().count("run_id") == 1
    assert not list(ds.glob(".runs.csv.*"))  # no temp files left
    assert oct((ds / "runs.csv").stat().st_mode & 0o777) != oct(0o600)


def test_append_widens_the_header_and_refuses_duplicates(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    append_run_row(ds, _row("a"))
    append_run_row(ds, _row("b", f1=0.9, note="has, comma"))
    runs = read_runs_table(ds / "runs.csv", strict=True).frame
    assert runs["run_id"].tolist() == ["a", "b"]
    assert pd_isna(runs["f1"].iloc[0]) and runs["f1"].iloc[1] == 0.9 and runs["note"].iloc[1] == "has, comma"
    with pytest.raises(MeasureError, match="already present"):
        append_run_row(ds, _row("a"))
    # a runs.csv edited by hand without its last newline still gets whole rows
    p = ds / "runs.csv"
    p.write_text(p.read_text().rstrip("\n"))
    append_run_row(ds, _row("c"))
    assert read_runs_table(p, strict=True).frame["run_id"].tolist() == ["a", "b", "c"]


def test_recorded_counter_and_integrated_power_agree_after_ingest(tmp_path):
    """measure (replayed trace with an energy counter) -> ingest: the pipeline's integrated GPU energy
    and the counter's increase over the same training window agree, run and epochs."""
    from dlenergy.energy import counter_check
    from dlenergy.ingest import ingest_dataset

    child = """
        import time, dlenergy
        for epoch in range(4):
            time.sleep(0.75)
            dlenergy.mark_epoch()
    """
    trace = write_trace(tmp_path / "fine.csv", n=600, dt=0.01, step_w=0.5)  # 100 -> 400 W in 6 s, then again
    ds = tmp_path / "ds"
    res = subprocess.run(
        measure_cmd(ds, "counted", child, period=0.05),
        env=env_with(f"replay:{trace}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    runs, epochs, ledger = ingest_dataset(ds)
    assert ledger.empty
    check = counter_check(runs, epochs)
    assert check["run_id"].tolist() == ["counted"]
    # `dlenergy ingest` writes the same check and shows it
    cli = subprocess.run(
        [sys.executable, "-m", "dlenergy", "ingest", str(ds), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    shown = cli.stdout + cli.stderr
    assert "energy counter" in shown and "counted" in shown
    import pandas as pd

    written = pd.read_csv(tmp_path / "out" / "energy_check.csv")
    assert written["counter_energy_j"].to_numpy() == pytest.approx(check["counter_energy_j"].to_numpy())
    row = check.iloc[0]
    # ~3 s of training on the ramp: 300-1200 J
    assert row["span"] == "training window" and row["epochs_compared"] == 4
    assert 300 < row["counter_energy_j"] < 1200
    # the integral uses the samples inside the window, so it can miss up to one sampling period at each
    # end (<= 400 W each); the replayed counter steps every 10 ms
    assert abs(row["difference_j"]) <= 2 * row["sampling_period_s"] * 400 + 2 * 0.01 * 400
    assert 0.95 < row["epoch_ratio_median"] < 1.05


def test_marked_train_start_replaces_the_command_start(tmp_path, trace):
    """mark_train_start() after the set-up: runs.csv's train_start is the marked time (the command's
    start stays in command_start), and ingest's training window starts there."""
    import pandas as pd

    from dlenergy.ingest import ingest_dataset
    from dlenergy.layout import read_runs_table

    child = """
        import time, dlenergy
        time.sleep(0.6)                 # imports, data loading, model building
        dlenergy.mark_train_start()
        for epoch in range(3):
            time.sleep(0.2)
            dlenergy.mark_epoch()
    """
    ds = tmp_path / "ds"
    res = subprocess.run(
        measure_cmd(ds, "marked", child, period=0.05),
        env=env_with(f"replay:{trace}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    row = read_runs_table(ds / "runs.csv", strict=True).frame.iloc[0]
    start, command_start = pd.Timestamp(row["train_start"]), pd.Timestamp(row["command_start"])
    assert 0.55 <= (start - command_start).total_seconds() < 5
    runs, epochs, _ = ingest_dataset(ds)
    assert runs.iloc[0]["start_time"] == start
    assert epochs["start_time"].iloc[0] == start and (epochs["duration_s"] < 0.6).all()
