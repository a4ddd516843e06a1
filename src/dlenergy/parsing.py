"""Parsers for the logs of layout v1: nvidia-smi GPU logs, psutil CPU/RAM logs, epoch markers.

The GPU parser maps columns by name from either header style:

* native ``nvidia-smi --query-gpu=... --format=csv``:
  ``timestamp, name, utilization.gpu [%], ..., power.draw [W], power.limit [W]`` (or ``power.max_limit [W]``)
* the replication package's renamed header:
  ``timestamp, gpu_name, gpu_usage, gpu_memory_usage, gpu_total_memory, gpu_memory_used,
  gpu_power_draw, gpu_max_power, gpu_temperature``

Values may carry units (``119.17 W``, ``23 %``, ``24268 MiB``); a unit in the header (``[kW]``,
``[mW]``, ``(MB)``, ``[GiB]``) is honoured; a unit dlenergy does not know, or values whose unit
contradicts the header's, refuse the log.  ``[N/A]`` and ``[Not Supported]`` are missing; timestamps
follow :mod:`dlenergy.clock` (zones included).  Lines cut short or long (a field count other than
the header's), lines whose timestamp does not parse and lines holding bytes that are not UTF-8 are
dropped and counted (:class:`LogReport`), with their file line numbers.

Logs are read in chunks of whole lines (:mod:`dlenergy.textlog`) and reduced to typed numpy
columns chunk by chunk (float32 where the values are small integers: utilization, memory,
temperature), so parsing a log takes about its own size in memory, not several times it.  Then the
GPU log goes through the stages of :mod:`dlenergy.multigpu` (which GPU, which reading),
:mod:`dlenergy.plausibility` (power samples) and :mod:`dlenergy.series` (clock, order, duplicates).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import multigpu, series
from .clock import NAT, RunClock, parse_times, split_times, to_clock
from .headers import CPU_COLUMNS, GPU_COLUMNS, resolve_columns  # header names, shared with the recorder
from .layout import LayoutError
from .plausibility import (
    Plausibility,
    PowerScreen,
    check_dropped_share,
    check_peak,
    power_cap,
    refuse_negative,
    screen_power,
)
from .textlog import Damage, iter_chunks, read_header, read_text_lines

#: numeric columns the analysis uses (others in the log are ignored, which keeps parsing fast)
GPU_NUMERIC = ["power_w", "gpu_usage_pct", "mem_used_mib", "power_limit_w", "temperature_c", "energy_counter_mj"]
#: columns that tell the GPUs of a multi-GPU log apart, in order of preference
GPU_ID_COLUMNS = ("gpu_index", "gpu_bus_id", "gpu_uuid")

#: kind of each numeric column; its values are converted to the kind's first unit below
COLUMN_KIND = {
    "power_w": "power",
    "power_limit_w": "power",
    "gpu_usage_pct": "percent",
    "mem_usage_pct": "percent",
    "cpu_usage_pct": "percent",
    "mem_total_mib": "memory",
    "mem_used_mib": "memory",
    "ram_used_mb": "memory",
    "temperature_c": "temperature",
    "energy_counter_mj": "energy",
}
#: accepted units (lower case) -> factor to the kind's unit (W, %, MiB, degrees C, mJ).  MB is read as
#: MiB (2**20 bytes), as nvidia-smi and psutil loggers (rss / 1024 / 1024) write it; GB as GiB.
UNIT_FACTORS: dict[str, dict[str, float]] = {
    "power": {"w": 1.0, "kw": 1e3, "mw": 1e-3},
    "percent": {"%": 1.0},
    "memory": {
        "mib": 1.0,
        "mb": 1.0,
        "gib": 1024.0,
        "gb": 1024.0,
        "kib": 1 / 1024,
        "kb": 1 / 1024,
        "b": 2.0**-20,
        "bytes": 2.0**-20,
    },
    "temperature": {"c": 1.0, "celsius": 1.0, "°c": 1.0},
    "energy": {"mj": 1.0, "j": 1e3, "kj": 1e6},
}
#: float32 holds these exactly (small integers) and halves their memory
FLOAT32 = {"gpu_usage_pct", "mem_used_mib", "temperature_c", "mem_usage_pct", "cpu_usage_pct"}

_MISSING_TOKENS = ("[N/A]", "[Not Supported]", "N/A", "None", "")
_VALUE = (
    r"(?i)^(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|[-+]?inf(?:inity)?|nan)"
    r"\s*(?P<unit>[a-z%°]*)$"
)


@dataclass
class LogReport:
    """What a parser saw: kept rows, dropped lines and their reasons, what it merged and converted."""

    path: str
    n_lines: int = 0  # data lines, header and blank lines excluded
    n_kept: int = 0  # lines with a readable timestamp
    n_cut: int = 0  # lines with fewer (or more) fields than the header
    n_bad_timestamp: int = 0
    n_bad_bytes: int = 0  # lines holding bytes that are not UTF-8
    n_unparsed_values: dict[str, int] = field(default_factory=dict)
    first_bad_lines: list[int] = field(default_factory=list)  # cut lines (the first 20)
    bad_timestamp_lines: list[int] = field(default_factory=list)
    bad_byte_lines: list[int] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # column -> header unit converted from
    n_reordered: int = 0  # steps back within the tolerance: lines re-sorted
    n_duplicates: int = 0  # samples merged into another with the same timestamp
    n_gpus: int = 1
    gpu_labels: list[str] = field(default_factory=list)
    n_filled: int = 0  # multi-GPU: GPU lines missing from a reading, filled
    n_odd_gpu_lines: int = 0  # multi-GPU: lines whose GPU id or name is neither GPU's (dropped)
    power: PowerScreen | None = None
    lines: np.ndarray | None = field(default=None, repr=False)  # file line of each sample of the frame

    @property
    def n_dropped(self) -> int:
        return self.n_cut + self.n_bad_timestamp + self.n_bad_bytes + self.n_odd_gpu_lines


def _header_unit(name: str) -> str | None:
    m = re.search(r"[\[(]([^\])]*)[\])]\s*$", name.strip())
    return m.group(1).strip().lower() if m else None


def _header_factors(path: Path, mapping: dict[str, str], report: LogReport) -> dict[str, tuple[str | None, float]]:
    """Header unit and factor of each numeric column; refuses a unit dlenergy does not know."""
    out = {}
    for canon, raw in mapping.items():
        kind = COLUMN_KIND.get(canon)
        if kind is None:
            continue
        unit = _header_unit(raw)
        if unit is None or unit == "":
            out[canon] = (None, 1.0)
            continue
        table = UNIT_FACTORS[kind]
        if unit not in table:
            raise LayoutError(
                f"{path}:1: column '{raw}' is in [{unit}]; {kind} is read in "
                f"{', '.join(_UNIT_TEXT.get(u, u) for u in table)} only"
            )
        if table[unit] != 1.0:
            report.units[canon] = unit
        out[canon] = (unit, table[unit])
    return out


#: how a unit is written after a value, for the fast path
_UNIT_TEXT = {
    "w": "W",
    "kw": "kW",
    "mw": "mW",
    "%": "%",
    "mib": "MiB",
    "mb": "MB",
    "gib": "GiB",
    "gb": "GB",
    "kib": "KiB",
    "kb": "KB",
    "b": "B",
    "bytes": "bytes",
    "c": "C",
    "celsius": "Celsius",
    "°c": "°C",
    "mj": "mJ",
    "j": "J",
    "kj": "kJ",
}
_KIND_UNIT = {"power": "w", "percent": "%", "memory": "mib", "temperature": "c", "energy": "mj"}


def _to_number(arr: pa.Array, kind: str, header: tuple[str | None, float], column: str) -> tuple[np.ndarray, int]:
    """Values as float64 in the kind's unit (NaN where missing) and the count of unparsable ones.

    Fast path: drop the header's unit (or the kind's own) from every value and cast; only when that
    fails does the regex path run, which reads each value's own unit (and refuses one that
    contradicts the header's).
    """
    unit, factor = header
    text = _UNIT_TEXT[unit or _KIND_UNIT[kind]]
    try:
        # the unit only after the number, as the regex path reads it ("%5 %" fails both ways, whatever the
        # other values of the chunk); a value in kW or mW keeps its k/m and fails the cast
        if len(text) == 1:  # W, %, C: one trim
            clean = pc.utf8_rtrim(pc.utf8_ltrim_whitespace(arr), characters=" " + text)
        else:
            clean = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, re.escape(text) + r"\s*$", ""))
        vals = np.asarray(pc.cast(clean, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        return (vals * factor if factor != 1.0 else vals), 0
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    s = pc.utf8_trim_whitespace(arr)
    return _to_number_slow(s, kind, unit, factor, column)


def _to_number_slow(s: pa.Array, kind: str, unit: str | None, factor: float, column: str) -> tuple[np.ndarray, int]:
    is_missing = pc.fill_null(pc.is_in(s, value_set=pa.array(_MISSING_TOKENS)), True)
    parts = pc.extract_regex(s, _VALUE)
    num = pc.struct_field(parts, "num")
    vunit = pc.utf8_lower(pc.struct_field(parts, "unit"))
    table = UNIT_FACTORS[kind]
    fac = np.full(len(s), factor)
    good = pc.fill_null(pc.and_(pc.is_valid(parts), pc.invert(is_missing)), False).to_numpy(zero_copy_only=False)
    vu = vunit.to_numpy(zero_copy_only=False)
    for u in pc.unique(pc.drop_null(vunit)).to_pylist():
        if u == "":
            continue
        at = good & (vu == u)
        if u not in table:
            good = good & ~at
            continue
        if unit is not None and table[u] != factor:
            raise LayoutError(f"the header of column '{column}' says [{unit}] but its values are in {u}")
        fac[at] = table[u]
    vals = np.asarray(pc.cast(num, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    vals = np.where(good, vals * fac, np.nan)
    unparsed = int((~good & ~is_missing.to_numpy(zero_copy_only=False)).sum())
    return vals, unparsed


# ----------------------------------------------------------------------------- reading in chunks


@dataclass
class _Raw:
    """A log's readable lines as typed columns (file order)."""

    t_us: np.ndarray
    lines: np.ndarray
    cols: dict[str, np.ndarray]
    labels: dict[str, list[str]]  # text columns: code -> label (codes are in ``cols``)


def _open_log(path: Path, kind: str) -> tuple[list[str], LogReport]:
    """The header's column names (BOM dropped, duplicates numbered); refuses a missing/empty log."""
    report = LogReport(str(path))
    if not path.is_file():
        raise LayoutError(f"{path}: {kind} log not found")
    header, _ = read_header(path)
    if header is None:
        raise LayoutError(f"{path}:1: {kind} log header is not UTF-8 text (a binary file, or another encoding)")
    if not header.strip():
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        if not head.strip() and path.stat().st_size <= len(head):
            raise LayoutError(f"{path}:1: {kind} log is empty")
        raise LayoutError(f"{path}:1: {kind} log has an empty header line")
    names, seen = [], {}
    for c in header.split(","):
        c = c.strip()
        seen[c] = seen.get(c, 0) + 1
        names.append(c if seen[c] == 1 else f"{c}.{seen[c]}")
    return names, report


def _parse_chunk(data: bytes, names: list[str], include: list[str], first_line: int, n_lines: int):
    """One chunk as a table of strings, the file line of each row, and the cut lines."""
    invalid: list[int] = []

    def on_invalid(row):  # lines with the wrong number of fields
        invalid.append(row.number)
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pacsv.ParseOptions(
            invalid_row_handler=on_invalid, newlines_in_values=False, ignore_empty_lines=False, quote_char=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in include},
            include_columns=include,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    cut = [first_line + n - 1 for n in invalid if n is not None]
    rows = np.arange(first_line, first_line + n_lines, dtype=np.int64)
    if cut:
        rows = np.delete(rows, np.asarray(cut) - first_line)
    if len(rows) != table.num_rows:  # pragma: no cover - arrow numbers rows as lines (ignore_empty_lines=False)
        raise LayoutError(f"lines {first_line}-{first_line + n_lines - 1}: cannot map rows to file lines")
    return table, rows, cut


class _Codes:
    """Text values (GPU names, ids) as small integer codes, consistent across chunks."""

    def __init__(self):
        self.labels: list[str] = []
        self._code: dict[str, int] = {}

    def encode(self, arr: pa.Array) -> np.ndarray:
        enc = pc.dictionary_encode(pc.utf8_trim_whitespace(arr))
        words = enc.dictionary.to_pylist()
        remap = np.array([self._get(w) for w in words] or [-1], dtype=np.int16)
        idx = np.asarray(enc.indices.to_numpy(zero_copy_only=False))
        return remap[idx] if len(idx) else np.zeros(0, dtype=np.int16)

    def _get(self, word: str) -> int:
        if word == "":
            return -1
        if word not in self._code:
            self._code[word] = len(self.labels)
            self.labels.append(word)
        return self._code[word]


def _nonblank(table: pa.Table, include: list[str], ts_col: str) -> np.ndarray:
    """Rows that are not blank lines (a blank line has an empty timestamp and nothing else)."""
    empty_ts = np.asarray(pc.equal(pc.utf8_length(table[ts_col]), 0).to_numpy(zero_copy_only=False))
    if not empty_ts.any():
        return np.ones(table.num_rows, dtype=bool)
    nonblank = ~empty_ts
    for name in include:
        nonblank |= np.asarray(pc.greater(pc.utf8_length(table[name]), 0).to_numpy(zero_copy_only=False))
    return nonblank


def _read_chunks(
    path: Path,
    names: list[str],
    mapping: dict[str, str],
    numeric: list[str],
    text: list[str],
    factors: dict,
    clock: RunClock,
    report: LogReport,
) -> _Raw:
    """Every chunk of the log reduced to typed columns; dropped lines counted in ``report``."""
    damage = Damage()
    include = list(dict.fromkeys(mapping[c] for c in ["timestamp", *numeric, *text]))
    parts: dict[str, list[np.ndarray]] = {c: [] for c in ["t_us", "lines", *numeric, *text]}
    codes = {c: _Codes() for c in text}
    for ch in iter_chunks(path, damage):
        if not ch.data.strip(b"\n"):  # blank lines only (or a last line blanked for its bytes)
            continue
        table, rows, cut = _parse_chunk(ch.data, names, include, ch.first_line, ch.n_lines)
        report.n_cut += len(cut)
        report.first_bad_lines.extend(cut[: 20 - len(report.first_bad_lines)])
        nonblank = _nonblank(table, include, mapping["timestamp"])
        t_us = parse_times(table[mapping["timestamp"]], clock)
        ok = nonblank & (t_us != NAT)
        bad_ts = rows[nonblank & (t_us == NAT)]
        report.n_bad_timestamp += len(bad_ts)
        report.bad_timestamp_lines.extend(bad_ts[: 20 - len(report.bad_timestamp_lines)].tolist())
        report.n_lines += int(nonblank.sum()) + len(cut)
        keep = np.flatnonzero(ok)
        table = table.take(pa.array(keep)) if len(keep) < table.num_rows else table
        parts["t_us"].append(t_us[keep])
        parts["lines"].append(rows[keep].astype(np.int32))
        for c in numeric:
            try:
                vals, unparsed = _to_number(table[mapping[c]].combine_chunks(), COLUMN_KIND[c], factors[c], mapping[c])
            except LayoutError as exc:
                raise LayoutError(f"{path}:1: {exc}") from None
            if unparsed:
                report.n_unparsed_values[c] = report.n_unparsed_values.get(c, 0) + unparsed
            parts[c].append(vals.astype(np.float32) if c in FLOAT32 else vals)
        for c in text:
            parts[c].append(codes[c].encode(table[mapping[c]].combine_chunks()))
        del table
    report.n_bad_bytes = damage.n_bad_byte_lines
    report.bad_byte_lines = list(damage.bad_byte_lines)
    report.n_lines += damage.n_bad_byte_lines
    out = {}
    for c in list(parts):
        lst = parts.pop(c)
        out[c] = np.concatenate(lst) if lst else np.zeros(0)
        del lst
    report.n_kept = len(out["t_us"])
    return _Raw(
        out.pop("t_us").astype(np.int64), out.pop("lines").astype(np.int32), out, {c: codes[c].labels for c in text}
    )


# ----------------------------------------------------------------------------- GPU log


def _empty_gpu_frame(mapping: dict[str, str]) -> pd.DataFrame:
    cols = {"timestamp": pd.Series(dtype="datetime64[us]"), "t": pd.Series(dtype="float64")}
    cols.update({c: pd.Series(dtype="float64") for c in GPU_NUMERIC if c in mapping})
    return pd.DataFrame(cols)


def read_gpu_log(
    path: str | Path, *, config: Plausibility | None = None, clock: RunClock | None = None, tdp_w: float | None = None
) -> tuple[pd.DataFrame, LogReport]:
    """Parse an nvidia-smi GPU log, one GPU or several.

    Returns a frame with columns ``timestamp`` (datetime64[us], on the run's ``clock``), ``t`` (float
    seconds since the epoch), ``power_w`` and whatever of :data:`GPU_NUMERIC` the log has (NaN where
    missing or dropped), one row per reading in time order, plus ``gpu_name`` (categorical) when
    logged, and for a multi-GPU log ``n_gpus`` and ``power_w_gpu<i>`` (each GPU's power; ``power_w``
    is their sum), and a :class:`LogReport`.  Raises :class:`LayoutError` naming the file and line
    when the log is missing, empty, has no timestamp or power column, or fails a plausibility check
    of ``config`` (:mod:`dlenergy.plausibility`; ``tdp_w`` is the board's TDP, the cap when the log
    has no power limit).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "gpu.csv"
    >>> _ = p.write_text("timestamp, index, name, power.draw [W]\\n"
    ...                  "2024/01/01 10:00:00.000, 0, A100, 100.00 W\\n2024/01/01 10:00:00.060, 1, A100, 50.00 W\\n"
    ...                  "2024/01/01 10:00:01.000, 0, A100, 110.00 W\\n2024/01/01 10:00:01.060, 1, A100, 60.00 W\\n")
    >>> df, rep = read_gpu_log(p)
    >>> df["power_w"].tolist(), rep.n_gpus, df["power_w_gpu1"].tolist()
    ([150.0, 170.0], 2, [50.0, 60.0])
    """
    path = Path(path)
    cfg, clock = config or Plausibility(), clock if clock is not None else RunClock()
    names, report = _open_log(path, "GPU")
    mapping = resolve_columns(names, GPU_COLUMNS)
    for need in ("timestamp", "power_w"):
        if need not in mapping:
            label = {"timestamp": "timestamp", "power_w": "power draw (power.draw [W] or gpu_power_draw)"}[need]
            raise LayoutError(f"{path}:1: GPU log header has no {label} column; header is {names}")
    numeric = [c for c in GPU_NUMERIC if c in mapping]
    factors = _header_factors(path, {c: mapping[c] for c in numeric}, report)
    id_col = next((c for c in GPU_ID_COLUMNS if c in mapping), None)
    text = [c for c in ("gpu_name", id_col) if c is not None and c in mapping]
    raw = _read_chunks(path, names, mapping, numeric, text, factors, clock, report)
    if not len(raw.t_us):
        return _empty_gpu_frame(mapping), report
    return _gpu_stages(raw, id_col, report, cfg, tdp_w, str(path)), report


def _gpu_stages(
    raw: _Raw, id_col: str | None, report: LogReport, cfg: Plausibility, tdp_w: float | None, path: str
) -> pd.DataFrame:
    """Which GPU, plausibility, clock, readings, order and duplicates (the module's stages)."""
    cols, t, lines = raw.cols, raw.t_us, raw.lines
    ids_arg = (cols[id_col], raw.labels[id_col], id_col) if id_col else None
    names_arg = (cols["gpu_name"], raw.labels["gpu_name"]) if "gpu_name" in cols else None
    ids = multigpu.identify(t, ids_arg, names_arg, path, cols["power_w"])
    report.n_gpus, report.gpu_labels = ids.k, ids.labels
    if id_col:
        del cols[id_col]
    if ids.odd is not None:  # lines of no GPU one can tell: dropped, counted
        keep = ~ids.odd
        report.n_odd_gpu_lines = int(ids.odd.sum())
        t, lines, ids.gid = t[keep], lines[keep], ids.gid[keep]
        cols = {c: v[keep] for c, v in cols.items()}
    if "mem_used_mib" in cols:
        refuse_negative(cols["mem_used_mib"], lines, path, "GPU memory used (MiB)")
    limit = cols.get("power_limit_w")
    sels = [ids.gid == g for g in range(ids.k)] if ids.k > 1 else [slice(None)]
    caps_g = [power_cap(limit[sel] if limit is not None else None, tdp_w, cfg) for sel in sels]
    caps = np.array([c for c, _ in caps_g])[ids.gid] if ids.k > 1 else np.full(len(t), caps_g[0][0])
    report.power = screen_power(cols["power_w"], caps, lines, path, report.n_unparsed_values.get("power_w", 0))
    report.power.cap_source = caps_g[0][1]
    for g, sel in enumerate(sels):
        cap, source = caps_g[g]
        label = f" of GPU {ids.labels[g]}" if ids.k > 1 else ""
        check_peak(
            cols["power_w"][sel], cap / cfg.power_margin if source in ("log", "spec") else None, path, label, cfg
        )
        report.n_reordered += series.check_clock(t[sel], lines[sel], path, cfg.max_clock_backstep_s)
    n_lines = len(t)
    if ids.k > 1:
        reading = multigpu.assign_readings(ids.gid, ids.k, path)
        t, lines, cols, report.n_filled = multigpu.merge_readings(
            t, lines, cols, ids, reading, path, cfg.max_fill_readings
        )
    t, cols, lines, report.n_duplicates, report.power.n_conflicting = series.sort_and_merge(t, cols, lines, "power_w")
    check_dropped_share(report.power, n_lines, path, cfg)
    report.lines = lines
    data = {"timestamp": t.view("datetime64[us]"), "t": t / 1e6}
    data.update({c: v for c, v in cols.items() if c != "gpu_name"})
    if "gpu_name" in cols:
        names = pd.CategoricalDtype(pd.Index(raw.labels["gpu_name"] or ["?"], dtype=object))
        data["gpu_name"] = pd.Categorical.from_codes(cols["gpu_name"].astype(np.int64), dtype=names)
    return pd.DataFrame(data, copy=False)


# ----------------------------------------------------------------------------- CPU log


def read_cpu_log(
    path: str | Path, *, config: Plausibility | None = None, clock: RunClock | None = None
) -> tuple[pd.DataFrame, LogReport]:
    """Parse a psutil log with ``timestamp, cpu usage (%), memory usage (MB)`` (extra columns ignored).

    Returns ``timestamp``, ``t``, ``cpu_usage_pct`` (if present) and ``ram_used_mb`` (MB = 2**20 bytes;
    a header unit such as ``(GB)`` or ``[KiB]`` is converted), in time order on the run's ``clock``.
    Negative memory and a clock stepping back refuse the log (:class:`LayoutError`).
    """
    path = Path(path)
    cfg, clock = config or Plausibility(), clock if clock is not None else RunClock()
    names, report = _open_log(path, "CPU")
    mapping = resolve_columns(names, CPU_COLUMNS)
    for need in ("timestamp", "ram_used_mb"):
        if need not in mapping:
            raise LayoutError(
                f"{path}:1: CPU log header has no {need.replace('_', ' ')} column "
                f"(expected 'timestamp' and 'memory usage (MB)'); header is {names}"
            )
    numeric = [c for c in ("cpu_usage_pct", "ram_used_mb") if c in mapping]
    factors = _header_factors(path, {c: mapping[c] for c in numeric}, report)
    raw = _read_chunks(path, names, mapping, numeric, [], factors, clock, report)
    cols, t, lines = raw.cols, raw.t_us, raw.lines
    refuse_negative(cols["ram_used_mb"], lines, str(path), "memory usage (MB)")
    report.n_reordered = series.check_clock(t, lines, str(path), cfg.max_clock_backstep_s)
    t, cols, lines, report.n_duplicates, _ = series.sort_and_merge(t, cols, lines, "ram_used_mb")
    report.lines = lines
    data = {"timestamp": t.view("datetime64[us]"), "t": t / 1e6}
    data.update({c: cols[c] for c in numeric})
    return pd.DataFrame(data, copy=False), report


# ----------------------------------------------------------------------------- epoch markers


def read_epochs(path: str | Path, *, clock: RunClock | None = None) -> pd.DataFrame:
    """Read ``epochs.csv`` (``epoch, end_time`` plus any extra columns), end times on the run's ``clock``.

    An empty or header-only file (a run killed before its first epoch ended) gives an empty frame.
    Epochs must be integers, strictly increasing, with end times that parse and do not decrease, and
    every line must have the header's fields (extra empty ones are ignored); otherwise
    :class:`LayoutError` names the file and line.  Bytes that are not UTF-8 are replaced (U+FFFD):
    they cost a marker only when they are in its epoch or end time.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "epochs.csv"
    >>> _ = p.write_bytes(b"\\xef\\xbb\\xbfepoch,end_time,note\\r0,2024-01-01 10:00:05+01:00,caf\\xe9\\r1,2024-01-01 10:00:09,\\r")
    >>> read_epochs(p)[["epoch", "end_time"]].astype(str).values.tolist()
    [['0', '2024-01-01 10:00:05'], ['1', '2024-01-01 10:00:09']]
    """
    return read_epochs_lines(path, clock=clock)[0]


def read_epochs_lines(path: str | Path, *, clock: RunClock | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`read_epochs` and the file line of each marker."""
    path = Path(path)
    clock = clock if clock is not None else RunClock()
    if not path.is_file():
        raise LayoutError(f"{path}: epoch file not found")
    empty = pd.DataFrame({"epoch": pd.Series(dtype="int64"), "end_time": pd.Series(dtype="datetime64[us]")})
    lines = read_text_lines(path, Damage())
    if not "".join(lines).strip():
        return empty, np.zeros(0, dtype=np.int64)
    header = [c.strip() for c in next(csv.reader([lines[0]]))]
    for need in ("epoch", "end_time"):
        if need not in header:
            raise LayoutError(f"{path}:1: epoch file header lacks column '{need}' (expected 'epoch,end_time')")
    rows, numbers = _epoch_rows(path, lines, len(header))
    if not rows:
        return empty, np.zeros(0, dtype=np.int64)
    raw = pd.DataFrame(rows, columns=header, dtype=object).astype(str)
    numbers = np.asarray(numbers, dtype=np.int64)
    return _epoch_frame(path, raw, numbers, clock), numbers


def _epoch_rows(path: Path, lines: list[str], width: int) -> tuple[list[list[str]], list[int]]:
    rows, numbers = [], []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in next(csv.reader([line]))]
        if len(fields) > width and not any(fields[width:]):
            fields = fields[:width]
        if len(fields) != width:
            raise LayoutError(f"{path}:{n}: epoch marker line has {len(fields)} field(s), the header has {width}")
        rows.append(fields)
        numbers.append(n)
    return rows, numbers


def _epoch_frame(path: Path, raw: pd.DataFrame, lines: np.ndarray, clock: RunClock) -> pd.DataFrame:
    epoch = pd.to_numeric(raw["epoch"], errors="coerce")
    us, offsets = split_times(pa.array(raw["end_time"].tolist(), pa.string()))
    bad = epoch.isna().to_numpy() | (epoch != epoch.round()).to_numpy() | (us == NAT)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LayoutError(
            f"{path}:{lines[i]}: bad epoch marker {raw.iloc[i][['epoch', 'end_time']].tolist()} "
            "(need integer epoch and a timestamp)"
        )
    us = to_clock(us, offsets, clock)
    e = epoch.to_numpy(dtype="int64")
    nonmono = np.flatnonzero((np.diff(e) <= 0) | (np.diff(us) < 0))
    if len(nonmono):
        i = int(nonmono[0]) + 1
        raise LayoutError(f"{path}:{lines[i]}: epoch markers out of order (epoch {int(e[i])} after {int(e[i - 1])})")
    out = pd.DataFrame(
        {c: _numeric_or_keep(raw[c]) for c in raw.columns if c not in ("epoch", "end_time")}, index=raw.index
    )
    out.insert(0, "end_time", us.view("datetime64[us]"))
    out.insert(0, "epoch", e)
    return out.reset_index(drop=True)


def _numeric_or_keep(s: pd.Series) -> pd.Series:
    try:
        return pd.to_numeric(s.replace("", None))
    except (ValueError, TypeError):
        return s
