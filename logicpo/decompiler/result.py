"""What decompilation returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from logicpo.decompiler.symbolic import BETA, GAMMA
from logicpo.logic.closed_form import closed_form
from logicpo.logic.structure import Structure


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

    def _repr_html_(self) -> str:
        """Jupyter's view: what the loss was read as, then the structure's truth table,
        closed form and standing (:mod:`logicpo.display.html`)."""
        from logicpo.display.html import decompiled_html

        return decompiled_html(self)


def _json_value(v):
    if isinstance(v, (int, float, str)) or v is None:
        return v
    return str(v)



def _plain(v: sympy.Expr) -> float | str:
    if v.free_symbols:
        return "beta" if v == BETA else "gamma" if v == GAMMA else str(v)
    return float(v)


