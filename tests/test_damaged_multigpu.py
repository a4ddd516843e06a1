"""Damaged-data suite, issue 13 item 3: multi-GPU logs (one line per GPU per reading).

The victim's one-GPU log becomes a two-GPU log: GPU 0 is the original, GPU 1 the same readings at
half the power, written 60 ms later.  Energy must be the sum over the GPUs (1.5 x the original),
each GPU's energy kept, missing lines filled and counted, whatever the period and the skew.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from damaged import (
    assert_ledgered,
    assert_others_unchanged,
    baseline,
    copy_dataset,
    ingest,
    lines_of,
    run_dir,
    write_lines,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlenergy.parsing import read_gpu_log

POWER = re.compile(rb"(\d+\.\d+) W, (\d+\.\d+) W, ")
FMT = "%Y/%m/%d %H:%M:%S.%f"


def _ts(t: pd.Timestamp) -> bytes:
    return f"{t:{FMT}}"[:-3].encode()


def _second_gpu(line: bytes, skew_ms: float) -> bytes:
    ts, rest = line.split(b",", 1)
    t = pd.Timestamp(ts.decode().replace("/", "-")) + pd.Timedelta(milliseconds=skew_ms)
    rest = POWER.sub(lambda m: f"{float(m.group(1)) / 2:.3f}".encode() + b" W, " + m.group(2) + b" W, ", rest, count=1)
    return _ts(t) + b"," + rest


def _two_gpus(ds, *, id_col: bytes | None = b"index", ids=(b"0", b"1"), names=None, skew_ms=60.0, drop=None):
    """Rewrite the victim's gpu.csv as a two-GPU log; ``drop(reading) -> True`` removes GPU 1's line."""
    p = run_dir(ds) / "gpu.csv"
    lines = lines_of(p)
    head = lines[0] if id_col is None else lines[0].replace(b"timestamp,", b"timestamp, " + id_col + b",", 1)
    out = [head]

    def put(line, k):
        if names is not None:
            line = line.replace(b"NVIDIA GeForce RTX 3090", names[k])
        if id_col is None:
            return line
        ts, rest = line.split(b",", 1)
        return ts + b", " + ids[k] + b"," + rest

    for r, line in enumerate(lines[1:]):
        out.append(put(line, 0))
        if drop is None or not drop(r):
            out.append(put(_second_gpu(line, skew_ms), 1))
    write_lines(p, out)


def _damaged(tmp_path, damage):
    ds = copy_dataset(tmp_path)
    damage(ds)
    got = ingest(ds)
    assert_others_unchanged(got)
    return got


def _assert_sum(got, rel):
    ref = baseline().row()
    row = got.row()
    assert row["n_gpus"] == 2
    assert row["gpu_energy_j"] == pytest.approx(1.5 * ref["gpu_energy_j"], rel=rel)
    per_gpu = [float(x) for x in row["gpu_energy_by_gpu_j"].split(";")]
    assert per_gpu == pytest.approx([ref["gpu_energy_j"], 0.5 * ref["gpu_energy_j"]], rel=rel)
    assert sum(per_gpu) == pytest.approx(row["gpu_energy_j"], rel=1e-6)
    assert row["energy_j"] == pytest.approx(row["gpu_energy_j"] + ref["ram_energy_j"], rel=1e-12)
    return row


@pytest.mark.parametrize("skew_ms", [0.0, 60.0, 400.0])
def test_two_gpus_with_index_are_summed(tmp_path, skew_ms):
    _assert_sum(_damaged(tmp_path, lambda ds: _two_gpus(ds, skew_ms=skew_ms)), rel=1e-9)


def test_two_gpus_with_bus_ids_are_summed(tmp_path):
    _assert_sum(
        _damaged(
            tmp_path, lambda ds: _two_gpus(ds, id_col=b"pci.bus_id", ids=(b"00000000:3B:00.0", b"00000000:AF:00.0"))
        ),
        rel=1e-9,
    )


def test_two_gpus_without_index_told_apart_by_name(tmp_path):
    names = (b"NVIDIA GeForce RTX 3090", b"NVIDIA GeForce RTX 3090 Ti")
    _assert_sum(_damaged(tmp_path, lambda ds: _two_gpus(ds, id_col=None, names=names)), rel=1e-9)


def test_two_identical_gpus_without_index_are_refused(tmp_path):
    assert_ledgered(
        _damaged(tmp_path, lambda ds: _two_gpus(ds, id_col=None)),
        r"gpu\.csv: the lines come in bursts.*nothing tells the GPUs apart",
    )


def test_a_missing_line_every_tenth_reading_is_filled(tmp_path):
    got = _damaged(tmp_path, lambda ds: _two_gpus(ds, drop=lambda r: r % 10 == 5))
    row = _assert_sum(got, rel=0.003)
    n_readings = len(lines_of(run_dir(copy_dataset(tmp_path / "x")) / "gpu.csv")) - 1
    assert row["gpu_missing_lines_filled"] == len(range(5, n_readings, 10))


def test_a_gpu_missing_for_too_long_is_refused(tmp_path):
    assert_ledgered(
        _damaged(tmp_path, lambda ds: _two_gpus(ds, drop=lambda r: 100 <= r < 150)),
        r"gpu\.csv: GPU 1 has no line in 50 readings in a row \(at most 5 are filled\)",
    )


def test_20ms_period_with_60ms_skew(tmp_path):
    """Readings every 20 ms, GPU 1's line 60 ms after GPU 0's: lines of three readings interleave in
    time, yet each reading is one sample of 200 W + 100 W."""
    ref = baseline().row()
    t0 = pd.Timestamp(ref["start_time"]) - pd.Timedelta(seconds=2)
    n = int((ref["duration_s"] + 4) / 0.02)

    def damage(ds):
        p = run_dir(ds) / "gpu.csv"
        head = lines_of(p)[0].replace(b"timestamp,", b"timestamp, index,", 1)
        out = [head]
        base = t0 + pd.to_timedelta(np.arange(n) * 20, unit="ms")
        for k, (w, skew) in enumerate(((200.0, 0), (100.0, 60))):
            times = (base + pd.Timedelta(milliseconds=skew)).strftime("%Y/%m/%d %H:%M:%S.%f").str[:-3]
            rows = [
                f"{t}, {k}, NVIDIA GeForce RTX 3090, 90 %, 40 %, 24268 MiB, 20000 MiB, {w:.2f} W, 350.00 W, 70"
                for t in times
            ]
            out.append(rows)
        write_lines(p, [out[0]] + [x.encode() for pair in zip(out[1], out[2]) for x in pair])

    got = _damaged(tmp_path, damage)
    row = got.row()
    assert row["n_gpus"] == 2 and row["sampling_period_s"] == pytest.approx(0.02, abs=1e-6)
    assert row["gpu_energy_j"] == pytest.approx(300.0 * ref["duration_s"], rel=2e-4)
    assert row["mean_gpu_power_w"] == pytest.approx(300.0, rel=2e-4)


# ----------------------------------------------------------------------------- property: any period, skew, gaps


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    k=st.integers(2, 4),
    period_ms=st.sampled_from([20, 50, 100, 1000]),
    skew=st.floats(0, 4),
    watts=st.lists(st.integers(10, 300), min_size=4, max_size=4),
    n=st.integers(30, 120),
    holes=st.sets(st.tuples(st.integers(1, 118), st.integers(0, 3)), max_size=8),
    id_col=st.sampled_from(["index", "pci.bus_id"]),
)
def test_readings_are_grouped_whatever_the_period_and_skew(tmp_path, k, period_ms, skew, watts, n, holes, id_col):
    """Constant power per GPU: every reading sums to the total, whatever the skew between the lines of
    a reading (up to 4 periods) and whichever single lines are missing (filled from neighbours).  A
    reading keeps at least one line: one with none is not in the log at all, nothing says it was taken."""
    t0 = pd.Timestamp("2024-01-01 10:00:00")
    lines = [f"timestamp, {id_col}, name, power.draw [W], power.limit [W]"]
    ids = [str(g) if id_col == "index" else f"00000000:{16 * (g + 1):02X}:00.0" for g in range(k)]
    drop = {(r, g) for r, g in holes if g < k and 0 < r < n - 1 and (r - 1, g) not in holes}
    drop -= {(r, k - 1) for r, _ in drop if all((r, g) in drop for g in range(k))}
    for r in range(n):
        for g in range(k):
            if (r, g) in drop:
                continue
            t = t0 + pd.Timedelta(milliseconds=r * period_ms + g * skew * period_ms / max(k - 1, 1))
            lines.append(f"{_ts(t).decode()}, {ids[g]}, NVIDIA H100, {watts[g]:.2f} W, 700.00 W")
    p = tmp_path / "gpu.csv"
    p.write_text("\n".join(lines) + "\n")
    df, rep = read_gpu_log(p)
    assert rep.n_gpus == k and len(df) == n
    assert np.allclose(df["power_w"], sum(watts[:k]))
    for g in range(k):
        assert np.allclose(df[f"power_w_gpu{g}"], watts[g])
    assert rep.n_filled == n * k - (len(lines) - 1)
