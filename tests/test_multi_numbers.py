"""Compiled losses over any atoms (issue 13): named inputs, factorised forms, numerics.

Every expected number here comes from the test itself: a float64 enumeration of worlds
written below with ``itertools.product`` (a world's weight is the product of ``p`` or
``1 - p`` over its atoms, in probability space), the published formulas of TPO and SELM,
and CPO3's hand-derived log-ratio ``rho = pc - log(1 - (1 - e^pr)(1 - e^p_yl2))``.
"""

from __future__ import annotations

import itertools
import math
import random
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import logicpo
from logicpo.errors import UsageError
from logicpo.logic import atoms as atom_names
from logicpo.logic.closed_form import closed_form
from logicpo.logic.objective import Objective, Term
from logicpo.logic.structure import Structure
from logicpo.numbers import brute
from logicpo.numbers import module as runtime
from logicpo.numbers.api import compile_objective, instantiate
from logicpo.numbers.export import render
from logicpo.numbers.module import LossInputError

POOL = ("M(yw)", "M(yl)", "M(yg)", "Ref(ys)", "M(yl2)", "Src(yw)", "Ref(yg)", "M(ys)",
        "M(yl3)", "Ref(yw)", "Ref(yl)", "Src(yg)")
SINGLE = ("M(yw)", "M(yl)")


def _mask(atoms, predicate) -> int:
    """The truth table over ``atoms`` (bit i of a world index = atom i) of ``predicate``,
    a function of the dict {atom: bool}."""
    out = 0
    for bits in itertools.product((0, 1), repeat=len(atoms)):
        k = sum(b << i for i, b in enumerate(bits))
        if predicate(dict(zip(atoms, map(bool, bits), strict=True))):
            out |= 1 << k
    return out


def _compile(terms, params=None, paper=False):
    compiled = compile_objective("t", Objective("t", tuple(terms)), params or {}, paper=paper)
    return compiled, instantiate(compiled)


def _structure(name, atoms, ok, bad) -> Structure:
    return Structure.from_masks(name, tuple(atoms), _mask(atoms, ok), _mask(atoms, bad))


CPO = _structure("CPO", SINGLE, lambda w: w["M(yw)"], lambda w: w["M(yl)"])
CPO3 = _structure("CPO3", ("M(yw)", "M(yl)", "M(yl2)"), lambda w: w["M(yw)"],
                  lambda w: w["M(yl)"] or w["M(yl2)"])
CE_YG = _structure("CE(yg)", ("M(yg)",), lambda w: w["M(yg)"], lambda w: not w["M(yg)"])
DPO = _structure("DPO", atom_names.ATOMS_REF, lambda w: w["M(yw)"] and w["Ref(yl)"],
                 lambda w: w["M(yl)"] and w["Ref(yw)"])
W_YS = _structure("W(ys)", ("M(ys)", "Ref(ys)"), lambda w: w["M(ys)"], lambda w: w["Ref(ys)"])
FLIP_W_YS = Structure.from_masks("flip(W(ys))", W_YS.atoms, W_YS.bad_mask, W_YS.ok_mask)


def _cpok(k: int) -> Structure:
    """Listwise CPO over k ranked responses: ok = M(yw), bad = some loser is valid."""
    ranked = tuple(f"M({atom_names.ranked_response(r)})" for r in range(1, k + 1))
    return _structure(f"CPO{k}", ranked, lambda w: w[ranked[0]],
                      lambda w: any(w[a] for a in ranked[1:]))


# ---------------------------------------------------------------- the test's own oracle


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def _sigmoid(x: float) -> float:
    return math.exp(_log_sigmoid(x))


def _family(name: str, rho: float, p: dict) -> float:
    """The outer functions of spec section 3, written out again here."""
    beta, gamma, eps = p.get("beta", 1.0), p.get("gamma", 0.0), p.get("label_smoothing", 0.0)
    s = beta * rho - gamma
    if name == "logistic":
        return -(1 - eps) * _log_sigmoid(s) - eps * _log_sigmoid(-s)
    if name == "hinge":
        return max(0.0, 1 - s)
    if name == "square":
        return (rho - 1 / (2 * beta)) ** 2
    if name == "sigmoid":
        return _sigmoid(-s)
    if name == "linear":
        return -s
    if name == "robust":
        return (-(1 - eps) * _log_sigmoid(s) + eps * _log_sigmoid(-s)) / (1 - 2 * eps)
    raise AssertionError(name)


def _wmc(structure: Structure, mask: int, logp: dict) -> float:
    """Sum over the region's worlds of prod(p if true else 1 - p), in float64."""
    total = 0.0
    n = len(structure.atoms)
    for bits in itertools.product((0, 1), repeat=n):
        k = sum(b << i for i, b in enumerate(bits))
        if (mask >> k) & 1:
            weight = 1.0
            for a, b in zip(structure.atoms, bits, strict=True):
                p = math.exp(logp[a])
                weight *= p if b else 1 - p
            total += weight
    return total


def _expected(terms, logps: dict, lengths: dict) -> list[float]:
    """Each example's loss: sum of weight * f(rho) over the terms, by enumeration."""
    batch = len(next(iter(logps.values())))
    out = []
    for j in range(batch):
        total = 0.0
        for weight, family, s, params in terms:
            logp = {a: logps[a][j] / (lengths[atom_names.response_of(a)][j]
                                      if params.get("normalize") == "length" else 1.0)
                    for a in s.atoms}
            rho = math.log(_wmc(s, s.ok_mask, logp)) - math.log(_wmc(s, s.bad_mask, logp))
            total += weight * _family(family, rho, params)
        out.append(total)
    return out


def _random_structure(rng: random.Random, k: int, name: str) -> Structure:
    """Random regions over about ``k`` random atoms, completed as the DSL completes them
    (``atom_order``: a classic atom brings its classic partners), at most 8, then shuffled:
    the masks are over the tuple in that order."""
    while True:
        atoms = list(atom_names.atom_order(rng.sample(POOL, k)))
        if len(atoms) <= 8:
            break
    rng.shuffle(atoms)
    k = len(atoms)
    full = (1 << (1 << k)) - 1
    while True:
        ok, bad = rng.randint(1, full), rng.randint(1, full)
        if ok != bad:
            return Structure.from_masks(name, tuple(atoms), ok, bad)


FAMILY_PARAMS = [
    ("logistic", {"beta": 0.7}),
    ("logistic", {"beta": 1.0, "label_smoothing": 0.1, "gamma": 0.3}),
    ("hinge", {"beta": 0.5, "gamma": 0.2}),
    ("square", {"beta": 0.8}),
    ("sigmoid", {"beta": 1.5}),
    ("linear", {"beta": 0.3}),
    ("robust", {"beta": 0.9, "label_smoothing": 0.2}),
]


@pytest.mark.parametrize("seed", range(8))
def test_random_structures_up_to_eight_atoms_match_world_enumeration(seed):
    """One to three terms over random structures of 1..8 random atoms, with random families,
    parameters, weights and length normalisation, called with logps=/lengths=."""
    rng = random.Random(1000 + seed)
    for trial in range(4):
        terms, dsl_terms = [], []
        for i in range(rng.randint(1, 3)):
            k = rng.randint(1, 8) if i == 0 else rng.randint(1, 5)
            s = _random_structure(rng, k, f"S{trial}_{i}")
            family, params = rng.choice(FAMILY_PARAMS)
            params = dict(params)
            if rng.random() < 0.3:
                params["normalize"] = "length"
            weight = rng.choice([1.0, 0.5, -0.25, 2.0])
            terms.append((weight, family, s, params))
            dsl_terms.append(Term(weight, family, s, tuple(params.items())))
        compiled, module = _compile(dsl_terms)
        g = torch.Generator().manual_seed(seed * 10 + trial)
        logps = {a: -6 * torch.rand(16, generator=g, dtype=torch.float64) - 1e-3
                 for a in module.atoms}
        lengths = {r: torch.randint(1, 30, (16,), generator=g).to(torch.float64)
                   for r in module.responses}
        got = module(logps=logps, lengths=lengths).losses
        want = torch.tensor(_expected(terms, {a: x.tolist() for a, x in logps.items()},
                                      {r: x.tolist() for r, x in lengths.items()}),
                            dtype=torch.float64)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-10,
                                   msg=f"seed {seed} trial {trial}: {compiled.source}")
        # the reference evaluator agrees with the test's own enumeration too
        ref = brute.evaluate(list(compiled.terms), logps=logps, lengths=lengths)
        torch.testing.assert_close(ref, want, rtol=1e-9, atol=1e-10)


def test_atoms_are_exactly_those_the_structures_mention():
    s = _structure("S", ("Src(yw)", "M(yg)"), lambda w: w["Src(yw)"], lambda w: w["M(yg)"])
    _, module = _compile([Term(1.0, "logistic", s)])
    assert module.atoms == ("M(yg)", "Src(yw)")     # atom order: M before others, no M(yl)
    assert module.responses == ("yw", "yg")
    assert module.classic is False and module.uses_reference is False


# ---------------------------------------------------------------- classic: both calls agree


@pytest.mark.parametrize("name", ["sigmoid", "simpo", "orpo", "ipo", "cpo_full", "sft",
                                  "nca_pair", "CE", "unCPO", "DPO"])
def test_classic_losses_take_positional_and_named_inputs_alike(name):
    module = logicpo.loss(name)
    assert module.classic
    g = torch.Generator().manual_seed(3)
    xs = [-4 * torch.rand(8, generator=g, dtype=torch.float64) - 0.01 for _ in range(4)]
    nc, nr = (torch.randint(1, 20, (8,), generator=g).to(torch.float64) for _ in range(2))
    positional = module(*xs, nc, nr)
    given = dict(zip(atom_names.ATOMS_REF, xs, strict=True))
    named = module(logps={a: given[a] for a in module.atoms}, lengths={"yw": nc, "yl": nr})
    for a, b in zip(positional, named, strict=True):
        assert torch.equal(a, b)


def test_runtime_spells_the_classic_atoms_as_atoms_py():
    assert runtime.CLASSIC_ATOMS == atom_names.ATOMS_REF


# ---------------------------------------------------------------- TPO, SELM, CPO3


def _inputs(names, n=32, seed=0, low=-5.0, high=-0.05):
    g = torch.Generator().manual_seed(seed)
    return {a: low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)
            for a in names}


def test_tpo_against_its_published_formula():
    """TPO (Saeidi et al. 2024): -logsigmoid(beta*(pc - pr)) - alpha*pg/ng."""
    beta, alpha = 0.2, 0.7
    _, module = _compile([Term(1.0, "logistic", CPO, (("beta", beta),)),
                          Term(alpha, "logistic", CE_YG, (("beta", 1.0), ("normalize", "length")))])
    assert module.atoms == ("M(yw)", "M(yl)", "M(yg)")
    assert module.lengths_required == ("yg",)
    x = _inputs(module.atoms)
    ng = torch.tensor([float(i % 17 + 1) for i in range(32)], dtype=torch.float64)
    out = module(logps=x, lengths={"yg": ng})
    pc, pr, pg = x["M(yw)"], x["M(yl)"], x["M(yg)"]
    torch.testing.assert_close(out.losses, -F.logsigmoid(beta * (pc - pr)) - alpha * pg / ng,
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.chosen_rewards, beta * pc, rtol=0, atol=0)
    torch.testing.assert_close(out.rejected_rewards, beta * pr, rtol=0, atol=0)


def test_selm_against_its_published_formula():
    """SELM (Zhang et al. 2024): -logsigmoid(beta*((pc - rc) - (pr - rr))) + alpha*beta*(ps - rs)."""
    beta, alpha = 0.1, 0.3
    _, module = _compile([Term(1.0, "logistic", DPO, (("beta", beta),)),
                          Term(alpha, "linear", FLIP_W_YS, (("beta", beta),))])
    assert module.uses_reference and not module.classic
    x = _inputs(module.atoms, seed=1)
    out = module(logps=x)
    pc, pr, rc, rr = (x[a] for a in atom_names.ATOMS_REF)
    ps, rs = x["M(ys)"], x["Ref(ys)"]
    want = -F.logsigmoid(beta * ((pc - rc) - (pr - rr))) + alpha * beta * (ps - rs)
    torch.testing.assert_close(out.losses, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.chosen_rewards, beta * (pc - rc))
    torch.testing.assert_close(out.rejected_rewards, beta * (pr - rr))


def _cpo3_rho(pc: float, pr: float, p2: float) -> float:
    """Derived by hand: WMC(ok) = e^pc; WMC(bad) = P(M(yl) or M(yl2)) = 1 - (1-a)(1-b)
    = a + b - ab with a = e^pr, b = e^p2 (exact in float64 down to about -700)."""
    a, b = math.exp(pr), math.exp(p2)
    return pc - math.log(a + b - a * b)


def test_cpo3_against_its_hand_derived_rho():
    _, module = _compile([Term(1.0, "logistic", CPO3)], paper=True)
    cases = [(-1.2, -2.3, -0.7), (-0.1, -0.05, -3.0), (-60.0, -60.0, -60.0),
             (-300.0, -280.0, -310.0), (-2.0, -1e-6, -50.0)]
    for pc, pr, p2 in cases:
        x = {a: torch.tensor([v], dtype=torch.float64)
             for a, v in zip(CPO3.atoms, (pc, pr, p2), strict=True)}
        got = module(logps=x).losses.item()
        want = -_log_sigmoid(_cpo3_rho(pc, pr, p2))
        # rel 1e-9: F.softplus is linear above 20 (an error below e^-20 = 2e-9)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-14), (pc, pr, p2)


def test_cpo3_at_sequence_log_probs_is_not_the_literal_log1mexp_form():
    """At pc = pr = p_yl2 = -60, rho = -log(2 - e^-60) ~ -log 2, the loss log 3. The literal
    form pc - log1mexp(log1mexp(pr) + log1mexp(p_yl2)) rounds each inner log1mexp to 0 in
    float64 and gives rho = +inf, loss 0: the compiled code must not be that form."""
    compiled, module = _compile([Term(1.0, "logistic", CPO3)], paper=True)
    x = {a: torch.tensor([-60.0], dtype=torch.float64) for a in CPO3.atoms}
    assert module(logps=x).losses.item() == pytest.approx(math.log(3), rel=1e-12)
    literal = torch.tensor(-60.0, dtype=torch.float64)
    inner = runtime.log1mexp(literal) + runtime.log1mexp(literal)
    assert runtime.log1mexp(inner).item() == -math.inf  # why the literal form is not used


def test_cpo3_closed_form_is_its_factorised_form():
    cf = closed_form(CPO3)
    assert cf.rho_text == "pc - log1mexp(log1mexp(pr) + log1mexp(M_yl2))"
    import sympy

    from logicpo.logic.closed_form import logp_symbol

    values = dict(zip((logp_symbol(a) for a in CPO3.atoms), (-1.2, -2.3, -0.7), strict=True))
    rho = float(cf.rho.rewrite(sympy.log).subs(values).evalf(30))
    assert rho == pytest.approx(_cpo3_rho(-1.2, -2.3, -0.7), rel=1e-12)


def test_cpo3_entails_cpo_so_its_loss_is_never_smaller():
    """Same ok, larger bad (spec section 4): loss(CPO3) >= loss(CPO) at every input."""
    _, cpo3 = _compile([Term(1.0, "logistic", CPO3)], paper=True)
    _, cpo = _compile([Term(1.0, "logistic", CPO)], paper=True)
    x = _inputs(CPO3.atoms, n=256, seed=5, low=-8.0)
    a = cpo3(logps=x).losses
    b = cpo(logps={k: x[k] for k in SINGLE}).losses
    assert bool((a >= b - 1e-12).all())


def test_closed_forms_name_log_probs_by_atom():
    assert closed_form(CE_YG).text == "-M_yg"
    assert closed_form(W_YS).rho_text == "M_ys - Ref_ys"
    tpo_like = _structure("X", ("M(yw)", "M(yg)"), lambda w: w["M(yw)"] and not w["M(yg)"],
                          lambda w: w["M(yg)"])
    assert closed_form(tpo_like).rho_text == "pc - (M_yg - log1mexp(M_yg))"


# ---------------------------------------------------------------- factorised forms


@pytest.mark.parametrize("k", range(2, 9))
def test_listwise_cpok_is_factorised_with_k_inputs(k):
    """CPOk's bad (some loser is valid) is a chain, the first valid loser: k - 2 links
    logaddexp(a, b + log1mexp(x)), each one fused node, no sum over worlds; it matches the
    enumeration."""
    s = _cpok(k)
    compiled, module = _compile([Term(1.0, "logistic", s, (("beta", 0.5),))])
    code = compiled.generated.code
    assert compiled.factorised and module.factorised
    assert "logsumexp_worlds" not in code
    body = "\n".join(line.split("#", 1)[0] for line in code.split("    def compute(", 1)[1].splitlines())
    assert body.count("logaddexp_log1mexp(") + body.count("torch.logaddexp(") == k - 2
    assert "log1mexp(" not in body.replace("logaddexp_log1mexp(", "")
    assert module.atoms == s.atoms and len(module.atoms) == k
    x = _inputs(s.atoms, n=8, seed=k)
    want = _expected([(1.0, "logistic", s, {"beta": 0.5})],
                     {a: v.tolist() for a, v in x.items()}, {})
    torch.testing.assert_close(module(logps=x).losses, torch.tensor(want, dtype=torch.float64),
                               rtol=1e-10, atol=1e-12)


def test_a_region_without_a_factorised_form_is_enumerated_and_says_so():
    """Odd parity of five atoms has no literal factor, product, plain complement or chain."""
    atoms = ("M(yw)", "M(yl)", "M(yl2)", "M(yl3)", "M(yg)")
    s = _structure("Parity", atoms, lambda w: sum(w.values()) % 2 == 1, lambda w: w["M(yw)"])
    compiled, module = _compile([Term(1.0, "logistic", s)], paper=True)
    assert not compiled.factorised and module.factorised is False
    code = compiled.generated.code
    assert "no factorised form: logsumexp over the 16 worlds" in code
    assert "factorised = False" in code
    x = _inputs(atoms, n=8, seed=9)
    want = _expected([(1.0, "logistic", s, {})], {a: v.tolist() for a, v in x.items()}, {})
    torch.testing.assert_close(module(logps=x).losses, torch.tensor(want, dtype=torch.float64),
                               rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- gradients and extremes


def _multi_losses():
    parity = _structure("Parity", ("M(yw)", "M(yl)", "M(yl2)", "M(yl3)", "M(yg)"),
                        lambda w: sum(w.values()) % 2 == 1, lambda w: w["M(yl)"])
    return {
        "CPO3": [Term(1.0, "logistic", CPO3, (("beta", 0.5),))],
        "CPO6": [Term(1.0, "logistic", _cpok(6))],
        "TPO": [Term(1.0, "logistic", CPO, (("beta", 0.1),)),
                Term(1.0, "logistic", CE_YG, (("beta", 1.0), ("normalize", "length")))],
        "SELM": [Term(1.0, "logistic", DPO, (("beta", 0.1),)),
                 Term(0.1, "linear", FLIP_W_YS, (("beta", 0.1),))],
        "parity": [Term(1.0, "hinge", parity, (("beta", 0.3),))],
    }


@pytest.mark.parametrize("name", list(_multi_losses()))
def test_gradcheck_float64(name):
    _, module = _compile(_multi_losses()[name])
    x = _inputs(module.atoms, n=5, seed=2, low=-4.0, high=-0.05)
    lengths = {r: torch.full((5,), 7.0, dtype=torch.float64) for r in module.responses}
    names = list(module.atoms)

    def fn(*xs):
        return module(logps=dict(zip(names, xs, strict=True)), lengths=lengths).losses

    inputs = tuple(x[a].clone().requires_grad_() for a in names)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("name", list(_multi_losses()))
def test_finite_in_float32_at_extreme_log_probs(name):
    """Every combination of -1e4, -300, -20, -1e-3 and 0 across the atoms (at most 3^k
    rows of them): finite losses and gradients (the losses above have ok regions that keep
    weight there)."""
    _, module = _compile(_multi_losses()[name])
    grid = (-1e4, -300.0, -20.0, -1e-3, 0.0)
    names = list(module.atoms)
    rows = list(itertools.product(grid, repeat=len(names)))
    rng = random.Random(0)
    rows = rng.sample(rows, min(len(rows), 3000))
    cols = torch.tensor(rows, dtype=torch.float32).T
    x = {a: cols[i].clone().requires_grad_() for i, a in enumerate(names)}
    lengths = {r: torch.full((len(rows),), 5.0) for r in module.responses}
    out = module(logps=x, lengths=lengths)
    if name == "parity":  # a world count that is 0 at log-probs of 0 gives +inf, honestly
        keep = ~(cols == 0).any(0)
    else:
        keep = torch.ones(len(rows), dtype=torch.bool)
    assert torch.isfinite(out.losses[keep]).all()
    (out.losses[keep]).sum().backward()
    for a in names:
        assert torch.isfinite(x[a].grad[keep]).all(), a


def test_half_precision_inputs_compute_in_float32():
    _, module = _compile(_multi_losses()["CPO3"])
    x = _inputs(module.atoms, n=8, seed=4)
    full = module(logps={a: v.float() for a, v in x.items()}).losses
    half = module(logps={a: v.bfloat16() for a, v in x.items()}).losses
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), full, rtol=2e-2, atol=1e-2)


def test_a_loss_without_the_winner_has_zero_chosen_rewards():
    _, module = _compile([Term(1.0, "logistic", CE_YG)], paper=True)
    out = module(logps={"M(yg)": torch.tensor([-1.5, -0.5])})
    torch.testing.assert_close(out.losses, torch.tensor([1.5, 0.5]))
    assert torch.equal(out.chosen_rewards, torch.zeros(2))
    assert torch.equal(out.rejected_rewards, torch.zeros(2))


# ---------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def tpo():
    return _compile(_multi_losses()["TPO"])[1]


def _x(*values):
    return torch.tensor(values)


def test_positional_call_of_a_multi_atom_loss_names_its_atoms(tpo):
    with pytest.raises(LossInputError) as err:
        tpo(_x(-1.0), _x(-2.0))
    msg = str(err.value)
    assert "M(yw), M(yl), M(yg)" in msg and "logps=" in msg and "'yg'" in msg


def test_missing_unknown_and_misshapen_inputs(tpo):
    good = {"M(yw)": _x(-1.0, -2.0), "M(yl)": _x(-2.0, -1.0), "M(yg)": _x(-3.0, -1.0)}
    lengths = {"yg": _x(3.0, 4.0)}
    cases = [
        ({k: v for k, v in good.items() if k != "M(yg)"}, lengths, "logps is missing M(yg)"),
        ({**good, "Ref(yg)": _x(-1.0, -1.0)}, lengths,
         "'Ref(yg)', which this loss does not read; it reads the atoms M(yw), M(yl), M(yg)"),
        ({**good, "M(yg)": _x(-1.0)}, lengths,
         "logps['M(yg)'] has shape (1,) but logps['M(yw)'] has shape (2,)"),
        ({**good, "M(yg)": [-1.0, -2.0]}, lengths, "logps['M(yg)'] must be a torch.Tensor"),
        ({**good, "M(yl)": torch.tensor([-2, -1])}, lengths, "must be a floating-point tensor"),
        (good, {}, "lengths is missing yg"),
        (good, {**lengths, "ys": _x(1.0, 2.0)}, "lengths has 'ys', which is not a response"),
        (good, {"yg": _x(3.0)}, "lengths['yg'] has shape (1,)"),
        ([1, 2], lengths, "logps= must be a dict"),
    ]
    for logps, given, message in cases:
        with pytest.raises(LossInputError) as err:
            tpo(logps=logps, lengths=given)
        assert message in str(err.value), (message, str(err.value))


def test_positional_and_named_inputs_at_once_are_refused(tpo):
    with pytest.raises(LossInputError, match="either positionally or as logps="):
        tpo(_x(-1.0), logps={"M(yw)": _x(-1.0)})


def test_a_classic_loss_refuses_atoms_it_does_not_read():
    cpo = logicpo.loss("CPO")
    with pytest.raises(LossInputError, match="'Ref\\(yw\\)', which this loss does not read"):
        cpo(logps={"M(yw)": _x(-1.0), "M(yl)": _x(-2.0), "Ref(yw)": _x(-1.0)})


# ---------------------------------------------------------------- export


def test_export_of_a_multi_atom_loss_needs_only_torch(tmp_path):
    compiled, module = _compile(_multi_losses()["TPO"])
    path = tmp_path / "tpo_loss.py"
    path.write_text(render(compiled, "tpo_loss"), encoding="utf-8")
    script = (
        "import sys, torch\n"
        "sys.modules['logicpo'] = None  # any import of logicpo fails\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "from tpo_loss import tpo_loss\n"
        "x = lambda *v: torch.tensor(v, dtype=torch.float64)\n"
        "losses, c, r = tpo_loss({'M(yw)': x(-1.0, -2.5), 'M(yl)': x(-2.0, -0.5), "
        "'M(yg)': x(-6.0, -3.0)}, {'yg': x(3.0, 2.0)})\n"
        "print(repr(losses.tolist()))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    x = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    want = module(logps={"M(yw)": x(-1.0, -2.5), "M(yl)": x(-2.0, -0.5),
                         "M(yg)": x(-6.0, -3.0)}, lengths={"yg": x(3.0, 2.0)}).losses
    assert eval(done.stdout) == want.tolist()  # noqa: S307 - a list of floats we printed


def test_export_for_trl_refuses_a_multi_atom_loss():
    compiled, _ = _compile(_multi_losses()["CPO3"])
    for target in ("trl", "torchtune"):
        with pytest.raises(UsageError, match="reads M\\(yw\\), M\\(yl\\), M\\(yl2\\)"):
            render(compiled, "f", for_=target)


def test_named_call_fast_path_equals_forward_and_keeps_hooks(tpo):
    """``__call__`` computes a named call inline when nothing watches the module: the same
    numbers as ``forward``; with a hook, the hook sees ``logps=`` and still runs."""
    x = _inputs(tpo.atoms, n=6, seed=8)
    lengths = {"yg": torch.full((6,), 5.0, dtype=torch.float64)}
    fast, slow = tpo(logps=x, lengths=lengths), tpo.forward(logps=x, lengths=lengths)
    for a, b in zip(fast, slow, strict=True):
        assert torch.equal(a, b)
    seen = []
    handle = tpo.register_forward_pre_hook(lambda m, args, kwargs: seen.append(sorted(kwargs)),
                                           with_kwargs=True)
    try:
        hooked = tpo(logps=x, lengths=lengths)
    finally:
        handle.remove()
    assert seen == [["lengths", "logps"]]
    assert torch.equal(hooked.losses, fast.losses)
