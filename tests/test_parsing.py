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


# ----------------------------------------------------------------------------- mutation survivors (issue 13 item 10)
# Exact outcomes, worked out by hand from the rules in the modules' docstrings (series: duplicates
# merged, conflicting ones NaN, small clock steps re-sorted; multigpu: lines of no GPU dropped).


def _cpu(tmp_path, rows, header="timestamp,cpu usage (%),memory usage (MB)"):
    p = tmp_path / "c.csv"
    p.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return p


def test_cpu_log_duplicates_merge_on_memory_and_conflicts_drop_it(tmp_path):
    """Samples at one instant merge (mean); when their memory disagrees by more than 1 % that instant's
    memory is unknown (NaN), whatever the CPU usage does; the line kept is the first of the instant."""
    p = _cpu(
        tmp_path,
        [
            "2024-01-01T10:00:00,10,1000",
            "2024-01-01T10:00:01,20,1000",
            "2024-01-01T10:00:01,40,1004",  # 0.4 % apart: a line written twice, averaged
            "2024-01-01T10:00:02,50,1000",
            "2024-01-01T10:00:02,70,2000",  # 100 % apart: two loggers, nobody can tell
            "2024-01-01T10:00:03,10,1000",
        ],
    )
    df, rep = read_cpu_log(p)
    assert df["ram_used_mb"].tolist() == pytest.approx([1000.0, 1002.0, float("nan"), 1000.0], nan_ok=True)
    assert df["cpu_usage_pct"].tolist() == [10.0, 30.0, 60.0, 10.0]
    assert df["t"].diff().iloc[1:].tolist() == [1.0, 1.0, 1.0]
    assert rep.n_duplicates == 2 and rep.lines.tolist() == [2, 3, 5, 7]


def test_cpu_log_clock_steps_back_resorted_or_refused_by_the_configured_threshold(tmp_path):
    from dlenergy.plausibility import ImplausibleError, Plausibility

    small = _cpu(
        tmp_path,
        [
            "2024-01-01T10:00:00,1,1000",
            "2024-01-01T10:00:02,2,1000",
            "2024-01-01T10:00:01.5,3,1100",
            "2024-01-01T10:00:03,4,1000",
        ],
    )
    df, rep = read_cpu_log(small)  # 0.5 s back: a line written late, sorted back in
    assert df["t"].diff().iloc[1:].tolist() == [1.5, 0.5, 1.0]
    assert df["ram_used_mb"].tolist() == [1000, 1100, 1000, 1000]
    assert rep.n_reordered == 1 and rep.lines.tolist() == [2, 4, 3, 5]
    big = _cpu(
        tmp_path,
        [
            "2024-01-01T10:00:00,1,1000",
            "2024-01-01T10:00:05,2,1000",
            "2024-01-01T10:00:02,3,1100",
            "2024-01-01T10:00:06,4,1000",
        ],
    )
    msg = (
        r"c\.csv:4: the clock steps back by 3\.000 s \(from 2024-01-01T10:00:05\.000000 to "
        r"2024-01-01T10:00:02\.000000\); more than 2 s is a clock change"
    )
    with pytest.raises(ImplausibleError, match=msg):
        read_cpu_log(big)
    df, rep = read_cpu_log(big, config=Plausibility(max_clock_backstep_s=5.0))  # the threshold is the config's
    assert rep.n_reordered == 1 and df["ram_used_mb"].tolist() == [1000, 1100, 1000, 1000]


def test_cpu_log_refusals_name_the_file_and_the_kind(tmp_path):
    with pytest.raises(LayoutError, match=r"nope\.csv: CPU log not found"):
        read_cpu_log(tmp_path / "nope.csv")
    p = _cpu(tmp_path, ["2024-01-01T10:00:00,1,2"], header="timestamp,cpu usage (%),memory usage (furlongs)")
    with pytest.raises(
        LayoutError,
        match=r"c\.csv:1: column 'memory usage \(furlongs\)' is in \[furlongs\]; memory is read in "
        r"MiB, MB, GiB, GB, KiB, KB, B, bytes only",
    ):
        read_cpu_log(p)


def test_cpu_log_with_zones_and_no_clock_is_read_at_its_first_zone(tmp_path):
    p = _cpu(tmp_path, ["2024-01-01T10:00:00+01:00,5,1000", "2024-01-01T09:00:01Z,5,1000"])
    df, _ = read_cpu_log(p)
    assert df["timestamp"].tolist() == [pd.Timestamp("2024-01-01 10:00:00"), pd.Timestamp("2024-01-01 10:00:01")]


def test_negative_gpu_memory_refuses_the_log_naming_file_and_line(tmp_path):
    from dlenergy.plausibility import ImplausibleError

    p = tmp_path / "g.csv"
    p.write_text(
        "timestamp, memory.used [MiB], power.draw [W]\n2024/01/01 10:00:00.000, 1000 MiB, 100.00 W\n"
        "2024/01/01 10:00:01.000, -5 MiB, 100.00 W\n2024/01/01 10:00:02.000, -7 MiB, 100.00 W\n"
    )
    with pytest.raises(
        ImplausibleError, match=r"^.*g\.csv:3: negative GPU memory used \(MiB\) -5 \(2 negative value\(s\)\)$"
    ):
        read_gpu_log(p)


def _two_gpu_lines(n, odd_at=None):
    """Readings 1 s apart, GPU 0 (200 W) then GPU 1 (100 W) 60 ms later; ``odd_at``: {reading: line}
    inserted after that reading's GPU 0 line."""
    out = ["timestamp, index, power.draw [W]"]
    for r in range(n):
        out.append(f"2024/01/01 10:00:{r:02d}.000, 0, 200.00 W")
        if odd_at and r in odd_at:
            out.append(odd_at[r].format(ts=f"2024/01/01 10:00:{r:02d}.030"))
        out.append(f"2024/01/01 10:00:{r:02d}.060, 1, 100.00 W")
    return out


@pytest.mark.parametrize(
    "odd_at, expect_lines",
    [
        # an empty index (one line) and a damaged one (on under 10 % of a GPU's lines): no GPU's
        ({5: "{ts}, , 999.00 W"}, [2, 4, 6, 8, 10, 12, 15, 17, 19, 21, 23, 25]),
        ({0: "{ts}, 7, 999.00 W", 8: "{ts}, , 999.00 W"}, [2, 5, 7, 9, 11, 13, 15, 17, 19, 22, 24, 26]),
    ],
)
def test_gpu_lines_of_no_gpu_are_dropped_and_counted(tmp_path, odd_at, expect_lines):
    p = tmp_path / "g.csv"
    p.write_text("\n".join(_two_gpu_lines(12, odd_at)) + "\n")
    df, rep = read_gpu_log(p)
    assert rep.n_gpus == 2 and rep.gpu_labels == ["0", "1"]
    assert rep.n_odd_gpu_lines == len(odd_at) and rep.n_dropped == len(odd_at) and rep.n_filled == 0
    assert df["power_w"].tolist() == [300.0] * 12
    assert df["power_w_gpu0"].tolist() == [200.0] * 12 and df["power_w_gpu1"].tolist() == [100.0] * 12
    assert df["t"].diff().iloc[1:].tolist() == [1.0] * 11 and rep.lines.tolist() == expect_lines


def test_a_one_gpu_log_with_every_line_written_twice_is_not_a_burst(tmp_path):
    """Repeated lines (same time, same power) are duplicates, not the bursts of a multi-GPU log."""
    rows = [f"2024/01/01 10:00:{r:02d}.000, {100 + r}.00 W" for r in range(30)]
    p = tmp_path / "g.csv"
    p.write_text("timestamp, power.draw [W]\n" + "".join(f"{x}\n{x}\n" for x in rows))
    df, rep = read_gpu_log(p)
    assert rep.n_gpus == 1 and rep.n_duplicates == 30 and rep.power.n_conflicting == 0
    assert df["power_w"].tolist() == [100.0 + r for r in range(30)]


def test_an_empty_gpu_name_is_missing_not_a_name(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text(
        "timestamp, name, power.draw [W]\n2024/01/01 10:00:00.000, , 100.00 W\n"
        "2024/01/01 10:00:01.000, A100, 100.00 W\n2024/01/01 10:00:02.000, A100, 100.00 W\n"
    )
    df, _ = read_gpu_log(p)
    assert df["gpu_name"].isna().tolist() == [True, False, False] and df["gpu_name"].tolist()[1:] == ["A100", "A100"]
    assert list(df["gpu_name"].cat.categories) == ["A100"]


def test_a_chunk_of_unreadable_lines_changes_nothing(tmp_path, monkeypatch):
    """A multi-GPU log read in small chunks (as an 8 MiB chunk of a huge log would be) where whole
    chunks hold only lines with unreadable timestamps: the readings are the same as read whole."""
    import functools

    import dlenergy.parsing as parsing
    from dlenergy.textlog import Damage, iter_chunks

    lines = _two_gpu_lines(12)
    junk = ["not a time, 0, 999.00 W"] * 20
    p = tmp_path / "g.csv"
    p.write_text("\n".join(lines[:13] + junk + lines[13:]) + "\n")  # after reading 5
    small = functools.partial(iter_chunks, chunk_bytes=96)
    assert any(set(c.data.decode().splitlines()) == {junk[0]} for c in small(p, Damage()))  # the case tested
    monkeypatch.setattr(parsing, "iter_chunks", small)
    df, rep = read_gpu_log(p)
    assert rep.n_bad_timestamp == 20 and rep.bad_timestamp_lines == list(range(14, 34))
    assert rep.n_gpus == 2 and df["power_w"].tolist() == [300.0] * 12
    assert df["power_w_gpu1"].tolist() == [100.0] * 12 and rep.lines.tolist()[5:7] == [12, 34]


def test_epoch_file_refusals_and_blank_files(tmp_path):
    p = tmp_path / "epochs.csv"
    with pytest.raises(LayoutError, match=r"epochs\.csv: epoch file not found"):
        read_epochs(p)
    p.write_text("epoch,end_time\n0,2024-01-01T10:00:10\nabc,2024-01-01T10:00:20\n")
    with pytest.raises(
        LayoutError,
        match=r"epochs\.csv:3: bad epoch marker \['abc', '2024-01-01T10:00:20'\] \(need integer epoch and a timestamp\)$",
    ):
        read_epochs(p)
    from dlenergy.parsing import read_epochs_lines

    for blank in ("\n\n", "  \n \n", "epoch,end_time\n\n \n"):  # nothing but blank lines (after the header)
        p.write_text(blank)
        ep, numbers = read_epochs_lines(p)
        assert ep.empty and list(ep.columns) == ["epoch", "end_time"]
        assert len(numbers) == 0 and numbers.dtype == np.int64
    p.write_text("epoch,end_time\n0.0,2024-01-01T10:00:10\n1.0,2024-01-01T10:00:20\n")  # integers written as floats
    ep, numbers = read_epochs_lines(p)
    assert ep["epoch"].tolist() == [0, 1] and ep["epoch"].dtype == np.int64 and numbers.tolist() == [2, 3]
