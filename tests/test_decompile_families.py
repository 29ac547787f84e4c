"""The family registry (logicpo/logic/families.py): one entry per family, read by the DSL's
checks, the brute-force reference, the code generator and the decompiler.

Expected values are the spec's formulas (section 3) written out here in plain ``math``.
"""

from __future__ import annotations

import math

import pytest
import torch

from logicpo.logic import families
from logicpo.logic.families import FAMILIES, MATH, Family


def ls(x):
    return -(max(-x, 0.0) + math.log1p(math.exp(-abs(x))))


def sig(x):
    return 1 / (1 + math.exp(-x))


# spec section 3's table, by hand, at s = beta*rho - gamma
SPEC = {
    "logistic": lambda s, rho, b, e, tau: -(1 - e) * ls(s) - e * ls(-s),
    "hinge": lambda s, rho, b, e, tau: max(0.0, 1 - s),
    "square": lambda s, rho, b, e, tau: (rho - 1 / (2 * b)) ** 2,
    "robust": lambda s, rho, b, e, tau: (-(1 - e) * ls(s) + e * ls(-s)) / (1 - 2 * e),
    "exo": lambda s, rho, b, e, tau: sig(s) * (ls(s) - math.log(1 - e))
    + sig(-s) * (ls(-s) - math.log(e)),
    "sigmoid": lambda s, rho, b, e, tau: sig(-s),
    "linear": lambda s, rho, b, e, tau: -s,  # SELM's term: alpha*beta*(ps - rs) on flip(W(ys))
    "discopop": lambda s, rho, b, e, tau: (1 - sig(s / tau)) * -ls(s)
    + sig(s / tau) * math.exp(-s),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("rho", [-1.3, 0.0, 0.7])
def test_every_reference_is_the_spec_formula(name, rho):
    b, g, e, tau = 0.5, 0.2, 0.1, 0.3
    s = b * rho - g
    p = {"beta": b, "gamma": g, "label_smoothing": e, "tau": tau}
    assert FAMILIES[name].reference(MATH, s, rho, p) == pytest.approx(
        SPEC[name](s, rho, b, e, tau), rel=1e-12)


def test_the_spec_table_covers_every_family():
    assert set(SPEC) == set(FAMILIES)


def test_a_new_family_is_one_entry(monkeypatch, tmp_path):
    """A family added to the registry alone is accepted by the DSL, compiled to PyTorch,
    evaluated by the brute-force reference and used by the decompiler's round trip, with
    the same numbers: log(1 + exp(-s))^2 by hand."""
    from logicpo.decompiler import family_value
    from logicpo.numbers import brute
    from logicpo.numbers.params import resolve
    from logicpo.program import load_text

    softsq = Family(
        "softsq", "softplus(-s)^2", ("beta", "gamma", "normalize"), "a test",
        lambda o, s, rho, p: (-o.logsigmoid(s)) ** 2,
        lambda c: (f"torch.square(F.softplus({c.neg}))", f"softplus(-({c.s_text}))^2"))
    monkeypatch.setitem(families.FAMILIES, "softsq", softsq)
    import logicpo

    path = tmp_path / "f.lpo"
    path.write_text("objective mine = softsq(DPO, beta=0.5)\n")
    module = logicpo.loss(f"{path}:mine")
    x = [torch.tensor([v], dtype=torch.float64) for v in (-1.2, -2.3, -1.5, -1.9)]
    got = module(*x).losses.item()
    rho = (-1.2 + 1.5) - (-2.3 + 1.9)  # DPO's rho = 0.7
    want = math.log1p(math.exp(-0.5 * rho)) ** 2
    assert got == pytest.approx(want, rel=1e-12)
    terms, _ = resolve(load_text(path.read_text()).objective("mine"), {}, paper=False)
    assert brute.evaluate(terms, *x).item() == pytest.approx(want, rel=1e-12)
    assert family_value("softsq", 0.5 * rho, rho, {"beta": 0.5}) == pytest.approx(want)
