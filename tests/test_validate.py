"""`dlenergy validate`: a clean dataset has no error; each broken variant gives the right problem, file and line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlenergy.cli import app
from dlenergy.validate import has_fatal, validate_dataset

HEADER = (
    "run_id,environment,gpu_model,architecture,dataset,batch_size,image_size,training_size,"
    "validation_size,total_ram_gb,gflops,return_code"
)
GPU_HEADER = (
    "timestamp, name, utilization.gpu [%], utilization.memory [%], memory.total [MiB], "
    "memory.used [MiB], power.draw [W], power.limit [W], temperature.gpu"
)


def gpu_lines(n=12, t0=0):
    return [GPU_HEADER] + [
        f"2024/01/01 10:00:{t0 + i:02d}.000, NVIDIA GeForce RTX 3090, 80 %, 30 %, 24268 MiB, 9000 MiB, {200 + i}.50 W, 350.00 W, 60"
        for i in range(n)
    ]


def cpu_lines(n=12):
    return ["timestamp,cpu usage (%),memory usage (MB)"] + [
        f"2024-01-01T10:00:{i:02d}.100000,12.5,2048.0" for i in range(n)
    ]


def epoch_lines():
    return ["epoch,end_time"] + [f"{e},2024-01-01 10:00:{3 * (e + 1):02d}.000" for e in range(3)]


def write(path: Path, lines: list[str]):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def dataset(tmp_path) -> Path:
    root = tmp_path / "ds"
    rows = [
        HEADER,
        "run-a,cloud,RTX 3090,vgg16,chess,32,128,1000,100,16,10.5,0",
        "run-b,cloud,RTX 3090,resnet50,chess,32,128,1000,100,16,2.5,0",
    ]
    write(root / "runs.csv", rows)
    for rid in ("run-a", "run-b"):
        write(root / "runs" / rid / "gpu.csv", gpu_lines())
        write(root / "runs" / rid / "cpu.csv", cpu_lines())
        write(root / "runs" / rid / "epochs.csv", epoch_lines())
    return root


def only(problems, fatal=None):
    sel = [p for p in problems if fatal is None or p.fatal == fatal]
    assert len(sel) == 1, "\n".join(map(str, problems))
    return sel[0]


def test_clean_dataset_has_no_problem(dataset):
    assert validate_dataset(dataset) == []


def test_missing_power_column_is_fatal_at_header(dataset):
    gpu = dataset / "runs" / "run-a" / "gpu.csv"
    write(gpu, [l.rsplit(",", 3)[0] + ", " + l.rsplit(",", 1)[1].strip() for l in gpu_lines()])  # drop power, limit
    p = only(validate_dataset(dataset), fatal=True)
    assert p.file == str(gpu) and p.line == 1 and "power" in p.message and p.run_id == "run-a"


def test_power_in_milliwatts_is_fatal(dataset):
    gpu = dataset / "runs" / "run-b" / "gpu.csv"
    write(gpu, [l.replace("power.draw [W]", "power.draw [mW]") for l in gpu_lines()])
    p = only(validate_dataset(dataset), fatal=True)
    assert p.file == str(gpu) and p.line == 1 and "[mw]" in p.message.lower()


def test_cut_lines_are_warnings_with_line_numbers(dataset):
    gpu = dataset / "runs" / "run-a" / "gpu.csv"
    lines = gpu_lines()
    lines[4] = lines[4][:30]  # file line 5
    lines[-1] = lines[-1][:40]  # last line cut (logger killed), file line 13
    write(gpu, lines)
    probs = validate_dataset(dataset)
    assert not has_fatal(probs)
    assert sorted(p.line for p in probs) == [5, 13]
    assert all(p.file == str(gpu) and "cut short" in p.message for p in probs)


def test_epochs_out_of_order(dataset):
    ep = dataset / "runs" / "run-b" / "epochs.csv"
    write(ep, ["epoch,end_time", "0,2024-01-01 10:00:03.000", "2,2024-01-01 10:00:06.000", "1,2024-01-01 10:00:09.000"])
    p = only(validate_dataset(dataset), fatal=True)
    assert p.file == str(ep) and p.line == 4 and "out of order" in p.message


def test_epoch_end_outside_gpu_log_is_an_error_past_the_tolerance(dataset):
    """Ingest refuses a training window reaching an hour past the log (issue 13): validate says so."""
    ep = dataset / "runs" / "run-a" / "epochs.csv"
    write(ep, epoch_lines() + ["3,2024-01-01 11:00:00.000"])
    p = only(validate_dataset(dataset))
    assert p.fatal and p.file == str(ep) and p.line == 5 and "outside the GPU log" in p.message
    # within the tolerance (config: ingest.plausibility.window_tolerance_s, 5 s) it passes
    write(ep, epoch_lines() + ["3,2024-01-01 10:00:14.000"])  # 3 s after the log's last sample
    assert validate_dataset(dataset) == []
    assert only(validate_dataset(dataset, {"plausibility": {"window_tolerance_s": 1}})).line == 5  # 2 periods: 2 s


def test_row_without_folder_and_folder_without_row(dataset):
    runs = dataset / "runs.csv"
    runs.write_text(runs.read_text() + "run-c,cloud,RTX 3090,vgg16,chess,32,128,1000,100,16,10.5,0\n")
    write(dataset / "runs" / "stray" / "gpu.csv", gpu_lines())
    probs = validate_dataset(dataset)
    err = only(probs, fatal=True)
    assert err.file == str(runs) and err.line == 4 and "run-c" in err.message
    warn = only(probs, fatal=False)
    assert warn.file == str(dataset / "runs" / "stray") and "no row" in warn.message


def test_bad_value_and_duplicate_id_in_runs_csv(dataset):
    runs = dataset / "runs.csv"
    lines = runs.read_text().splitlines()
    lines[2] = lines[2].replace(",32,", ",thirty-two,")
    lines.append(lines[1])  # duplicate run-a at line 4
    write(runs, lines)
    probs = sorted((p for p in validate_dataset(dataset) if p.fatal), key=lambda p: p.line)
    assert [(p.file, p.line) for p in probs] == [(str(runs), 3), (str(runs), 4)]
    assert "batch_size" in probs[0].message and "duplicate" in probs[1].message


def test_missing_required_column(dataset):
    runs = dataset / "runs.csv"
    write(runs, [",".join(c for c in l.split(",")[:-1]) for l in runs.read_text().splitlines()])  # drop return_code
    p = only(validate_dataset(dataset))
    assert p.fatal and p.file == str(runs) and p.line == 1 and "return_code" in p.message


def test_empty_nullable_value_is_a_warning(dataset):
    runs = dataset / "runs.csv"
    write(runs, [l.replace(",10.5,", ",,") for l in runs.read_text().splitlines()])
    p = only(validate_dataset(dataset))
    assert not p.fatal and p.line == 2 and "gflops" in p.message


def test_cpu_log_without_memory_column(dataset):
    cpu = dataset / "runs" / "run-b" / "cpu.csv"
    write(cpu, [",".join(l.split(",")[:2]) for l in cpu_lines()])
    p = only(validate_dataset(dataset), fatal=True)
    assert p.file == str(cpu) and p.line == 1 and "memory" in p.message


def test_missing_gpu_log_and_missing_cpu_log(dataset):
    (dataset / "runs" / "run-a" / "gpu.csv").unlink()
    (dataset / "runs" / "run-b" / "cpu.csv").unlink()
    probs = validate_dataset(dataset)
    err = only(probs, fatal=True)
    assert err.file == str(dataset / "runs.csv") and err.line == 2 and "no GPU log" in err.message
    warn = only(probs, fatal=False)
    assert warn.file.endswith("run-b/cpu.csv") and "RAM" in warn.message


def test_too_few_samples(dataset):
    gpu = dataset / "runs" / "run-a" / "gpu.csv"
    write(gpu, gpu_lines(n=1))
    probs = validate_dataset(dataset)
    assert any(p.fatal and p.file == str(gpu) and "at least 2" in p.message for p in probs)


def test_no_runs_table(tmp_path):
    (tmp_path / "runs").mkdir()
    p = only(validate_dataset(tmp_path))
    assert p.fatal and p.file.endswith("runs.csv") and "not found" in p.message


def test_cli_exit_codes(dataset):
    runner = CliRunner()
    res = runner.invoke(app, ["validate", str(dataset)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [f"{dataset}: valid layout v1 dataset: 0 error(s), 0 warning(s)"]
    ep = dataset / "runs" / "run-b" / "epochs.csv"
    write(ep, ["epoch,end_time", "0,2024-01-01 10:00:03.000", "0,2024-01-01 10:00:06.000"])
    res = runner.invoke(app, ["validate", str(dataset)])
    assert res.exit_code == 1
    assert f"{ep}:3: error" in res.output.splitlines()[0]  # one message, one line (no hard wrap)
    # warnings alone keep exit code 0
    write(ep, epoch_lines())
    (dataset / "runs" / "run-b" / "cpu.csv").unlink()
    res = runner.invoke(app, ["validate", str(dataset)])
    assert res.exit_code == 0 and "warning" in res.output


def _cli_not_a_terminal(*args: str) -> subprocess.CompletedProcess:
    """``python -m dlenergy ARGS`` as CI or a pipe runs it: no COLUMNS, stdin/stdout/stderr not a terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TERM")}
    return subprocess.run(
        [sys.executable, "-m", "dlenergy", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_output_is_never_hard_wrapped_off_a_terminal(tmp_path, dataset):
    """Issue 12: rich wrapped at 80 columns when COLUMNS was unset, splitting paths over lines."""
    long_root = tmp_path / ("a_rather_long_folder_name_" * 6) / "measurements"
    long_root.parent.mkdir(parents=True)
    dataset.rename(long_root)
    assert len(str(long_root)) > 120
    ep = long_root / "runs" / "run-b" / "epochs.csv"
    write(ep, ["epoch,end_time", "0,2024-01-01 10:00:03.000", "0,2024-01-01 10:00:06.000"])
    (long_root / "runs" / "run-a" / "cpu.csv").unlink()
    res = _cli_not_a_terminal("validate", str(long_root))
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    problems = validate_dataset(long_root)
    assert len(problems) == 2 and len(lines) == len(problems) + 1, res.stdout
    for p, line in zip(problems, lines):  # each problem whole on its own line: file:line: kind: message
        kind = "error" if p.fatal else "warning"
        where = f"{p.file}:{p.line}" if p.line is not None else p.file
        assert line == f"{where}: {kind}: {p.message}"
    assert lines[-1] == f"{long_root}: not valid layout v1 dataset: 1 error(s), 1 warning(s)"
    # the error console (stderr) too
    missing = long_root / "no_such_dataset"
    res = _cli_not_a_terminal("ingest", str(missing), "--out", str(tmp_path / "out"))
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"error: {missing / 'runs.csv'}: runs table not found (layout v1 needs DATASET/runs.csv)"
    ]


def test_cli_console_keeps_rich_formatting_on_a_terminal():
    import io

    from dlenergy.cli import CliConsole

    msg = "[bold red]error:[/] " + " ".join(["word"] * 30)
    term = CliConsole(file=io.StringIO(), force_terminal=True, width=40)
    term.print(msg, highlight=False)
    out = term.file.getvalue()
    assert "\x1b[1;31m" in out and len(out.splitlines()) > 1  # colour, and rich's wrap at the terminal's width
    pipe = CliConsole(file=io.StringIO(), _environ={})  # no FORCE_COLOR, COLUMNS, TTY_COMPATIBLE
    pipe.print(msg, highlight=False)
    assert pipe.file.getvalue() == "error: " + " ".join(["word"] * 30) + "\n"


def test_validate_and_ingest_agree_on_every_refused_run(tmp_path):
    """validate runs ingest's own checks: the runs it reports errors for are exactly ingest's ledger."""
    from damaged import KEEP, copy_dataset, edit_lines, edit_runs_row, run_dir

    from dlenergy.ingest import ingest_dataset

    ds = copy_dataset(tmp_path)
    a, b, c, d, e, f = KEEP
    # a and f: untouched
    edit_lines(run_dir(ds, b) / "cpu.csv", lambda i, ln: ln.rsplit(b",", 1)[0] + b",-1")  # negative memory
    edit_runs_row(ds, "images_seen", "1e-300", run_id=c)  # implausible row value
    (run_dir(ds, d) / "gpu.csv").write_bytes(b"\xff\xfe\x00garbage")  # not a log
    p = run_dir(ds, e) / "epochs.csv"
    p.write_bytes(p.read_bytes() + b"99,2030-01-01 00:00:00\n")  # an epoch far past the log
    runs, _, ledger = ingest_dataset(ds)
    fatal = {p.run_id for p in validate_dataset(ds) if p.fatal}
    assert set(ledger.run_id) == fatal == {b, c, d, e}
    assert set(runs.run_id) == {a, f}
