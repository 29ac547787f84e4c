"""Step 5 of decompilation: the result compiled back and compared with the text, in float64."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import sympy

from logicpo.decompiler.floats import _log1mexp, _sigmoid, _softplus, evaluate
from logicpo.decompiler.symbolic import BETA, GAMMA
from logicpo.errors import NotExpressibleError, RoundTripError
from logicpo.logic.closed_form import LOGP, closed_form
from logicpo.logic.closed_form import pc as PC
from logicpo.logic.closed_form import pr as PR
from logicpo.logic.closed_form import rc as RC
from logicpo.logic.closed_form import rr as RR
from logicpo.logic.structure import Structure
from logicpo.syntax import loss_expr as lx

if TYPE_CHECKING:
    from logicpo.decompiler.result import Decompiled


def family_value(family: str, s: float, rho: float, params: dict[str, float]) -> float:
    """``f`` of spec section 3 at ``s = beta*rho - gamma``, in float64."""
    eps = params.get("label_smoothing", 0.0)
    if family == "logistic":
        return (1 - eps) * _softplus(-s) + eps * _softplus(s)
    if family == "robust":
        return ((1 - eps) * _softplus(-s) - eps * _softplus(s)) / (1 - 2 * eps)
    if family == "hinge":
        return max(0.0, 1 - s)
    if family == "square":
        return (rho - 1 / (2 * params["beta"])) ** 2
    if family == "sigmoid":
        return _sigmoid(-s)
    if family == "exo":
        return (_sigmoid(s) * (-_softplus(-s) - math.log1p(-eps))
                + _sigmoid(-s) * (-_softplus(s) - math.log(eps)))
    if family == "discopop":
        tau = params["tau"]
        # m*exp(-s) as exp(log m - s): exp(-s) alone overflows where m underflows
        return _sigmoid(-s / tau) * _softplus(-s) + math.exp(-_softplus(-s / tau) - s)
    raise ValueError(family)


def structure_rho(structure: Structure, logps: dict[str, float]) -> float:
    """``log WMC(ok) - log WMC(bad)`` from the regions, world by world, in float64."""
    atoms = structure.atoms
    lw = [logps[str(LOGP[a])] for a in atoms]

    def wmc(m: int) -> float:
        total = 0.0
        for k in range(1 << len(atoms)):
            if (m >> k) & 1:
                total += math.exp(sum(x if (k >> i) & 1 else _log1mexp(x)
                                      for i, x in enumerate(lw)))
        return total

    return math.log(wmc(structure.ok_mask)) - math.log(wmc(structure.bad_mask))


def _finite(name: str, v: sympy.Expr) -> float:
    """A parameter's value; constants such as log1mexp(0) = log 0 are not numbers."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = math.nan
    if not math.isfinite(x):
        raise NotExpressibleError(f"the {name} would be {v}, which is not a finite real number")
    return x


def round_trip(node: lx.LossNode, result: Decompiled, *, points: int = 5,
               seed: int = 0) -> float:
    """Largest difference between the original loss and the decompiled one at random points.

    Both sides are float64 with ``math`` only: the original from its parse tree, the
    decompiled from the regions (world weights summed) and the family's formula; the
    SymPy closed form of the structure is checked against the regions as well.
    """
    rng = random.Random(seed)
    cf = closed_form(result.structure)
    worst = 0.0
    for _ in range(points):
        env = {name: rng.uniform(-3.0, -0.05) for name in ("pc", "pr", "rc", "rr")}
        env["beta"] = rng.uniform(0.2, 2.0)
        env["gamma"] = rng.uniform(0.0, 1.0)
        subs = {BETA: env["beta"], GAMMA: env["gamma"]}
        p = {k: _finite(k, v.subs(subs)) for k, v in result.exact_params.items()}
        w = _finite("weight", result.exact_weight.subs(subs))
        rho = structure_rho(result.structure, env)
        mine = w * family_value(result.family, p["beta"] * rho - p["gamma"], rho, p)
        try:
            theirs = evaluate(node, env)
        except (ValueError, ArithmeticError) as exc:
            raise NotExpressibleError(
                f"the loss cannot be evaluated at pc={env['pc']:.3g}, pr={env['pr']:.3g}, "
                f"rc={env['rc']:.3g}, rr={env['rr']:.3g} ({exc}), although its structure can"
            ) from None
        worst = max(worst, abs(mine - theirs) / max(1.0, abs(theirs)))
        if cf.rho is not None:
            sym = float(cf.rho.subs({PC: env["pc"], PR: env["pr"], RC: env["rc"],
                                     RR: env["rr"]}).rewrite(sympy.log).evalf())
            worst = max(worst, abs(sym - rho) / max(1.0, abs(rho)))
    if not worst <= 1e-9:
        raise RoundTripError(
            f"round trip failed for '{result.expression}': the decompiled {result.family}"
            f"({result.structure.name}) differs from it by {worst:.3g}")
    return worst
