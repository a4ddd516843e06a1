"""Accepted header names of the layout-v1 logs, in one place (stdlib only).

The analysis parser (:mod:`dlenergy.parsing`, which imports pandas and pyarrow) and the recorder
that runs beside a user's training (:mod:`dlenergy.recording`, which must not) both map log
columns by name through these tables.  This module imports nothing beyond the standard library, so
either side can import it: add an alias here once and both see it.

A header name matches an alias with or without its unit in brackets and in any case:
``power.draw [W]``, ``POWER.DRAW`` and ``power.draw`` all match ``power.draw``.

Examples
--------
>>> from dlenergy.headers import GPU_COLUMNS, resolve_columns
>>> resolve_columns(["timestamp", " name", " power.draw [W]"], GPU_COLUMNS)
{'timestamp': 'timestamp', 'gpu_name': ' name', 'power_w': ' power.draw [W]'}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

#: canonical GPU column -> accepted header names (normalized: lower case, unit in brackets removed)
GPU_COLUMNS: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp",),
    "gpu_name": ("name", "gpu_name"),
    "power_w": ("power.draw", "gpu_power_draw", "power.draw.average"),
    "gpu_usage_pct": ("utilization.gpu", "gpu_usage"),
    "mem_usage_pct": ("utilization.memory", "gpu_memory_usage"),
    "mem_total_mib": ("memory.total", "gpu_total_memory"),
    "mem_used_mib": ("memory.used", "gpu_memory_used"),
    "power_limit_w": ("power.limit", "power.max_limit", "enforced.power.limit", "gpu_max_power"),
    "temperature_c": ("temperature.gpu", "gpu_temperature"),
    "energy_counter_mj": ("total_energy_consumption", "energy_counter_mj"),
    "gpu_index": ("index", "gpu_index"),
    "gpu_bus_id": ("pci.bus_id", "gpu_bus_id", "pci.bus"),
    "gpu_uuid": ("uuid", "gpu_uuid"),
}

#: canonical CPU/RAM column -> accepted header names
CPU_COLUMNS: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp",),
    "cpu_usage_pct": ("cpu usage", "cpu_usage", "cpu usage (%)"),
    "ram_used_mb": ("memory usage", "memory usage (mb)", "memory_usage", "ram_used_mb", "rss_mb"),
}

_UNIT = re.compile(r"\s*[\[(][^\])]*[\])]\s*$")


def normalize_header(name: str) -> str:
    """A header name as the alias tables spell it: stripped, lower case, without ``[unit]`` or ``(unit)``.

    Examples
    --------
    >>> normalize_header(" Power.Draw [W] ")
    'power.draw'
    >>> normalize_header("memory usage (MB)")
    'memory usage'
    """
    return _UNIT.sub("", name.strip().lower()).strip()


def resolve_columns(columns: Sequence[str], aliases: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Map canonical names to the header names present in ``columns`` (first alias that matches wins).

    An alias matches a header equal to it (case-insensitive, spaces stripped), or equal to it once
    the unit in brackets is removed.  Canonical names without a match are absent from the result.

    Examples
    --------
    >>> resolve_columns(["timestamp", "cpu usage (%)", "memory usage (MB)"], CPU_COLUMNS)
    {'timestamp': 'timestamp', 'cpu_usage_pct': 'cpu usage (%)', 'ram_used_mb': 'memory usage (MB)'}
    """
    raw: dict[str, str] = {}
    norm: dict[str, str] = {}
    for c in columns:  # the first of two columns with the same name wins
        raw.setdefault(c.strip().lower(), c)
        norm.setdefault(normalize_header(c), c)
    out: dict[str, str] = {}
    for canon, names in aliases.items():
        for n in names:
            if n in raw or n in norm:
                out[canon] = raw.get(n) or norm[n]
                break
    return out
