"""Mutation survivors of ``dlenergy.parsing`` (second batch): the per-GPU stages of ``read_gpu_log``.

Small hand-made ``gpu.csv`` logs.  The multi-GPU ones have an ``index`` column and two GPUs whose power
limits differ, so that each GPU's cap, the peak floor taken from its own limit, the label of the GPU in a
refusal and the per-GPU clock check are seen.  Every expected number is worked out by hand in the test
(the cap is ``power.limit x power_margin`` = limit x 1.2, the peak floor ``min_peak_power_share`` = 1 % of
the limit, or ``min_peak_power_w`` = 1 W when no limit is known, ...).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from dlenergy.energy import run_energy
from dlenergy.layout import LayoutError
from dlenergy.parsing import read_gpu_log
from dlenergy.plausibility import ImplausibleError, Plausibility

T0 = pd.Timestamp("2024-01-01 10:00:00")


def _ts(s: float) -> str:
    """nvidia-smi's timestamp ``s`` seconds after 10:00:00 (ms resolution)."""
    return f"{T0 + pd.Timedelta(milliseconds=round(s * 1000)):%Y/%m/%d %H:%M:%S.%f}"[:-3]


def _write(tmp_path, header: str, rows: list[str], name: str = "gpu.csv"):
    p = tmp_path / name
    p.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return p


def _two_gpus(tmp_path, power0, power1, *, limits=(300.0, 150.0), t0=None, t1=None, name="NVIDIA A100"):
    """A two-GPU log, one line per GPU per reading: GPU 0 at ``t0`` (default r s), GPU 1 at ``t1``
    (default r + 0.06 s), each with its own power limit."""
    n = len(power0)
    t0 = t0 if t0 is not None else [float(r) for r in range(n)]
    t1 = t1 if t1 is not None else [r + 0.06 for r in range(n)]
    rows = []
    for r in range(n):
        rows.append(f"{_ts(t0[r])}, 0, {name}, {power0[r]:.2f} W, {limits[0]:.2f} W")
        rows.append(f"{_ts(t1[r])}, 1, {name}, {power1[r]:.2f} W, {limits[1]:.2f} W")
    return _write(tmp_path, "timestamp, index, name, power.draw [W], power.limit [W]", rows)


def test_each_gpu_is_capped_at_its_own_power_limit(tmp_path):
    """GPU 0's limit is 300 W (cap 360 W), GPU 1's 100 W (cap 120 W).  GPU 1's 150 W sample is above its
    own cap (though below GPU 0's): dropped, counted, and bridged by GPU 1's neighbours (80 W)."""
    power1 = [80.0] * 12
    power1[5] = 150.0
    p = _two_gpus(tmp_path, [200.0] * 12, power1, limits=(300.0, 100.0))
    df, rep = read_gpu_log(p)  # 1 of 24 samples dropped: 4.2 %, under the default 5 %
    assert rep.n_gpus == 2 and rep.gpu_labels == ["0", "1"]
    assert rep.power.n_above_cap == 1 and rep.power.n_samples == 24
    assert rep.power.cap_w == pytest.approx(360.0) and rep.power.cap_source == "log"
    assert df["power_w_gpu0"].tolist() == [200.0] * 12
    assert df["power_w_gpu1"].tolist() == [80.0] * 12
    assert df["power_w"].tolist() == [280.0] * 12
    m = run_energy(df, None, None).metrics
    assert m["gpu_energy_j"] == pytest.approx(280.0 * 11)
    assert [float(x) for x in m["gpu_energy_by_gpu_j"].split(";")] == pytest.approx([200.0 * 11, 80.0 * 11])


def test_a_gpu_whose_peak_is_below_a_share_of_its_own_limit_is_refused_by_label(tmp_path):
    """GPU 1 (limit 150 W) peaks at 1.2 W, under 1 % of its limit (1.5 W) though above the 1 W minimum:
    power in the wrong unit, refused naming the file and GPU 1.  GPU 0 (limit 300 W, 200 W) is fine."""
    p = _two_gpus(tmp_path, [200.0] * 4, [1.0, 1.2, 1.1, 1.0], limits=(300.0, 150.0))
    msg = (
        f"{p}: the highest power sample of GPU 1 is 1.2 W, below 1.5 W (a share of its limit): power in the wrong unit?"
    )
    with pytest.raises(ImplausibleError, match="^" + re.escape(msg) + "$"):
        read_gpu_log(p)


@pytest.mark.parametrize("where", ["log", "spec"])
def test_one_gpus_peak_floor_is_a_share_of_its_limit_from_the_log_or_the_spec(tmp_path, where):
    """A one-GPU log peaking at 2 W: below 1 % of a 300 W limit, whether ``power.limit`` is in the log or
    the limit is the board's TDP; the message has no GPU label."""
    rows = [f"{_ts(s)}, {w:.2f} W" + (", 300.00 W" if where == "log" else "") for s, w in enumerate([1.5, 2.0, 1.8])]
    header = "timestamp, power.draw [W]" + (", power.limit [W]" if where == "log" else "")
    p = _write(tmp_path, header, rows)
    msg = f"{p}: the highest power sample is 2 W, below 3 W (a share of its limit): power in the wrong unit?"
    with pytest.raises(ImplausibleError, match="^" + re.escape(msg) + "$"):
        read_gpu_log(p, tdp_w=300.0 if where == "spec" else None)


def test_without_any_limit_the_peak_floor_is_the_minimum_watts(tmp_path):
    """No ``power.limit`` and no TDP: the cap is ``max_power_w`` (2000 W), which is no board's limit, so
    the floor is ``min_peak_power_w`` (1 W): a 10 W GPU is read, a 0.5 W one refused."""
    p = _write(tmp_path, "timestamp, power.draw [W]", [f"{_ts(s)}, {w:.2f} W" for s, w in enumerate([8, 10, 9])])
    df, rep = read_gpu_log(p)
    assert rep.power.cap_source == "max_power_w" and df["power_w"].tolist() == [8.0, 10.0, 9.0]
    assert run_energy(df, None, None).metrics["gpu_energy_j"] == pytest.approx(9.0 + 9.5)
    low = _write(tmp_path, "timestamp, power.draw [W]", [f"{_ts(s)}, 0.50 W" for s in range(3)], "low.csv")
    msg = f"{low}: the highest power sample is 0.5 W, below 1 W (the minimum): power in the wrong unit?"
    with pytest.raises(ImplausibleError, match="^" + re.escape(msg) + "$"):
        read_gpu_log(low)


def test_lines_out_of_order_are_counted_over_all_gpus(tmp_path):
    """Steps back under 2 s are counted per GPU and summed: one in GPU 0's lines (1.5 s -> 1.2 s), two in
    GPU 1's (2.5 -> 2.06 s, 4.5 -> 4.06 s).  The readings are re-sorted by their GPU 0 line's time."""
    t0 = [0.0, 1.5, 1.2, 3.0, 4.0, 5.0]
    t1 = [0.06, 1.06, 2.5, 2.06, 4.5, 4.06]
    p = _two_gpus(tmp_path, [200.0] * 6, [100.0] * 6, t0=t0, t1=t1)
    df, rep = read_gpu_log(p)
    assert rep.n_reordered == 3 and rep.n_duplicates == 0 and rep.n_filled == 0
    assert df["t"].sub(T0.timestamp()).round(6).tolist() == [0.0, 1.2, 1.5, 3.0, 4.0, 5.0]
    assert rep.lines.tolist() == [2, 6, 4, 8, 10, 12]  # each reading's GPU 0 line
    assert df["power_w"].tolist() == [300.0] * 6


def test_a_clock_step_back_in_one_gpus_lines_refuses_the_log_naming_file_and_line(tmp_path):
    """GPU 1's lines step back by 3 s (5.06 s -> 2.06 s, file line 9): a clock change."""
    p = _two_gpus(tmp_path, [200.0] * 5, [100.0] * 5, t1=[0.06, 1.06, 5.06, 2.06, 4.06])
    msg = (
        f"{p}:9: the clock steps back by 3.000 s (from 2024-01-01T10:00:05.060000 to "
        "2024-01-01T10:00:02.060000); more than 2 s is a clock change, not lines out of order"
    )
    with pytest.raises(ImplausibleError, match="^" + re.escape(msg) + "$"):
        read_gpu_log(p)


def test_lines_that_cannot_be_grouped_into_readings_refuse_the_log_naming_the_file(tmp_path):
    """All 8 lines of GPU 0, then all 8 of GPU 1: each line after one of the same GPU starts a reading,
    8 + 7 = 15 readings for 16 lines, more than 1.5 x 8 + 2 = 14."""
    rows = [f"{_ts(r)}, 0, 200.00 W" for r in range(8)] + [f"{_ts(r + 0.06)}, 1, 100.00 W" for r in range(8)]
    p = _write(tmp_path, "timestamp, index, power.draw [W]", rows)
    msg = f"{p}: cannot group the lines of 2 GPUs into readings (15 readings for 16 lines)"
    with pytest.raises(LayoutError, match="^" + re.escape(msg) + "$"):
        read_gpu_log(p)


def _duplicated(tmp_path):
    """One GPU; at 1 s two samples that disagree (100 W and 200 W), elsewhere 100 W."""
    rows = [f"{_ts(s)}, {w:.2f} W" for s, w in [(0, 100), (1, 100), (1, 200), (2, 100), (3, 100)]]
    return _write(tmp_path, "timestamp, power.draw [W]", rows)


def test_duplicates_whose_power_disagrees_are_dropped_and_counted(tmp_path):
    df, rep = read_gpu_log(_duplicated(tmp_path), config=Plausibility(max_dropped_share=0.5))
    assert rep.n_duplicates == 1 and rep.power.n_conflicting == 2
    assert df["power_w"].tolist() == pytest.approx([100.0, np.nan, 100.0, 100.0], nan_ok=True)
    assert rep.lines.tolist() == [2, 3, 5, 6]


def test_too_many_conflicting_duplicates_refuse_the_log_naming_the_file(tmp_path):
    p = _duplicated(tmp_path)
    msg = (
        f"{p}: 2 of 5 power samples dropped (40.0% > 5%): 0 unreadable, 0 non-finite, 0 above 2000 W, "
        "2 conflicting duplicates"
    )
    with pytest.raises(ImplausibleError, match="^" + re.escape(msg) + "$"):
        read_gpu_log(p)


def test_multi_gpu_frame_columns_and_object_categories_of_the_gpu_name(tmp_path):
    """The frame of a two-GPU log: the merged columns, each GPU's power, ``n_gpus``, and ``gpu_name`` last,
    a categorical whose categories are Python strings (object), as the one-GPU frames' are."""
    p = _two_gpus(tmp_path, [200.0, 210.0], [100.0, 110.0], limits=(300.0, 250.0))
    df, _ = read_gpu_log(p)
    assert list(df.columns) == [
        "timestamp",
        "t",
        "power_w",
        "power_limit_w",
        "power_w_gpu0",
        "power_w_gpu1",
        "n_gpus",
        "gpu_name",
    ]
    assert df["power_w"].tolist() == [300.0, 320.0] and df["power_limit_w"].tolist() == [550.0, 550.0]
    assert df["n_gpus"].tolist() == [2, 2]
    assert df["gpu_name"].tolist() == ["NVIDIA A100", "NVIDIA A100"]
    assert df["gpu_name"].dtype == pd.CategoricalDtype(pd.Index(["NVIDIA A100"], dtype=object))
    assert df["gpu_name"].cat.categories.dtype == object


def test_gpu_log_with_zones_and_no_clock_is_read_at_its_first_zone(tmp_path):
    """Without a run clock the log's first zone (+01:00) is the clock: 09:00:01Z is 10:00:01 on it."""
    p = _write(
        tmp_path,
        "timestamp, power.draw [W]",
        ["2024/01/01 10:00:00.000+01:00, 100.00 W", "2024/01/01 09:00:01.000Z, 100.00 W"],
    )
    df, _ = read_gpu_log(p)
    assert df["timestamp"].tolist() == [T0, T0 + pd.Timedelta(seconds=1)]
