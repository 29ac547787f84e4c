"""Pictures of the landscape: a loss among its one-edit neighbours, and the zoo lattice.

A small neighbourhood (a single-model loss: 12 neighbours) is drawn as a Hasse diagram laid
out by relation: neighbours that entail the origin (stronger, loss at least as high) above
it, those it entails (weaker) below, incomparable ones in a column to the side; within a
row, neighbours are grouped by the world that was edited. Every edge runs between node
rows, passing through a row only in a gap between two nodes, so no edge crosses a node;
arrows into one node arrive at separate points of its top side. Fill colour is the core
formula (:func:`logicpo.plots.lattice.core_colour`, the same in every picture);
degenerate neighbours are white, hatched, with a dashed border, as in the legend.

A large neighbourhood (a reference loss: 48 neighbours) is drawn as a summary instead: one
row per edited world, one column per new state of that world, each cell the relation to the
origin and the number of its loss in the ``neighbors`` table, with the counts per world and
per relation.

>>> from logicpo.program import zoo
>>> from logicpo.reasoning.landscape import neighbours
>>> fig = draw_neighbourhood(neighbours(zoo().structure("CPO"), [zoo().structure("cCPO")]))
>>> len(fig.axes)
1
"""

from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from logicpo.logic.truth import display_order
from logicpo.plots import subplots
from logicpo.plots.lattice import (
    EDGE_COLOUR,
    NODE_H,
    NODE_W,
    OTHER_CORE,
    ROW_GAP,
    SPACING,
    core_colour,
    core_label,
    draw_lattice,
    draw_node,
    draw_routes,
    route_edges,
    text_colour,
)
from logicpo.reasoning.landscape import STATES, Neighbourhood
from logicpo.reasoning.lattice import Lattice

# Beyond this many neighbours the graph is unreadable at any size: draw the summary.
GRAPH_LIMIT = 16

# World groups in a row are separated by this much more than the usual SPACING.
GROUP_GAP = 0.5
DEGENERATE_STYLE = {"fc": "white", "ec": "#808080", "hatch": "////", "ls": "--"}
RELATIONS = ("stronger", "weaker", "incomparable")
# The summary's relation shades: greys, so they cannot be mistaken for core colours.
RELATION_FILL = {"stronger": "#4D4D4D", "weaker": "#EBEBEB", "incomparable": "#A6A6A6"}
DEGENERATE_NAMES = {"UNDEFINED": "undefined", "INFINITE": "+inf", "ZERO": "0",
                    "CONSTANT": "log 2"}


def _label(m) -> str:
    edit = f"{m.world.short}: {m.before}→{m.after}"
    lines = [m.same_as[0], edit] if m.same_as else [edit]
    if m.degeneracy is not None:
        lines.append(f"degenerate: {DEGENERATE_NAMES[m.degeneracy.name]}")
    return "\n".join(lines)


def neighbourhood_layout(hood: Neighbourhood) -> tuple[Lattice, dict[str, tuple[float, float]],
                                                       dict[str, object]]:
    """The lattice of the origin and its neighbours, node centres, and node -> neighbour
    (None for the origin). Rows are the lattice levels (so stronger neighbours are above
    the origin and weaker ones below); in each row the origin's comparable neighbours come
    first, grouped by edited world in display order, then the incomparable ones, in a
    column block of their own to the right."""
    structures = [hood.origin] + [m.structure for m in hood.neighbours]
    lat = Lattice.build(structures)
    node_of = {s.name: node for node, group in lat.members.items() for s in group}
    member: dict[str, object] = {node_of[hood.origin.name]: None}
    for m in hood.neighbours:
        member.setdefault(node_of[m.structure.name], m)
    n = len(hood.origin.atoms)
    world_rank = {k: i for i, k in enumerate(display_order(n))}
    levels = lat.levels()

    def key(node: str):
        m = member[node]
        return (0, 0, 0) if m is None else (world_rank[m.world.index],
                                             STATES.index(m.after), node)

    rows: dict[int, list[str]] = {}
    for node in lat.nodes:
        rows.setdefault(levels[node], []).append(node)
    side = [node for node in lat.nodes
            if member[node] is not None and member[node].relation == "incomparable"]
    main_width = 0.0
    placed: dict[str, float] = {}
    for row in rows.values():
        xs = _spread(sorted((x for x in row if x not in side), key=key), member)
        placed.update(xs)
        if xs:
            main_width = max(main_width, max(xs.values()) - min(xs.values()))
    # Centre the comparable block on the origin's column.
    shift = -placed[node_of[hood.origin.name]]
    side_x = main_width / 2 + abs(shift) + SPACING + GROUP_GAP
    for row in rows.values():
        xs = _spread(sorted((x for x in row if x in side), key=key), member)
        if xs:
            low = min(xs.values())
            placed.update({node: side_x + x - low - shift for node, x in xs.items()})
    pos = {node: (placed[node] + shift, -levels[node] * ROW_GAP) for node in lat.nodes}
    return lat, pos, member


def _spread(nodes: list[str], member) -> dict[str, float]:
    """x of each node in a row, centred on 0, with a gap between edited worlds."""
    x, out, last = 0.0, {}, None
    for node in nodes:
        m = member[node]
        world = None if m is None else m.world.index
        if out:
            x += SPACING + (GROUP_GAP if world != last else 0.0)
        out[node], last = x, world
    mid = (min(out.values()) + max(out.values())) / 2 if out else 0.0
    return {node: v - mid for node, v in out.items()}


def draw_neighbourhood(hood: Neighbourhood, title: str | None = None):
    """The origin and its one-edit neighbours: a Hasse diagram laid out by relation for up
    to ``GRAPH_LIMIT`` neighbours, otherwise the summary grid."""
    if len(hood.neighbours) > GRAPH_LIMIT:
        return draw_neighbourhood_summary(hood, title)
    lat, pos, member = neighbourhood_layout(hood)
    paths = route_edges(lat, pos)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    width = max(xs) - min(xs) + NODE_W + 3.2
    height = max(ys) - min(ys) + NODE_H + 1.6
    fig, ax = subplots(figsize=(0.62 * width + 3.4, 0.62 * height + 0.9))
    origin_y = next(y for node, (x, y) in pos.items() if member[node] is None)
    left = min(xs) - NODE_W / 2 - 0.3
    # Bands: what the rows mean.
    for label, where in ((f"stronger than {hood.origin.name}\n(entail it: loss ≥)", 1),
                         (f"weaker than {hood.origin.name}\n(entailed: loss ≤)", -1)):
        band = [y for y in ys if (y - origin_y) * where > 0]
        if band:
            ax.text(left - 0.2, sum(band) / len(band), label, ha="right", va="center",
                    fontsize=8, color="#333333")
    side = [pos[node] for node, m in member.items() if m is not None
            and m.relation == "incomparable"]
    if side:
        sx, sy = [p[0] for p in side], [p[1] for p in side]
        ax.add_patch(Rectangle((min(sx) - NODE_W / 2 - 0.25, min(sy) - NODE_H / 2 - 0.25),
                               max(sx) - min(sx) + NODE_W + 0.5,
                               max(sy) - min(sy) + NODE_H + 0.5,
                               fc="#F2F2F2", ec="none", zorder=0))
        ax.text((min(sx) + max(sx)) / 2, max(sy) + NODE_H / 2 + 0.3,
                f"incomparable with {hood.origin.name}", ha="center", va="bottom",
                fontsize=8, color="#333333")
    draw_routes(ax, paths)
    cores: dict[str, object] = {}
    any_degenerate = False
    for node, (x, y) in pos.items():
        m = member[node]
        s = hood.origin if m is None else m.structure
        degenerate = m is not None and m.degeneracy is not None
        any_degenerate |= degenerate
        if not degenerate:
            cores.setdefault(core_colour(s), s)
        draw_node(ax, x, y, hood.origin.name if m is None else _label(m),
                  core_colour(s), outline=m is None, bold=m is None,
                  style=DEGENERATE_STYLE if degenerate else None,
                  fontsize=9 if m is None else 7)
    handles = [Patch(fc=c, ec="none", label=f"core P: {core_label(s)}")
               for c, s in cores.items() if c != OTHER_CORE]
    if OTHER_CORE in cores:
        handles.append(Patch(fc=OTHER_CORE, ec="none",
                             label="a core no zoo loss has\n(formula: neighbors table)"))
    if any_degenerate:
        handles.append(Patch(label="degenerate: the loss does not\ndepend on the model",
                             **DEGENERATE_STYLE))
    handles.append(Patch(fc="white", ec="black", lw=2.2, label=f"{hood.origin.name} itself"))
    handles.append(Line2D([0], [0], color=EDGE_COLOUR, lw=0.9, marker=">", markersize=5,
                          label="A → B: A |= B, nothing between"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False, title="colour = core formula P\n(the same in every picture)",
              title_fontsize=8, alignment="left")
    ax.set_xlim(left - 3.0, max(xs) + NODE_W / 2 + 0.4)
    ax.set_ylim(min(ys) - NODE_H / 2 - 0.4, max(ys) + NODE_H / 2 + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"The {len(hood.neighbours)} one-world edits of {hood.origin.name}"
                 f" ({len(hood.groups)} distinct losses)", fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def draw_neighbourhood_summary(hood: Neighbourhood, title: str | None = None):
    """One row per edited world, one column per new state: the relation to the origin, the
    loss number of the ``neighbors`` table, any zoo name; counts per world and relation."""
    n = len(hood.origin.atoms)
    number = {id(m): i for i, g in enumerate(hood.groups, 1) for m in g.members}
    cell = {(m.world.index, m.after): m for m in hood.neighbours}
    worlds = display_order(n)
    fig, ax = subplots(figsize=(9.0, 0.42 * len(worlds) + 2.2))
    for r, k in enumerate(worlds):
        y = len(worlds) - 1 - r
        counts = dict.fromkeys(RELATIONS, 0)
        for c, state in enumerate(STATES):
            m = cell.get((k, state))
            if m is None:  # the world's state in the origin
                ax.add_patch(Rectangle((c, y), 1, 1, fc="white", ec="#BBBBBB", ls=":"))
                ax.text(c + 0.5, y + 0.5, f"= {hood.origin.name}", ha="center", va="center",
                        fontsize=7, color="#777777")
                continue
            counts[m.relation] += 1
            fill = RELATION_FILL[m.relation]
            style = {"fc": fill, "ec": "#444444", "lw": 0.6}
            if m.degeneracy is not None:
                style.update(hatch="////")
            ax.add_patch(Rectangle((c, y), 1, 1, **style))
            text = f"#{number[id(m)]}"
            if m.same_as:
                text += f" {m.same_as[0]}"
            if m.degeneracy is not None:
                text += f" ({DEGENERATE_NAMES[m.degeneracy.name]})"
            ax.text(c + 0.5, y + 0.5, text, ha="center", va="center", fontsize=7,
                    color=text_colour(fill),
                    bbox={"fc": fill, "ec": "none", "pad": 0.6} if m.degeneracy else None)
        ax.text(-0.1, y + 0.5, m.world.short if (m := cell.get((k, "ok")) or
                cell.get((k, "bad"))) else "", ha="right", va="center", fontsize=8,
                family="monospace")
        ax.text(len(STATES) + 0.15, y + 0.5,
                "   ·   ".join(str(counts[rel]) for rel in RELATIONS),
                ha="left", va="center", fontsize=7)
    for c, state in enumerate(STATES):
        ax.text(c + 0.5, len(worlds) + 0.15, f"→ {state}", ha="center", va="bottom",
                fontsize=8)
    ax.text(-0.1, len(worlds) + 0.15, "edited world\n" + " ".join(hood.origin.atoms),
            ha="right", va="bottom", fontsize=7)
    ax.text(len(STATES) + 0.15, len(worlds) + 0.15, "stronger · weaker · incomp.",
            ha="left", va="bottom", fontsize=7)
    totals = {rel: sum(1 for m in hood.neighbours if m.relation == rel) for rel in RELATIONS}
    degenerate = sum(1 for m in hood.neighbours if m.degeneracy is not None)
    handles = [Patch(fc=RELATION_FILL[rel], ec="#444444",
                     label=f"{rel} than {hood.origin.name}: {totals[rel]}"
                     if rel != "incomparable" else f"incomparable: {totals[rel]}")
               for rel in RELATIONS]
    handles.append(Patch(fc="white", ec="#444444", hatch="////",
                         label=f"degenerate: {degenerate}"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False, title=f"shade = relation to {hood.origin.name}\n(stronger: "
              "entails it, loss ≥)", title_fontsize=8, alignment="left")
    ax.set_xlim(-1.6, len(STATES) + 2.6)
    ax.set_ylim(-1.2, len(worlds) + 1.0)
    ax.axis("off")
    ax.text(-1.6, -0.5, f"#k: loss k of `logicpo neighbors {hood.origin.name}`, whose table "
            "gives each neighbour's DSL; cells with the same number compute the same loss.\n"
            f"= {hood.origin.name}: the world's state in {hood.origin.name} (no edit).",
            fontsize=7, color="#555555", va="top")
    ax.set_title(title or f"The {len(hood.neighbours)} one-world edits of {hood.origin.name}"
                 f" ({len(hood.groups)} distinct losses): summary", fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def draw_zoo_lattice(single_model: bool = True):
    """The zoo lattice drawn for reading: grouped by core, literature losses marked."""
    from logicpo.api import SINGLE_MODEL_ZOO
    from logicpo.program import zoo

    program = zoo()
    if single_model:
        names = SINGLE_MODEL_ZOO
    else:
        names = [n for n in program.names_of("structure") if program.structure(n).uses_reference]
    return draw_lattice(Lattice.build([program.structure(n) for n in names]))
