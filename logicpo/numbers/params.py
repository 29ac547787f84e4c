"""Hyper-parameters: how the arguments of ``logicpo.loss`` meet the values written in the DSL.

The rules, in order (documented for users in docs/api.md):

1. A runtime argument (``beta``, ``gamma``, ``label_smoothing``, ``tau``,
   ``normalize``) overrides the value a term writes in the DSL, for every term
   whose family takes that parameter: ``loss("simpo", gamma=1.0)`` and
   ``loss("exo_pair", label_smoothing=0.01)`` do what a TRL user expects.
2. Except ``beta`` written in the DSL: it is part of what the term means and is
   kept. ``sft`` is ``logistic(CE, beta=1)``, the NLL of the chosen response,
   and stays the NLL when you pass TRL's ``beta=0.1`` for the DPO term next to it.
3. A ``beta`` left open takes the ``beta`` argument, else a default: TRL's 0.1
   for objectives (the zoo's TRL names, inline expressions, your objectives) and
   the paper's 1 for a bare structure name (``loss("DPO")`` is the paper's loss).
4. Any other parameter left open takes its family's default, from the one family table
   (:data:`logicpo.logic.objective.FAMILIES`; ``exo``'s label smoothing is 1e-3, since
   0 would divide by zero), checked like a written value.
5. ``normalize`` left open is ``none``, except on an NLL term (the structure CE
   under ``logistic`` with beta 1, i.e. ``sft``): it is length-normalised
   whenever lengths are passed, like TRL's token-mean NLL (mode ``auto``).
6. A runtime parameter no term takes is an error naming the valid ones.

>>> from logicpo.program import zoo
>>> terms, params = resolve(zoo().objective("cpo_full"), {"beta": 0.5}, paper=False)
>>> [(t.family, t.structure.name, t.beta, t.normalize) for t in terms]
[('logistic', 'CPO', 0.5, 'none'), ('logistic', 'CE', 1.0, 'auto')]
>>> params["beta"]
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

from logicpo.errors import LogicpoError, NameResolutionError, did_you_mean
from logicpo.logic.objective import FAMILIES, PARAM_DEFAULTS, Objective, Term, resolved_params
from logicpo.logic.structure import Structure

TRL_BETA = 0.1
PAPER_BETA = 1.0
RUNTIME_KEYS = ("beta", "gamma", "label_smoothing", "tau", "normalize", "f")
NORMALIZE_MODES = ("length", "none", "auto")

_CE_OK, _CE_BAD = 0b1010, 0b0101  # over (M(yw), M(yl)): ok = M(yw), bad = ~M(yw)


@dataclass(frozen=True)
class ResolvedTerm:
    """One term with every parameter decided; ``normalize`` is ``length``, ``none`` or ``auto``."""

    weight: float
    family: str
    structure: Structure
    beta: float
    gamma: float
    label_smoothing: float
    tau: float
    normalize: str

    def value(self, key: str):
        return getattr(self, key)

    def text(self) -> str:
        """The term in DSL syntax with the parameters its family uses (``auto`` is left open)."""
        return self.as_term().text()

    def as_term(self) -> Term:
        """The DSL term that compiles back to this one."""
        params = []
        for key in FAMILIES[self.family].params:
            value = self.value(key)
            if key == "normalize":
                if value == "length":
                    params.append((key, value))
            elif key == "beta" or value != PARAM_DEFAULTS[key]:
                params.append((key, value))
        return Term(self.weight, self.family, self.structure, tuple(params))


def is_nll(s: Structure) -> bool:
    """Is ``s`` the structure CE (``ok = M(yw)``, ``bad = ~M(yw)``)?"""
    return s.single_model and (s.ok_mask, s.bad_mask) == (_CE_OK, _CE_BAD)


def resolve(objective: Objective, runtime: dict, *, paper: bool
            ) -> tuple[list[ResolvedTerm], dict]:
    """Decide every term's parameters; returns the terms and the loss-level parameters.

    ``paper`` is true when the spec was a bare structure name (open beta = 1).
    """
    given = {k: v for k, v in runtime.items() if v is not None}
    unknown = [k for k in given if k not in RUNTIME_KEYS]
    if unknown:
        raise NameResolutionError(
            f"unknown loss parameter '{unknown[0]}' (valid: {', '.join(RUNTIME_KEYS)})",
            hint=did_you_mean(unknown[0], RUNTIME_KEYS))
    given.pop("f", None)
    accepted = {k for t in objective.terms for k in FAMILIES[t.family].params}
    for key in given:
        if key not in accepted:
            families = sorted({t.family for t in objective.terms})
            raise NameResolutionError(
                f"parameter '{key}' does not apply to '{objective.name}' (its families "
                f"{', '.join(families)} take: {', '.join(sorted(accepted))})")
    open_beta = given.get("beta", PAPER_BETA if paper else TRL_BETA)
    terms = [_resolve_term(t, given, open_beta, objective.name) for t in objective.terms]
    any_open = any("beta" not in dict(t.params) for t in objective.terms)
    params: dict = {"beta": given.get("beta", open_beta if any_open else terms[0].beta)}
    for key in ("gamma", "label_smoothing", "tau"):
        for t in terms:
            if key in FAMILIES[t.family].params:
                params[key] = t.value(key)
                break
    params["normalize"] = "length" if any(t.normalize == "length" for t in terms) else None
    return terms, params


def _resolve_term(t: Term, given: dict, open_beta: float, name: str) -> ResolvedTerm:
    allowed = FAMILIES[t.family].params
    values = dict(t.params)
    for key, value in given.items():
        if key in allowed and not (key == "beta" and "beta" in values):
            values[key] = value
    values.setdefault("beta", open_beta)
    try:  # the family table decides every default left open (logic/objective.py)
        checked = resolved_params(t.family, values)
    except LogicpoError as exc:
        raise type(exc)(f"{name}: {t.family}({t.structure.name}): {exc.message}",
                        hint=exc.hint) from None
    normalize = checked.get("normalize")
    if normalize is None:
        nll = is_nll(t.structure) and t.family == "logistic" and checked["beta"] == 1.0
        normalize = "auto" if nll else "none"
    neutral = {k: PARAM_DEFAULTS[k] for k in ("gamma", "label_smoothing", "tau")}
    neutral.update({k: v for k, v in checked.items() if k in neutral})
    return ResolvedTerm(
        weight=t.weight, family=t.family, structure=t.structure, beta=checked["beta"],
        gamma=neutral["gamma"], label_smoothing=neutral["label_smoothing"],
        tau=neutral["tau"], normalize=normalize)
