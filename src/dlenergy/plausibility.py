"""Physical plausibility of one run's logs and ``runs.csv`` row, with the thresholds in config.

Each check is documented in docs/layout.md ("Plausibility"); its counts go to ``runs.parquet`` and,
when it refuses a run, its reason to the ingest ledger.  The thresholds are the ``ingest:
plausibility:`` block of ``config.yaml`` (:class:`Plausibility`, defaults below):

* ``power_margin`` (1.2): a power sample above ``margin x`` the board's limit (``power.limit`` from
  the log, else the GPU table's TDP, :mod:`dlenergy.gpu_specs`) is dropped and counted.
* ``max_power_w`` (2000): a sample above this, per GPU, is dropped whatever the limit says.
* ``min_peak_power_share`` (0.01): a GPU whose highest sample is below this share of its limit (or
  below ``min_peak_power_w``, 1 W, when no limit is known) is refused: a unit error (``[mW]`` on
  values in W), not a GPU that drew nothing.
* ``max_dropped_share`` (0.05): a run whose implausible power samples (unparsable, non-finite, above
  the limit, duplicates that disagree) exceed this share of its samples is excluded with the reason.
  Missing samples (``[N/A]``) are bridged by their neighbours like cut lines, and counted.
* ``max_clock_backstep_s`` (2): a timestamp that steps back by more than this is a clock change, and
  the run is excluded; smaller steps back are lines out of order, re-sorted and counted.
* ``max_gap_s`` (300): a gap between two GPU samples inside the training window longer than this (a
  logger paused, a clock jumping forward) excludes the run; power is never bridged over it.
* ``window_tolerance_s`` (5): how far ``train_start`` may precede the GPU log's first sample, and an
  epoch end follow its last sample, before the run is excluded (at least two sampling periods: a
  logger stopped with the training writes its last sample up to a period before the end).  The
  integral never reaches past the samples, so a window that does would understate the energy and
  the mean power.
* ``max_fill_readings`` (5): in a multi-GPU log, a GPU's missing line is filled from that GPU's
  neighbouring readings when at most this many of its readings in a row are missing.
* ``images_ratio`` (10): ``images_seen`` must be within ``[1/r, r] x epochs x training_size``
  (when the epochs are known).

Negative power, negative memory, unknown units and implausible sizes always refuse the run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from . import RAM_W_PER_MB
from .layout import LayoutError


class ImplausibleError(LayoutError):
    """A log or row that parses but cannot be physically right; the message names file and line."""


@dataclass(frozen=True)
class Plausibility:
    """Thresholds of the plausibility checks (``ingest: plausibility:`` in config.yaml)."""

    power_margin: float = 1.2
    max_power_w: float = 2000.0
    min_peak_power_share: float = 0.01
    min_peak_power_w: float = 1.0
    max_dropped_share: float = 0.05
    max_clock_backstep_s: float = 2.0
    max_gap_s: float = 300.0
    window_tolerance_s: float = 5.0
    max_fill_readings: int = 5
    images_ratio: float = 10.0

    def __post_init__(self):
        checks = {
            "power_margin": self.power_margin >= 1.0,
            "max_power_w": self.max_power_w > 0,
            "min_peak_power_share": 0.0 <= self.min_peak_power_share < 1.0,
            "min_peak_power_w": self.min_peak_power_w >= 0,
            "max_dropped_share": 0.0 <= self.max_dropped_share <= 1.0,
            "max_clock_backstep_s": self.max_clock_backstep_s >= 0,
            "max_gap_s": self.max_gap_s > 0,
            "window_tolerance_s": self.window_tolerance_s >= 0,
            "max_fill_readings": self.max_fill_readings >= 0,
            "images_ratio": self.images_ratio >= 1.0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"ingest.plausibility: out of range: {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}"
            )


@dataclass(frozen=True)
class IngestConfig:
    """The ``ingest:`` block of config.yaml.

    Examples
    --------
    >>> cfg = IngestConfig.from_dict({"n_shards": 8, "plausibility": {"power_margin": 1.5}})
    >>> cfg.n_shards, cfg.plausibility.power_margin, cfg.plausibility.window_tolerance_s
    (8, 1.5, 5.0)
    """

    n_shards: int = 4
    ram_w_per_mb: float = RAM_W_PER_MB
    allow_external_links: bool = False
    plausibility: Plausibility = field(default_factory=Plausibility)

    @classmethod
    def from_dict(cls, d: dict | None) -> IngestConfig:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"ingest: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        p = dict(d.pop("plausibility", None) or {})
        pknown = {f.name for f in fields(Plausibility)}
        if set(p) - pknown:
            raise ValueError(
                f"ingest.plausibility: unknown key(s) {', '.join(sorted(set(p) - pknown))}; "
                f"known: {', '.join(sorted(pknown))}"
            )
        return cls(**d, plausibility=Plausibility(**p))

    def as_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- power samples


@dataclass
class PowerScreen:
    """What :func:`screen_power` did to one log's power samples."""

    n_samples: int = 0
    n_missing: int = 0  # [N/A], [Not Supported], empty: bridged by the neighbours, as a cut line is
    n_unparsed: int = 0  # text that is no number in any unit dlenergy knows
    n_nonfinite: int = 0
    n_above_cap: int = 0
    n_conflicting: int = 0  # samples at one instant whose power disagrees (all dropped)
    cap_w: float = np.nan  # per GPU (the largest when GPUs differ)
    cap_source: str = "none"

    @property
    def n_dropped(self) -> int:
        return self.n_missing + self.n_implausible

    @property
    def n_implausible(self) -> int:
        """Samples that were there but cannot be right: what ``max_dropped_share`` bounds."""
        return self.n_unparsed + self.n_nonfinite + self.n_above_cap + self.n_conflicting


def power_cap(limit_w: np.ndarray | None, tdp_w: float | None, cfg: Plausibility) -> tuple[float, str]:
    """The largest plausible power sample of one GPU (W) and where its limit comes from.

    Examples
    --------
    >>> cfg = Plausibility()
    >>> power_cap(np.array([250.0, 250.0]), 350.0, cfg), power_cap(None, 350.0, cfg), power_cap(None, None, cfg)
    ((300.0, 'log'), (420.0, 'spec'), (2000.0, 'max_power_w'))
    """
    if limit_w is not None and len(limit_w):
        ok = limit_w[np.isfinite(limit_w) & (limit_w > 0)]
        if len(ok):
            return min(float(np.median(ok)) * cfg.power_margin, cfg.max_power_w), "log"
    if tdp_w is not None and np.isfinite(tdp_w) and tdp_w > 0:
        return min(float(tdp_w) * cfg.power_margin, cfg.max_power_w), "spec"
    return cfg.max_power_w, "max_power_w"


def screen_power(power: np.ndarray, caps: np.ndarray, lines: np.ndarray, path: str, n_unparsed: int = 0) -> PowerScreen:
    """Refuse negative power; set non-finite and above-cap samples to NaN (in place) and count them.

    ``caps`` is each sample's cap (its GPU's).  Raises :class:`ImplausibleError` on a negative
    sample; the share of dropped samples is checked later (:func:`check_dropped_share`), once
    duplicates are resolved.
    """
    rep = PowerScreen(n_samples=len(power))
    neg = np.flatnonzero(power < 0)
    if len(neg):
        i = neg[0]
        raise ImplausibleError(
            f"{path}:{lines[i]}: negative power draw {power[i]:g} W "
            f"({len(neg)} negative sample(s)): power is never negative"
        )
    nonfinite = np.isinf(power)
    above = np.isfinite(power) & (power > caps)
    rep.n_unparsed = n_unparsed
    rep.n_missing = int(np.isnan(power).sum()) - n_unparsed
    rep.n_nonfinite, rep.n_above_cap = int(nonfinite.sum()), int(above.sum())
    if len(caps):
        rep.cap_w = float(np.max(caps))
    power[nonfinite | above] = np.nan
    return rep


def check_peak(power: np.ndarray, limit_w: float | None, path: str, gpu: str, cfg: Plausibility) -> None:
    """Refuse a GPU whose highest power sample is implausibly low for its board (a unit error)."""
    ok = power[np.isfinite(power)]
    if not len(ok):
        return
    floor = cfg.min_peak_power_share * limit_w if limit_w else cfg.min_peak_power_w
    peak = float(ok.max())
    if peak < floor:
        raise ImplausibleError(
            f"{path}: the highest power sample{gpu} is {peak:g} W, below {floor:g} W "
            f"({'a share of its limit' if limit_w else 'the minimum'}): power in the wrong unit?"
        )


def check_dropped_share(rep: PowerScreen, n_samples: int, path: str, cfg: Plausibility) -> None:
    """Refuse a log whose implausible power samples exceed ``max_dropped_share`` of its samples
    (missing ones, ``[N/A]``, are bridged like cut lines; long stretches of them meet ``max_gap_s``)."""
    share = rep.n_implausible / max(n_samples, 1)
    if share > cfg.max_dropped_share:
        raise ImplausibleError(
            f"{path}: {rep.n_implausible} of {n_samples} power samples dropped ({share:.1%} > "
            f"{cfg.max_dropped_share:.0%}): {rep.n_unparsed} unreadable, {rep.n_nonfinite} non-finite, "
            f"{rep.n_above_cap} above {rep.cap_w:g} W, {rep.n_conflicting} conflicting duplicates"
        )


def refuse_negative(values: np.ndarray, lines: np.ndarray, path: str, what: str) -> None:
    neg = np.flatnonzero(values < 0)
    if len(neg):
        i = neg[0]
        raise ImplausibleError(f"{path}:{lines[i]}: negative {what} {values[i]:g} ({len(neg)} negative value(s))")


# ----------------------------------------------------------------------------- runs.csv row

#: columns that must be positive when given
POSITIVE = ("batch_size", "training_size", "total_ram_gb", "gflops")
#: columns that may be 0: no validation set; ``image_size`` 0 for a model whose input is not an image
NON_NEGATIVE = ("validation_size", "image_size")


def check_row(rec: dict, epochs_measured: int | None, cfg: Plausibility) -> str | None:
    """The reason a ``runs.csv`` row is implausible, or None (sizes, ``images_seen``).

    Examples
    --------
    >>> row = {"batch_size": 32, "training_size": 1000, "images_seen": 20000}
    >>> check_row(row, 20, Plausibility()) is None
    True
    >>> check_row({**row, "images_seen": 1e-300}, 20, Plausibility())
    'images_seen = 1e-300 is not a count of images (>= 1)'
    """

    def val(k):
        v = rec.get(k)
        try:
            return float(v) if v is not None and not (isinstance(v, float) and np.isnan(v)) else None
        except (TypeError, ValueError):
            return None

    for k in POSITIVE:
        v = val(k)
        if v is not None and not (np.isfinite(v) and v > 0):
            return f"{k} = {v:g} is not a positive number"
    for k in NON_NEGATIVE:
        v = val(k)
        if v is not None and not (np.isfinite(v) and v >= 0):
            return f"{k} = {v:g} is negative"
    images = val("images_seen")
    if images is None:
        return None
    if not (np.isfinite(images) and images >= 1):
        return f"images_seen = {images:g} is not a count of images (>= 1)"
    n_ep = epochs_measured or val("epochs_trained")
    size = val("training_size")
    if n_ep and size:
        ratio = images / (n_ep * size)
        if not (1.0 / cfg.images_ratio <= ratio <= cfg.images_ratio):
            return (
                f"images_seen = {images:g} is {ratio:.3g} x epochs ({n_ep:g}) x training_size ({size:g}); "
                f"plausible: within {cfg.images_ratio:g}x"
            )
    return None
