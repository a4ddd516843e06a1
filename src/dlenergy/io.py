"""Atomic, labelled writing of pipeline outputs: nothing half-written is ever left behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from . import SYNTHETIC_LABEL

LABEL_COLUMN = "data_label"


def dataset_label(dataset: str | Path) -> str | None:
    """The dataset's label from ``dataset_info.json`` (``"synthetic sample ..."`` for simulated data)."""
    info = Path(dataset) / "dataset_info.json"
    if info.is_file():
        meta = json.loads(info.read_text())
        if meta.get("synthetic"):
            return meta.get("label") or SYNTHETIC_LABEL
        return meta.get("label")
    return None


def dataset_info(dataset: str | Path) -> dict:
    """The dataset's ``dataset_info.json`` (``{}`` when it has none: a user's own dataset)."""
    info = Path(dataset) / "dataset_info.json"
    return json.loads(info.read_text()) if info.is_file() else {}


def is_synthetic(dataset: str | Path) -> bool:
    """True for a simulated dataset (``"synthetic": true`` in its ``dataset_info.json``)."""
    return bool(dataset_info(dataset).get("synthetic"))


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def labelled(df: pd.DataFrame, label: str | None) -> pd.DataFrame:
    if label is None:
        return df
    out = df.copy()
    out[LABEL_COLUMN] = label
    return out


def write_parquet(df: pd.DataFrame, path: str | Path, label: str | None = None) -> None:
    df = labelled(df, label)
    _atomic(Path(path), lambda tmp: df.to_parquet(tmp, index=False))


def write_csv(df: pd.DataFrame, path: str | Path, label: str | None = None, **kw) -> None:
    df = labelled(df, label)
    _atomic(Path(path), lambda tmp: df.to_csv(tmp, index=False, **kw))


def write_text(text: str, path: str | Path) -> None:
    def w(tmp):
        Path(tmp).write_text(text)

    _atomic(Path(path), w)


def read_parquet(path: str | Path) -> pd.DataFrame:
    df = pd.read_parquet(path)
    return df
