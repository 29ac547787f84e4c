"""Drawing the loss lattice: most constrained at the top, grouped and coloured by core
formula, losses from the literature marked.

Colours are stable: a core formula ``P`` has one colour in every logicpo picture (lattice,
neighbourhood), keyed by its truth table (so ``M(yl) -> M(yw)`` and ``M(yw) | ~M(yl)``
agree, over two atoms or four). The zoo's cores own the palette, in zoo order; any other
core is light grey, and its formula is in the picture's table.

>>> from logicpo.program import zoo
>>> core_colour(zoo().structure("CPO")) == core_colour(zoo().structure("refORPO"))
True
>>> core_colour(zoo().structure("CE")) != core_colour(zoo().structure("CPO"))
True

>>> from logicpo.api import lattice
>>> fig = draw_lattice(lattice())
>>> len(fig.axes)
1
"""

from __future__ import annotations

from functools import cache

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from logicpo.logic.formulas import to_dsl  # noqa: E402
from logicpo.logic.structure import Structure  # noqa: E402
from logicpo.logic.truth import formula_of, mask  # noqa: E402
from logicpo.reasoning.lattice import Lattice  # noqa: E402

# Colour-blind-safe first (Tableau 10 without its grey), then lighter tints: the zoo has
# 9 distinct cores today; a tenth and later get the tints.
PALETTE = ("#4E79A7", "#F28E2B", "#59A14F", "#E15759", "#B07AA1", "#76B7B2",
           "#EDC948", "#9C755F", "#FF9DA7", "#A0CBE8", "#FFBE7D", "#8CD17D", "#D4A6C8",
           "#F1CE63", "#86BCB6", "#D7B5A6")
OTHER_CORE = "#D9D9D9"  # a core that no zoo structure has


def core_key(s: Structure) -> str:
    """The core ``P`` of ``s`` up to equivalence: the DSL of its truth table's formula."""
    return to_dsl(formula_of(mask(s.core, s.atoms), s.atoms))


@cache
def zoo_cores() -> dict[str, str]:
    """Core key -> how the zoo writes it (its first structure with that core), zoo order."""
    from logicpo.program import zoo

    program = zoo()
    out: dict[str, str] = {}
    for name in program.names_of("structure", zoo_only=True):
        s = program.structure(name)
        out.setdefault(core_key(s), s.core_text)
    return out


def core_colour(s: Structure) -> str:
    """The colour of ``s``'s core formula, the same in every picture."""
    keys = list(zoo_cores())
    key = core_key(s)
    return PALETTE[keys.index(key) % len(PALETTE)] if key in keys else OTHER_CORE


def core_label(s: Structure) -> str:
    """How a legend names ``s``'s core: the zoo's spelling when the zoo has it."""
    return zoo_cores().get(core_key(s), s.core_text)


def text_colour(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (relative luminance)."""
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else "white"


def layout(lat: Lattice) -> dict[str, tuple[float, float]]:
    """Positions: one row per level (0 = most constrained, at the top); within a row,
    nodes of the same core side by side, ordered by the mean position of their parents."""
    levels = lat.levels()
    rows: dict[int, list[str]] = {}
    for node, depth in levels.items():
        rows.setdefault(depth, []).append(node)
    core = {n: core_key(lat.representative(n)) for n in lat.nodes}
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
    cores: dict[str, Structure] = {}  # core key -> a structure with it, in node order
    for n in lat.nodes:
        rep = lat.representative(n)
        cores.setdefault(core_key(rep), rep)
    xs = [p[0] for p in pos.values()]
    depth = max((-p[1] for p in pos.values()), default=0)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.7 * (max(xs) - min(xs) + 2)),
                                    max(4.0, 1.3 * (depth + 2))))
    draw_edges(ax, lat.edges, pos)
    for n, (x, y) in pos.items():
        rep = lat.representative(n)
        literature = any(s.doc for s in lat.members[n])
        fill = core_colour(rep)
        ax.text(x, y, n, ha="center", va="center", fontsize=10,
                fontweight="bold" if literature else "normal",
                bbox={"boxstyle": "round,pad=0.35", "fc": fill,
                      "ec": "black" if literature else "none", "lw": 2.0 if literature else 0},
                color=text_colour(fill))
    handles = [Line2D([0], [0], marker="s", color="w", markerfacecolor=core_colour(rep),
                      markersize=11, label=f"core P: {core_label(rep)}")
               for rep in cores.values()]
    handles.append(Line2D([0], [0], marker="s", color="w", markerfacecolor="white",
                          markeredgecolor="black", markeredgewidth=2, markersize=11,
                          label="from the literature (bold, outlined)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="colour = core formula P\n(the same in every picture)",
              title_fontsize=8, alignment="left")
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(-depth - 0.7, 0.7)
    ax.axis("off")
    ax.set_title(title or "Loss lattice: an arrow A -> B means A |= B "
                 "(A is more constrained, loss(A) >= loss(B))", fontsize=10)
    return fig
