"""Reading a CSV log as text, whatever state it is in, in bounded chunks of whole lines.

What every log of layout v1 gets (``gpu.csv``, ``cpu.csv``, ``epochs.csv``, ``runs.csv``):

* a UTF-8 byte-order mark at the start is dropped; a file with a UTF-16 one (Windows PowerShell's
  ``>`` writes UTF-16) is transcoded;
* ``\\r\\n`` and a lone ``\\r`` (old Mac) end a line like ``\\n``;
* a line holding bytes that are not UTF-8 is blanked and its file line number recorded
  (:attr:`Damage.bad_byte_lines`): the bytes cost that line, never the file;
* line numbers are file line numbers: the header is line 1.

:func:`printable` turns any message into one printable line of at most 200 characters, for the
ingest ledger (never raw bytes).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 8 << 20  #: bytes read per chunk: bounds the memory of parsing one log
MAX_REASON = 200


@dataclass
class Damage:
    """What the text layer removed from a file."""

    bad_byte_lines: list[int] = field(default_factory=list)
    n_bad_byte_lines: int = 0
    keep: int | None = 20  #: line numbers kept (None: all)

    def add(self, line: int) -> None:
        self.n_bad_byte_lines += 1
        if self.keep is None or len(self.bad_byte_lines) < self.keep:
            self.bad_byte_lines.append(line)


@dataclass
class Chunk:
    """Whole lines of a file: valid UTF-8 bytes with ``\\n`` line ends, and where they start."""

    data: bytes
    first_line: int  # file line number of the first line in ``data``
    n_lines: int


def _normalize(data: bytes) -> bytes:
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def _blank_bad_lines(data: bytes, first_line: int, damage: Damage, replace: bool = False) -> bytes:
    """Blank every line that is not valid UTF-8 (kept as an empty line, so numbering holds).

    With ``replace`` the line is kept, its invalid bytes turned into U+FFFD (for small files whose
    other fields on the line are still worth reading: epoch markers, runs.csv rows).
    """
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    out, pos, line = [], 0, first_line
    while pos < len(data):
        try:
            data[pos:].decode("utf-8")
            out.append(data[pos:])
            break
        except UnicodeDecodeError as exc:
            bad = pos + exc.start
            start = data.rfind(b"\n", 0, bad) + 1
            end = data.find(b"\n", bad)
            end = len(data) if end < 0 else end
            line += data.count(b"\n", pos, start)
            out.append(data[pos:start])
            if replace:
                out.append(data[start:end].decode("utf-8", "replace").encode("utf-8"))
            damage.add(line)
            pos = end  # keep the newline: the blanked line still counts as a line
    return b"".join(out)


def _blocks(fh, chunk_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Raw blocks of the file as UTF-8 bytes, and whether the file ends with the block.

    A file that starts with a UTF-16 byte-order mark (``nvidia-smi ... > gpu.csv`` in Windows
    PowerShell writes UTF-16) is transcoded on the fly; characters it cannot decode become U+FFFD.
    """
    head = fh.read(2)
    decoder = codecs.getincrementaldecoder("utf-16")("replace") if head in (b"\xff\xfe", b"\xfe\xff") else None
    pending, hold = head, b""
    while True:
        raw = pending + fh.read(chunk_bytes - len(pending))
        pending = b""
        eof = len(raw) < chunk_bytes  # a short read: the file ends here (its last line may lack a newline)
        if decoder is not None:
            raw = decoder.decode(raw, final=eof).encode("utf-8")
        raw, hold = hold + raw, b""
        if not eof and raw.endswith(b"\r"):  # a \r\n split between two blocks stays one line end
            raw, hold = raw[:-1], b"\r"
        yield raw, eof
        if eof:
            return


def iter_chunks(
    path: str | Path, damage: Damage, *, chunk_bytes: int = CHUNK_BYTES, replace: bool = False
) -> Iterator[Chunk]:
    """The file's lines after the header, in chunks of about ``chunk_bytes`` (``replace``: see
    :func:`_blank_bad_lines`)."""
    with open(path, "rb") as fh:
        first = True
        carry, line = b"", 2
        for raw, eof in _blocks(fh, max(chunk_bytes, 4)):
            data = carry + _normalize(raw)
            if first:
                first = False
                if data.startswith(BOM):
                    data = data[len(BOM) :]
                cut = data.find(b"\n")
                if cut < 0 and not eof:  # a header longer than a chunk: keep reading
                    carry, first = data, True
                    continue
                data = data[cut + 1 :] if cut >= 0 else b""
            if not eof:
                cut = data.rfind(b"\n")
                data, carry = (data[: cut + 1], data[cut + 1 :]) if cut >= 0 else (b"", data)
            else:
                carry = b""
            if data:
                data = _blank_bad_lines(data, line, damage, replace)
                n = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
                yield Chunk(data, line, n)
                line += n
            if eof:
                return


def read_header(path: str | Path) -> tuple[str | None, bytes]:
    """The first line of the file (BOM and line end dropped) as text, and its raw bytes.

    The text is None when the line is not UTF-8 (a binary file, or another encoding).
    """
    with open(path, "rb") as fh:
        head = b""
        for raw, _ in _blocks(fh, 1 << 16):
            head += raw
            if b"\n" in head or b"\r" in head:
                break
    head = head[len(BOM) :] if head.startswith(BOM) else head
    raw = re.split(rb"\r\n|\r|\n", head, maxsplit=1)[0]
    try:
        return raw.decode("utf-8"), raw
    except UnicodeDecodeError:
        return None, raw


def read_text_lines(path: str | Path, damage: Damage) -> list[str]:
    """All lines of a small file (header first) for epochs.csv and runs.csv: the treatment above,
    invalid bytes replaced by U+FFFD (the line is kept, its line number recorded in ``damage``)."""
    head, raw = read_header(path)
    if head is None:
        damage.add(1)
        head = raw.decode("utf-8", "replace")
    lines = [head]
    for ch in iter_chunks(path, damage, replace=True):
        text = ch.data.decode("utf-8")
        parts = text.split("\n")
        if text.endswith("\n"):
            parts.pop()
        lines.extend(parts)
    return lines


_CTRL = re.compile(r"[^\x20-\x7e\u00a0-\ud7ff\ue000-\ufffc]")


def printable(message: object, limit: int = MAX_REASON) -> str:
    """One printable line of at most ``limit`` characters: control and invalid characters escaped.

    Examples
    --------
    >>> printable("gpu.csv:3: bad value 'a\\x00b\\ufffd'\\nnext line")
    "gpu.csv:3: bad value 'a\\\\x00b\\\\ufffd' next line"
    >>> len(printable("x" * 500))
    200
    """
    text = str(message)
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    text = _CTRL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
    text = text.replace("\ufffd", "\\ufffd")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
