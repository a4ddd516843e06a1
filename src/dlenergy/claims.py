"""The paper's conclusions as a checklist, decided by the pipeline's own tables.

``dlenergy/data/claims.yaml`` lists the textual conclusions of del Rey et al. (§4.1–§4.3, §5), each
with its section, the *check* that decides it and the check's tolerance.  A check is one of a small
set of named types (:data:`CHECKS`) with parameters that say which table (``results/<source>/tables/
<table>.csv``), which rows (``where``: column -> value or list), which column, which comparison and
which threshold.  Nothing is typed in but the paper's text and thresholds: every verdict follows from
the numbers in the tables.

Verdicts (:func:`evaluate`):

* ``holds`` / ``does not hold`` -- the check's outcome on the tables;
* ``not testable with this data`` -- and why, from the tables themselves: the table was skipped for
  the source (its note: no epoch markers, no allocated-RAM experiment, ...), the rows the claim needs
  are absent (e.g. no Local Normal User runs), a group is too small, a value is missing;
* ``synthetic: no verdict`` -- on simulated sources; the evidence still shows what the check found.

The evidence names the table, the rows, the statistic and its value (with its bootstrap CI where the
table has one) and, when ``tables/robustness.csv`` exists (outlier-seed sensitivity), the share of
outlier seeds under which the conclusion of each of the claim's ``robustness`` keys holds.

Check types (parameters in ``claims.yaml``):

``value``       every row of ``where`` satisfies ``column op threshold`` (``op``: < <= > >= == between;
                ``tolerance``: slack on the threshold); ``require``: values a column must show.
``approx``      the one row's ``column`` equals the paper's number within ``tolerance`` (absolute and/or
                relative), or the paper's number lies in the row's bootstrap CI (``ci: true``).
``extreme``     among the rows of ``where``, the ``key`` with the max/min ``column`` is ``expected``.
``order``       the rows of ``key`` values ``order`` have strictly descending/ascending ``column``.
``compare``     one cell against another: row ``a`` ``op`` ``factor`` × row ``b``.
``pair_set``    Dunn's not-different pairs of a Kruskal-Wallis row equal / include / exclude ``expected``.
``dunn_pair``   one Dunn pair (either order) is or is not significant.
``compare_groups`` the set of ``per`` values for which row ``key = a`` ``op`` row ``key = b`` is ``expected``.
``monotone``    within each ``by`` group, ``y`` strictly rises/falls with ``x``.
``all``         every sub-check of ``checks`` holds.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .scorecard import _fmt_pairs, _pairs, _same

HOLDS, FAILS, UNTESTABLE, SYNTHETIC = "holds", "does not hold", "not testable with this data", "synthetic: no verdict"
VERDICTS = (HOLDS, FAILS, UNTESTABLE, SYNTHETIC)
COLUMNS = ["claim_id", "section", "claim", "verdict", "evidence", "test", "tolerance"]
ROBUSTNESS_TABLE = "robustness"
OPS: dict[str, Callable] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass
class Outcome:
    """A check's result: ``state`` is :data:`HOLDS`, :data:`FAILS` or :data:`UNTESTABLE`."""

    state: str
    evidence: str
    reason: str = ""


class Untestable(Exception):
    """The tables cannot decide a check; the message says why."""


def claims_path() -> Path:
    return Path(str(resources.files("dlenergy") / "data" / "claims.yaml"))


def is_synthetic(dataset: str | Path) -> bool:
    """True when the dataset's ``dataset_info.json`` says it is simulated (``"synthetic": true``)."""
    info = Path(dataset) / "dataset_info.json"
    return bool(info.is_file() and json.loads(info.read_text()).get("synthetic"))


def tables_of(claims: list[dict]) -> set[str]:
    """The table names the claims' checks read (sub-checks included)."""

    def walk(c):
        yield from ([c["table"]] if "table" in c else [])
        for sub in c.get("checks", []):
            yield from walk(sub)

    return {t for cl in claims for t in walk(cl["check"])}


# ----------------------------------------------------------------------------------------------
# reading the tables


@dataclass
class Tables:
    """The CSV tables of one source's ``results/<source>/tables/``, read once each."""

    directory: Path
    cache: dict = field(default_factory=dict)

    def get(self, name: str) -> pd.DataFrame:
        if name not in self.cache:
            path = Path(self.directory) / f"{name}.csv"
            self.cache[name] = pd.read_csv(path) if path.is_file() else None
        df = self.cache[name]
        if df is None:
            raise Untestable(f"{name}.csv was not produced for this source")
        status = df["status"].astype(str) if "status" in df else pd.Series("ok", index=df.index)
        if len(df) and (status == "skipped").all():
            raise Untestable(f"{name}.csv is skipped: {_note(df).removeprefix('skipped: ') or 'for this source'}")
        return df

    def rows(self, name: str, where: dict | None, *, ok_only: bool = True) -> pd.DataFrame:
        """Rows of ``name`` matching every ``where`` (column -> value or list); Untestable when none."""
        rows = self.get(name)
        for col, wanted in (where or {}).items():
            if col not in rows:
                raise Untestable(f"{name}.csv has no column '{col}'")
            wanted_l = wanted if isinstance(wanted, list) else [wanted]
            sel = rows[rows[col].map(lambda c, w=wanted_l: any(_same(c, x) for x in w))]
            if sel.empty:
                present = ", ".join(dict.fromkeys(str(x) for x in rows[col].dropna()))[:200]
                raise Untestable(f"no row with {col} = {_show(wanted)} in {name}.csv (present: {present or 'none'})")
            rows = sel
        if ok_only and "status" in rows:
            bad = rows[rows["status"].astype(str) != "ok"]
            if len(bad):
                raise Untestable(
                    f"{name}.csv [{_where(where)}]: status {bad['status'].iloc[0]}"
                    + (f" ({_note(bad)})" if _note(bad) else "")
                )
        return rows


def _note(df: pd.DataFrame) -> str:
    if "note" not in df:
        return ""
    return "; ".join(dict.fromkeys(str(n) for n in df["note"] if isinstance(n, str) and n.strip()))


def _show(v) -> str:
    return "[" + ", ".join(map(str, v)) + "]" if isinstance(v, list) else str(v)


def _where(where: dict | None) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in (where or {}).items()) or "all rows"


def _num(v) -> str:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    v = float(v)
    if not math.isfinite(v):
        return "NaN"
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3g}"


def _value(rows: pd.DataFrame, column: str, name: str, where: dict | None) -> float:
    """The single finite value of ``column`` in ``rows``."""
    if column not in rows:
        raise Untestable(f"{name}.csv has no column '{column}'")
    vals = pd.to_numeric(rows[column], errors="coerce")
    if len(rows) != 1:
        raise Untestable(f"{name}.csv [{_where(where)}]: {len(rows)} rows, the check needs one")
    if not np.isfinite(vals.iloc[0]):
        raise Untestable(
            f"{name}.csv [{_where(where)}]: {column} is empty" + (f" ({_note(rows)})" if _note(rows) else "")
        )
    return float(vals.iloc[0])


def _ci(rows: pd.DataFrame, column: str) -> tuple[float, float] | None:
    lo, hi = f"{column}_ci_low", f"{column}_ci_high"
    if lo in rows and hi in rows and len(rows) == 1:
        a, b = pd.to_numeric(rows[lo], errors="coerce").iloc[0], pd.to_numeric(rows[hi], errors="coerce").iloc[0]
        if np.isfinite(a) and np.isfinite(b):
            return float(a), float(b)
    return None


def _cell(rows: pd.DataFrame, column: str, name: str, where: dict | None) -> tuple[float, str]:
    """(value, ``table [rows] column = v [95 % CI a, b]``)."""
    v = _value(rows, column, name, where)
    ci = _ci(rows, column)
    text = f"{name}.csv [{_where(where)}] {column} = {_num(v)}"
    return v, text + (f" [CI {_num(ci[0])}, {_num(ci[1])}]" if ci else "")


def _label(row: pd.Series, label: list[str]) -> str:
    return " / ".join(str(row[c]) for c in label if c in row) or f"row {row.name}"


def _labels(c: dict, rows: pd.DataFrame) -> list[str]:
    """The columns that name the rows of a multi-row check: ``label``, else the ``where`` keys given a
    list, else the text columns whose values differ between the rows."""
    if c.get("label"):
        return c["label"] if isinstance(c["label"], list) else [c["label"]]
    listed = [k for k, v in (c.get("where") or {}).items() if isinstance(v, list)]
    if listed:
        return listed
    skip = {"analysis", "subset", "status", "note", "ci_note", "data_label"}
    return [
        k
        for k in rows.columns
        if k not in skip and not pd.api.types.is_numeric_dtype(rows[k]) and rows[k].nunique() > 1
    ]


def _require(rows: pd.DataFrame, c: dict) -> None:
    """Untestable unless every value of ``require`` (column -> values) is among ``rows``."""
    for col, wanted in (c.get("require") or {}).items():
        have = {str(x) for x in rows[col].dropna()} if col in rows else set()
        missing = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted]) if str(w) not in have]
        if missing:
            raise Untestable(
                f"no {col} = {', '.join(missing)} in {c['table']}.csv [{_where(c.get('where'))}] "
                f"(present: {', '.join(sorted(have)) or 'none'})"
            )


def _holds(state: bool) -> str:
    return HOLDS if state else FAILS


def _compare(v, op: str, threshold, tol: float) -> bool:
    """``v op threshold`` with ``tol`` of slack (== on text compares as text)."""
    if op == "==":
        return (
            _same(v, threshold)
            if not isinstance(threshold, (int, float)) or isinstance(threshold, bool)
            else abs(float(v) - threshold) <= tol
        )
    if op == "between":
        lo, hi = threshold
        return lo - tol <= float(v) <= hi + tol
    slack = tol if op in (">", ">=") else -tol
    return OPS[op](float(v) + slack, threshold)


# ----------------------------------------------------------------------------------------------
# the check types

CHECKS: dict[str, Callable[[dict, Tables], Outcome]] = {}
#: parameters each check type needs
REQUIRED: dict[str, tuple[str, ...]] = {
    "value": ("table", "column", "op"),
    "approx": ("table", "where", "column", "paper", "tolerance"),
    "extreme": ("table", "key", "column", "extreme", "expected"),
    "order": ("table", "key", "column", "order", "direction"),
    "compare": ("table", "column", "a", "b", "op"),
    "pair_set": ("table", "where", "expected", "mode"),
    "dunn_pair": ("table", "where", "pair", "significant"),
    "compare_groups": ("table", "per", "key", "column", "a", "b", "op", "expected"),
    "monotone": ("table", "x", "y", "by", "direction"),
    "all": ("checks",),
}


def check(name: str):
    def register(f):
        CHECKS[name] = f
        return f

    return register


@check("value")
def check_value(c: dict, t: Tables) -> Outcome:
    """Every row of ``where``: ``column op threshold`` (or ``op factor × column_b`` of the same row)."""
    rows = t.rows(c["table"], c.get("where"))
    _require(rows, c)
    if "n_rows" in c and len(rows) != int(c["n_rows"]):
        return Outcome(
            FAILS,
            f"{c['table']}.csv [{_where(c.get('where'))}]: {len(rows)} row(s), the claim needs "
            f"{c['n_rows']}: " + ", ".join(_label(r, _labels(c, rows)) for _, r in rows.iterrows()),
        )
    col, op, tol, other = c["column"], c["op"], float(c.get("tolerance", 0) or 0), c.get("column_b")
    for name in (col, other):
        if name and name not in rows:
            raise Untestable(f"{c['table']}.csv has no column '{name}'")
    parts, failed = [], []
    for _, r in rows.iterrows():
        v, label = r[col], _label(r, _labels(c, rows))
        thr = float(c.get("factor", 1)) * float(r[other]) if other else c["threshold"]
        if _missing(v) or (other and _missing(r[other])):
            raise Untestable(f"{c['table']}.csv [{_where(c.get('where'))}, {label}]: {col} is empty")
        ci = _ci(r.to_frame().T, col)
        parts.append(
            (f"{label}: " if len(rows) > 1 else "")
            + _num(v)
            + (f" vs {_num(thr)}" if other else "")
            + (f" [CI {_num(ci[0])}, {_num(ci[1])}]" if ci else "")
        )
        if not _compare(v, op, thr, tol):
            failed.append(label)
    rhs = (f"{c.get('factor', 1):g} × {other}" if other else _show(c["threshold"])) + (f" ± {tol:g}" if tol else "")
    shown = (
        "; ".join(parts)
        if len(parts) <= 8
        else f"{len(rows) - len(failed)} of {len(rows)} rows satisfy it"
        + (f"; not: {', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}" if failed else "")
    )
    ev = f"{c['table']}.csv [{_where(c.get('where'))}] {col} = {shown} (claim: {op} {rhs})"
    return Outcome(_holds(not failed), ev)


def _missing(v) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and not math.isfinite(v))


@check("approx")
def check_approx(c: dict, t: Tables) -> Outcome:
    rows = t.rows(c["table"], c["where"])
    v, text = _cell(rows, c["column"], c["table"], c["where"])
    paper, tol = float(c["paper"]), c["tolerance"]
    within = ("absolute" in tol and abs(v - paper) <= tol["absolute"] + 1e-12) or (
        "relative" in tol and paper != 0 and abs(v / paper - 1) <= tol["relative"] + 1e-12
    )
    ci = _ci(rows, c["column"]) if c.get("ci", True) else None
    in_ci = bool(ci and ci[0] <= paper <= ci[1])
    ev = f"{text}; paper {_num(paper)}: difference {v - paper:+.3g} ({'within' if within else 'outside'} the tolerance)"
    if ci:
        ev += f"; the paper's value is {'inside' if in_ci else 'outside'} the CI"
    return Outcome(_holds(within or in_ci), ev)


def _ranked(c: dict, t: Tables, where: dict | None) -> list[tuple[str, float, str]]:
    """(key, value, 'key value [CI]') of the rows of ``where``, largest value first."""
    rows = t.rows(c["table"], where)
    _require(rows, c)
    out = []
    for _, r in rows.iterrows():
        v = pd.to_numeric(pd.Series([r.get(c["column"])]), errors="coerce").iloc[0]
        if np.isfinite(v):
            ci = _ci(r.to_frame().T, c["column"])
            out.append(
                (
                    str(r[c["key"]]),
                    float(v),
                    f"{r[c['key']]} {_num(v)}" + (f" [CI {_num(ci[0])}, {_num(ci[1])}]" if ci else ""),
                )
            )
    need = c.get("require", {}).get(c["key"], [])
    empty = [str(k) for k in (need if isinstance(need, list) else [need]) if str(k) not in {x[0] for x in out}]
    if empty:
        why = _note(rows[rows[c["key"]].astype(str).isin(empty)])
        raise Untestable(
            f"{c['table']}.csv: {c['column']} is empty for {c['key']} = {', '.join(empty)}"
            + (f" ({why})" if why else "")
        )
    return sorted(out, key=lambda x: -x[1])


@check("extreme")
def check_extreme(c: dict, t: Tables) -> Outcome:
    ranked = _ranked(c, t, c.get("where"))
    if len(ranked) < 2:
        raise Untestable(
            f"{c['table']}.csv [{_where(c.get('where'))}]: {len(ranked)} value(s) of {c['column']}; a maximum needs two"
        )
    top = ranked[0] if c["extreme"] == "max" else ranked[-1]
    ev = (
        f"{c['table']}.csv [{_where(c.get('where'))}] {c['column']} by {c['key']}: "
        + ", ".join(x[2] for x in ranked)
        + f"; {c['extreme']}: {top[0]} (claim: {c['expected']})"
    )
    return Outcome(_holds(top[0] == str(c["expected"])), ev)


@check("order")
def check_order(c: dict, t: Tables) -> Outcome:
    order = [str(o) for o in c["order"]]
    ranked = {k: (v, text) for k, v, text in _ranked({**c, "require": {c["key"]: order}}, t, c.get("where"))}
    vals = [ranked[o][0] for o in order]
    desc = c["direction"] == "descending"
    ok = all((a > b) if desc else (a < b) for a, b in zip(vals, vals[1:]))
    sign = " > " if desc else " < "
    ev = f"{c['table']}.csv [{_where(c.get('where'))}] {c['column']}: " + sign.join(ranked[o][1] for o in order)
    return Outcome(_holds(ok), ev + f" (claim: {c['direction']})")


@check("compare")
def check_compare(c: dict, t: Tables) -> Outcome:
    where = c.get("where") or {}
    wa, wb = {**where, **c["a"]}, {**where, **c["b"]}
    va, ta = _cell(t.rows(c["table"], wa), c["column"], c["table"], wa)
    vb, tb = _cell(t.rows(c["table"], wb), c.get("column_b", c["column"]), c["table"], wb)
    factor = float(c.get("factor", 1))
    ok = OPS[c["op"]](va, factor * vb)
    rhs = f"{factor:g} × " if factor != 1 else ""
    return Outcome(_holds(ok), f"{ta} vs {tb} (claim: a {c['op']} {rhs}b)")


@check("pair_set")
def check_pair_set(c: dict, t: Tables) -> Outcome:
    rows = t.rows(c["table"], c["where"])
    _require_groups(rows, c)
    if len(rows) != 1:
        raise Untestable(f"{c['table']}.csv [{_where(c['where'])}]: {len(rows)} rows, the check needs one")
    row = rows.iloc[0]
    got = _pairs(row.get("not_different"))
    want = _pairs(";".join(c["expected"]) if isinstance(c["expected"], list) else c["expected"])
    mode = c["mode"]
    ok = {"equal": got == want, "includes": want <= got, "excludes": not (want & got)}[mode]
    adj = f", Dunn p adjusted: {row['p_adjust']}" if "p_adjust" in row else ""
    ev = (
        f"{c['table']}.csv [{_where(c['where'])}] not different{adj}: {_fmt_pairs(got) or 'none'} "
        f"(claim: {mode} {_fmt_pairs(want) or 'none'})"
    )
    return Outcome(_holds(ok), ev)


def _require_groups(rows: pd.DataFrame, c: dict) -> None:
    """Untestable unless a Kruskal-Wallis row compared every group of ``require_groups``."""
    need = [str(g) for g in c.get("require_groups") or []]
    if not need:
        return
    have = {g.strip() for g in str(rows["groups"].iloc[0]).split(",")} if "groups" in rows and len(rows) else set()
    missing = [g for g in need if g not in have]
    if missing:
        raise Untestable(
            f"{c['table']}.csv [{_where(c['where'])}] compares {', '.join(sorted(have)) or 'no groups'}; "
            f"the claim needs {', '.join(missing)} too"
        )


@check("dunn_pair")
def check_dunn_pair(c: dict, t: Tables) -> Outcome:
    rows = t.rows(c["table"], c["where"])
    a, b = (str(x) for x in c["pair"])
    ga, gb = rows["group_a"].astype(str), rows["group_b"].astype(str)
    pair = rows[((ga == a) & (gb == b)) | ((ga == b) & (gb == a))]
    if pair.empty:
        groups = sorted(set(ga) | set(gb))
        raise Untestable(
            f"no Dunn pair {a} – {b} in {c['table']}.csv [{_where(c['where'])}] (groups: {', '.join(groups) or 'none'})"
        )
    r = pair.iloc[0]
    sig = str(r["significant"]).strip().lower() == "true"
    ci = _ci(pair, "cliffs_delta")
    delta = (
        f", Cliff's δ({r['group_a']}, {r['group_b']}) = {_num(r['cliffs_delta'])}"
        + (f" [CI {_num(ci[0])}, {_num(ci[1])}]" if ci else "")
        if "cliffs_delta" in r
        else ""
    )
    ev = (
        f"{c['table']}.csv [{_where(c['where'])}] {a} – {b}: p adjusted ({r.get('p_adjust', '')}) = "
        f"{_num(r['p_adjusted'])}, significant = {sig}{delta} (claim: significant = {bool(c['significant'])})"
    )
    return Outcome(_holds(sig == bool(c["significant"])), ev)


@check("compare_groups")
def check_compare_groups(c: dict, t: Tables) -> Outcome:
    rows = t.rows(c["table"], c.get("where"))
    a, b, col, op = str(c["a"]), str(c["b"]), c["column"], OPS[c["op"]]
    got, parts = set(), []
    for p, g in rows.groupby(c["per"], sort=False):
        va = pd.to_numeric(g.loc[g[c["key"]].astype(str) == a, col], errors="coerce").dropna()
        vb = pd.to_numeric(g.loc[g[c["key"]].astype(str) == b, col], errors="coerce").dropna()
        if len(va) == 1 and len(vb) == 1:
            holds = bool(op(va.iloc[0], vb.iloc[0]))
            got |= {str(p)} if holds else set()
            parts.append(f"{p}: {a} {_num(va.iloc[0])} {'' if holds else 'not '}{c['op']} {b} {_num(vb.iloc[0])}")
    if not parts:
        raise Untestable(
            f"no {c['per']} of {c['table']}.csv [{_where(c.get('where'))}] has both {c['key']} = {a} and {b}"
        )
    want = {str(x) for x in c["expected"]}
    ev = (
        f"{c['table']}.csv [{_where(c.get('where'))}] {col}: "
        + "; ".join(parts)
        + f" (claim: {a} {c['op']} {b} exactly for {', '.join(sorted(want)) or 'none'})"
    )
    return Outcome(_holds(got == want), ev)


@check("monotone")
def check_monotone(c: dict, t: Tables) -> Outcome:
    rows = t.rows(c["table"], c.get("where"), ok_only=False)
    rows = rows[rows["status"].astype(str) == "ok"] if "status" in rows else rows
    by = c["by"] if isinstance(c["by"], list) else [c["by"]]
    inc = c["direction"] == "increasing"
    tested, bad = 0, []
    for key, g in rows.groupby(by, sort=True):
        s = g.assign(_x=pd.to_numeric(g[c["x"]], errors="coerce"), _y=pd.to_numeric(g[c["y"]], errors="coerce"))
        s = s.dropna(subset=["_x", "_y"]).sort_values("_x")
        if s["_x"].nunique() < 2:
            continue
        tested += 1
        d = np.diff(s["_y"].to_numpy())
        if not (np.all(d > 0) if inc else np.all(d < 0)):
            bad.append(
                f"{'/'.join(map(str, key if isinstance(key, tuple) else (key,)))}: "
                + ", ".join(f"{_num(x)} → {_num(y)}" for x, y in zip(s["_x"], s["_y"]))
            )
    if not tested:
        raise Untestable(
            f"{c['table']}.csv [{_where(c.get('where'))}]: no {'/'.join(by)} group with two "
            f"levels of {c['x']} (status ok)"
        )
    ev = (
        f"{c['table']}.csv [{_where(c.get('where'))}] {c['y']} {c['direction']} in {c['x']} in "
        f"{tested - len(bad)} of {tested} {'/'.join(by)} groups" + (f"; not: {' | '.join(bad)}" if bad else "")
    )
    return Outcome(_holds(not bad), ev)


@check("all")
def check_all(c: dict, t: Tables) -> Outcome:
    """Every sub-check holds.  One that fails decides (does not hold) even when another is untestable."""
    outs = [run_check(sub, t) for sub in c["checks"]]
    ev = " AND ".join(o.evidence for o in outs if o.state != UNTESTABLE)
    untestable = "; ".join(dict.fromkeys(o.reason for o in outs if o.state == UNTESTABLE))
    if any(o.state == FAILS for o in outs):
        return Outcome(FAILS, ev + (f" (not testable: {untestable})" if untestable else ""))
    if untestable:
        return Outcome(UNTESTABLE, ev, untestable)
    return Outcome(HOLDS, ev)


def run_check(c: dict, t: Tables) -> Outcome:
    """Run one check; a table that cannot decide it gives :data:`UNTESTABLE` with the reason."""
    try:
        return CHECKS[c["type"]](c, t)
    except Untestable as e:
        return Outcome(UNTESTABLE, "", str(e))


# ----------------------------------------------------------------------------------------------
# the claims file


def _item_lines(text: str) -> list[int]:
    """Line (1-based) of each entry of the ``claims:`` list, for error messages."""
    node = yaml.compose(text)
    for k, v in getattr(node, "value", []):
        if getattr(k, "value", None) == "claims":
            return [item.start_mark.line + 1 for item in v.value]
    return []


def _validate_check(c, where: str) -> None:
    if not isinstance(c, dict) or c.get("type") not in CHECKS:
        got = c.get("type") if isinstance(c, dict) else c
        raise ValueError(f"{where}: check type {got!r} is not one of {', '.join(CHECKS)}")
    missing = [p for p in REQUIRED[c["type"]] if p not in c]
    if missing:
        raise ValueError(f"{where}: check '{c['type']}' lacks {', '.join(missing)}")
    if c["type"] == "value" and "threshold" not in c and "column_b" not in c:
        raise ValueError(f"{where}: check 'value' needs a threshold or a column_b")
    if "op" in c and c["op"] not in (*OPS, "==", "between"):
        raise ValueError(f"{where}: op {c['op']!r} is not one of {', '.join((*OPS, '==', 'between'))}")
    for sub in c.get("checks", []):
        _validate_check(sub, where)


def load_claims(path: str | Path | None = None) -> list[dict]:
    """The claims of ``path`` (default: the package's ``claims.yaml``), validated.

    Raises ``ValueError`` naming the file, the line and the claim for an entry without ``id``,
    ``section``, ``claim`` or ``check``, a duplicate id, an unknown check type or a missing parameter.

    Examples
    --------
    >>> from dlenergy.claims import load_claims
    >>> claims = load_claims()
    >>> len(claims) >= 20 and {"id", "section", "claim", "check"} <= set(claims[0])
    True
    """
    path = Path(path) if path else claims_path()
    text = path.read_text()
    data = yaml.safe_load(text) or {}
    items = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: no 'claims:' list")
    lines = _item_lines(text)
    seen: set[str] = set()
    for i, cl in enumerate(items):
        where = f"{path}, line {lines[i] if i < len(lines) else '?'}, claim {cl.get('id', i + 1) if isinstance(cl, dict) else i + 1}"
        missing = [k for k in ("id", "section", "claim", "check") if not isinstance(cl, dict) or k not in cl]
        if missing:
            raise ValueError(f"{where}: lacks {', '.join(missing)}")
        if cl["id"] in seen:
            raise ValueError(f"{where}: duplicate id {cl['id']!r}")
        seen.add(cl["id"])
        _validate_check(cl["check"], where)
    return items


def describe(c: dict) -> str:
    """The check as one line: ``type(param=value, ...)``; ``all`` joins its sub-checks with AND."""
    if c["type"] == "all":
        return " AND ".join(describe(s) for s in c["checks"])
    params = ", ".join(
        f"{k}={_show(v) if isinstance(v, list) else v}" for k, v in c.items() if k not in ("type", "tolerance")
    )
    return f"{c['type']}({params})"


def tolerance_of(c: dict) -> str:
    if c["type"] == "all":
        return "; ".join(t for t in (tolerance_of(s) for s in c["checks"]) if t)
    tol = c.get("tolerance")
    if isinstance(tol, dict):
        return " or ".join(f"{k} {v:g}" for k, v in tol.items()) + (" or inside the CI" if c.get("ci", True) else "")
    return f"± {tol:g}" if tol else ""


# ----------------------------------------------------------------------------------------------
# outlier-seed robustness (tables/robustness.csv, when the robustness rule made it)

VARIANT_ORDER = ("configured", "authors", "none")


def robustness_evidence(keys: list[str], robustness: pd.DataFrame | None) -> str:
    """``outlier seeds: <key> 'conclusion' holds for configured 87 % of 100 seeds, ...`` per key."""
    if robustness is None or not keys:
        return ""
    parts = []
    rank = {v: i for i, v in enumerate(VARIANT_ORDER)}
    for key in keys:
        rows = robustness[robustness["statistic"].astype(str) == key]
        if rows.empty:
            parts.append(f"{key}: not in robustness.csv")
            continue
        rows = rows.sort_values("variant", key=lambda s: s.map(lambda v: rank.get(v, len(rank))), kind="stable")
        concl = next((str(x) for x in rows.get("conclusion", []) if isinstance(x, str) and x), "")
        shares = []
        for _, r in rows.iterrows():
            share, n = pd.to_numeric(pd.Series([r.get("share_conclusion_holds"), r.get("n_seeds")]), errors="coerce")
            shares.append(
                f"{r['variant']} {share * 100:.0f} % of {n:.0f} seed(s)"
                if np.isfinite(share)
                else f"{r['variant']} n/a"
            )
        parts.append(f"{key}" + (f" '{concl}'" if concl else "") + " holds for " + ", ".join(shares))
    return "outlier seeds (robustness.csv): " + "; ".join(parts)


# ----------------------------------------------------------------------------------------------
# the checklist


def evaluate(results_dir: str | Path, claims: list[dict] | None = None, *, synthetic: bool = False) -> pd.DataFrame:
    """One row per claim: ``claim_id, section, claim, verdict, evidence, test, tolerance``.

    ``results_dir`` is ``results/<source>`` (tables under ``tables/``).  On a ``synthetic`` source
    every verdict is :data:`SYNTHETIC`; the evidence starts with what the check found.

    Examples
    --------
    >>> import tempfile
    >>> from dlenergy.claims import evaluate
    >>> card = evaluate(tempfile.mkdtemp())  # no tables at all: nothing is testable
    >>> set(card["verdict"])
    {'not testable with this data'}
    """
    tables = Tables(Path(results_dir) / "tables")
    robust_path = Path(results_dir) / "tables" / f"{ROBUSTNESS_TABLE}.csv"
    robustness = pd.read_csv(robust_path) if robust_path.is_file() else None
    rows = []
    for cl in load_claims() if claims is None else claims:
        out = run_check(cl["check"], tables)
        evidence = out.evidence
        if out.state == UNTESTABLE:
            evidence = out.reason + (f" | testable part: {out.evidence}" if out.evidence else "")
        seeds = robustness_evidence(list(cl.get("robustness") or []), robustness)
        evidence = " | ".join(s for s in (evidence, seeds) if s)
        verdict = out.state
        if synthetic:
            verdict, evidence = SYNTHETIC, f"(on real data this would read: {out.state}) {evidence}"
        rows.append(
            {
                "claim_id": cl["id"],
                "section": cl["section"],
                "claim": cl["claim"].strip(),
                "verdict": verdict,
                "evidence": evidence,
                "test": describe(cl["check"]),
                "tolerance": tolerance_of(cl["check"]),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def counts(card: pd.DataFrame) -> dict[str, int]:
    """Claims per verdict (every verdict listed, zeros included)."""
    return {v: int((card["verdict"] == v).sum()) for v in VERDICTS}


def to_markdown(card: pd.DataFrame, source: str, label: str | None = None) -> str:
    """The checklist as Markdown: the counts first, then one section per claim."""
    n = counts(card)
    lines = ["# The paper's conclusions, checked against this source's tables", ""]
    if label:
        lines += [f"> **Data label:** {label}", ""]
    if (card["verdict"] == SYNTHETIC).any():
        lines += [
            "> **SYNTHETIC DATA**: simulated runs, not real measurements; no claim is judged on them "
            "(the evidence shows what each check found).",
            "",
        ]
    lines += [f"Source: `{source}`. Claims: {len(card)}. " + ", ".join(f"{k}: {v}" for k, v in n.items() if v), ""]
    lines += ["| claim_id | section | verdict | claim |", "| --- | --- | --- | --- |"]
    lines += [f"| {r.claim_id} | {r.section} | {r.verdict} | {r.claim} |" for r in card.itertuples()]
    lines.append("")
    for r in card.itertuples():
        lines += [
            f"## {r.claim_id} ({r.section}): {r.verdict}",
            "",
            f"**Claim.** {r.claim}",
            "",
            f"**Evidence.** {r.evidence}",
            "",
            f"**Test.** `{r.test}`" + (f" (tolerance: {r.tolerance})" if r.tolerance else ""),
            "",
        ]
    return "\n".join(lines)
