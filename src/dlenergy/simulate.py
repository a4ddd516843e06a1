"""Simulated DL-training measurement datasets in canonical layout v1 (with a known ground truth).

The simulator mimics the experiment design of del Rey et al., "How to use model architecture and
training environment to estimate the energy consumption of DL training" (§3.4-3.7, §4):

* **Block 1** (``experiment = block1``): mobilenet_v2, nasnet_mobile, resnet50, xception, vgg16 on
  ``chesslive`` (23,807 train / 10,203 validation images, 128 px, batch 32) in three environments
  (``local_normal_user`` GTX 750 Ti, ``local_ml_engineer`` RTX 3070, ``cloud`` RTX 3090).  On the
  GTX 750 Ti only mobilenet_v2 and nasnet_mobile fit in GPU memory; the others are written as
  failed runs (return code 1, defect ``oom``).
* **Block 2** (``experiment = block2``): inception_v3 on ``caltech101`` and ``stanford_dogs`` with
  batch 32/64/256 x input 75/128/224 in ``local_ml_engineer`` and ``cloud`` (cloud + stanford_dogs
  + 224 px does not fit: ``oom`` failed runs).
* **RAM** (``experiment = ram``): inception_v3, stanford_dogs, cloud, batch 256, 128 px, with 8/16/24/32
  GB of allocated RAM (small positive effect of RAM on speed and energy).

What is written (see :mod:`dlenergy.layout`)::

    OUT/runs.csv  OUT/runs/<run_id>/{gpu.csv,cpu.csv,epochs.csv}  OUT/ground_truth.csv  OUT/dataset_info.json

Power model
-----------
Each run has an underlying GPU power signal ``p(t) = S(t) * (1 + m(t))``:

* ``S(t)`` is piecewise linear through the levels of consecutive phases, with its breakpoints on
  the run's 1 Hz grid (so a change of level takes one to three grid steps): a few seconds of idle lead before ``train_start``; then ``stabilizing_epoch``
  warm-up epochs whose training phase is split into 2-4 segments at random levels that climb from
  ~55-75% towards ~93% of the plateau; then periodic stable epochs, each a training plateau at the
  setting's power, a validation phase at a lower level (70% of the plateau for Block 1, 92% for the
  frozen-base Block 2) and a short near-idle gap (checkpoint/callbacks, ~1-2 s); after the last
  epoch a short tail (test-set evaluation) and idle.
* ``m(t)`` is multiplicative noise: an AR(1) series (sigma 2% in stable epochs, 5% in warm-up) on
  the run's 1 Hz sampling grid, linearly interpolated in between.
* The plateau power follows the GPU usage ``U`` through an environment curve
  ``P = floor + (top - floor) * (U/100)**gamma``; Block 1 settings are calibrated to the paper's
  medians (cloud J/image 0.39 vgg16, 0.34 xception and nasnet_mobile, 0.14 mobilenet_v2; GPU usage
  90/78/60/23%; local ML engineer 44% and local normal user 32% below cloud for mobilenet_v2; ~28 W
  on the GTX 750 Ti) and the epoch duration follows from the energy per image and the power.  Block
  2 uses a throughput model (per-image GPU time proportional to GFLOPs, per-image host cost,
  per-step overhead), so bigger batches give fewer, faster steps and less energy, and bigger inputs
  more time and power.

J/image is ``energy_j / images_seen`` with ``images_seen = measured epochs x training_size``
(the column ``images_seen`` of runs.csv); the calibration above uses that image count.  (The
replication package's own "total seen images" counts training and validation images.)

Ground truth
------------
``gpu_energy_j`` is the exact integral of the continuous-time signal ``p(t)`` over the training
window ``[train_start, last epoch end]`` (Simpson on every interval between consecutive grid points
and the window ends, where ``p`` is quadratic; no discretisation error); ``ram_energy_j`` the exact integral of the piecewise-linear psutil RAM signal x
3.75e-4 W/MB over the same window; ``energy_j`` their sum.  The GPU log samples ``p`` on its 1 Hz
grid (period ~1.003 s, ms timestamps); ``train_start`` lies 0.5-20 ms before a sample and the last
epoch end 0.5-20 ms after one, so the trapezoid over the logged samples in the window (what
:func:`dlenergy.energy.run_energy` computes) recovers the ground truth within ~0.1%.  For failed runs
the window ends at the last *recorded* epoch end (NaN when none was recorded).

``stabilizing_epoch`` is the index of the first stable epoch (epochs ``0 .. s-1`` are warm-up, so
``s`` is also the number of warm-up epochs); it is drawn per run, mostly 2-9, with ~4% of the runs
stabilizing at epoch 11-14 so that >= 90% are stable by epoch 10.  Empty for failed runs that never
reached it.

Defects (``defect`` column, at most one per run), each caught by one cleaning stage: ``failed``
(return code 137, logs cut mid-line) and ``oom`` (return code 1) -> ``failed``; ``missing`` (empty
``gflops``) -> ``missing``; ``short`` (5-15 epochs) -> ``short``; ``coarse_sampling`` (3-6 s epochs
logged every 10 s) -> ``sampling``; ``outlier`` (a run far off its (environment, architecture,
dataset) group: longer epochs than any run of the group and up to 1.8x the power) -> ``outlier``;
``cut_lines`` (1-3 GPU log lines cut short; excluded by no stage).

Everything is deterministic: one ``numpy.random.default_rng`` for the design from ``seed`` and one
per run from ``(seed, run index)``; dates start on 2023-03-01.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from . import RAM_W_PER_MB, SYNTHETIC_LABEL, __version__
from .layout import CPU_FILE, EPOCHS_FILE, GPU_FILE, LAYOUT_VERSION, RUNS_DIR, RUNS_FILE, RUNS_REQUIRED

__all__ = [
    "DEFAULT_RATES",
    "DEFECTS",
    "RUNS_COLUMNS",
    "GROUND_TRUTH_COLUMNS",
    "SCALES",
    "add_run",
    "simulate_dataset",
]

DEFECTS = ("none", "failed", "oom", "missing", "short", "coarse_sampling", "outlier", "cut_lines")
#: rate of each defect among the runs that are not structural OOMs
DEFAULT_RATES: dict[str, float] = {
    "failed": 0.03,
    "oom": 0.005,
    "missing": 0.01,
    "short": 0.03,
    "coarse_sampling": 0.01,
    "outlier": 0.03,
    "cut_lines": 0.05,
}
#: defects that make a cleaning stage exclude the run before the outlier stage
_EXCLUDING = ("failed", "oom", "missing", "short", "coarse_sampling")

#: runs.csv columns the simulator writes: layout v1's required ones, then optional ones
RUNS_COLUMNS = [
    *RUNS_REQUIRED,
    "f1",
    "accuracy",
    "epochs_trained",
    "train_start",
    "images_seen",
    "experiment",
]
GROUND_TRUTH_COLUMNS = [
    "run_id",
    "gpu_energy_j",
    "energy_j",
    "stabilizing_epoch",
    "defect",
    "ram_energy_j",
    "duration_s",
]

GROUND_TRUTH_FILE = "ground_truth.csv"
INFO_FILE = "dataset_info.json"

GPU_HEADER_NATIVE = (
    "timestamp, name, utilization.gpu [%], utilization.memory [%], memory.total [MiB], memory.used [MiB], "
    "power.draw [W], power.limit [W], temperature.gpu"
)
GPU_HEADER_RENAMED = "timestamp,gpu_name,gpu_usage,gpu_memory_usage,gpu_total_memory,gpu_memory_used,gpu_power_draw,gpu_max_power,gpu_temperature"
CPU_HEADER = "timestamp,cpu usage (%),memory usage (MB)"
EPOCHS_HEADER = "epoch,end_time"

_BASE_TIME = np.datetime64("2023-03-01T00:00:00", "us")

# --------------------------------------------------------------------------------------------
# the experiment's parameters
# --------------------------------------------------------------------------------------------

#: per environment: GPU, power curve (floor/top/gamma: plateau power from GPU usage), idle power,
#: host RAM, temperatures and, for Block 2, the throughput model (k s/GFLOP/image, h s/image of host
#: work, o s/step of host overhead, sg s/step of GPU work)
ENVIRONMENTS: dict[str, dict] = {
    "local_normal_user": dict(
        gpu="NVIDIA GeForce GTX 750 Ti",
        mem_total=2048,
        power_limit=38.5,
        idle=5.0,
        floor=8.5,
        top=33.0,
        gamma=1.3,
        ram_gb=32,
        temp_idle=33,
        temp_load=71,
        cpu_pct=110.0,
        start="2023-03-01T10:00:00",
        k=None,
        h=None,
        o=None,
        sg=None,
    ),
    "local_ml_engineer": dict(
        gpu="NVIDIA GeForce RTX 3070",
        mem_total=8192,
        power_limit=240.0,
        idle=22.0,
        floor=38.0,
        top=225.0,
        gamma=1.6,
        ram_gb=32,
        temp_idle=40,
        temp_load=74,
        cpu_pct=140.0,
        start="2023-03-01T09:30:00",
        k=3.2e-4,
        h=2.5e-4,
        o=0.020,
        sg=0.006,
    ),
    "cloud": dict(
        gpu="NVIDIA GeForce RTX 3090",
        mem_total=24268,
        power_limit=350.0,
        idle=25.0,
        floor=118.0,
        top=335.0,
        gamma=1.1,
        ram_gb=16,
        temp_idle=30,
        temp_load=72,
        cpu_pct=160.0,
        start="2023-03-01T09:00:00",
        k=2.2e-4,
        h=3.5e-4,
        o=0.030,
        sg=0.006,
    ),
}

#: GFLOPs at 128 px (paper Table 2), model size (MB), median F1 (paper §4.1), utilization.memory / utilization.gpu
ARCHITECTURES: dict[str, dict] = {
    "mobilenet_v2": dict(gflops=0.20, size_mb=11.12, f1=0.97, mem_ratio=0.55),
    "nasnet_mobile": dict(gflops=0.37, size_mb=18.35, f1=0.98, mem_ratio=0.45),
    "resnet50": dict(gflops=2.53, size_mb=99.99, f1=0.96, mem_ratio=0.50),
    "xception": dict(gflops=2.96, size_mb=87.59, f1=0.98, mem_ratio=0.50),
    "vgg16": dict(gflops=10.53, size_mb=56.13, f1=0.99, mem_ratio=0.45),
    "inception_v3": dict(gflops=1.50, size_mb=155.63, f1=None, mem_ratio=0.45),
}

#: training / validation images, RAM the data pipeline holds (MB)
DATASETS: dict[str, dict] = {
    "chesslive": dict(train=23807, val=10203, cache_mb=1500.0),
    "caltech101": dict(train=3060, val=6084, cache_mb=2500.0),
    "stanford_dogs": dict(train=12000, val=8580, cache_mb=4200.0),
}

BLOCK1_ARCHS = ("mobilenet_v2", "nasnet_mobile", "resnet50", "xception", "vgg16")
BLOCK1_ENVS = ("local_normal_user", "local_ml_engineer", "cloud")
BLOCK2_ENVS = ("local_ml_engineer", "cloud")
BLOCK2_DATASETS = ("caltech101", "stanford_dogs")

#: Block 1 calibration: (mean GPU usage %, J per training image) per (environment, architecture)
BLOCK1_TARGETS: dict[tuple[str, str], tuple[float, float]] = {
    ("cloud", "mobilenet_v2"): (23.0, 0.14),
    ("cloud", "nasnet_mobile"): (42.0, 0.34),
    ("cloud", "resnet50"): (78.0, 0.245),
    ("cloud", "xception"): (60.0, 0.34),
    ("cloud", "vgg16"): (90.0, 0.39),
    ("local_ml_engineer", "mobilenet_v2"): (56.0, 0.14 * (1 - 0.436)),
    ("local_ml_engineer", "nasnet_mobile"): (74.0, 0.21),
    ("local_ml_engineer", "resnet50"): (88.0, 0.24),
    ("local_ml_engineer", "xception"): (90.0, 0.32),
    ("local_ml_engineer", "vgg16"): (97.0, 0.14 * (1 - 0.436) / (1 - 0.8072)),
    ("local_normal_user", "mobilenet_v2"): (94.0, 0.14 * (1 - 0.3161)),
    ("local_normal_user", "nasnet_mobile"): (96.0, 0.19),
}
#: a run's mean GPU usage over its window relative to the plateau's (validation, gaps, warm-up)
_USAGE_MEAN_FACTOR = 0.87
#: stable-epoch energy per image relative to a run's mean (warm-up epochs draw less)
_WARMUP_CALIBRATION = 1.03

#: Block 2 / RAM: relative epoch duration and RAM used (MB) by allocated RAM (GB)
_RAM_SPEED = {8: 1.07, 16: 1.035, 24: 1.0, 32: 1.012}
_RAM_USED = {8: 6300.0, 16: 8900.0, 24: 10100.0, 32: 10200.0}

#: stabilizing epoch distribution for the regular runs (epochs 1..10)
_STAB_P = np.array([0.03, 0.12, 0.17, 0.17, 0.15, 0.12, 0.09, 0.07, 0.05, 0.03])
_LATE_STAB_SHARE = 0.04

#: the scales.  ``settings`` (tiny) lists (experiment, environment, architecture, dataset, batch,
#: image, ram, repetitions) explicitly; the others are built from the paper's grid.
SCALES: dict[str, dict] = {
    "tiny": dict(
        description="a handful of runs covering every defect (CI end-to-end tests)",
        epochs=(20, 22),
        settings=[
            ("block1", "cloud", "mobilenet_v2", "chesslive", 32, 128, 16, 10),
            ("block1", "local_ml_engineer", "mobilenet_v2", "chesslive", 32, 128, 32, 2),
            ("block1", "local_normal_user", "mobilenet_v2", "chesslive", 32, 128, 32, 1),
            ("block1", "local_normal_user", "resnet50", "chesslive", 32, 128, 32, 1),
            ("block2", "local_ml_engineer", "inception_v3", "caltech101", 256, 75, 32, 2),
            ("ram", "cloud", "inception_v3", "stanford_dogs", 256, 128, 8, 1),
            ("block2", "cloud", "inception_v3", "stanford_dogs", 256, 224, 16, 1),
        ],
    ),
    "sample": dict(
        description="a small synthetic sample of the paper's design (4 repetitions per Block-1 setting)",
        epochs=(22, 30),
        block1_reps=4,
        oom_reps=2,
        block2_batches=(32, 256),
        block2_images=(75, 128),
        block2_reps=3,
        block2_oom_reps=1,
        ram_levels=(8, 16, 24, 32),
        ram_reps=4,
    ),
    "full": dict(
        description="the paper's size: 30 repetitions of every setting",
        epochs=(25, 40),
        block1_reps=30,
        oom_reps=10,
        block2_batches=(32, 64, 256),
        block2_images=(75, 128, 224),
        block2_reps=30,
        block2_oom_reps=10,
        ram_levels=(8, 16, 24, 32),
        ram_reps=30,
    ),
}


# --------------------------------------------------------------------------------------------
# design
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    experiment: str
    environment: str
    architecture: str
    dataset: str
    batch_size: int
    image_size: int
    total_ram_gb: int

    @property
    def group(self) -> tuple[str, str, str]:
        return (self.environment, self.architecture, self.dataset)

    @property
    def oom(self) -> bool:
        """Settings that never fit: large models on the 2 GB GPU; Stanford Dogs at 224 px in the cloud."""
        if self.environment == "local_normal_user" and self.architecture in ("resnet50", "xception", "vgg16"):
            return True
        return self.environment == "cloud" and self.dataset == "stanford_dogs" and self.image_size >= 224

    @property
    def gflops(self) -> float:
        return ARCHITECTURES[self.architecture]["gflops"] * (self.image_size / 128.0) ** 2

    def run_id(self, rep: int) -> str:
        prefix = {"block1": "b1", "block2": "b2", "ram": "ram"}[self.experiment]
        return (
            f"{prefix}-{self.environment}-{self.architecture}-{self.dataset}-b{self.batch_size}"
            f"-i{self.image_size}-r{self.total_ram_gb}-{rep:02d}"
        )


def _design(scale: str) -> list[tuple[Setting, int]]:
    """(setting, repetition) of every run, in a fixed order."""
    cfg = SCALES[scale]
    out: list[tuple[Setting, int]] = []
    if "settings" in cfg:
        for exp, env, arch, ds, b, img, ram, reps in cfg["settings"]:
            st = Setting(exp, env, arch, ds, b, img, ram)
            out += [(st, r) for r in range(reps)]
        return out
    for env in BLOCK1_ENVS:
        for arch in BLOCK1_ARCHS:
            st = Setting("block1", env, arch, "chesslive", 32, 128, ENVIRONMENTS[env]["ram_gb"])
            reps = cfg["oom_reps"] if st.oom else cfg["block1_reps"]
            out += [(st, r) for r in range(reps)]
    images = tuple(cfg["block2_images"])
    for env in BLOCK2_ENVS:
        for ds in BLOCK2_DATASETS:
            for b in cfg["block2_batches"]:
                imgs = images + ((224,) if env == "cloud" and ds == "stanford_dogs" and 224 not in images else ())
                for img in imgs:
                    st = Setting("block2", env, "inception_v3", ds, b, img, ENVIRONMENTS[env]["ram_gb"])
                    reps = cfg["block2_oom_reps"] if st.oom else cfg["block2_reps"]
                    out += [(st, r) for r in range(reps)]
    for ram in cfg["ram_levels"]:
        st = Setting("ram", "cloud", "inception_v3", "stanford_dogs", 256, 128, ram)
        out += [(st, r) for r in range(cfg["ram_reps"])]
    return out


def _power_curve(env: dict, usage: float) -> float:
    return env["floor"] + (env["top"] - env["floor"]) * (max(usage, 0.0) / 100.0) ** env["gamma"]


def _setting_params(st: Setting) -> dict:
    """Noise-free quantities of a setting: plateau power and usage, mean epoch duration, phases."""
    env = ENVIRONMENTS[st.environment]
    arch = ARCHITECTURES[st.architecture]
    ds = DATASETS[st.dataset]
    n_tr, n_val = ds["train"], ds["val"]
    gap = 1.6
    p_gap = env["idle"] + 0.5 * (env["floor"] - env["idle"])
    ram_mb = min(
        4200.0 + 25.0 * arch["size_mb"] + ds["cache_mb"] * (st.image_size / 128.0) ** 0.5, 0.8 * st.total_ram_gb * 1024
    )
    if st.architecture == "inception_v3" and st.environment == "cloud" and st.total_ram_gb in _RAM_USED:
        ram_mb = min(_RAM_USED[st.total_ram_gb], 0.8 * st.total_ram_gb * 1024)
    if st.oom:
        usage = 60.0
        return dict(
            usage=usage,
            power=_power_curve(env, usage),
            T=60.0,
            fv=0.15,
            vf=0.7,
            uvf=0.8,
            gap=gap,
            p_gap=p_gap,
            ram_mb=ram_mb,
        )
    if st.experiment == "block1":
        fv = n_val / (n_val + 3.0 * n_tr)
        vf, uvf = 0.70, 0.90
        u_target, e = BLOCK1_TARGETS[(st.environment, st.architecture)]
        usage = min(99.0, u_target / _USAGE_MEAN_FACTOR)
        power = _power_curve(env, usage)
        e_stable = e * _WARMUP_CALIBRATION
        # e * n_tr = power * (1 - fv) * (T - gap) + power * vf * fv * (T - gap) + p_gap * gap
        T = (e_stable * n_tr - p_gap * gap) / (power * ((1 - fv) + vf * fv)) + gap
    else:
        fv = n_val / (n_val + 1.15 * n_tr)
        vf, uvf = 0.92, 0.90
        g = st.gflops
        steps = np.ceil(n_tr / st.batch_size) + np.ceil(n_val / st.batch_size)
        busy = (1.15 * n_tr + n_val) * g * env["k"] + steps * env["sg"]
        t_model = busy + (n_tr + n_val) * env["h"] + steps * env["o"]
        t_model *= _RAM_SPEED.get(st.total_ram_gb, 1.0)
        usage = min(99.0, 100.0 * busy / t_model / _USAGE_MEAN_FACTOR)
        power = _power_curve(env, usage)
        T = t_model + gap
    return dict(usage=usage, power=power, T=float(T), fv=fv, vf=vf, uvf=uvf, gap=gap, p_gap=p_gap, ram_mb=ram_mb)


def _counts(rates: dict, n: int, present: set[str]) -> dict[str, int]:
    out = {}
    for d, r in rates.items():
        c = int(round(r * n))
        if r > 0 and c == 0 and d not in present:
            c = 1
        out[d] = c
    return out


def _assign_defects(design, params, rates, rng) -> list[str]:
    """One defect per run (``none`` for most); structural OOM settings get ``oom``."""
    n = len(design)
    defects = ["oom" if st.oom else "none" for st, _ in design]
    eligible = [i for i in range(n) if defects[i] == "none"]
    present = {"oom"} if "oom" in defects else set()
    counts = _counts(rates, len(eligible), present)

    groups: dict[tuple, list[int]] = {}
    for i in eligible:
        groups.setdefault(design[i][0].group, []).append(i)

    # outliers first: at most one per setting and n_group // 10 per group, from the slowest settings
    n_out = counts.get("outlier", 0)
    k_out: dict[tuple, int] = {g: 0 for g in groups}
    queues: dict[tuple, list[int]] = {}
    for g, idx in groups.items():
        if len(idx) < 10:
            continue
        by_setting: dict[Setting, list[int]] = {}
        for i in idx:
            by_setting.setdefault(design[i][0], []).append(i)
        settings = sorted(by_setting, key=lambda s: (-params[s]["T"], s.run_id(0)))
        queues[g] = [int(rng.choice(by_setting[s])) for s in settings]
    order = sorted(queues, key=lambda g: "|".join(g))
    order = [order[j] for j in rng.permutation(len(order))]
    while n_out > 0 and any(queues[g] and k_out[g] < len(groups[g]) // 10 for g in order):
        for g in order:
            if n_out == 0:
                break
            if queues[g] and k_out[g] < len(groups[g]) // 10:
                defects[queues[g].pop(0)] = "outlier"
                k_out[g] += 1
                n_out -= 1

    # excluding defects: keep >= 10 surviving runs per outlier in a group
    budget = {g: (len(idx) - 10 * k_out[g]) if k_out[g] else len(idx) for g, idx in groups.items()}
    for d in _EXCLUDING:
        want = counts.get(d, 0)
        if want <= 0:
            continue
        cand = [i for i in eligible if defects[i] == "none"]
        for j in rng.permutation(len(cand)):
            if want == 0:
                break
            i = cand[j]
            g = design[i][0].group
            if budget[g] <= 0:
                continue
            defects[i] = d
            budget[g] -= 1
            want -= 1
    want = counts.get("cut_lines", 0)
    cand = [i for i in eligible if defects[i] == "none"]
    for j in rng.permutation(len(cand))[:want]:
        defects[cand[j]] = "cut_lines"
    return defects


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    index: int
    setting: Setting
    rep: int
    run_id: str
    defect: str
    rng: np.random.Generator
    par: dict
    n_epochs: int = 0
    stab: int = 1
    D: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lead: float = 5.0
    tail: float = 4.0
    kill_after: float | None = None  # seconds after train_start (failed / oom)
    power_f: float = 1.0
    usage_f: float = 1.0
    renamed_header: bool = False

    @property
    def span(self) -> float:
        """Seconds from log start to log end (approximately; exact after realization)."""
        if self.kill_after is not None:
            return self.lead + self.kill_after
        return self.lead + float(self.D.sum()) + self.tail


def _plan_run(index, st, rep, defect, stab, par, group_T, epochs_range, seed) -> _Plan:
    rng = np.random.default_rng([seed, index])
    p = _Plan(index, st, rep, st.run_id(rep), defect, rng, dict(par))
    lo, hi = epochs_range
    if defect == "short":
        n = int(rng.integers(5, 16))
    elif defect == "outlier":
        n = hi
    else:
        n = int(rng.integers(lo, hi + 1))
    p.n_epochs = n
    p.stab = int(min(stab, max(1, n - 2)))
    T = par["T"] * (1.0 + 0.025 * rng.standard_normal())
    if rng.random() < 0.10:  # a slower run (a busy host): part of the natural spread
        T *= rng.uniform(1.04, 1.12)
    usage_jit = rng.normal(0.0, 1.5)
    power_jit = 1.0 + 0.012 * rng.standard_normal()
    if defect == "coarse_sampling":
        T = rng.uniform(3.6, 4.8)
        p.par["gap"] = 0.6
    elif defect == "outlier":
        # another job shares the GPU: slower than any run of its group and drawing more power
        T = max(1.6 * T, 1.45 * group_T)
        env = ENVIRONMENTS[st.environment]
        p.power_f = max(1.0, min(1.8, 0.97 * env["power_limit"] / par["power"]))
        p.usage_f = min(1.5, 99.0 / max(par["usage"], 1.0))
    env = ENVIRONMENTS[st.environment]
    u_run = float(np.clip(par["usage"] + usage_jit, 1.0, 99.0))
    # power follows the run's usage along the environment's curve (plus a little board-to-board noise)
    p.par["power"] = par["power"] * _power_curve(env, u_run) / _power_curve(env, par["usage"]) * power_jit * p.power_f
    p.par["usage"] = min(u_run * p.usage_f, 99.0)
    D = T * (1.0 + 0.008 * rng.standard_normal(n))
    D[0] *= rng.uniform(1.15, 1.40)
    if p.stab > 1:
        D[1 : p.stab] *= rng.uniform(0.97, 1.08, p.stab - 1)
    if defect == "coarse_sampling":
        D = np.minimum(D, 6.0)
    p.D = D
    p.lead = float(rng.uniform(3.0, 8.0))
    p.tail = float(rng.uniform(2.0, 6.0))
    p.renamed_header = bool(rng.random() < 0.2)
    if st.oom or defect == "oom":
        p.kill_after = float(rng.uniform(3.0, max(3.5, min(20.0, 0.8 * D[0]))))
    elif defect == "failed":
        k = int(rng.integers(0, n - 1))  # epochs recorded before the kill
        ends = np.cumsum(D)
        start_k = ends[k - 1] if k > 0 else 0.0
        p.kill_after = float(start_k + rng.uniform(0.2, 0.8) * D[k])
    return p


def _phases(p: _Plan, ts: float, ends: np.ndarray, log_end: float, env: dict):
    """Consecutive phases (x0, x1, power level, usage level, noise sigma) of the run."""
    rng = p.rng
    par = p.par
    P, U = par["power"], par["usage"]
    idle, p_gap = env["idle"], par["p_gap"]
    if p.setting.oom or p.defect == "oom":
        P, U = P * 0.6, U * 0.3
    x0, x1, lv, uv, sg = [], [], [], [], []

    def add(a, b, level, usage, sigma):
        if b - a > 1e-6:
            x0.append(a), x1.append(b), lv.append(level), uv.append(usage), sg.append(sigma)

    r0 = rng.uniform(1.0, 2.5)
    add(0.0, ts - r0, idle, 0.0, 0.03)
    add(ts - r0, ts, env["floor"] * rng.uniform(0.6, 0.9), rng.uniform(0, 8), 0.04)
    starts = np.concatenate([[ts], ends[:-1]])
    w0 = rng.uniform(0.55, 0.75)
    for i, (a, b) in enumerate(zip(starts, ends)):
        D = b - a
        g = min(par["gap"] * rng.uniform(0.8, 1.2), 0.2 * D)
        tv = par["fv"] * (D - g)
        tr = D - g - tv
        if i < p.stab:
            w = w0 + (0.93 - w0) * (i / max(p.stab - 1, 1))
            m = int(rng.integers(2, 5))
            cuts = np.sort(rng.uniform(0.15, 0.85, m - 1))
            edges = a + tr * np.concatenate([[0.0], cuts, [1.0]])
            lev = w * rng.uniform(0.82, 1.12, m)
            for j in range(m):
                add(edges[j], edges[j + 1], P * lev[j], U * (0.4 + 0.6 * lev[j]), 0.05)
            add(a + tr, b - g, P * par["vf"] * w, U * par["uvf"] * (0.4 + 0.6 * w), 0.05)
        else:
            add(a, a + tr, P, U, 0.02)
            add(a + tr, b - g, P * par["vf"], U * par["uvf"], 0.02)
        add(b - g, b, p_gap, 3.0, 0.03)
    te = ends[-1]
    tail_eval = 0.6 * p.tail
    add(te, te + tail_eval, P * 0.5, U * 0.4, 0.03)
    add(te + tail_eval, max(log_end, te + tail_eval) + 5.0, idle, 0.0, 0.03)
    return (np.array(x0), np.array(x1), np.array(lv), np.array(uv), np.array(sg))


def _breakpoints(x0, x1, values, ramp=1.2):
    h = np.minimum(ramp, 0.25 * (x1 - x0))
    xs = np.column_stack([x0 + h, x1 - h]).ravel()
    ys = np.repeat(values, 2)
    return xs, ys


def _snap(xs, ys, grid):
    """Move breakpoints to the nearest point of ``grid`` (merging those that meet): the power signal
    is then linear between consecutive points of the 1 Hz grid."""
    j = np.clip(np.searchsorted(grid, xs), 1, len(grid) - 1)
    j = np.where(np.abs(grid[j - 1] - xs) <= np.abs(grid[j] - xs), j - 1, j)
    uniq, inv = np.unique(j, return_inverse=True)
    return grid[uniq], np.bincount(inv, weights=ys) / np.bincount(inv)


def _simpson_integral(xs_s, ys_s, kt, m, a, b) -> float:
    """Exact integral over [a, b] of interp(S) * (1 + interp(m)), both piecewise linear."""
    pts = np.concatenate([[a, b], kt[(kt > a) & (kt < b)], xs_s[(xs_s > a) & (xs_s < b)]])
    pts = np.unique(pts)
    mid = 0.5 * (pts[:-1] + pts[1:])

    def f(x):
        return np.interp(x, xs_s, ys_s) * (1.0 + np.interp(x, kt, m))

    fx = f(pts)
    return float(np.sum((pts[1:] - pts[:-1]) / 6.0 * (fx[:-1] + 4.0 * f(mid) + fx[1:])))


@dataclass
class _Realized:
    t_ms: np.ndarray  # logged GPU sample times, ms after log start
    power: np.ndarray
    usage: np.ndarray
    mem_util: np.ndarray
    mem_used: np.ndarray
    temp: np.ndarray
    c_us: np.ndarray  # psutil sample times, us after log start
    cpu: np.ndarray
    ram: np.ndarray
    ts_us: int
    ends_us: np.ndarray  # recorded epoch ends, us after log start
    log_end_us: int
    gt: dict
    cut_rows: np.ndarray  # GPU log rows to cut short
    killed: bool


def _realize(p: _Plan) -> _Realized:
    rng = p.rng
    env = ENVIRONMENTS[p.setting.environment]
    D = p.D.copy()
    total = float(D.sum())
    killed = p.kill_after is not None
    # the signal's 1 Hz grid: nvidia-smi's period, a few ms over a second, rare hiccups
    horizon = p.lead + (p.kill_after if killed else total + p.tail) + 4.0
    n_k = int(horizon) + 8
    per = 1000 + np.clip(np.rint(rng.normal(3.0, 1.5, n_k)), 0, 12).astype(np.int64)
    hic = rng.random(n_k) < 0.004
    per[hic] += rng.integers(20, 250, int(hic.sum()))
    knots_ms = np.concatenate([[0], np.cumsum(per)]).astype(np.int64)
    kt = knots_ms / 1000.0
    i0 = int(np.searchsorted(kt, p.lead))
    ts_us = int(knots_ms[i0]) * 1000 - int(rng.integers(500, 20000))
    ts = ts_us / 1e6
    if not killed:
        i1 = int(np.argmin(np.abs(kt - (ts + total))))
        i1 = max(i1, i0 + 2)
        te_us = int(knots_ms[i1]) * 1000 + int(rng.integers(500, 20000))
        D *= (te_us - ts_us) / 1e6 / total
        ends_us = ts_us + np.rint(np.cumsum(D) * 1e6).astype(np.int64)
        ends_us[-1] = te_us
        log_end = te_us / 1e6 + p.tail
    else:
        ends_us = ts_us + np.rint(np.cumsum(D) * 1e6).astype(np.int64)
        log_end = ts + p.kill_after
    # keep the knots up to the end of the log (one past it for interpolation)
    n_keep = int(np.searchsorted(kt, log_end, side="right"))
    kt_all, knots_all = kt[: n_keep + 1], knots_ms[: n_keep + 1]
    ends = ends_us / 1e6

    x0, x1, lv, uv, sg = _phases(p, ts, ends, log_end, env)
    xs, ps = _breakpoints(x0, x1, lv)
    _, us = _breakpoints(x0, x1, uv)
    _, ss = _breakpoints(x0, x1, sg)
    xs_p, ps = _snap(xs, ps, kt_all)

    rho = 0.5
    z = lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], rng.standard_normal(len(kt_all)))
    m = np.interp(kt_all, xs, ss) * z
    m = np.clip(m, -0.5, 0.5)

    # logged samples
    if p.defect == "coarse_sampling":
        sel = np.arange(int(rng.integers(0, 10)), n_keep, 10)
    else:
        sel = np.arange(n_keep)
    t_ms = knots_all[sel]
    t = kt_all[sel]
    s_val = np.interp(t, xs_p, ps)
    power = np.maximum(np.round(s_val * (1.0 + m[sel]), 2), 0.5)
    u_lvl = np.interp(t, xs, us)
    usage = np.clip(np.rint(u_lvl + (u_lvl > 1.0) * rng.normal(0.0, 2.0, len(t))), 0, 100).astype(np.int64)
    mem_ratio = ARCHITECTURES[p.setting.architecture]["mem_ratio"]
    mem_util = np.clip(np.rint(usage * mem_ratio * rng.uniform(0.85, 1.15, len(t))), 0, 100).astype(np.int64)
    mem_total = env["mem_total"]
    mem_lead = int(rng.integers(250, 600))
    if p.setting.oom or p.defect == "oom":
        mem_train = mem_total - int(rng.integers(2, 40))
    else:
        mem_train = mem_total - int(rng.integers(150, 650))
    mem_used = np.where(t >= ts - 2.5, mem_train, mem_lead).astype(np.int64)
    load = (p.par["power"] / env["power_limit"]) ** 0.7
    t_load = env["temp_idle"] + (env["temp_load"] - env["temp_idle"]) * min(load, 1.0)
    warm = 1.0 - np.exp(-np.maximum(t - ts, 0.0) / 90.0)
    temp = np.rint(env["temp_idle"] + (t_load - env["temp_idle"]) * warm + rng.normal(0, 0.4, len(t))).astype(np.int64)

    # psutil log of the training process
    # psutil's loop: ~1.0096 s; its samples bracket the training window within 0.5-20 ms
    n_c = int(horizon) + 8
    a_us = ts_us + int(rng.integers(500, 20000))
    before = a_us - np.cumsum(1_000_000 + rng.integers(5_000, 12_000, n_c))
    before = before[before >= int(rng.integers(150_000, 350_000))][::-1]
    if not killed:
        b_us = int(ends_us[-1]) - int(rng.integers(500, 20000))
        n_in = max(1, int(round((b_us - a_us) / 1_009_600)))
        inside = a_us + np.rint(np.linspace(0.0, 1.0, n_in + 1) * (b_us - a_us)).astype(np.int64)
        inside[1:-1] += rng.integers(-2000, 2000, n_in - 1)
    else:
        inside = a_us + np.concatenate([[0], np.cumsum(1_000_000 + rng.integers(5_000, 12_000, n_c))])
    after = inside[-1] + np.cumsum(1_000_000 + rng.integers(5_000, 12_000, int(p.tail) + 4))
    c_us = np.concatenate([before, inside, after]).astype(np.int64)
    c_us = c_us[c_us <= int(log_end * 1e6)]
    ct = c_us / 1e6
    ram_base = p.par["ram_mb"] * rng.uniform(0.97, 1.03)
    ram0 = ram_base * rng.uniform(0.35, 0.6)
    te_plan = ends[-1]
    drift = 0.01 * np.clip((ct - ts) / max(te_plan - ts, 1.0), 0.0, 1.0)
    ram = np.interp(ct, [0.0, ts + 3.0], [ram0, ram_base]) * (1.0 + drift + 0.0015 * rng.standard_normal(len(ct)))
    ram = np.round(ram, 3)
    cpu_lvl = env["cpu_pct"] * (1.0 + 0.15 * np.log2(256 / p.setting.batch_size) / 3.0)
    cpu = np.where(
        (ct >= ts) & (ct <= te_plan),
        cpu_lvl * (1 + 0.08 * rng.standard_normal(len(ct))),
        rng.uniform(1.0, 25.0, len(ct)),
    )
    cpu = np.round(np.maximum(cpu, 0.0), 3)

    # recorded epochs and ground truth
    if killed:
        rec = ends_us[ends_us < int(log_end * 1e6)]
    else:
        rec = ends_us
    gt = dict(gpu_energy_j=np.nan, ram_energy_j=np.nan, energy_j=np.nan, duration_s=np.nan)
    if len(rec):
        a, b = ts, rec[-1] / 1e6
        e_gpu = _simpson_integral(xs_p, ps, kt_all, m, a, b)
        w = np.concatenate([[a], ct[(ct > a) & (ct < b)], [b]])
        rw = np.interp(w, ct, ram) * RAM_W_PER_MB
        e_ram = float(np.sum(0.5 * (rw[1:] + rw[:-1]) * np.diff(w)))
        gt = dict(gpu_energy_j=e_gpu, ram_energy_j=e_ram, energy_j=e_gpu + e_ram, duration_s=b - a)

    cut_rows = np.zeros(0, dtype=np.int64)
    if p.defect == "cut_lines":
        inwin = np.flatnonzero((t >= ts) & (t <= (rec[-1] / 1e6 if len(rec) else log_end)))
        inner = inwin[2:-2]
        # cut lines on the plateau (where the signal is locally linear): the trapezoid bridges them
        curv = np.abs(s_val[inner - 1] - 2.0 * s_val[inner] + s_val[inner + 1])
        flat = inner[curv < 0.01 * p.par["power"]]
        inner = flat if len(flat) >= 3 else inner
        k = int(rng.integers(1, 4))
        cut_rows = np.sort(rng.choice(inner, size=min(k, len(inner)), replace=False))
    return _Realized(
        t_ms,
        power,
        usage,
        mem_util,
        mem_used,
        temp,
        c_us,
        cpu,
        ram,
        ts_us,
        rec,
        int(log_end * 1e6),
        gt,
        cut_rows,
        killed,
    )


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _fmt_times(start: np.datetime64, offsets_us: np.ndarray, unit: str) -> list[str]:
    return np.datetime_as_string(start + offsets_us.astype("timedelta64[us]"), unit=unit).tolist()


def _cut(line: str, rng: np.random.Generator) -> str:
    """The line as a killed logger leaves it: cut in the middle of a field, fewer fields."""
    last = line.rfind(",")
    lo = min(12, max(last - 1, 1))
    pos = int(rng.integers(lo, last)) if last > lo else max(last, 1)
    return line[:pos]


def _gpu_lines(p: _Plan, r: _Realized, start: np.datetime64) -> str:
    env = ENVIRONMENTS[p.setting.environment]
    name = env["gpu"]
    lim = f"{env['power_limit']:.2f}"
    tot = env["mem_total"]
    iso = _fmt_times(start, r.t_ms * 1000, "ms")  # YYYY-mm-ddTHH:MM:SS.fff
    cols = zip(iso, r.usage.tolist(), r.mem_util.tolist(), r.mem_used.tolist(), r.power.tolist(), r.temp.tolist())
    if p.renamed_header:
        header = GPU_HEADER_RENAMED
        lines = [
            f"{s[:10]} {s[11:]},{name},{u} %,{mu} %,{tot} MiB,{mm} MiB,{pw:.2f} W,{lim} W,{tc}"
            for s, u, mu, mm, pw, tc in cols
        ]
    else:
        header = GPU_HEADER_NATIVE
        lines = [
            f"{s[:4]}/{s[5:7]}/{s[8:10]} {s[11:]}, {name}, {u} %, {mu} %, {tot} MiB, {mm} MiB, {pw:.2f} W, {lim} W, {tc}"
            for s, u, mu, mm, pw, tc in cols
        ]
    for i in r.cut_rows.tolist():
        lines[i] = _cut(lines[i], p.rng)
    if r.killed and lines:
        lines[-1] = _cut(lines[-1], p.rng)
        return header + "\n" + "\n".join(lines)
    return header + "\n" + "\n".join(lines) + ("\n" if lines else "")


def _cpu_lines(p: _Plan, r: _Realized, start: np.datetime64) -> str:
    iso = _fmt_times(start, r.c_us, "us")
    lines = [f"{s},{c:.3f},{m:.3f}" for s, c, m in zip(iso, r.cpu.tolist(), r.ram.tolist())]
    if r.killed and lines:
        lines[-1] = _cut(lines[-1], p.rng)
        return CPU_HEADER + "\n" + "\n".join(lines)
    return CPU_HEADER + "\n" + "\n".join(lines) + ("\n" if lines else "")


def _epoch_lines(r: _Realized, start: np.datetime64) -> str:
    if not len(r.ends_us):
        return ""
    iso = _fmt_times(start, r.ends_us, "us")
    return EPOCHS_HEADER + "\n" + "".join(f"{i},{s[:10]} {s[11:]}\n" for i, s in enumerate(iso))


def _f1(p: _Plan) -> tuple[float, float]:
    rng = p.rng
    st = p.setting
    base = ARCHITECTURES[st.architecture]["f1"]
    if base is None:  # inception_v3, frozen base
        base = {"caltech101": 0.86, "stanford_dogs": 0.74}[st.dataset]
        base += 0.06 * np.log2(st.image_size / 128.0) - 0.008 * np.log2(st.batch_size / 32.0)
    f1 = base + 0.004 * rng.standard_normal()
    if rng.random() < 0.05:
        f1 -= rng.uniform(0.02, 0.08)
    if p.defect == "short":
        f1 -= rng.uniform(0.0, 0.03)
    f1 = float(np.clip(f1, 0.05, 0.999))
    gap = 0.002 if st.dataset == "chesslive" else 0.02
    acc = float(np.clip(f1 + gap + 0.002 * rng.standard_normal(), 0.05, 0.999))
    return f1, acc


def _run_row(p: _Plan, r: _Realized, start: np.datetime64) -> tuple[dict, dict]:
    st = p.setting
    env = ENVIRONMENTS[st.environment]
    ds = DATASETS[st.dataset]
    rc = 1 if (st.oom or p.defect == "oom") else 137 if p.defect == "failed" else 0
    ok = rc == 0
    f1, acc = _f1(p) if ok else (None, None)
    n_rec = len(r.ends_us)
    train_start = np.datetime_as_string(start + np.timedelta64(r.ts_us, "us"), unit="us")
    row = {
        "run_id": p.run_id,
        "environment": st.environment,
        "gpu_model": env["gpu"],
        "architecture": st.architecture,
        "dataset": st.dataset,
        "batch_size": str(st.batch_size),
        "image_size": str(st.image_size),
        "training_size": str(ds["train"]),
        "validation_size": str(ds["val"]),
        "total_ram_gb": str(st.total_ram_gb),
        "gflops": "" if p.defect == "missing" else f"{st.gflops:.4f}",
        "return_code": str(rc),
        "f1": "" if f1 is None else f"{f1:.4f}",
        "accuracy": "" if acc is None else f"{acc:.4f}",
        "epochs_trained": str(n_rec) if ok else "",
        "train_start": f"{train_start[:10]} {train_start[11:]}",
        "images_seen": str(n_rec * ds["train"]) if ok else "",
        "experiment": st.experiment,
    }
    stab = p.stab if n_rec > p.stab else None
    gt = {
        "run_id": p.run_id,
        "gpu_energy_j": r.gt["gpu_energy_j"],
        "energy_j": r.gt["energy_j"],
        "stabilizing_epoch": stab,
        "defect": "oom" if st.oom else p.defect,
        "ram_energy_j": r.gt["ram_energy_j"],
        "duration_s": r.gt["duration_s"],
    }
    return row, gt


def _write_run(folder: Path, p: _Plan, r: _Realized, start: np.datetime64) -> None:
    folder.mkdir(parents=True)
    (folder / GPU_FILE).write_text(_gpu_lines(p, r, start), encoding="utf-8", newline="")
    (folder / CPU_FILE).write_text(_cpu_lines(p, r, start), encoding="utf-8", newline="")
    (folder / EPOCHS_FILE).write_text(_epoch_lines(r, start), encoding="utf-8", newline="")


def _write_runs_csv(path: Path, rows: list[dict], mode: str = "w") -> None:
    with open(path, mode, encoding="utf-8", newline="") as fh:
        if mode == "w":
            fh.write(",".join(RUNS_COLUMNS) + "\n")
        for row in rows:
            fh.write(",".join(row[c] for c in RUNS_COLUMNS) + "\n")


def _gt_frame(rows: list[dict]) -> pd.DataFrame:
    gt = pd.DataFrame(rows, columns=GROUND_TRUTH_COLUMNS)
    gt["stabilizing_epoch"] = pd.array(gt["stabilizing_epoch"].tolist(), dtype="Int64")
    for c in ("gpu_energy_j", "energy_j", "ram_energy_j", "duration_s"):
        gt[c] = gt[c].astype("float64")
    return gt


def _write_gt(path: Path, gt: pd.DataFrame, mode: str = "w") -> None:
    gt.to_csv(path, index=False, float_format="%.6f", mode=mode, header=(mode == "w"), lineterminator="\n")


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def _check_rates(rates: dict | None) -> dict[str, float]:
    out = dict(DEFAULT_RATES)
    for k, v in (rates or {}).items():
        if k not in DEFAULT_RATES:
            raise ValueError(f"unknown defect {k!r} in rates; known: {', '.join(DEFAULT_RATES)}")
        if not 0.0 <= float(v) <= 0.5:
            raise ValueError(f"rate of {k!r} must be in [0, 0.5], got {v!r}")
        out[k] = float(v)
    return out


def simulate_dataset(
    out: str | Path, *, seed: int = 0, scale: str = "sample", rates: dict | None = None
) -> pd.DataFrame:
    """Write a simulated measurement dataset to ``out`` (layout v1); return the ground-truth frame.

    ``out/runs.csv``, ``out/runs/<run_id>/{gpu,cpu,epochs}.csv``, ``out/ground_truth.csv`` (one row
    per run: ``run_id, gpu_energy_j, energy_j, stabilizing_epoch, defect, ram_energy_j, duration_s``)
    and ``out/dataset_info.json`` (``"synthetic": true``).  ``scale`` is one of :data:`SCALES`;
    ``rates`` overrides :data:`DEFAULT_RATES` (a rate > 0 always plants at least one run of that
    defect; 0 plants none).  The same ``seed`` and ``scale`` give byte-identical files.  The dataset is
    built in a sibling temporary folder and moved into place at the end, so a failure leaves no
    half-written dataset (and an existing ``out`` is replaced only after success).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    rates = _check_rates(rates)
    seed = int(seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        gt = _build(tmp, seed=seed, scale=scale, rates=rates)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "d")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return gt


def _build(root: Path, *, seed: int, scale: str, rates: dict) -> pd.DataFrame:
    cfg = SCALES[scale]
    design = _design(scale)
    rng = np.random.default_rng([seed, 2**31 - 1])
    params = {st: _setting_params(st) for st in {s for s, _ in design}}
    defects = _assign_defects(design, params, rates, rng)

    # stabilizing epochs: ~4% of the regular runs stabilize late (epoch 11-14)
    n = len(design)
    stab = (rng.choice(len(_STAB_P), size=n, p=_STAB_P / _STAB_P.sum()) + 1).astype(int)
    regular = [i for i in range(n) if defects[i] in ("none", "cut_lines", "missing", "outlier")]
    n_late = int(round(_LATE_STAB_SHARE * sum(d not in ("failed", "oom") for d in defects)))
    for i in rng.permutation(regular)[:n_late]:
        stab[i] = int(rng.integers(11, 15))

    group_T: dict[tuple, float] = {}
    for st, _ in design:
        if not st.oom:
            group_T[st.group] = max(group_T.get(st.group, 0.0), params[st]["T"])
    plans = [
        _plan_run(
            i,
            st,
            rep,
            defects[i],
            int(stab[i]),
            params[st],
            group_T.get(st.group, params[st]["T"]),
            cfg["epochs"],
            seed,
        )
        for i, (st, rep) in enumerate(design)
    ]

    # schedule: each environment runs its share in a shuffled order, 5-minute pauses in between
    starts: dict[int, np.datetime64] = {}
    for env_name, env in ENVIRONMENTS.items():
        idx = [p.index for p in plans if p.setting.environment == env_name]
        clock = np.datetime64(env["start"], "us")
        for j in rng.permutation(len(idx)):
            p = plans[idx[j]]
            starts[p.index] = clock
            # whole milliseconds, so that the logged ms timestamps are exact
            clock = clock + np.timedelta64(int((p.span + 300.0 + rng.uniform(0, 60)) * 1e3) * 1000 + 2_000_000, "us")

    (root / RUNS_DIR).mkdir()
    rows, gts = [], []
    for p in plans:
        r = _realize(p)
        _write_run(root / RUNS_DIR / p.run_id, p, r, starts[p.index])
        row, g = _run_row(p, r, starts[p.index])
        rows.append(row)
        gts.append(g)
    _write_runs_csv(root / RUNS_FILE, rows)
    gt = _gt_frame(gts)
    _write_gt(root / GROUND_TRUTH_FILE, gt)
    info = {
        "synthetic": True,
        "label": SYNTHETIC_LABEL,
        "seed": seed,
        "scale": scale,
        "scale_description": cfg["description"],
        "rates": rates,
        "n_runs": len(plans),
        "defect_counts": {d: int((gt["defect"] == d).sum()) for d in DEFECTS},
        "layout_version": LAYOUT_VERSION,
        "generator": f"dlenergy.simulate {__version__}",
        "images_seen": "measured epochs x training_size",
    }
    (root / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return gt


def add_run(dataset: str | Path, *, seed: int = 0) -> str:
    """Append one defect-free run to an existing simulated dataset (runs.csv, its folder, ground truth).

    The setting is drawn from ``seed`` among the completed settings of the paper's design; the run
    starts one hour after the latest ``train_start`` of the dataset.  Returns the new run id.
    """
    dataset = Path(dataset)
    runs = pd.read_csv(dataset / RUNS_FILE, dtype=str, keep_default_na=False)
    rng = np.random.default_rng([int(seed), 7])
    settings = sorted({st for st, _ in _design("full") if not st.oom}, key=lambda s: s.run_id(0))
    st = settings[int(rng.integers(len(settings)))]
    rep = 100
    while st.run_id(rep) in set(runs["run_id"]):
        rep += 1
    par = _setting_params(st)
    p = _plan_run(
        10**6 + int(seed),
        st,
        rep,
        "none",
        int(rng.integers(2, 10)),
        par,
        par["T"],
        SCALES["sample"]["epochs"],
        int(seed),
    )
    last = pd.to_datetime(runs["train_start"], errors="coerce").max()
    base = np.datetime64(last.to_datetime64(), "us") if pd.notna(last) else np.datetime64("2023-06-01T09:00:00", "us")
    start = base.astype("datetime64[s]").astype("datetime64[us]") + np.timedelta64(3600, "s")
    r = _realize(p)
    folder = dataset / RUNS_DIR / p.run_id
    _write_run(folder, p, r, start)
    row, g = _run_row(p, r, start)
    _write_runs_csv(dataset / RUNS_FILE, [row], mode="a")
    gt_path = dataset / GROUND_TRUTH_FILE
    if gt_path.is_file():
        _write_gt(gt_path, _gt_frame([g]), mode="a")
    info_path = dataset / INFO_FILE
    if info_path.is_file():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        info["n_runs"] = int(info.get("n_runs", len(runs))) + 1
        counts = info.setdefault("defect_counts", {})
        counts["none"] = int(counts.get("none", 0)) + 1
        info.setdefault("added_runs", []).append(p.run_id)
        info_path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return p.run_id


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - thin wrapper
    ap = argparse.ArgumentParser(description="Write a simulated DL-training measurement dataset (layout v1).")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", default="sample", choices=list(SCALES))
    a = ap.parse_args(argv)
    gt = simulate_dataset(a.out, seed=a.seed, scale=a.scale)
    print(f"wrote {len(gt)} runs to {a.out}; defects: {gt['defect'].value_counts().sort_index().to_dict()}")


if __name__ == "__main__":  # pragma: no cover
    main()
