"""The logic layer against the spec: regions, cores, reference versions, closed forms."""

from __future__ import annotations

import itertools
import math

import pytest
import sympy
from conftest import SINGLE, SPEC_PCA, SPEC_REGIONS, tf_to_bits

from logicpo.logic.closed_form import closed_form, log1mexp, pc, pr, rc, rr, sigmoid
from logicpo.logic.formulas import ATOMS_SINGLE, from_ast
from logicpo.logic.structure import Degeneracy, Structure, flip, ref
from logicpo.logic.truth import display_order, full_mask, mask, world_bits
from logicpo.syntax.parser import parse_formula


def _f(text):
    return from_ast(parse_formula(text))


@pytest.mark.parametrize("name", SINGLE)
def test_zoo_regions_match_spec_table(zoo, name):
    ok, bad = SPEC_REGIONS[name]
    s = zoo.structure(name)
    assert s.atoms == ATOMS_SINGLE
    assert sorted(s.regions()[0]) == sorted(tf_to_bits(ok))
    assert sorted(s.regions()[1]) == sorted(tf_to_bits(bad))


@pytest.mark.parametrize("name", SINGLE)
def test_pca_column_of_spec_gives_the_same_regions(name):
    """The spec's (P, P_C, P_A) column, parsed afresh, yields the spec's regions."""
    core, cond, add = (_f(t) for t in SPEC_PCA[name])
    s = Structure.from_pca(name, core, cond, add)
    ok, bad = SPEC_REGIONS[name]
    assert sorted(s.regions()[0]) == sorted(tf_to_bits(ok))
    assert sorted(s.regions()[1]) == sorted(tf_to_bits(bad))


@pytest.mark.parametrize("name", SINGLE)
def test_derived_core_is_the_papers_core(name):
    """Given only the regions, the displayed core is the one the paper prints."""
    ok, bad = SPEC_REGIONS[name]
    idx = {"TT": 3, "TF": 1, "FT": 2, "FF": 0}
    s = Structure.from_masks(name, ATOMS_SINGLE, sum(1 << idx[w] for w in ok.split()),
                             sum(1 << idx[w] for w in bad.split()))
    want = _f(SPEC_PCA[name][0])
    assert sympy.simplify_logic(sympy.Equivalent(s.core, want)) == sympy.true, s.core_text


def test_all_256_single_model_pairs_round_trip_through_pca():
    """from_masks -> (core, cond, add) -> from_pca reproduces the regions, for every pair."""
    full = full_mask(2)
    for ok, bad in itertools.product(range(full + 1), repeat=2):
        s = Structure.from_masks("s", ATOMS_SINGLE, ok, bad)
        again = Structure.from_pca("t", s.core, s.cond, s.add)
        assert again.masks(ATOMS_SINGLE) == (ok, bad), (ok, bad, s.core_text)


def test_dpo_is_ref_cpo_with_the_papers_core(zoo):
    dpo = zoo.structure("DPO")
    assert dpo.core_text == "(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))"
    want_ok = _f("M(yw) & Ref(yl)")
    want_bad = _f("M(yl) & Ref(yw)")
    atoms = dpo.atoms
    assert dpo.masks(atoms) == (mask(want_ok, atoms), mask(want_bad, atoms))


@pytest.mark.parametrize("name", SINGLE)
def test_zoo_has_reference_version_of_each(zoo, name):
    refname = "DPO" if name == "CPO" else f"ref{name}"
    r = zoo.structure(refname)
    s = zoo.structure(name)
    atoms = r.atoms
    ok = mask(sympy.And(s.ok, sympy.Symbol("Ref(yl)")), atoms)
    bad = mask(sympy.And(s.bad, sympy.Symbol("Ref(yw)")), atoms)
    assert r.masks(atoms) == (ok, bad)


def test_flip_swaps_regions_and_negates_rho(zoo):
    cpo = zoo.structure("CPO")
    f = flip(cpo)
    assert f.regions() == (cpo.regions()[1], cpo.regions()[0])
    assert sympy.simplify(closed_form(f).rho + closed_form(cpo).rho) == 0


def test_ref_of_reference_structure_is_an_error(zoo):
    from logicpo.errors import DefinitionError

    with pytest.raises(DefinitionError, match="single-model"):
        ref(zoo.structure("DPO"))


# ---------------------------------------------------------------- closed forms


def _nls(z):
    return math.log1p(math.exp(-z)) if z > 0 else -z + math.log1p(math.exp(z))


def _l1m(a):
    return math.log(-math.expm1(a)) if a > -math.log(2) else math.log1p(-math.exp(a))


def _brute_force_loss(s, x):
    """-log(WMC(ok) / (WMC(ok) + WMC(bad))) by enumerating worlds in float64."""
    logp = dict(zip(("M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)"), x, strict=True))
    n = len(s.atoms)

    def wmc(m):
        total = 0.0
        for k in range(1 << n):
            if (m >> k) & 1:
                w = 1.0
                for i, a in enumerate(s.atoms):
                    w *= math.exp(logp[a]) if (k >> i) & 1 else 1 - math.exp(logp[a])
                total += w
        return total

    t, b = wmc(s.ok_mask), wmc(s.bad_mask)
    return -math.log(t / (t + b))


def _evaluate(expr, x):
    f = sympy.lambdify((pc, pr, rc, rr), expr,
                       modules=[{"log1mexp": _l1m, "sigmoid": lambda z: 1 / (1 + math.exp(-z))},
                                "math"])
    return float(f(*x))


V1 = (-1.2, -2.3, -1.5, -1.9)
V2 = (-0.4, -0.9, -0.6, -0.5)
# Spec section 5 test vectors.
SPEC_VALUES = {
    V1: {"DPO": 0.403186, "CPO": 0.287335, "ORPO": 0.229946, "cCPO": 0.209136, "unCPO": 0.072637},
    V2: {"DPO": 0.437488, "CPO": 0.474077, "ORPO": 0.290397, "cCPO": 0.182289, "unCPO": 0.143914},
}


@pytest.mark.parametrize("x", [V1, V2])
@pytest.mark.parametrize("name", ["DPO", "CPO", "ORPO", "cCPO", "unCPO"])
def test_closed_form_matches_spec_test_vectors(zoo, x, name):
    value = _evaluate(closed_form(zoo.structure(name)).loss, x)
    assert value == pytest.approx(SPEC_VALUES[x][name], abs=1e-6)


def test_spec_closed_forms_by_hand(zoo):
    """The spec's listed closed forms, written by hand, equal ours at both vectors."""
    by_hand = {
        "CE": lambda c, r, rc_, rr_: -c,
        "CPO": lambda c, r, rc_, rr_: _nls(c - r),
        "ORPO": lambda c, r, rc_, rr_: _nls((c - _l1m(c)) - (r - _l1m(r))),
        "cCPO": lambda c, r, rc_, rr_: _nls(c - r - _l1m(c)),
        "unCPO": lambda c, r, rc_, rr_: -math.log(1 - math.exp(r) + math.exp(r + c)),
        "cfUnl": lambda c, r, rc_, rr_: _nls(_l1m(r) - r - _l1m(c)),
        "qfUnl": lambda c, r, rc_, rr_: _nls(_l1m(r) - _l1m(c)),
        "fUnl": lambda c, r, rc_, rr_: -_l1m(r),
        "DPO": lambda c, r, rc_, rr_: _nls((c - rc_) - (r - rr_)),
    }
    for x in (V1, V2):
        for name, fn in by_hand.items():
            assert _evaluate(closed_form(zoo.structure(name)).loss, x) == pytest.approx(
                fn(*x), rel=1e-12), name


def test_every_zoo_structure_closed_form_equals_brute_force(zoo):
    for name in zoo.names_of("structure"):
        s = zoo.structure(name)
        for x in (V1, V2, (-0.05, -3.0, -0.2, -0.01)):
            assert _evaluate(closed_form(s).loss, x) == pytest.approx(
                _brute_force_loss(s, x), rel=1e-10), name


def test_closed_form_text_of_dpo_and_cpo(zoo):
    assert closed_form(zoo.structure("DPO")).text == "-log sigmoid((pc - rc) - (pr - rr))"
    assert closed_form(zoo.structure("CPO")).text == "-log sigmoid(pc - pr)"
    assert closed_form(zoo.structure("CE")).text == "-pc"
    assert closed_form(zoo.structure("fUnl")).text == "-log1mexp(pr)"


def test_latex_uses_sigma_and_log1mexp(zoo):
    latex = closed_form(zoo.structure("ORPO")).latex
    assert r"\sigma" in latex and r"\operatorname{log1mexp}" in latex


def test_log1mexp_derivative():
    x = sympy.Symbol("x")
    assert sympy.simplify(sympy.diff(log1mexp(x), x)
                          - sympy.diff(sympy.log(1 - sympy.exp(x)), x)) == 0
    difference = sympy.diff(sigmoid(x), x) - sympy.diff(1 / (1 + sympy.exp(-x)), x)
    assert sympy.simplify(difference.rewrite(sympy.exp)) == 0


# ---------------------------------------------------------------- degeneracy, truth tables


@pytest.mark.parametrize("ok,bad,kind", [
    (0, 0b0001, Degeneracy.INFINITE),
    (0b0001, 0, Degeneracy.ZERO),
    (0b0110, 0b0110, Degeneracy.CONSTANT),
    (0, 0, Degeneracy.UNDEFINED),
])
def test_degenerate_structures_are_detected(ok, bad, kind):
    s = Structure.from_masks("d", ATOMS_SINGLE, ok, bad)
    assert s.degeneracy is kind
    cf = closed_form(s)
    assert cf.degeneracy is kind
    assert cf.rho is None


def test_degenerate_values():
    assert closed_form(Structure.from_masks("d", ATOMS_SINGLE, 0, 1)).loss == sympy.oo
    assert closed_form(Structure.from_masks("d", ATOMS_SINGLE, 1, 0)).loss == 0
    assert closed_form(Structure.from_masks("d", ATOMS_SINGLE, 3, 3)).loss == sympy.log(2)


def test_truth_table_of_cpo_by_hand(zoo):
    rows = zoo.structure("CPO").truth_table()
    assert [r["world"] for r in rows] == ["11", "10", "01", "00"]
    assert [r["counts"] for r in rows] == ["both", "ok", "bad", "neither"]
    assert [r["core"] for r in rows] == [True, True, False, True]
    assert [r["cond"] for r in rows] == [True, True, True, False]


def test_display_order_is_all_true_first():
    assert [world_bits(k, 2) for k in display_order(2)] == ["11", "10", "01", "00"]


def test_identify_names_zoo_structures_up_to_ref_and_flip():
    """DPO is ref(CPO) by the paper's definition; swapping DPO's regions by hand
    (ok <-> bad) gives a structure that must be named flip(DPO) and flip(ref(CPO))."""
    from logicpo.logic.identify import matches
    from logicpo.logic.structure import Structure
    from logicpo.program import zoo

    z = zoo()
    known = [z.structure(n) for n in z.names_of("structure")]
    dpo = z.structure("DPO")
    swapped = Structure.from_masks("mine", dpo.atoms, dpo.bad_mask, dpo.ok_mask)
    exprs = [m.expression for m in matches(swapped, known)]
    assert "flip(DPO)" in exprs and "flip(ref(CPO))" in exprs
    assert all(m.prefers_loser for m in matches(swapped, known))
    direct = [m.expression for m in matches(dpo, known)]
    assert direct[0] == "DPO" and "ref(CPO)" in direct
    assert not any(m.prefers_loser for m in matches(dpo, known))
