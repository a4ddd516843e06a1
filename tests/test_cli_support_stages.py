"""The stages of `dlenergy project` in ``cli_support``, called directly on small hand-built inputs:
``_check_epoch_energies`` (which measured epochs are refused), ``_stabilizing`` (the stabilizing
epoch and where it comes from), ``_projection`` (the answer's numbers and keys), ``_kj`` and the
bold labels of ``render_projection``.

Every expected number is worked out by hand from equations 1 and 2 (``E_w x s / w + E_u``;
``P_w x (d_u + s x d_w / w)``); the FLUSS cases use traces whose regimes are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_cli_render import console, projection_out, styled
from test_fluss import synthetic_run

from dlenergy.estimators.cli_support import (
    RefusedInput,
    _check_epoch_energies,
    _kj,
    _projection,
    _stabilizing,
    render_projection,
)
from dlenergy.estimators.online import online_terms

HINT = "in the logs (is the GPU log shorter than the epochs, or --train-start wrong?)"


def epochs(first: int, duration_s: list[float], energy_j: list[float], gpu_energy_j: list[float] | None = None):
    n = len(duration_s)
    return pd.DataFrame(
        {
            "epoch": np.arange(first, first + n, dtype=np.int64),
            "duration_s": np.asarray(duration_s, dtype=np.float64),
            "gpu_energy_j": np.asarray(gpu_energy_j if gpu_energy_j is not None else energy_j, dtype=np.float64),
            "energy_j": np.asarray(energy_j, dtype=np.float64),
        }
    )


# ----------------------------------------------------------------------------- _check_epoch_energies


def test_check_epoch_energies_accepts_short_epochs_and_zero_energy():
    # a duration under 1 s is positive; an energy of 0 J (or under 1 J) is finite and non-negative
    e = epochs(3, [0.5, 2.0, 3.0], [0.0, 0.5, 5.0])
    assert _check_epoch_energies(e, "ep.csv") is None


@pytest.mark.parametrize(
    "duration_s, energy_j, message",
    [
        # epochs 3..7: the first bad label is named, not the first bad position nor the second bad epoch
        ([1.0, 2.0, 0.0, 4.0, 0.0], [1.0] * 5, f"ep.csv: epoch 5 has a duration that is not positive {HINT}"),
        ([1.0, -2.0, 3.0, 4.0, 5.0], [1.0] * 5, f"ep.csv: epoch 4 has a duration that is not positive {HINT}"),
        ([1.0, 2.0, np.nan, 4.0, 5.0], [1.0] * 5, f"ep.csv: epoch 5 has a duration that is not positive {HINT}"),
        ([1.0] * 5, [1.0, 1.0, 1.0, -0.5, np.nan], f"ep.csv: epoch 6 has no finite, non-negative energy {HINT}"),
        ([1.0] * 5, [np.nan, 1.0, 1.0, 1.0, 1.0], f"ep.csv: epoch 3 has no finite, non-negative energy {HINT}"),
        # both wrong: the duration is named first, though its epoch comes later
        (
            [1.0, 2.0, 3.0, 0.0, 5.0],
            [-1.0, 1.0, 1.0, 1.0, 1.0],
            f"ep.csv: epoch 6 has a duration that is not positive {HINT}",
        ),
    ],
)
def test_check_epoch_energies_refuses_the_first_bad_epoch(duration_s, energy_j, message):
    with pytest.raises(RefusedInput) as exc:
        _check_epoch_energies(epochs(3, duration_s, energy_j), "ep.csv")
    assert str(exc.value) == message


# ----------------------------------------------------------------------------- _stabilizing


@pytest.mark.parametrize(
    "given, expected",
    [(10, (10, "the paper's epoch 10")), (11, (11, "given")), (5, (5, "given")), (0, (0, "given"))],
)
def test_stabilizing_given_epoch(given, expected):
    # a given epoch is taken as it is: no log is read
    assert _stabilizing(given, None, None) == expected


def flat_sine_run(first: int, n_epochs: int, epoch_s: float = 20.0):
    """1 Hz samples of a slow sine over ``n_epochs`` epochs of ``epoch_s`` s: one regime throughout."""
    t0 = pd.Timestamp("2024-01-01 00:00:00")
    t = np.arange(0.0, n_epochs * epoch_s + 1.0)
    gpu = pd.DataFrame({"t": t0.value / 1e9 + t, "power_w": 100.0 + 10.0 * np.sin(t / 7.0)})
    starts = np.arange(n_epochs) * epoch_s
    ts = lambda s: t0 + pd.to_timedelta(s, unit="s")
    ep = pd.DataFrame(
        {"epoch": np.arange(first, first + n_epochs), "start_time": ts(starts), "end_time": ts(starts + epoch_s)}
    )
    return gpu, ep


def test_stabilizing_auto_finds_the_end_of_the_warm_up():
    # six noisy warm-up epochs (0..5), then a periodic plateau from epoch 6 on
    gpu, ep = synthetic_run(6, n_epochs=12, seed=6)
    assert _stabilizing("auto", gpu, ep) == (6, "FLUSS on the log so far")


def test_stabilizing_auto_one_regime_is_stable_from_the_first_epoch():
    # 4 epochs x 30 points, differenced over one epoch: 90 points (>= 70), no regime change
    gpu, ep = flat_sine_run(first=3, n_epochs=4)
    assert _stabilizing("auto", gpu, ep) == (3, "FLUSS on the log so far")


def test_stabilizing_auto_refuses_a_log_too_short_to_segment():
    # 3 epochs x 30 points per epoch, less the one epoch the difference drops: 60 points; FLUSS with
    # m = 10 and an exclusion zone of 3 m on each side needs 2 x 3 x 10 + 10 = 70
    gpu, ep = flat_sine_run(first=1, n_epochs=3)
    with pytest.raises(RefusedInput) as exc:
        _stabilizing("auto", gpu, ep)
    assert str(exc.value) == (
        "--stabilizing-epoch auto: FLUSS cannot segment the log yet (60 points; FLUSS with m=10 and "
        "excl_factor=3 needs at least 70 (3 epochs, 61 GPU samples)); give an epoch number (the paper's: 10)"
    )


# ----------------------------------------------------------------------------- _projection


def six_epochs(energy_j: list[float]) -> pd.DataFrame:
    # epochs 1..6; GPU energy 0.9 of the total where there is any
    return epochs(1, [5.0, 15.0, 20.0, 30.0, 40.0, 30.0], energy_j, [v * 9 / 10 for v in energy_j])


@pytest.mark.parametrize("has_ram_log", [True, False])
def test_projection_by_hand(has_ram_log):
    # stabilizing epoch 3, window of 3 (epochs 3, 4, 5), 10 planned epochs (1..10): s = 10 - 3 + 1 = 8
    e = six_epochs([1000.0, 2000.0, 3000.0, 3000.0, 3000.0, 3000.0])
    terms = online_terms(e, 3, 3, 3, planned_epochs=10)
    # E_w = 9000 J over d_w = 20 + 30 + 40 = 90 s: P_w = 100 W; E_u = 3000 J over d_u = 20 s
    # eq. 2: 9000 x 8 / 3 + 3000 = 27000 J; eq. 1: 100 W x (20 + 8 x 90 / 3 = 260 s) = 26000 J
    # so far: 15000 J in 140 s, GPU 0.9 x 15000 = 13500 J (900 + 1800 + 4 x 2700)
    assert _projection(terms, e, has_ram_log) == {
        "method": "online_epoch_energy_based",
        "energy_j": 27000.0,
        "by_method": {
            "online_epoch_energy_based": {"energy_j": 27000.0},
            "online_power_based": {"energy_j": 26000.0, "projected_duration_s": 260.0},
        },
        "measured": {
            "epochs": 6,
            "energy_j": 15000.0,
            "duration_s": 140.0,
            "gpu_energy_j": 13500.0,
            "has_ram_log": has_ram_log,
        },
        "remaining_energy_j": 12000.0,
        "window_epochs": [3, 4, 5],
        "unstable_epochs": [1, 2],
        "stable_epochs_planned": 8,
        "window_energy_j": 9000.0,
        "window_mean_power_w": 100.0,
        "unstable_energy_j": 3000.0,
    }


@pytest.mark.parametrize(
    "energy_j, message",
    [
        # nothing measured at all: eq. 2 gives 0 J
        ([0.0] * 6, "the projected energy (J) would be 0: the logs do not hold a usable measurement"),
        # energy in the warm-up only: eq. 2 gives E_u = 3000 J, but the window's power is 0 W
        (
            [1000.0, 2000.0, 0.0, 0.0, 0.0, 0.0],
            "the power-based projection (J) would be 0: the logs do not hold a usable measurement",
        ),
    ],
)
def test_projection_refuses_a_zero_projection(energy_j, message):
    e = six_epochs(energy_j)
    with pytest.raises(RefusedInput) as exc:
        _projection(online_terms(e, 3, 3, 3, planned_epochs=10), e, True)
    assert str(exc.value) == message


# ----------------------------------------------------------------------------- _kj and the table's labels


@pytest.mark.parametrize(
    "j, text",
    [
        (1234567.0, "1,234.57 kJ"),
        (0.0, "0.00 kJ"),
        (None, "n/a"),
        (float("nan"), "n/a"),
        (float("inf"), "n/a"),
        (np.float64(-np.inf), "n/a"),
    ],
)
def test_kj(j, text):
    assert _kj(j) == text


def test_render_projection_labels_are_bold():
    c = console(color=True)
    render_projection(projection_out(True, []), c)
    rows = c.export_text(styles=True).splitlines()[2:-1]
    labels = [
        "Measured so far",
        "Stabilizing epoch",
        "Window",
        "Unstable epochs",
        "Planned",
        "Projected energy",
        "Power-based (eq. 1)",
    ]
    bold = styled("bold", " ")
    assert [r[: r.index("│", 1) + 1] for r in rows] == [
        "│" + bold + styled("bold", a.ljust(19)) + bold + "│" for a in labels
    ]
