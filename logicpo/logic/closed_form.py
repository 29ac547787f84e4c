"""Closed forms: the semantic log-ratio and the paper's loss as SymPy expressions in
the log-probs ``pc, pr, rc, rr`` (spec section 3), or in those of any atoms, each named by
:func:`logicpo.logic.atoms.logp_name` (``M_yg``, ``Ref_ys``, ``M_yl2``).

``WMC(ok)`` and ``WMC(bad)`` are multilinear polynomials in the atom weights
``w = exp(logp)``. Each is factorised; a factor ``w`` becomes ``logp``, a factor
``1 - w`` becomes ``log1mexp(logp)``, any other factor ``q`` stays ``log(q)`` with
``w`` written ``exp(logp)``. Common factors cancel, which is how DPO's four-atom
counts collapse to ``(pc - rc) - (pr - rr)``.

>>> from logicpo.logic.structure import Structure
>>> cpo = Structure.from_masks("CPO", ("M(yw)", "M(yl)"), 0b1010, 0b1100)
>>> closed_form(cpo).text
'-log sigmoid(pc - pr)'

Over atoms beyond the classic four, an irreducible factor ``q`` whose complement ``1 - q`` is
a product of literals is written through it, ``log q = log1mexp(log(1 - q))``: the listwise
CPO3, ``bad = M(yl) | M(yl2)``, has ``1 - WMC(bad) = (1 - e^pr)(1 - e^M_yl2)``. (This is
the display of the number; the compiled loss computes the same count as a chain of
``logaddexp``, which stays finite where these ``log1mexp`` terms round to 0: see
:mod:`logicpo.numbers.logwmc`.) Closed forms over the classic atoms are spelled as they
always were.

>>> cpo3 = Structure.from_masks("CPO3", ("M(yw)", "M(yl)", "M(yl2)"), 0b10101010, 0b11111100)
>>> closed_form(cpo3).rho_text
'pc - log1mexp(log1mexp(pr) + log1mexp(M_yl2))'
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from itertools import product

import sympy

from logicpo.logic.atoms import (
    ATOMS_REF,
    CLASSIC_LOGP,
    atom_key,
    is_classic,
    logp_name,
    model_key,
    model_of,
    response_key,
    response_of,
)
from logicpo.logic.structure import Degeneracy, Structure

#: the atom of each log-prob symbol made so far, by name (``"M_yg"`` -> ``"M(yg)"``)
_ATOM_OF: dict[str, str] = {}


@functools.cache
def logp_symbol(atom: str) -> sympy.Symbol:
    """The log-prob of ``atom`` as a real symbol: ``pc`` for ``M(yw)``, ``M_yg`` for ``M(yg)``."""
    _ATOM_OF[logp_name(atom)] = atom
    return sympy.Symbol(logp_name(atom), real=True)


@functools.cache
def weight_symbol(atom: str) -> sympy.Symbol:
    """The weight ``exp(logp)`` of ``atom`` as a positive symbol: ``w_pc``, ``w_M_yg``."""
    return sympy.Symbol(f"w_{logp_name(atom)}", positive=True)


pc, pr, rc, rr = (logp_symbol(a) for a in ATOMS_REF)
LOGP = {a: logp_symbol(a) for a in ATOMS_REF}
WEIGHT = {a: weight_symbol(a) for a in ATOMS_REF}


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

    def _sympystr(self, printer):
        """A sum over atoms beyond the classic four is printed in atom order
        (``log1mexp(pr) + log1mexp(M_yl2)``), not SymPy's alphabetical one; anything else
        as SymPy prints it."""
        arg = self.args[0]
        names = {str(s) for s in arg.free_symbols}
        if not arg.is_Add or names <= set(CLASSIC_LOGP.values()) or not names <= set(_ATOM_OF):
            return printer._print_Function(self)

        def key(term):
            first = min((atom_key(_ATOM_OF[str(s)]) for s in term.free_symbols), default=())
            return first, str(term)

        terms = sorted(sympy.Add.make_args(arg), key=key)
        text = printer._print(terms[0])
        for term in terms[1:]:
            body = printer._print(term)
            text += f" - {body[1:]}" if body.startswith("-") else f" + {body}"
        return f"log1mexp({text})"


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
    >>> wmc(0b10, ("M(yg)",))
    w_M_yg
    """
    n = len(atoms)
    coef = [(region_mask >> k) & 1 for k in range(1 << n)]
    for i in range(n):
        bit = 1 << i
        for s in range(1 << n):
            if s & bit:
                coef[s] -= coef[s ^ bit]
    weights = [weight_symbol(a) for a in atoms]
    return sympy.Add(*(c * sympy.Mul(*(w for i, w in enumerate(weights) if (s >> i) & 1))
                       for s, c in enumerate(coef) if c))


def _factors(poly: sympy.Expr, atoms: tuple[str, ...]) -> tuple[sympy.Expr, Counter]:
    """``poly = coeff * prod(factor ** mult)``, each factor normalised so ``1 - w`` is kept."""
    coeff, factors = sympy.factor_list(poly)
    out: Counter = Counter()
    for f, mult in factors:
        for w in (weight_symbol(a) for a in atoms):
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


def _log_of(factor: sympy.Expr, atoms: tuple[str, ...]) -> sympy.Expr:
    literal = _literal_log(factor, atoms)
    if literal is not None:
        return literal
    if not is_classic(atoms):
        through = _log_through_complement(factor, atoms)
        if through is not None:
            return through
    to_logp = {weight_symbol(a): logp_symbol(a) for a in atoms}
    exp_form = factor.subs({w: sympy.exp(lp) for w, lp in to_logp.items()})
    return sympy.log(sympy.powsimp(exp_form))


def _literal_log(factor: sympy.Expr, atoms: tuple[str, ...]) -> sympy.Expr | None:
    """``logp`` for a factor ``w``, ``log1mexp(logp)`` for ``1 - w``, else None."""
    for a in atoms:
        w = weight_symbol(a)
        if factor == w:
            return logp_symbol(a)
        if sympy.expand(factor - (1 - w)) == 0:
            return log1mexp(logp_symbol(a))
    return None


def _log_through_complement(factor: sympy.Expr, atoms: tuple[str, ...]) -> sympy.Expr | None:
    """``log1mexp(sum of literal logs)`` when ``1 - factor`` is a product of literals
    (``w`` and ``1 - w``), else None."""
    coeff, parts = sympy.factor_list(sympy.expand(1 - factor))
    logs = []
    for f, mult in parts:
        log = _literal_log(f, atoms)
        if log is None:
            negated = _literal_log(sympy.expand(-f), atoms)  # w - 1 = -(1 - w)
            if negated is None:
                return None
            log, coeff = negated, coeff * (-1) ** mult
        logs.append(mult * log)
    if coeff != 1 or not logs:
        return None
    return log1mexp(sympy.Add(*logs))


def _log_terms(poly: sympy.Expr, atoms: tuple[str, ...]) -> list[tuple[sympy.Expr, int]]:
    coeff, factors = _factors(poly, atoms)
    terms = [(_log_of(f, atoms), m) for f, m in factors.items()]
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
        for term, m in _log_terms(t, s.atoms):
            terms[term] += m
        rho = _rho(t, b, s.atoms)
        loss = -sum((m * term for term, m in terms.items()), sympy.Integer(0))
        text = _plain(loss) if len(terms) > 1 else "-" + _plain(next(iter(terms)))
        if len(terms) == 1 and next(iter(terms.values())) != 1:
            text = _plain(loss)
        return ClosedForm(rho, loss, text, _rho_text(rho, s.atoms), sympy.latex(loss), None)
    rho = _rho(t, b, s.atoms)
    loss = -sympy.log(sigmoid(rho))
    text = f"-log sigmoid({_rho_text(rho, s.atoms)})"
    return ClosedForm(rho, loss, text, _rho_text(rho, s.atoms), sympy.latex(loss), None)


def _rho(t: sympy.Expr, b: sympy.Expr, atoms: tuple[str, ...]) -> sympy.Expr:
    counts: Counter = Counter()
    for term, m in _log_terms(t, atoms):
        counts[term] += m
    for term, m in _log_terms(b, atoms):
        counts[term] -= m
    return sum((m * term for term, m in counts.items() if m), sympy.Integer(0))


def _plain(expr: sympy.Expr) -> str:
    return str(expr).replace("**", "^")


def _term_key(term: sympy.Expr, atom_of: dict[str, str]):
    """Plain log-probs first, then by the first symbol's response and model (``pc rc pr rr``
    for the classic atoms)."""
    syms = sorted(str(s) for s in term.free_symbols)
    if not syms:
        return (0 if term.is_Symbol else 1, (99,))
    atom = atom_of[syms[0]]
    return (0 if term.is_Symbol else 1,
            (response_key(response_of(atom)), model_key(model_of(atom))))


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


def _rho_text(rho: sympy.Expr, atoms: tuple[str, ...] = ATOMS_REF) -> str:
    """``rho`` grouped by response: ``(pc - rc) - (pr - rr)`` rather than SymPy's order
    (the responses in their order, ``yw`` then ``yl`` then the others; terms that read
    several responses last)."""
    atom_of = {logp_name(a): a for a in atoms}
    responses = sorted({response_of(a) for a in atoms}, key=response_key)
    groups: dict[str, list[tuple[int, sympy.Expr]]] = {r: [] for r in [*responses, None]}
    for arg in sympy.Add.make_args(rho):
        coef, term = arg.as_coeff_Mul()
        sides = {response_of(atom_of[str(s)]) for s in term.free_symbols}
        side = sides.pop() if len(sides) == 1 else None
        groups[side].append((coef, term))
    for parts in groups.values():
        parts.sort(key=lambda p: (_term_key(p[1], atom_of), bool(p[0] < 0)))
    total = sum(len(parts) for parts in groups.values())
    chunks: list[str] = []
    for parts in groups.values():
        if not parts:
            continue
        negate = bool(chunks) and parts[0][0] < 0
        if negate:
            parts = [(-c, t) for c, t in parts]
        body = _signed_sum(parts)
        if len(parts) > 1 and total > len(parts):
            body = f"({body})"
        if not chunks:
            chunks.append(body)
        else:
            chunks.append(("- " if negate else "+ ") + body)
    return " ".join(chunks) if chunks else "0"
