"""One log's samples in time order: clock steps refused, lines out of order re-sorted, duplicates merged.

The rules (docs/layout.md, "Plausibility"):

* A timestamp that steps back by more than ``max_clock_backstep_s`` against the line before it (in
  file order, per GPU) is a clock change (daylight saving, NTP, a second logger): the run is refused
  with the file and line, never silently sorted.  Smaller steps back are lines written out of order:
  they are sorted back (stable) and counted.
* Samples with the same timestamp are merged into one and counted: the mean of their finite values
  when their main value (power, memory) agrees within 1 % (a line written twice); when it does not
  (two loggers, a damaged copy), nobody can tell which is right: that instant's value is dropped
  (NaN, bridged by its neighbours like any missing sample) and the samples counted as conflicting.
"""

from __future__ import annotations

import numpy as np

from .plausibility import ImplausibleError


def check_clock(t_us: np.ndarray, lines: np.ndarray, path: str, max_backstep_s: float) -> int:
    """Number of steps back in ``t_us`` (file order); :class:`ImplausibleError` on one too large."""
    if len(t_us) < 2:
        return 0
    d = np.diff(t_us)
    back = np.flatnonzero(d < 0)
    if not len(back):
        return 0
    worst = back[np.argmin(d[back])]
    if -d[worst] > max_backstep_s * 1e6:
        step = -d[worst] / 1e6
        raise ImplausibleError(
            f"{path}:{lines[worst + 1]}: the clock steps back by {step:.3f} s "
            f"(from {np.datetime64(int(t_us[worst]), 'us')} to {np.datetime64(int(t_us[worst + 1]), 'us')}); "
            f"more than {max_backstep_s:g} s is a clock change, not lines out of order"
        )
    return int(len(back))


def sort_and_merge(t_us: np.ndarray, cols: dict[str, np.ndarray], lines: np.ndarray, key: str | None = None):
    """Sort by time (stable) and merge samples with equal timestamps (the module's rule; ``key`` is
    the column whose disagreement makes duplicates conflicting).

    Returns ``(t_us, cols, lines, n_merged, n_conflicting)``: samples merged away, and samples in
    instants whose ``key`` values disagree.

    Examples
    --------
    >>> t = np.array([0, 1_000_000, 1_000_000, 2_000_000, 2_000_000])
    >>> p = np.array([10.0, 20.0, 20.1, 10.0, 99.0])
    >>> t2, c, ln, n, bad = sort_and_merge(t, {"power_w": p}, np.arange(2, 7), key="power_w")
    >>> t2.tolist(), c["power_w"].tolist(), ln.tolist(), n, bad
    ([0, 1000000, 2000000], [10.0, 20.05, nan], [2, 3, 5], 2, 2)
    """
    if len(t_us) > 1 and (np.diff(t_us) < 0).any():
        order = np.argsort(t_us, kind="stable")
        t_us, lines = t_us[order], lines[order]
        cols = {k: v[order] for k, v in cols.items()}
    if len(t_us) < 2:
        return t_us, cols, lines, 0, 0
    first = np.empty(len(t_us), dtype=bool)
    first[0] = True
    np.not_equal(t_us[1:], t_us[:-1], out=first[1:])
    if first.all():
        return t_us, cols, lines, 0, 0
    starts = np.flatnonzero(first)
    size = np.diff(np.append(starts, len(t_us)))
    out, n_conflicting = {}, 0
    for k, v in cols.items():
        if v.dtype.kind != "f":
            out[k] = v[starts]
            continue
        ok = np.isfinite(v)
        s = np.add.reduceat(np.where(ok, v, 0).astype("float64"), starts)
        n = np.add.reduceat(ok.astype(np.int64), starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, s / np.maximum(n, 1), np.nan)
        if k == key:
            hi = np.maximum.reduceat(np.where(ok, v, -np.inf), starts)
            lo = np.minimum.reduceat(np.where(ok, v, np.inf), starts)
            bad = (n > 1) & (hi - lo > 0.01 * np.maximum(np.abs(hi), 1.0))
            mean[bad] = np.nan
            n_conflicting = int(size[bad].sum())
        out[k] = mean.astype(v.dtype)
    return t_us[starts], out, lines[starts], int(len(t_us) - len(starts)), n_conflicting


def max_gap(t_us: np.ndarray, lines: np.ndarray, lo_us: float, hi_us: float) -> tuple[float, int | None]:
    """The longest gap (s) between consecutive samples that overlaps ``[lo_us, hi_us]``, and the file
    line of the sample after it."""
    if len(t_us) < 2:
        return 0.0, None
    d = np.diff(t_us)
    overlap = (t_us[1:] >= lo_us) & (t_us[:-1] <= hi_us)
    if not overlap.any():
        return 0.0, None
    i = int(np.argmax(np.where(overlap, d, -1)))
    return float(d[i]) / 1e6, int(lines[i + 1])
