"""Steps 2 and 3 of decompilation: ``s`` split into log-probability terms, ``exp(rho)`` as a
ratio ``t / b`` of polynomials in the atom weights, and both expanded in the world basis.
"""

from __future__ import annotations

import math
from functools import reduce

import sympy

from logicpo.decompiler.symbolic import (
    ATOM_OF,
    LOGPS,
    WEIGHTS,
    is_positive,
    parameters_of,
    show,
    weight,
)
from logicpo.errors import NotExpressibleError
from logicpo.logic import atoms as atom_names
from logicpo.logic.closed_form import log1mexp
from logicpo.logic.truth import World

# ---------------------------------------------------------------- step 2: s = beta*rho - gamma


def log_term(x: sympy.Expr) -> bool:
    return x in LOGPS or isinstance(x, (sympy.log, log1mexp))


def split(s: sympy.Expr, span) -> tuple[dict[sympy.Expr, sympy.Expr], sympy.Expr]:
    """``s = sum(c_j * L_j) + c0`` with ``L_j`` log-probability terms."""
    parts: dict[sympy.Expr, sympy.Expr] = {}
    c0 = sympy.Integer(0)
    for term in sympy.Add.make_args(sympy.expand(s)):
        coeff, rest = term.as_independent(*LOGPS, as_Add=False)
        if rest == 1:
            c0 += term
            continue
        if not log_term(rest):
            raise NotExpressibleError(
                f"'{show(rest)}' is not a log-probability term (pc, log1mexp(pc), log of a sum of "
                "probabilities, ...)", span, piece=rest)
        if parameters_of(rest):
            raise NotExpressibleError(
                f"'{show(rest)}' mixes the parameter(s) "
                f"{', '.join(sorted(map(str, parameters_of(rest))))} into a log-probability",
                span, piece=rest)
        parts[rest] = parts.get(rest, 0) + coeff
    parts = {k: v for k, v in parts.items() if v != 0}
    if not parts:
        raise NotExpressibleError("the loss does not depend on the log-probs pc, pr, rc, rr",
                                  span)
    return parts, c0


def peel_beta(parts: dict, span) -> tuple[sympy.Expr, dict[sympy.Expr, int]]:
    """``beta`` and the integer exponents ``m_j`` with ``c_j = beta * m_j``, gcd(m) = 1."""
    items = list(parts.items())
    first = items[0][1]
    ratios = []
    for term, c in items:
        r = sympy.nsimplify(sympy.simplify(c / first), rational=True)
        if not r.is_Rational:
            raise NotExpressibleError(
                f"the coefficients {show(first)} of '{show(items[0][0])}' and {c} of '{show(term)}' are not in a "
                "rational ratio, so exp(rho) is not a ratio of polynomials", span)
        ratios.append(r)
    den = reduce(sympy.ilcm, [r.q for r in ratios], 1)
    nums = [int(r * den) for r in ratios]
    g = reduce(math.gcd, nums)
    ms = [m // g for m in nums]
    beta = sympy.simplify(first / ms[0])
    if is_positive(beta, span) is False:
        beta, ms = -beta, [-m for m in ms]
    return beta, {term: m for (term, _), m in zip(items, ms, strict=True)}


# ---------------------------------------------------------------- step 3: world basis


def poly_of(term: sympy.Expr, span) -> sympy.Expr:
    """``exp(term)`` as an expression in the weights (``exp(logp) -> w``)."""
    if term in LOGPS:
        return weight(ATOM_OF[term])
    if isinstance(term, log1mexp):
        inner = term.args[0]
        if inner in LOGPS:
            return 1 - weight(ATOM_OF[inner])
        # log1mexp(x) = log(1 - exp(x)) of a whole log-probability x, such as CPO3's
        # log1mexp(log1mexp(pr) + log1mexp(M_yl2)) = log(1 - (1 - w_pr)*(1 - w_yl2))
        factor = sympy.Integer(1)
        for piece in sympy.Add.make_args(sympy.expand(inner)):
            m, rest = piece.as_coeff_Mul()
            if not (m.is_Integer and log_term(rest) and not parameters_of(rest)):
                raise NotExpressibleError(
                    f"log1mexp must be applied to a log-prob, not '{show(inner)}'", span)
            factor *= poly_of(rest, span) ** int(m)
        return 1 - factor
    q = sympy.expand(term.args[0], power_exp=True, mul=False, multinomial=False)
    # exp(log1mexp(x)) = 1 - exp(x): a negated atom's weight inside a sum of world weights
    q = q.replace(lambda x: isinstance(x, sympy.exp) and isinstance(x.args[0], log1mexp),
                  lambda x: 1 - sympy.exp(x.args[0].args[0]))
    q = sympy.expand(q, power_exp=True)
    q = q.subs({lp: sympy.log(weight(ATOM_OF[lp])) for lp in q.free_symbols if lp in LOGPS})
    q = sympy.powsimp(sympy.expand(q, power_exp=True))
    return q


#: At most this many factors in exp(rho) = t/b per atom (and never fewer than for four
#: atoms): a weighted model count is multilinear, so each atom is at most one factor of t
#: and one of b, and expanding high powers of sums of world weights only to find that out
#: takes minutes.
MAX_FACTORS = 8
#: At most this many atoms in one term: the world basis has 2^n worlds.
MAX_ATOMS = 10


def ratio(exponents: dict, span) -> tuple[sympy.Expr, sympy.Expr]:
    total = sum(abs(m) for m in exponents.values())
    n = len({ATOM_OF[lp] for t in exponents for lp in t.free_symbols if lp in LOGPS})
    limit = max(MAX_FACTORS, 2 * n)
    if total > limit:
        shown = ", ".join(f"{m} for '{show(t)}'" for t, m in exponents.items())
        atoms = "four atoms" if n <= 4 else f"{n} atoms"
        raise NotExpressibleError(
            f"exp(rho) would multiply {total} log-probability factors (exponents {shown}), "
            f"more than the {limit} a weighted model count of {atoms} can need", span)
    num, den = sympy.Integer(1), sympy.Integer(1)
    for term, m in exponents.items():
        p = poly_of(term, span)
        if m > 0:
            num *= p ** m
        else:
            den *= p ** (-m)
    t, b = sympy.fraction(sympy.cancel(sympy.together(num / den)))
    return sympy.expand(t), sympy.expand(b)


def term_atoms(t: sympy.Expr, b: sympy.Expr, span) -> tuple[str, ...]:
    """The atoms of a structure with ``WMC(ok) = t`` and ``WMC(bad) = b``: those whose
    weights occur, in :func:`~logicpo.logic.atoms.atom_order` (so a classic loss keeps its
    two or four atoms)."""
    found = [WEIGHTS.key[w] for w in (t.free_symbols | b.free_symbols) if w in WEIGHTS.key]
    atoms = atom_names.atom_order(found)
    if len(atoms) > MAX_ATOMS:
        raise NotExpressibleError(
            f"the term is over {len(atoms)} atoms ({', '.join(atoms)}), more than the "
            f"{MAX_ATOMS} whose 2^{MAX_ATOMS} worlds the decompiler expands", span)
    return atoms


def world_coefficients(p: sympy.Expr, atoms: tuple[str, ...], what: str, span) -> list:
    ws = [weight(a) for a in atoms]
    if p.free_symbols - set(ws):
        raise NotExpressibleError(
            f"{what} = {show(p)} is not a polynomial in the atom weights", span)
    if not p.is_polynomial(*ws):
        raise NotExpressibleError(f"{what} = {show(p)} is not a polynomial in the weights", span)
    poly = sympy.Poly(p, *ws)
    for a, w in zip(atoms, ws, strict=True):
        if poly.degree(w) > 1:
            raise NotExpressibleError(
                f"{what} = {show(p)} has degree {poly.degree(w)} in w({a}), so it is not a weighted "
                "model count (those are multilinear: each atom at most once per world)", span)
    # The coefficient of world k is p at the vertex w = bits(k): the sum of the coefficients
    # of the monomials whose atoms are all true in k (a zeta transform over subsets).
    n = len(atoms)
    values = [sympy.Integer(0)] * (1 << n)
    for monomial, c in poly.terms():
        values[sum(1 << i for i, e in enumerate(monomial) if e)] += c
    for i in range(n):
        bit = 1 << i
        for k in range(1 << n):
            if k & bit:
                values[k] += values[k ^ bit]
    return values


def regions(t, b, atoms, span) -> tuple[int, int]:
    ct = world_coefficients(t, atoms, "WMC(ok)", span)
    cb = world_coefficients(b, atoms, "WMC(bad)", span)
    values = {c for c in ct + cb if c != 0}
    if len(values) == 1:
        scale = values.pop()
        ct = [c / scale for c in ct]
        cb = [c / scale for c in cb]
    broken = [(side, k, c) for side, cs in (("ok", ct), ("bad", cb))
              for k, c in enumerate(cs) if c not in (0, 1)]
    if broken:
        shown = "; ".join(
            f"world {World(atoms, k).short} ({World(atoms, k).describe()}) has coefficient {c} "
            f"in WMC({side})" for side, k, c in broken[:6])
        raise NotExpressibleError(
            f"exp(rho) = ({show(t)}) / ({show(b)}), and in the world basis {shown}; a structure needs every "
            "coefficient to be 0 or 1", span)
    ok = sum(1 << k for k, c in enumerate(ct) if c == 1)
    bad = sum(1 << k for k, c in enumerate(cb) if c == 1)
    return ok, bad


