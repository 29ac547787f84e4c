"""The reference evaluator: enumerate every world, in float64 (spec sections 1 and 3).

No factorisation and no specialisation: each world's log-weight is the sum of its
literals' log-weights, each region's log weighted model count is a ``logsumexp``
over its worlds, and the outer function is written as the spec's table states it.
Slow and obviously right; the tests hold every compiled loss to it.

>>> import torch
>>> from logicpo.program import zoo
>>> from logicpo.numbers.params import resolve
>>> terms, _ = resolve(zoo().objective("unCPO"), {}, paper=True)
>>> x = lambda v: torch.tensor([v], dtype=torch.float64)
>>> round(evaluate(terms, x(-1.2), x(-2.3)).item(), 6)      # spec test vector
0.072637
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812

from logicpo.errors import DegenerateStructureError
from logicpo.logic.atoms import ATOMS_REF, response_of
from logicpo.logic.families import FAMILIES
from logicpo.numbers.params import ResolvedTerm


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - e^x)``, two branches (Maechler 2012), relatively accurate everywhere in
    float64. Independent of ``module.log1mexp`` on purpose: the reference must not share
    the code it checks."""
    return torch.where(x > -math.log(2.0), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def log_wmc(region_mask: int, logps: list[torch.Tensor]) -> torch.Tensor:
    """``log WMC(region)``: logsumexp of the log-weights of the region's worlds."""
    n = len(logps)
    worlds = []
    for k in range(1 << n):
        if (region_mask >> k) & 1:
            lw = sum(logps[i] if (k >> i) & 1 else _log1mexp(logps[i]) for i in range(n))
            worlds.append(lw)
    if not worlds:
        return torch.full_like(logps[0], -math.inf)
    return torch.logsumexp(torch.stack(worlds), dim=0)


class _TensorOps:
    """The operations of the family registry's reference formulas, on float64 tensors."""

    logsigmoid = staticmethod(F.logsigmoid)
    sigmoid = staticmethod(torch.sigmoid)
    exp = staticmethod(torch.exp)

    @staticmethod
    def relu(x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=0)


def outer(t: ResolvedTerm, rho: torch.Tensor) -> torch.Tensor:
    """The family ``f`` of spec section 3, applied to ``s = beta*rho - gamma``, as the
    family registry (:mod:`logicpo.logic.families`) writes it, one formula per family."""
    s = t.beta * rho - t.gamma
    params = {"beta": t.beta, "gamma": t.gamma, "label_smoothing": t.label_smoothing,
              "tau": t.tau}
    return FAMILIES[t.family].reference(_TensorOps, s, rho, params)


def evaluate(terms: list[ResolvedTerm], pc=None, pr=None, rc=None, rr=None, nc=None, nr=None,
             *, logps: dict | None = None, lengths: dict | None = None) -> torch.Tensor:
    """``sum(weight * f(rho))`` per example, by enumerating worlds in float64. The log-probs
    are TRL's four (classic atoms) or ``logps={atom: tensor}`` and ``lengths={response:
    tensor}`` for any atoms.

    >>> from logicpo.logic.objective import Objective, Term
    >>> from logicpo.logic.structure import Structure
    >>> from logicpo.numbers.params import resolve
    >>> ce_yg = Structure.from_masks("CE(yg)", ("M(yg)",), 0b10, 0b01)
    >>> terms, _ = resolve(Objective("x", (Term(1.0, "logistic", ce_yg),)), {}, paper=True)
    >>> x = lambda v: torch.tensor([v], dtype=torch.float64)
    >>> evaluate(terms, logps={"M(yg)": x(-1.5)}).item()      # -log WMC(M(yg)) = 1.5
    1.5
    """
    given = dict(zip(ATOMS_REF, (pc, pr, rc, rr), strict=True)) if logps is None else logps
    counts = {"yw": nc, "yl": nr} if lengths is None else lengths
    first = next(x for x in given.values() if x is not None)
    total = torch.zeros_like(first, dtype=torch.float64)
    for t in terms:
        s = t.structure
        if s.degeneracy is not None:
            raise DegenerateStructureError(f"structure '{s.name}': {s.degeneracy.value}")
        weights = []
        for a in s.atoms:
            lp = given[a].to(torch.float64)
            n = counts.get(response_of(a))
            if t.normalize == "length" or (t.normalize == "auto" and n is not None):
                lp = lp / n.to(torch.float64)
            weights.append(lp)
        rho = log_wmc(s.ok_mask, weights) - log_wmc(s.bad_mask, weights)
        total = total + t.weight * outer(t, rho)
    return total
