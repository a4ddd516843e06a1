"""Paper-ready LaTeX (booktabs) versions of the pipeline's CSV tables, with the same numbers.

Every cell goes through :func:`format_cell`, so a ``.tex`` table and its CSV agree once both are
formatted the same way (``formatted_frame(pd.read_csv(csv))`` equals the cells of the ``.tex``):

* integers as they are; other numbers to 4 significant digits (``0.9054``, ``121.7``, ``135``);
* p-values (columns named ``p``, ``p_value``, ``*_p``, ``p_adjusted``, ``p_unadjusted``, ...) below
  0.001, and any number below 1e-4 or from 1e6 up, in scientific notation: ``$2.307 \\times 10^{-25}$``;
* missing values as ``--``; booleans as ``yes`` / ``no``; text escaped for LaTeX
  (``_``, ``%``, ``&``, ``#``, ``$``, ``{``, ``}``, ``~``, ``^``, ``\\`` and a few Unicode symbols).

The data label column (``data_label``) goes to the caption instead of a column; columns that are
empty in every row are left out, and text columns with one value in every row (``analysis``,
``subset``, ``status``, ...) move to the caption as ``column: value`` -- the table keeps only what
varies.  Tables of more than :data:`LONGTABLE_ROWS` rows use ``longtable``; the others a ``table``
float whose tabular is scaled down to the text width when wider (``adjustbox``).  Preamble:
``\\usepackage{booktabs,longtable,adjustbox}``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

#: rows above which a table is typeset as a longtable (page breaks allowed)
LONGTABLE_ROWS = 40
#: columns that hold p-values (formatted in scientific notation below 0.001)
P_VALUE_COLUMN = re.compile(r"(^p$|^p_value|^pvalue|_p$|^p_adjusted$|^p_unadjusted$|_p_value$|_pvalue$)", re.I)
LABEL_COLUMN = "data_label"
MISSING = "--"
SIGNIFICANT = 4

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "–": "--",
    "—": "---",
    "−": r"$-$",
    "×": r"$\times$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "η": r"$\eta$",
    "ρ": r"$\rho$",
    "δ": r"$\delta$",
    "²": r"$^2$",
    "±": r"$\pm$",
    "·": r"$\cdot$",
    "§": r"\S{}",
    "µ": r"$\mu$",
    "→": r"$\rightarrow$",
    "≈": r"$\approx$",
    "\u00a0": "~",
    "\r\n": " ",
    "\n": " ",
    "\r": " ",
    "\t": " ",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "≠": r"$\neq$",
    "∞": r"$\infty$",
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "σ": r"$\sigma$",
    "μ": r"$\mu$",
    "Δ": r"$\Delta$",
    "…": r"\ldots{}",
    "’": "'",
    "‘": "`",
    "“": "``",
    "”": "''",
    "°": r"$^\circ$",
}
_ESCAPE_RE = re.compile("|".join(re.escape(k) for k in _ESCAPES))


def escape(text: str) -> str:
    """``text`` safe for LaTeX (special characters escaped, a few Unicode symbols as math)."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], str(text))


def is_p_value_column(name: str) -> bool:
    return bool(P_VALUE_COLUMN.search(str(name)))


def _scientific(x: float) -> str:
    mantissa, exponent = f"{x:.{SIGNIFICANT - 1}e}".split("e")
    return rf"${mantissa} \times 10^{{{int(exponent)}}}$"


def format_number(x, p_value: bool = False) -> str:
    """One number as it appears in the LaTeX tables (see the module docstring)."""
    if x is None or x is pd.NA or x is pd.NaT:
        return MISSING
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return MISSING
    if math.isinf(x):
        return r"$\infty$" if x > 0 else r"$-\infty$"
    if x == 0:
        return "0"
    ax = abs(x)
    if (p_value and ax < 1e-3) or ax < 1e-4 or ax >= 1e6:
        return _scientific(x)
    return np.format_float_positional(x, precision=SIGNIFICANT, unique=False, fractional=False, trim="-")


def format_cell(value, column: str = "") -> str:
    """One cell: numbers by :func:`format_number`, anything else as escaped text."""
    if isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating)) or value is None or value is pd.NA:
        return format_number(value, p_value=is_p_value_column(column))
    return escape(value)


def parse_number(cell: str) -> float | None:
    """Back from a formatted cell to a float (None for text); the inverse of :func:`format_number`."""
    s = cell.strip()
    m = re.fullmatch(r"\$(-?[0-9.]+) \\times 10\^\{(-?\d+)\}\$", s)
    if m:
        return float(m.group(1)) * 10.0 ** int(m.group(2))
    if s == MISSING:
        return float("nan")
    try:
        return float(s)
    except ValueError:
        return None


def _constant_text(col: pd.Series) -> bool:
    values = col.dropna()
    return (col.dtype == object or pd.api.types.is_string_dtype(col)) and values.nunique() == 1 and col.notna().all()


def split_table(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str], str | None]:
    """(the columns that go in the table, the constant text columns for the caption, the data label)."""
    label = None
    if LABEL_COLUMN in df:
        vals = df[LABEL_COLUMN].dropna().unique()
        label = "; ".join(str(v) for v in vals) if len(vals) else None
        df = df.drop(columns=[LABEL_COLUMN])
    df = df.loc[:, [c for c in df.columns if df[c].notna().any()]] if len(df) else df
    constants = {}
    if len(df) > 1:
        for c in list(df.columns):
            if _constant_text(df[c]) and len(df.columns) - len(constants) > 1:
                constants[c] = str(df[c].iloc[0])
        df = df.drop(columns=list(constants))
    return df, constants, label


def formatted_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The table's cells as the LaTeX strings (after :func:`split_table`), column headers escaped."""
    body, _, _ = split_table(df)
    out = pd.DataFrame(
        {escape(c): [format_cell(v, c) for v in body[c].astype(object).tolist()] for c in body.columns},
        index=range(len(body)),
    )
    return out


def _column_format(body: pd.DataFrame) -> str:
    return "".join(
        "r" if pd.api.types.is_numeric_dtype(body[c]) or pd.api.types.is_bool_dtype(body[c]) else "l"
        for c in body.columns
    )


def to_latex(df: pd.DataFrame, caption: str, label: str, *, source: str | None = None) -> str:
    """The booktabs LaTeX of ``df`` with ``caption`` (plain text, escaped here) and ``\\label{label}``."""
    body, constants, data_label = split_table(df)
    cells = formatted_frame(df)
    parts = [caption.strip().rstrip(".") + "."]
    if constants:
        parts.append("; ".join(f"{k}: {v}" for k, v in constants.items()) + ".")
    if source:
        parts.append(f"Source: {source}.")
    if data_label:
        synthetic = "synthetic" in data_label.lower() or "simulated" in data_label.lower()
        parts.append(("SYNTHETIC DATA: " if synthetic else "Data: ") + data_label + ".")
    cap = escape(" ".join(parts))
    header = [
        "% Generated by dlenergy.latex from the pipeline's CSV table: do not edit by hand.",
        "% Preamble: \\usepackage{booktabs,longtable,adjustbox}",
    ]
    if cells.empty and not len(cells.columns):
        return "\n".join(header + [rf"% (empty table) {cap}", ""])
    styler = cells.style.hide(axis="index")
    colfmt = _column_format(body)
    if len(cells) > LONGTABLE_ROWS:
        tex = styler.to_latex(hrules=True, environment="longtable", caption=cap, label=label, column_format=colfmt)
        tex = "{\\scriptsize\n" + tex.rstrip() + "\n}\n"
    else:
        tabular = styler.to_latex(hrules=True, column_format=colfmt).rstrip()
        tex = "\n".join(
            [
                r"\begin{table}[htbp]",
                r"\centering",
                rf"\caption{{{cap}}}",
                rf"\label{{{label}}}",
                r"\begin{adjustbox}{max width=\textwidth}",
                tabular,
                r"\end{adjustbox}",
                r"\end{table}",
                "",
            ]
        )
    return "\n".join(header) + "\n" + tex


def write_latex(df: pd.DataFrame, path: str | Path, caption: str, label: str, *, source: str | None = None) -> None:
    """Write :func:`to_latex` of ``df`` to ``path`` atomically."""
    from .io import write_text

    write_text(to_latex(df, caption, label, source=source), path)


def body_rows(tex: str) -> list[list[str]]:
    """The cells of a table written by :func:`to_latex`: the header row first, then the body rows."""

    def cells(line: str) -> list[str]:
        return [c.strip() for c in re.split(r"(?<!\\)&", line.strip()[:-2])]

    lines = [ln.strip() for ln in tex.splitlines()]
    top = next((i for i, ln in enumerate(lines) if ln.startswith(r"\toprule")), None)
    if top is None:
        return []
    rows = [cells(lines[top + 1])]
    if any(ln.startswith(r"\endlastfoot") for ln in lines):  # longtable: the body follows the foot
        start = next(i for i, ln in enumerate(lines) if ln.startswith(r"\endlastfoot")) + 1
    else:
        start = next(i for i, ln in enumerate(lines) if i > top and ln.startswith(r"\midrule")) + 1
    for ln in lines[start:]:
        if ln.startswith((r"\bottomrule", r"\end{longtable}", r"\end{tabular}")):
            break
        if ln.endswith("\\\\"):
            rows.append(cells(ln))
    return rows


_CAPTION_MARKUP = [
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"``(.+?)``"), r"\1"),
    (re.compile(r"\*(.+?)\*"), r"\1"),
    (re.compile(r"`([^`<]+?)\s*<[^>]+>`_"), r"\1"),
    (re.compile(r"\{[%#].*?[%#]\}", re.S), ""),
    (re.compile(r"\{\{.*?\}\}", re.S), ""),
]


def caption_from_rst(text: str) -> str:
    """The first paragraph of a report caption (RST + Jinja) as plain text, for a LaTeX caption."""
    for pattern, repl in _CAPTION_MARKUP:
        text = pattern.sub(repl, text)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    paragraphs = [p for p in paragraphs if not p.lower().startswith(("source:", ".. "))]
    return paragraphs[0] if paragraphs else ""
