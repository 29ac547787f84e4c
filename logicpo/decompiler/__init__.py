"""Decompilation (spec section 6): from a loss written in log-probs back to its logic.

The expression is untrusted text: it is parsed with a whitelist
(:mod:`logicpo.syntax.loss_expr`) and translated node by node into SymPy, never evaluated.
One module per step:

- :mod:`.symbolic`: the parse tree to SymPy, and one spelling for softplus, sigmoid, odds;
- :mod:`.floats`: a float64 interpreter of the same tree, for the round trip;
- :mod:`.outer` and :mod:`.exo`: the outer ``f`` recognised and ``beta``, the margin, the
  smoothing and the temperature peeled off, leaving ``s = beta*rho - gamma``;
- :mod:`.worlds`: ``exp(rho) = t/b`` in the atom weights, expanded in the world basis,
  whose 0/1 coefficients are the regions;
- :mod:`.round_trip`: the result compiled back and compared with the text;
- :mod:`.result` and :mod:`.pipeline`: what comes back, and the steps in order.

This package sits above :mod:`logicpo.logic` and :mod:`logicpo.program`: the pipeline takes
the known structures as an argument, and :func:`decompile` passes the zoo's.

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
logicpo.errors.NotExpressibleError: <loss>:1:1: not expressible: ...
"""

from __future__ import annotations

from logicpo.decompiler.result import Decompiled
from logicpo.decompiler.round_trip import family_value, structure_rho
from logicpo.errors import NotExpressibleError, RoundTripError
from logicpo.logic.structure import Structure

__all__ = ["Decompiled", "NotExpressibleError", "RoundTripError", "decompile",
           "family_value", "structure_rho", "zoo_structures"]


def zoo_structures() -> list[Structure]:
    """The built-in zoo's structures, what a result is named after by default: those beyond
    pairs (``logicpo/beyond.lpo``: CPO3) too, as a decompiled loss may be over their atoms."""
    from logicpo.program import zoo

    program = zoo()
    return [program.structure(n) for n in program.names_of("structure", beyond_pairs=True)]


def decompile(expr: str, *, file: str = "<loss>", known: list[Structure] | None = None,
              check_points: int = 5, seed: int = 0,
              values: dict[str, float] | None = None, atoms: str | None = None) -> Decompiled:
    """The objective behind the loss ``expr`` (spec section 6): its terms, each
    ``weight * f(structure, params)``, the parameters by the names ``expr`` uses, and DSL
    text. Structures are named after ``known`` (default: the zoo's) up to ``ref`` and
    ``flip``, or as a known structure about ``yw`` read on another response (``CE(yg)``);
    ``values`` binds parameters to numbers (``{"lambda": 0.5}``); ``atoms`` declares more
    log-prob and token-count names, as the command line's ``--atoms`` does
    (``"g=M(yg),len_g=|yg|"``, :func:`logicpo.syntax.loss_expr.parse_atoms`).

    >>> r = decompile("-logsigmoid(beta*(pc - pr)) - lambda*pc", values={"lambda": 0.5})
    >>> [(t.family, t.structure.name, t.weight) for t in r.terms]
    [('logistic', 'CPO', 1.0), ('logistic', 'CE', 0.5)]
    >>> r.dsl
    'logistic(CPO) + 0.5*logistic(CE, beta=1, normalize=none)'
    """
    from logicpo.decompiler import pipeline
    from logicpo.syntax.loss_expr import parse_atoms

    return pipeline.decompile(expr, known=zoo_structures() if known is None else known,
                              file=file, check_points=check_points, seed=seed,
                              values=values, atoms=parse_atoms(atoms) if atoms else None)
