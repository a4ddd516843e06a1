"""The readable output of `dlenergy estimate` and `dlenergy project` (``render_estimate``,
``render_projection``) and the clock of ``_seconds``, asserted exactly.

The ``out`` dicts are written by hand with round numbers (the shape ``estimate_offline`` and
``project_online`` return); every expected line is worked out by hand from the format the output
promises (``_kj``: kJ with thousands separators and 2 decimals; ``:g``; ``.1f``; ``.0f``; ``.3g``).
The table layout (square box, one space of padding, no header, title left-justified over the
table's width) is written out independently by :func:`table`."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pandas as pd
import pytest
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

from dlenergy.estimators.cli_support import _seconds, render_estimate, render_projection

EST_TITLE = "Offline energy estimate (before training)"
PROJ_TITLE = "Online energy projection (during training)"


def console(color: bool = False) -> Console:
    return Console(record=True, width=200, color_system="truecolor" if color else None, force_terminal=False)


def styled(style: str, text: str) -> str:
    """``text`` in ``style`` as a truecolor terminal gets it."""
    return Style.parse(style).render(text, color_system=ColorSystem.TRUECOLOR)


def table(title: str, rows: list[tuple[str, str]]) -> list[str]:
    """A two-column table without header as rich draws it: title padded to the table's width, then
    the box (``│ label │ value │``, columns as wide as their widest cell)."""
    w1 = max(len(a) for a, _ in rows)
    w2 = max(len(b) for _, b in rows)
    return [
        title.ljust(w1 + w2 + 7),
        "┌" + "─" * (w1 + 2) + "┬" + "─" * (w2 + 2) + "┐",
        *[f"│ {a.ljust(w1)} │ {b.ljust(w2)} │" for a, b in rows],
        "└" + "─" * (w1 + 2) + "┴" + "─" * (w2 + 2) + "┘",
    ]


def model(name: str, n: int, rmse: float, target: str, unit: str, kind: str, source: str = "unit") -> dict:
    return {
        "model": name,
        "n_train": n,
        "cv": {"rmse": rmse},
        "source": source,
        "target": target,
        "target_unit": unit,
        "fitted_on": {"kind": kind, "source": source, "n_runs": n},
    }


#: the pre-training inputs of `dlenergy estimate` (its options), as cli_support takes them
INPUTS = {
    "gpu_model": "RTX 3090",
    "total_ram_gb": 16.0,
    "gflops": 2.5,
    "training_size": 20000,
    "validation_size": 5000,
    "batch_size": 64,
    "image_size": 128,
}


def estimate_out() -> dict:
    """Synthetic models, no duration: the epoch-energy-based answer, both models present."""
    return {
        "method": "offline_epoch_energy_based",
        "energy_j": 1234567.0,
        "range_j": [987654.0, 2469134.0],
        "inputs": {**INPUTS, "epochs": 25, "duration_s": None},
        "gpu_spec": {"name": "NVIDIA GeForce RTX 3090", "cuda_cores": 10496, "memory_gb": 24.0, "tdp_w": 350.0},
        "average_power_w": 212.36,
        "epoch_energy_j": 49382.68,
        "implied_duration_s": 5815.6,
        "by_method": {"offline_epoch_energy_based": {"energy_j": 1234567.0, "range_j": [987654.0, 2469134.0]}},
        "models": {
            "offline_power": model("Ridge", 40, 12.3456, "average power", "W", "synthetic"),
            "offline_epoch_energy": model("Kernel Ridge", 38, 45678.9, "energy per epoch", "J", "synthetic"),
        },
        "notes": ["results/seaa2023/models: no offline epoch energy model (none of the runs has epoch markers)"],
        "warnings": [],
        "fitted_on": {"kind": "synthetic", "source": "unit", "label": "synthetic test models", "n_runs": 38},
        "headline": "Model fitted on SYNTHETIC data: unit (synthetic test models, 38 runs)",
    }


GPU_ROW = ("GPU", "RTX 3090 -> NVIDIA GeForce RTX 3090 (10496 CUDA cores, 24 GB, TDP 350 W)")
SETTINGS = "RAM 16 GB, 2.5 GFLOPs, train 20000, val 5000, batch 64, input 128 px, 25 epochs"
EPOCH_BASED = ("offline epoch energy based", "1,234.57 kJ (range 987.65 kJ .. 2,469.13 kJ)")
POWER_MODEL = "Ridge, fitted on 40 {} runs of source '{}', CV RMSE 12.3 W (average power)"


def test_render_estimate_synthetic_without_duration():
    c = console()
    render_estimate(estimate_out(), c)
    assert c.export_text().splitlines() == [
        "Model fitted on SYNTHETIC data: unit (synthetic test models, 38 runs)",
        "note: results/seaa2023/models: no offline epoch energy model (none of the runs has epoch markers)",
        *table(
            EST_TITLE,
            [
                GPU_ROW,
                ("Settings", SETTINGS),
                ("Energy", "1,234.57 kJ (offline epoch energy based); 90 % range 987.65 kJ .. 2,469.13 kJ"),
                ("Average power", "212.4 W"),
                ("Energy per epoch", "49.38 kJ"),
                ("Implied duration", "5816 s (epoch energy / average power)"),
                EPOCH_BASED,
                ("offline power model", POWER_MODEL.format("synthetic", "unit")),
                (
                    "offline epoch energy model",
                    "Kernel Ridge, fitted on 38 synthetic runs of source 'unit', CV RMSE 4.57e+04 J (energy per epoch)",
                ),
            ],
        ),
    ]


def real_power_out() -> dict:
    """A real power model with a duration (power-based answer, both methods), extrapolated."""
    out = estimate_out()
    out["inputs"]["duration_s"] = 7200.0
    out["method"] = "offline_power_based"
    out["energy_j"], out["range_j"] = 1530000.0, [1224000.0, 1989000.0]
    out["average_power_w"] = 212.5
    out["by_method"] = {"offline_power_based": {"energy_j": 1530000.0, "range_j": [1224000.0, 1989000.0]}}
    out["by_method"]["offline_epoch_energy_based"] = estimate_out()["by_method"]["offline_epoch_energy_based"]
    out["models"] = {"offline_power": model("Ridge", 40, 12.3456, "average power", "W", "real", "seaa2023")}
    out["notes"] = []
    out["warnings"] = ["GPU 'RTX 3090' (NVIDIA GeForce RTX 3090) is not among the GPUs the model was trained on (V100)"]
    out["fitted_on"] = {"kind": "real", "source": "seaa2023", "label": "SEAA 2023 measurements", "n_runs": 40}
    out["headline"] = "Model fitted on REAL measurements: seaa2023 (SEAA 2023 measurements, 40 runs)"
    return out


def test_render_estimate_real_with_duration_and_warning():
    c = console()
    render_estimate(real_power_out(), c)
    assert c.export_text().splitlines() == [
        "Model fitted on REAL measurements: seaa2023 (SEAA 2023 measurements, 40 runs)",
        *table(
            EST_TITLE,
            [
                GPU_ROW,
                ("Settings", SETTINGS + ", 7200 s"),
                ("Energy", "1,530.00 kJ (offline power based); 90 % range 1,224.00 kJ .. 1,989.00 kJ"),
                ("Average power", "212.5 W"),
                ("Energy per epoch", "49.38 kJ"),
                # a duration was given: no implied duration
                ("offline power based", "1,530.00 kJ (range 1,224.00 kJ .. 1,989.00 kJ)"),
                EPOCH_BASED,
                ("offline power model", POWER_MODEL.format("real", "seaa2023")),
            ],
        ),
        "warning: GPU 'RTX 3090' (NVIDIA GeForce RTX 3090) is not among the GPUs the model was trained on (V100)",
    ]


def epoch_model_only_out() -> dict:
    """Only an epoch-energy model of unknown origin: no power rows, no implied duration."""
    out = estimate_out()
    for k in ("average_power_w", "implied_duration_s"):
        del out[k]
    del out["models"]["offline_power"]
    out["models"]["offline_epoch_energy"]["fitted_on"]["kind"] = "unknown"
    out["notes"] = []
    out["fitted_on"] = {"kind": "unknown", "source": None, "label": None, "n_runs": None}
    out["headline"] = "Model fitted on data of unknown origin: /data/models"
    return out


def test_render_estimate_epoch_model_only_of_unknown_origin():
    c = console()
    render_estimate(epoch_model_only_out(), c)
    assert c.export_text().splitlines() == [
        "Model fitted on data of unknown origin: /data/models",
        *table(
            EST_TITLE,
            [
                GPU_ROW,
                ("Settings", SETTINGS),
                ("Energy", "1,234.57 kJ (offline epoch energy based); 90 % range 987.65 kJ .. 2,469.13 kJ"),
                ("Energy per epoch", "49.38 kJ"),
                EPOCH_BASED,
                (
                    "offline epoch energy model",
                    "Kernel Ridge, fitted on 38 unknown runs of source 'unit', CV RMSE 4.57e+04 J (energy per epoch)",
                ),
            ],
        ),
    ]


@pytest.mark.parametrize(
    "make, style",
    [(real_power_out, "bold green"), (estimate_out, "bold #a6361c"), (epoch_model_only_out, "bold yellow")],
)
def test_render_estimate_styles(make, style):
    """The headline in one run of its data kind's colour; notes and warnings: a yellow tag, then the
    message unhighlighted (its numbers and paths not coloured); the row labels bold."""
    out = make()
    out["notes"] = ["results/seaa2023/models: no offline epoch energy model (3 runs in /tmp/x)"]
    out["warnings"] = ["image size 512 px is above the largest the model was trained on (224 px)"]
    c = console(color=True)
    render_estimate(out, c)
    lines = c.export_text(styles=True).splitlines()
    assert lines[0] == styled(style, out["headline"])
    assert (
        lines[1]
        == styled("yellow", "note:") + " results/seaa2023/models: no offline epoch energy model (3 runs in /tmp/x)"
    )
    assert lines[-1] == (
        styled("yellow", "warning:") + " image size 512 px is above the largest the model was trained on (224 px)"
    )
    gpu_row = next(line for line in lines if "RTX 3090 ->" in line)
    assert styled("bold", "GPU".ljust(26)) + styled("bold", " ") + "│ RTX 3090 ->" in gpu_row


def test_render_estimate_long_messages_stay_on_one_line():
    """Headline, notes and warnings longer than the console are soft-wrapped: one line each."""
    out = estimate_out()
    path = "/" + "/".join(["very-long-folder-name"] * 10)
    out["headline"] = f"Model fitted on SYNTHETIC data: {path} (synthetic test models, 38 runs)"
    out["notes"] = [f"{path}: no offline power model (no such file)"]
    out["warnings"] = [f"{path}: GPU 'RTX 3090' is not among the GPUs the model was trained on"]
    c = console()
    render_estimate(out, c)
    lines = c.export_text().splitlines()
    assert len(path) > 200 and len(lines) == 1 + 1 + (1 + 1 + 9 + 1) + 1
    assert lines[0] == out["headline"]
    assert lines[1] == "note: " + out["notes"][0]
    assert lines[-1] == "warning: " + out["warnings"][0]


def projection_out(has_ram_log: bool, unstable: list[int]) -> dict:
    return {
        "method": "online_epoch_energy_based",
        "energy_j": 1626789.0,
        "by_method": {
            "online_epoch_energy_based": {"energy_j": 1626789.0},
            "online_power_based": {"energy_j": 1600000.0, "projected_duration_s": 6399.6},
        },
        "measured": {"epochs": 14, "energy_j": 456789.0, "duration_s": 1234.4, "has_ram_log": has_ram_log},
        "remaining_energy_j": 1170000.0,
        "window_epochs": [10, 11, 12, 13, 14],
        "unstable_epochs": unstable,
        "stable_epochs_planned": 41,
        "window_energy_j": 162500.0,
        "window_mean_power_w": 250.04,
        "unstable_energy_j": 294289.0 if unstable else 0.0,
        "inputs": {"planned_epochs": 50, "stabilizing_epoch": 10, "stabilizing_epoch_source": "the paper's epoch 10"},
    }


@pytest.mark.parametrize(
    "has_ram_log, unstable, measured, unstable_row",
    [
        (False, list(range(1, 10)), "14 epochs, 1234 s, 456.79 kJ (GPU only: no --cpu-log)", "1..9: 294.29 kJ"),
        (True, [], "14 epochs, 1234 s, 456.79 kJ", "none: 0.00 kJ"),
    ],
)
def test_render_projection(has_ram_log, unstable, measured, unstable_row):
    c = console()
    render_projection(projection_out(has_ram_log, unstable), c)
    assert c.export_text().splitlines() == table(
        PROJ_TITLE,
        [
            ("Measured so far", measured),
            ("Stabilizing epoch", "10 (the paper's epoch 10)"),
            ("Window", "epochs 10..14 (w = 5): 162.50 kJ, 250.0 W"),
            ("Unstable epochs", unstable_row),
            ("Planned", "50 epochs (41 stable)"),
            ("Projected energy", "1,626.79 kJ (epoch-energy-based, eq. 2); remaining 1,170.00 kJ"),
            ("Power-based (eq. 1)", "1,600.00 kJ over a projected 6400 s"),
        ],
    )


def test_render_leaves_its_input_alone():
    out = real_power_out()
    before = copy.deepcopy(out)
    render_estimate(out, console())
    assert out == before


# 2024-05-01 00:00 UTC: 54 years since 1970 with 13 leap days (1972 .. 2020), then Jan 31 + Feb 29 +
# Mar 31 + Apr 30 days: (54 * 365 + 13 + 121) * 86400 = 1714521600 s
MAY_1_2024 = 1714521600.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-05-01 10:00:00.25", MAY_1_2024 + 36000.25),
        # a zone is dropped, not converted: the wall time counts
        ("2024-05-01 10:00:00.25+02:00", MAY_1_2024 + 36000.25),
        ("2024-05-01 10:00:00.25-05:00", MAY_1_2024 + 36000.25),
        ("1969-12-31 23:59:59.5", -0.5),
        ("1970-01-01 00:00:01.000001", 1.000001),
    ],
)
def test_seconds_is_wall_time_since_the_epoch(text, expected):
    assert _seconds(pd.Timestamp(text)) == expected


def test_seconds_agrees_with_datetime():
    wall = datetime(2024, 5, 1, 10, 0, 0, 250000)
    assert wall.replace(tzinfo=UTC).timestamp() == MAY_1_2024 + 36000.25
    assert _seconds(pd.Timestamp(wall)) == MAY_1_2024 + 36000.25


def test_render_estimate_prints_brackets_in_names_as_text():
    # the GPU string is the user's --gpu, the model's name and source come from files: "[red]" and "[/]" in
    # them are text, not rich markup (before: "[/]" raised MarkupError, "[red]" vanished from the row)
    out = estimate_out()
    out["inputs"]["gpu_model"] = "RTX 3090 [red]"
    out["models"]["offline_power"] = model("Ridge[/]", 40, 12.3456, "average power", "W", "synthetic", "src [b]")
    c = console()
    render_estimate(out, c)
    lines = c.export_text().splitlines()
    assert any("│ RTX 3090 [red] -> NVIDIA GeForce RTX 3090 (10496 CUDA cores" in ln for ln in lines)
    power_row = "Ridge[/], fitted on 40 synthetic runs of source 'src [b]', CV RMSE 12.3 W (average power)"
    assert any(f"│ {power_row}" in ln for ln in lines)
