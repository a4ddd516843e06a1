"""The checks and small helpers behind `dlenergy estimate` and `dlenergy project`, called directly:
``check_number`` and ``_check_energies`` (which numbers are refused, and the one-line refusal),
``fitted_on`` and ``headline`` (what the models were fitted on, the first line of the output),
``choose_models`` when there is no model, ``_domain_problems`` (the domain warnings) and
``parse_time``.

Every expected message is written out by hand from the documented limits (``LIMITS``: 0 < RAM <=
1e5 GB, 0 <= validation size <= 1e10, ...) and the numbers' ``:g`` format; the models are
:class:`LoadedModel` objects with hand-written schemas (these functions read only the schema and the
path)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
from test_cli_render import INPUTS

from dlenergy.estimators.cli_support import (
    NoModel,
    RefusedInput,
    _check_energies,
    _domain_problems,
    check_number,
    choose_models,
    fitted_on,
    headline,
    parse_time,
)
from dlenergy.estimators.offline import LoadedModel
from dlenergy.gpu_specs import lookup_gpu


def refused(exc_type, message: str):
    """``pytest.raises`` for exactly ``message``."""
    return pytest.raises(exc_type, match="^" + re.escape(message) + "$")


# ----------------------------------------------------------------------------- check_number


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--val-size", 0),  # the lowest allowed value (>= 0)
        ("--train-size", 1),  # the lowest allowed value (>= 1)
        ("--stabilizing-epoch", 0),
        ("--ram-gb", 1e5),  # the highest allowed value
        ("--duration-s", 3.2e8),
        ("--ram-gb", 1e-9),  # just above an excluded lowest value
        ("--gflops", None),  # not given
    ],
)
def test_check_number_accepts_the_limits(option, value):
    assert check_number(option, value) is None


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--ram-gb", 0, "--ram-gb 0 is out of range: it must be > 0 and <= 100000"),
        ("--ram-gb", 100001, "--ram-gb 100001 is out of range: it must be > 0 and <= 100000"),
        ("--val-size", -1, "--val-size -1 is out of range: it must be >= 0 and <= 1e+10"),
        ("--train-size", 0, "--train-size 0 is out of range: it must be >= 1 and <= 1e+10"),
        ("--duration-s", 4e8, "--duration-s 400000000 is out of range: it must be > 0 and <= 3.2e+08"),
        # the value as given, not rounded to 6 digits (which would print it equal to the limit)
        ("--ram-gb", 100000.4, "--ram-gb 100000.4 is out of range: it must be > 0 and <= 100000"),
        ("--gflops", float("nan"), "--gflops must be a finite number, not nan"),
        ("--epochs", float("inf"), "--epochs must be a finite number, not inf"),
    ],
)
def test_check_number_refuses_with_one_line(option, value, message):
    with refused(RefusedInput, message):
        check_number(option, value)


# ----------------------------------------------------------------------------- _check_energies


@pytest.mark.parametrize("v", [0.5, 1.0, 1e-9, 3e7])
def test_check_energies_accepts_positive_values(v):
    assert _check_energies({"the energy (J)": v, "another (J)": 2.0}, "why") is None


@pytest.mark.parametrize(
    ("v", "shown"),
    [(0.0, "0"), (-1.5, "-1.5"), (math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf"), (None, "missing")],
)
def test_check_energies_refuses_what_is_not_positive_and_finite(v, shown):
    with refused(RefusedInput, f"the second (J) would be {shown}: the logs say so"):
        _check_energies({"the first (J)": 10.0, "the second (J)": v}, "the logs say so")


# ----------------------------------------------------------------------------- fitted_on, headline


def loaded(schema: dict, path: str = "models/unit") -> LoadedModel:
    return LoadedModel(None, schema, Path(path))


@pytest.mark.parametrize(
    ("data_kind", "data_label", "kind"),
    [
        ("synthetic", "the sample", "synthetic"),  # said by the schema, the label does not matter
        ("real", "Synthetic-looking name", "real"),
        (None, "Synthetic sample (simulated)", "synthetic"),  # older schema: from the label, any case
        (None, "ten measured runs", "unknown"),
        (None, None, "unknown"),
        ("bogus", "a SYNTHETIC set", "synthetic"),
        ("bogus", "", "unknown"),
    ],
)
def test_fitted_on(data_kind, data_label, kind):
    schema = {"source": "unit", "n_train": 12, "kind": "offline_power"}
    schema.update({k: v for k, v in (("data_kind", data_kind), ("data_label", data_label)) if v is not None})
    assert fitted_on(loaded(schema, "results/unit/models")) == {
        "kind": kind,
        "source": "unit",
        "label": data_label,
        "n_runs": 12,
        "model": "offline_power",
        "model_dir": "results/unit/models",
    }


@pytest.mark.parametrize(
    ("f", "line"),
    [
        (
            {"kind": "real", "source": "seaa2023", "model_dir": "m", "label": "SEAA 2023", "n_runs": 36},
            "Model fitted on REAL measurements: seaa2023 (SEAA 2023, 36 runs)",
        ),
        (
            {"kind": "synthetic", "source": "sample", "model_dir": "m", "label": None, "n_runs": 40},
            "Model fitted on SYNTHETIC data: sample (40 runs)",
        ),
        (
            {"kind": "unknown", "source": None, "model_dir": "old/models", "label": "runs", "n_runs": None},
            "Model fitted on data of unknown origin: old/models (runs)",
        ),
        (
            {"kind": "unknown", "source": "", "model_dir": "old/models", "label": None, "n_runs": 0},
            "Model fitted on data of unknown origin: old/models",
        ),
    ],
)
def test_headline(f, line):
    assert headline(f) == line


# ----------------------------------------------------------------------------- choose_models


def test_choose_models_in_an_empty_folder(tmp_path):
    for d in (tmp_path, tmp_path / "absent"):
        with refused(NoModel, f"{d} holds no usable offline model (offline_power / offline_epoch_energy)"):
            choose_models(str(d), 3600.0)


def test_choose_models_without_any_model_says_how_to_train_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "sample" / "models").mkdir(parents=True)  # there, but empty
    message = (
        "no offline model found (looked in results/seaa2023/models, results/sample/models). Train one with "
        "the pipeline, e.g. `snakemake --cores 2 --config source=sample` (writes results/sample/models/), "
        "or pass --model-dir results/<source>/models"
    )
    for duration in (None, 3600.0):
        with refused(NoModel, message):
            choose_models(None, duration)


# ----------------------------------------------------------------------------- _domain_problems


def test_domain_problems_lists_each_problem_once():
    power = loaded({"gpus": ["Tesla V100", "A100"], "feature_ranges": {"gflops": [3, 10], "image_size": [32, 224]}})
    epoch = loaded({"gpus": ["Tesla V100"], "feature_ranges": {"gflops": [3, 10], "batch_size": [128, 256]}})
    F, problems = _domain_problems(
        INPUTS, lookup_gpu("RTX 3090"), {"offline_power": power, "offline_epoch_energy": epoch}
    )
    assert problems == [
        "GPU 'RTX 3090' (GeForce RTX 3090) is not among the GPUs the model was trained on (Tesla V100, A100)",
        "gflops = 2.5 GFLOPs per forward pass is outside the training range [3, 10]",
        "batch_size = 64 images is outside the training range [128, 256]",
    ]
    assert F[["gflops", "batch_size", "image_size"]].iloc[0].tolist() == [2.5, 64.0, 128.0]


def test_domain_problems_inside_the_domain():
    m = loaded({"gpus": ["GeForce RTX 3090"], "feature_ranges": {"gflops": [2.5, 10], "batch_size": [16, 64]}})
    assert _domain_problems(INPUTS, lookup_gpu("RTX 3090"), {"offline_power": m})[1] == []


# ----------------------------------------------------------------------------- parse_time


def test_parse_time():
    assert parse_time("--train-start", None) is None
    assert parse_time("--train-start", "2024-05-01 10:00:00") == pd.Timestamp(2024, 5, 1, 10)
    ts = parse_time("--train-start", "2024-05-01T10:00:00+02:00")
    assert ts.utcoffset() == pd.Timedelta(hours=2) and ts.tz_convert("UTC") == pd.Timestamp(2024, 5, 1, 8, tz="UTC")


@pytest.mark.parametrize("text", ["not a date", "", "NaT", "2024-13-01", "99999-01-01"])
def test_parse_time_refuses(text):
    with refused(RefusedInput, f"--train-start {text!r} is not a date and time (e.g. '2024-05-01 10:00:00')"):
        parse_time("--train-start", text)
