"""Step 5 of decompilation: the result compiled back and compared with the text, in float64."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import sympy

from logicpo.decompiler.floats import _log1mexp, evaluate
from logicpo.decompiler.symbolic import parameter, parameters_of, show
from logicpo.errors import NotExpressibleError, RoundTripError
from logicpo.logic import atoms as atom_names
from logicpo.logic.closed_form import closed_form, logp_symbol
from logicpo.logic.families import FAMILIES, MATH
from logicpo.logic.structure import Structure
from logicpo.syntax import loss_expr as lx

if TYPE_CHECKING:
    from logicpo.decompiler.result import DecompiledTerm


def family_value(family: str, s: float, rho: float, params: dict[str, float]) -> float:
    """``f`` of spec section 3 at ``s = beta*rho - gamma``, in float64: the family
    registry's reference formula (:mod:`logicpo.logic.families`) on floats."""
    return FAMILIES[family].reference(MATH, s, rho, params)


def structure_rho(structure: Structure, logps: dict[str, float]) -> float:
    """``log WMC(ok) - log WMC(bad)`` from the regions, world by world, in float64, over
    any atoms (``logps`` by :func:`~logicpo.logic.atoms.logp_name`)."""
    atoms = structure.atoms
    lw = [logps[atom_names.logp_name(a)] for a in atoms]

    def wmc(m: int) -> float:
        total = 0.0
        for k in range(1 << len(atoms)):
            if (m >> k) & 1:
                total += math.exp(sum(x if (k >> i) & 1 else _log1mexp(x)
                                      for i, x in enumerate(lw)))
        return total

    return math.log(wmc(structure.ok_mask)) - math.log(wmc(structure.bad_mask))


def finite_real(what: str, v: sympy.Expr) -> float:
    """A number that decompilation produced, as a float, or a user error: constants such as
    ``log1mexp(0) = log 0`` or ``log(-1)`` (complex) are not numbers. The one place where
    SymPy numbers become floats, so none can fail later with a TypeError."""
    try:
        x = complex(v)
    except (TypeError, ValueError):
        x = complex(math.nan)
    if x.imag != 0 or not math.isfinite(x.real):
        raise NotExpressibleError(
            f"the {what} would be {show(v)}, which is not a finite real number")
    return x.real


#: Where the round trip draws its points: log-probs per token, token counts, parameters.
LOGP_RANGE = (-3.0, -0.05)
COUNT_RANGE = (1.0, 30.0)
POSITIVE_RANGE = (0.1, 0.45)  # a smoothing below 1/2, a temperature, a weight
REAL_RANGE = (0.0, 1.0)


def draw_point(rng: random.Random, parameters: list[sympy.Symbol], *,
               counts: bool, atoms: tuple[str, ...] = ()) -> dict[str, float]:
    """One random point: raw log-probs (``pc`` is ``nc`` times a per-token value), counts
    (1 when the loss has none, so that the log-probs stay where negated atoms matter),
    and a value for every parameter within its assumption. The classic four always, then
    the other ``atoms`` and their responses' counts, by their names in
    :mod:`logicpo.logic.atoms`."""
    env = {"nc": rng.uniform(*COUNT_RANGE) if counts else 1.0,
           "nr": rng.uniform(*COUNT_RANGE) if counts else 1.0}
    for name, count in (("pc", "nc"), ("pr", "nr"), ("rc", "nc"), ("rr", "nr")):
        env[name] = rng.uniform(*LOGP_RANGE) * env[count]
    others = [a for a in atom_names.atom_order(atoms) if a not in atom_names.CLASSIC]
    for response in atom_names.responses_of(others):
        if response not in atom_names.CLASSIC_RESPONSES:
            env[atom_names.length_name(response)] = rng.uniform(*COUNT_RANGE) if counts else 1.0
    for a in others:
        count = atom_names.length_name(atom_names.response_of(a))
        env[atom_names.logp_name(a)] = rng.uniform(*LOGP_RANGE) * env[count]
    for p in parameters:
        env[p.name] = rng.uniform(*(POSITIVE_RANGE if p.is_positive else REAL_RANGE))
    return env


def term_value(term: DecompiledTerm, env: dict[str, float]) -> tuple[float, float]:
    """``(weight * f(s), rho)`` of one decompiled term at ``env``, from its regions."""
    logps = logps_of(term, env)
    subs = {p: env[p.name] for p in parameters_in(term)}
    p = {k: finite_real(k, v.subs(subs)) for k, v in term.exact_params.items()}
    w = finite_real("weight", term.exact_weight.subs(subs))
    rho = structure_rho(term.structure, logps)
    return w * family_value(term.family, p["beta"] * rho - p["gamma"], rho, p), rho


def logps_of(term: DecompiledTerm, env: dict[str, float]) -> dict[str, float]:
    """The log-probs the term's structure reads at ``env``: per token when it has
    ``normalize=length`` (each atom's by its response's count)."""
    logps = dict(env)
    if term.normalize:
        for a in term.structure.atoms:
            name = atom_names.logp_name(a)
            logps[name] = env[name] / env[atom_names.length_name(atom_names.response_of(a))]
    return logps


def parameters_in(term: DecompiledTerm) -> set[sympy.Symbol]:
    out = parameters_of(term.exact_weight)
    for v in term.exact_params.values():
        out |= parameters_of(v)
    return out


def round_trip(node: lx.LossNode, terms: tuple[DecompiledTerm, ...], *,
               values: dict[str, float], expression: str, names: set[str] = frozenset(),
               points: int = 5, seed: int = 0) -> float:
    """Largest difference between the original loss and the decompiled terms at random points.

    Both sides are float64 with ``math`` only: the original from its parse tree, each
    decompiled term from its regions (world weights summed) and its family's formula; the
    SymPy closed form of each structure is checked against its regions as well. Neither
    side calls the compiled losses. A difference above 1e-9 (relative) is a bug of
    logicpo: :class:`RoundTripError`.
    """
    rng = random.Random(seed)
    symbols: set[sympy.Symbol] = set()
    for t in terms:
        symbols |= parameters_in(t)
    symbols |= {parameter(n) for n in names if n not in values}  # also those that cancel out
    symbols = sorted(symbols, key=str)
    forms = [closed_form(t.structure) for t in terms]
    atoms = atom_names.union(*(t.structure.atoms for t in terms), _text_atoms(node))
    worst = 0.0
    for _ in range(points):
        env = draw_point(rng, symbols, counts=any(t.normalize for t in terms), atoms=atoms)
        text_env = {**env, **values}
        mine = 0.0
        for t, cf in zip(terms, forms, strict=True):
            value, rho = term_value(t, env)
            mine += value
            if cf.rho is not None:
                at = {logp_symbol(a): logps_of(t, env)[atom_names.logp_name(a)]
                      for a in t.structure.atoms}
                sym = float(cf.rho.subs(at).rewrite(sympy.log).evalf())
                worst = max(worst, abs(sym - rho) / max(1.0, abs(rho)))
        try:
            theirs = evaluate(node, text_env)
        except (ValueError, ArithmeticError) as exc:
            shown = ", ".join(f"{k}={env[k]:.3g}" for k in (
                "pc", "pr", "rc", "rr", *(atom_names.logp_name(a) for a in atoms
                                          if a not in atom_names.CLASSIC)))
            raise NotExpressibleError(
                f"the loss cannot be evaluated at {shown} ({exc}), although its terms can"
            ) from None
        worst = max(worst, abs(mine - theirs) / max(1.0, abs(theirs)))
    if not worst <= 1e-9:
        raise RoundTripError(
            f"round trip failed for '{expression}': the decompiled "
            + " + ".join(f"{t.family}({t.structure.name})" for t in terms)
            + f" differs from it by {worst:.3g}")
    return worst


def _text_atoms(node: lx.LossNode) -> list[str]:
    """The atoms whose log-probs the text names (a term may cancel some of them)."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, lx.Var) and lx.atom_of(n.name) is not None:
            out.append(lx.atom_of(n.name))
        stack.extend(lx.children(n))
    return out
