"""Closed forms: the semantic log-ratio and the paper's loss as SymPy expressions in
the log-probs ``pc, pr, rc, rr`` (spec section 3).

``WMC(ok)`` and ``WMC(bad)`` are multilinear polynomials in the atom weights
``w = exp(logp)``. Each is factorised; a factor ``w`` becomes ``logp``, a factor
``1 - w`` becomes ``log1mexp(logp)``, any other factor ``q`` stays ``log(q)`` with
``w`` written ``exp(logp)``. Common factors cancel, which is how DPO's four-atom
counts collapse to ``(pc - rc) - (pr - rr)``.

>>> from logicpo.logic.structure import Structure
>>> cpo = Structure.from_masks("CPO", ("M(yw)", "M(yl)"), 0b1010, 0b1100)
>>> closed_form(cpo).text
'-log sigmoid(pc - pr)'
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import product

import sympy

from logicpo.logic.structure import Degeneracy, Structure

pc, pr, rc, rr = sympy.symbols("pc pr rc rr", real=True)
LOGP = {"M(yw)": pc, "M(yl)": pr, "Ref(yw)": rc, "Ref(yl)": rr}
WEIGHT = {name: sympy.Symbol(f"w_{lp}", positive=True) for name, lp in LOGP.items()}
_SIDE = {pc: "chosen", rc: "chosen", pr: "rejected", rr: "rejected"}


class log1mexp(sympy.Function):  # noqa: N801 (named as in the literature)
    """``log(1 - exp(x))``, the log-weight of a negated atom."""

    nargs = 1

    def fdiff(self, argindex=1):
        x = self.args[0]
        return -sympy.exp(x) / (1 - sympy.exp(x))

    def _eval_rewrite_as_log(self, x, **kwargs):
        return sympy.log(1 - sympy.exp(x))

    def _latex(self, printer):
        arg = printer._print(self.args[0])
        return rf"\operatorname{{log1mexp}}\left({arg}\right)"


class sigmoid(sympy.Function):  # noqa: N801
    """The logistic function ``1 / (1 + exp(-x))``."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _latex(self, printer):
        arg = printer._print(self.args[0])
        return rf"\sigma\left({arg}\right)"


@dataclass(frozen=True)
class ClosedForm:
    """``rho`` (semantic log-ratio) and ``loss`` (the paper's loss) with their displays."""

    rho: sympy.Expr | None
    loss: sympy.Expr
    text: str
    rho_text: str | None
    latex: str
    degeneracy: Degeneracy | None


def wmc(region_mask: int, atoms: tuple[str, ...]) -> sympy.Expr:
    """The weighted model count of a region as a polynomial in the weights ``w_pc`` ...,
    expanded: ``sum over worlds k of prod_i (w_i if atom i is true in k else 1 - w_i)``.

    The coefficient of the monomial ``prod_{i in S} w_i`` is the Moebius transform of the
    region's indicator, ``sum over worlds k within S of (-1)^|S - k|``, computed on integers
    (SymPy only assembles the result).

    >>> wmc(0b1000, ("M(yw)", "M(yl)")), wmc(0b0010, ("M(yw)", "M(yl)"))
    (w_pc*w_pr, -w_pc*w_pr + w_pc)
    """
    n = len(atoms)
    coef = [(region_mask >> k) & 1 for k in range(1 << n)]
    for i in range(n):
        bit = 1 << i
        for s in range(1 << n):
            if s & bit:
                coef[s] -= coef[s ^ bit]
    weights = [WEIGHT[a] for a in atoms]
    return sympy.Add(*(c * sympy.Mul(*(w for i, w in enumerate(weights) if (s >> i) & 1))
                       for s, c in enumerate(coef) if c))


def _factors(poly: sympy.Expr) -> tuple[sympy.Expr, Counter]:
    """``poly = coeff * prod(factor ** mult)``, each factor normalised so ``1 - w`` is kept."""
    coeff, factors = sympy.factor_list(poly)
    out: Counter = Counter()
    for f, mult in factors:
        for w in WEIGHT.values():
            if sympy.expand(f - (w - 1)) == 0:  # w - 1 = -(1 - w)
                f, coeff = 1 - w, coeff * (-1) ** mult
        out[f] += mult
    # Only a factor of one sign on the weights' cube may get a log of its own: two factors
    # that are both negative somewhere (their product positive) would give log(-x) = log x +
    # I*pi twice (a complex rho). Factors of a multilinear polynomial are multilinear, so
    # the sign on the cube is decided at its vertices.
    for f, mult in list(out.items()):
        if _cube_sign(f) < 0:
            out.pop(f)
            out[sympy.expand(-f)] += mult
            coeff *= (-1) ** mult
    mixed = [(f, m) for f, m in out.items() if _cube_sign(f) == 0]
    if mixed:  # one log of their product, positive as the WMC is
        for f, _ in mixed:
            out.pop(f)
        out[sympy.expand(sympy.Mul(*(f ** m for f, m in mixed)))] += 1
    if coeff < 0:  # a WMC is positive: move the sign into a factor, never log(-1) = I*pi
        f = next(f for f, m in out.items() if m % 2)
        out[sympy.expand(-f)] = out.pop(f)
        coeff = -coeff
    return coeff, out


def _cube_sign(f: sympy.Expr) -> int:
    """1 if the multilinear ``f`` is >= 0 at every vertex of the weights' cube, -1 if <= 0,
    0 if its sign changes."""
    ws = sorted(f.free_symbols, key=str)
    values = [f.subs(dict(zip(ws, bits, strict=True))) for bits in product((0, 1), repeat=len(ws))]
    if all(v >= 0 for v in values):
        return 1
    if all(v <= 0 for v in values):
        return -1
    return 0


def _log_of(factor: sympy.Expr) -> sympy.Expr:
    to_logp = {WEIGHT[a]: LOGP[a] for a in WEIGHT}
    for a, w in WEIGHT.items():
        if factor == w:
            return LOGP[a]
        if sympy.expand(factor - (1 - w)) == 0:
            return log1mexp(LOGP[a])
    exp_form = factor.subs({w: sympy.exp(lp) for w, lp in to_logp.items()})
    return sympy.log(sympy.powsimp(exp_form))


def _log_terms(poly: sympy.Expr) -> list[tuple[sympy.Expr, int]]:
    coeff, factors = _factors(poly)
    terms = [(_log_of(f), m) for f, m in factors.items()]
    if coeff != 1:
        terms.append((sympy.log(coeff), 1))
    return terms


def closed_form(s: Structure) -> ClosedForm:
    """The closed form of ``rho`` and of the loss ``-log sigmoid(rho)`` for ``s``."""
    deg = s.degeneracy
    if deg is not None:
        value = {Degeneracy.INFINITE: sympy.oo, Degeneracy.ZERO: sympy.Integer(0),
                 Degeneracy.CONSTANT: sympy.log(2), Degeneracy.UNDEFINED: sympy.nan}[deg]
        return ClosedForm(None, value, _plain(value), None, sympy.latex(value), deg)
    t, b = wmc(s.ok_mask, s.atoms), wmc(s.bad_mask, s.atoms)
    full = (1 << (1 << len(s.atoms))) - 1
    if s.ok_mask & s.bad_mask == 0 and s.ok_mask | s.bad_mask == full:
        # The classic semantic loss of ok: -log sigmoid(rho) = -log WMC(ok).
        terms = Counter()
        for term, m in _log_terms(t):
            terms[term] += m
        rho = _rho(t, b)
        loss = -sum((m * term for term, m in terms.items()), sympy.Integer(0))
        text = _plain(loss) if len(terms) > 1 else "-" + _plain(next(iter(terms)))
        if len(terms) == 1 and next(iter(terms.values())) != 1:
            text = _plain(loss)
        return ClosedForm(rho, loss, text, _rho_text(rho), sympy.latex(loss), None)
    rho = _rho(t, b)
    loss = -sympy.log(sigmoid(rho))
    text = f"-log sigmoid({_rho_text(rho)})"
    return ClosedForm(rho, loss, text, _rho_text(rho), sympy.latex(loss), None)


def _rho(t: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    counts: Counter = Counter()
    for term, m in _log_terms(t):
        counts[term] += m
    for term, m in _log_terms(b):
        counts[term] -= m
    return sum((m * term for term, m in counts.items() if m), sympy.Integer(0))


def _plain(expr: sympy.Expr) -> str:
    return str(expr).replace("**", "^")


def _term_key(term: sympy.Expr):
    syms = sorted(str(s) for s in term.free_symbols)
    return (0 if term.is_Symbol else 1, ["pc", "rc", "pr", "rr"].index(syms[0]) if syms else 9)


def _signed_sum(parts: list[tuple[int, sympy.Expr]]) -> str:
    text = ""
    for coef, term in parts:
        body = _plain(term)
        mag = abs(coef)
        body = body if mag == 1 else f"{mag}*{body}"
        if not text:
            text = body if coef > 0 else "-" + body
        else:
            text += (" + " if coef > 0 else " - ") + body
    return text


def _rho_text(rho: sympy.Expr) -> str:
    """``rho`` grouped by response: ``(pc - rc) - (pr - rr)`` rather than SymPy's order."""
    groups: dict[str, list[tuple[int, sympy.Expr]]] = {"chosen": [], "rejected": [], "mixed": []}
    for arg in sympy.Add.make_args(rho):
        coef, term = arg.as_coeff_Mul()
        sides = {_SIDE.get(s, "mixed") for s in term.free_symbols}
        side = sides.pop() if len(sides) == 1 else "mixed"
        groups[side].append((coef, term))
    for parts in groups.values():
        parts.sort(key=lambda p: (_term_key(p[1]), bool(p[0] < 0)))
    chunks: list[str] = []
    for side in ("chosen", "rejected", "mixed"):
        parts = groups[side]
        if not parts:
            continue
        negate = bool(chunks) and parts[0][0] < 0
        if negate:
            parts = [(-c, t) for c, t in parts]
        body = _signed_sum(parts)
        if len(parts) > 1 and len(groups["chosen"] + groups["rejected"] + groups["mixed"]) > len(parts):
            body = f"({body})"
        if not chunks:
            chunks.append(body)
        else:
            chunks.append(("- " if negate else "+ ") + body)
    return " ".join(chunks) if chunks else "0"
