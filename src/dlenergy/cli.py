"""Command-line interface: ``dlenergy`` or ``python -m dlenergy``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Energy of deep-learning training from power logs (del Rey et al.).")
console = Console(stderr=True)


def _fail(msg: str, code: int = 1):
    console.print(f"[bold red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", help="folder to write the dataset to (canonical layout v1)"),
    seed: int = typer.Option(0, "--seed"),
    scale: str = typer.Option("sample", "--scale", help="tiny | sample | full"),
):
    """Write a simulated measurement dataset (layout v1 + ground_truth.csv)."""
    from .simulate import SCALES, simulate_dataset

    if scale not in SCALES:
        _fail(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    gt = simulate_dataset(out, seed=seed, scale=scale)
    counts = gt["defect"].value_counts().sort_index().to_dict()
    console.print(f"wrote {len(gt)} simulated runs to {out} (seed {seed}, scale {scale}); defects: {counts}")


@app.command()
def ingest(
    dataset: Path = typer.Argument(..., help="dataset folder in layout v1"),
    out: Path = typer.Option(..., "--out", help="folder for runs.parquet, epochs.parquet, ingest_ledger.csv"),
):
    """Per-run and per-epoch energy of a layout-v1 dataset (no cleaning)."""
    from .ingest import ingest_dataset
    from .io import dataset_label, write_csv, write_parquet
    from .layout import LayoutError

    try:
        runs, epochs, ledger = ingest_dataset(dataset)
    except LayoutError as exc:
        _fail(str(exc))
    label = dataset_label(dataset)
    write_parquet(runs, out / "runs.parquet", label)
    write_parquet(epochs, out / "epochs.parquet", label)
    write_csv(ledger, out / "ingest_ledger.csv", label)
    console.print(f"{len(runs)} runs, {len(epochs)} epochs, {len(ledger)} ledger entries -> {out}")


def main():  # entry point of the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
