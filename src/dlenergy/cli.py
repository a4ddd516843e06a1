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


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def measure(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="dataset folder (layout v1); created when absent"),
    run_id: str = typer.Option(..., "--run-id", help="run id: folder name under runs/ and key in runs.csv"),
    architecture: str = typer.Option(..., "--architecture"),
    dataset_name: str = typer.Option(..., "--dataset", help="training data set name (runs.csv column 'dataset')"),
    batch_size: int = typer.Option(..., "--batch-size"),
    image_size: int = typer.Option(..., "--image-size"),
    training_size: int = typer.Option(..., "--training-size"),
    validation_size: Optional[int] = typer.Option(None, "--validation-size"),
    environment: Optional[str] = typer.Option(None, "--environment", help="default: host name"),
    gpu_model: Optional[str] = typer.Option(None, "--gpu-model", help="default: the GPU name the backend reports"),
    total_ram_gb: Optional[float] = typer.Option(None, "--total-ram-gb", help="default: this machine's RAM (GiB)"),
    gflops: Optional[float] = typer.Option(None, "--gflops"),
    meta: list[str] = typer.Option([], "--meta", help="extra runs.csv column KEY=VALUE (repeatable)"),
    period: float = typer.Option(1.0, "--period", help="sampling period in seconds (paper: 1 s)"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="GPU indices to sample, e.g. 0,1 (default: all)"),
    backend: Optional[str] = typer.Option(
        None, "--backend", help="auto | nvml | nvidia-smi | replay:PATH | none (default: $DLENERGY_GPU_BACKEND, else auto)"
    ),
):
    """Run a training command and record it as a new run: dlenergy measure --out D --run-id ID ... -- CMD ARGS.

    Samples GPU power/utilization/memory/temperature (NVML, else nvidia-smi) and the command's
    process-tree CPU % and RSS every --period seconds into runs/ID/gpu.csv and cpu.csv, then appends
    the run's row (return code, train_start) to runs.csv.  Exits with the command's return code
    (128+N when killed by signal N); 69 when there is no GPU (the command is not started).
    """
    import logging

    from .measure import MeasureError, measure as run_measure, parse_meta

    logging.basicConfig(level=logging.WARNING, format="dlenergy measure: %(message)s")
    command = list(ctx.args)
    try:
        metadata = {
            "environment": environment,
            "gpu_model": gpu_model,
            "architecture": architecture,
            "dataset": dataset_name,
            "batch_size": batch_size,
            "image_size": image_size,
            "training_size": training_size,
            "validation_size": validation_size,
            "total_ram_gb": total_ram_gb,
            "gflops": gflops,
            **parse_meta(meta),
        }
        indices = [int(x) for x in gpus.split(",") if x.strip()] if gpus else None

        def started(gpu, rdir):
            console.print(f"measure: {gpu.describe()}; every {period:g} s -> {rdir}", highlight=False, soft_wrap=True)

        res = run_measure(command, out, run_id, metadata, period=period, backend=backend, gpu_indices=indices,
                          on_start=started)
    except MeasureError as exc:
        _fail(str(exc), exc.exit_code)
    except ValueError as exc:
        _fail(str(exc), 64)
    console.print(
        f"measure: run {res.run_id} ended with return code {res.return_code} after {res.duration_s:.1f} s; "
        f"{res.samples} samples ({res.missed} skipped) -> {res.run_dir}",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(res.return_code)


@app.command()
def validate(dataset: Path = typer.Argument(..., help="dataset folder in layout v1 (docs/layout.md)")):
    """Check a dataset against layout v1; every problem with its file and line. Exit 1 on any error."""
    from rich.markup import escape

    from .validate import has_fatal, validate_dataset

    problems = validate_dataset(dataset)
    out = Console()
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line is not None else p.file
        kind = "[bold red]error[/]" if p.fatal else "[yellow]warning[/]"
        out.print(f"{escape(where)}: {kind}: {escape(p.message)}", highlight=False, soft_wrap=True)
    n_err = sum(p.fatal for p in problems)
    verdict = "[bold red]not valid[/]" if n_err else "[bold green]valid[/]"
    out.print(f"{escape(str(dataset))}: {verdict} layout v1 dataset: {n_err} error(s), "
              f"{len(problems) - n_err} warning(s)", highlight=False)
    raise typer.Exit(1 if has_fatal(problems) else 0)


def main():  # entry point of the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
