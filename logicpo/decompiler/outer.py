"""Step 1 of decompilation: recognise the outer ``f`` and peel it off.

``e = weight * f(s)`` with ``s = beta*rho - gamma``, for the logistic (with label smoothing),
robust, hinge, square and sigmoid families; exo and discopop are in :mod:`.exo`; and
:func:`linear`, the reading tried last.
"""

from __future__ import annotations

import sympy

from logicpo.decompiler.exo import exo_or_discopop, mixes_sigmoid
from logicpo.decompiler.symbolic import BETA, LOGPS, const, is_positive, show
from logicpo.decompiler.worlds import log_term, peel_beta, split
from logicpo.errors import NotExpressibleError, Span
from logicpo.logic.closed_form import sigmoid


def recognise(e: sympy.Expr, span: Span | None) -> tuple[str, sympy.Expr, dict, sympy.Expr]:
    """``(family, s, params, weight)`` with ``e = weight * f(s)`` (``s = beta*rho - gamma``)."""
    terms = sympy.Add.make_args(e)
    if any(mixes_sigmoid(t) for t in terms):
        return exo_or_discopop(terms, span)
    logsig: dict[sympy.Expr, sympy.Expr] = {}
    constant = sympy.Integer(0)
    other = []
    for term in terms:
        coeff, rest = term.as_independent(*LOGPS, as_Add=False)
        if rest == 1:
            constant += term
        elif isinstance(rest, sympy.log) and isinstance(rest.args[0], sigmoid):
            u = sympy.expand(rest.args[0].args[0])
            logsig[u] = logsig.get(u, 0) + coeff
        else:
            other.append((coeff, rest))
    if logsig:
        if other or constant != 0:
            extra = sympy.Add(*(c * r for c, r in other)) + constant
            what = f"'{show(extra)}'" if other else f"the constant '{show(extra)}'"
            raise NotExpressibleError(
                f"a logistic loss must be made of log-sigmoid terms only, but "
                f"{what} is added to them", span, piece=other[0][1] if other else None,
                hint="write the loss as -log sigmoid(s), or decompile each term separately")
        return logistic(logsig, span)
    if len(terms) == 1 or (len(other) == 1 and constant != 0):
        coeff, rest = other[0] if other else (1, e)
        if isinstance(rest, (sympy.Max, sympy.Pow)) and constant != 0:
            raise NotExpressibleError(
                f"the constant {show(constant)} is added to '{show(coeff * rest)}': hinge and square "
                "losses have no added constant", span, piece=rest)
        if isinstance(rest, sympy.Max):
            return hinge(coeff, rest, span)
        if isinstance(rest, sympy.Pow) and rest.exp == 2:
            return square(coeff, rest.base, span)
        if isinstance(rest, sigmoid):
            if constant == 0:
                return "sigmoid", -sympy.expand(rest.args[0]), {}, coeff
            if sympy.simplify(constant + coeff) == 0:  # k - k*sigmoid(u) = k*sigmoid(-u)
                return "sigmoid", sympy.expand(rest.args[0]), {}, constant
    if any(not log_term(r) for _, r in other):
        bad = next(r for _, r in other if not log_term(r))
        raise NotExpressibleError(
            f"'{show(bad)}' is not part of a recognised f (logistic, robust, hinge, square, sigmoid, "
            "exo, discopop, or the semantic loss -log q)", span, piece=bad,
            hint="the decompiler reads -log sigmoid(s), softplus(-s), max(0, 1 - s), "
                 "(rho - 1/(2*beta))^2, sigmoid(-s), exo, discopop and -log q")
    return "semantic", e, {}, sympy.Integer(1)


def logistic(logsig: dict, span) -> tuple[str, sympy.Expr, dict, sympy.Expr]:
    args = list(logsig)
    u = args[0]
    if any(sympy.expand(a - u) != 0 and sympy.expand(a + u) != 0 for a in args):
        raise NotExpressibleError(
            "the log-sigmoid terms have different arguments (" + ", ".join(map(str, args))
            + "): this is a sum of several terms, not one f of one structure", span,
            hint="decompile each term separately")
    a = sum((c for x, c in logsig.items() if sympy.expand(x - u) == 0), sympy.Integer(0))
    b = sum((c for x, c in logsig.items() if sympy.expand(x + u) == 0), sympy.Integer(0))
    # a*log sigmoid(u) + b*log sigmoid(-u); s is the side with the larger weight.
    if is_positive(a - b, span) is False and sympy.simplify(a - b) != 0:
        s, big, small = u, -a, -b
    else:
        s, big, small = -u, -b, -a
    weight = sympy.simplify(big + small)
    if is_positive(big, span) is not True:
        raise NotExpressibleError(f"-log sigmoid(s) has a non-positive weight ({-big})", span)
    if small == 0:
        return "logistic", s, {}, sympy.simplify(big)
    if is_positive(small, span):  # -(1-eps) log sig(s) - eps log sig(-s)
        eps = sympy.simplify(small / weight)
        if eps == sympy.Rational(1, 2):
            raise NotExpressibleError(
                "log sigmoid(s) and log sigmoid(-s) have equal weights (label smoothing 1/2): "
                "the loss is symmetric in s and prefers neither response", span)
        return "logistic", s, {"label_smoothing": eps}, weight
    r = sympy.simplify(-small / weight)  # robust: eps/(1-2eps) = r
    return "robust", s, {"label_smoothing": sympy.simplify(r / (1 + 2 * r))}, weight



def hinge(coeff, m: sympy.Max, span):
    args = [sympy.expand(a) for a in m.args]
    if len(args) != 2 or 0 not in args:
        raise NotExpressibleError(f"'{show(m)}' is not max(0, 1 - s)", span)
    u = next(a for a in args if a != 0)
    c0 = sum((t for t in sympy.Add.make_args(u) if const(t)), sympy.Integer(0))
    if c0.is_number and c0.is_positive:
        # k*max(0, c0 + v) = k*c0*max(0, 1 - s) with s = -v/c0
        return "hinge", sympy.expand(-(u - c0) / c0), {}, sympy.simplify(coeff * c0)
    # a zero, negative or symbolic margin needs no assumption about its sign:
    # max(0, c0 + v) = max(0, 1 - s) with s = -v - (c0 - 1), i.e. gamma = c0 - 1
    return "hinge", sympy.expand(1 - u), {}, coeff


def square(coeff, base, span):
    base = sympy.expand(base)
    c0 = sum((t for t in sympy.Add.make_args(base) if const(t)), sympy.Integer(0))
    if c0 == 0:
        raise NotExpressibleError(
            f"'({show(base)})^2' has no margin: the square family is (rho - 1/(2*beta))^2", span)
    return "square", sympy.expand(base - c0), {"c0": c0}, coeff


def linear(e: sympy.Expr, span) -> tuple[str, sympy.Expr, dict, sympy.Expr]:
    """``e = weight * (-s)``: the ``linear`` family (f = -s), for a term that is a multiple of
    a log-ratio with no outer function, such as SELM's ``alpha*beta*(ps - rs)``. The
    pipeline tries it last, when no other reading (the semantic loss ``-log q`` included)
    fits, so ``-pc`` stays ``logistic(CE)``.

    The scale of ``-e`` is ``weight * beta``; a factor that is the parameter ``beta`` is the
    temperature and the rest the weight, else the whole scale is the weight and ``beta`` 1
    (as the semantic loss reads ``-k*log q``).

    >>> from logicpo.decompiler.symbolic import logp
    >>> ps, rs = logp("M(ys)"), logp("Ref(ys)")
    >>> family, s, _, weight = linear(2 * BETA * (ps - rs), None)
    >>> family, s, weight
    ('linear', -M_ys*beta + Ref_ys*beta, 2)
    """
    parts, _ = split(-e, span)
    scale, _ = peel_beta(parts, span)
    weight = scale / BETA if BETA in sympy.Mul.make_args(scale) else scale
    return "linear", sympy.expand(-e / weight), {}, sympy.simplify(weight)
