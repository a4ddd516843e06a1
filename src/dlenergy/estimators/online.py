"""Online estimators (paper §4.3, equations 1 and 2): energy from a window of a few stable epochs.

With ``s0`` the stabilizing epoch, a window of ``w`` consecutive stable epochs starting at epoch
``a >= s0``, ``E_w`` and ``d_w`` the window's measured energy and duration, ``E_u`` the energy of the
unstable epochs (``epoch < s0``) and ``s`` the number of stable epochs of the run (``epoch >= s0``):

* power-based (eq. 1):          ``E = P_w x t`` with ``P_w = E_w / d_w`` the window's mean power
  (GPU + RAM, as the replication package adds the mean RAM power) and ``t`` the training duration;
* epoch-energy-based (eq. 2):   ``E = E_w x s / w + E_u``.

Both need ``1 <= w <= s`` and the window inside the stable part.  ``start`` picks the window:
``"stabilizing"`` (``a = s0``), an int ``k`` (``s0 = a = k``: Figure 10 bottom moves the stabilizing
epoch), or ``"random"`` (``a`` uniform in ``[s0, last - w + 1]``, drawn per run from
``(random_state, crc32(run_id))`` so a run's draw does not depend on the other rows).

``stabilizing_epoch`` is one epoch for all runs (the paper uses epoch 10, the epoch by which 90 % of
the runs are stable; the pipeline uses the FLUSS result), a mapping ``run_id -> epoch``, or None to
read the column ``stabilizing_epoch`` of ``X``.  Epochs are identified by the ``epoch`` labels of the
epochs table (layout v1 counts from 0).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from ._tables import check_epochs, check_runs, score_with_epochs


def online_terms(
    ep: pd.DataFrame, s0: int, window: int, start: int | None = None, planned_epochs: int | None = None
) -> dict:
    """The terms of equations 1 and 2 for one run.

    ``ep``: the run's epochs (``epoch, duration_s, energy_j``), sorted or not.  ``start``: first epoch
    of the window (default ``s0``).  ``planned_epochs``: total number of epochs of the run when it is
    still training (default: the epochs in ``ep``).  Returns a dict with ``ok`` and, when not ok,
    ``reason``; else ``E_w, d_w, P_w, E_u, d_u, s, window_epochs, unstable_epochs``.
    """
    return _terms(*_arrays(ep), s0, window, start, planned_epochs)


def _arrays(ep: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch labels, energy J, duration s) of one run, sorted by epoch."""
    labels = ep["epoch"].to_numpy(dtype=np.int64)
    order = np.argsort(labels, kind="stable")
    return (
        labels[order],
        ep["energy_j"].to_numpy(dtype=np.float64)[order],
        ep["duration_s"].to_numpy(dtype=np.float64)[order],
    )


def _arrays_by_run(epochs: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{run_id: (epoch labels, energy J, duration s)}``, each sorted by epoch; one sort, no groupby."""
    rid = epochs["run_id"].astype(str).to_numpy()
    lab = epochs["epoch"].to_numpy(dtype=np.int64)
    e = epochs["energy_j"].to_numpy(dtype=np.float64)
    d = epochs["duration_s"].to_numpy(dtype=np.float64)
    order = np.lexsort((lab, rid))
    rid, lab, e, d = rid[order], lab[order], e[order], d[order]
    cut = np.flatnonzero(rid[1:] != rid[:-1]) + 1
    starts, ends = np.r_[0, cut], np.r_[cut, len(rid)]
    return {str(rid[a]): (lab[a:b], e[a:b], d[a:b]) for a, b in zip(starts, ends) if b > a}


def _terms(
    labels: np.ndarray,
    e: np.ndarray,
    d: np.ndarray,
    s0: int,
    window: int,
    start: int | None = None,
    planned_epochs: int | None = None,
) -> dict:
    if len(labels) == 0:
        return {"ok": False, "reason": "no epochs"}
    a = int(s0 if start is None else start)
    w = int(window)
    first = int(labels[0])
    n_total = int(planned_epochs) if planned_epochs is not None else len(labels)
    last_planned = first + n_total - 1
    s = last_planned - int(s0) + 1  # stable epochs of the whole run
    if w < 1:
        return {"ok": False, "reason": f"window must be >= 1, got {w}"}
    if a < s0:
        return {"ok": False, "reason": f"window start {a} is before the stabilizing epoch {s0}"}
    if s < w:
        return {
            "ok": False,
            "reason": f"window of {w} epochs is longer than the stable part ({s} stable epochs: {s0}..{last_planned})",
        }
    in_win = (labels >= a) & (labels < a + w)
    if in_win.sum() < w:
        have = int((labels >= s0).sum())
        return {
            "ok": False,
            "reason": f"window {a}..{a + w - 1} needs {w} measured stable epochs; "
            f"{have} stable epoch(s) measured from epoch {s0}",
        }
    unstable = labels < s0
    E_w, d_w = float(e[in_win].sum()), float(d[in_win].sum())
    return {
        "ok": True,
        "E_w": E_w,
        "d_w": d_w,
        "P_w": E_w / d_w if d_w > 0 else np.nan,
        "E_u": float(e[unstable].sum()),
        "d_u": float(d[unstable].sum()),
        "s": int(s),
        "w": w,
        "window_epochs": labels[in_win].tolist(),
        "unstable_epochs": labels[unstable].tolist(),
    }


class _OnlineBase(RegressorMixin, BaseEstimator):
    """Equations 1 and 2 on the epochs a run has measured: nothing is learned from other runs.

    ``fit`` validates the runs table and the target and records the table's columns;
    ``predict(X, epochs)`` and ``explain(X, epochs)`` read each run's epochs from ``epochs`` (the
    per-epoch table: ``run_id, epoch, duration_s, energy_j``) and also work unfitted (tag
    ``requires_fit = False``).
    """

    def __init__(self, window: int = 5, start="stabilizing", stabilizing_epoch=10, random_state=None):
        self.window = window
        self.start = start
        self.stabilizing_epoch = stabilizing_epoch
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags

    def _needs(self, X) -> list[str]:
        needs = ["run_id"]
        if self.stabilizing_epoch is None and not self._fixed_start():
            needs.append("stabilizing_epoch")
        return needs

    def _fixed_start(self) -> bool:
        return isinstance(self.start, (int, np.integer)) and not isinstance(self.start, bool)

    def _check_params(self) -> None:
        if not (self.start in ("stabilizing", "random") or self._fixed_start()):
            raise ValueError(f"start must be 'stabilizing', 'random' or an epoch number, not {self.start!r}")

    # -- sklearn API -------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y):
        """Validate the runs table ``X``, the measured energies ``y`` (J) and the parameters."""
        self._check_params()
        check_runs(self, X, y, reset=True, needs=self._needs(X))
        return self

    def predict(self, X: pd.DataFrame, epochs: pd.DataFrame | None = None) -> np.ndarray:
        """Estimated energy (J) of each run of ``X`` from its epochs in ``epochs`` (NaN: cannot estimate)."""
        return self.explain(X, epochs)["energy_j"].to_numpy(dtype=np.float64)

    def score(self, X: pd.DataFrame, y, sample_weight=None, epochs: pd.DataFrame | None = None) -> float:
        """R² of ``predict(X, epochs)`` against the measured energies ``y``."""
        return score_with_epochs(self, X, y, sample_weight, epochs)

    # -- details -----------------------------------------------------------------------------
    def _s0(self, X: pd.DataFrame) -> np.ndarray:
        if self._fixed_start():
            return np.full(len(X), int(self.start))
        se = self.stabilizing_epoch
        if se is None:
            return pd.to_numeric(X["stabilizing_epoch"], errors="coerce").to_numpy(dtype=np.float64)
        if isinstance(se, (Mapping, pd.Series)):
            m = dict(se)
            return np.array([m.get(str(r), np.nan) for r in X["run_id"]], dtype=np.float64)
        return np.full(len(X), int(se))

    def _start_for(self, run_id: str, s0: int, labels: np.ndarray) -> int:
        if self.start != "random":
            return s0
        hi = int(labels.max()) - int(self.window) + 1
        if hi < s0:
            return s0  # online_terms will say the window does not fit
        seed = [int(self.random_state or 0), zlib.crc32(str(run_id).encode("utf-8"))]
        return int(np.random.default_rng(seed).integers(s0, hi + 1))

    def explain(self, X: pd.DataFrame, epochs: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per run: the estimate and the terms it came from (window epochs, E_w, E_u, s, reason)."""
        self._check_params()
        X = check_runs(self, X, reset=False, needs=self._needs(X))[0]
        arrays = _arrays_by_run(check_epochs(self, epochs))
        empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        rows = [
            self._row(rec, s0, arrays.get(str(rec["run_id"]), empty))
            for rec, s0 in zip(X.to_dict("records"), self._s0(X))
        ]
        cols = [
            "run_id",
            "energy_j",
            "stabilizing_epoch",
            "window_start",
            "window_end",
            "E_w",
            "d_w",
            "P_w",
            "E_u",
            "s",
            "reason",
        ]
        return pd.DataFrame(rows, columns=cols)

    def _row(self, rec: dict, s0: float, arrays) -> dict:
        rid = str(rec["run_id"])
        labels, e, d = arrays
        if not np.isfinite(s0):
            return {"run_id": rid, "energy_j": np.nan, "reason": "no stabilizing epoch for this run"}
        s0 = int(s0)
        a = self._start_for(rid, s0, labels) if len(labels) else s0
        terms = _terms(labels, e, d, s0, int(self.window), a, _planned(rec))
        if not terms["ok"]:
            return {
                "run_id": rid,
                "energy_j": np.nan,
                "stabilizing_epoch": s0,
                "window_start": a,
                "reason": terms["reason"],
            }
        return {
            "run_id": rid,
            "energy_j": self._energy(rec, terms),
            "stabilizing_epoch": s0,
            "window_start": a,
            "window_end": a + int(self.window) - 1,
            "E_w": terms["E_w"],
            "d_w": terms["d_w"],
            "P_w": terms["P_w"],
            "E_u": terms["E_u"],
            "s": terms["s"],
            "reason": "",
        }

    def _energy(self, rec, terms) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


def _planned(rec: dict) -> int | None:
    """The run's planned epochs (``planned_epochs``), or None: the epochs it measured."""
    v = rec.get("planned_epochs")
    return int(v) if v is not None and pd.notna(v) else None


def projected_duration(terms: dict) -> float:
    """Training duration (s) projected from a run's epochs: the unstable epochs' measured duration
    plus ``s`` stable epochs at the window's mean epoch duration, ``d_u + s x d_w / w``.

    Examples
    --------
    >>> projected_duration({"d_u": 3.0, "s": 9, "d_w": 8.0, "w": 4})
    21.0
    """
    return float(terms["d_u"] + terms["s"] * terms["d_w"] / terms["w"])


def epoch_energy_projection(terms: dict) -> float:
    """Equation 2: ``E_w x s / w + E_u`` (J).

    Examples
    --------
    >>> epoch_energy_projection({"E_w": 400.0, "s": 9, "w": 4, "E_u": 150.0})
    1050.0
    """
    return float(terms["E_w"] * terms["s"] / terms["w"] + terms["E_u"])


class OnlinePowerEstimator(_OnlineBase):
    """Equation 1: mean power of a window of ``window`` stable epochs x the training duration.

    The duration is ``X["duration_s"]`` (the measured training duration, as in the paper's
    evaluation); without it (a run still training) :func:`projected_duration`.
    """

    def _energy(self, rec, terms) -> float:
        t = float(rec["duration_s"]) if "duration_s" in rec and pd.notna(rec["duration_s"]) else np.nan
        if not np.isfinite(t):
            t = projected_duration(terms)
        return float(terms["P_w"] * t)


class OnlineEpochEnergyEstimator(_OnlineBase):
    """Equation 2: window energy x s / w + energy of the unstable epochs."""

    def _energy(self, rec, terms) -> float:
        return epoch_energy_projection(terms)
