"""The loss lattice: the order between named structures and its Hasse diagram.

Equivalent structures are merged into one node named ``A=B``; an edge ``a -> b``
means ``a |= b`` (a is more constrained) with nothing in between. Pairwise
entailment is decided on the bitmasks (the tests check it against z3 and against
networkx's transitive reduction of the all-pairs order).

The order is computed bit-parallel, so that thousands of structures take milliseconds.
Node ``i`` entails node ``j`` iff ``ok_i <= ok_j`` and ``bad_j <= bad_i`` (spec section 4).
For every world ``w`` two bitsets over the nodes are kept: those whose ``ok`` holds ``w``,
and those whose ``bad`` misses it; the successors of ``i`` are the intersection of the first
over ``ok_i``'s worlds and the second over the worlds outside ``bad_i``. Worlds are taken in
chunks of eight, with the intersection for every value of a chunk computed once (grouped by
mask), so a node's successors cost a few big-integer ANDs whatever the atom count. The Hasse
diagram takes, for each node, its successors in a topological order and keeps those not
already reached through an earlier one (the covers), one step per Hasse edge. networkx is
only used when a graph object is asked for (:attr:`Lattice.graph`).

>>> from logicpo.program import zoo
>>> names = ["CE", "CEUnl", "CPO", "ORPO", "cCPO", "unCPO", "cfUnl", "qfUnl",
...          "fUnl", "cUNL", "l20", "sCE"]
>>> lat = Lattice.build([zoo().structure(n) for n in names])
>>> len(lat.edges), lat.top, lat.bottom
(18, ['CEUnl'], ['unCPO'])
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from logicpo.logic.atoms import is_classic, union
from logicpo.logic.structure import Structure

if TYPE_CHECKING:
    import networkx as nx

_CHUNK = 8  # worlds per lookup table: 256 entries each
_KEEP_BITS = 2**29  # keep every node's successor set when they fit in 64 MiB together


class Lattice:
    """Nodes are classes of equivalent structures; ``graph`` is the Hasse diagram."""

    def __init__(self, members: dict[str, list[Structure]],
                 hasse: dict[str, list[str]]) -> None:
        self.members = members
        self._hasse = hasse  # node -> its direct successors (what it directly entails)

    @classmethod
    def build(cls, structures: list[Structure]) -> Lattice:
        atoms = union(*{s.atoms for s in structures})
        # Merge equivalent structures (identical regions), keeping the given order.
        classes: dict[tuple[int, int], list[Structure]] = {}
        for s in structures:
            classes.setdefault(s.masks(atoms), []).append(s)
        members = {group[0].name if len(group) == 1 else "=".join(s.name for s in group): group
                   for group in classes.values()}
        names = list(members)
        masks = list(classes)
        covers = hasse_diagram(masks, 1 << len(atoms))
        return cls(members, {names[i]: [names[j] for j in covers[i]] for i in range(len(names))})

    @property
    def nodes(self) -> list[str]:
        return list(self.members)

    @cached_property
    def edges(self) -> list[tuple[str, str]]:
        return sorted((a, b) for a, succ in self._hasse.items() for b in succ)

    def successors(self, node: str) -> list[str]:
        """The nodes that ``node`` directly entails (its Hasse successors), sorted."""
        return sorted(self._hasse[node])

    @cached_property
    def _has_predecessor(self) -> set[str]:
        return {b for succ in self._hasse.values() for b in succ}

    @property
    def top(self) -> list[str]:
        """The most constrained nodes (nothing entails them)."""
        return [n for n in self.members if n not in self._has_predecessor]

    @property
    def bottom(self) -> list[str]:
        """The least constrained nodes (they entail nothing else)."""
        return [n for n in self.members if not self._hasse[n]]

    def levels(self) -> dict[str, int]:
        """Depth of each node: 0 for the most constrained, longest path from a top node."""
        depth = dict.fromkeys(self.members, 0)
        for n in self._topological():
            for m in self._hasse[n]:
                depth[m] = max(depth[m], depth[n] + 1)
        return depth

    def _topological(self) -> list[str]:
        # Along an edge a -> b, |ok| never shrinks and |bad| never grows, one of them strictly.
        def key(n):
            ok, bad = self.representative(n).masks(self._atoms)
            return ok.bit_count() - bad.bit_count()

        return sorted(self.members, key=key)

    @property
    def atoms(self) -> tuple[str, ...]:
        """The atoms every node is compared over: the union of the members' atoms."""
        return self._atoms

    def atoms_note(self) -> str | None:
        """What comparing over the union of the atoms means, when the members are not all
        over the same atoms (``None`` for the classic four, as the paper compares)."""
        if is_classic(self.atoms) or len({s.atoms for g in self.members.values()
                                          for s in g}) == 1:
            return None
        return (f"compared over the union of their atoms ({', '.join(self.atoms)}): a "
                "structure that does not mention an atom counts both of its values the same")

    @cached_property
    def _atoms(self) -> tuple[str, ...]:
        reps = [g[0] for g in self.members.values()]
        return union(*{s.atoms for s in reps})

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The Hasse diagram as a networkx graph (built when first asked for)."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.members)
        g.add_edges_from((a, b) for a, succ in self._hasse.items() for b in succ)
        return g

    def representative(self, node: str) -> Structure:
        return self.members[node][0]

    def to_json(self) -> dict:
        return {"nodes": self.nodes, "edges": [list(e) for e in self.edges]}

    def _repr_html_(self) -> str:
        """Jupyter's view: the Hasse diagram as inline SVG (:mod:`logicpo.display.html`)."""
        from logicpo.display.html import lattice_html

        return lattice_html(self)


# ---------------------------------------------------------------- bit-parallel order


def hasse_diagram(masks: list[tuple[int, int]], worlds: int) -> list[list[int]]:
    """The covers of each of the distinct region pairs ``masks`` (over ``worlds`` worlds):
    ``out[i]`` lists the ``j`` with ``i |= j``, ``i != j`` and nothing strictly between.

    >>> hasse_diagram([(0b1010, 0b1100), (0b1010, 0b0100), (0b1110, 0b0100)], 4)
    [[1], [2], []]
    """
    n = len(masks)
    # Index the nodes in a topological order: successors come later.
    order = sorted(range(n), key=lambda i: masks[i][0].bit_count()
                   - masks[i][1].bit_count())
    oks = [masks[i][0] for i in order]
    bads = [masks[i][1] for i in order]
    succ = _Successors(oks, bads, worlds)
    if n * n <= _KEEP_BITS:  # a cover's successors are asked for once per node it covers
        kept: dict[int, int] = {}

        def successors(k: int) -> int:
            found = kept.get(k)
            if found is None:
                found = kept[k] = succ(k)
            return found
    else:
        successors = succ
    covers: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        remaining = successors(i)
        while remaining:
            low = remaining & -remaining
            k = low.bit_length() - 1  # the earliest left is minimal: a cover of i
            covers[order[i]].append(order[k])
            remaining &= ~(successors(k) | low)
    return covers


class _Successors:
    """``self(i)``: the bitset of the nodes that node ``i`` strictly entails, the nodes given
    in a topological order (a node strictly entails only nodes after it)."""

    def __init__(self, oks: list[int], bads: list[int], worlds: int) -> None:
        n = len(oks)
        self.oks, self.bads = oks, bads
        self.everyone = (1 << n) - 1
        # has_ok[w]: nodes whose ok holds world w; no_bad[w]: nodes whose bad misses it.
        self.has_ok = _bitsets(oks, worlds)
        self.no_bad = [self.everyone & ~b for b in _bitsets(bads, worlds)]
        # one step per chunk of worlds: its two lookup tables (the intersections already
        # computed, by the chunk's bits), its first world and its width
        self.steps = [({0: self.everyone}, {0: self.everyone}, lo,
                       (1 << (min(lo + _CHUNK, worlds) - lo)) - 1)
                      for lo in range(0, worlds, _CHUNK)]
        self.full = (1 << worlds) - 1

    def __call__(self, i: int) -> int:
        # Nodes come in a topological order (hasse_diagram), so what i strictly entails comes
        # later: start from the later nodes, and stop as soon as none is left (past four
        # atoms most random structures entail nothing, found in a chunk or two).
        out = self.everyone >> (i + 1) << (i + 1)
        ok, missing = self.oks[i], self.full & ~self.bads[i]
        for ok_table, bad_table, lo, width in self.steps:
            if not out:
                break
            value = (ok >> lo) & width
            found = ok_table.get(value)
            out &= _lookup(ok_table, value, self.has_ok, lo) if found is None else found
            value = (missing >> lo) & width
            found = bad_table.get(value)
            out &= _lookup(bad_table, value, self.no_bad, lo) if found is None else found
        return out


def _lookup(table: dict[int, int], value: int, sets: list[int], lo: int) -> int:
    """The intersection of ``sets[lo + b]`` over the bits ``b`` of ``value``, memoised."""
    found = table.get(value)
    if found is None:
        low = value & -value
        found = _lookup(table, value ^ low, sets, lo) & sets[lo + low.bit_length() - 1]
        table[value] = found
    return found


def _bitsets(masks: list[int], worlds: int) -> list[int]:
    """For each world ``w``, the nodes (bit i for node i) whose mask holds ``w``.

    >>> [bin(b) for b in _bitsets([0b01, 0b11], 2)]
    ['0b11', '0b10']
    """
    if not masks:
        return [0] * worlds
    # One row of bits per node, last node first; the columns are the worlds, last world first.
    rows = [format(m, f"0{worlds}b") for m in reversed(masks)]
    columns = ["".join(c) for c in zip(*rows, strict=True)]
    return [int(columns[worlds - 1 - w], 2) for w in range(worlds)]
