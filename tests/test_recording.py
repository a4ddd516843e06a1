"""The ``dlenergy.recording`` subpackage as a whole: its one rule (no pandas/pyarrow in the training
process), its structure (short functions, runnable examples), the backend interface and registry, the
former flat modules' names, and the pieces ``measure()`` is made of."""

from __future__ import annotations

import ast
import doctest
import importlib
import logging
import pkgutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import dlenergy.recording
from dlenergy.headers import CPU_COLUMNS, GPU_COLUMNS, resolve_columns
from dlenergy.layout import read_runs_table
from dlenergy.parsing import read_gpu_log
from dlenergy.recording.backends import (
    BACKENDS,
    SMI_FIELDS,
    AutoBackend,
    GpuBackend,
    GpuSample,
    NoGpuBackend,
    NvidiaSmiBackend,
    NvmlBackend,
    ReplayBackend,
    backend_from_spec,
)
from dlenergy.recording.errors import EXIT_USAGE, MeasureError
from dlenergy.recording.markers import mark_epoch, mark_train_start
from dlenergy.recording.measure import SignalForwarder, measure, runs_row
from dlenergy.recording.recorder import CPU_HEADER, gpu_header
from dlenergy.recording.runfolder import RUNS_REQUIRED

SRC = Path(dlenergy.recording.__file__).parent
SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(dlenergy.recording.__path__))
META = {"architecture": "mlp", "dataset": "toy", "batch_size": 8, "image_size": 0, "training_size": 64}


# --------------------------------------------------------------------------------------------
# the rule and the structure
# --------------------------------------------------------------------------------------------


def test_the_training_side_loads_neither_pandas_nor_pyarrow(tmp_path):
    """A fresh interpreter imports the whole subpackage, the alias modules and the header table, and
    calls the markers as a training script does: pandas and pyarrow are never loaded."""
    code = textwrap.dedent(f"""
        import importlib, sys
        import dlenergy
        dlenergy.mark_train_start(run_dir={str(tmp_path)!r})
        dlenergy.mark_epoch(run_dir={str(tmp_path)!r}, val_f1=0.5)
        import dlenergy.recording
        for name in {SUBMODULES!r}:
            importlib.import_module("dlenergy.recording." + name)
        import dlenergy.headers, dlenergy.markers, dlenergy.measure
        from dlenergy.recording.budget import EnergyBudget
        EnergyBudget(10, planned_epochs=100)
        print(sorted(m for m in ("pandas", "pyarrow") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
    assert {"backends", "budget", "markers", "measure", "recorder", "sampler"} <= set(SUBMODULES)
    assert (tmp_path / "epochs.csv").read_text().splitlines()[0] == "epoch,end_time,val_f1"


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, node.end_lineno - node.lineno + 1


def test_no_function_of_the_subpackage_is_longer_than_60_lines():
    lengths = [(n, f"{p.name}:{line} {name}") for p in SRC.glob("*.py") for name, line, n in _functions(p)]
    assert len(lengths) > 50  # the walk found the subpackage's functions
    too_long = sorted(x for x in lengths if x[0] > 60)
    assert not too_long, too_long


@pytest.mark.parametrize("module", ["dlenergy.headers", *(f"dlenergy.recording.{m}" for m in SUBMODULES)])
def test_docstring_examples_run(module):
    mod = importlib.import_module(module)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0
    if module.rsplit(".", 1)[-1] in ("headers", "backends", "budget", "markers", "measure", "recorder", "sampler"):
        assert res.attempted > 0


# --------------------------------------------------------------------------------------------
# the former flat modules keep their names
# --------------------------------------------------------------------------------------------

FORMER_MEASURE = [
    "AutoBackend",
    "CPU_FILE",
    "CPU_HEADER",
    "ENERGY_HEADER",
    "ENV_BACKEND",
    "ENV_PERIOD",
    "ENV_RUN_DIR",
    "ENV_RUN_ID",
    "ENV_TRAIN_START",
    "EPOCHS_FILE",
    "EXIT_CANTCREAT",
    "EXIT_NO_GPU",
    "EXIT_USAGE",
    "FORWARDED_SIGNALS",
    "GPU_FILE",
    "GpuBackend",
    "GpuSample",
    "MeasureError",
    "MeasureResult",
    "NoGpuBackend",
    "NoGpuError",
    "NvidiaSmiBackend",
    "NvmlBackend",
    "ProcessTreeSampler",
    "RC_NOT_STARTED",
    "RUNS_DIR",
    "RUNS_FILE",
    "RUNS_REQUIRED",
    "RUN_ID_ALLOWED",
    "Recorder",
    "ReplayBackend",
    "SMI_FIELDS",
    "TRACE_ALIASES",
    "TRAIN_START_FILE",
    "append_run_row",
    "backend_from_spec",
    "default_metadata",
    "gpu_header",
    "gpu_line",
    "measure",
    "open_backend",
    "parse_meta",
    "read_trace",
    "read_train_start",
    "return_code_of",
    "run_exists",
    "smi_timestamp",
]
FORMER_MARKERS = [
    "DEFAULT_STABLE_FROM",
    "DEFAULT_WINDOW",
    "ENV_RUN_DIR",
    "ENV_TRAIN_START",
    "EPOCHS_FILE",
    "EnergyBudget",
    "TRAIN_START_FILE",
    "current_run_dir",
    "mark_epoch",
    "mark_train_start",
    "project_total_energy",
    "read_train_start",
    "run_epoch_energies",
]


@pytest.mark.parametrize("alias, names", [("dlenergy.measure", FORMER_MEASURE), ("dlenergy.markers", FORMER_MARKERS)])
def test_former_modules_reexport_every_name_from_the_subpackage(alias, names):
    mod = importlib.import_module(alias)
    homes = [importlib.import_module(f"dlenergy.recording.{m}") for m in SUBMODULES]
    for name in names:
        obj = getattr(mod, name)
        assert any(getattr(h, name, None) is obj for h in homes), name
    import dlenergy

    assert dlenergy.mark_epoch is mark_epoch and dlenergy.mark_train_start is mark_train_start


# --------------------------------------------------------------------------------------------
# headers: one table for the parser and the recorder
# --------------------------------------------------------------------------------------------


def test_every_header_the_recorder_writes_resolves_through_the_shared_aliases():
    import dlenergy.parsing as parsing

    assert parsing.GPU_COLUMNS is GPU_COLUMNS and parsing.CPU_COLUMNS is CPU_COLUMNS
    base = {
        "timestamp",
        "gpu_name",
        "gpu_usage_pct",
        "mem_usage_pct",
        "mem_total_mib",
        "mem_used_mib",
        "power_w",
        "power_limit_w",
        "temperature_c",
    }
    for with_index in (False, True):
        for with_energy in (False, True):
            cols = gpu_header(with_index=with_index, with_energy=with_energy).split(", ")
            want = base | ({"gpu_index"} if with_index else set()) | ({"energy_counter_mj"} if with_energy else set())
            assert set(resolve_columns(cols, GPU_COLUMNS)) == want
    # the nvidia-smi backend's query fields, with the units nvidia-smi adds
    smi = [f + {"power.draw": " [W]", "memory.used": " [MiB]"}.get(f, "") for f in SMI_FIELDS]
    assert set(resolve_columns(smi, GPU_COLUMNS)) == base | {"gpu_index"}
    assert resolve_columns(CPU_HEADER.split(","), CPU_COLUMNS) == {
        "timestamp": "timestamp",
        "cpu_usage_pct": "cpu usage (%)",
        "ram_used_mb": "memory usage (MB)",
    }


# --------------------------------------------------------------------------------------------
# backends: specs, registry, a new backend end to end
# --------------------------------------------------------------------------------------------


def test_backend_specs(monkeypatch, tmp_path):
    monkeypatch.delenv("DLENERGY_GPU_BACKEND", raising=False)
    assert type(backend_from_spec(None)) is AutoBackend
    assert type(backend_from_spec(" NVML ")) is NvmlBackend and backend_from_spec("nvml", [1]).indices == [1]
    assert (
        type(backend_from_spec("smi")) is NvidiaSmiBackend and type(backend_from_spec("nvidia-smi")) is NvidiaSmiBackend
    )
    assert type(backend_from_spec("none")) is NoGpuBackend
    replay = backend_from_spec("replay:/Data/My Trace.csv")
    assert type(replay) is ReplayBackend and replay.path == Path("/Data/My Trace.csv")  # case and spaces kept
    monkeypatch.setenv("DLENERGY_GPU_BACKEND", "none")
    assert type(backend_from_spec(None)) is NoGpuBackend
    for bad, msg in [
        ("cuda", "use auto, nvml, nvidia-smi, replay:PATH or none"),
        ("replay", "needs a trace"),
        ("nvml:0", "takes no argument"),
    ]:
        with pytest.raises(MeasureError, match=msg) as err:
            backend_from_spec(bad)
        assert err.value.exit_code == EXIT_USAGE
    with pytest.raises(TypeError):
        GpuBackend()  # the interface: open() is abstract


class ToyBackend(GpuBackend):
    """A backend as docs/measure.md's "Adding a backend" describes: 123 W and an energy counter."""

    name = spec = "toy"

    def open(self) -> list[str]:
        self.devices, self.has_energy_counter = ["Toy GPU"], True
        self._t0 = time.monotonic()
        return self.devices

    def sample(self) -> list[GpuSample]:
        return [GpuSample(0, "Toy GPU", 123.0, energy_mj=int((time.monotonic() - self._t0) * 123_000))]


def test_a_backend_added_to_the_registry_records_through_measure(tmp_path, monkeypatch):
    monkeypatch.setitem(BACKENDS, "toy", ToyBackend)
    before = signal.getsignal(signal.SIGTERM)
    child = "import time, dlenergy\nfor e in range(2):\n    time.sleep(0.3)\n    dlenergy.mark_epoch()"
    res = measure([sys.executable, "-c", child], tmp_path / "ds", "toy-run", META, period=0.05, backend="toy")
    assert signal.getsignal(signal.SIGTERM) is before  # measure's handlers are gone
    assert res.return_code == 0 and res.backend == "toy"
    row = read_runs_table(tmp_path / "ds" / "runs.csv", strict=True).frame.iloc[0]
    assert row["gpu_model"] == "Toy GPU" and int(row["epochs_trained"]) == 2
    gpu, rep = read_gpu_log(tmp_path / "ds" / "runs" / "toy-run" / "gpu.csv")
    assert rep.n_dropped == 0 and len(gpu) >= 8 and (gpu["power_w"] == 123.0).all()
    e, t = gpu["energy_counter_mj"].to_numpy(), gpu["t"].to_numpy()
    assert (np.diff(e) >= 0).all()
    # the counter rises at 123 W on the clock of the timestamps
    assert (e[-1] - e[0]) / 1000 / (t[-1] - t[0]) == pytest.approx(123, rel=0.05)


def test_bad_gpus_option_is_a_usage_error(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "dlenergy",
        "measure",
        "--out",
        str(tmp_path / "ds"),
        "--run-id",
        "x",
        "--architecture",
        "a",
        "--dataset",
        "d",
        "--batch-size",
        "1",
        "--image-size",
        "1",
        "--training-size",
        "1",
        "--gpus",
        "0,a",
        "--",
        sys.executable,
        "-c",
        "pass",
    ]
    res = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "DLENERGY_GPU_BACKEND": "none"},
    )
    assert res.returncode == EXIT_USAGE and "--gpus expects GPU indices" in res.stderr
    assert not (tmp_path / "ds").exists()


# --------------------------------------------------------------------------------------------
# the steps of measure()
# --------------------------------------------------------------------------------------------


def test_runs_row_takes_the_marked_train_start_only_inside_the_run(tmp_path, caplog):
    start = datetime.now() - timedelta(seconds=10)
    rd = tmp_path / "a"
    mark_train_start(run_dir=rd, when=start + timedelta(seconds=2))
    for e in range(3):
        mark_epoch(e, run_dir=rd)
    row = runs_row({"architecture": "resnet", "seed": 3}, "a", 137, start, rd)
    assert list(row)[: len(RUNS_REQUIRED)] == list(RUNS_REQUIRED) and list(row)[-4:] == [
        "seed",
        "train_start",
        "command_start",
        "epochs_trained",
    ]
    assert row["train_start"] == (start + timedelta(seconds=2)).isoformat(sep=" ")
    assert row["command_start"] == start.isoformat(sep=" ")
    assert (row["return_code"], row["epochs_trained"], row["architecture"], row["gflops"]) == (137, 3, "resnet", None)
    rd2 = tmp_path / "b"
    mark_train_start(run_dir=rd2, when=start - timedelta(seconds=1))  # before the command: not believed
    with caplog.at_level(logging.WARNING, logger="dlenergy.measure"):
        row2 = runs_row({"epochs_trained": 7}, "b", 0, start, rd2)
    assert row2["train_start"] == start.isoformat(sep=" ") and "outside the command's run" in caplog.text
    assert row2["epochs_trained"] == 7 and "epochs_trained" in row2


def test_signal_forwarder_sends_a_signal_that_came_before_the_child_once():
    with SignalForwarder() as fw:
        assert signal.getsignal(signal.SIGUSR2) is fw
        fw(signal.SIGUSR1, None)  # while the command is being started
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import signal, sys, time\n"
                "signal.signal(signal.SIGUSR1, lambda *a: sys.exit(5))\nprint('ready', flush=True)\ntime.sleep(30)",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout.readline().strip() == "ready"
            fw.attach(child)
            assert child.wait(timeout=20) == 5
        finally:
            if child.poll() is None:
                child.kill()
            child.stdout.close()
    assert fw.forwarded == [signal.SIGUSR1]
    assert signal.getsignal(signal.SIGUSR2) is not fw
