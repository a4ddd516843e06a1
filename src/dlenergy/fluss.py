"""Stabilizing epoch of a training run by FLUSS semantic segmentation (paper §4.3, RQ3.2, Figure 9).

The paper assumes that GPU power "becomes stable after an unknown number of epochs" and finds that
point with FLUSS (Gharghabi et al., ICDM 2017) on the power profile: :func:`stumpy.stump` then
:func:`stumpy.fluss` with subsequence length 10, 2 regimes and exclusion factor 3 (the replication
package's values, config ``estimators.fluss``), the regime change mapped to the epoch that contains it.

Per run (:func:`stabilizing_epoch`):

1. **Window.**  The GPU power samples inside the training window (first epoch start .. last epoch
   end; the idle lead before ``train_start`` is left out), missing values bridged linearly.
2. **Series.**  With ``points_per_epoch = k`` (default 30) every epoch is cut into ``k`` equal slices
   and each slice becomes its mean power (exact, from the cumulative trapezoid of
   :mod:`dlenergy.energy`): an *epoch-synchronous* series in which one epoch is always ``k`` points,
   whatever the sampling period (1 s) and the epoch duration (8 s .. minutes).  The subsequence
   length and the exclusion zone then mean the same thing for every run (m = 10 is a third of an
   epoch; the exclusion zone ``excl_factor * m`` one epoch), where on the raw samples they range from
   a fraction of an epoch to several epochs.  With ``transform = "epoch_diff"`` (default) the series
   is ``|x[i + k] - x[i]|``, the change of each point from one epoch to the next at the same phase of
   the epoch: near zero (noise) once training has become periodic, large while levels are still
   moving.  The stable regime starts where consecutive epochs stop differing.
3. **Matrix profile.**  :func:`stumpy.stump` (numba-parallel on the CPU; :func:`stumpy.gpu_stump`
   with ``use_gpu`` when numba sees a CUDA GPU), ``normalize=False`` by default: the regimes differ in
   amplitude, which z-normalization would remove.
4. **FLUSS.**  :func:`stumpy.fluss` on the matrix-profile *indices* with ``L = m``, ``n_regimes``,
   ``excl_factor``; the last regime change is the start of the stable regime.
5. **Epoch.**  FLUSS locates a change at the *start* index ``i`` of a subsequence; the subsequences
   that straddle the change are nearest neighbours of stable ones, so the arc-free point falls one
   subsequence before the change.  ``locate = "end"`` (default) takes ``i + m`` as the change,
   ``"center"`` ``i + m // 2``, ``"start"`` ``i`` (the replication package).  On the epoch-synchronous
   series the point's epoch is ``index // k``; on raw samples, the epoch that holds its time, epoch *i*
   holding ``(end_{i-1}, end_i]`` as in :mod:`dlenergy.energy`.

``points_per_epoch = None, transform = "none", normalize = True, locate = "start"`` is the
replication package's procedure (``stumpy.stump(power, 10)``, ``stumpy.fluss(I, 10, 2, 3)``, the
first epoch whose end is after the change sample).  Measured against ``ground_truth.csv`` of six
simulated samples (seeds 42 and 1-4, ~95 clean runs each, plus tiny), the share of runs recovered
within ±1 epoch is 0.46-0.55 for that procedure and 0.94-1.00 for the defaults (``tests/test_fluss.py``
checks >= 0.9 on the simulator).

FLUSS sets the corrected arc curve to 1 within ``excl_factor * m`` points of both ends, so a series
of fewer than ``(2 * excl_factor + 1) * m`` points cannot be segmented (status ``too_short``).  A
curve that never dips below 1 has no regime change (status ``no_change``: one regime, stable from
the first epoch).

Numba compilation of stumpy's kernels takes ~30 s per process.  :func:`enable_stumpy_cache` turns on
numba's on-disk cache for every stumpy ``njit`` function (what ``stumpy.cache.save`` does, without
its warnings and without recompiling), so only the first process ever compiles; the cache lives in
``$NUMBA_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/dlenergy/numba`` (``~/.cache/dlenergy/numba``).

The idealized arc curve (IAC) that FLUSS divides by is, in stumpy, a Monte-Carlo fit of a beta
distribution (~1 s per series length).  ``iac="stumpy"`` uses exactly that, memoized per length in
memory and on disk beside the numba cache (on the epoch-synchronous series the length depends only on
the number of epochs, so a handful of fits serve a whole data set); ``iac="parabola"`` uses its closed form for uniformly random arcs,
``2 i (n - i) / n`` (within ~3 % of stumpy's fit).
"""

from __future__ import annotations

import importlib
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: the replication package's FLUSS settings (targets.yaml: rq32_online.fluss)
REPLICATION = {
    "subsequence_length": 10,
    "n_regimes": 2,
    "excl_factor": 3,
    "points_per_epoch": None,
    "transform": "none",
    "normalize": True,
    "locate": "start",
}

#: statuses of runs with a stabilizing epoch
SEGMENTED = ("ok", "no_change")

STAB_COLUMNS = [
    "run_id",
    "environment",
    "gpu_model",
    "architecture",
    "dataset",
    "n_epochs",
    "first_epoch",
    "n_samples",
    "regime_index",
    "regime_time_s",
    "cac_min",
    "stabilizing_epoch",
    "status",
    "reason",
]


@dataclass
class FlussParams:
    subsequence_length: int = 10
    n_regimes: int = 2
    excl_factor: int = 3
    points_per_epoch: int | None = 30
    transform: str = "epoch_diff"
    normalize: bool = False
    locate: str = "end"
    use_gpu: bool = False
    iac: str = "stumpy"
    threads: int | None = None

    def __post_init__(self):
        if self.transform not in ("none", "epoch_diff"):
            raise ValueError(f"fluss.transform must be 'none' or 'epoch_diff', not {self.transform!r}")
        if self.transform == "epoch_diff" and not self.points_per_epoch:
            raise ValueError("fluss.transform 'epoch_diff' needs points_per_epoch")
        if self.locate not in ("start", "center", "end"):
            raise ValueError(f"fluss.locate must be 'start', 'center' or 'end', not {self.locate!r}")

    @property
    def offset(self) -> int:
        m = int(self.subsequence_length)
        return {"start": 0, "center": m // 2, "end": m}[self.locate]

    @classmethod
    def from_dict(cls, d: dict | None) -> FlussParams:
        d = {k: v for k, v in dict(d or {}).items() if k in cls.__dataclass_fields__}
        return cls(**d)

    @property
    def min_samples(self) -> int:
        """Shortest series FLUSS can segment: the CAC must have a point outside both exclusion zones."""
        return 2 * self.excl_factor * self.subsequence_length + self.subsequence_length


# ----------------------------------------------------------------------------- numba / stumpy set-up

_CACHE_ENABLED: Path | None = None


def numba_cache_dir() -> Path:
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlenergy" / "numba"


def numba_cache_is_warm(cache_dir: str | Path | None = None) -> bool:
    """True when the numba cache already holds compiled kernels (any numba index file ``*.nbi`` under it)."""
    path = Path(cache_dir) if cache_dir else numba_cache_dir()
    return path.is_dir() and any(path.rglob("*.nbi"))


def enable_stumpy_cache(cache_dir: str | Path | None = None) -> Path:
    """Cache stumpy's numba-compiled kernels on disk (idempotent; call before the first ``stump``).

    Later processes load the compiled code instead of spending ~30 s compiling it.
    """
    global _CACHE_ENABLED
    if _CACHE_ENABLED is not None:
        return _CACHE_ENABLED
    path = Path(cache_dir) if cache_dir else numba_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    import numba

    numba.config.CACHE_DIR = str(path)  # read by numba's cache locator when a cache is created
    from stumpy import cache

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module_name, func_name in cache.get_njit_funcs():
            func = getattr(importlib.import_module(f"stumpy.{module_name}"), func_name, None)
            if func is not None and hasattr(func, "enable_caching"):
                func.enable_caching()
    _CACHE_ENABLED = path
    return path


def warm_numba_cache(fluss: dict | None = None, cache_dir: str | Path | None = None) -> dict:
    """Run FLUSS once on a small series so stumpy's kernels are compiled into the disk cache.

    The first call on a machine compiles (about 25 s on a 2-core machine); later calls, and every FLUSS
    shard after it, load the compiled code in seconds.  Returns ``{"cache", "compiled", "seconds",
    "cache_files"}``; ``compiled`` is True when the call wrote new files into the cache.
    """
    path = enable_stumpy_cache(cache_dir)
    before = sum(1 for _ in path.rglob("*.nbc"))
    t0 = time.perf_counter()
    params = FlussParams.from_dict({**(fluss or {}), "threads": 1})
    x = np.sin(np.linspace(0, 20 * np.pi, 400)) + np.random.default_rng(0).normal(0, 0.1, 400)
    segment(x, params)
    after = sum(1 for _ in path.rglob("*.nbc"))
    return {
        "cache": str(path),
        "compiled": after > before,
        "seconds": round(time.perf_counter() - t0, 2),
        "cache_files": after,
    }


def gpu_available() -> bool:
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # pragma: no cover - depends on the machine
        return False


def set_threads(n: int | None) -> None:
    if n:
        import numba

        numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


# ----------------------------------------------------------------------------- segmentation


@lru_cache(maxsize=256)
def _stumpy_iac(width: int) -> np.ndarray:
    """stumpy's IAC (``stumpy.floss._iac(width)``, seed 0: deterministic), memoized in memory and on
    disk next to the numba cache, so each length is fitted once per machine and stumpy version."""
    import stumpy
    from stumpy.floss import _iac

    folder = numba_cache_dir() / "stumpy_iac" / str(getattr(stumpy, "__version__", "unknown"))
    path = folder / f"{int(width)}.npy"
    if path.is_file():
        try:
            arr = np.load(path)
            if arr.shape == (width,):
                return arr
        except (OSError, ValueError):
            pass
    arr = np.asarray(_iac(width, bidirectional=True), dtype=np.float64)
    try:
        from .io import _atomic

        folder.mkdir(parents=True, exist_ok=True)

        def w(tmp):
            with open(tmp, "wb") as fh:
                np.save(fh, arr)

        _atomic(path, w)
    except OSError:  # a read-only cache is only slower
        pass
    return arr


def idealized_arc_curve(width: int, kind: str = "stumpy") -> np.ndarray:
    if kind == "stumpy":
        return _stumpy_iac(int(width)).copy()
    if kind == "parabola":
        i = np.arange(width, dtype=np.float64)
        return 2.0 * i * (width - i) / width
    raise ValueError(f"iac must be 'stumpy' or 'parabola', not {kind!r}")


def matrix_profile_indices(series: np.ndarray, m: int, *, use_gpu: bool = False, normalize: bool = True) -> np.ndarray:
    """Nearest-neighbour indices of the matrix profile of ``series`` (stumpy, z-normalized)."""
    import stumpy

    enable_stumpy_cache()
    T = np.ascontiguousarray(series, dtype=np.float64)
    if use_gpu and gpu_available():
        mp = stumpy.gpu_stump(T, m, normalize=normalize)
    else:
        if use_gpu:
            log.warning("use_gpu: no CUDA GPU available to numba; using the parallel CPU stump")
        mp = stumpy.stump(T, m, normalize=normalize)
    return np.asarray(mp[:, 1], dtype=np.int64)


@dataclass
class Segmentation:
    regime_locs: np.ndarray  # sample indices of the regime changes, ascending
    cac: np.ndarray = field(repr=False)
    n_samples: int = 0

    @property
    def change(self) -> int:
        return int(self.regime_locs[-1])

    @property
    def cac_min(self) -> float:
        return float(self.cac[self.change])


def segment(series: np.ndarray, params: FlussParams | None = None) -> Segmentation:
    """FLUSS regime changes of ``series`` as it is (NaNs bridged linearly). ValueError when too short."""
    import stumpy

    p = params or FlussParams()
    y = np.asarray(series, dtype=np.float64)
    bad = ~np.isfinite(y)
    if len(y) == 0 or bad.all():
        raise ValueError("the series has no finite value")
    if bad.any():
        idx = np.arange(len(y))
        y = y.copy()
        y[bad] = np.interp(idx[bad], idx[~bad], y[~bad])
    m = int(p.subsequence_length)
    if len(y) < p.min_samples:
        raise ValueError(
            f"{len(y)} points; FLUSS with m={m} and excl_factor={p.excl_factor} needs at least {p.min_samples}"
        )
    I = matrix_profile_indices(y, m, use_gpu=p.use_gpu, normalize=p.normalize)
    iac = idealized_arc_curve(len(I), p.iac)
    cac, locs = stumpy.fluss(I, L=m, n_regimes=int(p.n_regimes), excl_factor=int(p.excl_factor), custom_iac=iac)
    return Segmentation(np.sort(np.asarray(locs, dtype=np.int64)), np.asarray(cac), len(y))


def _seconds(x) -> np.ndarray:
    return pd.to_datetime(pd.Series(x)).astype("datetime64[us]").astype("int64").to_numpy() / 1e6


def epoch_of_time(t: float, epoch_labels: np.ndarray, ends: np.ndarray) -> int:
    """Label of the epoch holding time ``t``: epoch i holds ``(end_{i-1}, end_i]``."""
    i = int(np.searchsorted(ends, t, side="left"))
    return int(epoch_labels[min(i, len(ends) - 1)])


def epoch_synchronous(t: np.ndarray, power: np.ndarray, starts: np.ndarray, ends: np.ndarray, k: int):
    """Mean power over ``k`` equal slices of every epoch (exact: from the cumulative trapezoid).

    Returns ``(x, grid)``: ``x[j]`` is the mean power over ``[grid[j], grid[j + 1]]``; point ``j`` lies in
    epoch position ``j // k``.
    """
    from .energy import cumtrapz

    grid = np.concatenate([np.linspace(a, b, k + 1)[:-1] for a, b in zip(starts, ends)] + [ends[-1:]])
    c = cumtrapz(t, power)
    cg = np.interp(grid, t, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.diff(cg) / np.diff(grid)
    return x, grid


def stabilizing_epoch(gpu: pd.DataFrame, run_epochs: pd.DataFrame, params: FlussParams | None = None) -> dict:
    """Stabilizing epoch of one run from its parsed GPU log and its rows of the epochs table.

    ``run_epochs`` needs ``epoch, start_time, end_time`` (as in ``clean/epochs.parquet``).  Returns a
    dict with ``n_samples`` (GPU samples in the window), ``regime_index`` (the change's index in the
    segmented series, after ``locate``), ``regime_time_s`` (seconds since the window start),
    ``cac_min, stabilizing_epoch, status`` (``ok``; ``no_change`` when the corrected arc curve never
    dips below 1, i.e. one regime, stable from the first epoch; ``too_short``; ``no_epochs``) and ``reason``.
    """
    p = params or FlussParams()
    out = {
        "n_samples": 0,
        "regime_index": np.nan,
        "regime_time_s": np.nan,
        "cac_min": np.nan,
        "stabilizing_epoch": np.nan,
        "status": "ok",
        "reason": "",
    }
    ep = run_epochs.sort_values("epoch")
    if ep.empty:
        out.update(status="no_epochs", reason="run has no epoch markers")
        return out
    labels = ep["epoch"].to_numpy(dtype=np.int64)
    starts, ends = _seconds(ep["start_time"]), _seconds(ep["end_time"])
    t = gpu["t"].to_numpy(dtype=np.float64)
    y = gpu["power_w"].to_numpy(dtype=np.float64)
    inside = (t >= starts[0]) & (t <= ends[-1])
    tw, yw = t[inside], y[inside]
    out["n_samples"] = int(len(tw))
    if len(tw) < 2 or not np.isfinite(yw).any():
        out.update(status="too_short", reason=f"{len(tw)} GPU samples in the training window")
        return out
    k = p.points_per_epoch
    if k:
        good = np.isfinite(yw)
        x, grid = epoch_synchronous(tw[good], yw[good], starts, ends, int(k))
        if p.transform == "epoch_diff":
            x = np.abs(x[k:] - x[:-k])
    else:
        x, grid = yw, tw
    try:
        seg = segment(x, p)
    except ValueError as exc:
        n_ep = len(labels)
        out.update(status="too_short", reason=f"{exc} ({n_ep} epochs, {len(tw)} GPU samples)")
        return out
    if seg.cac_min >= 1.0:
        # the corrected arc curve never dips below 1 (its clipped maximum): no regime change at all,
        # so the power profile is one regime from the first epoch on
        out.update(
            cac_min=1.0,
            stabilizing_epoch=int(labels[0]),
            status="no_change",
            reason="corrected arc curve has no minimum below 1: one regime, stable from the first epoch",
        )
        return out
    j = min(seg.change + p.offset, len(x) - 1)
    if k:
        epoch = int(labels[min(j // int(k), len(labels) - 1)])
        t_change = float(grid[j])
    else:
        t_change = float(tw[j])
        epoch = epoch_of_time(t_change, labels, ends)
    out.update(regime_index=j, regime_time_s=t_change - starts[0], cac_min=seg.cac_min, stabilizing_epoch=epoch)
    return out


def stabilizing_epochs(
    dataset: str | Path,
    runs: pd.DataFrame,
    epochs: pd.DataFrame,
    params: FlussParams | None = None,
    *,
    shard: int | None = None,
    n_shards: int = 1,
    ingest: dict | None = None,
) -> pd.DataFrame:
    """Stabilizing epoch of every run of ``runs`` (of one shard when ``shard`` is given).

    Reads each run's GPU log from ``dataset/runs/<run_id>/gpu.csv`` as ingest reads it (the
    ``ingest:`` block's plausibility thresholds, the board's TDP).  Returns :data:`STAB_COLUMNS`
    sorted by run id, one row per run (status ``no_gpu_log`` when the log is gone, ``unreadable_gpu_log``
    with the reason when it can no longer be read).
    """
    from .ingest import IngestConfig, board_tdp_w, shard_of
    from .layout import GPU_FILE, RUNS_DIR, LayoutError
    from .parsing import read_gpu_log

    plausibility = IngestConfig.from_dict(ingest).plausibility
    p = params or FlussParams()
    set_threads(p.threads)
    enable_stumpy_cache()
    sel = runs
    if shard is not None:
        sel = runs[runs["run_id"].map(lambda r: shard_of(str(r), n_shards) == shard).to_numpy(dtype=bool)]
    by_run = {rid: g for rid, g in epochs.groupby("run_id", sort=False)} if len(epochs) else {}
    rows = []
    t_all = time.perf_counter()
    for rec in sel.sort_values("run_id").to_dict("records"):
        rid = str(rec["run_id"])
        t0 = time.perf_counter()
        ep = by_run.get(rid, pd.DataFrame(columns=["epoch", "start_time", "end_time"]))
        base = {c: rec.get(c) for c in ("run_id", "environment", "gpu_model", "architecture", "dataset")}
        base["n_epochs"] = int(len(ep))
        base["first_epoch"] = int(ep["epoch"].min()) if len(ep) else np.nan
        path = Path(dataset) / RUNS_DIR / rid / GPU_FILE
        if not path.is_file():
            rows.append({**base, "n_samples": 0, "status": "no_gpu_log", "reason": f"{path} missing"})
            continue
        try:
            gpu, _ = read_gpu_log(path, config=plausibility, tdp_w=board_tdp_w(rec.get("gpu_model")))
        except LayoutError as e:  # changed since ingest, or other thresholds: this run's problem only
            rows.append({**base, "n_samples": 0, "status": "unreadable_gpu_log", "reason": str(e)[:200]})
            continue
        res = stabilizing_epoch(gpu, ep, p)
        rows.append({**base, **res})
        log.info(
            "fluss %s: %s epoch=%s samples=%d (%.3f s)",
            rid,
            res["status"],
            res["stabilizing_epoch"],
            res["n_samples"],
            time.perf_counter() - t0,
        )
    df = pd.DataFrame(rows, columns=STAB_COLUMNS)
    if len(sel):
        log.info(
            "fluss: %d runs in %.2f s (%.3f s per run)",
            len(sel),
            time.perf_counter() - t_all,
            (time.perf_counter() - t_all) / len(sel),
        )
    num = ["n_epochs", "first_epoch", "n_samples", "regime_index", "regime_time_s", "cac_min", "stabilizing_epoch"]
    return df.astype({c: "float64" for c in num}).astype({"n_epochs": "int64", "n_samples": "int64"})


# ----------------------------------------------------------------------------- Figure 9 summaries


def cumulative_stable(stab: pd.DataFrame, by: str = "environment", max_epoch: int | None = None) -> pd.DataFrame:
    """Share of runs stable by epoch n (stabilizing epoch <= n), per group and over all runs.

    Runs with status ``ok`` or ``no_change`` count.  Columns: ``group, epoch, n_runs, n_stable, share_stable``.
    """
    ok = stab[stab["status"].isin(SEGMENTED)].copy()
    cols = ["group", "epoch", "n_runs", "n_stable", "share_stable"]
    if ok.empty:
        return pd.DataFrame(columns=cols)
    lo = int(np.nanmin(ok["first_epoch"])) if ok["first_epoch"].notna().any() else 0
    hi = int(max_epoch) if max_epoch is not None else int(ok["stabilizing_epoch"].max())
    grid = np.arange(lo, hi + 1)
    parts = []
    groups = [("all", ok)] + ([(str(k), g) for k, g in ok.groupby(by, sort=True)] if by in ok else [])
    for name, g in groups:
        e = np.sort(g["stabilizing_epoch"].to_numpy(dtype=np.float64))
        n_stable = np.searchsorted(e, grid, side="right")
        parts.append(
            pd.DataFrame(
                {
                    "group": name,
                    "epoch": grid,
                    "n_runs": len(e),
                    "n_stable": n_stable,
                    "share_stable": n_stable / len(e),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[cols]


def epoch_for_share(stab: pd.DataFrame, share: float = 0.9, by: str = "environment") -> pd.DataFrame:
    """Per group (and ``all``): the first epoch n by which at least ``share`` of the runs are stable."""
    ok = stab[stab["status"].isin(SEGMENTED)]
    rows = []
    groups = [("all", ok)] + ([(str(k), g) for k, g in ok.groupby(by, sort=True)] if by in ok else [])
    n_skipped = int((~stab["status"].isin(SEGMENTED)).sum())
    for name, g in groups:
        e = g["stabilizing_epoch"].to_numpy(dtype=np.float64)
        if len(e) == 0:
            continue
        rows.append(
            {
                "group": name,
                "n_runs": len(e),
                "epoch_for_share": int(np.ceil(np.quantile(e, share, method="inverted_cdf"))),
                "share": share,
                "median_epoch": float(np.median(e)),
                "max_epoch": int(e.max()),
                "n_not_segmented": n_skipped if name == "all" else np.nan,
            }
        )
    return pd.DataFrame(
        rows, columns=["group", "n_runs", "epoch_for_share", "share", "median_epoch", "max_epoch", "n_not_segmented"]
    )
