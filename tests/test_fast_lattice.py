"""The bit-parallel lattice (issue 14) against slow references on random structures:
networkx's transitive reduction of an all-pairs order decided world by world, and z3."""

from __future__ import annotations

import networkx as nx
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from logicpo.logic.formulas import ATOMS_REF, ATOMS_SINGLE, SYMBOLS
from logicpo.logic.structure import Structure
from logicpo.reasoning.lattice import Lattice, hasse_diagram
from logicpo.reasoning.order import entails_z3


def _entails_by_worlds(a: tuple[int, int], b: tuple[int, int], worlds: int) -> bool:
    """S1 |= S2 (spec section 4): every ok1 world is in ok2, every bad2 world in bad1."""
    return all(((a[0] >> k) & 1) <= ((b[0] >> k) & 1) and ((b[1] >> k) & 1) <= ((a[1] >> k) & 1)
               for k in range(worlds))


def _reference(masks: list[tuple[int, int]], worlds: int) -> nx.DiGraph:
    order = nx.DiGraph()
    order.add_nodes_from(range(len(masks)))
    order.add_edges_from((i, j) for i, a in enumerate(masks) for j, b in enumerate(masks)
                         if i != j and _entails_by_worlds(a, b, worlds))
    return nx.transitive_reduction(order)


regions16 = st.tuples(st.integers(0, 2**16 - 1), st.integers(0, 2**16 - 1))
# few bits in ok, many in bad: chains of entailment, the hard case for the Hasse diagram
dense16 = st.tuples(st.integers(0, 2**16 - 1), st.integers(0, 2**16 - 1)).map(
    lambda m: (m[0] & (m[0] >> 3) & 0xFFFF, m[1] | (m[1] >> 5)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(regions16, dense16), min_size=1, max_size=60, unique=True))
def test_hasse_diagram_is_networkx_transitive_reduction(masks):
    covers = hasse_diagram(masks, 16)
    want = _reference(masks, 16)
    assert {(i, j) for i, cs in enumerate(covers) for j in cs} == set(want.edges)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=1, max_size=25),
       st.lists(regions16, max_size=10))
def test_lattice_of_mixed_structures_matches_the_reference(single, reference):
    """Single-model and reference structures mixed (lifted to four atoms), duplicates
    merged into one node: nodes, edges, top, bottom and levels as networkx computes them."""
    structures = [Structure.from_masks(f"a{i}", ATOMS_SINGLE, ok, bad)
                  for i, (ok, bad) in enumerate(single)]
    structures += [Structure.from_masks(f"r{i}", ATOMS_REF, ok, bad)
                   for i, (ok, bad) in enumerate(reference)]
    lat = Lattice.build(structures)
    atoms = ATOMS_REF if reference else ATOMS_SINGLE
    groups: dict[tuple[int, int], list[str]] = {}
    for s in structures:
        groups.setdefault(s.masks(atoms), []).append(s.name)
    names = ["=".join(g) for g in groups.values()]
    want = nx.relabel_nodes(_reference(list(groups), 1 << len(atoms)), dict(enumerate(names)))
    assert lat.nodes == names
    assert lat.edges == sorted(want.edges)
    assert lat.top == [n for n in names if want.in_degree(n) == 0]
    assert lat.bottom == [n for n in names if want.out_degree(n) == 0]
    depth = {}
    for n in nx.topological_sort(want):
        preds = list(want.predecessors(n))
        depth[n] = 1 + max(depth[p] for p in preds) if preds else 0
    assert lat.levels() == depth
    assert set(lat.graph.edges) == set(want.edges) and list(lat.graph.nodes) == names
    for n in names:
        assert lat.successors(n) == sorted(want.successors(n))


_OPS = {"and": sympy.And, "or": sympy.Or, "xor": sympy.Xor, "implies": sympy.Implies}
formulas = st.recursive(
    st.sampled_from(ATOMS_REF).map(lambda a: SYMBOLS[a]),
    lambda kids: st.one_of(kids.map(sympy.Not),
                           st.tuples(st.sampled_from(sorted(_OPS)), kids, kids).map(
                               lambda t: _OPS[t[0]](t[1], t[2]))),
    max_leaves=6)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(formulas, formulas), min_size=2, max_size=6))
def test_lattice_order_is_z3s_entailment(pairs):
    """Reachability in the Hasse diagram is the order z3 decides between the formulas."""
    structures = [Structure.from_regions(f"s{i}", ok, bad) for i, (ok, bad) in enumerate(pairs)]
    lat = Lattice.build(structures)
    node_of = {s.name: node for node, group in lat.members.items() for s in group}
    reach = nx.transitive_closure(lat.graph, reflexive=True)
    for a in structures:
        for b in structures:
            proved = entails_z3(a, b, ATOMS_REF).is_proved
            assert proved == reach.has_edge(node_of[a.name], node_of[b.name]), (a.name, b.name)
