"""Parsers for the logs of layout v1: nvidia-smi GPU logs, psutil CPU/RAM logs, epoch markers.

The GPU parser maps columns by name from either header style:

* native ``nvidia-smi --query-gpu=... --format=csv``:
  ``timestamp, name, utilization.gpu [%], ..., power.draw [W], power.limit [W]`` (or ``power.max_limit [W]``)
* the replication package's renamed header:
  ``timestamp, gpu_name, gpu_usage, gpu_memory_usage, gpu_total_memory, gpu_memory_used,
  gpu_power_draw, gpu_max_power, gpu_temperature``

Values may carry units (``119.17 W``, ``23 %``, ``24268 MiB``); ``[N/A]`` and ``[Not Supported]``
are missing; timestamps may use ``-`` or ``/`` as date separator.  Lines cut short (fewer
fields than the header, or a timestamp that does not parse) are dropped and counted.

Everything is columnar (pyarrow compute); nothing loops over samples in Python.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .headers import CPU_COLUMNS, GPU_COLUMNS  # accepted header names, shared with the recorder
from .layout import LayoutError

#: numeric columns the analysis uses (others in the log are ignored, which keeps parsing fast)
GPU_NUMERIC = ["power_w", "gpu_usage_pct", "mem_used_mib", "power_limit_w", "temperature_c", "energy_counter_mj", "gpu_index"]

_MISSING_TOKENS = ("[N/A]", "[Not Supported]", "N/A", "None", "nan", "")
_NUMBER = r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$"
_UNIT_SUFFIX = r"\s*(?:W|%|MiB|MB|GiB|MHz|C|mJ|J)$"


@dataclass
class LogReport:
    """What a parser saw: kept rows, dropped lines and their reasons."""

    path: str
    n_lines: int = 0  # data lines, header excluded
    n_kept: int = 0
    n_cut: int = 0  # lines with fewer fields than the header
    n_bad_timestamp: int = 0
    n_unparsed_values: dict[str, int] = field(default_factory=dict)
    first_bad_lines: list[int] = field(default_factory=list)

    @property
    def n_dropped(self) -> int:
        return self.n_cut + self.n_bad_timestamp


def _norm_header(name: str) -> str:
    name = name.strip().lower()
    return re.sub(r"\s*\[[^\]]*\]\s*$", "", name).strip()


def _resolve(columns: list[str], wanted: dict[str, tuple[str, ...]]) -> dict[str, str]:
    norm = {_norm_header(c): c for c in columns}
    raw_lower = {c.strip().lower(): c for c in columns}
    out = {}
    for canon, names in wanted.items():
        for n in names:
            if n in raw_lower:
                out[canon] = raw_lower[n]
                break
            if n in norm:
                out[canon] = norm[n]
                break
    return out


def _to_number(arr: pa.ChunkedArray) -> tuple[pa.ChunkedArray, int]:
    """Strip units and map missing tokens to null; return float64 and count of unparsable values.

    Fast path: trim spaces and unit letters and cast; only when that fails (``[N/A]``, garbage)
    does the slower regex path run, which nulls missing tokens and counts what it cannot parse.
    """
    fast = pc.utf8_rtrim(pc.utf8_ltrim_whitespace(arr), characters=" WMiBbHzC%J")
    try:
        return pc.cast(fast, pa.float64()), 0
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    s = pc.utf8_trim_whitespace(arr)
    s = pc.replace_substring_regex(s, _UNIT_SUFFIX, "")
    is_missing = pc.is_in(s, value_set=pa.array(_MISSING_TOKENS))
    ok = pc.match_substring_regex(s, _NUMBER)
    good = pc.and_(ok, pc.invert(is_missing))
    unparsed = int(pc.sum(pc.and_(pc.invert(ok), pc.invert(is_missing))).as_py() or 0)
    cleaned = pc.if_else(good, s, pa.scalar(None, pa.string()))
    return pc.cast(cleaned, pa.float64()), unparsed


def _to_timestamp(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    s = pc.replace_substring(pc.utf8_trim_whitespace(arr), "/", "-")
    # 'YYYY-mm-dd HH:MM:SS[.fff]' or ISO 'T'; arrow's cast parses ISO-8601 with fractions
    try:
        if pc.all(pc.greater_equal(pc.utf8_length(s), 19)).as_py():
            return pc.cast(s, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    ok = pc.match_substring_regex(s, r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?$")
    s = pc.if_else(ok, s, pa.scalar(None, pa.string()))
    return pc.cast(s, pa.timestamp("us"))


def _read_table(path: Path, kind: str) -> tuple[pa.Table, LogReport]:
    report = LogReport(str(path))
    if not path.is_file():
        raise LayoutError(f"{path}: {kind} log not found")
    data = path.read_bytes()
    if not data.strip():
        raise LayoutError(f"{path}:1: {kind} log is empty")
    header_end = data.find(b"\n")
    header = data[: header_end if header_end >= 0 else len(data)].decode("utf-8", "replace").strip("\r\n")
    if not header.strip():
        raise LayoutError(f"{path}:1: {kind} log has an empty header line")
    n_fields = header.count(",") + 1
    cut_rows: list[int] = []

    def on_invalid(row):  # called only for lines with the wrong number of fields
        cut_rows.append(row.number if row.number is not None else -1)
        return "skip"

    names = [c.strip() for c in header.split(",")]
    body = data[header_end + 1 :] if header_end >= 0 else b""
    if not body.strip():  # a header and no sample yet (a run killed at once): an empty log
        report.n_lines = 0
        return pa.table({n: pa.array([], pa.string()) for n in names}), report
    # the logger may be killed in the middle of a line: the last line may lack its newline
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise LayoutError(f"{path}: cannot parse {kind} log: {exc}") from None
    report.n_cut = len(cut_rows)
    report.first_bad_lines = [n + 1 for n in cut_rows[:20] if n >= 0]  # +1: header line
    report.n_lines = table.num_rows + report.n_cut
    del n_fields
    return table, report


def read_gpu_log(path: str | Path) -> tuple[pd.DataFrame, LogReport]:
    """Parse an nvidia-smi GPU log.

    Returns a frame with columns ``timestamp`` (datetime64[us]), ``t`` (float seconds since the
    epoch), ``power_w`` and whatever of :data:`GPU_NUMERIC` the log has (NaN where missing), sorted
    by time, and a :class:`LogReport`.  Raises :class:`LayoutError` naming the file and line when the
    log is missing, empty, or has no timestamp or power column.
    """
    path = Path(path)
    table, report = _read_table(path, "GPU")
    mapping = _resolve(table.column_names, GPU_COLUMNS)
    for need in ("timestamp", "power_w"):
        if need not in mapping:
            label = {"timestamp": "timestamp", "power_w": "power draw (power.draw [W] or gpu_power_draw)"}[need]
            raise LayoutError(f"{path}:1: GPU log header has no {label} column; header is {table.column_names}")
    cols: dict[str, object] = {}
    ts = _to_timestamp(table[mapping["timestamp"]])
    valid_ts = pc.is_valid(ts)
    for canon in GPU_NUMERIC:
        if canon in mapping:
            vals, unparsed = _to_number(table[mapping[canon]])
            if unparsed:
                report.n_unparsed_values[canon] = unparsed
            cols[canon] = vals
    if "gpu_name" in mapping:
        cols["gpu_name"] = pc.utf8_trim_whitespace(table[mapping["gpu_name"]])
    out = pa.table({"timestamp": ts, **cols}).filter(valid_ts)
    report.n_bad_timestamp = table.num_rows - out.num_rows
    df = out.to_pandas()
    df = _finish(df, report)
    if "gpu_index" in df and df["gpu_index"].nunique() > 1:
        df = _merge_gpus(df)
    return df, report


def _merge_gpus(df: pd.DataFrame) -> pd.DataFrame:
    """A multi-GPU log (one line per GPU per sample): sum power, average usage per sample time."""
    # group the lines of one sampling round: nvidia-smi writes them within a few ms
    gap = df["t"].diff().fillna(np.inf) > 0.05
    sample = np.cumsum(gap.to_numpy())
    agg = {c: "mean" for c in df.columns if c not in ("timestamp", "t", "gpu_name")}
    for c in ("power_w", "mem_used_mib", "mem_total_mib", "power_limit_w", "energy_counter_mj"):
        if c in df:
            agg[c] = "sum"
    agg.update({"timestamp": "first", "t": "first"})
    if "gpu_name" in df:
        agg["gpu_name"] = "first"
    out = df.groupby(sample, sort=True).agg(agg).reset_index(drop=True)
    out["n_gpus"] = df.groupby(sample)["gpu_index"].nunique().to_numpy()
    return out


def _finish(df: pd.DataFrame, report: LogReport) -> pd.DataFrame:
    ts = df["timestamp"].to_numpy().astype("datetime64[us]").astype("int64")
    if len(ts) > 1 and (np.diff(ts) < 0).any():  # out-of-order lines: sort (stable), else keep as is
        order = np.argsort(ts, kind="stable")
        df = df.iloc[order].reset_index(drop=True)
        ts = ts[order]
    df["t"] = ts / 1e6
    report.n_kept = len(df)
    return df


def read_cpu_log(path: str | Path) -> tuple[pd.DataFrame, LogReport]:
    """Parse a psutil log with ``timestamp, cpu usage (%), memory usage (MB)`` (extra columns ignored).

    Returns ``timestamp``, ``t``, ``cpu_usage_pct`` (if present) and ``ram_used_mb``.
    """
    path = Path(path)
    table, report = _read_table(path, "CPU")
    mapping = _resolve(table.column_names, CPU_COLUMNS)
    for need in ("timestamp", "ram_used_mb"):
        if need not in mapping:
            raise LayoutError(
                f"{path}:1: CPU log header has no {need.replace('_', ' ')} column "
                f"(expected 'timestamp' and 'memory usage (MB)'); header is {table.column_names}"
            )
    ts = _to_timestamp(table[mapping["timestamp"]])
    cols = {}
    for canon in ("cpu_usage_pct", "ram_used_mb"):
        if canon in mapping:
            vals, unparsed = _to_number(table[mapping[canon]])
            if unparsed:
                report.n_unparsed_values[canon] = unparsed
            cols[canon] = vals
    out = pa.table({"timestamp": ts, **cols}).filter(pc.is_valid(ts))
    report.n_bad_timestamp = table.num_rows - out.num_rows
    return _finish(out.to_pandas(), report), report


def read_epochs(path: str | Path) -> pd.DataFrame:
    """Read ``epochs.csv`` (``epoch, end_time`` plus any extra columns).

    An empty file (a run killed before its first epoch ended) gives an empty frame.  Epochs
    must be integers, strictly increasing, with end times that parse and increase; otherwise
    :class:`LayoutError` names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise LayoutError(f"{path}: epoch file not found")
    if not path.read_bytes().strip():
        return pd.DataFrame({"epoch": pd.Series(dtype="int64"), "end_time": pd.Series(dtype="datetime64[us]")})
    raw = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]
    for need in ("epoch", "end_time"):
        if need not in raw.columns:
            raise LayoutError(f"{path}:1: epoch file header lacks column '{need}' (expected 'epoch,end_time')")
    lines = np.arange(len(raw)) + 2
    epoch = pd.to_numeric(raw["epoch"].str.strip(), errors="coerce")
    end = pd.to_datetime(raw["end_time"].str.strip().str.replace("/", "-", regex=False), format="ISO8601", errors="coerce")
    bad = epoch.isna() | (epoch != epoch.round()) | end.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise LayoutError(f"{path}:{lines[i]}: bad epoch marker {raw.iloc[i, :2].tolist()} (need integer epoch and a timestamp)")
    e = epoch.to_numpy()
    tt = end.to_numpy()
    nonmono = np.flatnonzero((np.diff(e) <= 0) | (np.diff(tt).astype("int64") < 0))
    if len(nonmono):
        i = int(nonmono[0]) + 1
        raise LayoutError(f"{path}:{lines[i]}: epoch markers out of order (epoch {int(e[i])} after {int(e[i-1])})")
    out = pd.DataFrame({c: _numeric_or_keep(raw[c]) for c in raw.columns if c not in ("epoch", "end_time")}, index=raw.index)
    out.insert(0, "end_time", end.astype("datetime64[us]"))
    out.insert(0, "epoch", e.astype("int64"))
    return out


def _numeric_or_keep(s: pd.Series) -> pd.Series:
    try:
        return pd.to_numeric(s.replace("", None))
    except (ValueError, TypeError):
        return s
