"""Objectives: weighted sums of terms ``f(S, param=value, ...)`` (spec section 3).

The structure ``S`` is the semantics of a term; the family ``f`` and its
parameters are optimisation details. This module only describes and checks
objectives; :mod:`logicpo.numbers` turns them into PyTorch modules.

Each family lists the parameters it takes and its defaults in the one family registry,
:mod:`logicpo.logic.families`, the one place where a default is decided; every default
passes the same check as a written value (``exo`` needs a label smoothing above 0, so its
default is TRL's typical 1e-3).

>>> FAMILIES["logistic"].params
('beta', 'gamma', 'label_smoothing', 'normalize')
>>> FAMILIES["exo"].default("label_smoothing"), FAMILIES["logistic"].default("label_smoothing")
(0.001, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from logicpo.errors import DefinitionError, NameResolutionError, Span, did_you_mean
from logicpo.logic.families import FAMILIES, PARAM_DEFAULTS, Family
from logicpo.logic.structure import Structure

__all__ = ["FAMILIES", "NORMALIZE_VALUES", "PARAM_DEFAULTS", "Family", "Objective", "Term",
           "check_term", "resolved_params"]

NORMALIZE_VALUES = ("length", "none")


@dataclass(frozen=True)
class Term:
    """``weight * f(structure, **params)``; ``params`` holds only what was given."""

    weight: float
    family: str
    structure: Structure
    params: tuple[tuple[str, float | str], ...] = ()

    def param(self, key: str):
        """A parameter as given, else its family's default."""
        return dict(self.params).get(key, FAMILIES[self.family].default(key))

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
    """Validate a family name and its parameters; returns the normalised params (only
    those given: a default is filled in by :meth:`Family.default`)."""
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
            raise DefinitionError("exo needs label_smoothing > 0 (its default is 1e-3, "
                                  "TRL's typical value)", span)
    return value


def resolved_params(family: str, given: dict) -> dict:
    """Every parameter of ``family``: the ``given`` ones checked, the others its defaults
    (checked the same way, so no default can be a value the check would refuse).

    >>> resolved_params("exo", {"beta": 0.1})
    {'beta': 0.1, 'gamma': 0.0, 'label_smoothing': 0.001, 'normalize': None}
    """
    fam = FAMILIES[family]
    values = {k: given.get(k, fam.default(k)) for k in fam.params}
    checked = dict(check_term(family, [(k, v, None) for k, v in values.items()
                                       if v is not None], None))
    return {k: checked.get(k) for k in fam.params}
