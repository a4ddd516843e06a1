"""Seeded bootstrap confidence intervals for the statistics of RQ1, RQ2 and the trade-offs.

Every interval is a ``scipy.stats.bootstrap`` interval (BCa by default, 95 %, 9999 resamples; config
``stats.bootstrap``) drawn with a fresh ``numpy.random.default_rng(seed)`` per interval, so that one
interval never depends on which other intervals a table computes, and a rerun with the same seed
gives identical tables.  The statistics are vectorized (``vectorized=True``, resamples along the
last axis); the rank statistics (ρ, δ) run on integer codes of the values and count instead of
sorting each resample, so 9999 resamples cost milliseconds per interval.

* :func:`median_ci` -- the median of one sample (Figure 2, the trade-off table);
* :func:`reduction_ci` -- ``1 - median(to) / median(from)`` of two independent samples, each
  resampled on its own (``paired=False``): energy reductions and relative F1 decreases;
* :func:`spearman_ci` -- Spearman's ρ, resampling (x, y) pairs (``paired=True``);
* :func:`cliffs_delta_ci` -- Cliff's δ = P(a > b) − P(a < b) of two independent samples.

Degenerate cases never raise: too few values give a NaN interval; a bootstrap distribution with a
single value (e.g. Cliff's δ = −1 when the groups do not overlap) gives the interval [θ, θ]; where
BCa is undefined but the distribution is not degenerate, the percentile interval is reported.  The
:class:`Interval` says which (``method``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import stats as ss

METHODS = ("BCa", "percentile", "basic")


@dataclass(frozen=True)
class BootstrapConfig:
    """The ``stats.bootstrap`` section of config.yaml plus the master ``seed``.

    ``n_resamples = 0`` switches the intervals off (every interval is NaN, method ``off``).

    Examples
    --------
    >>> from dlenergy.uncertainty import BootstrapConfig
    >>> BootstrapConfig.from_dict({"n_resamples": 999}, seed=7)
    BootstrapConfig(n_resamples=999, confidence=0.95, method='BCa', seed=7)
    """

    n_resamples: int = 9999
    confidence: float = 0.95
    method: str = "BCa"
    seed: int = 42

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"stats.bootstrap.method: {self.method!r} is not one of {', '.join(METHODS)}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"stats.bootstrap.confidence: {self.confidence} is not in (0, 1)")
        if self.n_resamples < 0:
            raise ValueError(f"stats.bootstrap.n_resamples: {self.n_resamples} is negative")

    @classmethod
    def from_dict(cls, d: dict | None, seed: int = 42) -> BootstrapConfig:
        d = dict(d or {})
        unknown = set(d) - {"n_resamples", "confidence", "method"}
        if unknown:
            raise ValueError(f"stats.bootstrap: unknown key(s) {sorted(unknown)}")
        return cls(seed=int(seed), **d)

    @property
    def enabled(self) -> bool:
        return self.n_resamples > 0

    def describe(self) -> str:
        """One line for table notes: ``95 % BCa bootstrap CI (9999 resamples, seed 42)``."""
        return (
            f"{self.confidence * 100:g} % {self.method} bootstrap CI ({self.n_resamples} resamples, seed {self.seed})"
        )


@dataclass(frozen=True)
class Interval:
    """A confidence interval and how it was obtained (``BCa``, ``percentile``, ``degenerate``, ``n/a``, ``off``)."""

    low: float
    high: float
    method: str
    note: str = ""

    def contains(self, value: float) -> bool:
        return bool(self.low <= value <= self.high)


def _nan(method: str, note: str) -> Interval:
    return Interval(np.nan, np.nan, method, note)


# ----------------------------------------------------------------------------------------------
# vectorized statistics (resamples along ``axis``)


def median_stat(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(x, axis=axis)


def reduction_stat(x_from: np.ndarray, x_to: np.ndarray, axis: int = -1) -> np.ndarray:
    """``1 - median(x_to) / median(x_from)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - np.median(x_to, axis=axis) / np.median(x_from, axis=axis)


def codes(*samples) -> tuple[list[np.ndarray], int]:
    """Each value's position among the distinct values of all ``samples`` (0 .. m − 1), and m.

    Rank statistics only need the order of the values, so they are computed on these integer codes
    by counting (:func:`midranks`) instead of sorting every resample.
    """
    values, inverse = np.unique(np.concatenate([np.asarray(s, dtype="float64") for s in samples]), return_inverse=True)
    cuts = np.cumsum([len(s) for s in samples])[:-1]
    return [c.astype("float64") for c in np.split(inverse, cuts)], len(values)


def code_counts(c: np.ndarray, m: int) -> np.ndarray:
    """Occurrences of each code 0 .. m − 1 along the last axis of ``c``: shape ``c.shape[:-1] + (m,)``."""
    c = np.asarray(c).astype(np.intp)
    lead, n = c.shape[:-1], c.shape[-1]
    rows = int(np.prod(lead, dtype=np.intp))
    flat = (c.reshape(rows, n) + (np.arange(rows, dtype=np.intp) * m)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * m).reshape(lead + (m,))


def midranks(c: np.ndarray, m: int) -> np.ndarray:
    """Mid-ranks (ties averaged, as ``scipy.stats.rankdata``) of codes along the last axis."""
    counts = code_counts(c, m)
    mid = np.cumsum(counts, axis=-1) - (counts - 1) / 2.0
    return np.take_along_axis(mid, np.asarray(c).astype(np.intp), axis=-1)


def spearman_codes(cx: np.ndarray, cy: np.ndarray, axis: int = -1, *, m: tuple[int, int]) -> np.ndarray:
    """Spearman's ρ of coded samples (:func:`codes`): Pearson's r of the mid-ranks (NaN if constant)."""
    rx = midranks(np.moveaxis(cx, axis, -1), m[0])
    ry = midranks(np.moveaxis(cy, axis, -1), m[1])
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rx * ry).sum(axis=-1) / np.sqrt((rx**2).sum(axis=-1) * (ry**2).sum(axis=-1))


def cliffs_delta_codes(ca: np.ndarray, cb: np.ndarray, axis: int = -1, *, m: int) -> np.ndarray:
    """Cliff's δ = P(a > b) − P(a < b) of samples coded together (:func:`codes`), by counting:
    δ = Σ_v n_a(v) · (#b < v − #b > v) / (n_a n_b)."""
    ka = code_counts(np.moveaxis(ca, axis, -1), m)
    kb = code_counts(np.moveaxis(cb, axis, -1), m)
    na, nb = ka.sum(axis=-1), kb.sum(axis=-1)
    below = np.cumsum(kb, axis=-1) - kb
    above = nb[..., None] - np.cumsum(kb, axis=-1)
    return (ka * (below - above)).sum(axis=-1) / (na * nb)


# ----------------------------------------------------------------------------------------------
# the interval


def _clean(x) -> np.ndarray:
    x = np.asarray(x, dtype="float64").ravel()
    return x[np.isfinite(x)]


def bootstrap_ci(
    samples: tuple[np.ndarray, ...], statistic: Callable, cfg: BootstrapConfig, *, paired: bool = False, min_n: int = 2
) -> Interval:
    """Bootstrap CI of ``statistic(*samples, axis=-1)`` with ``scipy.stats.bootstrap``.

    Parameters
    ----------
    samples : tuple of 1-D arrays
        Finite values only (paired samples: equal length, aligned).
    statistic : callable
        Vectorized: ``statistic(*arrays, axis=-1)`` reduces the last axis.
    cfg : BootstrapConfig
        Resamples, confidence level, method and seed (``numpy.random.default_rng(cfg.seed)``).
    paired : bool
        Resample the observations of all samples together (correlations).
    min_n : int
        Fewest values per sample; fewer give a NaN interval (method ``n/a``).

    Returns
    -------
    Interval

    Examples
    --------
    >>> import numpy as np
    >>> from dlenergy.uncertainty import BootstrapConfig, bootstrap_ci, median_stat
    >>> x = np.arange(1.0, 31.0)
    >>> ci = bootstrap_ci((x,), median_stat, BootstrapConfig(n_resamples=999, seed=1))
    >>> ci.method, ci.contains(15.5)
    ('BCa', True)
    """
    if not cfg.enabled:
        return _nan("off", "bootstrap switched off (stats.bootstrap.n_resamples = 0)")
    small = [len(s) for s in samples if len(s) < min_n]
    if small:
        return _nan("n/a", f"n={min(small)} < {min_n}: too few values for a bootstrap CI")
    theta = float(statistic(*samples, axis=-1))
    if not np.isfinite(theta):
        return _nan("n/a", "the statistic is undefined on the data")
    kw = dict(
        n_resamples=cfg.n_resamples,
        vectorized=True,
        axis=-1,
        paired=paired,
        confidence_level=cfg.confidence,
        rng=np.random.default_rng(cfg.seed),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ss.bootstrap(samples, statistic, method=cfg.method, **kw)
        dist = res.bootstrap_distribution
        if np.all(np.isfinite(dist)) and np.ptp(dist) == 0:
            return Interval(theta, theta, "degenerate", "every bootstrap resample gives the same value")
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(lo) and np.isfinite(hi):
            return Interval(lo, hi, cfg.method)
        if cfg.method != "percentile" and np.isfinite(dist).all():
            p = ss.bootstrap(samples, statistic, method="percentile", bootstrap_result=res, **{**kw, "n_resamples": 0})
            return Interval(
                float(p.confidence_interval.low),
                float(p.confidence_interval.high),
                "percentile",
                f"{cfg.method} undefined on these data: percentile interval",
            )
    return _nan("n/a", "the bootstrap distribution has undefined values (constant resamples)")


def median_ci(x, cfg: BootstrapConfig, *, min_n: int = 2) -> Interval:
    """CI of the median of ``x`` (non-finite values dropped).

    Examples
    --------
    >>> import numpy as np
    >>> from dlenergy.uncertainty import BootstrapConfig, median_ci
    >>> x = np.random.default_rng(0).lognormal(0, 0.2, 40)
    >>> ci = median_ci(x, BootstrapConfig(n_resamples=999))
    >>> bool(ci.low < np.median(x) < ci.high)
    True
    """
    return bootstrap_ci((_clean(x),), median_stat, cfg, min_n=min_n)


def reduction_ci(x_from, x_to, cfg: BootstrapConfig, *, min_n: int = 2) -> Interval:
    """CI of ``1 - median(x_to) / median(x_from)``, the two samples resampled independently.

    Examples
    --------
    >>> import numpy as np
    >>> from dlenergy.uncertainty import BootstrapConfig, reduction_ci
    >>> rng = np.random.default_rng(0)
    >>> ci = reduction_ci(rng.normal(10, 1, 30), rng.normal(6, 1, 30), BootstrapConfig(n_resamples=999))
    >>> 0.3 < ci.low < ci.high < 0.5
    True
    """
    return bootstrap_ci((_clean(x_from), _clean(x_to)), reduction_stat, cfg, min_n=min_n)


def spearman_ci(x, y, cfg: BootstrapConfig, *, min_n: int = 3) -> Interval:
    """CI of Spearman's ρ, resampling (x, y) pairs (rows with a non-finite value dropped).

    Examples
    --------
    >>> import numpy as np
    >>> from dlenergy.uncertainty import BootstrapConfig, spearman_ci
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=50)
    >>> ci = spearman_ci(x, x + rng.normal(scale=0.5, size=50), BootstrapConfig(n_resamples=999))
    >>> 0.6 < ci.low < ci.high <= 1
    True
    """
    x = np.asarray(x, dtype="float64").ravel()
    y = np.asarray(y, dtype="float64").ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    (cx,), mx = codes(x[ok])
    (cy,), my = codes(y[ok])
    return bootstrap_ci((cx, cy), partial(spearman_codes, m=(mx, my)), cfg, paired=True, min_n=min_n)


def cliffs_delta_ci(a, b, cfg: BootstrapConfig, *, min_n: int = 2) -> Interval:
    """CI of Cliff's δ of two independent samples, each resampled on its own.

    Examples
    --------
    >>> from dlenergy.uncertainty import BootstrapConfig, cliffs_delta_ci
    >>> cliffs_delta_ci([1, 2, 3], [4, 5, 6], BootstrapConfig(n_resamples=99))
    Interval(low=-1.0, high=-1.0, method='degenerate', note='every bootstrap resample gives the same value')
    """
    (ca, cb), m = codes(_clean(a), _clean(b))
    return bootstrap_ci((ca, cb), partial(cliffs_delta_codes, m=m), cfg, min_n=min_n)
