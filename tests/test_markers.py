"""Epoch markers, the eq. 2 projection and energy-aware early stopping (no GPU, no TF/torch needed).

The code lives in ``dlenergy.recording.markers`` and ``dlenergy.recording.budget`` (patched here where a
test replaces a module global); ``dlenergy.markers`` is the former flat module, kept as an alias.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import types
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import dlenergy
from dlenergy.parsing import read_epochs
from dlenergy.recording import markers, runfolder
from dlenergy.recording.budget import EnergyBudget, project_total_energy, run_epoch_energies
from dlenergy.recording.markers import mark_epoch

T0 = datetime(2026, 3, 4, 10, 0, 0)


# --------------------------------------------------------------------------------------------
# mark_epoch
# --------------------------------------------------------------------------------------------


def test_mark_epoch_outside_measure_warns_once_and_does_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("DLENERGY_RUN_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runfolder, "_warned", set())
    with pytest.warns(RuntimeWarning, match="not running under `dlenergy measure`"):
        assert dlenergy.mark_epoch() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dlenergy.mark_epoch(3) is None  # second call: silent
    assert not list(tmp_path.iterdir())


def test_package_exports_the_markers_without_heavy_imports():
    assert dlenergy.mark_epoch is mark_epoch and dlenergy.mark_train_start is markers.mark_train_start
    code = (
        "import sys, dlenergy; assert 'dlenergy.markers' not in sys.modules; dlenergy.mark_epoch; "
        "import dlenergy.markers as m; print(sorted(x for x in ('pandas','numpy','keras','tensorflow','torch',"
        "'lightning','pytorch_lightning') if x in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    with pytest.raises(AttributeError):
        dlenergy.not_a_thing  # noqa: B018


def test_mark_epoch_numbers_epochs_and_keeps_the_file_valid(tmp_path, monkeypatch):
    monkeypatch.setenv("DLENERGY_RUN_DIR", str(tmp_path / "run"))
    assert mark_epoch(val_f1=0.5, loss=np.float32(2.0)) == 0
    assert mark_epoch(val_f1=0.6) == 1  # missing loss: empty cell
    assert mark_epoch(5, loss=1.0) == 5
    with pytest.warns(RuntimeWarning, match="not after the last recorded epoch 5"):
        assert mark_epoch(5) is None
    with pytest.warns(RuntimeWarning, match="not in the header"):
        assert mark_epoch(other=1) == 6
    explicit = tmp_path / "elsewhere"
    assert mark_epoch(run_dir=explicit) == 0  # explicit run_dir wins over the env var
    df = read_epochs(tmp_path / "run" / "epochs.csv")
    assert df["epoch"].tolist() == [0, 1, 5, 6]
    assert list(df.columns) == ["epoch", "end_time", "val_f1", "loss"]
    assert df["loss"].iloc[0] == 2.0 and np.isnan(df["loss"].iloc[1]) and df["loss"].iloc[2] == 1.0
    assert (df["end_time"].diff().dropna() >= timedelta(0)).all()
    assert read_epochs(explicit / "epochs.csv")["epoch"].tolist() == [0]


# --------------------------------------------------------------------------------------------
# projection (paper eq. 2)
# --------------------------------------------------------------------------------------------


def test_project_total_energy_is_eq_2():
    e = [5.0] * 10 + [2.0, 2.0, 3.0, 1.0, 2.0]  # E_u = 50, window of 5 stable epochs: E_w = 10
    assert project_total_energy(e, 100) == pytest.approx(10 * 90 / 5 + 50)
    assert project_total_energy(e, 100, stable_from=10, window=2) == pytest.approx(4 * 90 / 2 + 50)
    assert project_total_energy(e, 100, window=2, window_start=13) == pytest.approx(3 * 90 / 2 + 50)
    # a constant-energy run is projected exactly
    assert project_total_energy([7.0] * 15, 40) == pytest.approx(7.0 * 40)
    # planned epochs already done: the measured sum
    assert project_total_energy(e, 12) == pytest.approx(sum(e))
    with pytest.raises(ValueError, match="need 15 epochs"):
        project_total_energy(e[:14], 100)
    with pytest.raises(ValueError, match="before the stabilizing epoch"):
        project_total_energy(e, 100, window_start=9)


# --------------------------------------------------------------------------------------------
# EnergyBudget on synthetic epoch series
# --------------------------------------------------------------------------------------------


def _series():
    """10 unstable epochs of 2 kJ, then 1 kJ per stable epoch."""
    return [2000.0] * 10 + [1000.0] * 90


def test_budget_stops_when_the_projection_exceeds_it(caplog):
    # projection from epoch 15 on: E_u = 20 kJ + 1 kJ x 90 stable epochs = 110 kJ > 80 kJ
    b = EnergyBudget(80, planned_epochs=100)
    stops = []
    with caplog.at_level(logging.WARNING, logger="dlenergy.markers"):
        for epoch, e in enumerate(_series()):
            if b.update(epoch, epoch_energy_j=e):
                stops.append(epoch)
                break
    assert stops == [14]  # the first epoch with 10 unstable + 5 stable epochs done
    assert b.projected_total_j == pytest.approx(110_000)
    assert b.stopped_epoch == 14 and "projected total energy 110.000 kJ" in b.stop_reason
    assert "exceeds the budget of 80 kJ" in caplog.text and "after epoch 14" in caplog.text
    assert b.update(15, epoch_energy_j=1000.0)  # stays stopped


def test_budget_that_fits_never_stops():
    b = EnergyBudget(111, planned_epochs=100)
    assert not any(b.update(i, epoch_energy_j=e) for i, e in enumerate(_series()))
    assert b.measured_j == pytest.approx(110_000) and b.stop_reason is None


def test_budget_without_planned_epochs_stops_on_measured_energy():
    b = EnergyBudget(50)  # 20 kJ unstable + 1 kJ per epoch: exceeds 50 kJ after 41 epochs
    stop = next(i for i, e in enumerate(_series()) if b.update(i, epoch_energy_j=e))
    assert stop == 40 and "already exceeds" in b.stop_reason


def test_min_gain_per_kj_stops_on_a_plateau(caplog):
    # F1 rises 0.02 per epoch until epoch 20, then 0.001 per epoch; 1 kJ per stable epoch
    f1 = [min(i, 20) * 0.02 + max(0, i - 20) * 0.001 for i in range(100)]
    b = EnergyBudget(min_gain_per_kj=0.004, planned_epochs=100, mode="max")
    with caplog.at_level(logging.WARNING, logger="dlenergy.markers"):
        stop = next(i for i, (e, m) in enumerate(zip(_series(), f1)) if b.update(i, m, epoch_energy_j=e))
    # gain per kJ over the last 5 epochs (5 kJ): epochs 19..24: (0.02 + 4 x 0.001) / 5 = 0.0048 >= 0.004;
    # epochs 20..25: 5 x 0.001 / 5 = 0.001 < 0.004 -> stop after epoch 25
    assert stop == 25
    assert "per kJ, below the minimum 0.004 per kJ" in b.stop_reason and "remaining 74 planned epochs" in b.stop_reason
    assert "energy-aware early stopping after epoch 25" in caplog.text


def test_min_gain_with_a_loss_uses_decrease():
    loss = [1.0 / (1 + i) for i in range(100)]
    b = EnergyBudget(min_gain_per_kj=0.005, mode="min")
    stop = next(i for i, (e, m) in enumerate(zip(_series(), loss)) if b.update(i, m, epoch_energy_j=e))
    # decrease over the 5 epochs ending at i is 1/(i-4) - 1/(i+1), for 5 kJ: 0.0067/kJ at i = 14,
    # 0.0057 at 15, 0.0049 at 16 -> first below 0.005/kJ after epoch 16
    assert stop == 16


def test_min_gain_without_unstable_epochs_waits_for_window_plus_one_epochs():
    # stable_from=0: the gain over a window of 2 epochs needs 3 (it used to index before the first epoch)
    b = EnergyBudget(min_gain_per_kj=1.0, stable_from=0, window=2)
    assert not b.update(0, 0.10, epoch_energy_j=1000.0)
    assert not b.update(1, 0.15, epoch_energy_j=1000.0)
    # epochs 0..2: gain 0.10 for the last 2 kJ = 0.05 per kJ < 1 per kJ
    assert b.update(2, 0.20, epoch_energy_j=1000.0)
    assert "over epochs 0..2 for 2.000 kJ is 0.05 per kJ" in b.stop_reason


def test_budget_requires_a_criterion():
    with pytest.raises(ValueError):
        EnergyBudget()


# --------------------------------------------------------------------------------------------
# energies from a run folder (gpu.csv + epochs.csv written so far)
# --------------------------------------------------------------------------------------------


def make_run(tmp_path: Path, seconds: int = 30, power_w: float = 200.0) -> Path:
    """A run folder with a constant-power GPU log sampled every 0.1 s from T0 on."""
    rd = tmp_path / "run"
    rd.mkdir(parents=True)
    lines = ["timestamp, name, power.draw [W], power.limit [W]"]
    for k in range(seconds * 10 + 1):
        ts = (T0 + timedelta(seconds=k / 10)).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
        lines.append(f"{ts}, Fake GPU, {power_w:.2f} W, 300.00 W")
    (rd / "gpu.csv").write_text("\n".join(lines) + "\n")
    return rd


def test_run_epoch_energies_from_the_logs(tmp_path):
    rd = make_run(tmp_path)
    for e in range(3):
        mark_epoch(e, run_dir=rd, end_time=T0 + timedelta(seconds=e + 1))
    ep, en = run_epoch_energies(rd, train_start=T0)
    assert ep.tolist() == [0, 1, 2]
    assert en == pytest.approx([200.0, 200.0, 200.0])


def test_mark_train_start_once_per_run_and_the_energies_start_there(tmp_path, monkeypatch):
    rd = make_run(tmp_path)  # 200 W from T0 on
    first = T0 + timedelta(seconds=2)
    assert markers.mark_train_start(run_dir=rd, when=first) == first
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert markers.mark_train_start(run_dir=rd, when=T0 + timedelta(seconds=5)) is None
    assert any("already records" in str(x.message) for x in w)
    assert markers.read_train_start(rd) == first
    for e in range(2):
        mark_epoch(e, run_dir=rd, end_time=T0 + timedelta(seconds=3 + e))
    # epoch 0 runs from the marked start (2 s) to 3 s, not from the environment's command start (0 s)
    monkeypatch.setenv("DLENERGY_TRAIN_START", T0.isoformat(sep=" "))
    ep, en = run_epoch_energies(rd)
    assert en == pytest.approx([200.0, 200.0])


def test_mark_train_start_outside_measure_does_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("DLENERGY_RUN_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    runfolder._warned.discard("no-run-dir-start")
    with pytest.warns(RuntimeWarning, match="train start not recorded"):
        assert markers.mark_train_start() is None
    assert list(tmp_path.iterdir()) == []


def test_budget_reads_the_run_folder(tmp_path, monkeypatch, caplog):
    rd = make_run(tmp_path)
    monkeypatch.setenv("DLENERGY_RUN_DIR", str(rd))
    monkeypatch.setenv("DLENERGY_TRAIN_START", T0.isoformat(sep=" "))
    # 200 J per 1-s epoch, 100 planned: projection 20 kJ > 10 kJ once 10 + 5 epochs are done
    b = EnergyBudget(10, planned_epochs=100)
    stop = None
    with caplog.at_level(logging.WARNING, logger="dlenergy.markers"):
        for e in range(25):
            mark_epoch(e, end_time=T0 + timedelta(seconds=e + 1))
            if b.update(e):
                stop = e
                break
    assert stop == 14
    assert b.projected_total_j == pytest.approx(20_000, rel=1e-6)
    assert "20.000 kJ" in b.stop_reason


def test_budget_survives_unreadable_logs(tmp_path, caplog):
    rd = tmp_path / "run"
    mark_epoch(0, run_dir=rd)  # epochs.csv but no gpu.csv
    b = EnergyBudget(1, planned_epochs=10, run_dir=rd)
    with caplog.at_level(logging.WARNING, logger="dlenergy.markers"):
        assert b.update(0) is False
    assert "cannot read the run's logs" in caplog.text


# --------------------------------------------------------------------------------------------
# framework callbacks (fake frameworks always; the real ones when installed)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_lazy_classes():
    for name in ("KerasEpochMarker", "LightningEpochMarker"):
        markers.__dict__.pop(name, None)
    yield
    for name in ("KerasEpochMarker", "LightningEpochMarker"):
        markers.__dict__.pop(name, None)


def test_callbacks_raise_a_clear_import_error_without_frameworks(monkeypatch, fresh_lazy_classes):
    for mod in ("keras", "tensorflow", "lightning", "lightning.pytorch", "pytorch_lightning"):
        monkeypatch.setitem(sys.modules, mod, None)  # import of these now fails
    with pytest.raises(ImportError, match="needs Keras"):
        markers.KerasEpochMarker  # noqa: B018
    with pytest.raises(ImportError, match="needs PyTorch Lightning"):
        from dlenergy.markers import LightningEpochMarker  # noqa: F401
    with pytest.raises(AttributeError):
        markers.NoSuchMarker  # noqa: B018


def _fake_keras(monkeypatch):
    class Callback:
        def __init__(self):
            self.model = None
            self.params = {}

    keras = types.ModuleType("keras")
    keras.callbacks = types.SimpleNamespace(Callback=Callback)
    monkeypatch.setitem(sys.modules, "keras", keras)
    return Callback


def test_keras_marker_with_a_fake_keras(tmp_path, monkeypatch, fresh_lazy_classes):
    base = _fake_keras(monkeypatch)
    rd = make_run(tmp_path)
    monkeypatch.setenv("DLENERGY_RUN_DIR", str(rd))
    monkeypatch.setenv("DLENERGY_TRAIN_START", T0.isoformat(sep=" "))
    cls = markers.KerasEpochMarker
    assert issubclass(cls, base) and cls.__module__ == "dlenergy.recording.markers" and markers.KerasEpochMarker is cls
    from dlenergy.markers import KerasEpochMarker  # the former import path: the same class

    assert KerasEpochMarker is cls
    cb = cls(budget_kj=10)
    cb.model = types.SimpleNamespace(stop_training=False)
    cb.params = {"epochs": 100}
    # Keras calls on_epoch_end at wall-clock time; replace the clock by explicit end times
    real = markers.mark_epoch
    monkeypatch.setattr(
        markers, "mark_epoch", lambda epoch=None, **kw: real(epoch, end_time=T0 + timedelta(seconds=epoch + 1), **kw)
    )
    stopped_at = None
    for epoch in range(20):
        cb.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0})
        if cb.model.stop_training:
            stopped_at = epoch
            break
    assert stopped_at == 14 and "exceeds the budget of 10 kJ" in cb.stop_reason
    df = read_epochs(rd / "epochs.csv")
    assert df["epoch"].tolist() == list(range(15)) and {"loss", "val_loss"} <= set(df.columns)


def test_lightning_marker_with_a_fake_lightning(tmp_path, monkeypatch, fresh_lazy_classes):
    class Callback:
        pass

    pl = types.ModuleType("lightning.pytorch")
    pl.Callback = Callback
    top = types.ModuleType("lightning")
    top.pytorch = pl
    monkeypatch.setitem(sys.modules, "lightning", top)
    monkeypatch.setitem(sys.modules, "lightning.pytorch", pl)
    rd = make_run(tmp_path)
    monkeypatch.setenv("DLENERGY_TRAIN_START", T0.isoformat(sep=" "))
    real = markers.mark_epoch
    monkeypatch.setattr(
        markers, "mark_epoch", lambda epoch=None, **kw: real(epoch, end_time=T0 + timedelta(seconds=epoch + 1), **kw)
    )

    reduced = []

    class Strategy:
        def reduce_boolean_decision(self, decision, all=True):
            reduced.append((decision, all))
            return decision

    cls = markers.LightningEpochMarker
    assert issubclass(cls, Callback)
    # rank 0 marks and decides; the F1 plateau after epoch 12 stops it on min_gain_per_kj
    cb = cls(min_gain_per_kj=0.05, monitor="val_f1", run_dir=rd)
    trainer = types.SimpleNamespace(
        sanity_checking=False,
        is_global_zero=True,
        max_epochs=50,
        should_stop=False,
        current_epoch=0,
        callback_metrics={},
        strategy=Strategy(),
    )
    for epoch in range(30):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {"val_f1": min(epoch, 12) * 0.05, "train_loss": 1.0}
        cb.on_train_epoch_end(trainer, None)
        if trainer.should_stop:
            break
    # window 5 of 200 J = 1 kJ: gain over epochs 11..16 is 0.05 (< 0.05/kJ is false), 12..17 is 0
    assert trainer.should_stop and epoch == 17
    assert reduced[-1] == (True, False)
    assert read_epochs(rd / "epochs.csv")["epoch"].tolist() == list(range(18))
    # another rank: does not mark, takes the shared decision
    cb2 = cls(budget_kj=1, run_dir=tmp_path / "rank1")
    t2 = types.SimpleNamespace(
        sanity_checking=False,
        is_global_zero=False,
        max_epochs=50,
        should_stop=False,
        current_epoch=0,
        callback_metrics={},
        strategy=Strategy(),
    )
    cb2.on_train_epoch_end(t2, None)
    assert not (tmp_path / "rank1" / "epochs.csv").exists() and t2.should_stop is False


def _epoch_clock(monkeypatch):
    """Train start (T0) and epoch end times (T0 + epoch + 1 s) on the fake GPU log's clock instead of
    the wall clock."""
    real = markers.mark_epoch
    monkeypatch.setattr(
        markers, "mark_epoch", lambda epoch=None, **kw: real(epoch, end_time=T0 + timedelta(seconds=epoch + 1), **kw)
    )
    real_start = markers.mark_train_start
    monkeypatch.setattr(markers, "mark_train_start", lambda **kw: real_start(**{**kw, "when": T0}))


def test_real_keras_callback_marks_and_stops_training(tmp_path, monkeypatch, fresh_lazy_classes):
    keras = pytest.importorskip("keras", reason="Keras is not installed (not a dependency; not installed for tests)")
    rd = make_run(tmp_path)  # 200 W: 200 J per 1-s epoch
    monkeypatch.setenv("DLENERGY_RUN_DIR", str(rd))
    monkeypatch.setenv("DLENERGY_TRAIN_START", T0.isoformat(sep=" "))
    _epoch_clock(monkeypatch)
    cb = markers.KerasEpochMarker(budget_kj=10)
    assert isinstance(cb, keras.callbacks.Callback)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    hist = model.fit(np.zeros((8, 1)), np.zeros((8, 1)), epochs=100, verbose=0, callbacks=[cb])
    # Keras's own `epochs` is the plan: 100 x 200 J = 20 kJ > 10 kJ once 10 + 5 epochs are done
    assert len(hist.history["loss"]) == 15 and "exceeds the budget of 10 kJ" in cb.stop_reason
    assert markers.read_train_start(rd) == T0  # on_train_begin
    df = read_epochs(rd / "epochs.csv")
    assert df["epoch"].tolist() == list(range(15)) and "loss" in df.columns


def test_real_lightning_callback_marks_and_stops_training(tmp_path, monkeypatch, fresh_lazy_classes):
    try:
        import lightning.pytorch as pl
    except ImportError:
        pl = pytest.importorskip(
            "pytorch_lightning", reason="PyTorch Lightning is not installed (not a dependency; not installed for tests)"
        )
    import torch

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    rd = make_run(tmp_path)
    monkeypatch.setenv("DLENERGY_TRAIN_START", T0.isoformat(sep=" "))
    _epoch_clock(monkeypatch)
    cb = markers.LightningEpochMarker(budget_kj=10, run_dir=rd)
    assert isinstance(cb, pl.Callback)
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.zeros(8, 1), torch.zeros(8, 1)), batch_size=4
    )
    trainer = pl.Trainer(
        max_epochs=100,
        callbacks=[cb],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Tiny(), data)
    # the trainer's max_epochs is the plan: stops after epoch 14, as with Keras
    assert trainer.current_epoch == 15 and "exceeds the budget of 10 kJ" in cb.stop_reason
    assert markers.read_train_start(rd) == T0  # on_train_start
    df = read_epochs(rd / "epochs.csv")
    assert df["epoch"].tolist() == list(range(15)) and "train_loss" in df.columns


# --------------------------------------------------------------------------------------------
# early stopping inside a measured run (replay backend, hand-written loop)
# --------------------------------------------------------------------------------------------


def test_energy_budget_stops_a_measured_training_loop(tmp_path):
    trace = make_run(tmp_path / "trace", seconds=20, power_w=300.0) / "gpu.csv"  # replayed: 300 W throughout
    child = textwrap.dedent("""
        import time, dlenergy
        from dlenergy.markers import EnergyBudget
        budget = EnergyBudget(budget_kj=2, planned_epochs=100, stable_from=2, window=2)
        for epoch in range(100):
            time.sleep(0.1)
            dlenergy.mark_epoch()
            if budget.update(epoch):
                print("STOPPED", epoch, flush=True)
                break
    """)
    ds = tmp_path / "ds"
    cmd = [
        sys.executable,
        "-m",
        "dlenergy",
        "measure",
        "--out",
        str(ds),
        "--run-id",
        "budget",
        "--architecture",
        "mlp",
        "--dataset",
        "toy",
        "--batch-size",
        "8",
        "--image-size",
        "0",
        "--training-size",
        "64",
        "--period",
        "0.05",
        "--",
        sys.executable,
        "-c",
        child,
    ]
    env = {**__import__("os").environ, "DLENERGY_GPU_BACKEND": f"replay:{trace}"}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    # 300 W x >= 0.1 s per epoch: eq. 2 projects > 2 kJ for 100 epochs as soon as 2 + 2 epochs are done
    assert "STOPPED 3" in res.stdout, res.stderr
    assert "energy-aware early stopping after epoch 3" in res.stderr and "exceeds the budget of 2 kJ" in res.stderr
    from dlenergy.layout import read_runs_table

    row = read_runs_table(ds / "runs.csv", strict=True).frame.iloc[0]
    assert int(row["return_code"]) == 0 and float(row["epochs_trained"]) == 4
