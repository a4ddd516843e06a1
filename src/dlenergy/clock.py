"""One clock per run: how timestamps with and without a time zone are read (docs/layout.md, "Time").

The rule
--------
* A timestamp is ``YYYY-mm-dd HH:MM[:SS[.ffffff]]`` (``/`` may replace ``-``; ``T`` may replace
  the space; digits past microseconds are cut), optionally followed by a zone: ``Z``, ``+HH``, ``+HHMM``
  or ``+HH:MM`` (or ``-``).
* The run's **reference offset** is the first zone offset seen in its files, read in this order:
  ``gpu.csv``, ``epochs.csv``, ``cpu.csv``, then ``train_start`` in ``runs.csv``.
* A timestamp without a zone is wall time at the reference offset, and is kept as written.
* A timestamp with a zone is converted to the wall time at the reference offset:
  ``value - its offset + reference offset``.  So a file whose lines carry different zones (a
  daylight-saving change, a logger moved between machines) is read on one clock, and a naive GPU
  log next to epoch ends written with ``+01:00`` is read consistently with them.
* Every time the pipeline writes (``start_time``, ``end_time``) is naive wall time at the run's
  reference offset (``clock_utc_offset_s`` in ``runs.parquet``; empty when no file had a zone).

All functions return microseconds since 1970-01-01 of that wall clock (``int64``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_PATTERN = (
    r"^(?P<base>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2})(?P<sec>:\d{2}(?:\.\d{1,6})?)?(?P<more>\d*)"
    r"\s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$"
)
NAT = np.iinfo(np.int64).min


@dataclass
class RunClock:
    """The reference offset of one run (seconds east of UTC), fixed by the first zone seen."""

    offset_s: int | None = None

    def see(self, offset_s: int | None) -> None:
        if self.offset_s is None and offset_s is not None:
            self.offset_s = int(offset_s)


def _zone_seconds(zone: pa.Array) -> pa.Array:
    """``Z``/``+HH``/``+HHMM``/``+HH:MM`` -> seconds east of UTC (null where there is no zone)."""
    has = pc.greater(pc.utf8_length(zone), 0)
    z = pc.replace_substring(pc.replace_substring(zone, ":", ""), "Z", "+0000")
    z = pc.if_else(pc.equal(pc.utf8_length(z), 3), pc.binary_join_element_wise(z, "00", ""), z)
    z = pc.if_else(has, z, pa.scalar(None, pa.string()))
    sign = pc.if_else(pc.starts_with(z, "-"), -1, 1)
    hh = pc.cast(pc.utf8_slice_codeunits(z, 1, 3), pa.int64())
    mm = pc.cast(pc.utf8_slice_codeunits(z, 3, 5), pa.int64())
    return pc.multiply(sign, pc.add(pc.multiply(hh, 3600), pc.multiply(mm, 60)))


def split_times(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """Each timestamp string as written: wall-clock microseconds (``NAT`` where it does not parse)
    and its zone offset in seconds (NaN without one; None when no value has a zone)."""
    s = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    s = pc.replace_substring(pc.utf8_trim_whitespace(s), "/", "-")
    try:  # the common case: no zone, nothing but timestamps (arrow refuses a zone here)
        if len(s) and pc.min(pc.utf8_length(s)).as_py() >= 19:
            return _to_us(pc.cast(s, pa.timestamp("us"))), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    parts = pc.extract_regex(s, _PATTERN)
    sec = pc.struct_field(parts, "sec")
    # digits past microseconds are cut; anywhere else they make the value unreadable
    extra_ok = pc.or_(pc.equal(pc.utf8_length(pc.struct_field(parts, "more")), 0), pc.equal(pc.utf8_length(sec), 10))
    ok = pc.fill_null(pc.and_(pc.is_valid(parts), extra_ok), False)
    base = pc.binary_join_element_wise(pc.struct_field(parts, "base"), sec, "")
    base = pc.if_else(ok, pc.replace_substring(base, "T", " "), pa.scalar(None, pa.string()))
    us = _to_us(pc.cast(base, pa.timestamp("us")))
    zone = pc.if_else(ok, pc.struct_field(parts, "zone"), pa.scalar("", pa.string()))
    off = _zone_seconds(pc.fill_null(zone, ""))
    if not pc.any(pc.is_valid(off)).as_py():
        return us, None
    offsets = off.to_numpy(zero_copy_only=False).astype("float64")
    offsets[us == NAT] = np.nan
    return us, offsets


def to_clock(us: np.ndarray, offsets: np.ndarray | None, clock: RunClock) -> np.ndarray:
    """Wall times with their zones (from :func:`split_times`) on the run's clock (in place)."""
    if offsets is None:
        return us
    aware = np.isfinite(offsets)
    if aware.any():
        clock.see(int(offsets[np.flatnonzero(aware)[0]]))
        us[aware] = us[aware] + ((clock.offset_s - offsets[aware]) * 1_000_000).astype(np.int64)
    return us


def parse_times(values: pa.Array | pa.ChunkedArray, clock: RunClock) -> np.ndarray:
    """Microseconds on the run's clock of each timestamp string (``NAT`` where it does not parse).

    The first zone offset in ``values`` fixes ``clock`` when it has none yet (see the module's rule).

    Examples
    --------
    >>> import pyarrow as pa
    >>> c = RunClock()
    >>> us = parse_times(pa.array(["2024-01-01 10:00:00", "2024-01-01T10:00:01+01:00", "2024/01/01 09:00:02Z"]), c)
    >>> c.offset_s, [str(np.datetime64(int(u), "us")) for u in us]
    (3600, ['2024-01-01T10:00:00.000000', '2024-01-01T10:00:01.000000', '2024-01-01T10:00:02.000000'])
    """
    us, offsets = split_times(values)
    return to_clock(us, offsets, clock)


def _to_us(ts: pa.Array) -> np.ndarray:
    """Timestamps (null allowed) as int64 microseconds, ``NAT`` for null."""
    return np.asarray(pc.fill_null(pc.cast(ts, pa.int64()), NAT).to_numpy(zero_copy_only=False), dtype=np.int64).copy()


def parse_scalar(value, clock: RunClock) -> pd.Timestamp | None:
    """One timestamp (e.g. ``train_start``) on the run's clock; None when empty or unparsable."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or str(value).strip() == "":
        return None
    if isinstance(value, pd.Timestamp):
        value = value.isoformat(sep=" ")
    us = parse_times(pa.array([str(value)]), clock)[0]
    return None if us == NAT else pd.Timestamp(int(us), unit="us")


def zone_offset_of(value) -> int | None:
    """The zone offset (s) written in one timestamp string, None when it has none or is not one."""
    c = RunClock()
    if value is None or str(value).strip() == "":
        return None
    parse_times(pa.array([str(value)]), c)
    return c.offset_s
