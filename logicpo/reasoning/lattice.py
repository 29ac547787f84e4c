"""The loss lattice: the order between named structures and its Hasse diagram.

Equivalent structures are merged into one node named ``A=B``; an edge ``a -> b``
means ``a |= b`` (a is more constrained) with nothing in between. Pairwise
entailment uses the bitmask engine, which the tests check against z3.

>>> from logicpo.program import zoo
>>> names = ["CE", "CEUnl", "CPO", "ORPO", "cCPO", "unCPO", "cfUnl", "qfUnl",
...          "fUnl", "cUNL", "l20", "sCE"]
>>> lat = Lattice.build([zoo().structure(n) for n in names])
>>> len(lat.edges), lat.top, lat.bottom
(18, ['CEUnl'], ['unCPO'])
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from logicpo.logic.formulas import ATOMS_REF
from logicpo.logic.structure import Structure
from logicpo.reasoning.bitmask import structure_entails_masks


@dataclass
class Lattice:
    """Nodes are classes of equivalent structures; ``graph`` is the Hasse diagram."""

    graph: nx.DiGraph
    members: dict[str, list[Structure]]

    @classmethod
    def build(cls, structures: list[Structure]) -> Lattice:
        atoms = ATOMS_REF if any(s.uses_reference for s in structures) else structures[0].atoms
        masks = [s.masks(atoms) for s in structures]
        # Merge equivalent structures (identical regions), keeping the given order.
        classes: dict[tuple[int, int], list[int]] = {}
        for i, m in enumerate(masks):
            classes.setdefault(m, []).append(i)
        members = {"=".join(structures[i].name for i in idx): [structures[i] for i in idx]
                   for idx in classes.values()}
        reps = {name: masks[structures.index(group[0])] for name, group in members.items()}
        order = nx.DiGraph()
        order.add_nodes_from(members)
        for a, (ok1, bad1) in reps.items():
            for b, (ok2, bad2) in reps.items():
                if a != b and structure_entails_masks(ok1, bad1, ok2, bad2) == 0:
                    order.add_edge(a, b)
        hasse = nx.transitive_reduction(order)
        hasse.add_nodes_from(order.nodes)
        return cls(hasse, members)

    @property
    def nodes(self) -> list[str]:
        return list(self.graph.nodes)

    @property
    def edges(self) -> list[tuple[str, str]]:
        return sorted(self.graph.edges)

    @property
    def top(self) -> list[str]:
        """The most constrained nodes (nothing entails them)."""
        return [n for n in self.graph if self.graph.in_degree(n) == 0]

    @property
    def bottom(self) -> list[str]:
        """The least constrained nodes (they entail nothing else)."""
        return [n for n in self.graph if self.graph.out_degree(n) == 0]

    def levels(self) -> dict[str, int]:
        """Depth of each node: 0 for the most constrained, longest path from a top node."""
        depth: dict[str, int] = {}
        for n in nx.topological_sort(self.graph):
            preds = list(self.graph.predecessors(n))
            depth[n] = 1 + max(depth[p] for p in preds) if preds else 0
        return depth

    def representative(self, node: str) -> Structure:
        return self.members[node][0]

    def to_json(self) -> dict:
        return {"nodes": self.nodes, "edges": [list(e) for e in self.edges]}

    def _repr_html_(self) -> str:
        """Jupyter's view: the Hasse diagram as inline SVG (:mod:`logicpo.display.html`)."""
        from logicpo.display.html import lattice_html

        return lattice_html(self)
