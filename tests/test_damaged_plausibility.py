"""Damaged-data suite, issue 13 item 2: no implausible value becomes a silent number.

Each case damages one run of the tiny simulated dataset; the victim keeps its energy (the bad
samples dropped, counted) or is in the ingest ledger with the reason; the other runs are unchanged.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from damaged import (
    VICTIM,
    assert_kept,
    assert_ledgered,
    assert_others_unchanged,
    baseline,
    copy_dataset,
    edit_lines,
    edit_runs_row,
    ingest,
    lines_of,
    run_dir,
    write_lines,
)

POWER = re.compile(rb"(\d+\.\d+) W, (\d+\.\d+) W, ")  # power.draw [W], power.limit [W]


def _damaged(tmp_path, damage, **kw):
    ds = copy_dataset(tmp_path)
    damage(ds)
    got = ingest(ds, **kw)
    assert_others_unchanged(got)
    return got


def _power(fn, rows=None):
    """Rewrite the power.draw value of the given data rows (all when None) with ``fn(value)``."""

    def edit(i, ln):
        if rows is not None and i not in rows:
            return ln
        return POWER.sub(lambda m: fn(float(m.group(1))) + b" W, " + m.group(2) + b" W, ", ln, count=1)

    return edit


def _header(old: bytes, new: bytes):
    def damage(ds):
        p = run_dir(ds) / "gpu.csv"
        lines = lines_of(p)
        write_lines(p, [lines[0].replace(old, new)] + lines[1:])

    return damage


# ----------------------------------------------------------------------------- units


def test_kw_header_over_values_in_watts_is_refused(tmp_path):
    assert_ledgered(
        _damaged(tmp_path, _header(b"power.draw [W]", b"power.draw [kW]")),
        r"gpu\.csv:1: the header of column 'power.draw \[kW\]' says \[kw\] but its values are in w",
    )


def test_kw_header_over_plain_values_in_watts_is_refused(tmp_path):
    """[kW] with unitless values that are watts: honoured, every sample is then far above the limit."""

    def damage(ds):
        _header(b"power.draw [W]", b"power.draw [kW]")(ds)
        edit_lines(run_dir(ds) / "gpu.csv", _power(lambda v: f"{v:.2f}".encode()))
        p = run_dir(ds) / "gpu.csv"
        p.write_bytes(p.read_bytes().replace(b" W, 350.00 W", b", 350.00 W"))

    assert_ledgered(_damaged(tmp_path, damage), r"gpu\.csv: \d+ of \d+ power samples dropped \(100\.0% > 5%\)")


def test_mw_header_over_plain_values_in_watts_is_refused(tmp_path):
    """[mW] honoured turns 120 W into 0.12 W: a GPU whose peak is under 1 % of its limit is refused."""

    def damage(ds):
        _header(b"power.draw [W]", b"power.draw [mW]")(ds)
        p = run_dir(ds) / "gpu.csv"
        edit_lines(p, _power(lambda v: f"{v:.2f}".encode()))
        p.write_bytes(p.read_bytes().replace(b" W, 350.00 W", b", 350.00 W"))

    assert_ledgered(_damaged(tmp_path, damage), r"highest power sample is 0\.\d+ W, below 3\.5 W.*wrong unit")


@pytest.mark.parametrize("unit, scale", [(b"kW", 1e-3), (b"mW", 1e3)])
def test_header_unit_is_honoured(tmp_path, unit, scale):
    def damage(ds):
        _header(b"power.draw [W]", b"power.draw [" + unit + b"]")(ds)
        p = run_dir(ds) / "gpu.csv"
        edit_lines(p, _power(lambda v: repr(v * scale).encode()))
        p.write_bytes(p.read_bytes().replace(b" W, 350.00 W", b", 350.00 W"))

    row = assert_kept(_damaged(tmp_path, damage), rel=1e-9)
    assert row["converted_units"] == f"power_w:{unit.decode().lower()}"


def test_unknown_unit_is_refused(tmp_path):
    assert_ledgered(
        _damaged(tmp_path, _header(b"power.draw [W]", b"power.draw [hp]")),
        r"gpu\.csv:1: column 'power\.draw \[hp\]' is in \[hp\]",
    )


def test_ram_in_gigabytes_is_converted_with_1024(tmp_path):
    """RAM convention: MB = 2**20 bytes (psutil rss / 1024 / 1024); a header in GB is x 1024."""

    def damage(ds):
        p = run_dir(ds) / "cpu.csv"
        lines = lines_of(p)
        out = [lines[0].replace(b"memory usage (MB)", b"memory usage (GB)")]
        for ln in lines[1:]:
            a, b, c = ln.split(b",")
            out.append(b",".join([a, b, repr(float(c) / 1024).encode()]))
        write_lines(p, out)

    row = assert_kept(_damaged(tmp_path, damage), rel=1e-12, column="ram_energy_j")
    ref = baseline().row()
    assert row["mean_ram_used_mb"] == pytest.approx(ref["mean_ram_used_mb"], rel=1e-12)
    assert row["ram_energy_j"] == pytest.approx(ref["mean_ram_used_mb"] * 3.75e-4 * ref["duration_s"], rel=0.02)


# ----------------------------------------------------------------------------- power samples


def test_negative_power_refuses_the_run(tmp_path):
    assert_ledgered(
        _damaged(tmp_path, lambda ds: edit_lines(run_dir(ds) / "gpu.csv", _power(lambda v: f"-{v:.2f}".encode()))),
        r"gpu\.csv:2: negative power draw -\d+\.?\d* W \(\d+ negative sample",
    )


@pytest.mark.parametrize("value", [b"99999.00", b"1e300", b"inf", b"nan"])
def test_one_absurd_sample_is_dropped_and_counted(tmp_path, value):
    got = _damaged(tmp_path, lambda ds: edit_lines(run_dir(ds) / "gpu.csv", _power(lambda v: value, rows={150})))
    row = assert_kept(got, rel=0.002)
    assert np.isfinite(row["energy_j"]) and row["power_samples_dropped"] == 1
    assert row["power_samples_above_limit"] == (1 if value in (b"99999.00", b"1e300") else 0)
    assert row["power_cap_w"] == pytest.approx(350 * 1.2) and row["power_cap_source"] == "log"


def test_the_spec_tdp_caps_a_log_without_power_limit(tmp_path):
    """No power.limit in the log: the GPU table's TDP (RTX 3090: 350 W) x the margin caps the samples."""

    def damage(ds):
        p = run_dir(ds) / "gpu.csv"
        lines = lines_of(p)
        out = [lines[0].replace(b", power.limit [W]", b"")] + [
            re.sub(rb", \d+\.\d+ W, (\d+)$", rb", \1", ln) for ln in lines[1:]
        ]
        out[151] = (
            POWER.sub(b"500.00 W, ", out[151], count=1)
            if POWER.search(out[151])
            else re.sub(rb"\d+\.\d+ W", b"500.00 W", out[151], count=1)
        )
        write_lines(p, out)

    row = assert_kept(_damaged(tmp_path, damage), rel=0.002)
    assert row["power_cap_source"] == "spec" and row["power_cap_w"] == pytest.approx(420.0)
    assert row["power_samples_above_limit"] == 1


def test_too_many_dropped_samples_exclude_the_run(tmp_path):
    rows = set(range(10, 400, 10))  # ~9 % of the samples
    assert_ledgered(
        _damaged(tmp_path, lambda ds: edit_lines(run_dir(ds) / "gpu.csv", _power(lambda v: b"5000.00", rows))),
        r"gpu\.csv: 39 of \d+ power samples dropped \(\d+\.\d% > 5%\): 0 unreadable, 0 non-finite, 39 above 420 W",
    )


def test_dropped_share_threshold_is_config(tmp_path):
    rows = set(range(10, 400, 10))
    got = _damaged(
        tmp_path,
        lambda ds: edit_lines(run_dir(ds) / "gpu.csv", _power(lambda v: b"5000.00", rows)),
        config={"plausibility": {"max_dropped_share": 0.2}},
    )
    row = assert_kept(got, rel=0.01)
    assert row["power_samples_above_limit"] == 39


# ----------------------------------------------------------------------------- duplicates, clock


def _n_lines() -> int:
    from damaged import base_dataset

    return len(lines_of(run_dir(base_dataset()) / "gpu.csv")) - 1


def test_a_few_conflicting_duplicates_are_dropped_and_bridged(tmp_path):
    """A line repeated with another power: which one is right is unknowable, so both are dropped."""

    def damage(ds):
        edit_lines(
            run_dir(ds) / "gpu.csv",
            lambda i, ln: [ln, POWER.sub(b"1.00 W, 350.00 W, ", ln, count=1)] if i % 80 == 40 else ln,
        )

    row = assert_kept(_damaged(tmp_path, damage), rel=0.003)
    n = len(range(40, _n_lines(), 80))
    assert row["gpu_duplicate_timestamps"] == n and row["power_samples_dropped"] == 2 * n


def test_identical_repeated_lines_merge_without_loss(tmp_path):
    row = assert_kept(
        _damaged(tmp_path, lambda ds: edit_lines(run_dir(ds) / "gpu.csv", lambda i, ln: [ln, ln])), rel=0.0
    )
    assert row["gpu_duplicate_timestamps"] == _n_lines()
    assert row["power_samples_dropped"] == 0


def test_every_line_duplicated_with_other_power_is_refused(tmp_path):
    def damage(ds):
        edit_lines(run_dir(ds) / "gpu.csv", lambda i, ln: [ln, _power(lambda v: f"{v / 2:.2f}".encode())(i, ln)])

    assert_ledgered(_damaged(tmp_path, damage), r"lines come in bursts")


@pytest.mark.parametrize("step_s", [60, 3600])
def test_clock_stepping_back_is_a_ledger_reason(tmp_path, step_s):
    def damage(ds):
        def f(i, ln):
            if i < 200:
                return ln
            ts, rest = ln.split(b",", 1)
            t = pd.Timestamp(ts.decode().replace("/", "-")) - pd.Timedelta(seconds=step_s)
            return f"{t:%Y/%m/%d %H:%M:%S.%f}"[:-3].encode() + b"," + rest

        edit_lines(run_dir(ds) / "gpu.csv", f)

    reason = assert_ledgered(_damaged(tmp_path, damage), r"gpu\.csv:202: the clock steps back by (\d+\.\d+) s")
    assert float(re.search(r"back by (\d+\.\d+) s", reason).group(1)) == pytest.approx(step_s - 1.0, abs=0.1)


def test_clock_jumping_forward_inside_the_window_is_a_ledger_reason(tmp_path):
    def damage(ds):
        def f(i, ln):
            if i < 200:
                return ln
            ts, rest = ln.split(b",", 1)
            t = pd.Timestamp(ts.decode().replace("/", "-")) + pd.Timedelta(hours=1)
            return f"{t:%Y/%m/%d %H:%M:%S.%f}"[:-3].encode() + b"," + rest

        edit_lines(run_dir(ds) / "gpu.csv", f)

    assert_ledgered(_damaged(tmp_path, damage), r"gpu\.csv:202: no GPU sample for 3601 s inside the training window")


# ----------------------------------------------------------------------------- the training window


def test_epoch_ends_an_hour_past_the_log(tmp_path):
    def damage(ds):
        p = run_dir(ds) / "epochs.csv"
        lines = lines_of(p)
        ep, ts = lines[-1].split(b",")
        lines[-1] = ep + b"," + str(pd.Timestamp(ts.decode()) + pd.Timedelta(hours=1)).encode()
        write_lines(p, lines)

    assert_ledgered(
        _damaged(tmp_path, damage),
        rf"epochs\.csv:{len(baseline().epochs[baseline().epochs.run_id == VICTIM]) + 1}: "
        r"epoch \d+ ends outside the GPU log",
    )


def test_train_start_a_day_early(tmp_path):
    ts = pd.Timestamp(baseline().row()["train_start"]) - pd.Timedelta(days=1)
    assert_ledgered(
        _damaged(tmp_path, lambda ds: edit_runs_row(ds, "train_start", str(ts))),
        r"runs\.csv:2: train_start .* is 8639\d s before the GPU log's first sample",
    )


def test_train_start_after_the_first_epoch_end(tmp_path):
    ts = pd.Timestamp(baseline().epochs[baseline().epochs.run_id == VICTIM]["end_time"].iloc[1])
    assert_ledgered(
        _damaged(tmp_path, lambda ds: edit_runs_row(ds, "train_start", str(ts))),
        r"runs\.csv:2: train_start .* is after the first epoch end",
    )


def test_window_tolerance_is_config(tmp_path):
    """train_start 30 s before the log: refused by default (5 s: the integral would miss 30 s of power)."""
    ts = pd.Timestamp(baseline().row()["train_start"]) - pd.Timedelta(seconds=30)
    assert_ledgered(
        _damaged(tmp_path, lambda ds: edit_runs_row(ds, "train_start", str(ts))),
        r"is 2\d s before the GPU log's first sample \(tolerance 5 s\)",
    )
    got = _damaged(
        tmp_path / "lenient",
        lambda ds: edit_runs_row(ds, "train_start", str(ts)),
        config={"plausibility": {"window_tolerance_s": 60}},
    )
    row = assert_kept(got, rel=0.5)
    assert row["duration_s"] == pytest.approx(baseline().row()["duration_s"] + 30, abs=1e-6)


def test_train_start_after_the_log(tmp_path):
    ts = pd.Timestamp(baseline().row()["end_time"]) + pd.Timedelta(hours=2)

    def damage(ds):
        edit_runs_row(ds, "train_start", str(ts))
        (run_dir(ds) / "epochs.csv").unlink()

    assert_ledgered(_damaged(tmp_path, damage), r"runs\.csv:2: train_start .* is at or after the GPU log's last sample")


# ----------------------------------------------------------------------------- cpu.csv


def test_header_only_cpu_log_is_not_a_silent_zero(tmp_path):
    def damage(ds):
        p = run_dir(ds) / "cpu.csv"
        write_lines(p, lines_of(p)[:1])

    assert_ledgered(_damaged(tmp_path, damage), r"cpu\.csv: 0 RAM sample\(s\) inside the training window")


def test_negative_memory_refuses_the_run(tmp_path):
    def damage(ds):
        edit_lines(run_dir(ds) / "cpu.csv", lambda i, ln: ln.rsplit(b",", 1)[0] + b",-" + ln.rsplit(b",", 1)[1])

    assert_ledgered(_damaged(tmp_path, damage), r"cpu\.csv:2: negative memory usage \(MB\)")


# ----------------------------------------------------------------------------- runs.csv values


def test_missing_power_is_bridged_but_not_over_a_long_stretch(tmp_path):
    """[N/A] samples are bridged like cut lines (counted); six minutes of them is a gap, not a bridge."""

    def na(rows):
        return lambda i, ln: POWER.sub(rb"[N/A], \2 W, ", ln, count=1) if i in rows else ln

    got = _damaged(tmp_path, lambda ds: edit_lines(run_dir(ds) / "gpu.csv", na(set(range(100, 140)))))
    row = assert_kept(got, rel=0.02)
    assert row["power_samples_dropped"] == 40 and row["power_samples_above_limit"] == 0
    got = _damaged(
        tmp_path / "long",
        lambda ds: edit_lines(run_dir(ds) / "gpu.csv", na(set(range(50, 420)))),
        config={"plausibility": {"max_gap_s": 120}},
    )
    assert_ledgered(got, r"gpu\.csv:\d+: no GPU sample for 3\d\d s inside the training window")


@pytest.mark.parametrize(
    "column, value, pattern",
    [
        ("images_seen", "1e-300", r"images_seen = 1e-300 is not a count of images"),
        ("images_seen", "0", r"images_seen = 0 is not a count"),
        ("images_seen", "1e12", r"images_seen = 1e\+12 is .* x epochs"),
        ("batch_size", "0", r"batch_size = 0 is not a positive number"),
        ("training_size", "-5", r"training_size = -5 is not a positive number"),
        ("gflops", "-1.5", r"gflops = -1\.5 is not a positive number"),
        ("image_size", "-128", r"image_size = -128 is negative"),
    ],
)
def test_implausible_runs_csv_values(tmp_path, column, value, pattern):
    assert_ledgered(_damaged(tmp_path, lambda ds: edit_runs_row(ds, column, value)), r"runs\.csv:2: " + pattern)
