"""Decompiling losses over more atoms than the classic four (issue 13): TPO, SELM, CPO3,
the naming convention of log-probs and token counts, ``--atoms``, and random structures over
five and six atoms.

Expected regions are derived by hand in each docstring, or come from the test's own
construction; expected values from the published formulas evaluated in float64 and from
world enumeration written here (never from the decompiler's own evaluator).
"""

from __future__ import annotations

import json
import math
import random

import pytest
import sympy

from logicpo.decompiler import decompile
from logicpo.errors import LogicpoError, NotExpressibleError, UsageError
from logicpo.syntax.loss_expr import parse_atoms, parse_loss_expression


def ls(x: float) -> float:
    """log sigmoid(x), stable."""
    return -(max(-x, 0.0) + math.log1p(math.exp(-abs(x))))


def l1m(a: float) -> float:
    return math.log(-math.expm1(a)) if a > -math.log(2) else math.log1p(-math.exp(a))


def var(atom: str) -> str:
    """The naming convention as documented (docs/decompile.md), written out here."""
    classic = {"M(yw)": "pc", "M(yl)": "pr", "Ref(yw)": "rc", "Ref(yl)": "rr"}
    if atom in classic:
        return classic[atom]
    model, response = atom[:-1].split("(")
    return f"{model}_{response}"


def count_var(response: str) -> str:
    return {"yw": "nc", "yl": "nr"}.get(response, f"n_{response}")


def brute_rho(atoms, ok_bits, bad_bits, logp) -> float:
    """log WMC(ok) - log WMC(bad) by enumerating worlds; regions as bitstrings (character i
    is atom i)."""
    def wmc(bits_list):
        return sum(math.exp(sum(logp[a] if b == "1" else l1m(logp[a])
                                for a, b in zip(atoms, bits, strict=True)))
                   for bits in bits_list)
    return math.log(wmc(ok_bits)) - math.log(wmc(bad_bits))


FAMILY = {"logistic": lambda s: -ls(s), "linear": lambda s: -s}


def objective_value(r, env: dict[str, float], params: dict[str, float]) -> float:
    """The decompiled objective at ``env``, from its terms' regions (world enumeration here)
    and the spec's family formulas, with symbolic parameters taken from ``params``."""
    total = 0.0
    for t in r.terms:
        ok, bad = t.structure.regions()
        logp = {}
        for a in t.structure.atoms:
            x = env[var(a)]
            if t.normalize:
                x /= env[count_var(a[a.index("(") + 1:-1])]
            logp[a] = x
        rho = brute_rho(t.structure.atoms, ok, bad, logp)

        def num(v):
            return params[v] if isinstance(v, str) else v

        s = num(t.params["beta"]) * rho - num(t.params["gamma"])
        total += num(t.weight) * FAMILY[t.family](s)
    return total


def point(rng: random.Random, names) -> dict[str, float]:
    env = {n: rng.uniform(-2.5, -0.1) for n in names}
    env.update({n: rng.uniform(2.0, 20.0) for n in ("nc", "nr", "n_yg", "n_ys")})
    for n in ("n_yg", "n_ys"):  # log-probs of a normalised response are counts times per-token
        response = n[2:]
        for lp in list(env):
            if lp.endswith("_" + response):
                env[lp] *= env[n]
    return env


# ---------------------------------------------------------------- TPO


TPO = "-logsigmoid(beta*(pc - pr)) - alpha*pg/ng"


def test_tpo_is_cpo_plus_ce_on_the_gold_response():
    """TPO (Saeidi et al. 2024): -log sigmoid(beta*(pc - pr)) - alpha*pg/|yg|.

    The first term is logistic(CPO): ok = M(yw) = {TT, TF}, bad = M(yl) = {TT, FT} over
    (M(yw), M(yl)). The second is alpha*(-pg/ng) = alpha*(-log w) on per-token log-probs:
    the semantic loss of M(yg), i.e. CE on yg, ok = {T}, bad = {F} over the one atom M(yg),
    normalize=length, beta 1, weight alpha.
    """
    r = decompile(TPO)
    assert [t.family for t in r.terms] == ["logistic", "logistic"]
    cpo, ce = r.terms
    assert cpo.structure.name == "CPO" and cpo.structure.atoms == ("M(yw)", "M(yl)")
    assert cpo.structure.regions() == (["11", "10"], ["11", "01"])
    assert cpo.params == {"beta": "beta", "gamma": 0.0} and cpo.weight == 1.0
    assert ce.structure.atoms == ("M(yg)",)
    assert ce.structure.regions() == (["1"], ["0"])
    assert ce.structure.name == "CE(yg)"
    assert ce.normalize and ce.weight == "alpha" and ce.params["beta"] == 1.0
    assert r.round_trip_error < 1e-9


def test_tpo_values_match_the_published_formula():
    """At random points, the decompiled objective (regions enumerated here) equals TPO's
    formula evaluated directly in float64."""
    r = decompile(TPO, values={"alpha": 0.3})
    rng = random.Random(1)
    for _ in range(5):
        env = point(rng, ("pc", "pr", "M_yg"))
        beta = rng.uniform(0.05, 2.0)
        want = -ls(beta * (env["pc"] - env["pr"])) - 0.3 * env["M_yg"] / env["n_yg"]
        assert objective_value(r, env, {"beta": beta}) == pytest.approx(want, rel=1e-12)


def test_tpo_dsl_text_is_the_zoo_spelling():
    """At alpha = 1 the DSL text is the zoo's TPO (logicpo/beyond.lpo) word for word:
    logistic(CPO) + logistic(CE(yg), beta=1, normalize=length), after 'responses yw, yl, yg'.
    """
    r = decompile(TPO, values={"alpha": 1})
    assert r.dsl == "logistic(CPO) + logistic(CE(yg), beta=1, normalize=length)"
    assert r.definitions == ("responses yw, yl, yg",)
    assert r.source == ("responses yw, yl, yg\nobjective decompiled_loss = logistic(CPO) + "
                        "logistic(CE(yg), beta=1, normalize=length)\n")


# ---------------------------------------------------------------- SELM


SELM = "-logsigmoid(beta*((pc - rc) - (pr - rr))) + alpha*beta*(ps - rs)"


def test_selm_is_dpo_plus_a_linear_term_on_the_sampled_response():
    """SELM (Zhang et al. 2024): -log sigmoid(beta*((pc - rc) - (pr - rr))) + alpha*beta*(ps - rs).

    The second term is linear (f = -s) with s = beta*rho: -s = beta*(ps - rs) gives
    rho = rs - ps, i.e. ok = Ref(ys), bad = M(ys) over (M(ys), Ref(ys)): worlds (M, Ref)
    ok = {11, 01}, bad = {11, 10}. It is flip(W(ys)), W(ys) being ok: M(ys) bad: Ref(ys).
    """
    r = decompile(SELM)
    dpo, lin = r.terms
    assert dpo.family == "logistic" and dpo.structure.name == "DPO"
    assert lin.family == "linear"
    assert lin.structure.atoms == ("M(ys)", "Ref(ys)")
    assert lin.structure.regions() == (["11", "01"], ["11", "10"])
    assert lin.structure.name == "flip(W(ys))"
    assert lin.params == {"beta": "beta", "gamma": 0.0} and lin.weight == "alpha"
    assert [m.expression for m in lin.matches] == ["flip(W(ys))"]
    assert r.round_trip_error < 1e-9


def test_selm_values_and_dsl_text():
    r = decompile(SELM, values={"alpha": 0.5})
    rng = random.Random(2)
    for _ in range(5):
        env = point(rng, ("pc", "pr", "rc", "rr", "M_ys", "Ref_ys"))
        beta = rng.uniform(0.05, 2.0)
        want = (-ls(beta * ((env["pc"] - env["rc"]) - (env["pr"] - env["rr"])))
                + 0.5 * beta * (env["M_ys"] - env["Ref_ys"]))
        assert objective_value(r, env, {"beta": beta}) == pytest.approx(want, rel=1e-12)
    assert r.dsl == "logistic(DPO) + 0.5*linear(flip(W(ys)))"  # as the zoo's SELM
    assert r.definitions == ("responses yw, yl, ys",)


def test_existing_readings_stay_and_a_lone_linear_loss_is_refused():
    """-pc stays logistic(CE) (never linear); a loss that is only beta*rho is refused as
    before (unbounded below), with a hint that next to other terms it reads as linear."""
    r = decompile("-pc")
    assert (r.family, r.structure.name) == ("logistic", "CE")
    with pytest.raises(NotExpressibleError) as info:
        decompile("beta*(ps - rs)")
    assert "linear term" in info.value.hint


# ---------------------------------------------------------------- CPO3


def test_cpo3_listwise_regions():
    """CPO3 (its regions from the formula, not from the zoo's name): rho = pc - log(1 - (1 - e^pr)(1 - e^p_yl2)), the winner valid whenever any
    loser is. Over (M(yw), M(yl), M(yl2)): ok = M(yw) = the 4 worlds 1xx; bad =
    M(yl) | M(yl2) = the 6 worlds x1x or xx1."""
    r = decompile("-logsigmoid(pc - log1mexp(log1mexp(pr) + log1mexp(M_yl2)))")
    s = r.structure
    assert s.atoms == ("M(yw)", "M(yl)", "M(yl2)")
    bits = [f"{a}{b}{c}" for a in "10" for b in "10" for c in "10"]
    ok, bad = s.regions()
    assert sorted(ok) == sorted(w for w in bits if w[0] == "1")
    assert sorted(bad) == sorted(w for w in bits if "1" in w[1:])
    assert r.family == "logistic" and r.params["beta"] == 1.0
    assert r.round_trip_error < 1e-9


def test_cpo3_is_named_after_the_zoos_cpo3():
    """The identify step: the zoo's CPO3 (logicpo/beyond.lpo) has these atoms and regions,
    so the decompiled structure is named CPO3 and the DSL text uses it."""
    r = decompile("-logsigmoid(pc - log1mexp(log1mexp(pr) + log1mexp(M_yl2)))")
    assert r.structure.name == "CPO3"
    assert [m.expression for m in r.terms[0].matches] == ["CPO3"]
    assert r.dsl == "logistic(CPO3, beta=1)"


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("text, name", [
    ("pg", "M_yg"), ("M_yg", "M_yg"), ("rs", "Ref_ys"), ("Ref_ys", "Ref_ys"),
    ("Src_yw", "Src_yw"), ("M_yl2", "M_yl2"), ("ng", "n_yg"), ("n_yg", "n_yg"),
    ("pw", "pc"), ("rl", "rr"), ("nw", "nc"), ("M_yw", "pc"), ("n_yl", "nr"),
    ("pc", "pc"), ("policy_chosen_logps", "pc"), ("beta", "beta"), ("gold", "gold"),
    ("lambda_w", "lambda_w"),
])
def test_naming_convention(text, name):
    """Model_response, n_response, and p<x>/r<x>/n<x> for a letter x other than c and r;
    any other name is a parameter, kept as typed."""
    assert parse_loss_expression(text).name == name


def test_short_and_long_names_decompile_alike():
    a = decompile("-logsigmoid(beta*(pc - pr)) - 0.3*pg/ng")
    b = decompile("-logsigmoid(beta*(pc - pr)) - 0.3*M_yg/n_yg")
    c = decompile("-logsigmoid(beta*(pc - pr)) - 0.3*g/k", atoms="g=M(yg), k=|yg|")
    for r in (b, c):
        assert [(t.family, t.structure.name, t.structure.masks(), t.normalize)
                for t in r.terms] == [(t.family, t.structure.name, t.structure.masks(),
                                       t.normalize) for t in a.terms]


def test_atoms_declares_other_models():
    """--atoms with a third model: -log sigmoid(s_w - s_l) over Src(yw), Src(yl) is CPO's
    regions on the Src atoms: ok = Src(yw), bad = Src(yl), worlds (Src(yw), Src(yl))."""
    r = decompile("-logsigmoid(a - b)", atoms="a=Src(yw),b=Src(yl)")
    assert r.structure.atoms == ("Src(yw)", "Src(yl)")
    assert r.structure.regions() == (["11", "10"], ["11", "01"])


@pytest.mark.parametrize("spec, words", [
    ("pg=m(yg)", ["'m' is not a model", "did you mean 'M'?"]),
    ("pg=ref(yg)", ["did you mean 'Ref'?"]),
    ("x=M(g)", ["'g' is not a response", "'yg'"]),
    ("x=yg", ["did you mean |yg|"]),
    ("x=len(yg)", ["written |yg|"]),
    ("x", ["is not NAME=Model(response)"]),
    ("x=M(yg),,", ["empty declaration"]),
    ("log=M(yg)", ["is a function"]),
    ("pc=M(yg)", ["already is the log-prob of M(yw)"]),
    ("x=M(yg),x=M(ys)", ["declared twice"]),
])
def test_bad_atoms_declarations_are_usage_errors(spec, words):
    with pytest.raises(UsageError) as info:
        parse_atoms(spec)
    for w in words:
        assert w in str(info.value)


def test_unknown_names_keep_todays_meaning():
    """A name outside the convention is still a parameter, and a near miss still warns."""
    r = decompile("-logsigmoid(gold*(pc - pr))")
    assert r.params["beta"] == "gold"
    r = decompile("-logsigmoid(pcc - pr)")
    assert any("'pcc' is read as a parameter" in w for w in r.warnings)


# ---------------------------------------------------------------- random structures


FIVE = ("M(yw)", "M(yl)", "M(yg)", "M(ys)", "Ref(ys)")
SIX = ("M(yw)", "M(yl)", "M(yg)", "M(ys)", "Ref(yg)", "Ref(ys)")


def _wmc_text(atoms, worlds) -> str:
    """log WMC of a region, spelled world by world in log space."""
    parts = []
    for k in worlds:
        parts.append("exp(" + " + ".join(
            var(a) if (k >> i) & 1 else f"log1mexp({var(a)})" for i, a in enumerate(atoms)) + ")")
    return "log(" + " + ".join(parts) + ")"


def _wmc_poly(atoms, worlds):
    w = sympy.symbols(f"x0:{len(atoms)}")
    return sympy.expand(sum(sympy.Mul(*(w[i] if (k >> i) & 1 else 1 - w[i]
                                        for i in range(len(atoms)))) for k in worlds))


def _random_regions(rng: random.Random, atoms):
    """Sparse random regions (two to four worlds each) whose WMCs share no factor, so that
    nothing cancels and the regions come back exactly (checked with SymPy's gcd here)."""
    n = 1 << len(atoms)
    while True:
        ok = rng.sample(range(n), rng.randint(2, 4))
        bad = rng.sample(range(n), rng.randint(2, 4))
        if set(ok) == set(bad):
            continue
        if sympy.gcd(_wmc_poly(atoms, ok), _wmc_poly(atoms, bad)).is_number:
            return ok, bad


@pytest.mark.parametrize("atoms", [FIVE, SIX], ids=["5 atoms", "6 atoms"])
@pytest.mark.parametrize("seed", range(4))
def test_random_structures_over_more_atoms(atoms, seed):
    rng = random.Random(seed)
    ok, bad = _random_regions(rng, atoms)
    text = f"-logsigmoid({_wmc_text(atoms, ok)} - {_wmc_text(atoms, bad)})"
    r = decompile(text, check_points=3)
    s = r.structure
    assert set(s.atoms) <= set(atoms)
    index = [atoms.index(a) for a in s.atoms]

    def inside(mask, k):  # the world k over `atoms`, read over the decompiled atoms
        return (mask >> sum(((k >> p) & 1) << i for i, p in enumerate(index))) & 1

    for k in range(1 << len(atoms)):
        assert inside(s.ok_mask, k) == (k in ok), k
        assert inside(s.bad_mask, k) == (k in bad), k
    assert r.family == "logistic" and r.round_trip_error < 1e-9


def test_eight_atoms_end_to_end_and_no_more_than_ten():
    """rho = the sum of n log-probs: t = prod w, b = 1, so ok = the all-true world and bad =
    every world. Eight atoms decompile end to end; eleven are refused (at most 10)."""
    names = [f"M_y{c}" for c in "abdefhijkm"]
    r = decompile(f"-logsigmoid({' + '.join(names[:8])})", check_points=2)
    assert len(r.structure.atoms) == 8
    assert r.structure.regions()[0] == ["1" * 8] and len(r.structure.regions()[1]) == 256
    with pytest.raises(NotExpressibleError) as info:
        decompile(f"-logsigmoid({' + '.join(names)} + M_yn)")
    assert "more than the 10" in str(info.value)


def test_world_basis_over_ten_atoms():
    """Step 3 alone over 10 atoms (showing a 10-atom structure's core is SymPy's slow
    part, not the decompiler's): t = w_a*(1 - w_b), b = 1 - w_a*(1 - w_b) give ok = the
    1024/4 = 256 worlds with M(ya) true and M(yb) false, bad = the other 768."""
    from logicpo.decompiler.symbolic import weight
    from logicpo.decompiler.worlds import regions

    atoms = tuple(f"M(y{c})" for c in "abdefhijkm")
    wa, wb = weight(atoms[0]), weight(atoms[1])
    rest = sympy.Mul(*(weight(a) + (1 - weight(a)) for a in atoms[2:]))  # = 1, expanded: 2^8 terms
    t = sympy.expand(wa * (1 - wb) * rest)
    b = sympy.expand((1 - wa * (1 - wb)) * rest)
    ok, bad = regions(t, b, atoms, None)
    want = {k for k in range(1 << 10) if k & 1 and not k & 2}
    assert {k for k in range(1 << 10) if (ok >> k) & 1} == want
    assert {k for k in range(1 << 10) if (bad >> k) & 1} == set(range(1 << 10)) - want


# ---------------------------------------------------------------- the command line


def test_cli_json_tpo(run):
    result = run("decompile", "--json", "--value", "alpha=0.3", TPO)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    cpo, ce = data["terms"]
    assert (cpo["name"], cpo["atoms"]) == ("CPO", ["M(yw)", "M(yl)"])
    assert (ce["name"], ce["atoms"], ce["ok"], ce["bad"]) == ("CE(yg)", ["M(yg)"], ["1"], ["0"])
    assert ce["normalize"] == "length" and ce["weight"] == 0.3 and ce["f"] == "logistic"
    assert ce["closed_form"] == "-M_yg"  # the semantic loss of M(yg): -log w
    assert data["round_trip"]["max_rel_error"] < 1e-9


def test_cli_json_selm_with_declared_atoms(run):
    result = run("decompile", "--json", "--atoms", "s_pol=M(ys),s_ref=Ref(ys)",
                 "-logsigmoid(beta*((pc - rc) - (pr - rr))) + alpha*beta*(s_pol - s_ref)")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    dpo, lin = data["terms"]
    assert dpo["name"] == "DPO" and dpo["f"] == "logistic"
    assert (lin["name"], lin["f"], lin["atoms"]) == ("flip(W(ys))", "linear", ["M(ys)", "Ref(ys)"])
    assert (lin["ok"], lin["bad"]) == (["11", "01"], ["11", "10"])
    # rho = Ref_ys - M_ys: the closed form names both log-probs, in logsigmoid
    assert lin["closed_form"].startswith("-log sigmoid(")
    assert {"Ref_ys", "M_ys"} <= set(lin["closed_form"].replace("(", " ").replace(")", " ")
                                      .replace("-", " ").replace("+", " ").split())


def test_cli_bad_atoms_is_a_usage_error(run):
    result = run("decompile", "--atoms", "pg=m(yg)", "-pg")
    assert result.exit_code == 2
    assert "did you mean 'M'?" in result.output


def test_cli_text_output_of_a_term_over_other_atoms(run):
    result = run("decompile", "-M_yg/n_yg")
    assert result.exit_code == 0, result.output
    assert "CE(yg)" in result.output and "M(yg)" in result.output


def test_user_errors_are_logicpo_errors():
    with pytest.raises(LogicpoError):
        decompile("-logsigmoid(pg - pr)/ng")


def test_a_log_ratio_beside_the_nll_in_one_sum():
    """-pc + beta*(ps - rs): the NLL -pc is logistic(CE) (ok = M(yw) = {11, 10}, bad =
    {01, 00}); beta*(ps - rs) shares no rational scale with it, so it is read apart, as
    linear(flip(W(ys))) with beta = beta and weight 1."""
    r = decompile("-pc + beta*(ps - rs)")
    ce, lin = r.terms
    assert (ce.family, ce.structure.name, ce.structure.regions()) == (
        "logistic", "CE", (["11", "10"], ["01", "00"]))
    assert (lin.family, lin.structure.regions(), lin.params["beta"], lin.weight) == (
        "linear", (["11", "01"], ["11", "10"]), "beta", 1.0)
    rng = random.Random(3)
    for _ in range(3):
        env = point(rng, ("pc", "pr", "M_ys", "Ref_ys"))
        beta = rng.uniform(0.1, 1.0)
        want = -env["pc"] + beta * (env["M_ys"] - env["Ref_ys"])
        assert objective_value(r, env, {"beta": beta}) == pytest.approx(want, rel=1e-12)
