"""Drawing the loss lattice: most constrained at the top, grouped and coloured by core
formula, losses from the literature marked.

Nodes are boxes of one size (:func:`draw_node`); edges are routed (:func:`route_edges`)
between rows and through gaps in the rows they pass, so that no edge crosses a node, with
the arrowheads into one node spread along its side. The neighbourhood pictures
(``logicpo.plots.landscape``) use the same nodes, routes and colours.

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

from matplotlib.lines import Line2D

from logicpo.logic.formulas import to_dsl
from logicpo.logic.structure import Structure
from logicpo.logic.truth import formula_of, mask
from logicpo.plots import subplots
from logicpo.reasoning.lattice import Lattice

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


# Node geometry, in data units: boxes of NODE_W x NODE_H, SPACING apart in a row, rows
# ROW_GAP apart. Labels are sized to fit their box.
NODE_W, NODE_H, SPACING, ROW_GAP = 1.5, 0.62, 1.8, 1.7
EDGE_COLOUR = "#8A8A8A"
YOURS_COLOUR = "#C2185B"  # the dashed frame of a user's structure


def draw_node(ax, x: float, y: float, label: str, fill: str, *, outline: bool = False,
              bold: bool = False, style: dict | None = None, fontsize: float = 8,
              yours: bool = False) -> None:
    """A rounded box of NODE_W x NODE_H centred at ``(x, y)`` with its label; ``style``
    (patch keywords) replaces the fill, for degenerate nodes, and gives the text a white
    backing so that it stays legible on a hatch. ``yours`` adds a dashed frame around the
    box: a structure from the user's file."""
    from matplotlib.patches import FancyBboxPatch

    look = dict(style) if style else {"fc": fill, "ec": "black" if outline else "none"}
    ax.add_patch(FancyBboxPatch((x - NODE_W / 2, y - NODE_H / 2), NODE_W, NODE_H,
                                boxstyle="round,pad=0,rounding_size=0.08",
                                lw=2.2 if outline else 1.0, zorder=2, **look))
    if yours:
        ax.add_patch(FancyBboxPatch((x - NODE_W / 2, y - NODE_H / 2), NODE_W, NODE_H,
                                    boxstyle="round,pad=0.07,rounding_size=0.12", fc="none",
                                    ec=YOURS_COLOUR, lw=1.6, ls=(0, (3, 2)), zorder=3))
    longest = max(len(line) for line in label.splitlines())
    ax.text(x, y, label, ha="center", va="center", zorder=3,
            fontsize=min(fontsize, 112 / max(longest, 1)),
            fontweight="bold" if bold else "normal",
            color="black" if style else text_colour(look["fc"]),
            bbox={"fc": "white", "ec": "none", "pad": 1.0} if style else None)


def route_edges(lat: Lattice, pos: dict[str, tuple[float, float]]
                ) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """A polyline per Hasse edge, from the bottom of its source box to the top of its target
    box. Where an edge passes a row of nodes it goes straight down through a gap between two
    boxes (or beside the row), so it never crosses a node. Arrivals and departures are spread
    along the box sides so that arrowheads do not pile up."""
    rows: dict[float, list[float]] = {}
    for x, y in pos.values():
        rows.setdefault(y, []).append(x)
    ys = sorted(rows, reverse=True)
    paths: dict[tuple[str, str], list[tuple[float, float]]] = {}
    through: dict[tuple[float, float], list[tuple[tuple[str, str], int]]] = {}
    for a, b in lat.edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        points = [(x1, y1)]
        for y in ys:
            if y2 < y < y1:
                t = (y1 - y) / (y1 - y2)
                gx = _gap(sorted(rows[y]), x1 + t * (x2 - x1))
                through.setdefault((y, gx), []).append(((a, b), len(points)))
                points += [(gx, y + NODE_H / 2 + 0.08), (gx, y - NODE_H / 2 - 0.08)]
        paths[a, b] = points + [(x2, y2)]
    # Edges sharing a gap pass side by side, ordered by where they come from, so that
    # they do not merge into one line that would suggest a junction.
    lane = 0.16
    for uses in through.values():
        uses.sort(key=lambda u: (pos[u[0][0]][0], pos[u[0][1]][0]))
        k = len(uses)
        for i, (edge, at) in enumerate(uses):
            dx = (i - (k - 1) / 2) * lane
            for j in (at, at + 1):
                x, y = paths[edge][j]
                paths[edge][j] = (x + dx, y)
    # Ports: spread the ends on each node's bottom (out) and top (in) side.
    for end, side in ((0, -1), (-1, 1)):
        by_node: dict[str, list[tuple[str, str]]] = {}
        for edge in paths:
            by_node.setdefault(edge[0] if end == 0 else edge[1], []).append(edge)
        for node, edges in by_node.items():
            nx_, ny = pos[node]
            nxt = 1 if end == 0 else -2  # the neighbouring point fixes the order
            edges.sort(key=lambda e: paths[e][nxt][0])
            k = len(edges)
            step = min(0.22, 0.8 * NODE_W / max(k, 1))
            for i, edge in enumerate(edges):
                paths[edge][end] = (nx_ + (i - (k - 1) / 2) * step, ny + side * NODE_H / 2)
    return paths


def _gap(xs: list[float], want: float) -> float:
    """The x of the gap in a row of boxes centred at ``xs`` nearest to ``want``."""
    gaps = [xs[0] - SPACING / 2 - NODE_W / 2, xs[-1] + SPACING / 2 + NODE_W / 2]
    gaps += [(p + q) / 2 for p, q in zip(xs, xs[1:], strict=False)
             if q - p >= NODE_W + 0.2]
    return min(gaps, key=lambda g: abs(g - want))


def draw_routes(ax, paths) -> None:
    """Draw the polylines of :func:`route_edges`, an arrowhead on each last segment."""
    for points in paths.values():
        px, py = zip(*points, strict=True)
        ax.plot(px[:-1], py[:-1], color=EDGE_COLOUR, lw=0.9, zorder=1, solid_joinstyle="round")
        ax.annotate("", xy=points[-1], xytext=points[-2],
                    arrowprops={"arrowstyle": "-|>,head_length=0.5,head_width=0.22",
                                "color": EDGE_COLOUR, "lw": 0.9, "shrinkA": 0, "shrinkB": 0},
                    zorder=1)


def node_label(node: str) -> str:
    """A node's name in its box: beyond 12 characters, merged names ``A=B=C`` on two lines,
    the first name on its own (the box holds two lines at a readable size).

    >>> node_label("cCPO=mine=mine_regions").splitlines()
    ['cCPO=', 'mine=mine_regions']
    """
    first, sep, rest = node.partition("=")
    return f"{first}=\n{rest}" if sep and len(node) > 12 else node


def draw_lattice(lat: Lattice, title: str | None = None, *, yours=frozenset(),
                 yours_label: str | None = None):
    """A matplotlib figure of the Hasse diagram; nodes holding a structure named in
    ``yours`` (the user's) get a dashed frame and a legend entry (``yours_label``)."""
    pos = layout(lat)
    cores: dict[str, Structure] = {}  # core key -> a structure with it, in node order
    for n in lat.nodes:
        rep = lat.representative(n)
        cores.setdefault(core_key(rep), rep)
    pos = {n: (x * SPACING, y * ROW_GAP) for n, (x, y) in pos.items()}
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    width = max(xs) - min(xs) + NODE_W + 0.8
    height = max(ys) - min(ys) + NODE_H + 0.8
    fig, ax = subplots(figsize=(0.62 * width + 3.4, 0.62 * height + 0.9))
    draw_routes(ax, route_edges(lat, pos))
    for n, (x, y) in pos.items():
        literature = any(s.doc for s in lat.members[n])
        mine = any(s.name in yours for s in lat.members[n])
        label = node_label(n)
        longest = max(len(line) for line in label.splitlines())
        draw_node(ax, x, y, label, core_colour(lat.representative(n)), outline=literature,
                  bold=literature, fontsize=min(9, 96 / longest), yours=mine)
    handles = [Line2D([0], [0], marker="s", color="w", markerfacecolor=core_colour(rep),
                      markersize=11, label=f"core P: {core_label(rep)}")
               for rep in cores.values()]
    handles.append(Line2D([0], [0], marker="s", color="w", markerfacecolor="white",
                          markeredgecolor="black", markeredgewidth=2, markersize=11,
                          label="from the literature (bold, outlined)"))
    if any(s.name in yours for group in lat.members.values() for s in group):
        handles.append(Line2D([0], [0], marker="s", color="w", markerfacecolor="white",
                              markeredgecolor=YOURS_COLOUR, markeredgewidth=1.6,
                              markersize=11, linestyle="none",
                              label=yours_label or "yours (dashed frame): from your --file"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="colour = core formula P\n(the same in every picture)",
              title_fontsize=8, alignment="left")
    ax.set_xlim(min(xs) - NODE_W / 2 - 0.4, max(xs) + NODE_W / 2 + 0.4)
    ax.set_ylim(min(ys) - NODE_H / 2 - 0.4, max(ys) + NODE_H / 2 + 0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "Loss lattice: an arrow A -> B means A |= B "
                 "(A is more constrained, loss(A) >= loss(B))", fontsize=10)
    return fig
