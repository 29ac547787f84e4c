"""Lazy structures (issue 14): truth tables straight from the AST, SymPy only when asked for.

Every fast path is checked against slow references on random inputs: a formula's truth
table computed from its AST is compared with Python's own evaluation of the formula in every
world (float-free, obviously right) and with the SymPy route (``from_ast`` then ``mask``); a
structure built by the program is compared with ``Structure.from_pca`` on the SymPy formulas,
and its lazily computed views with what the eager code computed.
"""

from __future__ import annotations

import itertools

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from logicpo.logic.formulas import ATOMS_REF, ATOMS_SINGLE, from_ast, to_dsl
from logicpo.logic.structure import Structure, flip, readable_core, ref
from logicpo.logic.truth import formula_of, lift, mask
from logicpo.program import load_text, zoo
from logicpo.syntax.parser import parse_formula
from logicpo.syntax.printer import format_formula

# A random formula is a tree: ("atom", name) | ("const", bool) | (op, child, ...).
_atoms = st.sampled_from(ATOMS_REF).map(lambda a: ("atom", a))
_consts = st.booleans().map(lambda b: ("const", b))
formulas = st.recursive(
    st.one_of(_atoms, _atoms, _atoms, _consts),
    lambda kids: st.one_of(
        kids.map(lambda k: ("not", k)),
        st.tuples(st.sampled_from(["and", "or", "xor", "implies", "iff"]), kids, kids),
    ),
    max_leaves=12,
)
single_formulas = st.recursive(
    st.sampled_from(ATOMS_SINGLE).map(lambda a: ("atom", a)),
    lambda kids: st.one_of(kids.map(lambda k: ("not", k)),
                           st.tuples(st.sampled_from(["and", "or", "implies"]), kids, kids)),
    max_leaves=6,
)


def text(f) -> str:
    """DSL text, every operand in parentheses."""
    op = f[0]
    if op == "atom":
        return f[1]
    if op == "const":
        return "true" if f[1] else "false"
    if op == "not":
        return f"~({text(f[1])})"
    sep = {"and": "&", "or": "|", "xor": "xor", "implies": "->", "iff": "<->"}[op]
    return f"({text(f[1])}) {sep} ({text(f[2])})"


def holds(f, world: dict[str, bool]) -> bool:
    """Python's own evaluation of the formula in one world: the independent oracle."""
    op = f[0]
    if op == "atom":
        return world[f[1]]
    if op == "const":
        return f[1]
    if op == "not":
        return not holds(f[1], world)
    a, b = holds(f[1], world), holds(f[2], world)
    return {"and": a and b, "or": a or b, "xor": a != b, "implies": (not a) or b,
            "iff": a == b}[op]


def brute_mask(f, atoms) -> int:
    out = 0
    for k in range(1 << len(atoms)):
        world = {a: bool((k >> i) & 1) for i, a in enumerate(atoms)}
        if holds(f, world):
            out |= 1 << k
    return out


def mentioned(f) -> set[str]:
    if f[0] == "atom":
        return {f[1]}
    if f[0] == "const":
        return set()
    return set().union(*(mentioned(c) for c in f[1:]))


@settings(max_examples=200, deadline=None)
@given(formulas)
def test_ast_truth_table_is_the_world_by_world_evaluation_and_the_sympy_one(f):
    node = parse_formula(text(f))
    assert mask(node, ATOMS_REF) == brute_mask(f, ATOMS_REF)
    assert mask(from_ast(node), ATOMS_REF) == brute_mask(f, ATOMS_REF)


@settings(max_examples=100, deadline=None)
@given(formulas, formulas, formulas)
def test_program_structures_equal_the_sympy_route(core, cond, add):
    """The program builds a structure from truth tables of the AST; the slow route builds
    it from SymPy formulas. Same regions; the atoms are the ones written (SymPy may fold
    some away, e.g. ``Ref(yw) | true`` becomes ``true``, never the other way round)."""
    texts = tuple(text(f) for f in (core, cond, add))
    source = f"structure s {{ core: {texts[0]}  cond: {texts[1]}  add: {texts[2]} }}"
    fast = load_text(source).structure("s")
    slow = Structure.from_pca("s", *(from_ast(parse_formula(t)) for t in texts))
    assert fast.masks(ATOMS_REF) == slow.masks(ATOMS_REF)
    written = mentioned(core) | mentioned(cond) | mentioned(add)
    assert fast.uses_reference == bool(written & {"Ref(yw)", "Ref(yl)"})
    assert set(slow.atoms) <= set(fast.atoms)
    # the lazy views: the user's formulas, text and truth table columns
    for got, want in zip((fast.core, fast.cond, fast.add), (core, cond, add), strict=True):
        assert mask(got, fast.atoms) == brute_mask(want, fast.atoms)
    shown = tuple(format_formula(parse_formula(t), {}) for t in texts)  # the user's spelling
    assert (fast.core_text, fast.cond_text, fast.add_text) == shown
    full = (1 << (1 << len(fast.atoms))) - 1
    assert mask(fast.ok, fast.atoms) == fast.ok_mask
    assert mask(fast.bad, fast.atoms) == fast.bad_mask
    c, p, a = (brute_mask(f, fast.atoms) for f in (core, cond, add))
    assert fast.ok_mask == (c & p) | a and fast.bad_mask == ((full & ~c) & p) | a


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**16 - 1), st.integers(0, 2**16 - 1))
def test_structures_from_regions_derive_a_triple_that_gives_them_back(ok, bad):
    """A structure from its regions costs no SymPy until its triple is shown; the triple
    shown then rebuilds exactly the regions (through SymPy's own formulas)."""
    s = Structure.from_masks("r", ATOMS_REF, ok, bad)
    assert "_formulas" not in s.__dict__  # nothing derived yet
    again = Structure.from_pca("again", s.core, s.cond, s.add)
    assert again.masks(ATOMS_REF) == (ok, bad)
    assert s.core_text == to_dsl(s.core)
    assert mask(s.ok, ATOMS_REF) == ok and mask(s.bad, ATOMS_REF) == bad
    rows = s.truth_table()
    assert sum(r["ok"] for r in rows) == bin(ok).count("1")
    core = mask(s.core, ATOMS_REF)
    assert all(r["core"] == bool((core >> int(r["world"][::-1], 2)) & 1) for r in rows)


@settings(max_examples=100, deadline=None)
@given(single_formulas, single_formulas)
def test_ref_and_flip_on_masks_equal_the_formula_definitions(ok_f, bad_f):
    """ref() conjoins Ref(yl) to ok and Ref(yw) to bad (spec section 5), computed here on
    masks; the reference is the same conjunction evaluated world by world."""
    s = Structure.from_masks("s", ATOMS_SINGLE, brute_mask(ok_f, ATOMS_SINGLE),
                             brute_mask(bad_f, ATOMS_SINGLE))
    r = ref(s)
    want_ok = brute_mask(("and", ok_f, ("atom", "Ref(yl)")), ATOMS_REF)
    want_bad = brute_mask(("and", bad_f, ("atom", "Ref(yw)")), ATOMS_REF)
    assert r.masks() == (want_ok, want_bad) and r.atoms == ATOMS_REF
    assert flip(s).masks() == (s.bad_mask, s.ok_mask)


def test_lift_is_the_world_by_world_extension():
    for m in (0, 1, 0b0110, 0b1011, 0b1111):
        want = 0
        for k in range(16):  # a world over four atoms extends the one over its first two
            if (m >> (k & 0b11)) & 1:
                want |= 1 << k
        assert lift(m, ATOMS_SINGLE, ATOMS_REF) == want


def test_zoo_structures_keep_their_displayed_triples_and_regions():
    """Against the eager definitions: the displayed triple of a derived structure is
    readable_core and formula_of of its regions, and every zoo structure's regions are its
    written core, cond and add evaluated by SymPy."""
    z = zoo()
    for name in z.names_of("structure"):
        s = z.structure(name)
        slow = Structure.from_pca(name, s.core, s.cond, s.add)
        assert slow.masks(ATOMS_REF) == s.masks(ATOMS_REF), name
        if s.pca is None:
            assert s.core_text == to_dsl(readable_core(s.atoms, s.ok_mask, s.bad_mask))
            assert s.cond_text == to_dsl(formula_of(s.ok_mask | s.bad_mask, s.atoms))


def test_named_formulas_resolve_through_truth_tables_with_the_same_errors():
    p = load_text("formula w = M(yw) & Ref(yl)\nformula v = ~w\nstructure s { core: v }")
    assert p.structure("s").atoms == ATOMS_REF
    assert p.formula_mask("v") == (2**16 - 1) & ~brute_mask(
        ("and", ("atom", "M(yw)"), ("atom", "Ref(yl)")), ATOMS_REF)
    assert sympy.simplify_logic(sympy.Equivalent(p.structure("s").core, p.formula("v")))


def test_structures_compare_and_hash_by_their_regions_and_names():
    a = Structure.from_masks("a", ATOMS_SINGLE, 0b1010, 0b0101)
    b = Structure.from_pca("a", *(from_ast(parse_formula(t)) for t in ("M(yw)", "true",
                                                                         "false")))
    assert a.masks() == b.masks()
    assert {a: 1}[Structure.from_masks("a", ATOMS_SINGLE, 0b1010, 0b0101)] == 1
    assert len({s for s, _ in itertools.product([a, a.renamed("a")], range(2))}) == 1


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**16 - 1), st.lists(st.floats(0.01, 0.99), min_size=4, max_size=4))
def test_wmc_is_the_expanded_product_sum_and_the_float64_world_sum(region, weights):
    """closed_form.wmc builds the polynomial from integer Moebius coefficients; the slow
    definition expands the sum of products of literal weights, and float64 enumeration of
    the worlds gives its value."""
    from logicpo.logic.closed_form import WEIGHT, wmc

    slow = sympy.Integer(0)
    for k in range(16):
        if (region >> k) & 1:
            term = sympy.Integer(1)
            for i, a in enumerate(ATOMS_REF):
                term *= WEIGHT[a] if (k >> i) & 1 else 1 - WEIGHT[a]
            slow += term
    fast = wmc(region, ATOMS_REF)
    assert fast == sympy.expand(slow)
    value = 0.0
    for k in range(16):
        if (region >> k) & 1:
            p = 1.0
            for i, w in enumerate(weights):
                p *= w if (k >> i) & 1 else 1.0 - w
            value += p
    at = {WEIGHT[a]: w for a, w in zip(ATOMS_REF, weights, strict=True)}
    assert abs(float(fast.subs(at)) - value) < 1e-12


def test_a_written_ref_atom_makes_a_reference_structure_even_when_it_cancels():
    """docs/dsl.md: the atoms are the ones written (SymPy would fold Ref(yw) | true away)."""
    s = load_text("structure s { ok: M(yw) & (Ref(yw) | true)  bad: M(yl) }").structure("s")
    assert s.atoms == ATOMS_REF and s.uses_reference
    single = Structure.from_masks("t", ATOMS_SINGLE, 0b1010, 0b1100)
    assert s.masks() == single.masks(ATOMS_REF)  # the regions ignore Ref
    t = load_text("formula r = Ref(yl)\nstructure t { core: M(yw) | (r & ~r) }").structure("t")
    assert t.atoms == ATOMS_REF  # through a named formula too


def test_structures_pickle_with_and_without_their_formulas_computed():
    """The lazy formulas travel with a structure (a process pool, a deep copy)."""
    import copy
    import pickle

    z = zoo()
    for name in ("DPO", "CPO", "ORPO"):
        s = z.structure(name)
        again = pickle.loads(pickle.dumps(s))
        assert again == s and again.core_text == s.core_text
        assert mask(again.core, again.atoms) == mask(s.core, s.atoms)
        assert copy.deepcopy(s).masks() == s.masks()
    r = Structure.from_masks("r", ATOMS_SINGLE, 0b1010, 0b0100)
    assert pickle.loads(pickle.dumps(r)).core_text == "M(yl) -> M(yw)"
