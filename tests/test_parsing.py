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
    return sep.join(
        [
            ts,
            "NVIDIA GeForce RTX 3090",
            u(usage, "%"),
            u(10, "%"),
            u(24268, "MiB"),
            u(1000, "MiB"),
            u(f"{power:.2f}", "W"),
            u("350.00", "W"),
            "60",
        ]
    )


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
        # the plausibility stages leave the real logs alone: nothing dropped, re-sorted or merged
        assert rep.power.n_dropped == 0 and rep.n_reordered == 0 and rep.n_duplicates == 0, f
        assert rep.n_gpus == 1 and rep.power.cap_source == "log" and rep.n_bad_bytes == 0, f
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
    a.write_text(
        NATIVE + "\n" + _line("2022-12-05 09:55:42.535", 100) + "\n" + _line("2022/12/05 09:55:43.535", 200) + "\n"
    )
    df, rep = read_gpu_log(a)
    assert list(df["power_w"]) == [100.0, 200.0]
    assert df["t"].diff().iloc[1] == pytest.approx(1.0)
    b = tmp_path / "b.csv"
    b.write_text(RENAMED + "\n" + _line("2022-12-05 09:55:42.535", 100, sep=",", units=False) + "\n")
    df, _ = read_gpu_log(b)
    assert df["power_w"].iloc[0] == 100.0 and df["power_limit_w"].iloc[0] == 350.0


def test_missing_tokens_are_nan(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text(
        "timestamp, power.draw [W], utilization.gpu [%], power.limit [W]\n"
        "2022/12/05 09:55:42.535, 50.0 W, [N/A], [Not Supported]\n"
        "2022/12/05 09:55:43.535, 60.0 W, 20 %, 300.00 W\n"
    )
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
        (
            "timestamp, utilization.gpu [%]\n2022/12/05 09:55:42.535, 20 %\n",
            r"g\.csv:1: GPU log header has no power draw",
        ),
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
    # plausible power on a 350 W board: at least 1 % of it (the peak check), at most 1.2 x (the cap)
    good=st.lists(st.floats(min_value=3.5, max_value=420, allow_nan=False), min_size=2, max_size=30),
    junk=st.lists(
        st.tuples(st.integers(min_value=0, max_value=40), st.lists(_field, min_size=0, max_size=12)), max_size=6
    ),
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


# ----------------------------------------------------------------------------- issue 13: what must not pass silently


def test_bad_timestamp_rows_are_never_kept(tmp_path):
    """A line whose timestamp does not parse is dropped and counted: kept, it would be a sample at
    1970 (or NaT) and the trapezoid would integrate power over decades."""
    p = tmp_path / "g.csv"
    p.write_text(
        "timestamp, power.draw [W]\n2024/01/01 10:00:00.000, 100.00 W\nnot a time, 100.00 W\n"
        "2024/01/01 10:00:09.000, 100.00 W\n2024-01-01T10:00:09.5, 100.00 W\n"
    )
    df, rep = read_gpu_log(p)
    assert rep.n_bad_timestamp == 1 and rep.bad_timestamp_lines == [3] and len(df) == 3
    assert df["t"].iloc[-1] - df["t"].iloc[0] == pytest.approx(9.5)
    from dlenergy.energy import run_energy

    assert run_energy(df, None, None).metrics["gpu_energy_j"] == pytest.approx(950.0)


def test_multi_gpu_power_is_summed_and_usage_averaged(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text(
        "timestamp, index, utilization.gpu [%], memory.used [MiB], power.draw [W], power.limit [W]\n"
        "2024/01/01 10:00:00.000, 0, 80 %, 1000 MiB, 200.00 W, 300.00 W\n"
        "2024/01/01 10:00:00.070, 1, 40 %, 3000 MiB, 100.00 W, 300.00 W\n"
        "2024/01/01 10:00:01.000, 0, 60 %, 1000 MiB, 210.00 W, 300.00 W\n"
        "2024/01/01 10:00:01.070, 1, 20 %, 3000 MiB, 110.00 W, 300.00 W\n"
    )
    df, rep = read_gpu_log(p)
    assert df["power_w"].tolist() == [300.0, 320.0]
    assert df["gpu_usage_pct"].tolist() == [60.0, 40.0]
    assert df["mem_used_mib"].tolist() == [4000.0, 4000.0]
    assert df["power_limit_w"].tolist() == [600.0, 600.0]
    assert df["t"].tolist() == pytest.approx([1704103200.0, 1704103201.0])  # the leading GPU's times
    from dlenergy.energy import run_energy

    m = run_energy(df, None, None).metrics
    assert m["gpu_energy_j"] == pytest.approx(310.0) and m["n_gpus"] == 2
    assert [float(x) for x in m["gpu_energy_by_gpu_j"].split(";")] == pytest.approx([205.0, 105.0])


def test_log_power_limit_wins_over_the_spec_tdp(tmp_path):
    """The cap is power.limit x margin when the log has it (250 W -> 300 W), else the TDP's (350 W -> 420 W)."""
    rows = [f"2024/01/01 10:00:{s:02d}.000, {p:.2f} W" for s, p in enumerate([200, 200, 320, 200, 200])]
    with_limit = tmp_path / "a.csv"
    with_limit.write_text(
        "timestamp, power.draw [W], power.limit [W]\n" + "\n".join(r + ", 250.00 W" for r in rows) + "\n"
    )
    without = tmp_path / "b.csv"
    without.write_text("timestamp, power.draw [W]\n" + "\n".join(rows) + "\n")
    from dlenergy.plausibility import Plausibility

    cfg = Plausibility(max_dropped_share=0.5)
    df, rep = read_gpu_log(with_limit, config=cfg, tdp_w=350.0)
    assert rep.power.cap_w == pytest.approx(300.0) and rep.power.n_above_cap == 1 and np.isnan(df["power_w"].iloc[2])
    df, rep = read_gpu_log(without, config=cfg, tdp_w=350.0)
    assert rep.power.cap_w == pytest.approx(420.0) and rep.power.n_above_cap == 0 and df["power_w"].iloc[2] == 320.0
    df, rep = read_gpu_log(without, config=cfg)
    assert rep.power.cap_source == "max_power_w" and rep.power.cap_w == 2000.0


@pytest.mark.parametrize(
    "header, value, expect_mb",
    [
        ("memory usage (MB)", "2048", 2048.0),
        ("memory usage (MiB)", "2048", 2048.0),
        ("memory usage (GB)", "2", 2048.0),
        ("memory usage [GiB]", "2", 2048.0),
        ("memory usage (KB)", "2097152", 2048.0),
        ("rss_mb", "2048 MB", 2048.0),
        ("memory usage", "2 GB", 2048.0),
    ],
)
def test_ram_units_follow_the_mb_is_2_to_the_20_convention(tmp_path, header, value, expect_mb):
    p = tmp_path / "c.csv"
    p.write_text(f"timestamp,{header}\n2024-01-01T10:00:00,{value}\n2024-01-01T10:00:01,{value}\n")
    df, _ = read_cpu_log(p)
    assert df["ram_used_mb"].tolist() == [expect_mb, expect_mb]


def test_a_value_unit_contradicting_the_header_refuses_the_log(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("timestamp,memory usage (MB)\n2024-01-01T10:00:00,2 GB\n2024-01-01T10:00:01,2 GB\n")
    with pytest.raises(
        LayoutError, match=r"c\.csv:1: the header of column 'memory usage \(MB\)' says \[mb\] but its values are in gb"
    ):
        read_cpu_log(p)


@pytest.mark.parametrize(
    "header, value, expect_w",
    [
        ("power.draw [W]", "250.50 W", 250.5),
        ("power.draw [kW]", "0.2505", 250.5),
        ("power.draw [mW]", "250500", 250.5),
        ("gpu_power_draw", "0.2505 kW", 250.5),
        ("power.draw [W]", "250.5W", 250.5),
    ],
)
def test_power_units(tmp_path, header, value, expect_w):
    p = tmp_path / "g.csv"
    p.write_text(f"timestamp, {header}\n2024/01/01 10:00:00.000, {value}\n2024/01/01 10:00:01.000, {value}\n")
    df, _ = read_gpu_log(p)
    assert df["power_w"].tolist() == pytest.approx([expect_w, expect_w], rel=1e-12)


_ZONES = st.sampled_from([None, "Z", "+00:00", "+01:00", "-05:00", "+0530", "+09"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zones=st.lists(_ZONES, min_size=3, max_size=12), sep=st.sampled_from(["-", "/"]))
def test_one_clock_whatever_the_zones(tmp_path, zones, sep):
    """The same instants written in any mix of zones (and naive = at the first zone seen) read the same."""
    from dlenergy.clock import RunClock

    ref = next((z for z in zones if z is not None), None)
    off = {None: 0, "Z": 0, "+00:00": 0, "+01:00": 3600, "-05:00": -18000, "+0530": 19800, "+09": 32400}
    ref_s = off[ref] if ref else 0
    instants = pd.Timestamp("2024-03-31 00:30:00") + pd.to_timedelta(np.arange(len(zones)) * 1.5, unit="s")
    lines = []
    for t, z in zip(instants, zones):
        wall = t + pd.Timedelta(seconds=(off[z] if z else ref_s))  # t is UTC
        lines.append(f"{wall:%Y{sep}%m{sep}%d %H:%M:%S.%f}{z or ''}, 100.00 W")
    p = tmp_path / "g.csv"
    p.write_text("timestamp, power.draw [W]\n" + "\n".join(lines) + "\n")
    clock = RunClock()
    df, _ = read_gpu_log(p, clock=clock)
    assert clock.offset_s == (off[ref] if ref else None)
    expect = (instants + pd.Timedelta(seconds=ref_s)).astype("datetime64[us]")
    assert (df["timestamp"].to_numpy() == expect.to_numpy()).all()


def test_doctests_of_the_ingest_modules():
    import doctest

    import dlenergy.clock
    import dlenergy.multigpu
    import dlenergy.parsing
    import dlenergy.plausibility
    import dlenergy.series
    import dlenergy.textlog

    for mod in (
        dlenergy.clock,
        dlenergy.series,
        dlenergy.textlog,
        dlenergy.plausibility,
        dlenergy.multigpu,
        dlenergy.parsing,
    ):
        res = doctest.testmod(mod)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


# ----------------------------------------------------------------------------- values with their own units


def test_each_value_read_in_its_own_unit_and_bad_ones_counted(tmp_path):
    """No unit in the header: each value's own unit (none = W); unknown units and junk are NaN and
    counted as unreadable, [N/A] and empty ones as missing."""
    odd = ["250", "0.25 kW", "[N/A]", "abc", "100 furlongs", "", "250000 mW", "300 W"]
    vals = odd + ["200 W"] * 60  # enough good samples to stay under the dropped-share limit
    p = tmp_path / "g.csv"
    rows = "".join(f"2024/01/01 10:{i // 60:02d}:{i % 60:02d}.000, {v}\n" for i, v in enumerate(vals))
    p.write_text("timestamp, gpu_power_draw\n" + rows)
    df, rep = read_gpu_log(p)
    nan = float("nan")
    assert df["power_w"].tolist()[:8] == pytest.approx([250.0, 250.0, nan, nan, nan, nan, 250.0, 300.0], nan_ok=True)
    assert (df["power_w"].iloc[8:] == 200.0).all() and df["power_w"].dtype == np.float64
    assert rep.n_unparsed_values == {"power_w": 2} and rep.power.n_missing == 2 and rep.power.n_unparsed == 2


def test_header_only_gpu_log_has_the_typed_columns(tmp_path):
    (tmp_path / "g.csv").write_text(NATIVE + "\n")
    df, _ = read_gpu_log(tmp_path / "g.csv")
    assert df.empty and df["timestamp"].dtype == "datetime64[us]" and df["t"].dtype == np.float64
    assert df["power_w"].dtype == np.float64


def test_cpu_log_and_epochs_are_read_on_the_run_clock(tmp_path):
    """A run's clock (fixed at +01:00 by its GPU log) places a CPU log and epochs written in UTC."""
    from dlenergy.clock import RunClock

    (tmp_path / "c.csv").write_text(
        "timestamp,memory usage (MB)\n2024-01-01T09:00:00Z,1000\n2024-01-01T09:00:01Z,1000\n"
    )
    (tmp_path / "epochs.csv").write_text("epoch,end_time\n0,2024-01-01T09:00:01Z\n")
    ten = pd.Timestamp("2024-01-01 10:00:00")
    cpu, _ = read_cpu_log(tmp_path / "c.csv", clock=RunClock(offset_s=3600))
    assert cpu["timestamp"].iloc[0] == ten
    ep = read_epochs(tmp_path / "epochs.csv", clock=RunClock(offset_s=3600))
    assert ep["end_time"].iloc[0] == ten + pd.Timedelta(seconds=1)
    assert read_epochs(tmp_path / "epochs.csv")["end_time"].iloc[0] == ten - pd.Timedelta(hours=1, seconds=-1)


def test_cpu_log_reads_usage_and_refuses_negative_memory_naming_the_line(tmp_path):
    from dlenergy.plausibility import ImplausibleError

    p = tmp_path / "c.csv"
    p.write_text(
        "timestamp,cpu usage (%),memory usage (MB)\n2024-01-01T10:00:00,12.5,1000\n2024-01-01T10:00:01,50,1024\n"
    )
    df, _ = read_cpu_log(p)
    assert df["cpu_usage_pct"].tolist() == [12.5, 50.0] and df["ram_used_mb"].tolist() == [1000.0, 1024.0]
    p.write_text("timestamp,memory usage (MB)\n2024-01-01T10:00:00,1000\n2024-01-01T10:00:01,-5\n")
    with pytest.raises(ImplausibleError, match=r"c\.csv:3: negative memory usage \(MB\) -5 \(1 negative"):
        read_cpu_log(p)
    p.write_text("timestamp,cpu usage (%)\n2024-01-01T10:00:00,12.5\n")
    with pytest.raises(LayoutError, match=r"c\.csv:1: CPU log header has no ram used mb column"):
        read_cpu_log(p)


def test_epoch_markers_extra_columns_order_and_blank_files(tmp_path):
    """Extra columns are kept (numeric when they all are, empty = NaN), trailing empty fields ignored;
    epochs must strictly increase (end times may tie); non-integer epochs are refused."""
    p = tmp_path / "epochs.csv"
    p.write_text(
        "epoch,end_time,val_loss,note\n0,2024-01-01T10:00:10,0.5,warm\n\n"
        "1,2024-01-01T10:00:20,,ok,,\n2,2024-01-01T10:00:20,0.25,ok\n"
    )
    ep = read_epochs(p)
    assert list(ep.columns) == ["epoch", "end_time", "val_loss", "note"] and ep.index.tolist() == [0, 1, 2]
    assert ep["epoch"].tolist() == [0, 1, 2] and ep["epoch"].dtype == np.int64
    assert ep["val_loss"].tolist() == pytest.approx([0.5, float("nan"), 0.25], nan_ok=True)
    assert ep["note"].tolist() == ["warm", "ok", "ok"]
    p.write_text("epoch,end_time\n0,2024-01-01T10:00:10\n2,2024-01-01T10:00:20\n2,2024-01-01T10:00:30\n")
    with pytest.raises(LayoutError, match=r"epochs\.csv:4: epoch markers out of order \(epoch 2 after 2\)"):
        read_epochs(p)
    p.write_text("epoch,end_time\n0,2024-01-01T10:00:10\n1.5,2024-01-01T10:00:20\n")
    with pytest.raises(LayoutError, match=r"epochs\.csv:3: bad epoch marker"):
        read_epochs(p)
    for blank in ("epoch,end_time\n", "epoch,end_time\n\n\n"):
        p.write_text(blank)
        empty = read_epochs(p)
        assert empty.empty and empty["epoch"].dtype == np.int64 and empty["end_time"].dtype == "datetime64[us]"
