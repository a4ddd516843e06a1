"""The log parsers on real logs and on malformed input."""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlenergy.layout import LayoutError
from dlenergy.parsing import read_cpu_log, read_epochs, read_gpu_log

NATIVE = "timestamp, name, utilization.gpu [%], utilization.memory [%], memory.total [MiB], memory.used [MiB], power.draw [W], power.max_limit [W], temperature.gpu"
RENAMED = "timestamp,gpu_name,gpu_usage,gpu_memory_usage,gpu_total_memory,gpu_memory_used,gpu_power_draw,gpu_max_power,gpu_temperature"


def _line(ts, power, usage=50, sep=", ", units=True):
    u = (lambda v, s: f"{v} {s}") if units else (lambda v, s: f"{v}")
    return sep.join([ts, "NVIDIA GeForce RTX 3090", u(usage, "%"), u(10, "%"), u(24268, "MiB"), u(1000, "MiB"),
                     u(f"{power:.2f}", "W"), u("350.00", "W"), "60"])


def test_all_real_seaa_gpu_logs_parse(seaa_dir):
    files = sorted(seaa_dir.glob("*/*/gpu-power-*.csv"))
    assert len(files) == 309
    total_cut = 0
    headers = set()
    for f in files:
        df, rep = read_gpu_log(f)
        headers.add(f.read_text().split("\n", 1)[0].split(",")[1].strip())
        assert len(df) > 10, f
        assert df["power_w"].notna().all(), f
        assert df["timestamp"].is_monotonic_increasing
        assert (df["power_w"] > 0).all() and (df["power_w"] < 400).all(), f
        assert df["gpu_usage_pct"].between(0, 100).all()
        total_cut += rep.n_cut
        # a cut line is the last line of the file, where the logger was killed
        for ln in rep.first_bad_lines:
            assert ln == len(f.read_text().splitlines()), (f, ln)
    assert {"name", "gpu_name"} <= headers  # both header styles occur
    assert total_cut > 0  # cut lines are counted, not fatal


def test_real_cpu_logs_parse(seaa_dir):
    for f in sorted(seaa_dir.glob("cloud/vgg16/cpu-mem-usage-*.csv"))[:5]:
        df, rep = read_cpu_log(f)
        assert len(df) > 10 and df["ram_used_mb"].between(100, 100_000).all()


def test_both_timestamp_formats_and_units(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text(NATIVE + "\n" + _line("2022-12-05 09:55:42.535", 100) + "\n" + _line("2022/12/05 09:55:43.535", 200) + "\n")
    df, rep = read_gpu_log(a)
    assert list(df["power_w"]) == [100.0, 200.0]
    assert df["t"].diff().iloc[1] == pytest.approx(1.0)
    b = tmp_path / "b.csv"
    b.write_text(RENAMED + "\n" + _line("2022-12-05 09:55:42.535", 100, sep=",", units=False) + "\n")
    df, _ = read_gpu_log(b)
    assert df["power_w"].iloc[0] == 100.0 and df["power_limit_w"].iloc[0] == 350.0


def test_missing_tokens_are_nan(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("timestamp, power.draw [W], utilization.gpu [%], power.limit [W]\n"
                 "2022/12/05 09:55:42.535, 50.0 W, [N/A], [Not Supported]\n"
                 "2022/12/05 09:55:43.535, 60.0 W, 20 %, 300.00 W\n")
    df, rep = read_gpu_log(p)
    assert np.isnan(df["gpu_usage_pct"].iloc[0]) and df["gpu_usage_pct"].iloc[1] == 20
    assert np.isnan(df["power_limit_w"].iloc[0])
    assert rep.n_unparsed_values == {}


def test_cut_lines_counted_with_line_numbers(tmp_path):
    p = tmp_path / "g.csv"
    lines = [NATIVE] + [_line(f"2023/03/08 14:23:{s:02d}.000", 100 + s) for s in range(10)]
    lines[4] = lines[4][:30]  # cut in the middle of a line (file line 5)
    text = "\n".join(lines) + "\n" + _line("2023/03/08 14:23:59.000", 1)[:40]  # killed logger, no newline
    p.write_text(text)
    df, rep = read_gpu_log(p)
    assert rep.n_cut == 2 and rep.first_bad_lines == [5, 12]
    assert len(df) == 9


@pytest.mark.parametrize(
    "content, match",
    [
        ("", r"g\.csv:1: GPU log is empty"),
        ("timestamp, utilization.gpu [%]\n2022/12/05 09:55:42.535, 20 %\n", r"g\.csv:1: GPU log header has no power draw"),
        ("power.draw [W]\n50 W\n", r"g\.csv:1: GPU log header has no timestamp"),
    ],
)
def test_bad_gpu_logs_name_file_and_line(tmp_path, content, match):
    p = tmp_path / "g.csv"
    p.write_text(content)
    with pytest.raises(LayoutError, match=match):
        read_gpu_log(p)


def test_missing_log_names_file(tmp_path):
    with pytest.raises(LayoutError, match=r"nope\.csv: GPU log not found"):
        read_gpu_log(tmp_path / "nope.csv")


def test_epoch_file_errors(tmp_path):
    p = tmp_path / "epochs.csv"
    p.write_text("epoch,end_time\n0,2023-01-01 00:00:10\n2,2023-01-01 00:00:20\n1,2023-01-01 00:00:30\n")
    with pytest.raises(LayoutError, match=r"epochs\.csv:4: epoch markers out of order"):
        read_epochs(p)
    p.write_text("epoch,end_time\n0,yesterday\n")
    with pytest.raises(LayoutError, match=r"epochs\.csv:2: bad epoch marker"):
        read_epochs(p)
    p.write_text("")
    assert read_epochs(p).empty


_field = st.text(alphabet=string.ascii_letters + string.digits + " .%/-:[]_", max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(st.floats(min_value=0, max_value=400, allow_nan=False), min_size=2, max_size=30),  # <= 1.2 x 350 W
    junk=st.lists(st.tuples(st.integers(min_value=0, max_value=40), st.lists(_field, min_size=0, max_size=12)), max_size=6),
    cut_at=st.integers(min_value=0, max_value=80),
)
def test_parser_survives_malformed_lines(tmp_path, good, junk, cut_at):
    """Any mix of valid lines and garbage: never crashes, keeps every valid line, accounts for every line."""
    lines = [_line(f"2023/03/08 14:{i // 60:02d}:{i % 60:02d}.000", v) for i, v in enumerate(good)]
    body = list(lines)
    for pos, fields in junk:
        body.insert(min(pos, len(body)), ", ".join(fields))
    tail = _line("2023/03/08 15:00:00.000", 1.0)[:cut_at]
    p = tmp_path / "g.csv"
    p.write_text(NATIVE + "\n" + "\n".join(body) + ("\n" + tail if tail else "\n"))
    df, rep = read_gpu_log(p)
    # every valid line survives with its value
    got = df.set_index("timestamp")["power_w"]
    for i, v in enumerate(good):
        ts = pd.Timestamp(f"2023-03-08 14:{i // 60:02d}:{i % 60:02d}")
        assert ts in got.index and got.loc[ts].min() <= round(v, 2) + 1e-9
    # nothing vanishes unaccounted: kept + cut + unparsable timestamps = data lines
    n_data = len(body) + (1 if tail else 0)
    assert rep.n_kept + rep.n_cut + rep.n_bad_timestamp == rep.n_lines
    assert rep.n_lines >= n_data - sum(1 for _, f in junk if not any(x.strip() for x in f) and len(f) <= 1)


def test_header_only_logs_are_empty_not_errors(tmp_path):
    (tmp_path / "c.csv").write_text("timestamp,cpu usage (%),memory usage (MB)\n")
    df, rep = read_cpu_log(tmp_path / "c.csv")
    assert df.empty and rep.n_lines == 0
    (tmp_path / "g.csv").write_text(NATIVE + "\n")
    df, rep = read_gpu_log(tmp_path / "g.csv")
    assert df.empty and "power_w" in df
