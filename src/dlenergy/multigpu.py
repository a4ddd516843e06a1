"""Multi-GPU logs: ``nvidia-smi --query-gpu`` prints one line per GPU per reading.

Which line belongs to which GPU (:func:`identify`):

1. an id column, when the log has more than one common value in it: ``index``, else ``pci.bus_id``,
   else ``uuid``;
2. else the GPU names, when more than one is common and each has about as many lines as the others
   (a label on under 10 % of the lines the commonest has is noise: a damaged line, not a GPU);
3. else the log is one GPU's.  A one-GPU log whose lines come in bursts (at least 40 % of the gaps
   between lines far shorter than the sampling period, or negative) cannot be told from a
   multi-GPU log without an id column, and is refused: add ``index`` to ``--query-gpu``.

Which lines make one reading (:func:`assign_readings`): nvidia-smi writes the GPUs of a reading in
the same order every time, so a new reading starts at each line whose GPU does not come after the
previous line's GPU in that order.  This uses no time at all, so it holds at any sampling period and
whatever the skew between the lines of one reading (20 ms periods, 60 ms skew).  The order is the
GPUs' natural order (index, bus id) or the order of their first lines, whichever gives fewer
readings.

Merging (:func:`merge_readings`): the reading's time is its leading GPU's line's (where that line is
missing, the leading GPU's times interpolated over the reading numbers).  Each GPU's values are read
at the reading times; a GPU's line missing from a reading (or its dropped power sample) is filled by
linear interpolation between that GPU's neighbouring readings, when at most ``max_fill_readings`` of
its readings in a row are missing (else the run is refused), and counted.  Power, memory used, the
power limit and the energy counter are summed over the GPUs; utilization and temperature averaged.
Each GPU's power is kept as ``power_w_gpu<i>`` so its energy can be reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .layout import LayoutError
from .plausibility import ImplausibleError

#: merged columns summed over GPUs; the others are averaged
SUMMED = ("power_w", "mem_used_mib", "power_limit_w", "energy_counter_mj")
BURST_SHARE = 0.4
RARE = 0.1  #: a GPU label on fewer lines than this share of the commonest label's is noise


@dataclass
class GpuIds:
    """Which GPU each line is (``gid``: 0..k-1, None for a one-GPU log) and their labels."""

    k: int = 1
    gid: np.ndarray | None = None
    labels: list[str] = field(default_factory=list)
    by: str = "single"
    odd: np.ndarray | None = None  # lines whose GPU cannot be told (dropped)


def _order_labels(labels: list[str]) -> list[int]:
    """Natural order of id labels: numeric when all are numbers, else text."""
    try:
        keys = [float(x) for x in labels]
    except ValueError:
        keys = labels
    return sorted(range(len(labels)), key=lambda i: keys[i])


def bursty(t_us: np.ndarray, power: np.ndarray | None = None) -> bool:
    """True when the lines come in bursts (see the module's rule 3); a line repeated as it is (same
    time, same power) is a duplicate, not a burst.

    Examples
    --------
    >>> one_gpu = np.arange(40) * 1_000_000
    >>> two_gpus = np.sort(np.concatenate([one_gpu, one_gpu + 5_000]))
    >>> bursty(one_gpu), bursty(two_gpus)
    (False, True)
    """
    if len(t_us) < 20:
        return False
    d = np.diff(t_us)
    if power is not None:
        d = d[~((d == 0) & (power[1:] == power[:-1]))]
        if len(d) < 19:
            return False
    k = int(0.9 * (len(d) - 1))
    q90 = np.partition(d, k)[k]
    if q90 <= 0:
        return True
    return float(np.mean(d < 0.25 * q90)) >= BURST_SHARE


def identify(
    t_us: np.ndarray,
    ids: tuple[np.ndarray, list[str], str] | None,
    names: tuple[np.ndarray, list[str]] | None,
    path: str,
    power: np.ndarray | None = None,
) -> GpuIds:
    """Which GPU each line belongs to (the module's rules 1-3).

    A value that labels under :data:`RARE` of the lines the commonest one does (a damaged name or
    index, an empty field) is noise, not a GPU: in a one-GPU log its lines stay that GPU's; in a
    multi-GPU log they cannot be placed and are dropped (``GpuIds.odd``, counted).
    """
    for source, col in ((ids, ids[2] if ids else ""), (names, "name")):
        if source is None or len(source[1]) < 2:
            continue
        codes, labels = source[0], source[1]
        counts = np.bincount(codes[codes >= 0], minlength=len(labels))
        common = np.flatnonzero(counts >= RARE * counts.max())
        if len(common) == 1:
            break  # one GPU, a few damaged labels
        if col == "name" and counts[common].max() > 1.5 * counts[common].min() + 2:
            raise LayoutError(
                f"{path}: GPU names repeat unevenly ({dict(zip(labels, counts.tolist()))}) and the log "
                "has no index or pci.bus_id column to tell the GPUs apart"
            )
        order = _order_labels([labels[i] for i in common]) if col != "name" else list(range(len(common)))
        remap = np.full(len(labels) + 1, -1, dtype=np.int16)
        remap[common[order]] = np.arange(len(common))
        gid = remap[codes]  # code -1 (empty) maps to the last slot: -1
        odd = gid < 0
        return GpuIds(len(common), gid, [labels[common[i]] for i in order], col, odd if odd.any() else None)
    if bursty(t_us, power):
        raise LayoutError(
            f"{path}: the lines come in bursts, as a multi-GPU log's do, but nothing tells the GPUs "
            "apart (no index, pci.bus_id or differing names): log with --query-gpu=index,..."
        )
    return GpuIds()


def assign_readings(gid: np.ndarray, k: int, path: str) -> tuple[np.ndarray, int]:
    """Reading number of each line (file order), by the module's order rule, and the GPU that
    comes first in a reading."""
    first_seen = list(dict.fromkeys(gid.tolist()))
    best = None
    for order in (list(range(k)), first_seen):
        rank = np.empty(k, dtype=np.int16)
        rank[np.asarray(order)] = np.arange(k)
        r = rank[gid]
        start = np.empty(len(r), dtype=bool)
        start[0] = True
        np.less_equal(r[1:], r[:-1], out=start[1:])
        reading = np.cumsum(start) - 1
        if best is None or reading[-1] < best[0][-1]:
            best = (reading, int(order[0]))
    if best[0][-1] + 1 > 1.5 * np.ceil(len(gid) / k) + 2:
        raise LayoutError(
            f"{path}: cannot group the lines of {k} GPUs into readings "
            f"({best[0][-1] + 1} readings for {len(gid)} lines)"
        )
    return best


def _reading_times(t_us: np.ndarray, gid: np.ndarray, reading: np.ndarray, lead: int, n_read: int) -> np.ndarray:
    """Each reading's time: its leading GPU's line; where that line is missing, the leading GPU's
    times interpolated over the reading numbers (never another GPU's, later, line)."""
    sel = gid == lead
    r_lead, t_lead = reading[sel], t_us[sel]
    if len(r_lead) == n_read:
        return t_lead
    first = np.flatnonzero(np.r_[True, reading[1:] != reading[:-1]])
    if len(r_lead) < 2:
        return t_us[first]
    out = np.rint(np.interp(np.arange(n_read), r_lead, t_lead.astype(np.float64))).astype(np.int64)
    out[r_lead] = t_lead
    return out


def _fill_runs(present: np.ndarray) -> int:
    """Longest run of consecutive False in ``present``."""
    if present.all():
        return 0
    edges = np.diff(np.concatenate([[1], present.astype(np.int8), [1]]))
    return int((np.flatnonzero(edges == 1) - np.flatnonzero(edges == -1)).max())


def merge_readings(
    t_us: np.ndarray,
    lines: np.ndarray,
    cols: dict[str, np.ndarray],
    ids: GpuIds,
    readings: tuple[np.ndarray, int],
    path: str,
    max_fill: int,
):
    """One sample per reading: ``(t_us, lines, cols, n_filled)`` (see the module's merging rule)."""
    reading, lead = readings
    n_read = int(reading[-1]) + 1
    first = np.flatnonzero(np.r_[True, reading[1:] != reading[:-1]])
    t_r, lines_r = _reading_times(t_us, ids.gid, reading, lead, n_read), lines[first]
    floats = [c for c, v in cols.items() if v.dtype.kind == "f"]
    out = {c: np.zeros(n_read, dtype=np.float64 if c in SUMMED else cols[c].dtype) for c in floats}
    per_gpu, n_filled = {}, 0
    for g in range(ids.k):
        sel = np.flatnonzero(ids.gid == g)
        rg = reading[sel]
        present = np.zeros(n_read, dtype=bool)
        present[rg] = True
        run = _fill_runs(present)
        if run > max_fill:
            raise ImplausibleError(
                f"{path}: GPU {ids.labels[g]} has no line in {run} readings in a row (at most {max_fill} are filled)"
            )
        n_filled += int(n_read - present.sum())
        for c in floats:
            full = _at_readings(t_r, rg, cols[c][sel])
            if c == "power_w":
                per_gpu[f"power_w_gpu{g}"] = full
            out[c] += full.astype(out[c].dtype)
    for c in floats:
        if c not in SUMMED:
            out[c] = (out[c] / ids.k).astype(out[c].dtype)
    out.update(per_gpu)
    for c, v in cols.items():
        if v.dtype.kind != "f":
            out[c] = v[first]
    out["n_gpus"] = np.full(n_read, ids.k, dtype=np.int16)
    return t_r, lines_r, out, n_filled


def _at_readings(t_r: np.ndarray, rg: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One GPU's values at every reading time: its own where it has a finite one, else interpolated."""
    v = v.astype(np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        return np.full(len(t_r), np.nan)
    x, y = t_r[rg[ok]].astype(np.float64), v[ok]
    if len(x) > 1 and (np.diff(x) < 0).any():
        o = np.argsort(x, kind="stable")
        x, y = x[o], y[o]
    return np.interp(t_r.astype(np.float64), x, y)
