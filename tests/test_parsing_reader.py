"""Mutation survivors of ``dlenergy.parsing`` (third batch): the chunked reader of the power logs.

Small hand-made ``gpu.csv`` logs.  The chunked ones are read with ``chunk_bytes`` = 32 and every line
longer than 32 bytes, so that each chunk holds exactly one line (asserted); counts and line lists are
then summed and capped over many chunks.  Every expected number is worked out by hand from the lines
written (line 1 is the header, data lines start at 2).
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
import pytest

import dlenergy.parsing as parsing
from dlenergy.layout import LayoutError
from dlenergy.parsing import read_gpu_log
from dlenergy.textlog import Damage, iter_chunks

T0 = pd.Timestamp("2024-01-01 10:00:00")


def _ts(s: float) -> str:
    return f"{T0 + pd.Timedelta(milliseconds=round(s * 1000)):%Y/%m/%d %H:%M:%S.%f}"[:-3]


def _write(tmp_path, header: str, rows: list[str]):
    p = tmp_path / "g.csv"
    p.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return p


def test_report_names_its_file_and_the_header_units_it_converted(tmp_path):
    p = _write(
        tmp_path,
        "timestamp, power.draw [kW], utilization.gpu [%]",
        [f"{_ts(i)}, 0.125 kW, {10 + i} %" for i in range(3)],
    )
    df, rep = read_gpu_log(p)
    assert rep.path == str(p)
    assert rep.units == {"power_w": "kw"}  # % needs no conversion: not listed
    assert df["power_w"].tolist() == [125.0] * 3
    assert df["gpu_usage_pct"].dtype == np.float32 and df["gpu_usage_pct"].tolist() == [10.0, 11.0, 12.0]


def test_an_empty_unit_in_the_header_is_no_unit(tmp_path):
    p = _write(tmp_path, "timestamp, power.draw []", [f"{_ts(i)}, 0.5 kW" for i in range(3)])
    df, rep = read_gpu_log(p)
    assert df["power_w"].tolist() == [500.0] * 3 and rep.units == {}


def test_an_unknown_header_unit_refuses_the_log_naming_the_file(tmp_path):
    p = _write(tmp_path, "timestamp, power.draw [GW]", [f"{_ts(0)}, 1 GW"])
    msg = f"{p}:1: column 'power.draw [GW]' is in [gw]; power is read in W, kW, mW only"
    with pytest.raises(LayoutError, match="^" + re.escape(msg) + "$"):
        read_gpu_log(p)


def test_a_header_without_power_is_refused_with_the_names_to_use(tmp_path):
    p = _write(tmp_path, "timestamp, name", [f"{_ts(0)}, A100"])
    msg = (
        f"{p}:1: GPU log header has no power draw (power.draw [W] or gpu_power_draw) column; "
        "header is ['timestamp', 'name']"
    )
    with pytest.raises(LayoutError, match="^" + re.escape(msg) + "$"):
        read_gpu_log(p)


@pytest.mark.parametrize("odd", ["2%3 %", "5 X"])
def test_a_value_with_a_unit_inside_or_an_unknown_unit_is_unparsed(tmp_path, odd):
    p = _write(
        tmp_path,
        "timestamp, power.draw [W], utilization.gpu [%]",
        [f"{_ts(0)}, 100.00 W, 23 %", f"{_ts(1)}, 100.00 W, {odd}", f"{_ts(2)}, 100.00 W, 7 %"],
    )
    df, rep = read_gpu_log(p)
    assert np.array_equal(df["gpu_usage_pct"].to_numpy(), [23.0, np.nan, 7.0], equal_nan=True)
    assert rep.n_unparsed_values == {"gpu_usage_pct": 1}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\n\n", "GPU log is empty"),
        (b"\ntimestamp, power.draw [W]\n2024/01/01 10:00:00.000, 100.00 W\n", "GPU log has an empty header line"),
        (b"\n\xff\xfe garbage\n", "GPU log has an empty header line"),
    ],
)
def test_a_blank_first_line_is_an_empty_log_or_an_empty_header(tmp_path, content, reason):
    p = tmp_path / "g.csv"
    p.write_bytes(content)
    with pytest.raises(LayoutError, match="^" + re.escape(f"{p}:1: {reason}") + "$"):
        read_gpu_log(p)


def test_a_repeated_column_name_is_numbered_and_the_first_is_read(tmp_path):
    p = _write(
        tmp_path,
        "timestamp, power.draw [W], power.draw [W]",
        [f"{_ts(i)}, 100.00 W, 200.00 W" for i in range(3)],
    )
    df, rep = read_gpu_log(p)
    assert df["power_w"].tolist() == [100.0] * 3 and rep.n_cut == 0


def test_a_double_quote_does_not_quote_a_field(tmp_path):
    """nvidia-smi does not quote: a comma inside quotes still splits, so the line has 4 fields, not 3."""
    rows = [f"{_ts(i)},A100,100.00 W" for i in range(4)]
    rows.insert(2, f'{_ts(1.5)},"A100,x",100.00 W')
    p = _write(tmp_path, "timestamp,name,power.draw [W]", rows)
    df, rep = read_gpu_log(p)
    assert rep.n_cut == 1 and rep.first_bad_lines == [4] and len(df) == 4


def test_a_line_with_no_timestamp_but_a_value_is_a_bad_timestamp_not_a_blank_line(tmp_path):
    rows = [f"{_ts(i)},100.00 W,A100" for i in range(4)]
    rows.insert(2, ",5,")
    p = _write(tmp_path, "timestamp,power.draw [W],name", rows)
    df, rep = read_gpu_log(p)
    assert rep.n_bad_timestamp == 1 and rep.bad_timestamp_lines == [4]
    assert rep.n_lines == 5 and rep.n_kept == 4 and len(df) == 4


def test_counts_and_line_lists_over_many_chunks(tmp_path, monkeypatch):
    """One line per chunk: cut lines, bad timestamps, unparsed values summed over the chunks, the line
    lists capped at 20; a chunk of blank lines, lines of spaces or of X, a line of bad bytes."""
    good = lambda i, u="5 %": f"{_ts(i)}, 100.00 W, {u}"  # a line of 38 bytes or more
    rows: list[bytes] = []
    cut_lines, bad_ts_lines, n_good = [], [], 0

    def add(line: bytes, kind: str | None = None):
        nonlocal n_good
        rows.append(line)
        no = len(rows) + 1
        if kind == "cut":
            cut_lines.append(no)
        elif kind == "ts":
            bad_ts_lines.append(no)
        elif kind == "good":
            n_good += 1

    t = 0
    for _half in range(2):
        for _ in range(3):
            add(good(t).encode(), "good")
            t += 1
        for _ in range(12):
            add(b"x" * 40, "cut")
        add(good(t, "x %").encode(), "good")  # an unparsed value in each half
        t += 1
        for _ in range(12):
            add(b"not a time at all really, 100.00 W, 5 %", "ts")
    add(b" " * 40, "cut")  # spaces only: one field, a cut line
    add(b"X" * 40, "cut")
    add(good(t).encode(), "good")
    t += 1
    for _ in range(40):
        add(b"")  # blank lines: not lines of the log
    bad_byte_line = len(rows) + 2
    add(f"{_ts(t)}, 1\xff0.00 W, 5 %".encode("latin-1"))
    t += 1
    for _ in range(3):
        add(good(t).encode(), "good")
        t += 1
    p = tmp_path / "g.csv"
    p.write_bytes(b"timestamp, power.draw [W], utilization.gpu [%]\n" + b"".join(r + b"\n" for r in rows))

    small = functools.partial(iter_chunks, chunk_bytes=32)
    chunks = [c.data for c in small(p, Damage())]
    assert all(c.strip(b"\n").count(b"\n") == 0 for c in chunks)  # one line a chunk
    assert b" " * 40 + b"\n" in chunks and b"X" * 40 + b"\n" in chunks
    assert any(c and not c.strip(b"\n") for c in chunks)  # a chunk of blank lines only
    monkeypatch.setattr(parsing, "iter_chunks", small)
    df, rep = read_gpu_log(p)

    assert n_good == 12 and len(cut_lines) == 26 and len(bad_ts_lines) == 24
    assert rep.n_kept == 12 and len(df) == 12 and df["power_w"].tolist() == [100.0] * 12
    assert rep.n_cut == 26 and rep.first_bad_lines == cut_lines[:20]
    assert rep.n_bad_timestamp == 24 and rep.bad_timestamp_lines == bad_ts_lines[:20]
    assert rep.n_bad_bytes == 1 and rep.bad_byte_lines == [bad_byte_line]
    assert rep.n_lines == 12 + 26 + 24 + 1
    assert rep.n_unparsed_values == {"gpu_usage_pct": 2}
    assert rep.lines.tolist()[-3:] == [bad_byte_line + 1, bad_byte_line + 2, bad_byte_line + 3]


@pytest.mark.parametrize("neighbour", ["50 %", "[N/A]"])
@pytest.mark.parametrize("odd", ["%5 %", "% 5"])
def test_a_unit_before_the_number_is_unparsed_whatever_its_neighbours(tmp_path, odd, neighbour):
    # before: with only well-formed neighbours the fast path trimmed "%" on both sides and read 5.0, with
    # an "[N/A]" beside it the regex path refused it: the same line gave two answers
    p = _write(
        tmp_path,
        "timestamp, power.draw [W], utilization.gpu [%]",
        [f"{_ts(0)}, 100.00 W, {neighbour}", f"{_ts(1)}, 100.00 W, {odd}"],
    )
    df, rep = read_gpu_log(p)
    assert np.isnan(df["gpu_usage_pct"].to_numpy()[1])
    assert rep.n_unparsed_values == {"gpu_usage_pct": 1}  # "[N/A]" is a missing value, not an unparsed one


def test_a_multi_letter_unit_only_after_the_number(tmp_path):
    # memory in MiB: "MiB 512" is not "512 MiB"; "512 MiB" and "512MiB" are
    p = _write(
        tmp_path,
        "timestamp, power.draw [W], memory.used [MiB]",
        [f"{_ts(0)}, 100.00 W, 512 MiB", f"{_ts(1)}, 100.00 W, 512MiB", f"{_ts(2)}, 100.00 W, MiB 512"],
    )
    df, rep = read_gpu_log(p)
    mem = [c for c in df.columns if c.startswith("mem")]
    assert mem, list(df.columns)
    assert np.array_equal(df[mem[0]].to_numpy()[:2], [512.0, 512.0]) and np.isnan(df[mem[0]].to_numpy()[2])
