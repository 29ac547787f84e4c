"""z3 and the bitmask engine agree; compare() and the lattice follow spec section 4."""

from __future__ import annotations

import itertools

import pytest
import sympy
from conftest import SINGLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logicpo.logic.formulas import ATOMS_REF, ATOMS_SINGLE, SYMBOLS
from logicpo.logic.structure import Structure
from logicpo.logic.truth import World, full_mask, mask
from logicpo.reasoning import bitmask, solver
from logicpo.reasoning.lattice import Lattice
from logicpo.reasoning.order import Relation, compare
from logicpo.reasoning.verdict import Status, Verdict


def formulas(atoms=ATOMS_REF):
    leaves = st.one_of(st.sampled_from([SYMBOLS[a] for a in atoms]),
                       st.sampled_from([sympy.true, sympy.false]))

    def extend(children):
        return st.one_of(
            children.map(sympy.Not),
            st.tuples(children, children).map(lambda t: sympy.And(*t)),
            st.tuples(children, children).map(lambda t: sympy.Or(*t)),
            st.tuples(children, children).map(lambda t: sympy.Xor(*t)),
            st.tuples(children, children).map(lambda t: sympy.Implies(*t)),
            st.tuples(children, children).map(lambda t: sympy.Equivalent(*t)),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def _truth(expr, world: World) -> bool:
    value = expr.subs({SYMBOLS[a]: sympy.true if v else sympy.false
                       for a, v in world.values.items()})
    return bool(value == sympy.true)


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(formulas(), formulas())
def test_entails_z3_agrees_with_bitmask(a, b):
    z, m = solver.entails(a, b), bitmask.entails(a, b)
    assert z.status == m.status
    if z.is_refuted:  # the countermodel really satisfies a and falsifies b
        assert _truth(a, z.countermodel) and not _truth(b, z.countermodel)


@SETTINGS
@given(formulas(), formulas())
def test_equivalent_z3_agrees_with_bitmask(a, b):
    z, m = solver.equivalent(a, b), bitmask.equivalent(a, b)
    assert z.status == m.status
    if z.is_refuted:
        assert _truth(a, z.countermodel) != _truth(b, z.countermodel)


@SETTINGS
@given(formulas())
def test_satisfiable_z3_agrees_with_bitmask_and_with_sympy(a):
    z, m = solver.satisfiable(a), bitmask.satisfiable(a)
    assert z.status == m.status
    assert z.is_proved == (sympy.satisfiable(a) is not False)
    if z.is_proved:
        assert _truth(a, z.countermodel)


def test_verdict_is_not_truthy():
    with pytest.raises(TypeError):
        bool(Verdict.proved())


def test_unknown_verdict_carries_reason():
    v = Verdict.unknown("timeout")
    assert v.is_unknown and v.to_json() == {"status": "unknown", "reason": "timeout"}


def test_solver_honours_timeout_argument():
    a = sympy.And(SYMBOLS["M(yw)"], SYMBOLS["M(yl)"])
    assert solver.entails(a, SYMBOLS["M(yw)"], timeout_ms=1).status in (Status.PROVED,
                                                                        Status.UNKNOWN)


def _definition_entails(s1: Structure, s2: Structure) -> bool:
    """Spec section 4 by enumeration: ok1 subset of ok2 and bad1 superset of bad2."""
    atoms = ATOMS_REF
    ok1, bad1 = s1.masks(atoms)
    ok2, bad2 = s2.masks(atoms)
    for k in range(16):
        if (ok1 >> k) & 1 and not (ok2 >> k) & 1:
            return False
        if (bad2 >> k) & 1 and not (bad1 >> k) & 1:
            return False
    return True


def _expected_relation(s1, s2) -> Relation:
    f, b = _definition_entails(s1, s2), _definition_entails(s2, s1)
    return {(True, True): Relation.EQUIVALENT, (True, False): Relation.STRONGER,
            (False, True): Relation.WEAKER, (False, False): Relation.INCOMPARABLE}[f, b]


@pytest.mark.parametrize("engine", ["z3", "bitmask"])
def test_compare_all_zoo_pairs_against_definition(zoo, engine):
    names = zoo.names_of("structure")
    for a, b in itertools.combinations(names, 2):
        sa, sb = zoo.structure(a), zoo.structure(b)
        c = compare(sa, sb, engine=engine)
        assert c.relation == _expected_relation(sa, sb), (a, b)
        for w in c.witnesses:  # each witness world really breaks its direction
            ok1, bad1 = w.first.masks(w.world.atoms)
            ok2, bad2 = w.second.masks(w.world.atoms)
            k = w.world.index
            assert ((ok1 >> k) & 1 and not (ok2 >> k) & 1) or ((bad2 >> k) & 1
                                                                 and not (bad1 >> k) & 1)


def test_compare_cpo_ccpo_witness_in_words(zoo):
    c = compare(zoo.structure("cCPO"), zoo.structure("CPO"))
    assert c.relation is Relation.WEAKER
    (w,) = c.witnesses
    assert w.world.short == "TT"
    assert (w.first_counts, w.second_counts) == ("ok", "both")
    assert "cCPO counts it as ok only but CPO counts it as both ok and bad" in w.explain()


def test_monotonicity_stronger_means_larger_loss(zoo):
    """Spec section 4: S1 |= S2 implies loss(S1) >= loss(S2), checked numerically."""
    import math
    import random

    rng = random.Random(0)

    def loss(s, x):
        logp = dict(zip(ATOMS_REF, x, strict=True))
        def wmc(m):
            tot = 0.0
            for k in range(16):
                if (m >> k) & 1:
                    w = 1.0
                    for i, a in enumerate(ATOMS_REF):
                        w *= math.exp(logp[a]) if (k >> i) & 1 else 1 - math.exp(logp[a])
                    tot += w
            return tot
        ok, bad = s.masks(ATOMS_REF)
        t, b = wmc(ok), wmc(bad)
        return -math.log(t / (t + b))

    names = SINGLE + ("DPO",)
    for a, b in itertools.permutations(names, 2):
        sa, sb = zoo.structure(a), zoo.structure(b)
        if compare(sa, sb, engine="bitmask").relation is Relation.STRONGER:
            for _ in range(20):
                x = [rng.uniform(-4, -0.01) for _ in range(4)]
                assert loss(sa, x) >= loss(sb, x) - 1e-12, (a, b, x)


# ---------------------------------------------------------------- lattice


def test_paper_lattice_of_the_twelve_single_model_structures(zoo):
    lat = Lattice.build([zoo.structure(n) for n in SINGLE])
    assert len(lat.edges) == 18
    assert lat.top == ["CEUnl"] and lat.bottom == ["unCPO"]
    # A few edges read off the paper's figure.
    for edge in [("CPO", "cCPO"), ("ORPO", "cCPO"), ("cCPO", "unCPO"), ("sCE", "CE")]:
        assert edge in lat.edges


def test_lattice_edges_are_the_transitive_reduction_by_brute_force(zoo):
    structures = [zoo.structure(n) for n in zoo.names_of("structure")]
    lat = Lattice.build(structures)
    rel = {(a.name, b.name) for a in structures for b in structures
           if a is not b and _definition_entails(a, b) and not _definition_entails(b, a)}
    for a, b in lat.edges:
        ra, rb = lat.representative(a).name, lat.representative(b).name
        assert (ra, rb) in rel
        # no intermediate node
        assert not any((ra, c.name) in rel and (c.name, rb) in rel for c in structures)


def test_equivalent_structures_merge_into_one_node():
    cpo = Structure.from_masks("CPO", ATOMS_SINGLE, 0b1010, 0b1100)
    twin = Structure.from_masks("CPO2", ATOMS_SINGLE, 0b1010, 0b1100)
    ccpo = Structure.from_masks("cCPO", ATOMS_SINGLE, 0b1010, 0b0100)
    lat = Lattice.build([cpo, twin, ccpo])
    assert lat.nodes == ["CPO=CPO2", "cCPO"]
    assert lat.edges == [("CPO=CPO2", "cCPO")]


def test_mixed_single_and_reference_structures_lift_to_four_atoms(zoo):
    lat = Lattice.build([zoo.structure("CPO"), zoo.structure("DPO"), zoo.structure("W")])
    assert set(lat.nodes) == {"CPO", "DPO", "W"}
    full = full_mask(4)
    assert mask(sympy.true, ATOMS_REF) == full


def test_z3_unknown_is_reported_not_guessed(monkeypatch, zoo):
    """When z3 gives up, the verdict is unknown with z3's reason, and compare says unknown."""
    import z3

    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    monkeypatch.setattr(z3.Solver, "reason_unknown", lambda self: "timeout")
    v = solver.entails(SYMBOLS["M(yw)"], SYMBOLS["M(yl)"])
    assert v.is_unknown and v.reason == "timeout"
    c = compare(zoo.structure("CPO"), zoo.structure("cCPO"))
    assert c.relation is Relation.UNKNOWN and c.witnesses == []


@SETTINGS
@given(formulas())
def test_dsl_printer_round_trips_through_the_parser(f):
    """Printing a formula as DSL text and parsing it back gives the same truth table."""
    from logicpo.logic.formulas import from_ast, to_dsl
    from logicpo.syntax.parser import parse_formula

    again = from_ast(parse_formula(to_dsl(f)))
    assert mask(again, ATOMS_REF) == mask(f, ATOMS_REF)


@SETTINGS
@given(st.integers(0, 15), st.integers(0, 15))
def test_formula_of_masks_round_trips(on, care):
    """formula_of gives a formula equal to the mask on the cared-for worlds."""
    from logicpo.logic.truth import formula_of

    f = formula_of(on, ATOMS_SINGLE, care)
    assert mask(f, ATOMS_SINGLE) & care == on & care
