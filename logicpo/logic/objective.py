"""Objectives: weighted sums of terms ``f(S, param=value, ...)`` (spec section 3).

The structure ``S`` is the semantics of a term; the family ``f`` and its
parameters are optimisation details. This module only describes and checks
objectives; :mod:`logicpo.numbers` turns them into PyTorch modules.

>>> FAMILIES["logistic"].params
('beta', 'gamma', 'label_smoothing', 'normalize')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from logicpo.errors import DefinitionError, NameResolutionError, Span, did_you_mean
from logicpo.logic.structure import Structure

PARAM_DEFAULTS: dict[str, float | str | None] = {
    "beta": 1.0,
    "gamma": 0.0,
    "label_smoothing": 0.0,
    "tau": 0.05,
    "normalize": None,
}
NORMALIZE_VALUES = ("length", "none")


@dataclass(frozen=True)
class Family:
    """An outer function ``f`` applied to ``s = beta*rho - gamma``."""

    name: str
    formula: str
    params: tuple[str, ...]
    used_by: str


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("logistic", "-(1-eps)*log sigmoid(s) - eps*log sigmoid(-s)",
           ("beta", "gamma", "label_smoothing", "normalize"), "DPO, CPO, SimPO, cDPO"),
    Family("hinge", "max(0, 1 - s)", ("beta", "gamma", "normalize"), "SLiC, RSO"),
    Family("square", "(rho - 1/(2*beta))^2", ("beta", "normalize"), "IPO"),
    Family("robust", "(-(1-eps)*log sigmoid(s) + eps*log sigmoid(-s)) / (1 - 2*eps)",
           ("beta", "gamma", "label_smoothing", "normalize"), "robust DPO"),
    Family("exo", "sigmoid(s)*(log sigmoid(s) - log(1-eps)) + sigmoid(-s)*(log sigmoid(-s) - log eps)",
           ("beta", "gamma", "label_smoothing", "normalize"), "EXO"),
    Family("sigmoid", "sigmoid(-s)", ("beta", "gamma", "normalize"), "APO"),
    Family("discopop", "(1-m)*(-log sigmoid(s)) + m*exp(-s), m = sigmoid(s/tau)",
           ("beta", "gamma", "tau", "normalize"), "DiscoPOP"),
)}


@dataclass(frozen=True)
class Term:
    """``weight * f(structure, **params)``; ``params`` holds only what was given."""

    weight: float
    family: str
    structure: Structure
    params: tuple[tuple[str, float | str], ...] = ()

    def param(self, key: str):
        """A parameter as given, else its default."""
        return dict(self.params).get(key, PARAM_DEFAULTS[key])

    def text(self) -> str:
        args = [self.structure.name] + [f"{k}={_fmt_value(v)}" for k, v in self.params]
        call = f"{self.family}({', '.join(args)})"
        return call if self.weight == 1 else f"{_fmt_value(self.weight)}*{call}"


@dataclass(frozen=True)
class Objective:
    """A named weighted sum of terms."""

    name: str
    terms: tuple[Term, ...]
    doc: str | None = None
    span: Span | None = field(default=None, compare=False)

    def text(self) -> str:
        """The objective in DSL syntax, every term spelled out.

        >>> from logicpo.logic.structure import Structure
        >>> cpo = Structure.from_masks("CPO", ("M(yw)", "M(yl)"), 0b1010, 0b1100)
        >>> Objective("x", (Term(1.0, "hinge", cpo, (("beta", 0.1),)),)).text()
        'hinge(CPO, beta=0.1)'
        """
        out = ""
        for t in self.terms:
            piece = t.text()
            if not out:
                out = piece
            elif t.weight < 0:
                out += " - " + Term(-t.weight, t.family, t.structure, t.params).text()
            else:
                out += " + " + piece
        return out

    @property
    def structures(self) -> tuple[Structure, ...]:
        seen: dict[str, Structure] = {}
        for t in self.terms:
            seen.setdefault(t.structure.name, t.structure)
        return tuple(seen.values())

    @property
    def uses_reference(self) -> bool:
        return any(t.structure.uses_reference for t in self.terms)


def _fmt_value(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v)) if abs(v) < 1e15 else repr(v)
    return str(v)


def check_term(family: str, params: list[tuple[str, object, Span | None]],
               span: Span | None) -> tuple[tuple[str, float | str], ...]:
    """Validate a family name and its parameters; returns the normalised params."""
    if family not in FAMILIES:
        raise NameResolutionError(
            f"unknown loss family '{family}' (known: {', '.join(FAMILIES)})", span,
            hint=did_you_mean(family, FAMILIES))
    allowed = FAMILIES[family].params
    out: dict[str, float | str] = {}
    for key, value, pspan in params:
        where = pspan or span
        if key not in allowed:
            raise NameResolutionError(
                f"'{family}' has no parameter '{key}' (valid: {', '.join(allowed)})", where,
                hint=did_you_mean(key, allowed))
        if key in out:
            raise DefinitionError(f"parameter '{key}' is given twice", where)
        out[key] = _check_value(family, key, value, where)
    return tuple(out.items())


def _check_value(family: str, key: str, value, span: Span | None):
    if key == "normalize":
        if value not in NORMALIZE_VALUES:
            raise DefinitionError(f"normalize must be 'length' or 'none', not {value!r}", span)
        return value
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise DefinitionError(f"parameter '{key}' must be a finite number, not {value!r}", span)
    value = float(value)
    if key in ("beta", "tau") and value <= 0:
        raise DefinitionError(f"{key} must be positive, got {value:g}", span)
    if key == "label_smoothing":
        if not 0 <= value < 0.5:
            raise DefinitionError(f"label_smoothing must be in [0, 0.5), got {value:g}", span)
        if family == "exo" and value == 0:
            raise DefinitionError("exo needs label_smoothing > 0 (1e-3 is typical)", span)
    return value
