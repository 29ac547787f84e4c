"""Structures beyond pairs (issue 13): declared responses and models, atoms Model(response),
regions and entailment over any atom set, compared over the union of the atoms.

Every expected value here comes from the test's own brute-force evaluation of the formulas
written (itertools.product over the worlds), or from z3, never from the masks under test.
"""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

from logicpo.errors import DefinitionError, NameResolutionError, ParseError
from logicpo.logic.atoms import ATOMS_REF, ATOMS_SINGLE, atom_order
from logicpo.program import load_text, zoo
from logicpo.reasoning.lattice import Lattice
from logicpo.reasoning.order import compare

DECLARED = "responses yw, yl, yg, ys, yl2\nmodels M, Ref, Src\n"
POOL = ["M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)", "M(yg)", "Ref(yg)", "M(ys)", "Ref(ys)",
        "M(yl2)", "Src(yw)"]


# ---------------------------------------------------------------- an independent evaluator

def random_formula(rng: random.Random, atoms: list[str], depth: int = 3):
    """(DSL text, evaluator) of a random formula over ``atoms``."""
    if depth == 0 or rng.random() < 0.25:
        if rng.random() < 0.05:
            value = rng.random() < 0.5
            return ("true" if value else "false"), (lambda env, v=value: v)
        a = rng.choice(atoms)
        return a, (lambda env, a=a: env[a])
    op = rng.choice(["not", "and", "or", "xor", "implies", "iff"])
    if op == "not":
        text, f = random_formula(rng, atoms, depth - 1)
        return f"~({text})", (lambda env, f=f: not f(env))
    (t1, f1), (t2, f2) = (random_formula(rng, atoms, depth - 1) for _ in range(2))
    sym, fn = {"and": ("&", lambda x, y: x and y), "or": ("|", lambda x, y: x or y),
               "xor": ("xor", lambda x, y: x != y),
               "implies": ("->", lambda x, y: (not x) or y),
               "iff": ("<->", lambda x, y: x == y)}[op]
    return f"({t1}) {sym} ({t2})", (lambda env, f1=f1, f2=f2, fn=fn: fn(f1(env), f2(env)))


def worlds(atoms):
    for values in itertools.product((False, True), repeat=len(atoms)):
        yield dict(zip(atoms, values, strict=True))


def bit(mask: int, atoms: tuple[str, ...], env: dict) -> bool:
    k = sum(1 << i for i, a in enumerate(atoms) if env[a])
    return bool((mask >> k) & 1)


def random_structures(rng: random.Random, count: int, low: int = 5, high: int = 8):
    """``count`` random structures given by regions, each over a random atom subset."""
    out = []
    for i in range(count):
        atoms = rng.sample(POOL, rng.randint(low, high))
        (ok_t, ok_f), (bad_t, bad_f) = (random_formula(rng, atoms) for _ in range(2))
        written = [a for a in atoms if a in ok_t or a in bad_t]
        out.append((f"s{i}", ok_t, bad_t, ok_f, bad_f, written))
    return out


# ---------------------------------------------------------------- the DSL

def test_an_undeclared_file_keeps_the_classic_atoms():
    p = load_text("structure a { core: M(yw) }\nstructure b { ok: M(yw)  bad: Ref(yl) }")
    assert p.structure("a").atoms == ATOMS_SINGLE
    assert p.structure("b").atoms == ATOMS_REF


def test_declared_atoms_are_structures_over_the_atoms_they_mention():
    p = load_text(DECLARED + "structure g { ok: M(yg) & M(yw)  bad: Src(yw) }\n"
                             "structure h { core: Ref(ys) -> M(ys) }")
    assert p.structure("g").atoms == ("M(yw)", "M(yl)", "M(yg)", "Src(yw)")
    assert p.structure("h").atoms == ("M(ys)", "Ref(ys)")
    # ok = M(yg) & M(yw) by hand: world (M(yw), M(yl), M(yg), Src(yw))
    ok, bad = p.structure("g").regions()
    assert ok == ["1111", "1110", "1011", "1010"]
    assert bad == ["1111", "1101", "1011", "1001", "0111", "0101", "0011", "0001"]


def test_declaration_words_still_name_definitions():
    p = load_text("structure models { core: M(yw) }\nstructure responses { core: M(yl) }\n"
                  "objective o = logistic(models) + responses")
    assert [t.structure.name for t in p.objective("o").terms] == ["models", "responses"]


@pytest.mark.parametrize("text, message, where, hint", [
    ("responses yw, yl, ygold\nstructure g { core: M(yglod) }",
     "unknown atom 'M(yglod)': the response must be one of yw, yl, ygold", (2, 21), "ygold"),
    ("models M, Ref, Src\nstructure g { core: Srx(yw) }",
     "unknown atom or connective 'Srx(...)'", (2, 21), "Src"),
    ("responses yw, yg\nstructure g { core: M(yl) }",
     "unknown atom 'M(yl)': the response must be one of yw, yg", (2, 21), None),
    ("structure g { core: M(yg) }",
     "unknown atom 'M(yg)': the response must be yw or yl", (1, 21), None),
    ("responses yw, yl\nmodels M\nstructure g { core: Ref(yw) }",
     "unknown atom 'Ref(yw)': 'Ref' is not among the models this file declares (M)", (3, 21),
     "models M, Ref"),
])
def test_unknown_atoms_are_located_with_did_you_mean(text, message, where, hint):
    with pytest.raises(NameResolutionError) as info:
        load_text(text, "f.lpo")
    assert message in info.value.message
    assert (info.value.span.line, info.value.span.col) == where
    if hint is not None:
        assert hint in info.value.hint


@pytest.mark.parametrize("text, message, where", [
    ("responses yw, yl\nresponses yg", "'responses' is declared twice", (2, 1)),
    ("responses yw, yl, yw", "'yw' is declared twice", (1, 19)),
    ("models M, x", "'x' cannot name one of the models", (1, 11)),
])
def test_bad_declarations_are_located(text, message, where):
    with pytest.raises(ParseError) as info:
        load_text(text, "f.lpo")
    assert message in info.value.message
    assert (info.value.span.line, info.value.span.col) == where


def test_a_structure_about_one_response_applies_to_another():
    p = load_text("responses yw, yl, yg, ys\nstructure ws = W(ys)\nstructure cg = CE(yg)\n"
                  "structure wl = W(yl)\nobjective t = sft(yg)\nobjective n = logistic(CE(yg))")
    ws = p.structure("ws")
    assert ws.atoms == ("M(ys)", "Ref(ys)")
    for env in worlds(ws.atoms):  # W: ok = M(y), bad = Ref(y)
        assert bit(ws.ok_mask, ws.atoms, env) == env["M(ys)"]
        assert bit(ws.bad_mask, ws.atoms, env) == env["Ref(ys)"]
    cg = p.structure("cg")
    assert cg.atoms == ("M(yg)",) and cg.regions() == (["1"], ["0"])
    # W applied to yl is the zoo's L, atoms and all
    assert p.structure("wl").masks() == zoo().structure("L").masks()
    assert p.structure("wl").atoms == zoo().structure("L").atoms
    (term,) = p.objective("t").terms  # sft = logistic(CE, beta=1), on yg
    assert (term.family, term.structure.name, dict(term.params)) == ("logistic", "CE(yg)",
                                                                     {"beta": 1.0})
    assert p.objective("n").terms[0].structure.masks() == cg.masks()


def test_an_undeclared_file_may_apply_to_yw_and_yl():
    assert load_text("structure a = W(yl)").structure("a").masks() == \
        zoo().structure("L").masks()


def test_a_structure_about_two_responses_cannot_be_moved():
    with pytest.raises(DefinitionError) as info:
        load_text("responses yw, yl, yg\nstructure bad = CPO(yg)", "f.lpo").structure("bad")
    assert "judges 2 responses (yw, yl)" in info.value.message
    assert (info.value.span.line, info.value.span.col) == (2, 17)


def test_an_objective_about_two_responses_cannot_be_moved():
    with pytest.raises(DefinitionError) as info:
        load_text("responses yw, yl, yg\nobjective bad = simpo(yg)", "f.lpo").objective("bad")
    assert "simpo(yg)" in info.value.message and "judges 2 responses" in info.value.message


def test_a_response_applied_objective_takes_no_parameters():
    with pytest.raises(DefinitionError) as info:
        load_text("responses yw, yl, yg\nobjective bad = sft(yg, beta=2)", "f.lpo").objective("bad")
    assert "takes no parameters" in info.value.message


def test_ref_refuses_a_structure_beyond_pairs():
    with pytest.raises(DefinitionError) as info:
        load_text("responses yw, yl, yl2\nstructure c3 { ok: M(yw)  bad: M(yl) | M(yl2) }\n"
                  "structure r = ref(c3)", "f.lpo").structure("r")
    assert "ref() is defined for structures over M(yw), M(yl)" in info.value.message


# ---------------------------------------------------------------- regions, brute force

@pytest.mark.parametrize("seed", range(6))
def test_regions_of_random_structures_over_five_to_eight_atoms(seed):
    rng = random.Random(seed)
    specs = random_structures(rng, 12)
    text = DECLARED + "\n".join(f"structure {n} {{ ok: {o}  bad: {b} }}"
                                for n, o, b, *_ in specs)
    p = load_text(text)
    for name, _, _, ok_f, bad_f, atoms in specs:
        s = p.structure(name)
        assert set(atoms) <= set(s.atoms)
        assert s.atoms == atom_order(atoms)
        for env in worlds(s.atoms):
            assert bit(s.ok_mask, s.atoms, env) == ok_f(env), (name, env)
            assert bit(s.bad_mask, s.atoms, env) == bad_f(env), (name, env)


@pytest.mark.parametrize("seed", range(4))
def test_pca_structures_over_many_atoms(seed):
    rng = random.Random(100 + seed)
    atoms = rng.sample(POOL, 6)
    (pt, pf), (ct, cf), (at, af) = (random_formula(rng, atoms) for _ in range(3))
    s = load_text(DECLARED + f"structure s {{ core: {pt}  cond: {ct}  add: {at} }}"
                  ).structure("s")
    for env in worlds(s.atoms):  # ok = (P & P_C) | P_A, bad = (~P & P_C) | P_A
        assert bit(s.ok_mask, s.atoms, env) == ((pf(env) and cf(env)) or af(env))
        assert bit(s.bad_mask, s.atoms, env) == (((not pf(env)) and cf(env)) or af(env))


def brute_entails(a, b) -> bool:
    """a |= b over the union of the atoms, from the formulas' own evaluators."""
    (_, _, _, ok1, bad1, atoms1), (_, _, _, ok2, bad2, atoms2) = a, b
    for env in worlds(sorted(set(atoms1) | set(atoms2))):
        if ok1(env) and not ok2(env):
            return False
        if bad2(env) and not bad1(env):
            return False
    return True


@pytest.mark.parametrize("seed", range(4))
def test_entailment_over_the_union_of_atoms_against_brute_force_and_z3(seed):
    rng = random.Random(200 + seed)
    # small overlapping atom sets, so that some pairs entail each other
    specs = []
    for i in range(10):
        atoms = rng.sample(POOL[:7], rng.randint(3, 5))
        (ot, of), (bt, bf) = (random_formula(rng, atoms, 2) for _ in range(2))
        specs.append((f"s{i}", ot, bt, of, bf, atoms))
    # and pairs that entail by construction: ok narrowed, bad widened with a new atom
    n0, ot, bt, of, bf, atoms = specs[0]
    specs.append(("t", f"({ot}) & M(yl2)", f"({bt}) | M(yl2)",
                  lambda e, of=of: of(e) and e["M(yl2)"],
                  lambda e, bf=bf: bf(e) or e["M(yl2)"], [*atoms, "M(yl2)"]))
    p = load_text(DECLARED + "\n".join(f"structure {n} {{ ok: {o}  bad: {b} }}"
                                       for n, o, b, *_ in specs))
    found = 0
    for a, b in itertools.product(specs, repeat=2):
        sa, sb = p.structure(a[0]), p.structure(b[0])
        expected = brute_entails(a, b)
        found += expected
        for engine in ("bitmask", "z3"):
            c = compare(sa, sb, engine=engine)
            assert (c.forward.status.value == "proved") == expected, (a[0], b[0], engine)
            assert (c.backward.status.value == "proved") == brute_entails(b, a)
    assert found > len(specs)  # more than the reflexive pairs


def test_cpo3_entails_cpo_and_says_over_which_atoms():
    p = load_text("responses yw, yl, yl2\n"
                  "structure CPO3 { ok: M(yw)  bad: M(yl) | M(yl2) }")
    c = compare(p.structure("CPO3"), zoo().structure("CPO"), engine="z3")
    assert c.relation.value == "stronger"
    assert c.atoms == ("M(yw)", "M(yl)", "M(yl2)")
    note = c.atoms_note()
    assert "union of their atoms (M(yw), M(yl), M(yl2))" in note
    assert "CPO does not mention M(yl2)" in note
    assert c.to_json()["atoms_note"] == note
    # over the classic atoms nothing is added to what compare says
    assert "atoms_note" not in compare(zoo().structure("CPO"), zoo().structure("DPO")).to_json()


@pytest.mark.parametrize("seed", range(3))
def test_lattice_over_mixed_atom_sets_is_the_brute_force_hasse_diagram(seed):
    rng = random.Random(300 + seed)
    specs = []
    for i in range(9):
        atoms = rng.sample(POOL[:6], rng.randint(2, 4))
        (ot, of), (bt, bf) = (random_formula(rng, atoms, 2) for _ in range(2))
        specs.append((f"s{i}", ot, bt, of, bf, atoms))
    p = load_text(DECLARED + "\n".join(f"structure {n} {{ ok: {o}  bad: {b} }}"
                                       for n, o, b, *_ in specs))
    lat = Lattice.build([p.structure(s[0]) for s in specs])
    # brute force: classes of mutual entailment, then covers of the strict order
    classes: list[list] = []
    for s in specs:
        for c in classes:
            if brute_entails(s, c[0]) and brute_entails(c[0], s):
                c.append(s)
                break
        else:
            classes.append([s])
    strict = {(i, j) for i, a in enumerate(classes) for j, b in enumerate(classes)
              if i != j and brute_entails(a[0], b[0])}
    covers = {(i, j) for i, j in strict
              if not any((i, k) in strict and (k, j) in strict for k in range(len(classes)))}
    label = ["=".join(s[0] for s in c) for c in classes]
    assert sorted(lat.nodes) == sorted(label)
    assert sorted(lat.edges) == sorted((label[i], label[j]) for i, j in covers)


# ---------------------------------------------------------------- what check reports

def test_policy_slopes_beyond_four_atoms_match_the_classic_grid():
    """An atom a structure does not mention changes nothing: the grid signs over five or
    more atoms (the numpy path) are those of the same regions over two (the plain one)."""
    from logicpo.logic.diagnostics import policy_slopes
    from logicpo.logic.truth import lift

    wide = ("M(yw)", "M(yl)", "M(yg)", "Ref(yg)", "M(yl2)")
    for name in ("CPO", "ORPO", "cCPO", "unCPO", "fUnl", "CE", "l20", "qfUnl"):
        s = zoo().structure(name)
        narrow = policy_slopes(s.atoms, s.ok_mask, s.bad_mask)
        lifted = policy_slopes(wide, lift(s.ok_mask, s.atoms, wide),
                               lift(s.bad_mask, s.atoms, wide))
        assert {a: lifted[a] for a in s.atoms} == narrow, name
        assert lifted["M(yg)"] == lifted["M(yl2)"] == frozenset({0})


def _slope_signs_by_hand(atoms, ok, bad):
    """The grid of policy_slopes written out world by world and point by point (the
    definition: the sign of T_w B - T B_w for each policy atom; the atom at 4 and 0, the
    others at 1, 2 and 3, all out of 4)."""
    n = len(atoms)

    def wmc(region, w):
        return sum(math.prod(w[j] if (k >> j) & 1 else 4 - w[j] for j in range(n))
                   for k in range(1 << n) if (region >> k) & 1)

    out = {}
    for i, a in enumerate(atoms):
        if not a.startswith("M("):
            continue
        signs = set()
        for point in itertools.product((1, 2, 3), repeat=n - 1):
            w1, w0 = (*point[:i], 4, *point[i:]), (*point[:i], 0, *point[i:])
            t1, t0, b1, b0 = wmc(ok, w1), wmc(ok, w0), wmc(bad, w1), wmc(bad, w0)
            v = (t1 - t0) * b0 - t0 * (b1 - b0)
            signs.add((v > 0) - (v < 0))
        out[a] = frozenset(signs)
    return out


def test_policy_slopes_beyond_four_atoms_are_the_grid_by_hand():
    """Random regions over five and six atoms, the numpy path against the definition."""
    import random

    from logicpo.logic.diagnostics import _GRID, policy_slopes

    assert tuple(_GRID) == (1, 2, 3)  # the grid the hand version writes out
    rng = random.Random(8)
    for atoms in (("M(yw)", "M(yl)", "M(yg)", "Ref(yg)", "M(yl2)"),
                  ("M(yw)", "M(yl)", "M(y3)", "M(y4)", "M(y5)", "M(y6)")):
        n = len(atoms)
        for _ in range(6):
            ok, bad = rng.getrandbits(1 << n), rng.getrandbits(1 << n)
            if rng.random() < 0.5:
                bad = ok ^ (1 << rng.randrange(1 << n))  # nearly equal: zeros appear
            assert policy_slopes(atoms, ok, bad) == _slope_signs_by_hand(atoms, ok, bad)


def test_check_beyond_pairs_finds_losses_that_cannot_train():
    p = load_text("responses yw, yl, yg\nstructure r { ok: Ref(yg)  bad: ~Ref(yg) }\n"
                  "structure g { ok: M(yg)  bad: ~M(yg) }")
    (d,) = p.diagnose("r")
    assert d.severity == "error" and "no M(...) atom moves its log-ratio" in d.message
    assert p.diagnose("g") == []


# ---------------------------------------------------------------- the zoo's losses beyond pairs

def _logsigmoid(x: float) -> float:
    import math

    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def test_zoo_tpo_is_its_published_formula():
    """TPO: -logsigmoid(beta*(pc - pr)) - alpha*pg/ng, with beta = 0.1, alpha = 1."""
    import torch

    import logicpo

    loss = logicpo.loss("tpo")
    assert loss.atoms == ("M(yw)", "M(yl)", "M(yg)")
    pc, pr, pg, ng = -12.0, -15.5, -20.0, 8.0
    t = {k: torch.tensor([v], dtype=torch.float64) for k, v in
         {"M(yw)": pc, "M(yl)": pr, "M(yg)": pg}.items()}
    got = loss(logps=t, lengths={"yg": torch.tensor([ng], dtype=torch.float64)}).losses.item()
    assert got == pytest.approx(-_logsigmoid(0.1 * (pc - pr)) - pg / ng, rel=1e-12)


def test_zoo_selm_is_its_published_formula():
    """SELM: -logsigmoid(beta*((pc - rc) - (pr - rr))) + alpha*beta*(ps - rs),
    beta = 0.1, alpha = 0.001."""
    import torch

    import logicpo

    loss = logicpo.loss("selm")
    values = {"M(yw)": -10.0, "M(yl)": -14.0, "Ref(yw)": -11.0, "Ref(yl)": -12.5,
              "M(ys)": -9.0, "Ref(ys)": -13.0}
    assert set(loss.atoms) == set(values)
    pc, pr, rc, rr, ps, rs = values.values()
    got = loss(logps={k: torch.tensor([v], dtype=torch.float64) for k, v in values.items()}
               ).losses.item()
    want = -_logsigmoid(0.1 * ((pc - rc) - (pr - rr))) + 0.001 * 0.1 * (ps - rs)
    assert got == pytest.approx(want, rel=1e-12)


def test_zoo_cpo3_is_its_hand_derived_rho():
    """rho = pc - log(1 - (1 - e^pr)(1 - e^p3)), by hand from ok = M(yw), bad = M(yl) | M(yl2)."""
    import math

    import torch

    import logicpo

    pc, pr, p3 = -0.7, -1.1, -0.4
    rho = pc - math.log(1 - (1 - math.exp(pr)) * (1 - math.exp(p3)))
    got = logicpo.loss("cpo3")(logps={a: torch.tensor([v], dtype=torch.float64) for a, v in
                                      (("M(yw)", pc), ("M(yl)", pr), ("M(yl2)", p3))}).losses
    assert got.item() == pytest.approx(-_logsigmoid(0.1 * rho), rel=1e-12)


def test_the_zoo_lists_stay_classic_unless_asked():
    z = zoo()
    assert "CPO3" not in z.names_of("structure")
    assert "tpo" not in z.names_of("objective", zoo_only=True)
    assert {"CPO3"} <= set(z.names_of("structure", beyond_pairs=True))
    assert {"tpo", "selm", "cpo3"} <= set(z.names_of("objective", zoo_only=True,
                                                     beyond_pairs=True))


def test_cli_lattice_beyond_pairs_says_over_which_atoms(run):
    import json

    plain = json.loads(run("lattice", "--zoo", "--single-model", "--json").output)
    assert "CPO3" not in plain["nodes"] and "atoms_note" not in plain
    out = json.loads(run("lattice", "--zoo", "--single-model", "--beyond-pairs",
                         "--json").output)
    assert "CPO3" in out["nodes"] and ["CPO3", "CPO"] in out["edges"]
    assert out["atoms"] == ["M(yw)", "M(yl)", "M(yl2)"]
    assert "union of their atoms" in out["atoms_note"]
    text = run("lattice", "CPO3", "CPO", "DPO").output
    assert "compared over the union of their atoms" in text


def test_cli_compare_and_show_beyond_pairs(run):
    import json

    out = json.loads(run("compare", "CPO3", "CPO", "--json").output)
    assert out["relation"] == "stronger" and "CPO does not mention M(yl2)" in out["atoms_note"]
    shown = json.loads(run("show", "CPO3", "--json").output)
    assert shown["atoms"] == ["M(yw)", "M(yl)", "M(yl2)"]
    assert shown["ok"] == ["111", "110", "101", "100"]
    assert "M_yl2" in shown["closed_form"]
    text = run("show", "CPO3").output
    assert "neither yl nor yl2" in text  # the reading, in words, for three responses


def test_trl_route_refuses_a_loss_beyond_pairs():
    from logicpo.integrations.trl import IntegrationError, loss_module

    with pytest.raises(IntegrationError) as info:
        loss_module("tpo")
    assert "reads M(yg)" in str(info.value) and "--trainer builtin" in str(info.value)
    assert loss_module("sigmoid").atoms == ATOMS_REF


def test_an_inline_objective_applies_terms_to_any_response():
    """An inline objective (--loss "...") has no responses line: any y-name is a response,
    so the DSL line decompile prints for TPO trains as it is."""
    p = zoo()
    o = p.inline_objective("logistic(CPO) + 0.5*logistic(CE(yg), beta=1, normalize=length)")
    assert [t.structure.name for t in o.terms] == ["CPO", "CE(yg)"]
    assert o.terms[1].structure.atoms == ("M(yg)",)
    assert [t.structure.atoms for t in p.inline_objective("sft(yl2)").terms] == [("M(yl2)",)]


def test_identify_skips_ref_of_structures_beyond_pairs():
    from logicpo.logic.identify import matches

    z = zoo()
    known = [z.structure(n) for n in z.names_of("structure", beyond_pairs=True)]
    assert [m.expression for m in matches(z.structure("DPO"), known)] == ["DPO", "ref(CPO)"]


def test_cli_eval_takes_any_atom_by_name(run):
    """TPO at one example, by hand: softplus(-0.1*(pc - pr)) - pg/ng, d/d pg = -1/ng."""
    import json
    import math

    out = json.loads(run("eval", "tpo", "--pc", -12, "--pr", -15.5, "--logp", "M(yg)=-20",
                         "--length", "yg=8", "--json").output)
    want = math.log1p(math.exp(-0.35)) + 20 / 8
    assert out["loss"] == pytest.approx(want, rel=1e-12)
    assert out["brute_force"] == pytest.approx(want, rel=1e-12)
    assert out["gradient"]["M(yg)"] == pytest.approx(-1 / 8, rel=1e-12)
    missing = run("eval", "tpo", "--pc", -12, "--pr", -15.5)
    assert missing.exit_code == 2 and "--logp 'M(yg)=VALUE'" in missing.output
    unknown = run("eval", "sigmoid", "--pc", -1, "--pr", -2, "--rc", -1, "--rr", -1,
                  "--logp", "M(yg)=-3")
    assert unknown.exit_code == 2 and "does not read M(yg)" in unknown.output


def test_show_of_a_ten_atom_structure_prints_a_bounded_truth_table(run, tmp_path):
    """1,024 worlds: show prints the counted ones first, at most 64 rows, and says so;
    --json keeps every world. (It took minutes before: SymPy minimised the 10-atom regions
    and the grid of policy slopes weighted every world at every point.)"""
    program = tmp_path / "ten.lpo"
    program.write_text(
        "responses yw, yl, y3, y4, y5, y6, y7, y8, y9, y10\n"
        "structure Ten { ok: M(yw) & ~(M(yl) | M(y3) | M(y4) | M(y5) | M(y6) | M(y7) | M(y8)"
        " | M(y9) | M(y10))  bad: M(yl) & (M(y3) xor M(y4)) & ~M(yw) }\n", encoding="utf-8")
    out = run("show", f"{program}:Ten").output
    assert "64 of 1,024 worlds: the first counted ones (129 counted)" in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 64 and all("✓" in row or "✗" in row for row in rows)
    # the world by hand: ok is yw alone (1 world), bad is yl, not yw, y3 xor y4 (2 * 64)
    data = json.loads(run("show", f"{program}:Ten", "--json").output)
    table = data["truth_table"]
    assert len(table) == 1024
    assert sum(r["counts"] == "ok" for r in table) == 1
    assert sum(r["counts"] == "bad" for r in table) == 128


def test_show_of_a_classic_structure_prints_every_world(run):
    out = run("show", "CPO").output
    assert "--json and --html give the whole table" not in out
    rows = [line for line in out.splitlines() if line.startswith("│") and line.count("│") == 7]
    assert [row.split("│")[-2].strip() for row in rows] == ["✓ ✗", "✓", "✗", "·"]
