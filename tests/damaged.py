"""A small damaged-dataset factory for the damaged-data suite (tests/test_damaged_*.py).

The base is the project's simulator at ``scale="tiny"`` (six of its runs: a completed one, cut
lines, a killed run, an OOM, a short run, a RAM-sweep run), written once per test session.  A case copies it and alters **one run** (the victim)
at a time, with plain byte-level edits of its files, the way a user's real logs get damaged.  The
suite then ingests the copy and asserts the outcome against the undamaged ingest:

* :func:`assert_others_unchanged`: every other run's row and epochs are identical, bit for bit;
* :func:`assert_kept`: the victim keeps its energy (within ``rel`` of the undamaged run's);
* :func:`assert_ledgered`: the victim is in the ingest ledger with a printable reason matching a
  pattern, and not in the runs.
"""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dlenergy.ingest import ingest_dataset
from dlenergy.simulate import simulate_dataset

SEED = 7
#: a completed run with epoch markers, train_start and a RAM log (defect "none")
VICTIM = "b1-cloud-mobilenet_v2-chesslive-b32-i128-r16-00"
PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


#: the runs kept from the tiny dataset (fewer runs: each case copies and ingests the whole set)
KEEP = (
    VICTIM,
    "b1-cloud-mobilenet_v2-chesslive-b32-i128-r16-01",
    "b1-local_ml_engineer-mobilenet_v2-chesslive-b32-i128-r32-00",
    "b1-local_normal_user-resnet50-chesslive-b32-i128-r32-00",
    "b2-local_ml_engineer-inception_v3-caltech101-b256-i75-r32-01",
    "ram-cloud-inception_v3-stanford_dogs-b256-i128-r8-00",
)


@functools.lru_cache(maxsize=1)
def base_dataset() -> Path:
    """The undamaged dataset: six runs of the tiny simulated one (a completed run, cut lines, a
    killed run, an OOM, a short run, a RAM-sweep run), written once per session, never altered."""
    root = Path(tempfile.mkdtemp(prefix="dlenergy-damaged-")) / "base"
    simulate_dataset(root, seed=SEED, scale="tiny")
    lines = (root / "runs.csv").read_text().splitlines(keepends=True)
    (root / "runs.csv").write_text("".join([lines[0]] + [ln for ln in lines[1:] if ln.split(",", 1)[0] in KEEP]))
    for d in (root / "runs").iterdir():
        if d.name not in KEEP:
            shutil.rmtree(d)
    return root


@dataclass(frozen=True)
class Ingested:
    runs: pd.DataFrame
    epochs: pd.DataFrame
    ledger: pd.DataFrame

    def row(self, run_id: str = VICTIM) -> pd.Series:
        return self.runs.set_index("run_id").loc[run_id]


@functools.lru_cache(maxsize=1)
def baseline() -> Ingested:
    base = Ingested(*ingest_dataset(base_dataset()))
    refused = dict(zip(base.ledger.run_id, base.ledger.reason))
    assert set(KEEP) - set(refused) <= set(base.runs.run_id), f"the undamaged base lost runs: {refused}"
    assert VICTIM in set(base.runs.run_id), f"the undamaged victim is refused: {refused.get(VICTIM)}"
    return base


def copy_dataset(tmp_path: Path) -> Path:
    ds = tmp_path / "ds"
    shutil.copytree(base_dataset(), ds)
    return ds


def run_dir(ds: Path, run_id: str = VICTIM) -> Path:
    return ds / "runs" / run_id


def lines_of(path: Path) -> list[bytes]:
    """The file's lines, without their line ends."""
    return path.read_bytes().split(b"\n")[:-1] if path.read_bytes().endswith(b"\n") else path.read_bytes().split(b"\n")


def write_lines(path: Path, lines: list[bytes], end: bytes = b"\n") -> None:
    path.write_bytes(end.join(lines) + end)


def edit_lines(path: Path, fn) -> None:
    """Replace each data line (header excluded) by ``fn(index, line)`` (None: delete the line)."""
    lines = lines_of(path)
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        new = fn(i, line)
        if new is None:
            continue
        out.extend(new if isinstance(new, list) else [new])
    write_lines(path, out)


def field_of(line: bytes, i: int, sep: bytes = b",") -> bytes:
    return line.split(sep)[i].strip()


def set_field(line: bytes, i: int, value: bytes, sep: bytes = b",") -> bytes:
    parts = line.split(sep)
    parts[i] = (b" " if parts[i].startswith(b" ") else b"") + value
    return sep.join(parts)


def edit_runs_row(ds: Path, column: str, value: str, run_id: str = VICTIM) -> None:
    """Set one runs.csv value of one run (the file is otherwise kept byte for byte)."""
    path = ds / "runs.csv"
    lines = path.read_text().split("\n")
    header = lines[0].split(",")
    at = header.index(column)
    for k, line in enumerate(lines[1:], start=1):
        parts = line.split(",")
        if parts and parts[0] == run_id:
            parts[at] = value
            lines[k] = ",".join(parts)
    path.write_text("\n".join(lines))


def ingest(ds: Path, **kw) -> Ingested:
    return Ingested(*ingest_dataset(ds, **kw))


def assert_others_unchanged(got: Ingested, victim: str = VICTIM, base: Ingested | None = None) -> None:
    """Every run but the victim: the same row and epochs as undamaged, exactly; no ledger row."""
    base = base or baseline()
    a = got.runs[got.runs.run_id != victim].reset_index(drop=True)
    b = base.runs[base.runs.run_id != victim].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ea = got.epochs[got.epochs.run_id != victim].reset_index(drop=True)
    eb = base.epochs[base.epochs.run_id != victim].reset_index(drop=True)
    pd.testing.assert_frame_equal(ea, eb, check_exact=True)
    assert set(got.ledger.run_id) <= {victim} | set(base.ledger.run_id), got.ledger


def assert_kept(
    got: Ingested, rel: float = 0.02, victim: str = VICTIM, base: Ingested | None = None, column: str = "energy_j"
) -> pd.Series:
    """The victim is ingested, not in the ledger, with its energy within ``rel`` of the undamaged run."""
    base = base or baseline()
    assert victim not in set(got.ledger.run_id), got.ledger.to_string()
    row, ref = got.row(victim), base.row(victim)
    assert abs(row[column] / ref[column] - 1) <= rel, (column, row[column], ref[column])
    return row


def assert_ledgered(got: Ingested, pattern: str, victim: str = VICTIM) -> str:
    """The victim is refused: one ledger row (stage ingest) whose printable reason matches ``pattern``."""
    assert victim not in set(got.runs.run_id), f"{victim} was ingested: {got.row(victim).to_dict()}"
    rows = got.ledger[got.ledger.run_id == victim]
    assert len(rows) == 1, got.ledger.to_string()
    reason = rows.iloc[0]["reason"]
    assert rows.iloc[0]["stage"] == "ingest"
    assert PRINTABLE.match(reason) and len(reason) <= 200, repr(reason)
    assert re.search(pattern, reason), reason
    return reason
