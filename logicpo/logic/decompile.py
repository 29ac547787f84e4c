"""Decompilation (spec section 6): from a loss written in log-probs back to its structure.

The expression is untrusted text: it is parsed with a whitelist
(:mod:`logicpo.syntax.loss_expr`) and translated node by node into SymPy, never evaluated.
Then:

1. the outer ``f`` is recognised (logistic with label smoothing, robust, hinge, square,
   sigmoid, exo, discopop, or the classic semantic loss ``-log q``) and ``beta``, the
   margin, the smoothing and the temperature are peeled off, leaving ``s = beta*rho - gamma``;
2. ``rho`` is split into log-probability terms (``pc``, ``log1mexp(pc)``, ``log(q)``) with
   integer exponents, so ``exp(rho) = t/b`` with ``exp(logp) -> w``; common factors cancel;
3. ``t`` and ``b`` are expanded in the world basis: the coefficient of world ``k`` of a
   multilinear polynomial is its value at the vertex ``w = bits(k)``. All coefficients 0 or 1
   (after one common scale) give the regions; otherwise the loss is not expressible;
4. the structure is built from the regions (core shown modulo cond);
5. the result is compiled back and compared numerically with the original (round trip).

>>> r = decompile("-logsigmoid(beta*((pc - rc) - (pr - rr)))")
>>> r.structure.name, r.family, r.params["beta"]
('DPO', 'logistic', 'beta')
>>> r.structure.core_text
'(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))'
>>> decompile("softplus(pr - pc)").structure.name
'CPO'
>>> decompile("-log(exp(pc) + exp(pr))")
Traceback (most recent call last):
...
logicpo.logic.decompile.NotExpressibleError: <loss>:1:1: not expressible: ...
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import reduce

import sympy

from logicpo.errors import LogicpoError, Span
from logicpo.logic.closed_form import LOGP, WEIGHT, closed_form, log1mexp, sigmoid
from logicpo.logic.closed_form import pc as PC
from logicpo.logic.closed_form import pr as PR
from logicpo.logic.closed_form import rc as RC
from logicpo.logic.closed_form import rr as RR
from logicpo.logic.formulas import ATOMS_REF, ATOMS_SINGLE
from logicpo.logic.identify import same_regions
from logicpo.logic.structure import Structure
from logicpo.logic.truth import World
from logicpo.syntax import loss_expr as lx

BETA = sympy.Symbol("beta", positive=True)
GAMMA = sympy.Symbol("gamma", real=True)
_VARS = {"pc": PC, "pr": PR, "rc": RC, "rr": RR, "beta": BETA, "gamma": GAMMA}
_LOGPS = (PC, PR, RC, RR)
_ATOM_OF = {lp: name for name, lp in LOGP.items()}
MAX_POWER = 8


class NotExpressibleError(LogicpoError):
    """The loss is well formed but is not ``f(beta*rho - gamma)`` of any structure."""

    def __init__(self, message: str, span: Span | None = None, *,
                 piece: sympy.Expr | None = None, **kw) -> None:
        super().__init__(f"not expressible: {message}", span, **kw)
        self.piece = piece  # the offending sub-expression, located in the text if possible


@dataclass(frozen=True)
class Decompiled:
    """A decompiled loss: its structure, outer family and parameters, and the checks done."""

    expression: str
    structure: Structure
    family: str
    exact_params: dict[str, sympy.Expr]  # beta, gamma, label_smoothing, tau (numbers or symbols)
    exact_weight: sympy.Expr
    rho: sympy.Expr  # the semantic log-ratio as written (after peeling f, beta, gamma)
    same_as: tuple[str, ...]  # zoo structures with the same regions
    round_trip_points: int = 0
    round_trip_error: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def params(self) -> dict[str, float | str]:
        """Parameters as floats, or as the symbol's name (``'beta'``) when symbolic."""
        return {k: _plain(v) for k, v in self.exact_params.items()}

    @property
    def weight(self) -> float | str:
        return _plain(self.exact_weight)

    @property
    def closed_form(self) -> str:
        return closed_form(self.structure).text

    def to_json(self) -> dict:
        """The ``show --json`` contract plus ``f``, its parameters and the round trip."""
        return {
            **self.structure.to_json(),
            "expression": self.expression, "f": self.family,
            "params": {k: _json_value(v) for k, v in self.params.items()},
            "weight": _json_value(self.weight), "same_as": list(self.same_as),
            "round_trip": {"points": self.round_trip_points,
                           "max_rel_error": self.round_trip_error},
            "notes": list(self.notes),
        }


def _json_value(v):
    if isinstance(v, (int, float, str)) or v is None:
        return v
    return str(v)


# ---------------------------------------------------------------- AST -> SymPy


def to_sympy(node: lx.LossNode) -> sympy.Expr:
    """The SymPy expression of a parsed loss (a translation, node by node)."""
    if isinstance(node, lx.Num):
        return sympy.Rational(repr(node.value))
    if isinstance(node, lx.Var):
        return _VARS[node.name]
    if isinstance(node, lx.Neg):
        return -to_sympy(node.arg)
    if isinstance(node, lx.BinOp):
        left, right = to_sympy(node.left), to_sympy(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "/":
            if right == 0:
                raise NotExpressibleError("division by zero", node.right.span)
            return left / right
        if not (right.is_Integer and abs(int(right)) <= MAX_POWER):
            raise NotExpressibleError(
                f"powers must be whole numbers between -{MAX_POWER} and {MAX_POWER}, "
                f"not {right}", node.right.span)
        return left ** right
    if isinstance(node, lx.Call):
        args = [to_sympy(a) for a in node.args]
        try:
            return _call(node.func, args)
        except (ValueError, TypeError, ArithmeticError) as exc:  # e.g. max of complex values
            raise NotExpressibleError(f"{node.func}(...) cannot be taken here: {exc}",
                                      node.span) from None
    raise TypeError(f"not a loss node: {node!r}")


def _call(func: str, args: list[sympy.Expr]) -> sympy.Expr:
    x = args[0]
    return {
        "log": lambda: sympy.log(x),
        "exp": lambda: sympy.exp(x),
        "sigmoid": lambda: sigmoid(x),
        "logsigmoid": lambda: sympy.log(sigmoid(x)),
        "softplus": lambda: -sympy.log(sigmoid(-x)),
        "log1mexp": lambda: log1mexp(x),
        "relu": lambda: sympy.Max(0, x),
        "max": lambda: sympy.Max(*args),
    }[func]()


def evaluate(node: lx.LossNode, env: dict[str, float]) -> float:
    """The value of a parsed loss in float64 (``math`` only), for the round trip."""
    if isinstance(node, lx.Num):
        return node.value
    if isinstance(node, lx.Var):
        return env[node.name]
    if isinstance(node, lx.Neg):
        return -evaluate(node.arg, env)
    if isinstance(node, lx.BinOp):
        a, b = evaluate(node.left, env), evaluate(node.right, env)
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                "/": lambda: a / b, "**": lambda: a ** b}[node.op]()
    args = [evaluate(a, env) for a in node.args]
    x = args[0]
    return {
        "log": lambda: math.log(x), "exp": lambda: math.exp(x),
        "sigmoid": lambda: _sigmoid(x), "logsigmoid": lambda: -_softplus(-x),
        "softplus": lambda: _softplus(x), "log1mexp": lambda: _log1mexp(x),
        "relu": lambda: max(0.0, x), "max": lambda: max(args),
    }[node.func]()


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _log1mexp(a: float) -> float:
    return math.log(-math.expm1(a)) if a > -math.log(2) else math.log1p(-math.exp(a))


# ---------------------------------------------------------------- step 1: the outer f


def _normalise(e: sympy.Expr) -> sympy.Expr:
    """Spell softplus, sigmoid and odds the same way every time (all weights are positive)."""

    def is_one_plus_exp(a) -> bool:
        return isinstance(a, sympy.Add) and len(a.args) == 2 and sympy.S.One in a.args and \
            any(isinstance(t, sympy.exp) for t in a.args)

    def exp_arg(a) -> sympy.Expr:
        return next(t for t in a.args if isinstance(t, sympy.exp)).args[0]

    e = sympy.expand_log(e, force=True)
    # log(1 + exp(u)) = softplus(u) = -log sigmoid(-u)
    e = e.replace(lambda x: isinstance(x, sympy.log) and is_one_plus_exp(x.args[0]),
                  lambda x: -sympy.log(sigmoid(-exp_arg(x.args[0]))))
    # 1/(1 + exp(u)) = sigmoid(-u)
    e = e.replace(lambda x: isinstance(x, sympy.Pow) and x.exp == -1 and is_one_plus_exp(x.base),
                  lambda x: sigmoid(-exp_arg(x.base)))
    e = e.replace(lambda x: isinstance(x, sympy.log) and isinstance(x.args[0], sigmoid),
                  lambda x: sympy.log(x.args[0]))
    return sympy.expand(e, multinomial=False)  # keep (...)^2 whole for the square family


def _const(x: sympy.Expr) -> bool:
    return not (x.free_symbols & set(_LOGPS))


def _recognise(e: sympy.Expr, span: Span | None) -> tuple[str, sympy.Expr, dict, sympy.Expr]:
    """``(family, s, params, weight)`` with ``e = weight * f(s)`` (``s = beta*rho - gamma``)."""
    terms = sympy.Add.make_args(e)
    if any(_mixes_sigmoid(t) for t in terms):
        return _exo_or_discopop(terms, span)
    logsig: dict[sympy.Expr, sympy.Expr] = {}
    constant = sympy.Integer(0)
    other = []
    for term in terms:
        coeff, rest = term.as_independent(*_LOGPS, as_Add=False)
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
            raise NotExpressibleError(
                f"a logistic loss must be made of log-sigmoid terms only, but "
                f"'{extra}' is added to them", span, piece=other[0][1] if other else None,
                hint="write the loss as -log sigmoid(s), or decompile each term separately")
        return _logistic(logsig, span)
    if len(terms) == 1 or (len(other) == 1 and constant != 0):
        coeff, rest = other[0] if other else (1, e)
        if isinstance(rest, (sympy.Max, sympy.Pow)) and constant != 0:
            raise NotExpressibleError(
                f"the constant {constant} is added to '{coeff * rest}': hinge and square "
                "losses have no added constant", span, piece=rest)
        if isinstance(rest, sympy.Max):
            return _hinge(coeff, rest, span)
        if isinstance(rest, sympy.Pow) and rest.exp == 2:
            return _square(coeff, rest.base, span)
        if isinstance(rest, sigmoid):
            if constant == 0:
                return "sigmoid", -sympy.expand(rest.args[0]), {}, coeff
            if sympy.simplify(constant + coeff) == 0:  # k - k*sigmoid(u) = k*sigmoid(-u)
                return "sigmoid", sympy.expand(rest.args[0]), {}, constant
    if any(not _log_term(r) for _, r in other):
        bad = next(r for _, r in other if not _log_term(r))
        raise NotExpressibleError(
            f"'{bad}' is not part of a recognised f (logistic, robust, hinge, square, sigmoid, "
            "exo, discopop, or the semantic loss -log q)", span, piece=bad,
            hint="the decompiler reads -log sigmoid(s), softplus(-s), max(0, 1 - s), "
                 "(rho - 1/(2*beta))^2, sigmoid(-s), exo, discopop and -log q")
    return "semantic", e, {}, sympy.Integer(1)


def _logistic(logsig: dict, span) -> tuple[str, sympy.Expr, dict, sympy.Expr]:
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
    if _is_positive(a - b, span) is False and sympy.simplify(a - b) != 0:
        s, big, small = u, -a, -b
    else:
        s, big, small = -u, -b, -a
    weight = sympy.simplify(big + small)
    if _is_positive(big, span) is not True:
        raise NotExpressibleError(f"-log sigmoid(s) has a non-positive weight ({-big})", span)
    if small == 0:
        return "logistic", s, {}, sympy.simplify(big)
    if _is_positive(small, span):  # -(1-eps) log sig(s) - eps log sig(-s)
        eps = sympy.simplify(small / weight)
        if eps == sympy.Rational(1, 2):
            raise NotExpressibleError(
                "log sigmoid(s) and log sigmoid(-s) have equal weights (label smoothing 1/2): "
                "the loss is symmetric in s and prefers neither response", span)
        return "logistic", s, {"label_smoothing": eps}, weight
    r = sympy.simplify(-small / weight)  # robust: eps/(1-2eps) = r
    return "robust", s, {"label_smoothing": sympy.simplify(r / (1 + 2 * r))}, weight


# ---------------------------------------------------------------- exo and discopop
#
# Both multiply sigmoids with other functions of the same s:
#   exo       sigmoid(s)*(log sigmoid(s) - log(1-eps)) + sigmoid(-s)*(log sigmoid(-s) - log eps)
#   discopop  (1 - m)*(-log sigmoid(s)) + m*exp(-s),  m = sigmoid(s/tau)
# Every argument must be a constant multiple c*z of one z. The expression is rewritten in
# z alone with sigmoid(-c*z) = 1 - sigmoid(c*z) and log sigmoid(-z) = log sigmoid(z) - z, so
# that however it is spelled (sigmoid(-s) or 1 - sigmoid(s), reordered, expanded) it becomes
# one polynomial in L = log sigmoid(z), z, S_c = sigmoid(c*z) (c > 0) and exp(c*z), whose
# coefficients are compared with the family's.

_Z = sympy.Symbol("z", real=True)
_L = sympy.Symbol("L")  # log sigmoid(z)


def _mixes_sigmoid(term: sympy.Expr) -> bool:
    """A product of sigmoid(...) with log sigmoid(...), exp(...) or a log-prob: exo, discopop."""
    factors = [f for f in sympy.Mul.make_args(term) if not _const(f)]
    return any(isinstance(f, sigmoid) for f in factors) and any(
        isinstance(f, sympy.exp) or f in _LOGPS
        or (isinstance(f, sympy.log) and isinstance(f.args[0], sigmoid)) for f in factors)


def _exo_or_discopop(terms, span) -> tuple[str, sympy.Expr, dict, sympy.Expr]:
    # exp(-beta*pc)*exp(beta*pr)*... back into one exp(-s); the originals locate errors
    joined = [(sympy.powsimp(t, combine="exp"), t) for t in terms]
    exps = [f for t, _ in joined for f in sympy.Mul.make_args(t)
            if isinstance(f, sympy.exp) and not _const(f)]
    family = "discopop" if exps else "exo"
    z = next((sympy.expand(f.args[0].args[0]) for t, _ in joined
              for f in sympy.Mul.make_args(t)
              if isinstance(f, sympy.log) and isinstance(f.args[0], sigmoid)), None)
    if z is None and not exps:
        raise NotExpressibleError(
            "a sigmoid multiplied by log-probs is not part of a recognised f (exo and discopop "
            "multiply sigmoids by log sigmoid(s) or exp(-s))", span)
    if z is None or (exps and sympy.expand(exps[0].args[0] - z) == 0):
        z = sympy.expand(-exps[0].args[0])  # m*exp(-s) fixes the sign of s
    canon, sig_c, pieces = _in_z(joined, z, family, span)
    if exps and set(pieces["exp"]) != {-1}:
        c, f = next((c, f) for c, f in pieces["exp"].items() if c != -1)
        raise NotExpressibleError(
            f"'exp({sympy.expand(c * z)})' does not fit discopop: its exponential must be "
            "exp(-s) for the s of "
            f"-log sigmoid(s) (s = {z}), not exp({c}*s)", span, piece=f)
    try:
        poly = sympy.Poly(canon, _L, _Z, *sig_c.values(),
                          *[sympy.exp(c * _Z) for c in pieces["exp"]])
    except sympy.PolynomialError:
        raise NotExpressibleError(f"the loss looks like {family} ({_FORMULA[family]}) but is "
                                  "not built from its parts", span) from None
    coeffs = {m: sympy.simplify(c) for m, c in poly.as_dict().items()}
    gens = poly.gens
    if family == "exo":
        return _exo(coeffs, gens, z, sig_c, pieces, span)
    return _discopop(coeffs, gens, z, sig_c, pieces, span)


def _ratio_to(x: sympy.Expr, z: sympy.Expr, f: sympy.Expr, family: str, span) -> sympy.Expr:
    c = sympy.cancel(sympy.expand(x) / z)
    if not _const(c) or c == 0:
        raise NotExpressibleError(
            f"'{f}' does not fit {family}: its argument {x} is not a multiple of s = {z}, "
            "and every part of the loss must be a function of the same s", span, piece=f)
    return c


def _in_z(joined, z, family, span):
    """The loss as a polynomial in L, z, sigmoid(c*z), exp(c*z); and where each came from."""
    sig_c: dict[sympy.Expr, sympy.Symbol] = {}
    pieces: dict = {"sigmoid": {}, "exp": {}, "term": {}}
    total = sympy.Integer(0)
    # Terms such as sigmoid(-s)*pc - sigmoid(-s)*pr (from log sigmoid(-s) = log sigmoid(s) - s)
    # only make sense together: group them by the rest of the product, then read the sum as c*z.
    linear: dict[sympy.Expr, list] = {}
    for term, written in joined:
        factors = sympy.Mul.make_args(term)
        logps = [f for f in factors if f in _LOGPS]
        if len(logps) == 1:
            coeff, rest = sympy.Mul(*(f for f in factors if f != logps[0])).as_independent(
                *_LOGPS, as_Add=False)
            entry = linear.setdefault(rest, [sympy.Integer(0), written])
            entry[0] += coeff * logps[0]
            continue
        product = _factors_in_z(factors, z, family, span, sig_c, pieces)
        total += product
        pieces["term"].setdefault(_term_kind(product), written)
    z0 = sum((t for t in sympy.Add.make_args(z) if _const(t)), sympy.Integer(0))  # -gamma
    for rest, (lin, written) in linear.items():
        c = sympy.cancel(sympy.expand(lin) / (z - z0))
        if not _const(c):
            raise NotExpressibleError(
                f"'{lin}' appears outside any sigmoid, log sigmoid or exp, and is not a "
                f"multiple of s = {z}, so it is not part of {family} ({_FORMULA[family]})",
                span, piece=written)
        product = _factors_in_z(sympy.Mul.make_args(rest), z, family, span, sig_c, pieces)
        total += c * (_Z - z0) * product  # lin = c*(z - z0)
        pieces["term"].setdefault(_term_kind(product), written)
    return sympy.expand(total), sig_c, pieces


def _factors_in_z(factors, z, family, span, sig_c, pieces) -> sympy.Expr:
    product = sympy.Integer(1)
    for f in factors:
        if _const(f):
            product *= f
        elif isinstance(f, sympy.log) and isinstance(f.args[0], sigmoid):
            c = _ratio_to(f.args[0].args[0], z, f, family, span)
            if c not in (1, -1):
                raise NotExpressibleError(
                    f"'{f}' does not fit {family}: the log-sigmoid must be of s or -s "
                    f"(s = {z}), not of {c}*s", span, piece=f)
            product *= _L if c == 1 else _L - _Z
        elif isinstance(f, sigmoid):
            c = _ratio_to(f.args[0], z, f, family, span)
            if c.free_symbols:
                raise NotExpressibleError(
                    f"'{f}' does not fit {family}: the scale {c} of s in its argument must "
                    "be a number (it may not depend on beta or gamma)", span, piece=f)
            a = abs(c)
            if a not in sig_c:
                sig_c[a] = sympy.Symbol(f"S_{len(sig_c)}")
                pieces["sigmoid"][a] = f
            product *= sig_c[a] if c > 0 else 1 - sig_c[a]
        elif isinstance(f, sympy.exp):
            c = _ratio_to(f.args[0], z, f, family, span)
            pieces["exp"].setdefault(c, sympy.expand(f))  # as the text normalises
            product *= sympy.exp(c * _Z)
        else:
            raise NotExpressibleError(
                f"'{f}' is not part of {family} ({_FORMULA[family]})", span, piece=f)
    return product


_FORMULA = {
    "exo": "sigmoid(s)*(log sigmoid(s) - log(1-eps)) + sigmoid(-s)*(log sigmoid(-s) - log eps)",
    "discopop": "(1 - m)*(-log sigmoid(s)) + m*exp(-s), m = sigmoid(s/tau)",
}


def _term_kind(product: sympy.Expr) -> str:
    """Which part of the family a term of the text belongs to (to point at it)."""
    if any(isinstance(a, sympy.exp) for a in sympy.preorder_traversal(product)):
        return "exp"
    return "L" if product.has(_L) else "other"


def _exo(coeffs, gens, z, sig_c, pieces, span):
    if len(sig_c) != 1 or next(iter(sig_c)) != 1:
        f = next((f for c, f in pieces["sigmoid"].items() if c != 1), None)
        raise NotExpressibleError(
            f"'{f}' does not fit exo: its sigmoids must all be of s or -s (s = {z})", span,
            piece=f)

    def coeff(**powers) -> sympy.Expr:
        key = tuple(powers.get(str(g), 0) for g in gens)
        return coeffs.get(key, sympy.Integer(0))

    allowed = {(1, 0, 0), (0, 1, 0), (0, 1, 1), (0, 0, 1), (0, 0, 0), (1, 0, 1)}
    extra = [m for m, c in coeffs.items() if c != 0 and m not in allowed]
    if extra:
        raise NotExpressibleError(
            f"the loss has sigmoid(s)*log sigmoid(s) terms like exo but also "
            f"{_monomial(extra[0], gens, z)}, which exo ({_FORMULA['exo']}) has not", span)
    # exo = k*(L - z + S*z + (log eps - log(1-eps))*S - log eps) in z, S = S_0 = sigmoid(z)
    k = coeff(L=1)
    if coeff(L=1, S_0=1) != 0 or coeff(z=1) != -k or coeff(z=1, S_0=1) != k:
        raise NotExpressibleError(
            "the sigmoid(s)*log sigmoid(s) and sigmoid(-s)*log sigmoid(-s) halves of exo have "
            "different weights: exo is sigmoid(s)*(log sigmoid(s) - log(1-eps)) + "
            "sigmoid(-s)*(log sigmoid(-s) - log eps), one weight for both", span,
            piece=pieces["term"].get("L"))
    if _is_positive(k, span) is not True:
        raise NotExpressibleError(f"exo has a non-positive weight ({k})", span)
    log_eps = sympy.simplify(-coeff() / k)  # the sigmoid(-s) half's log eps
    log_1m = sympy.simplify(log_eps - coeff(S_0=1) / k)  # the sigmoid(s) half's log(1-eps)
    if (log_eps.free_symbols | log_1m.free_symbols) & {BETA, GAMMA}:
        raise NotExpressibleError(
            f"exo's label smoothing would depend on beta or gamma (log eps = {log_eps}, "
            f"log(1-eps) = {log_1m}): some part of the loss is not a function of s = {z}", span)
    eps_neg, eps_pos = sympy.exp(log_eps), sympy.simplify(1 - sympy.exp(log_1m))
    s = z
    if _is_positive(eps_neg + eps_pos - 1, span):  # written in -s: exo(-s, 1-eps) = exo(s, eps)
        s, eps_neg, eps_pos = -z, 1 - eps_pos, 1 - eps_neg
        log_1m, log_eps = sympy.log(1 - eps_pos), sympy.log(eps_neg)
    if not _same_number(eps_pos, eps_neg):
        digits = next(d for d in (6, 10, 17) if d == 17 or
                      _show(eps_pos, d) != _show(eps_neg, d))
        raise NotExpressibleError(
            f"exo's two halves use different label smoothings: sigmoid(s) is shifted by "
            f"log(1-eps) = {_show(log_1m, digits)}, so eps = {_show(eps_pos, digits)}, but "
            f"sigmoid(-s) by log eps = {_show(log_eps, digits)}, so eps = "
            f"{_show(eps_neg, digits)} (s = {s})", span,
            piece=sympy.expand_log(sympy.log(eps_neg), force=True),
            hint="exo is sigmoid(s)*(log sigmoid(s) - log(1-eps)) + "
                 "sigmoid(-s)*(log sigmoid(-s) - log eps) with one eps")
    eps = eps_neg
    if eps == sympy.Rational(1, 2):
        raise NotExpressibleError(
            "exo with eps = 1/2 is symmetric in s and prefers neither response", span)
    if _is_positive(eps, span) is not True:
        raise NotExpressibleError(f"exo needs 0 < eps < 1/2, but eps = {_show(eps)}", span)
    return "exo", s, {"label_smoothing": eps}, k


def _discopop(coeffs, gens, z, sig_c, pieces, span):
    if len(sig_c) != 1:
        f = list(pieces["sigmoid"].values())[1]
        raise NotExpressibleError(
            f"'{f}' does not fit discopop: m = sigmoid(s/tau) is taken with two different "
            f"temperatures ({', '.join(_show(1 / c) for c in sig_c)})", span, piece=f)
    (c,) = sig_c
    tau = 1 / c

    def coeff(L=0, z=0, m=0, x=0) -> sympy.Expr:  # noqa: N803
        return coeffs.get((L, z, m, x), sympy.Integer(0))

    # discopop = k*(-L + m*L + m*exp(-z))
    k = -coeff(L=1)
    extra = [m for m, v in coeffs.items() if v != 0 and m not in
             {(1, 0, 0, 0), (1, 0, 1, 0), (0, 0, 1, 1)}]
    if extra:
        raise NotExpressibleError(
            f"the loss has m*exp(-s) like discopop but also {_monomial(extra[0], gens, z)}, "
            f"which discopop ({_FORMULA['discopop']}) has not", span)
    if coeff(L=1, m=1) != k:
        raise NotExpressibleError(
            f"-log sigmoid(s) is weighted {_show(k)} but m*log sigmoid(s) {_show(coeff(L=1, m=1))}"
            ": discopop's logistic half is (1 - m)*(-log sigmoid(s)), with m = sigmoid(s/tau)",
            span, piece=pieces["term"].get("L"))
    if coeff(m=1, x=1) != k:
        raise NotExpressibleError(
            f"m*exp(-s) is weighted {_show(coeff(m=1, x=1))} but (1 - m)*(-log sigmoid(s)) "
            f"{_show(k)}: discopop gives both halves one weight", span,
            piece=pieces["term"].get("exp"))
    if _is_positive(k, span) is not True:
        raise NotExpressibleError(f"discopop has a non-positive weight ({k})", span)
    return "discopop", z, {"tau": tau}, k


def _monomial(m: tuple, gens, z) -> str:
    names = {"L": f"log sigmoid({z})", "z": f"({z})"}
    text = "*".join(f"{names.get(str(g), str(g))}" + (f"**{p}" if p > 1 else "")
                    for g, p in zip(gens, m, strict=True) if p)
    return f"a term {text or '1'}"


def _same_number(a: sympy.Expr, b: sympy.Expr) -> bool:
    if sympy.simplify(a - b) == 0:
        return True
    if a.free_symbols or b.free_symbols:
        return False
    x, y = float(a), float(b)
    return abs(x - y) <= 1e-12 * max(abs(x), abs(y))


def _show(x: sympy.Expr, digits: int = 6) -> str:
    return str(x) if x.free_symbols else f"{float(x):.{digits}g}"


def _hinge(coeff, m: sympy.Max, span):
    args = [sympy.expand(a) for a in m.args]
    if len(args) != 2 or 0 not in args:
        raise NotExpressibleError(f"'{m}' is not max(0, 1 - s)", span)
    u = next(a for a in args if a != 0)
    c0 = sum((t for t in sympy.Add.make_args(u) if _const(t)), sympy.Integer(0))
    if _is_positive(c0, span) is not True:
        raise NotExpressibleError(f"'{m}' is not max(0, 1 - s): its constant part {c0} "
                                  "must be positive", span)
    # k*max(0, c0 + v) = k*c0*max(0, 1 - s) with s = -v/c0
    return "hinge", sympy.expand(-(u - c0) / c0), {}, sympy.simplify(coeff * c0)


def _square(coeff, base, span):
    base = sympy.expand(base)
    c0 = sum((t for t in sympy.Add.make_args(base) if _const(t)), sympy.Integer(0))
    if c0 == 0:
        raise NotExpressibleError(
            f"'({base})^2' has no margin: the square family is (rho - 1/(2*beta))^2", span)
    return "square", sympy.expand(base - c0), {"c0": c0}, coeff


def _is_positive(x, span):
    x = sympy.simplify(x)
    if x.is_positive is None and x.free_symbols & {BETA, GAMMA}:
        raise NotExpressibleError(f"cannot decide the sign of {x}", span)
    return x.is_positive


# ---------------------------------------------------------------- step 2: s = beta*rho - gamma


def _log_term(x: sympy.Expr) -> bool:
    return x in _LOGPS or isinstance(x, (sympy.log, log1mexp))


def _split(s: sympy.Expr, span) -> tuple[dict[sympy.Expr, sympy.Expr], sympy.Expr]:
    """``s = sum(c_j * L_j) + c0`` with ``L_j`` log-probability terms."""
    parts: dict[sympy.Expr, sympy.Expr] = {}
    c0 = sympy.Integer(0)
    for term in sympy.Add.make_args(sympy.expand(s)):
        coeff, rest = term.as_independent(*_LOGPS, as_Add=False)
        if rest == 1:
            c0 += term
            continue
        if not _log_term(rest):
            raise NotExpressibleError(
                f"'{rest}' is not a log-probability term (pc, log1mexp(pc), log of a sum of "
                "probabilities, ...)", span, piece=rest)
        if rest.free_symbols & {BETA, GAMMA}:
            raise NotExpressibleError(f"'{rest}' mixes beta or gamma into a log-probability", span,
                                      piece=rest)
        parts[rest] = parts.get(rest, 0) + coeff
    parts = {k: v for k, v in parts.items() if v != 0}
    if not parts:
        raise NotExpressibleError("the loss does not depend on the log-probs pc, pr, rc, rr",
                                  span)
    return parts, c0


def _peel_beta(parts: dict, span) -> tuple[sympy.Expr, dict[sympy.Expr, int]]:
    """``beta`` and the integer exponents ``m_j`` with ``c_j = beta * m_j``, gcd(m) = 1."""
    items = list(parts.items())
    first = items[0][1]
    ratios = []
    for term, c in items:
        r = sympy.nsimplify(sympy.simplify(c / first), rational=True)
        if not r.is_Rational:
            raise NotExpressibleError(
                f"the coefficients {first} of '{items[0][0]}' and {c} of '{term}' are not in a "
                "rational ratio, so exp(rho) is not a ratio of polynomials", span)
        ratios.append(r)
    den = reduce(sympy.ilcm, [r.q for r in ratios], 1)
    nums = [int(r * den) for r in ratios]
    g = reduce(math.gcd, nums)
    ms = [m // g for m in nums]
    beta = sympy.simplify(first / ms[0])
    if _is_positive(beta, span) is False:
        beta, ms = -beta, [-m for m in ms]
    return beta, {term: m for (term, _), m in zip(items, ms, strict=True)}


# ---------------------------------------------------------------- step 3: world basis


def _poly_of(term: sympy.Expr, span) -> sympy.Expr:
    """``exp(term)`` as an expression in the weights (``exp(logp) -> w``)."""
    if term in _LOGPS:
        return WEIGHT[_ATOM_OF[term]]
    if isinstance(term, log1mexp):
        inner = term.args[0]
        if inner not in _LOGPS:
            raise NotExpressibleError(f"log1mexp must be applied to a log-prob, not '{inner}'",
                                      span)
        return 1 - WEIGHT[_ATOM_OF[inner]]
    q = sympy.expand(term.args[0], power_exp=True, mul=False, multinomial=False)
    q = q.replace(lambda x: isinstance(x, log1mexp), lambda x: 1 - sympy.exp(x.args[0]))
    q = sympy.expand(q, power_exp=True)
    q = q.subs({lp: sympy.log(WEIGHT[_ATOM_OF[lp]]) for lp in _LOGPS})
    q = sympy.powsimp(sympy.expand(q, power_exp=True))
    return q


def _ratio(exponents: dict, span) -> tuple[sympy.Expr, sympy.Expr]:
    num, den = sympy.Integer(1), sympy.Integer(1)
    for term, m in exponents.items():
        p = _poly_of(term, span)
        if m > 0:
            num *= p ** m
        else:
            den *= p ** (-m)
    t, b = sympy.fraction(sympy.cancel(sympy.together(num / den)))
    return sympy.expand(t), sympy.expand(b)


def _world_coefficients(p: sympy.Expr, atoms: tuple[str, ...], what: str, span) -> list:
    ws = [WEIGHT[a] for a in atoms]
    if p.free_symbols - set(ws):
        raise NotExpressibleError(
            f"{what} = {p} is not a polynomial in the atom weights", span)
    if not p.is_polynomial(*ws):
        raise NotExpressibleError(f"{what} = {p} is not a polynomial in the weights", span)
    poly = sympy.Poly(p, *ws)
    for a, w in zip(atoms, ws, strict=True):
        if poly.degree(w) > 1:
            raise NotExpressibleError(
                f"{what} = {p} has degree {poly.degree(w)} in w({a}), so it is not a weighted "
                "model count (those are multilinear: each atom at most once per world)", span)
    n = len(atoms)
    return [p.subs({w: (k >> i) & 1 for i, w in enumerate(ws)}) for k in range(1 << n)]


def _regions(t, b, atoms, span) -> tuple[int, int]:
    ct = _world_coefficients(t, atoms, "WMC(ok)", span)
    cb = _world_coefficients(b, atoms, "WMC(bad)", span)
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
            f"exp(rho) = ({t}) / ({b}), and in the world basis {shown}; a structure needs every "
            "coefficient to be 0 or 1", span)
    ok = sum(1 << k for k, c in enumerate(ct) if c == 1)
    bad = sum(1 << k for k, c in enumerate(cb) if c == 1)
    return ok, bad


# ---------------------------------------------------------------- the whole pipeline


def decompile(expr: str, *, file: str = "<loss>", known: list[Structure] | None = None,
              check_points: int = 5, seed: int = 0) -> Decompiled:
    """The structure, outer family and parameters of the loss ``expr`` (spec section 6)."""
    node = lx.parse_loss_expression(expr, file)
    first = expr.splitlines()[0] if expr.strip() else ""
    span = Span(file, 1, 1, 1, len(first) + 1)
    try:
        return _decompile(expr, node, span, known, check_points, seed)
    except LogicpoError as exc:
        where = _locate(node, getattr(exc, "piece", None))
        if where is not None and exc.span == span:
            exc.span = where
            exc.source_line = expr.splitlines()[where.line - 1]
        elif exc.span == span and exc.source_line is None:
            exc.source_line = first
        raise


def _locate(node: lx.LossNode, piece: sympy.Expr | None) -> Span | None:
    """The span of the first sub-expression of the text whose SymPy form is ``piece``."""
    if piece is None:
        return None
    stack = [node]
    while stack:
        n = stack.pop(0)
        try:
            if n.span is not None and _normalise(to_sympy(n)) in (piece, -piece):
                return n.span
        except (LogicpoError, TypeError, ValueError):
            pass
        stack.extend(lx.children(n))
    return None


def _decompile(expr, node, span, known, check_points, seed) -> Decompiled:
    e = _normalise(to_sympy(node))
    family, s, params, weight = _recognise(e, span)
    notes = []
    if family == "semantic":
        # -k*log q: the classic semantic loss of a formula with probability q (spec 6.1).
        parts, c0 = _split(-e, span)
        k, exponents = _peel_beta(parts, span)
        if c0 != 0:
            raise NotExpressibleError(f"the constant {c0} is added to -log q", span)
        q_num, q_den = _ratio(exponents, span)
        t, b = q_num, sympy.expand(q_den - q_num)
        family, weight, beta, gamma = "logistic", k, sympy.Integer(1), sympy.Integer(0)
        rho = sympy.log(t) - sympy.log(b)
        notes.append("read as -log q, the semantic loss: t = q, b = 1 - q")
    else:
        parts, c0 = _split(s, span)
        beta, exponents = _peel_beta(parts, span)
        if family == "square":
            # (m*rho + c0)^2 = m^2 * (rho + c0/m)^2 and rho - 1/(2 beta) = rho + c0/m.
            m, c = beta, params.pop("c0")
            if _is_positive(-c / m, span) is not True:
                m, exponents = -m, {k: -v for k, v in exponents.items()}
            weight, beta, gamma = sympy.simplify(weight * m ** 2), sympy.simplify(-m / (2 * c)), 0
        else:
            gamma = sympy.simplify(-c0)
        t, b = _ratio(exponents, span)
        rho = sum((m * term for term, m in exponents.items()), sympy.Integer(0))
    atoms = ATOMS_REF if (t.free_symbols | b.free_symbols) & {
        WEIGHT["Ref(yw)"], WEIGHT["Ref(yl)"]} else ATOMS_SINGLE
    ok, bad = _regions(t, b, atoms, span)
    known = known if known is not None else _zoo_structures()
    structure = Structure.from_masks("decompiled", atoms, ok, bad, origin="decompile")
    same = same_regions(structure, known)
    if same:
        structure = structure.renamed(same[0])
    params = {"beta": sympy.sympify(beta), "gamma": sympy.sympify(gamma),
              **{k: sympy.sympify(v) for k, v in params.items()}}
    weight = sympy.sympify(weight)
    result = Decompiled(expr, structure, family, params, weight, rho, same, notes=tuple(notes))
    if check_points:
        error = round_trip(node, result, points=check_points, seed=seed)
        result = Decompiled(expr, structure, family, params, weight, rho, same,
                            check_points, error, tuple(notes))
    return result


def _plain(v: sympy.Expr) -> float | str:
    if v.free_symbols:
        return "beta" if v == BETA else "gamma" if v == GAMMA else str(v)
    return float(v)


def _zoo_structures() -> list[Structure]:
    from logicpo.program import zoo

    program = zoo()
    return [program.structure(n) for n in program.names_of("structure")]


# ---------------------------------------------------------------- step 5: the round trip


class RoundTripError(LogicpoError):
    """The decompiled structure does not reproduce the original loss (a logicpo bug)."""


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
