"""What a failed pipeline run tells its user: which rule logs hold the error, and the error itself.

The default workflow profile keeps the console short (``quiet: [rules]``), which also hides
Snakemake's per-job error blocks.  The Snakefile's ``onerror`` handler calls :func:`failures` and
prints one line per failed job: the log file and the error it ends with (a rule script logs its
traceback there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_ERROR_MARKERS = ("Traceback (most recent call last)", " ERROR ")


@dataclass(frozen=True)
class Failure:
    log: Path
    message: str

    def line(self) -> str:
        return f"dlenergy: {self.log}: {self.message}"


def _last_error(text: str) -> str:
    """The error a log ends with: the last line of its last traceback (or its last ERROR line)."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if not ln.startswith((" ", "\t")) and ("Error" in ln or "Exception" in ln or " ERROR " in ln):
            return ln[:300]
    return lines[-1][:300] if lines else "(empty log)"


def failures(log_root: str | Path, since: float) -> list[Failure]:
    """The rule logs under ``log_root`` written since ``since`` (epoch seconds) that record an error.

    Examples
    --------
    >>> import tempfile, time
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "x.log").write_text("Traceback (most recent call last):\\n  File ...\\nValueError: bad input\\n")
    >>> [f.message for f in failures(d, time.time() - 60)]
    ['ValueError: bad input']
    """
    out = []
    for p in sorted(Path(log_root).rglob("*.log")):
        if p.stat().st_mtime < since:
            continue
        text = p.read_text(errors="replace")
        if any(m in text for m in _ERROR_MARKERS):
            out.append(Failure(p, _last_error(text)))
    return out
