"""Energy of one training run from its parsed logs, vectorized over samples.

Training window: ``[train_start`` (or the first GPU sample) ``, last epoch end`` (or the last GPU
sample) ``]``.  GPU energy is the trapezoidal integral of ``power.draw`` over the samples inside the
window; RAM energy is the same over ``memory usage (MB) x 3.75e-4 W/MB`` from the psutil log.

Per-epoch energy follows the paper's replication package: a sample belongs to epoch *i* when its
time is in ``(end_{i-1}, end_i]``, and the last sample of each epoch is also the first sample of the
next, so the sample at a boundary counts for both neighbours and the epochs add up exactly to the
run's energy.  With a cumulative trapezoid ``C`` this is ``C[last sample <= end_i] - C[last sample
<= end_{i-1}]``: no loop over samples.

Where the GPU log carries the board's own cumulative energy counter (NVML's
``nvmlDeviceGetTotalEnergyConsumption``, written by ``dlenergy measure`` as
``total_energy_consumption [mJ]``), the same window and epochs are also read off the counter
(``gpu_counter_energy_j``): the counter interpolated linearly at the window's and epochs' bounds.
Training code may instead log the counter at each epoch end (an ``epochs.csv`` column named in
:data:`EPOCH_COUNTER_COLUMNS`, as the H100 fixture's ``nvml_energy_mJ``): then epochs 1..N-1 get a
counter energy (the difference of consecutive readings; epoch 0 has no reading at its start) and the
run-level value stays NaN.  Either way it is an independent check of the integrated power, not an
input of any analysis (:func:`counter_check`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import RAM_W_PER_MB


def cumtrapz(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cumulative trapezoid with C[0] = 0; NaN values in ``y`` are bridged linearly by their neighbours."""
    y = np.asarray(y, dtype="float64")
    t = np.asarray(t, dtype="float64")
    if len(t) == 0:
        return np.zeros(0)
    bad = ~np.isfinite(y)
    if bad.any():
        good = ~bad
        if not good.any():
            return np.full(len(t), np.nan)
        y = y.copy()
        y[bad] = np.interp(t[bad], t[good], y[good])
    c = np.empty(len(t))
    c[0] = 0.0
    np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(t), out=c[1:])
    return c


def window_bounds(gpu_t: np.ndarray, train_start: float | None, epoch_ends: np.ndarray) -> tuple[float, float]:
    start = float(train_start) if train_start is not None and np.isfinite(train_start) else float(gpu_t[0])
    end = float(epoch_ends[-1]) if len(epoch_ends) else float(gpu_t[-1])
    return start, end


def _segment_energy(t: np.ndarray, y: np.ndarray, start: float, bounds: np.ndarray) -> tuple[float, np.ndarray]:
    """Energy over the samples in [start, bounds[-1]] and per segment ending at each bound."""
    lo = np.searchsorted(t, start, side="left")
    hi = np.searchsorted(t, bounds[-1], side="right") if len(bounds) else len(t)
    tw, yw = t[lo:hi], y[lo:hi]
    if len(tw) < 2:
        return np.nan, np.full(len(bounds), np.nan)
    c = cumtrapz(tw, yw)
    idx = np.clip(np.searchsorted(tw, bounds, side="right") - 1, 0, len(tw) - 1)
    at = c[idx]
    seg = np.diff(np.concatenate([[0.0], at]))
    return float(c[-1]), seg


def _counter_energy(
    t: np.ndarray, counter_mj: np.ndarray, start: float, bounds: np.ndarray
) -> tuple[float, np.ndarray]:
    """Energy (J) read off a cumulative counter (mJ) over [start, bounds[-1]] and per segment.

    The counter is interpolated linearly between its samples at ``start`` and at each bound; a bound
    outside the counter's samples, or a counter that goes backwards (a reset), gives NaN.
    """
    nan = (np.nan, np.full(len(bounds), np.nan))
    ok = np.isfinite(counter_mj)
    if ok.sum() < 2:
        return nan
    tc, cc = t[ok], counter_mj[ok]
    if (np.diff(cc) < 0).any():
        return nan
    pts = np.concatenate([[start], bounds])
    inside = (pts >= tc[0]) & (pts <= tc[-1])
    at = np.where(inside, np.interp(pts, tc, cc), np.nan) / 1e3
    return float(at[-1] - at[0]), np.diff(at)


#: epochs.csv columns (case-insensitive) that hold the board's energy counter (mJ) read at each epoch end
EPOCH_COUNTER_COLUMNS = ("nvml_energy_mj", "energy_counter_mj", "total_energy_consumption_mj")


def _epoch_counter_energy(epochs: pd.DataFrame) -> np.ndarray | None:
    """Per-epoch energy (J) from counter readings logged at the epoch ends (NaN for epoch 0)."""
    cols = {c.lower(): c for c in epochs.columns}
    name = next((cols[c] for c in EPOCH_COUNTER_COLUMNS if c in cols), None)
    if name is None:
        return None
    c = pd.to_numeric(epochs[name], errors="coerce").to_numpy(dtype="float64")
    seg = np.concatenate([[np.nan], np.diff(c)]) / 1e3
    seg[seg < 0] = np.nan  # a counter reset
    return seg


@dataclass
class RunEnergy:
    metrics: dict
    epochs: pd.DataFrame


def _window(gpu: pd.DataFrame, epochs: pd.DataFrame | None, train_start) -> tuple[np.ndarray, np.ndarray, float, float]:
    """GPU sample times, epoch ends and the training window ``[start, end]`` (seconds)."""
    gt = gpu["t"].to_numpy()
    if len(gt) == 0:
        raise ValueError("GPU log has no samples")
    ts = None
    if train_start is not None and not pd.isna(train_start):
        ts = np.datetime64(pd.Timestamp(train_start).tz_localize(None), "us").astype("int64") / 1e6
    ends = np.zeros(0)
    if epochs is not None and len(epochs):
        ends = epochs["end_time"].astype("datetime64[us]").astype("int64").to_numpy() / 1e6
    start, end = window_bounds(gt, ts, ends)
    return gt, ends, start, end


def _counter(gpu, epochs, gt, start, bounds, ends) -> tuple[float, np.ndarray]:
    counter_e, counter_seg = np.nan, np.full(len(bounds), np.nan)
    if "energy_counter_mj" in gpu:
        counter_e, counter_seg = _counter_energy(gt, gpu["energy_counter_mj"].to_numpy(dtype="float64"), start, bounds)
    elif len(ends):
        seg = _epoch_counter_energy(epochs)
        if seg is not None:
            counter_seg = seg
    return counter_e, counter_seg


def _ram(cpu, start, end, bounds, ram_w_per_mb) -> tuple[float, np.ndarray, float]:
    """RAM energy over the window and per segment, and the mean RAM used in the window (MB)."""
    ram_e, ram_seg, mean_ram = np.nan, np.full(len(bounds), np.nan), np.nan
    if cpu is not None and len(cpu) >= 2 and "ram_used_mb" in cpu:
        ct = cpu["t"].to_numpy()
        ram_w = cpu["ram_used_mb"].to_numpy(dtype="float64") * ram_w_per_mb
        ram_e, ram_seg = _segment_energy(ct, ram_w, start, bounds)
        cw = (ct >= start) & (ct <= end)
        mean_ram = float(np.nanmean(cpu["ram_used_mb"].to_numpy()[cw])) if cw.any() else np.nan
    return ram_e, ram_seg, mean_ram


def _gpu_summary(gpu: pd.DataFrame, in_win: np.ndarray) -> dict:
    def wmean(col):
        if col not in gpu:
            return np.nan
        v = gpu[col].to_numpy(dtype="float64")[in_win]
        return float(np.nanmean(v)) if np.isfinite(v).any() else np.nan

    limit = gpu["power_limit_w"] if "power_limit_w" in gpu else None
    names = gpu["gpu_name"].dropna() if "gpu_name" in gpu else ()
    return {
        "gpu_usage_pct": wmean("gpu_usage_pct"),
        "max_power_w": float(np.nanmedian(limit)) if limit is not None and limit.notna().any() else np.nan,
        # the first line's name, or the first line that has one (an empty name is missing, not "nan")
        "gpu_name_logged": str(names.iloc[0]) if len(names) else None,
    }


def _epoch_table(epochs, start, ends, gpu_seg, ram_seg, counter_seg) -> pd.DataFrame:
    if not len(ends):
        return pd.DataFrame(columns=EPOCH_COLUMNS[1:])
    starts = np.concatenate([[start], ends[:-1]])
    dur = ends - starts
    ep = pd.DataFrame(
        {
            "epoch": epochs["epoch"].to_numpy(dtype="int64"),
            "start_time": pd.to_datetime(starts * 1e6, unit="us"),
            "end_time": pd.to_datetime(ends * 1e6, unit="us"),
            "duration_s": dur,
            "gpu_energy_j": gpu_seg,
            "ram_energy_j": ram_seg,
            "gpu_counter_energy_j": counter_seg,
        }
    )
    ep["energy_j"] = ep["gpu_energy_j"] + ep["ram_energy_j"].fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ep["mean_gpu_power_w"] = np.where(dur > 0, gpu_seg / dur, np.nan)
    return ep


def run_energy(
    gpu: pd.DataFrame,
    cpu: pd.DataFrame | None,
    epochs: pd.DataFrame | None,
    train_start: pd.Timestamp | None = None,
    *,
    ram_w_per_mb: float = RAM_W_PER_MB,
) -> RunEnergy:
    """Per-run metrics and per-epoch energies of one run.

    ``gpu`` and ``cpu`` are frames from :mod:`dlenergy.parsing` (column ``t`` in seconds);
    ``epochs`` has ``epoch`` and ``end_time``.  For a multi-GPU log, ``power_w`` is the sum over the
    GPUs and ``power_w_gpu<i>`` each GPU's power: ``gpu_energy_by_gpu_j`` lists each GPU's energy
    (``;``-separated, in the order of the GPUs; empty for one GPU) and ``n_gpus`` their number.
    """
    gt, ends, start, end = _window(gpu, epochs, train_start)
    bounds = ends if len(ends) else np.array([end])
    gpu_e, gpu_seg = _segment_energy(gt, gpu["power_w"].to_numpy(dtype="float64"), start, bounds)
    counter_e, counter_seg = _counter(gpu, epochs, gt, start, bounds, ends)
    in_win = (gt >= start) & (gt <= end)
    dt = np.diff(gt[in_win])
    per_gpu = [c for c in gpu.columns if str(c).startswith("power_w_gpu")]
    by_gpu = [_segment_energy(gt, gpu[c].to_numpy(dtype="float64"), start, bounds)[0] for c in per_gpu]
    ram_e, ram_seg, mean_ram = _ram(cpu, start, end, bounds, ram_w_per_mb)
    duration = end - start
    metrics = {
        "start_time": pd.Timestamp(start * 1e6, unit="us"),
        "end_time": pd.Timestamp(end * 1e6, unit="us"),
        "duration_s": duration,
        "epochs_measured": int(len(ends)),
        "gpu_energy_j": gpu_e,
        "gpu_counter_energy_j": counter_e,
        "ram_energy_j": ram_e,
        "energy_j": gpu_e + (ram_e if np.isfinite(ram_e) else 0.0) if np.isfinite(gpu_e) else np.nan,
        "mean_gpu_power_w": gpu_e / duration if duration > 0 and np.isfinite(gpu_e) else np.nan,
        **_gpu_summary(gpu, in_win),
        "sampling_period_s": float(np.median(dt)) if len(dt) else np.nan,
        "n_gpu_samples": int(in_win.sum()),
        "mean_ram_used_mb": mean_ram,
        "has_ram_log": bool(np.isfinite(ram_e)),
        "n_gpus": max(len(per_gpu), 1),
        "gpu_energy_by_gpu_j": ";".join(repr(float(e)) for e in by_gpu),
    }
    ep = _epoch_table(epochs, start, ends, gpu_seg, ram_seg, counter_seg)
    metrics["min_epoch_duration_s"] = (
        float(np.min(ends - np.concatenate([[start], ends[:-1]]))) if len(ends) else np.nan
    )
    return RunEnergy(metrics, ep)


EPOCH_COLUMNS = [
    "run_id",
    "epoch",
    "start_time",
    "end_time",
    "duration_s",
    "gpu_energy_j",
    "ram_energy_j",
    "energy_j",
    "mean_gpu_power_w",
    "gpu_counter_energy_j",
]


COUNTER_CHECK_COLUMNS = [
    "run_id",
    "gpu_model",
    "return_code",
    "span",
    "duration_s",
    "sampling_period_s",
    "epochs_compared",
    "integrated_energy_j",
    "counter_energy_j",
    "difference_j",
    "difference_pct",
    "epoch_ratio_median",
    "epoch_ratio_min",
    "epoch_ratio_max",
]


def counter_check(runs: pd.DataFrame, epochs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Integrated GPU energy against the board's energy counter, one row per run that has a counter.

    ``span`` says over what the two are compared: the training window (counter in the GPU log), or
    the epochs with a counter energy (counter logged at epoch ends, :data:`EPOCH_COUNTER_COLUMNS`),
    where both sides are summed over those epochs.  ``difference_pct`` is
    ``100 (integrated - counter) / counter``; ``epoch_ratio_*`` summarise the per-epoch ratios
    integrated / counter (epochs with a positive counter energy).  Runs without a counter are not in
    the table (empty table: no run has one).
    """
    base = runs.reindex(
        columns=[
            "run_id",
            "gpu_model",
            "return_code",
            "duration_s",
            "sampling_period_s",
            "gpu_energy_j",
            "gpu_counter_energy_j",
            "epochs_measured",
        ]
    )
    have_ep = epochs is not None and len(epochs) and "gpu_counter_energy_j" in epochs
    e = epochs[epochs["gpu_counter_energy_j"] > 0] if have_ep else pd.DataFrame(columns=["run_id"])
    window = base["gpu_counter_energy_j"].notna() & base["gpu_energy_j"].notna()
    per_epoch = ~window & base["run_id"].isin(e["run_id"])
    if not (window | per_epoch).any():
        return pd.DataFrame(columns=COUNTER_CHECK_COLUMNS)
    t = base.loc[window | per_epoch].copy()
    t["span"] = np.where(window[t.index], "training window", "epochs with a counter reading at both ends")
    t["integrated_energy_j"] = t["gpu_energy_j"]
    t["counter_energy_j"] = t["gpu_counter_energy_j"]
    t["epochs_compared"] = t["epochs_measured"]
    if len(e):
        g = e.groupby("run_id")
        sums = g[["gpu_energy_j", "gpu_counter_energy_j"]].sum()
        ep_rows = per_epoch[t.index].to_numpy()
        if ep_rows.any():
            ids = t.loc[ep_rows, "run_id"]
            t.loc[ep_rows, "integrated_energy_j"] = ids.map(sums["gpu_energy_j"]).to_numpy()
            t.loc[ep_rows, "counter_energy_j"] = ids.map(sums["gpu_counter_energy_j"]).to_numpy()
            t.loc[ep_rows, "epochs_compared"] = ids.map(g.size()).to_numpy()
        ratio = (e["gpu_energy_j"] / e["gpu_counter_energy_j"]).groupby(e["run_id"]).agg(["median", "min", "max"])
        for k in ("median", "min", "max"):
            t[f"epoch_ratio_{k}"] = t["run_id"].map(ratio[k])
    t["difference_j"] = t["integrated_energy_j"] - t["counter_energy_j"]
    with np.errstate(divide="ignore", invalid="ignore"):
        t["difference_pct"] = 100.0 * t["difference_j"] / t["counter_energy_j"]
    return t.reindex(columns=COUNTER_CHECK_COLUMNS).sort_values("run_id", kind="stable").reset_index(drop=True)
