"""Pictures of the landscape: a loss among its one-edit neighbours, and the zoo lattice.

The neighbourhood is drawn as a lattice (spec section 4): the origin and its neighbours,
an arrow ``A -> B`` when ``A |= B`` with nothing in between, most constrained at the top.
Neighbours are coloured by how they relate to the origin, degenerate ones are hatched
grey, and neighbours named in the zoo carry that name.

>>> from logicpo.program import zoo
>>> from logicpo.reasoning.landscape import neighbours
>>> fig = draw_neighbourhood(neighbours(zoo().structure("CPO"), [zoo().structure("cCPO")]))
>>> len(fig.axes)
1
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from logicpo.plots.lattice import draw_edges, draw_lattice, layout  # noqa: E402
from logicpo.reasoning.landscape import Neighbourhood  # noqa: E402
from logicpo.reasoning.lattice import Lattice  # noqa: E402

COLOURS = {"origin": "#222222", "stronger": "#C44E52", "weaker": "#4C72B0",
           "incomparable": "#8C8C8C"}


def _label(m) -> str:
    edit = f"{m.world.short}:{m.after}"
    return f"{m.same_as[0]}\n({edit})" if m.same_as else edit


def draw_neighbourhood(hood: Neighbourhood, title: str | None = None):
    """The origin and its one-edit neighbours, laid out as a lattice."""
    members = hood.neighbours
    structures = [hood.origin] + [m.structure for m in members]
    lat = Lattice.build(structures)
    pos = layout(lat)
    info = {hood.origin.name: ("origin", hood.origin.name, False)}
    for m in members:
        info[m.structure.name] = (m.relation, _label(m), m.degeneracy is not None)
    node_of = {s.name: node for node, group in lat.members.items() for s in group}
    xs = [p[0] for p in pos.values()]
    depth = max((-p[1] for p in pos.values()), default=0)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.25 * (max(xs) - min(xs) + 2)),
                                    max(4.0, 1.4 * (depth + 2))))
    draw_edges(ax, lat.edges, pos, color="#999999", lw=0.7, gap=0.2)
    for name, (relation, label, degenerate) in info.items():
        x, y = pos[node_of[name]]
        ax.text(x, y, label, ha="center", va="center", fontsize=7,
                fontweight="bold" if relation == "origin" else "normal", color="white",
                bbox={"boxstyle": "round,pad=0.3",
                      "fc": "#BBBBBB" if degenerate else COLOURS[relation],
                      "ec": COLOURS[relation], "lw": 1.5,
                      "hatch": "///" if degenerate else None, "alpha": 0.9})
    handles = [Line2D([0], [0], marker="s", color="w", markerfacecolor=c, markersize=10,
                      label=label) for label, c in (
        (hood.origin.name, COLOURS["origin"]),
        (f"stronger than {hood.origin.name}", COLOURS["stronger"]),
        (f"weaker than {hood.origin.name}", COLOURS["weaker"]),
        ("incomparable", COLOURS["incomparable"]), ("degenerate", "#BBBBBB"))]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False)
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(-depth - 0.7, 0.7)
    ax.axis("off")
    ax.set_title(title or f"The {len(members)} one-world edits of {hood.origin.name} "
                 f"({len(hood.groups)} distinct losses); A -> B means A |= B", fontsize=10)
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
