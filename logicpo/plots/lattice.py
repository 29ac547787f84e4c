"""Drawing the loss lattice: most constrained at the top, grouped and coloured by core
formula, losses from the literature marked.

>>> from logicpo.api import lattice
>>> fig = draw_lattice(lattice())
>>> len(fig.axes)
1
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from logicpo.reasoning.lattice import Lattice  # noqa: E402

PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860",
           "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")


def layout(lat: Lattice) -> dict[str, tuple[float, float]]:
    """Positions: one row per level (0 = most constrained, at the top); within a row,
    nodes of the same core side by side, ordered by the mean position of their parents."""
    levels = lat.levels()
    rows: dict[int, list[str]] = {}
    for node, depth in levels.items():
        rows.setdefault(depth, []).append(node)
    core = {n: lat.representative(n).core_text for n in lat.nodes}
    x: dict[str, float] = {}
    for depth in sorted(rows):
        row = rows[depth]

        def parent_mean(n: str) -> float:
            ps = [x[p] for p in lat.graph.predecessors(n) if p in x]
            return sum(ps) / len(ps) if ps else 0.0

        group_pos: dict[str, list[float]] = {}
        for n in row:
            group_pos.setdefault(core[n], []).append(parent_mean(n))
        group_rank = {g: sum(v) / len(v) for g, v in group_pos.items()}
        row.sort(key=lambda n: (group_rank[core[n]], core[n], parent_mean(n), n))
        width = len(row)
        for i, n in enumerate(row):
            x[n] = i - (width - 1) / 2
    return {n: (x[n], -levels[n]) for n in lat.nodes}


def draw_edges(ax, edges, pos, *, color: str = "#555555", lw: float = 1.0,
               gap: float = 0.17) -> None:
    """Arrows from each node to the nodes it entails, stopping ``gap`` short of the labels."""
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ax.annotate("", xy=(x2, y2 + gap), xytext=(x1, y1 - gap),
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": lw,
                                "shrinkA": 0, "shrinkB": 0})


def draw_lattice(lat: Lattice, title: str | None = None):
    """A matplotlib figure of the Hasse diagram."""
    pos = layout(lat)
    cores = []
    for n in lat.nodes:
        c = lat.representative(n).core_text
        if c not in cores:
            cores.append(c)
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(cores)}
    xs = [p[0] for p in pos.values()]
    depth = max((-p[1] for p in pos.values()), default=0)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.7 * (max(xs) - min(xs) + 2)),
                                    max(4.0, 1.3 * (depth + 2))))
    draw_edges(ax, lat.edges, pos)
    for n, (x, y) in pos.items():
        rep = lat.representative(n)
        literature = any(s.doc for s in lat.members[n])
        ax.text(x, y, n, ha="center", va="center", fontsize=10,
                fontweight="bold" if literature else "normal",
                bbox={"boxstyle": "round,pad=0.35", "fc": colour[rep.core_text],
                      "ec": "black" if literature else "none", "lw": 2.0 if literature else 0,
                      "alpha": 0.85},
                color="white")
    handles = [Line2D([0], [0], marker="s", color="w", markerfacecolor=colour[c],
                      markersize=11, label=f"core: {c}") for c in cores]
    handles.append(Line2D([0], [0], marker="s", color="w", markerfacecolor="white",
                          markeredgecolor="black", markeredgewidth=2, markersize=11,
                          label="from the literature (bold, outlined)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(-depth - 0.7, 0.7)
    ax.axis("off")
    ax.set_title(title or "Loss lattice: an arrow A -> B means A |= B "
                 "(A is more constrained, loss(A) >= loss(B))", fontsize=10)
    return fig
