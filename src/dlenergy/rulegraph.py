"""The pipeline overview figure: Snakemake's rule graph (``snakemake --rulegraph``, DOT text) drawn
with matplotlib alone -- no Graphviz needed, so it renders the same on a fresh CI machine.

Layout: a simple layered drawing.  Each rule sits on the layer of its longest path from a rule
without inputs (data at the top, ``all`` at the bottom); rules within a layer are ordered by a few
barycentre sweeps to shorten the edges; boxes are coloured by pipeline stage (rule-name prefix).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

#: stage of a rule, by name (first match); colours are colour-blind-safe
STAGES: list[tuple[str, re.Pattern, str]] = [
    ("data", re.compile(r"^(simulate|download|adapt|fetch|unpack|data)"), "#a6cee3"),
    ("ingest", re.compile(r"^(ingest|aggregate|parse)"), "#b2df8a"),
    ("cleaning", re.compile(r"^clean"), "#fdbf6f"),
    ("statistics", re.compile(r"^stats"), "#cab2d6"),
    ("estimators", re.compile(r"^(est|fluss|online|offline)"), "#fb9a99"),
    ("report", re.compile(r"^(latex|scorecard|rulegraph|report)"), "#ffff99"),
    ("target", re.compile(r"^all$"), "#dddddd"),
]
OTHER = ("other", None, "#eeeeee")

_NODE = re.compile(r'^\s*(\d+)\s*\[\s*label\s*=\s*"([^"]*)"')
_EDGE = re.compile(r"^\s*(\d+)\s*->\s*(\d+)")


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Nodes ``{id: rule name}`` and edges ``[(from id, to id)]`` of Snakemake's DOT output."""
    nodes, edges = {}, []
    for line in text.splitlines():
        m = _NODE.match(line)
        if m:
            nodes[m.group(1)] = m.group(2)
            continue
        m = _EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2)))
    edges = [(a, b) for a, b in dict.fromkeys(edges) if a in nodes and b in nodes and a != b]
    return nodes, edges


def extract_dot(output: str) -> str:
    """The ``digraph { ... }`` block of ``snakemake --rulegraph`` output (log lines around it dropped)."""
    start = output.find("digraph")
    end = output.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no 'digraph { ... }' in the output of snakemake --rulegraph")
    return output[start : end + 1] + "\n"


def transitive_reduction(edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The edges not implied by a longer path (a -> c is dropped when a -> b -> ... -> c exists)."""
    succ: dict[str, set] = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)

    def reachable(start, skip_edge):
        seen, stack = set(), [start]
        while stack:
            n = stack.pop()
            for m in succ.get(n, ()):
                if (n, m) == skip_edge or m in seen:
                    continue
                seen.add(m)
                stack.append(m)
        return seen

    return [(a, b) for a, b in edges if b not in reachable(a, (a, b))]


def stage_of(rule: str) -> tuple[str, str]:
    for name, pattern, colour in STAGES:
        if pattern.search(rule):
            return name, colour
    return OTHER[0], OTHER[2]


def layers(nodes: dict[str, str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layer of each node (0: no predecessors)."""
    preds = {n: [a for a, b in edges if b == n] for n in nodes}
    layer: dict[str, int] = {}

    def depth(n, seen=()):
        if n in layer:
            return layer[n]
        if n in seen:  # a cycle cannot happen in a Snakemake DAG; stay safe anyway
            return 0
        layer[n] = 1 + max((depth(p, seen + (n,)) for p in preds[n]), default=-1)
        return layer[n]

    for n in sorted(nodes, key=lambda k: nodes[k]):
        depth(n)
    # the report rules (and the `all` target) read the finished results: draw them at the bottom
    late = {n for n in nodes if stage_of(nodes[n])[0] in ("report", "target")}
    core = [layer[n] for n in nodes if n not in late]
    if late and core:
        base = max(core) + 1
        for n in sorted(late, key=lambda k: layer[k]):
            if stage_of(nodes[n])[0] == "report":
                layer[n] = max(layer[n], base)
        for n in late:
            if stage_of(nodes[n])[0] == "target":
                layer[n] = 1 + max((layer[p] for p in preds[n]), default=base - 1)
    return layer


def order(nodes: dict[str, str], edges: list[tuple[str, str]], layer: dict[str, int], sweeps: int = 8):
    """Rules per layer, ordered by barycentre sweeps (down and up) from an alphabetical start."""
    n_layers = max(layer.values(), default=-1) + 1
    rows = [
        sorted((n for n in nodes if layer[n] == i), key=lambda k: (stage_of(nodes[k])[0], nodes[k]))
        for i in range(n_layers)
    ]
    nbrs_up = {n: [a for a, b in edges if b == n] for n in nodes}
    nbrs_down = {n: [b for a, b in edges if a == n] for n in nodes}

    def pos():
        return {n: (j + 0.5) / len(r) for r in rows for j, n in enumerate(r)}

    for s in range(sweeps):
        p = pos()
        rng = range(1, n_layers) if s % 2 == 0 else range(n_layers - 2, -1, -1)
        nb = nbrs_up if s % 2 == 0 else nbrs_down
        for i in rng:

            def key(n, p=p, nb=nb):
                ns = [p[m] for m in nb[n] if m in p]
                return (sum(ns) / len(ns) if ns else p[n], nodes[n])

            rows[i] = sorted(rows[i], key=key)
            p = pos()
    return rows


def draw(dot_text: str, title: str = "Pipeline: Snakemake rule graph", reduce: bool = True):
    """A matplotlib figure of the rule graph in ``dot_text`` (``reduce``: edges implied by longer
    paths left out, e.g. the dataset every rule reads for its data label)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    nodes, edges = parse_dot(dot_text)
    if not nodes:
        raise ValueError("the rule graph has no rules")
    n_all = len(edges)
    if reduce:
        edges = transitive_reduction(edges)
    layer = layers(nodes, edges)
    rows = order(nodes, edges, layer)
    width = max(len(r) for r in rows)
    box_w, box_h, dx, dy = 1.9, 0.5, 2.2, 1.0
    scale = 0.62  # inches per data unit
    fig_w = max(6.0, (width * dx + 0.4) * scale)
    fig_h = ((len(rows) - 1) * dy + box_h + 0.2) * scale + 1.3
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.75 / fig_h, bottom=0.55 / fig_h)
    xy = {}
    for i, r in enumerate(rows):
        offset = (width - len(r)) * dx / 2
        for j, n in enumerate(r):
            xy[n] = (offset + j * dx + dx / 2, -i * dy)
    for a, b in edges:
        (x0, y0), (x1, y1) = xy[a], xy[b]
        span = layer[b] - layer[a]
        rad = 0.0 if span <= 1 else 0.12 * (1 if x1 >= x0 else -1)
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0 - box_h / 2),
                (x1, y1 + box_h / 2),
                arrowstyle="-|>",
                mutation_scale=9,
                linewidth=0.7,
                color="0.55" if span <= 1 else "0.75",
                connectionstyle=f"arc3,rad={rad}",
                zorder=1,
            )
        )
    used = {}
    for n, (x, y) in xy.items():
        stage, colour = stage_of(nodes[n])
        used[stage] = colour
        ax.add_patch(
            FancyBboxPatch(
                (x - box_w / 2, y - box_h / 2),
                box_w,
                box_h,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor=colour,
                edgecolor="0.3",
                linewidth=0.8,
                zorder=2,
            )
        )
        label = nodes[n]
        ax.text(x, y, label, ha="center", va="center", fontsize=8 if len(label) <= 18 else 6.5, zorder=3)
    ax.set_xlim(-0.2, width * dx + 0.2)
    ax.set_ylim(-(len(rows) - 1) * dy - box_h, box_h + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11, fontweight="bold", pad=16)
    if reduce and len(edges) < n_all:
        ax.text(
            0.5,
            1.0,
            f"{len(nodes)} rules; {n_all - len(edges)} of {n_all} dependencies implied by longer paths are not drawn",
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=7.5,
            color="0.35",
        )
    stage_order = [s for s, _, _ in STAGES] + [OTHER[0]]
    handles = [Patch(facecolor=used[s], edgecolor="0.3", label=s) for s in stage_order if s in used]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=min(len(handles), 7),
        fontsize=8,
        frameon=False,
    )
    return fig


def rulegraph_dot(
    snakefile: str | Path,
    workdir: str | Path,
    configfile: str | Path | None = None,
    extra: list[str] | None = None,
    timeout: int = 300,
) -> str:
    """Run ``snakemake --rulegraph`` (read-only: ``--nolock``) and return its DOT text."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--rulegraph",
        "--nolock",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
    ]
    if configfile:
        cmd += ["--configfile", str(configfile)]
    cmd += list(extra or [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake --rulegraph failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return extract_dot(proc.stdout)
