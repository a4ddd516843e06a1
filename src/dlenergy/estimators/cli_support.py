"""The work behind ``dlenergy estimate`` (offline, before training) and ``dlenergy project`` (online,
during training): computations that return plain dicts (the ``--json`` output) and rich renderings.

Both refuse inputs outside what the method supports with :class:`RefusedInput` (the CLI exits 2):
an unknown GPU, inputs outside the offline model's training domain (unless ``extrapolate``), fewer
measured stable epochs than the window, a window longer than the planned stable part.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..gpu_specs import UnknownGPUError, lookup_gpu
from .offline import load_offline_model
from .online import online_terms

DEFAULT_MODEL_DIRS = ("results/sample/models",)


class RefusedInput(ValueError):
    """Inputs the estimator was not built for; the message says why."""


class NoModel(FileNotFoundError):
    """No offline model to use."""


# ----------------------------------------------------------------------------- estimate (offline)


def find_model_dir(model_dir: str | Path | None) -> Path:
    if model_dir is not None:
        p = Path(model_dir)
        if not (p / "offline_power.json").is_file() and not (p / "offline_epoch_energy.json").is_file():
            raise NoModel(f"{p} holds no offline model (offline_power.json / offline_epoch_energy.json)")
        return p
    for cand in DEFAULT_MODEL_DIRS:
        p = Path(cand)
        if (p / "offline_power.json").is_file() or (p / "offline_epoch_energy.json").is_file():
            return p
    raise NoModel(
        "no offline model found (looked in " + ", ".join(DEFAULT_MODEL_DIRS) + "). Train one with the pipeline, "
        "e.g. `snakemake --cores 2 --config source=sample` (writes results/sample/models/), "
        "or pass --model-dir results/<source>/models"
    )


def estimate_offline(inputs: dict, *, epochs: int, duration_s: float | None = None, model_dir=None,
                     extrapolate: bool = False) -> dict:
    """Energy of a training run before it starts, from the offline models in ``model_dir``.

    ``inputs``: ``gpu_model, total_ram_gb, gflops, training_size, validation_size, batch_size,
    image_size``.  With ``duration_s`` the power-based estimate (the paper's better offline method)
    is the answer, else the epoch-energy-based one; both are reported when available.
    """
    try:
        spec = lookup_gpu(inputs["gpu_model"])
    except UnknownGPUError as exc:
        raise RefusedInput(str(exc)) from None
    mdir = find_model_dir(model_dir)
    models, problems, notes = {}, [], []
    for kind in ("offline_power", "offline_epoch_energy"):
        try:
            models[kind] = load_offline_model(mdir, kind)
        except FileNotFoundError as exc:
            notes.append(str(exc))
    if not models:
        raise NoModel("; ".join(notes))
    any_model = next(iter(models.values()))
    F = any_model.features(inputs)
    if spec.name not in any_model.schema["gpus"]:
        problems.append(f"GPU {inputs['gpu_model']!r} ({spec.name}) is not among the GPUs the model was trained on "
                        f"({', '.join(any_model.schema['gpus'])})")
    for m in models.values():
        for p in m.check(F):
            if p not in problems:
                problems.append(p)
    if problems and not extrapolate:
        raise RefusedInput("inputs outside what the offline model was trained on (pass --extrapolate to estimate "
                           "anyway):\n  - " + "\n  - ".join(problems))
    out = {"method": None, "energy_j": None, "inputs": {**inputs, "epochs": int(epochs), "duration_s": duration_s},
           "gpu_spec": spec.as_dict(), "features": {c: float(F[c].iloc[0]) for c in F.columns}, "model_dir": str(mdir),
           "by_method": {}, "models": {}, "extrapolated": bool(problems), "warnings": problems + notes}
    for kind, m in models.items():
        s = m.schema
        out["models"][kind] = {"model": s["model_name"], "n_train": s["n_train"], "cv": s["cv"], "source": s.get("source"),
                               "target": s["target"], "target_unit": s["target_unit"],
                               "data_label": s.get("data_label"), "ratio_quantiles": s["ratio_quantiles"]}
    if "offline_power" in models:
        p = models["offline_power"].predict_target(F)
        out["average_power_w"] = p
        if duration_s is not None:
            q = models["offline_power"].schema["ratio_quantiles"]
            e = p * float(duration_s)
            out["by_method"]["offline_power_based"] = {"energy_j": e, "range_j": [e * q["q05"], e * q["q95"]]}
    if "offline_epoch_energy" in models:
        ee = models["offline_epoch_energy"].predict_target(F)
        q = models["offline_epoch_energy"].schema["ratio_quantiles"]
        e = ee * int(epochs)
        out["epoch_energy_j"] = ee
        out["by_method"]["offline_epoch_energy_based"] = {"energy_j": e, "range_j": [e * q["q05"], e * q["q95"]]}
        if "average_power_w" in out and out["average_power_w"] > 0:
            out["implied_duration_s"] = e / out["average_power_w"]
    if not out["by_method"]:
        raise RefusedInput("the power-based model needs --duration-s (the expected training duration) "
                           "and there is no epoch-energy model in " + str(mdir))
    method = "offline_power_based" if "offline_power_based" in out["by_method"] else "offline_epoch_energy_based"
    out["method"] = method
    out["energy_j"] = out["by_method"][method]["energy_j"]
    out["range_j"] = out["by_method"][method]["range_j"]
    return out


# ----------------------------------------------------------------------------- project (online)


def project_online(gpu_log: str | Path, epochs_file: str | Path, planned_epochs: int, *, window: int = 5,
                   stabilizing_epoch: str | int = 10, start: str = "stabilizing", cpu_log: str | Path | None = None,
                   train_start: str | None = None) -> dict:
    """Projected total energy of a training still running, from what its logs hold so far."""
    from ..energy import run_energy
    from ..fluss import FlussParams
    from ..fluss import stabilizing_epoch as fluss_epoch
    from ..parsing import read_cpu_log, read_epochs, read_gpu_log

    gpu, _ = read_gpu_log(gpu_log)
    ep = read_epochs(epochs_file)
    if len(gpu) < 2:
        raise RefusedInput(f"{gpu_log}: {len(gpu)} GPU sample(s); need at least 2")
    if ep.empty:
        raise RefusedInput(f"{epochs_file}: no epoch has ended yet")
    cpu = read_cpu_log(cpu_log)[0] if cpu_log else None
    res = run_energy(gpu, cpu, ep, pd.Timestamp(train_start) if train_start else None)
    e = res.epochs
    n_done = len(e)
    if planned_epochs < n_done:
        raise RefusedInput(f"--planned-epochs {planned_epochs} is fewer than the {n_done} epochs already measured")
    if str(stabilizing_epoch) == "auto":
        r = fluss_epoch(gpu, e, FlussParams())
        if r["status"] not in ("ok", "no_change"):
            raise RefusedInput(f"--stabilizing-epoch auto: FLUSS cannot segment the log yet ({r['reason']}); "
                               "give an epoch number (the paper's: 10)")
        s0, s0_src = int(r["stabilizing_epoch"]), "FLUSS on the log so far"
    else:
        s0, s0_src = int(stabilizing_epoch), "given" if int(stabilizing_epoch) != 10 else "the paper's epoch 10"
    labels = e["epoch"].to_numpy(dtype=np.int64)
    if start == "latest":
        a = int(labels.max()) - int(window) + 1
        a = max(a, s0)
    elif start == "stabilizing":
        a = s0
    else:
        raise RefusedInput(f"--start must be 'stabilizing' or 'latest', not {start!r}")
    terms = online_terms(e, s0, int(window), a, planned_epochs=int(planned_epochs))
    if not terms["ok"]:
        raise RefusedInput(terms["reason"])
    E_epoch = terms["E_w"] * terms["s"] / terms["w"] + terms["E_u"]
    t_proj = terms["d_u"] + terms["s"] * terms["d_w"] / terms["w"]
    E_power = terms["P_w"] * t_proj
    so_far = float(e["energy_j"].sum())
    return {
        "method": "online_epoch_energy_based",
        "energy_j": E_epoch,
        "by_method": {"online_epoch_energy_based": {"energy_j": E_epoch},
                      "online_power_based": {"energy_j": E_power, "projected_duration_s": t_proj}},
        "measured": {"epochs": n_done, "energy_j": so_far, "duration_s": float(e["duration_s"].sum()),
                     "gpu_energy_j": float(e["gpu_energy_j"].sum()), "has_ram_log": cpu is not None},
        "remaining_energy_j": E_epoch - so_far,
        "window_epochs": terms["window_epochs"],
        "unstable_epochs": terms["unstable_epochs"],
        "stable_epochs_planned": terms["s"],
        "window_energy_j": terms["E_w"],
        "window_mean_power_w": terms["P_w"],
        "unstable_energy_j": terms["E_u"],
        "inputs": {"gpu_log": str(gpu_log), "epochs": str(epochs_file), "planned_epochs": int(planned_epochs),
                   "window": int(window), "stabilizing_epoch": s0, "stabilizing_epoch_source": s0_src,
                   "start": start, "cpu_log": str(cpu_log) if cpu_log else None, "train_start": train_start},
    }


# ----------------------------------------------------------------------------- rendering


def _kj(j) -> str:
    return f"{j / 1e3:,.2f} kJ" if j is not None and np.isfinite(j) else "n/a"


def render_estimate(out: dict, console) -> None:
    from rich.table import Table

    t = Table(title="Offline energy estimate (before training)", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    inp = out["inputs"]
    g = out["gpu_spec"]
    t.add_row("GPU", f"{inp['gpu_model']} -> {g['name']} ({g['cuda_cores']} CUDA cores, {g['memory_gb']:g} GB, TDP {g['tdp_w']:g} W)")
    t.add_row("Settings", f"RAM {inp['total_ram_gb']:g} GB, {inp['gflops']:g} GFLOPs, train {inp['training_size']}, "
                          f"val {inp['validation_size']}, batch {inp['batch_size']}, input {inp['image_size']} px, "
                          f"{inp['epochs']} epochs" + (f", {inp['duration_s']:g} s" if inp.get("duration_s") else ""))
    lo, hi = out["range_j"]
    t.add_row("Energy", f"[bold green]{_kj(out['energy_j'])}[/] ({out['method'].replace('_', ' ')}); "
                        f"90 % range {_kj(lo)} .. {_kj(hi)}")
    if "average_power_w" in out:
        t.add_row("Average power", f"{out['average_power_w']:.1f} W")
    if "epoch_energy_j" in out:
        t.add_row("Energy per epoch", _kj(out["epoch_energy_j"]))
    if "implied_duration_s" in out and not inp.get("duration_s"):
        t.add_row("Implied duration", f"{out['implied_duration_s']:.0f} s (epoch energy / average power)")
    for name, v in out["by_method"].items():
        t.add_row(name.replace("_", " "), f"{_kj(v['energy_j'])} (range {_kj(v['range_j'][0])} .. {_kj(v['range_j'][1])})")
    for kind, m in out["models"].items():
        t.add_row(kind.replace("_", " ") + " model", f"{m['model']}, {m['n_train']} training runs of source "
                  f"'{m['source']}', CV RMSE {m['cv']['rmse']:.3g} {m['target_unit']} ({m['target']})")
    console.print(t)
    labels = {m["data_label"] for m in out["models"].values() if m.get("data_label")}
    for lab in labels:
        console.print(f"[bold #a6361c]Model trained on: {lab}[/]")
    for w in out["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")


def render_projection(out: dict, console) -> None:
    from rich.table import Table

    inp = out["inputs"]
    t = Table(title="Online energy projection (during training)", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    m = out["measured"]
    t.add_row("Measured so far", f"{m['epochs']} epochs, {m['duration_s']:.0f} s, {_kj(m['energy_j'])}"
                                 + ("" if m["has_ram_log"] else " (GPU only: no --cpu-log)"))
    t.add_row("Stabilizing epoch", f"{inp['stabilizing_epoch']} ({inp['stabilizing_epoch_source']})")
    w = out["window_epochs"]
    t.add_row("Window", f"epochs {w[0]}..{w[-1]} (w = {len(w)}): {_kj(out['window_energy_j'])}, "
                        f"{out['window_mean_power_w']:.1f} W")
    u = out["unstable_epochs"]
    t.add_row("Unstable epochs", (f"{u[0]}..{u[-1]}: " if u else "none: ") + _kj(out["unstable_energy_j"]))
    t.add_row("Planned", f"{inp['planned_epochs']} epochs ({out['stable_epochs_planned']} stable)")
    t.add_row("Projected energy", f"[bold green]{_kj(out['energy_j'])}[/] (epoch-energy-based, eq. 2); "
                                  f"remaining {_kj(out['remaining_energy_j'])}")
    pb = out["by_method"]["online_power_based"]
    t.add_row("Power-based (eq. 1)", f"{_kj(pb['energy_j'])} over a projected {pb['projected_duration_s']:.0f} s")
    console.print(t)
