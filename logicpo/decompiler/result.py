"""What decompilation returns: an objective of one or more terms, each ``weight * f(S, ...)``,
with the parameters by the user's names, the assumptions made, warnings, and DSL text."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from logicpo.decompiler.symbolic import show
from logicpo.errors import UsageError
from logicpo.logic.closed_form import closed_form
from logicpo.logic.families import ROLES
from logicpo.logic.identify import Match
from logicpo.logic.structure import Structure


@dataclass(frozen=True)
class DecompiledTerm:
    """One term ``weight * family(structure, params)`` of a decompiled loss."""

    text: str  # the part of the user's text it reads
    structure: Structure  # named after a known structure (``DPO``, ``flip(L)``) or new
    family: str
    exact_params: dict[str, sympy.Expr]  # beta, gamma, label_smoothing, tau (numbers or symbols)
    exact_weight: sympy.Expr
    rho: sympy.Expr  # the semantic log-ratio as written (after peeling f, beta, gamma)
    normalize: bool  # the log-probs are divided by token counts (normalize=length)
    matches: tuple[Match, ...] = ()  # known structures it equals, up to ref and flip
    notes: tuple[str, ...] = ()

    @property
    def same_as(self) -> tuple[str, ...]:
        """Known structures with exactly these regions."""
        return tuple(m.name for m in self.matches if m.relation == "same")

    @property
    def params(self) -> dict[str, float | str]:
        """Parameters as floats, or as text (``'beta'``, ``'beta*r'``) when symbolic."""
        return {k: plain(v) for k, v in self.exact_params.items()}

    @property
    def weight(self) -> float | str:
        return plain(self.exact_weight)

    @property
    def closed_form(self) -> str:
        return closed_form(self.structure).text

    def to_json(self) -> dict:
        return {
            "text": self.text, **self.structure.to_json(), "f": self.family,
            "params": {k: json_value(v) for k, v in self.params.items()},
            "weight": json_value(self.weight),
            "normalize": "length" if self.normalize else None,
            "same_as": list(self.same_as),
            "matches": [m.expression for m in self.matches],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Parameter:
    """A parameter of the loss, under the name the user typed, and what it does."""

    name: str
    roles: tuple[str, ...]  # "temperature of term 1", "margin of term 2 (gamma = beta*r)", ...
    assumption: str | None  # "eps > 0", or None for a real parameter

    def to_json(self) -> dict:
        return {"name": self.name, "roles": list(self.roles), "assumption": self.assumption}


@dataclass(frozen=True)
class Decompiled:
    """A decompiled loss: its terms, parameters, assumptions, warnings and checks.

    ``dsl`` is the objective as a DSL expression (for ``--loss`` or an ``objective``
    line), ``definitions`` the structure lines it needs, and ``source`` both as one
    ``.lpo`` file; when no DSL text can say the same (a symbolic weight, say),
    ``dsl`` is None and ``dsl_problem`` says why.
    """

    expression: str
    terms: tuple[DecompiledTerm, ...]
    parameters: tuple[Parameter, ...] = ()
    values: tuple[tuple[str, float], ...] = ()  # parameters bound by the caller
    assumptions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    dsl: str | None = None
    definitions: tuple[str, ...] = ()
    dsl_problem: str | None = None
    open_params: tuple[tuple[str, str], ...] = ()  # (family key, user's name) left open
    dsl_notes: tuple[str, ...] = ()  # how to give the parameters left open
    round_trip_points: int = 0
    round_trip_error: float = 0.0

    @property
    def source(self) -> str | None:
        """A ``.lpo`` file defining the loss as the objective ``decompiled_loss``."""
        if self.dsl is None:
            return None
        return ("".join(d + "\n" for d in self.definitions)
                + f"objective decompiled_loss = {self.dsl}\n")

    # ------------------------------------------------------------ one-term shortcuts

    def _one(self) -> DecompiledTerm:
        if len(self.terms) != 1:
            raise UsageError(f"this loss is an objective of {len(self.terms)} terms: read "
                             ".terms for each term's structure, family and parameters")
        return self.terms[0]

    @property
    def structure(self) -> Structure:
        return self._one().structure

    @property
    def family(self) -> str:
        return self._one().family

    @property
    def exact_params(self) -> dict[str, sympy.Expr]:
        return self._one().exact_params

    @property
    def exact_weight(self) -> sympy.Expr:
        return self._one().exact_weight

    @property
    def params(self) -> dict[str, float | str]:
        return self._one().params

    @property
    def weight(self) -> float | str:
        return self._one().weight

    @property
    def rho(self) -> sympy.Expr:
        return self._one().rho

    @property
    def same_as(self) -> tuple[str, ...]:
        return self._one().same_as

    @property
    def closed_form(self) -> str:
        return self._one().closed_form

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(n for t in self.terms for n in t.notes)

    def _repr_html_(self) -> str:
        """Jupyter's view: the DSL, parameters and checks, then each term's structure with
        its truth table, closed form and standing (:mod:`logicpo.display.html`)."""
        from logicpo.display.html import decompiled_html

        return decompiled_html(self)

    def to_json(self) -> dict:
        """The keys of docs/cli.md's decompile section; a one-term loss also carries the
        ``show --json`` contract of its structure and ``f``, ``params``, ``weight`` at the top."""
        out: dict = {}
        if len(self.terms) == 1:
            t = self.terms[0]
            out.update(t.structure.to_json())
            out.update({"f": t.family,
                        "params": {k: json_value(v) for k, v in t.params.items()},
                        "weight": json_value(t.weight), "same_as": list(t.same_as)})
        out.update({
            "expression": self.expression,
            "terms": [t.to_json() for t in self.terms],
            "dsl": self.dsl, "definitions": list(self.definitions), "source": self.source,
            "dsl_problem": self.dsl_problem, "dsl_notes": list(self.dsl_notes),
            "open_params": dict(self.open_params),
            "parameters": [p.to_json() for p in self.parameters],
            "values": dict(self.values),
            "assumptions": list(self.assumptions), "warnings": list(self.warnings),
            "round_trip": {"points": self.round_trip_points,
                           "max_rel_error": self.round_trip_error},
            "notes": list(self.notes),
        })
        return out


def json_value(v):
    if isinstance(v, (int, float, str)) or v is None:
        return v
    return str(v)


def plain(v: sympy.Expr) -> float | str:
    """A number as a float; an expression of parameters as loss-language text."""
    if v.free_symbols:
        return show(v)
    return float(v)


__all__ = ["ROLES", "Decompiled", "DecompiledTerm", "Parameter"]
