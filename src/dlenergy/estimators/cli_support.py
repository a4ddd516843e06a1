"""The work behind ``dlenergy estimate`` (offline, before training) and ``dlenergy project`` (online,
during training): computations that return plain dicts (the ``--json`` output) and rich renderings.

Both refuse inputs outside what the method supports with :class:`RefusedInput` (the CLI exits 2):
an unknown GPU, inputs outside the offline model's training domain (unless ``extrapolate``), fewer
measured stable epochs than the window, a window longer than the planned stable part.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..gpu_specs import UnknownGPUError, lookup_gpu
from .offline import load_offline_model
from .online import epoch_energy_projection, online_terms, projected_duration

#: where ``dlenergy estimate`` looks for models, in order of preference: the SEAA 2023 power model
#: (real measurements; its logs have no epoch markers, so no epoch-energy model), then the synthetic
#: sample's models
DEFAULT_MODEL_DIRS = ("results/seaa2023/models", "results/sample/models")
KINDS = ("offline_power", "offline_epoch_energy")

#: option -> (lowest, lowest allowed?, highest): numbers outside are refused as absurd
LIMITS = {
    "--ram-gb": (0.0, False, 1e5),
    "--gflops": (0.0, False, 1e6),
    "--train-size": (1, True, 1e10),
    "--val-size": (0, True, 1e10),
    "--batch-size": (1, True, 1e7),
    "--image-size": (1, True, 1e5),
    "--epochs": (1, True, 1e6),
    "--duration-s": (0.0, False, 3.2e8),  # about ten years
    "--planned-epochs": (1, True, 1e6),
    "--window": (1, True, 1e6),
    "--stabilizing-epoch": (0, True, 1e6),
}
#: a training window may start this much before the GPU log's first sample (s)
LOG_TOLERANCE_S = 60.0


class RefusedInput(ValueError):
    """Inputs the estimator was not built for; the message says why."""


class NoModel(FileNotFoundError):
    """No offline model to use."""


def check_number(option: str, value) -> None:
    """Refuse (:class:`RefusedInput`) a value of ``option`` that is not finite or outside :data:`LIMITS`.

    Examples
    --------
    >>> check_number("--gflops", 2.5)
    >>> check_number("--gflops", float("nan"))
    Traceback (most recent call last):
    dlenergy.estimators.cli_support.RefusedInput: --gflops must be a finite number, not nan
    """
    if value is None:
        return
    lo, lo_ok, hi = LIMITS[option]
    v = float(value)
    if not math.isfinite(v):
        raise RefusedInput(f"{option} must be a finite number, not {value}")
    if v < lo or (v == lo and not lo_ok) or v > hi:
        raise RefusedInput(
            f"{option} {v:.15g} is out of range: it must be {'>=' if lo_ok else '>'} {lo:g} and <= {hi:g}"
        )


def _check_energies(values: dict[str, float], why: str) -> None:
    for name, v in values.items():
        if v is None or not math.isfinite(v) or v <= 0:
            raise RefusedInput(f"{name} would be {'missing' if v is None else format(v, 'g')}: {why}")


# ----------------------------------------------------------------------------- estimate (offline)


def _usable(mdir: Path) -> tuple[dict, dict]:
    """The usable models of ``mdir`` by kind, and why each other kind is missing."""
    models, missing = {}, {}
    for kind in KINDS:
        try:
            models[kind] = load_offline_model(mdir, kind)
        except FileNotFoundError as exc:
            missing[kind] = str(exc)
    return models, missing


def fitted_on(model) -> dict:
    """What a loaded model was fitted on: ``kind`` (real, synthetic or unknown), ``source``,
    ``label``, ``n_runs``, from its schema."""
    s = model.schema
    kind = s.get("data_kind")
    if kind not in ("real", "synthetic"):
        kind = "synthetic" if "synthetic" in str(s.get("data_label") or "").lower() else "unknown"
    return {
        "kind": kind,
        "source": s.get("source"),
        "label": s.get("data_label"),
        "n_runs": s.get("n_train"),
        "model": s.get("kind"),
        "model_dir": str(model.path),
    }


def headline(f: dict) -> str:
    """The first line of ``estimate``'s output: which data the model was fitted on."""
    what = {"real": "REAL measurements", "synthetic": "SYNTHETIC data"}.get(f["kind"], "data of unknown origin")
    detail = ", ".join(x for x in (f.get("label"), f"{f['n_runs']} runs" if f.get("n_runs") else None) if x)
    return f"Model fitted on {what}: {f['source'] or f['model_dir']}" + (f" ({detail})" if detail else "")


def choose_models(model_dir, duration_s: float | None) -> tuple[dict, list[str]]:
    """The models ``estimate`` answers with (all from one folder), and notes on how they were chosen.

    ``model_dir`` given: that folder only.  Else the first of :data:`DEFAULT_MODEL_DIRS` with a usable
    model; when it lacks the model the inputs need (the epoch-energy model, without ``--duration-s``),
    the next folder that has it, with a note saying so.
    """
    dirs = [Path(model_dir)] if model_dir is not None else [Path(d) for d in DEFAULT_MODEL_DIRS]
    found = [(d, *_usable(d)) for d in dirs if d.is_dir()]
    found = [f for f in found if f[1]]
    if not found:
        if model_dir is not None:
            raise NoModel(f"{model_dir} holds no usable offline model (offline_power / offline_epoch_energy)")
        raise NoModel(
            "no offline model found (looked in " + ", ".join(DEFAULT_MODEL_DIRS) + "). Train one with the "
            "pipeline, e.g. `snakemake --cores 2 --config source=sample` (writes results/sample/models/), "
            "or pass --model-dir results/<source>/models"
        )
    d0, models, missing = found[0]
    notes = [f"{d0}: no {k.replace('_', ' ')} model ({missing[k]})" for k in KINDS if k in missing]
    if duration_s is not None or "offline_epoch_energy" in models:
        return models, notes
    for d, other, _ in found[1:]:
        if "offline_epoch_energy" in other:
            f = fitted_on(other["offline_epoch_energy"])
            notes.append(
                f"{d0} has only a power model, which needs --duration-s: falling back to the epoch-energy "
                f"model of {d} (fitted on {f['kind']} data: {f['source']}); pass --duration-s to use {d0}"
            )
            return other, notes
    raise RefusedInput(
        f"{d0} has only a power model (energy = predicted mean power x duration) and no epoch-energy "
        "model: pass --duration-s (the expected training duration in seconds)"
    )


def _domain_problems(inputs: dict, spec, models: dict) -> tuple[pd.DataFrame, list[str]]:
    any_model = next(iter(models.values()))
    F = any_model.features(inputs)
    problems = []
    if spec.name not in any_model.schema["gpus"]:
        problems.append(
            f"GPU {inputs['gpu_model']!r} ({spec.name}) is not among the GPUs the model was trained on "
            f"({', '.join(any_model.schema['gpus'])})"
        )
    for m in models.values():
        problems += [p for p in m.check(F) if p not in problems]
    return F, problems


def estimate_offline(
    inputs: dict, *, epochs: int, duration_s: float | None = None, model_dir=None, extrapolate: bool = False
) -> dict:
    """Energy of a training run before it starts, from the offline models (:func:`choose_models`).

    ``inputs``: ``gpu_model, total_ram_gb, gflops, training_size, validation_size, batch_size,
    image_size``.  With ``duration_s`` the power-based estimate (the paper's better offline method)
    is the answer, else the epoch-energy-based one; both are reported when available.  ``fitted_on``
    says which data the answering model was fitted on (real or synthetic, source, runs).
    """
    for opt, key in (
        ("--ram-gb", "total_ram_gb"),
        ("--gflops", "gflops"),
        ("--train-size", "training_size"),
        ("--val-size", "validation_size"),
        ("--batch-size", "batch_size"),
        ("--image-size", "image_size"),
    ):
        check_number(opt, inputs[key])
    check_number("--epochs", epochs)
    check_number("--duration-s", duration_s)
    try:
        spec = lookup_gpu(inputs["gpu_model"])
    except UnknownGPUError as exc:
        raise RefusedInput(str(exc)) from None
    models, notes = choose_models(model_dir, duration_s)
    F, problems = _domain_problems(inputs, spec, models)
    if problems and not extrapolate:
        raise RefusedInput(
            "inputs outside what the offline model was trained on (pass --extrapolate to estimate "
            "anyway, or --model-dir for another model): " + "; ".join(problems)
        )
    mdir = next(iter(models.values())).path
    out = {
        "method": None,
        "energy_j": None,
        "inputs": {**inputs, "epochs": int(epochs), "duration_s": duration_s},
        "gpu_spec": spec.as_dict(),
        "features": {c: float(F[c].iloc[0]) for c in F.columns},
        "model_dir": str(mdir),
        "by_method": {},
        "models": {},
        "extrapolated": bool(problems),
        "notes": notes,
        "warnings": problems,
    }
    for kind, m in models.items():
        s = m.schema
        out["models"][kind] = {
            "model": s["model_name"],
            "n_train": s["n_train"],
            "cv": s["cv"],
            "source": s.get("source"),
            "target": s["target"],
            "target_unit": s["target_unit"],
            "data_label": s.get("data_label"),
            "fitted_on": fitted_on(m),
            "ratio_quantiles": s["ratio_quantiles"],
        }
    _add_methods(out, models, epochs, duration_s)
    method = "offline_power_based" if "offline_power_based" in out["by_method"] else "offline_epoch_energy_based"
    out.update(
        method=method, energy_j=out["by_method"][method]["energy_j"], range_j=out["by_method"][method]["range_j"]
    )
    out["fitted_on"] = out["models"]["offline_power" if method == "offline_power_based" else "offline_epoch_energy"][
        "fitted_on"
    ]
    out["headline"] = headline(out["fitted_on"])
    return out


def _add_methods(out: dict, models: dict, epochs: int, duration_s: float | None) -> None:
    """The power-based (with ``duration_s``) and epoch-energy-based estimates of the models there are."""
    F = pd.DataFrame([out["features"]])
    why = "the model extrapolates to an impossible value for these inputs"
    if "offline_power" in models:
        p = models["offline_power"].predict_target(F)
        _check_energies({"the predicted average power (W)": p}, why)
        out["average_power_w"] = p
        if duration_s is not None:
            q = models["offline_power"].schema["ratio_quantiles"]
            e = p * float(duration_s)
            out["by_method"]["offline_power_based"] = {"energy_j": e, "range_j": [e * q["q05"], e * q["q95"]]}
    if "offline_epoch_energy" in models:
        ee = models["offline_epoch_energy"].predict_target(F)
        _check_energies({"the predicted energy per epoch (J)": ee}, why)
        q = models["offline_epoch_energy"].schema["ratio_quantiles"]
        e = ee * int(epochs)
        out["epoch_energy_j"] = ee
        out["by_method"]["offline_epoch_energy_based"] = {"energy_j": e, "range_j": [e * q["q05"], e * q["q95"]]}
        if "average_power_w" in out:
            out["implied_duration_s"] = e / out["average_power_w"]
    if not out["by_method"]:
        raise RefusedInput(
            f"the power-based model needs --duration-s (the expected training duration) and there is "
            f"no epoch-energy model in {out['model_dir']}"
        )
    for name, v in out["by_method"].items():
        _check_energies({f"the {name.replace('_', ' ')} energy (J)": v["energy_j"]}, why)


# ----------------------------------------------------------------------------- project (online)


def parse_time(option: str, text: str | None) -> pd.Timestamp | None:
    """``text`` as a timestamp, or :class:`RefusedInput` naming ``option``.

    Examples
    --------
    >>> parse_time("--train-start", "2024-05-01 10:00:00")
    Timestamp('2024-05-01 10:00:00')
    """
    if text is None:
        return None
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts):
        raise RefusedInput(f"{option} {text!r} is not a date and time (e.g. '2024-05-01 10:00:00')")
    return ts


def _seconds(ts: pd.Timestamp) -> float:
    """Seconds since the epoch on the logs' clock (a zone is dropped: wall time, as ``run_energy``)."""
    ts = ts.tz_localize(None) if ts.tzinfo is not None else ts
    return float(np.datetime64(ts, "us").astype("int64")) / 1e6


def check_logs(
    gpu: pd.DataFrame, cpu: pd.DataFrame | None, ep: pd.DataFrame, train_start: pd.Timestamp | None, names: dict
) -> None:
    """Refuse logs that cannot give a measured energy: negative power or memory, a training start
    after the first epoch's end, or before the GPU log begins (by more than :data:`LOG_TOLERANCE_S`)."""
    neg = gpu["power_w"].to_numpy(dtype=np.float64) < 0
    if neg.any():
        raise RefusedInput(
            f"{names['gpu']}: {int(neg.sum())} negative power value(s) (first: "
            f"{gpu['power_w'][neg].iloc[0]:g} W): a measured energy cannot be negative"
        )
    if cpu is not None and (cpu["ram_used_mb"].to_numpy(dtype=np.float64) < 0).any():
        raise RefusedInput(f"{names['cpu']}: negative memory usage: a measured RAM energy cannot be negative")
    if train_start is None:
        return
    ts, first_end = _seconds(train_start), _seconds(pd.Timestamp(ep["end_time"].iloc[0]))
    if ts >= first_end:
        raise RefusedInput(
            f"--train-start {train_start} is not before the end of epoch {int(ep['epoch'].iloc[0])} "
            f"({ep['end_time'].iloc[0]}): the training cannot start after its epochs"
        )
    lead = float(gpu["t"].iloc[0]) - ts
    if lead > LOG_TOLERANCE_S:
        raise RefusedInput(
            f"--train-start {train_start} is {lead:.0f} s before the first sample of {names['gpu']}: "
            "the log does not cover the training's start"
        )


def project_online(
    gpu_log: str | Path,
    epochs_file: str | Path,
    planned_epochs: int,
    *,
    window: int = 5,
    stabilizing_epoch: str | int = 10,
    start: str = "stabilizing",
    cpu_log: str | Path | None = None,
    train_start: str | None = None,
) -> dict:
    """Projected total energy of a training still running, from what its logs hold so far."""
    from ..energy import run_energy
    from ..parsing import read_cpu_log, read_epochs, read_gpu_log

    check_number("--planned-epochs", planned_epochs)
    check_number("--window", window)
    if str(stabilizing_epoch) != "auto":
        check_number("--stabilizing-epoch", stabilizing_epoch)
    if start not in ("stabilizing", "latest"):
        raise RefusedInput(f"--start must be 'stabilizing' or 'latest', not {start!r}")
    ts = parse_time("--train-start", train_start)
    for opt, path in (("--gpu-log", gpu_log), ("--epochs", epochs_file), ("--cpu-log", cpu_log)):
        if path is not None and not Path(path).is_file():
            raise RefusedInput(f"{opt} {path}: no such file")
    gpu, _ = read_gpu_log(gpu_log)
    ep = read_epochs(epochs_file)
    if len(gpu) < 2:
        raise RefusedInput(f"{gpu_log}: {len(gpu)} GPU sample(s); need at least 2")
    if ep.empty:
        raise RefusedInput(f"{epochs_file}: no epoch has ended yet")
    cpu = read_cpu_log(cpu_log)[0] if cpu_log else None
    check_logs(gpu, cpu, ep, ts, {"gpu": gpu_log, "cpu": cpu_log})
    e = run_energy(gpu, cpu, ep, ts).epochs
    if int(planned_epochs) < len(e):
        raise RefusedInput(f"--planned-epochs {planned_epochs} is fewer than the {len(e)} epochs already measured")
    _check_epoch_energies(e, epochs_file)
    s0, s0_src = _stabilizing(stabilizing_epoch, gpu, e)
    labels = e["epoch"].to_numpy(dtype=np.int64)
    a = max(int(labels.max()) - int(window) + 1, s0) if start == "latest" else s0
    terms = online_terms(e, s0, int(window), a, planned_epochs=int(planned_epochs))
    if not terms["ok"]:
        raise RefusedInput(terms["reason"])
    out = _projection(terms, e, cpu is not None)
    out["inputs"] = {
        "gpu_log": str(gpu_log),
        "epochs": str(epochs_file),
        "planned_epochs": int(planned_epochs),
        "window": int(window),
        "stabilizing_epoch": s0,
        "stabilizing_epoch_source": s0_src,
        "start": start,
        "cpu_log": str(cpu_log) if cpu_log else None,
        "train_start": train_start,
    }
    return out


def _check_epoch_energies(e: pd.DataFrame, epochs_file) -> None:
    """Every measured epoch has a positive duration and a finite, non-negative energy."""
    bad_d = ~(e["duration_s"].to_numpy(dtype=np.float64) > 0)
    bad_e = ~(e["energy_j"].to_numpy(dtype=np.float64) >= 0)
    for bad, what in ((bad_d, "a duration that is not positive"), (bad_e, "no finite, non-negative energy")):
        if bad.any():
            k = int(e["epoch"].to_numpy()[bad][0])
            raise RefusedInput(
                f"{epochs_file}: epoch {k} has {what} in the logs (is the GPU log shorter than the "
                "epochs, or --train-start wrong?)"
            )


def _stabilizing(stabilizing_epoch, gpu: pd.DataFrame, e: pd.DataFrame) -> tuple[int, str]:
    from ..fluss import FlussParams
    from ..fluss import stabilizing_epoch as fluss_epoch

    if str(stabilizing_epoch) != "auto":
        s0 = int(stabilizing_epoch)
        return s0, ("the paper's epoch 10" if s0 == 10 else "given")
    r = fluss_epoch(gpu, e, FlussParams())
    if r["status"] not in ("ok", "no_change"):
        raise RefusedInput(
            f"--stabilizing-epoch auto: FLUSS cannot segment the log yet ({r['reason']}); "
            "give an epoch number (the paper's: 10)"
        )
    return int(r["stabilizing_epoch"]), "FLUSS on the log so far"


def _projection(terms: dict, e: pd.DataFrame, has_ram_log: bool) -> dict:
    """The ``project`` answer from the terms of equations 1 and 2."""
    E_epoch = epoch_energy_projection(terms)
    t_proj = projected_duration(terms)
    E_power = terms["P_w"] * t_proj
    _check_energies(
        {"the projected energy (J)": E_epoch, "the power-based projection (J)": E_power},
        "the logs do not hold a usable measurement",
    )
    so_far = float(e["energy_j"].sum())
    return {
        "method": "online_epoch_energy_based",
        "energy_j": E_epoch,
        "by_method": {
            "online_epoch_energy_based": {"energy_j": E_epoch},
            "online_power_based": {"energy_j": E_power, "projected_duration_s": t_proj},
        },
        "measured": {
            "epochs": len(e),
            "energy_j": so_far,
            "duration_s": float(e["duration_s"].sum()),
            "gpu_energy_j": float(e["gpu_energy_j"].sum()),
            "has_ram_log": has_ram_log,
        },
        "remaining_energy_j": E_epoch - so_far,
        "window_epochs": terms["window_epochs"],
        "unstable_epochs": terms["unstable_epochs"],
        "stable_epochs_planned": terms["s"],
        "window_energy_j": terms["E_w"],
        "window_mean_power_w": terms["P_w"],
        "unstable_energy_j": terms["E_u"],
    }


# ----------------------------------------------------------------------------- rendering


def _kj(j) -> str:
    return f"{j / 1e3:,.2f} kJ" if j is not None and np.isfinite(j) else "n/a"


def render_estimate(out: dict, console) -> None:
    """The readable ``estimate`` output; its first line names the data the model was fitted on."""
    from rich.markup import escape
    from rich.table import Table

    color = {"real": "bold green", "synthetic": "bold #a6361c"}.get(out["fitted_on"]["kind"], "bold yellow")
    console.print(f"[{color}]{escape(out['headline'])}[/]", soft_wrap=True, highlight=False)
    for n in out["notes"]:
        console.print(f"[yellow]note:[/] {escape(n)}", soft_wrap=True, highlight=False)
    t = Table(title="Offline energy estimate (before training)", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    inp = out["inputs"]
    g = out["gpu_spec"]
    t.add_row(
        "GPU",
        escape(f"{inp['gpu_model']} -> {g['name']}")
        + f" ({g['cuda_cores']} CUDA cores, {g['memory_gb']:g} GB, TDP {g['tdp_w']:g} W)",
    )
    t.add_row(
        "Settings",
        f"RAM {inp['total_ram_gb']:g} GB, {inp['gflops']:g} GFLOPs, train {inp['training_size']}, "
        f"val {inp['validation_size']}, batch {inp['batch_size']}, input {inp['image_size']} px, "
        f"{inp['epochs']} epochs" + (f", {inp['duration_s']:g} s" if inp.get("duration_s") else ""),
    )
    lo, hi = out["range_j"]
    t.add_row(
        "Energy",
        f"[bold green]{_kj(out['energy_j'])}[/] ({out['method'].replace('_', ' ')}); 90 % range {_kj(lo)} .. {_kj(hi)}",
    )
    if "average_power_w" in out:
        t.add_row("Average power", f"{out['average_power_w']:.1f} W")
    if "epoch_energy_j" in out:
        t.add_row("Energy per epoch", _kj(out["epoch_energy_j"]))
    if "implied_duration_s" in out and not inp.get("duration_s"):
        t.add_row("Implied duration", f"{out['implied_duration_s']:.0f} s (epoch energy / average power)")
    for name, v in out["by_method"].items():
        t.add_row(
            name.replace("_", " "), f"{_kj(v['energy_j'])} (range {_kj(v['range_j'][0])} .. {_kj(v['range_j'][1])})"
        )
    for kind, m in out["models"].items():
        f = m["fitted_on"]
        t.add_row(  # names, sources and targets come from files: escaped, so "[...]" in one is text
            escape(kind.replace("_", " ") + " model"),
            escape(
                f"{m['model']}, fitted on {m['n_train']} {f['kind']} runs of source "
                f"'{m['source']}', CV RMSE {m['cv']['rmse']:.3g} {m['target_unit']} ({m['target']})"
            ),
        )
    console.print(t)
    for w in out["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True, highlight=False)


def render_projection(out: dict, console) -> None:
    from rich.table import Table

    inp = out["inputs"]
    t = Table(title="Online energy projection (during training)", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    m = out["measured"]
    t.add_row(
        "Measured so far",
        f"{m['epochs']} epochs, {m['duration_s']:.0f} s, {_kj(m['energy_j'])}"
        + ("" if m["has_ram_log"] else " (GPU only: no --cpu-log)"),
    )
    t.add_row("Stabilizing epoch", f"{inp['stabilizing_epoch']} ({inp['stabilizing_epoch_source']})")
    w = out["window_epochs"]
    t.add_row(
        "Window",
        f"epochs {w[0]}..{w[-1]} (w = {len(w)}): {_kj(out['window_energy_j'])}, {out['window_mean_power_w']:.1f} W",
    )
    u = out["unstable_epochs"]
    t.add_row("Unstable epochs", (f"{u[0]}..{u[-1]}: " if u else "none: ") + _kj(out["unstable_energy_j"]))
    t.add_row("Planned", f"{inp['planned_epochs']} epochs ({out['stable_epochs_planned']} stable)")
    t.add_row(
        "Projected energy",
        f"[bold green]{_kj(out['energy_j'])}[/] (epoch-energy-based, eq. 2); "
        f"remaining {_kj(out['remaining_energy_j'])}",
    )
    pb = out["by_method"]["online_power_based"]
    t.add_row("Power-based (eq. 1)", f"{_kj(pb['energy_j'])} over a projected {pb['projected_duration_s']:.0f} s")
    console.print(t)
