"""Damaged-data suite, issue 13 item 1: a run's bad file is that run's problem.

Each case copies the tiny simulated dataset, damages one run's file (tests/damaged.py) and asserts
the outcome: the victim keeps its energy (time zones, encodings, BOM, line ends) or is in the ingest
ledger with a printable file:line reason, and every other run is unchanged bit for bit.
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlenergy.ingest as ingest_mod


def _damaged(tmp_path, damage):
    ds = copy_dataset(tmp_path)
    damage(ds)
    got = ingest(ds)
    assert_others_unchanged(got)
    return got


def _exactly_as_undamaged(got):
    """The victim's row and epochs equal the undamaged ones (counts and clock columns aside)."""
    row, ref = got.row(), baseline().row()
    for c in (
        "energy_j",
        "gpu_energy_j",
        "ram_energy_j",
        "duration_s",
        "start_time",
        "end_time",
        "epochs_measured",
        "mean_gpu_power_w",
        "gpu_usage_pct",
        "n_gpu_samples",
    ):
        assert row[c] == ref[c], (c, row[c], ref[c])
    e = got.epochs[got.epochs.run_id == VICTIM].reset_index(drop=True)
    e0 = baseline().epochs[baseline().epochs.run_id == VICTIM].reset_index(drop=True)
    pd.testing.assert_frame_equal(e, e0, check_exact=True)
    return row


def _with_zone(ts: bytes, zone: bytes) -> bytes:
    return ts.rstrip() + zone


# ----------------------------------------------------------------------------- time zones


def test_epoch_ends_with_a_zone_are_read_on_the_runs_clock(tmp_path):
    def damage(ds):
        edit_lines(run_dir(ds) / "epochs.csv", lambda i, ln: ln + b"+01:00")

    row = _exactly_as_undamaged(_damaged(tmp_path, damage))
    assert row["clock_utc_offset_s"] == 3600.0


def test_a_zone_on_one_epoch_line_only(tmp_path):
    def damage(ds):
        edit_lines(run_dir(ds) / "epochs.csv", lambda i, ln: ln + b"+01:00" if i == 4 else ln)

    _exactly_as_undamaged(_damaged(tmp_path, damage))


def test_mixed_zones_within_a_file_are_converted(tmp_path):
    """A daylight-saving change mid-log: the second half in +02:00, its wall clock an hour ahead."""

    def damage(ds):
        def shift(i, ln):
            ts, rest = ln.split(b",", 1)
            t = pd.Timestamp(ts.decode().replace("/", "-"))
            if i < 200:
                return f"{t:%Y/%m/%d %H:%M:%S.%f}"[:-3].encode() + b"+01:00," + rest
            return f"{t + pd.Timedelta(hours=1):%Y/%m/%d %H:%M:%S.%f}"[:-3].encode() + b"+02:00," + rest

        edit_lines(run_dir(ds) / "gpu.csv", shift)

    row = _exactly_as_undamaged(_damaged(tmp_path, damage))
    assert row["gpu_reordered_lines"] == 0 and row["clock_utc_offset_s"] == 3600.0


def test_gpu_log_with_a_zone_next_to_naive_epochs(tmp_path):
    def damage(ds):
        edit_lines(
            run_dir(ds) / "gpu.csv", lambda i, ln: b",".join([_with_zone(ln.split(b",")[0], b"Z"), *ln.split(b",")[1:]])
        )

    row = _exactly_as_undamaged(_damaged(tmp_path, damage))
    assert row["clock_utc_offset_s"] == 0.0


def test_cpu_log_with_a_zone_keeps_its_ram_energy(tmp_path):
    def damage(ds):
        edit_lines(
            run_dir(ds) / "cpu.csv", lambda i, ln: b",".join([ln.split(b",")[0] + b"+05:30", *ln.split(b",")[1:]])
        )

    row = _exactly_as_undamaged(_damaged(tmp_path, damage))
    assert row["ram_energy_j"] > 0 and row["has_ram_log"]


def test_train_start_with_a_zone_on_one_row(tmp_path):
    ts = str(baseline().row()["train_start"])

    def damage(ds):
        edit_runs_row(ds, "train_start", ts + "+01:00")

    _exactly_as_undamaged(_damaged(tmp_path, damage))


def test_train_start_in_utc_next_to_logs_in_local_time(tmp_path):
    """Logs written at +01:00, train_start in UTC (an hour earlier on the wall clock): one instant."""
    utc = pd.Timestamp(baseline().row()["train_start"]) - pd.Timedelta(hours=1)

    def damage(ds):
        edit_lines(
            run_dir(ds) / "gpu.csv", lambda i, ln: b",".join([ln.split(b",")[0] + b"+01:00", *ln.split(b",")[1:]])
        )
        edit_runs_row(ds, "train_start", utc.isoformat() + "Z")

    _exactly_as_undamaged(_damaged(tmp_path, damage))


# ----------------------------------------------------------------------------- encodings, BOM, line ends


def test_latin1_text_in_an_epoch_column_costs_nothing(tmp_path):
    def damage(ds):
        p = run_dir(ds) / "epochs.csv"
        lines = lines_of(p)
        write_lines(p, [lines[0] + b",note"] + [ln + b",caf\xe9" for ln in lines[1:]])

    _exactly_as_undamaged(_damaged(tmp_path, damage))


def test_binary_epoch_file_is_the_runs_problem(tmp_path):
    def damage(ds):
        (run_dir(ds) / "epochs.csv").write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8)))

    assert_ledgered(_damaged(tmp_path, damage), r"^runs/.*/epochs\.csv:1: ")


def test_epoch_line_with_an_extra_field(tmp_path):
    def damage(ds):
        edit_lines(run_dir(ds) / "epochs.csv", lambda i, ln: ln + b",42" if i == 6 else ln)

    reason = assert_ledgered(_damaged(tmp_path, damage), r"epochs\.csv:8: epoch marker line has 3 field")
    assert VICTIM in reason


def test_one_invalid_byte_costs_only_its_line(tmp_path):
    def damage(ds):
        edit_lines(run_dir(ds) / "gpu.csv", lambda i, ln: ln.replace(b"NVIDIA", b"NV\xffDIA") if i == 100 else ln)

    row = assert_kept(_damaged(tmp_path, damage), rel=0.001)
    assert row["gpu_bad_byte_lines"] == 1 and row["gpu_dropped_lines"] == baseline().row()["gpu_dropped_lines"] + 1


def test_invalid_bytes_on_a_cut_last_line(tmp_path):
    def damage(ds):
        p = run_dir(ds) / "gpu.csv"
        p.write_bytes(p.read_bytes() + b"2023/03/01 12:\xe9\xff")

    row = assert_kept(_damaged(tmp_path, damage), rel=0.0)
    assert row["gpu_bad_byte_lines"] == 1


@pytest.mark.parametrize("name", ["gpu.csv", "cpu.csv", "epochs.csv", "runs.csv"])
def test_byte_order_mark_in_every_file(tmp_path, name):
    def damage(ds):
        p = ds / name if name == "runs.csv" else run_dir(ds) / name
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())

    _exactly_as_undamaged(_damaged(tmp_path, damage))


@pytest.mark.parametrize("end", [b"\r", b"\r\n"], ids=["CR", "CRLF"])
@pytest.mark.parametrize("name", ["gpu.csv", "cpu.csv", "epochs.csv", "runs.csv"])
def test_cr_and_crlf_line_ends_in_every_file(tmp_path, name, end):
    def damage(ds):
        p = ds / name if name == "runs.csv" else run_dir(ds) / name
        write_lines(p, lines_of(p), end)

    _exactly_as_undamaged(_damaged(tmp_path, damage))


@pytest.mark.parametrize("name", ["gpu.csv", "cpu.csv", "epochs.csv", "runs.csv"])
def test_utf16_files_from_windows_powershell(tmp_path, name):
    """`nvidia-smi ... > gpu.csv` in Windows PowerShell writes UTF-16 with a byte-order mark, CRLF."""

    def damage(ds):
        p = ds / name if name == "runs.csv" else run_dir(ds) / name
        p.write_bytes(p.read_bytes().decode("utf-8").replace("\n", "\r\n").encode("utf-16"))

    _exactly_as_undamaged(_damaged(tmp_path, damage))


def test_binary_gpu_log_gets_a_printable_reason(tmp_path):
    def damage(ds):
        (run_dir(ds) / "gpu.csv").write_bytes(b"\x00\xff\xfe" + bytes(range(256)) * 40)

    reason = assert_ledgered(_damaged(tmp_path, damage), r"gpu\.csv:1: GPU log header is not UTF-8")
    assert "\\x" not in reason or len(reason) <= 200


def test_garbage_header_is_escaped_and_short(tmp_path):
    def damage(ds):
        p = run_dir(ds) / "gpu.csv"
        lines = lines_of(p)
        write_lines(p, [b"\x01\x02 garbage \x1b[31m" * 30] + lines[1:])

    reason = assert_ledgered(_damaged(tmp_path, damage), r"gpu\.csv:1: GPU log header has no")
    assert "\x1b" not in reason and len(reason) <= 200


# ----------------------------------------------------------------------------- line numbers


def test_ledger_names_the_file_line(tmp_path):
    """A negative sample on file line 201 (blank lines and a cut line before it counted as lines)."""

    def damage(ds):
        p = run_dir(ds) / "gpu.csv"
        lines = lines_of(p)
        lines[50] = b""  # blank line
        lines[60] = lines[60][:25]  # cut line
        lines[200] = re.sub(rb"[0-9.]+ W, 350", b"-5.00 W, 350", lines[200])
        write_lines(p, lines)

    assert_ledgered(_damaged(tmp_path, damage), r"^runs/[^ ]+/gpu\.csv:201: negative power draw -5 W")


def test_validate_reports_file_lines_of_cut_lines(tmp_path):
    from dlenergy.validate import validate_dataset

    ds = copy_dataset(tmp_path)
    p = run_dir(ds) / "gpu.csv"
    lines = lines_of(p)
    lines[200] = lines[200][:30]
    lines[10] = b""
    write_lines(p, lines)
    cut = [x for x in validate_dataset(ds) if "cut short" in x.message and x.run_id == VICTIM]
    assert [x.line for x in cut] == [201]


# ----------------------------------------------------------------------------- whatever else fails


def test_any_exception_of_one_run_lands_in_the_ledger(tmp_path, monkeypatch):
    real = ingest_mod.read_epochs_lines

    def flaky(path, **kw):
        if VICTIM in str(path):
            raise TypeError("Cannot compare tz-naive and tz-aware \x00 timestamps\nsecond line")
        return real(path, **kw)

    monkeypatch.setattr(ingest_mod, "read_epochs_lines", flaky)
    got = _damaged(tmp_path, lambda ds: None)
    reason = assert_ledgered(got, r"epochs\.csv: cannot read: TypeError: Cannot compare")
    assert "\n" not in reason and "\\x00" in reason


def test_good_damage_still_holds(tmp_path):
    """Cut lines, a NUL block, garbage lines and two swapped lines: the run keeps its energy."""

    def damage(ds):
        def f(i, ln):
            if i == 30:
                return ln[:20]
            if i == 60:
                return [ln, b"\x00" * 64]
            if i == 90:
                return [b"garbage,,,", ln]
            return ln

        edit_lines(run_dir(ds) / "gpu.csv", f)
        p = run_dir(ds) / "gpu.csv"
        lines = lines_of(p)
        lines[150], lines[151] = lines[151], lines[150]
        write_lines(p, lines)

    row = assert_kept(_damaged(tmp_path, damage), rel=0.005)
    assert row["gpu_reordered_lines"] == 1 and row["gpu_dropped_lines"] >= 3


@pytest.mark.parametrize(
    "content, pattern", [(b"", r"gpu\.csv:1: GPU log is empty"), (None, r"gpu\.csv: GPU log has 0 readable sample")]
)
def test_empty_and_header_only_gpu_logs(tmp_path, content, pattern):
    def damage(ds):
        p = run_dir(ds) / "gpu.csv"
        p.write_bytes(content if content is not None else lines_of(p)[0] + b"\n")

    assert_ledgered(_damaged(tmp_path, damage), pattern)


# ----------------------------------------------------------------------------- property: any few damaged bytes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4),
    name=st.sampled_from(["gpu.csv", "cpu.csv", "epochs.csv"]),
)
def test_any_few_damaged_bytes_are_kept_or_ledgered(tmp_path_factory, edits, name):
    """Overwrite up to four bytes anywhere in one of the victim's logs: never a traceback, never a
    silent wrong number: the victim keeps its energy within 2 %, or is in the ledger with a reason."""
    ds = copy_dataset(tmp_path_factory.mktemp("bytes"))
    p = run_dir(ds) / name
    data = bytearray(p.read_bytes())
    for pos, byte in edits:
        data[int(pos * (len(data) - 1))] = byte
    p.write_bytes(bytes(data))
    got = ingest(ds)
    assert_others_unchanged(got)
    if VICTIM in set(got.ledger.run_id):
        assert_ledgered(got, r"^runs/")
    else:
        assert_kept(got, rel=0.02)
