"""Command-line interface: ``dlenergy`` or ``python -m dlenergy``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console, ConsoleDimensions

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Energy of deep-learning training from power logs (del Rey et al.).",
)

#: width of a console that is not a terminal and has no ``COLUMNS``: tables take their natural width
UNWRAPPED_WIDTH = 100_000


class CliConsole(Console):
    """The CLI's rich console: rich's own on a terminal; never hard-wrapped elsewhere.

    Output that is not a terminal (a pipe to ``grep``, a file, CI without ``COLUMNS``) would otherwise be
    wrapped at 80 columns, splitting paths and sentences over lines.  There, every message stays on one
    line (rich's soft wrap) and tables take their natural width, unless ``COLUMNS`` sets one.  Both are
    decided at each print, so the console follows the stream it writes to at that time.

    Examples
    --------
    >>> import io
    >>> c = CliConsole(file=io.StringIO())
    >>> c.print("error: " + "/very/long/path" * 10, highlight=False)
    >>> len(c.file.getvalue().splitlines())
    1
    """

    def print(self, *objects, soft_wrap: Optional[bool] = None, **kwargs) -> None:
        """rich's ``print``; not on a terminal, soft-wrapped unless the caller says otherwise."""
        if soft_wrap is None and not self.is_terminal:
            soft_wrap = True
        super().print(*objects, soft_wrap=soft_wrap, **kwargs)

    @property
    def size(self) -> ConsoleDimensions:
        """rich's size; not on a terminal, with no set width and no ``COLUMNS``, unlimited width."""
        size = Console.size.fget(self)
        if self.is_terminal or self._width is not None or "COLUMNS" in self._environ:
            return size
        return ConsoleDimensions(UNWRAPPED_WIDTH, size.height)

    size = size.setter(Console.size.fset)


console = CliConsole(stderr=True)


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
    """Per-run and per-epoch energy of a layout-v1 dataset (no cleaning).

    Runs whose GPU logs carry the board's energy counter (``dlenergy measure`` with NVML) are also
    checked against it: energy_check.csv, and a table on the terminal.
    """
    from .energy import counter_check
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
    check = counter_check(runs, epochs)
    if len(check):
        write_csv(check, out / "energy_check.csv", label)
        from rich.table import Table

        t = Table(title="GPU energy: integrated power vs the board's energy counter")
        for col in ("run", "integrated kJ", "counter kJ", "diff", "epoch ratio"):
            t.add_column(col, justify="left" if col == "run" else "right", no_wrap=col == "run")
        for r in check.itertuples():
            t.add_row(
                r.run_id,
                f"{r.integrated_energy_j / 1e3:.3f}",
                f"{r.counter_energy_j / 1e3:.3f}",
                f"{r.difference_pct:+.2f} %",
                f"{r.epoch_ratio_median:.3f}".replace("nan", ""),
            )
        console.print(t)


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
        None,
        "--backend",
        help="auto | nvml | nvidia-smi | replay:PATH | none (default: $DLENERGY_GPU_BACKEND, else auto)",
    ),
):
    """Run a training command and record it as a new run: dlenergy measure --out D --run-id ID ... -- CMD ARGS.

    Samples GPU power/utilization/memory/temperature (NVML, else nvidia-smi) and the command's
    process-tree CPU % and RSS every --period seconds into runs/ID/gpu.csv and cpu.csv, then appends
    the run's row (return code, train_start) to runs.csv.  Exits with the command's return code
    (128+N when killed by signal N); 69 when there is no GPU (the command is not started).
    """
    import logging

    from .recording.errors import EXIT_USAGE, MeasureError
    from .recording.measure import measure_from_cli

    logging.basicConfig(level=logging.WARNING, format="dlenergy measure: %(message)s")
    fields = {
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
    }

    def say(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True)

    try:
        res = measure_from_cli(
            list(ctx.args), out, run_id, fields, meta, period=period, gpus=gpus, backend=backend, say=say
        )
    except MeasureError as exc:
        _fail(str(exc), exc.exit_code)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    say(res.summary())
    raise typer.Exit(res.return_code)


@app.command()
def validate(dataset: Path = typer.Argument(..., help="dataset folder in layout v1 (docs/layout.md)")):
    """Check a dataset against layout v1; every problem with its file and line. Exit 1 on any error."""
    from rich.markup import escape

    from .validate import has_fatal, validate_dataset

    problems = validate_dataset(dataset)
    out = CliConsole()
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line is not None else p.file
        kind = "[bold red]error[/]" if p.fatal else "[yellow]warning[/]"
        out.print(f"{escape(where)}: {kind}: {escape(p.message)}", highlight=False, soft_wrap=True)
    n_err = sum(p.fatal for p in problems)
    verdict = "[bold red]not valid[/]" if n_err else "[bold green]valid[/]"
    out.print(
        f"{escape(str(dataset))}: {verdict} layout v1 dataset: {n_err} error(s), {len(problems) - n_err} warning(s)",
        highlight=False,
    )
    raise typer.Exit(1 if has_fatal(problems) else 0)


def _refuse(msg: str, code: int = 2):
    """One line (no wrapping, no markup) on stderr, then exit ``code``: the refusals of estimate and project."""
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def estimate(
    gpu: str = typer.Option(..., "--gpu", help="GPU model, e.g. 'NVIDIA GeForce RTX 3090' or 'RTX 3090'"),
    ram_gb: float = typer.Option(..., "--ram-gb", help="total RAM (GB, > 0)"),
    gflops: float = typer.Option(..., "--gflops", help="GFLOPs of one forward pass of the model (> 0)"),
    train_size: int = typer.Option(..., "--train-size", help="training images (>= 1)"),
    val_size: int = typer.Option(..., "--val-size", help="validation images (>= 0)"),
    batch_size: int = typer.Option(..., "--batch-size", help="images per batch (>= 1)"),
    image_size: int = typer.Option(..., "--image-size", help="input size (pixels per side, >= 1)"),
    epochs: int = typer.Option(..., "--epochs", help="planned epochs (>= 1)"),
    duration_s: Optional[float] = typer.Option(None, "--duration-s", help="expected training duration (s, > 0)"),
    model_dir: Optional[Path] = typer.Option(
        None, "--model-dir", help="default: results/seaa2023/models (real), else results/sample/models (synthetic)"
    ),
    extrapolate: bool = typer.Option(False, "--extrapolate", help="estimate even outside the training domain"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
):
    """Offline energy estimate before training (paper §4.3: power and epoch-energy regressions).

    The first line says which data the model was fitted on: real measurements (the SEAA 2023 power
    model, where the pipeline has built it) or synthetic data (the sample).
    """
    from .estimators.cli_support import NoModel, RefusedInput, estimate_offline, render_estimate

    inputs = {
        "gpu_model": gpu,
        "total_ram_gb": ram_gb,
        "gflops": gflops,
        "training_size": train_size,
        "validation_size": val_size,
        "batch_size": batch_size,
        "image_size": image_size,
    }
    try:
        out = estimate_offline(
            inputs, epochs=epochs, duration_s=duration_s, model_dir=model_dir, extrapolate=extrapolate
        )
    except RefusedInput as exc:
        _refuse(str(exc), 2)
    except (NoModel, ValueError) as exc:
        _refuse(str(exc), 1)
    if as_json:
        print(json.dumps(out, default=float, sort_keys=True, allow_nan=False))
    else:
        render_estimate(out, CliConsole())


@app.command()
def project(
    gpu_log: Path = typer.Option(..., "--gpu-log", help="the run's gpu.csv so far (layout v1)"),
    epochs_file: Path = typer.Option(..., "--epochs", help="the run's epochs.csv so far (epoch,end_time)"),
    planned_epochs: int = typer.Option(..., "--planned-epochs", help="total epochs the training will run (>= 1)"),
    window: int = typer.Option(5, "--window", help="window of stable epochs (w >= 1)"),
    stabilizing_epoch: str = typer.Option(
        "10", "--stabilizing-epoch", help="epoch number, or 'auto' (FLUSS on the log)"
    ),
    start: str = typer.Option("stabilizing", "--start", help="window start: stabilizing | latest"),
    cpu_log: Optional[Path] = typer.Option(None, "--cpu-log", help="cpu.csv so far (adds RAM energy)"),
    train_start: Optional[str] = typer.Option(
        None, "--train-start", help="training start time (default: first GPU sample)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
):
    """Online projection of a running training's total energy (paper §4.3, equations 1 and 2)."""
    from .estimators.cli_support import RefusedInput, project_online, render_projection
    from .layout import LayoutError

    if stabilizing_epoch != "auto" and not stabilizing_epoch.lstrip("-").isdigit():
        _refuse(f"--stabilizing-epoch must be an epoch number or 'auto', not {stabilizing_epoch!r}", 2)
    try:
        out = project_online(
            gpu_log,
            epochs_file,
            planned_epochs,
            window=window,
            stabilizing_epoch=stabilizing_epoch if stabilizing_epoch == "auto" else int(stabilizing_epoch),
            start=start,
            cpu_log=cpu_log,
            train_start=train_start,
        )
    except (RefusedInput, LayoutError) as exc:  # a log ingest would refuse is refused here too
        _refuse(str(exc), 2)
    if as_json:
        print(json.dumps(out, default=float, sort_keys=True, allow_nan=False))
    else:
        render_projection(out, CliConsole())


@app.command()
def fetch(
    source: str = typer.Argument(..., help="seaa2023 | zenodo, or a Zenodo DOI (10.5281/zenodo.<id>) or record id"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder to unpack into (default: data/<source>/raw)"),
    file: Optional[str] = typer.Option(
        None, "--file", help="file of the record, name or glob (default: its single archive)"
    ),
    known_hash: Optional[str] = typer.Option(
        None, "--known-hash", help="pin: md5:<hex> (must equal Zenodo's) or sha256:<hex>"
    ),
    api: str = typer.Option(
        "https://zenodo.org/api/records/", "--api", envvar="DLENERGY_ZENODO_API", help="Zenodo's records API"
    ),
):
    """Download a source's pinned Zenodo record (records API, md5-checked, resumable) and unpack it.

    Exits 2 with one line on stderr when the record cannot be resolved, downloaded or unpacked.
    """
    import sys

    from .sources.download import DownloadError, SourceConfigError
    from .sources.zenodo_api import fetch_source, source_config

    try:
        name, cfg = source_config(source, file=file, known_hash=known_hash)
        dest = out if out is not None else Path("data") / name / "raw"
        if sys.stderr.isatty():
            typer.echo(f"resolving {cfg['zenodo']['doi']} through {api} ...", err=True)
        path, spec = fetch_source(name, cfg, dest, api_base=api)
    except (DownloadError, SourceConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    size = f"{spec.size:,} bytes, " if spec.size is not None else ""
    typer.echo(f"{spec.name} ({size}md5 {spec.md5}) of {cfg['zenodo']['doi']} unpacked into {path}")


def main():  # entry point of the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
