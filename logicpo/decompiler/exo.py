"""Step 1 for exo and discopop, which multiply sigmoids with other functions of one ``s``."""

from __future__ import annotations

import sympy

from logicpo.decompiler.symbolic import LOGPS, const, is_positive, parameters_of, show
from logicpo.errors import NotExpressibleError
from logicpo.logic.closed_form import sigmoid
from logicpo.logic.families import FAMILIES

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


def mixes_sigmoid(term: sympy.Expr) -> bool:
    """A product of sigmoid(...) with log sigmoid(...), exp(...) or a log-prob: exo, discopop."""
    factors = [f for f in sympy.Mul.make_args(term) if not const(f)]
    return any(isinstance(f, sigmoid) for f in factors) and any(
        isinstance(f, sympy.exp) or f in LOGPS
        or (isinstance(f, sympy.log) and isinstance(f.args[0], sigmoid)) for f in factors)


def exo_or_discopop(terms, span) -> tuple[str, sympy.Expr, dict, sympy.Expr]:
    # exp(-beta*pc)*exp(beta*pr)*... back into one exp(-s); the originals locate errors
    joined = [(sympy.powsimp(t, combine="exp"), t) for t in terms]
    exps = [f for t, _ in joined for f in sympy.Mul.make_args(t)
            if isinstance(f, sympy.exp) and not const(f)]
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
            f"-log sigmoid(s) (s = {show(z)}), not exp({c}*s)", span, piece=f)
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
    if not const(c) or c == 0:
        raise NotExpressibleError(
            f"'{show(f)}' does not fit {family}: its argument {show(x)} is not a multiple of s = {show(z)}, "
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
        logps = [f for f in factors if f in LOGPS]
        if len(logps) == 1:
            coeff, rest = sympy.Mul(*(f for f in factors if f != logps[0])).as_independent(
                *LOGPS, as_Add=False)
            entry = linear.setdefault(rest, [sympy.Integer(0), written])
            entry[0] += coeff * logps[0]
            continue
        product = _factors_in_z(factors, z, family, span, sig_c, pieces)
        total += product
        pieces["term"].setdefault(_term_kind(product), written)
    z0 = sum((t for t in sympy.Add.make_args(z) if const(t)), sympy.Integer(0))  # -gamma
    for rest, (lin, written) in linear.items():
        c = sympy.cancel(sympy.expand(lin) / (z - z0))
        if not const(c):
            raise NotExpressibleError(
                f"'{show(lin)}' appears outside any sigmoid, log sigmoid or exp, and is not a "
                f"multiple of s = {show(z)}, so it is not part of {family} ({_FORMULA[family]})",
                span, piece=written)
        product = _factors_in_z(sympy.Mul.make_args(rest), z, family, span, sig_c, pieces)
        total += c * (_Z - z0) * product  # lin = c*(z - z0)
        pieces["term"].setdefault(_term_kind(product), written)
    return sympy.expand(total), sig_c, pieces


def _factors_in_z(factors, z, family, span, sig_c, pieces) -> sympy.Expr:
    product = sympy.Integer(1)
    for f in factors:
        if const(f):
            product *= f
        elif isinstance(f, sympy.log) and isinstance(f.args[0], sigmoid):
            c = _ratio_to(f.args[0].args[0], z, f, family, span)
            if c not in (1, -1):
                raise NotExpressibleError(
                    f"'{show(f)}' does not fit {family}: the log-sigmoid must be of s or -s "
                    f"(s = {show(z)}), not of {c}*s", span, piece=f)
            product *= _L if c == 1 else _L - _Z
        elif isinstance(f, sigmoid):
            c = _ratio_to(f.args[0], z, f, family, span)
            if c.free_symbols:
                raise NotExpressibleError(
                    f"'{show(f)}' does not fit {family}: the scale {c} of s in its argument must "
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
                f"'{show(f)}' is not part of {family} ({_FORMULA[family]})", span, piece=f)
    return product


_FORMULA = {name: FAMILIES[name].formula for name in ("exo", "discopop")}


def _term_kind(product: sympy.Expr) -> str:
    """Which part of the family a term of the text belongs to (to point at it)."""
    if any(isinstance(a, sympy.exp) for a in sympy.preorder_traversal(product)):
        return "exp"
    return "L" if product.has(_L) else "other"


def _exo(coeffs, gens, z, sig_c, pieces, span):
    if len(sig_c) != 1 or next(iter(sig_c)) != 1:
        f = next((f for c, f in pieces["sigmoid"].items() if c != 1), None)
        raise NotExpressibleError(
            f"'{show(f)}' does not fit exo: its sigmoids must all be of s or -s (s = {show(z)})", span,
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
    if is_positive(k, span) is not True:
        raise NotExpressibleError(f"exo has a non-positive weight ({k})", span)
    log_eps = sympy.simplify(-coeff() / k)  # the sigmoid(-s) half's log eps
    log_1m = sympy.simplify(log_eps - coeff(S_0=1) / k)  # the sigmoid(s) half's log(1-eps)
    if parameters_of(log_eps) | parameters_of(log_1m):
        raise NotExpressibleError(
            "exo's label smoothing would depend on the parameter(s) "
            f"{', '.join(sorted(map(str, parameters_of(log_eps) | parameters_of(log_1m))))} (log eps = {log_eps}, "
            f"log(1-eps) = {log_1m}): some part of the loss is not a function of s = {show(z)}", span)
    eps_neg, eps_pos = sympy.exp(log_eps), sympy.simplify(1 - sympy.exp(log_1m))
    s = z
    if is_positive(eps_neg + eps_pos - 1, span):  # written in -s: exo(-s, 1-eps) = exo(s, eps)
        s, eps_neg, eps_pos = -z, 1 - eps_pos, 1 - eps_neg
        log_1m, log_eps = sympy.log(1 - eps_pos), sympy.log(eps_neg)
    if not _same_number(eps_pos, eps_neg):
        digits = next(d for d in (6, 10, 17) if d == 17 or
                      _show(eps_pos, d) != _show(eps_neg, d))
        raise NotExpressibleError(
            f"exo's two halves use different label smoothings: sigmoid(s) is shifted by "
            f"log(1-eps) = {_show(log_1m, digits)}, so eps = {_show(eps_pos, digits)}, but "
            f"sigmoid(-s) by log eps = {_show(log_eps, digits)}, so eps = "
            f"{_show(eps_neg, digits)} (s = {show(s)})", span,
            piece=sympy.expand_log(sympy.log(eps_neg), force=True),
            hint="exo is sigmoid(s)*(log sigmoid(s) - log(1-eps)) + "
                 "sigmoid(-s)*(log sigmoid(-s) - log eps) with one eps")
    eps = eps_neg
    if eps == sympy.Rational(1, 2):
        raise NotExpressibleError(
            "exo with eps = 1/2 is symmetric in s and prefers neither response", span)
    if is_positive(eps, span) is not True:
        raise NotExpressibleError(f"exo needs 0 < eps < 1/2, but eps = {_show(eps)}", span)
    return "exo", s, {"label_smoothing": eps}, k


def _discopop(coeffs, gens, z, sig_c, pieces, span):
    if len(sig_c) != 1:
        f = list(pieces["sigmoid"].values())[1]
        raise NotExpressibleError(
            f"'{show(f)}' does not fit discopop: m = sigmoid(s/tau) is taken with two different "
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
    if is_positive(k, span) is not True:
        raise NotExpressibleError(f"discopop has a non-positive weight ({k})", span)
    return "discopop", z, {"tau": tau}, k


def _monomial(m: tuple, gens, z) -> str:
    names = {"L": f"log sigmoid({show(z)})", "z": f"({show(z)})"}
    text = "*".join(f"{names.get(str(g), str(g))}" + (f"**{show(p)}" if p > 1 else "")
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


