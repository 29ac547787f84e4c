"""The explored neighbourhood of a search, coloured by measured effect.

The start loss sits in the middle; the candidates of round 1 (its one-world edits) on a
circle around it, those of later rounds on smaller circles around the candidate they were
edits of. A node's colour is its measured difference in task reward to the start (rung 1:
the mean paired difference over seeds; rung 0: one short run, drawn smaller); a ring marks
a difference whose 95% interval excludes 0 (green: better, red: worse); grey nodes were not
run within the budget.

>>> import tempfile, pathlib
>>> board = {"start": "logistic(DPO, beta=0.1)", "task": "sort", "candidates": [
...     {"name": "a", "parent": "DPO_start", "round": 1, "edit": "TTTT: ok -> both",
...      "rung": 1, "difference": {"mean": 0.02, "low": -0.01, "high": 0.05},
...      "verdict": "not distinguishable"},
...     {"name": "b", "parent": "DPO_start", "round": 1, "edit": "FFFF: bad -> ok",
...      "rung": None, "difference": None, "verdict": "not run"}]}
>>> draw_search(board, pathlib.Path(tempfile.mkdtemp()) / "s.png").name
's.png'
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
from matplotlib.cm import ScalarMappable
from matplotlib.colors import TwoSlopeNorm

from logicpo.plots import save_figure, subplots


def _layout(rows: list[dict]) -> dict[str, tuple[float, float]]:
    children: dict[str | None, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["name"]):  # by edit, not by rank: neighbours spread
        children.setdefault(r["parent"], []).append(r)
    roots = [p for p in children if p not in {r["name"] for r in rows}]
    pos: dict[str, tuple[float, float]] = {p: (0.0, 0.0) for p in roots}
    todo = [(p, 0.0, 2 * math.pi, 1.0) for p in roots]
    while todo:
        parent, a0, span, radius = todo.pop()
        kids = children.get(parent, [])
        px, py = pos[parent]
        for i, r in enumerate(kids):
            a = a0 + span * (i + 0.5) / len(kids)
            pos[r["name"]] = (px + radius * math.cos(a), py + radius * math.sin(a))
            if r["name"] in children:
                todo.append((r["name"], a - math.pi / 2, math.pi, radius * 0.6))
    return pos


def draw_search(board: dict, out: str | Path) -> Path:
    """Draw a search's leaderboard (``search.json``) as its explored neighbourhood."""
    rows = board["candidates"]
    pos = _layout(rows)
    measured = [r["difference"]["mean"] for r in rows if r["difference"]]
    span = max([abs(v) for v in measured] + [1e-3])
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
    cmap = matplotlib.colormaps["RdBu"]
    fig, ax = subplots(figsize=(9, 8.2), dpi=90)
    for r in rows:
        x, y = pos[r["name"]]
        px, py = pos.get(r["parent"], (0.0, 0.0))
        ax.plot([px, x], [py, y], color="0.8", lw=0.6, zorder=1)
    for r in rows:
        x, y = pos[r["name"]]
        d = r["difference"]
        if d is None:  # not run: a dot, no label
            ax.scatter([x], [y], s=18, color="0.85", edgecolors="0.6", zorder=2)
            continue
        else:
            ring = {"better": "green", "worse": "red"}.get(r["verdict"], "0.3")
            ax.scatter([x], [y], s=230 if r["rung"] == 1 else 90, color=cmap(norm(d["mean"])),
                       edgecolors=ring, linewidths=2.5 if ring != "0.3" else 0.6, zorder=3)
        label = (r["edit"] or r["name"]).replace(": ", "\n") + "".join(
            f"\n= {k}" for k in r.get("same_loss_as", ()))
        ax.annotate(label, (x, y), fontsize=5.5, ha="center", va="top",
                    xytext=(0, -8), textcoords="offset points", color="0.25")
    ax.scatter([0], [0], s=400, marker="*", color="black", zorder=4)
    ax.annotate(board["start"], (0, 0), fontsize=8, ha="center", xytext=(0, 12),
                textcoords="offset points")
    sm = ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, shrink=0.7,
                 label="task reward minus the start's (rung 1: mean paired over seeds)")
    ax.set_title(f"search from {board['start']} on {board.get('task') or board.get('data')}\n"
                 "big: rung 1 (all seeds), small: rung 0 (one short run), grey: not run; "
                 "green/red ring: 95% interval excludes 0", fontsize=9)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, out, dpi=None, tight=False)
