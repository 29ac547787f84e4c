"""A structure read out in plain words: which worlds count for the preference, which
against, which on both sides and which not at all (spec section 2).

The four sets of worlds (``ok`` only, ``bad`` only, both, neither) are each written as the
smallest readable formula of their truth table (:func:`logicpo.logic.truth.formula_of`) and
that formula is put into words: ``M(yw)`` is "the policy deems yw valid", ``Ref(yl)`` "the
reference deems yl valid".

>>> from logicpo.logic.structure import Structure
>>> orpo = Structure.from_masks("ORPO", ("M(yw)", "M(yl)"), 0b0010, 0b0100)
>>> print(reading(orpo))  # doctest: +NORMALIZE_WHITESPACE
ORPO counts a world for the preference (✓) when the policy deems yw valid and yl not
valid, and against it (✗) when the policy deems yl valid and yw not valid. It ignores the
worlds where the policy deems both yw and yl valid or the policy deems neither yw nor yl
valid. The loss falls as the policy moves probability into the ✓ worlds and out of the ✗
worlds: rho = log WMC(ok) - log WMC(bad).
"""

from __future__ import annotations

from logicpo.logic import atoms
from logicpo.logic.formulas import decompose
from logicpo.logic.structure import Structure
from logicpo.logic.truth import formula_of, full_mask

_MODEL = {"M": "the policy", "Ref": "the reference"}


def _who(model: str) -> str:
    return _MODEL.get(model) or f"the model {model}"


def _split(name: str) -> tuple[str, str]:
    """``"Ref(yl)"`` -> ``("Ref", "yl")``."""
    return atoms.split(name)


def _literal(expr) -> tuple[str, str, bool] | None:
    """``(model, response, positive)`` for an atom or a negated atom, else None."""
    op, args = decompose(expr)
    if op == "atom":
        return (*_split(args[0]), True)
    if op == "not" and decompose(args[0])[0] == "atom":
        return (*_split(decompose(args[0])[1][0]), False)
    return None


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _conjunction(literals: list[tuple[str, str, bool]]) -> str:
    """``the policy deems yw valid and yl not valid, and the reference deems ...``"""
    parts = []
    for model in sorted({m for m, _, _ in literals}, key=atoms.model_key):
        pos = sorted((r for m, r, p in literals if m == model and p), key=atoms.response_key)
        neg = sorted((r for m, r, p in literals if m == model and not p),
                     key=atoms.response_key)
        who = _who(model)
        if len(pos) == 2 and not neg:
            parts.append(f"{who} deems both {pos[0]} and {pos[1]} valid")
        elif len(neg) == 2 and not pos:
            parts.append(f"{who} deems neither {neg[0]} nor {neg[1]} valid")
        elif len(neg) > 2 and not pos:
            parts.append(f"{who} deems none of {_and(neg)} valid")
        elif pos and len(neg) == 1:
            parts.append(f"{who} deems {_and(pos)} valid and {neg[0]} not valid")
        elif pos and len(neg) == 2:
            parts.append(f"{who} deems {_and(pos)} valid and neither {neg[0]} nor {neg[1]}")
        elif pos and neg:
            parts.append(f"{who} deems {_and(pos)} valid and none of {_and(neg)}")
        elif pos:
            parts.append(f"{who} deems {_and(pos)} valid")
        else:
            parts.append(f"{who} does not deem {neg[0]} valid")
    return " and ".join(parts)


def words(expr) -> str:
    """A formula in plain words (the formulas :func:`formula_of` builds: literals, and, or,
    xor and iff; anything else is spelt with "if ... then" and "not").

    >>> from logicpo.logic.formulas import atom
    >>> import sympy
    >>> words(sympy.And(atom("M(yw)"), sympy.Not(atom("Ref(yw)"))))
    'the policy deems yw valid and the reference does not deem yw valid'
    """
    lit = _literal(expr)
    if lit is not None:
        return _conjunction([lit])
    op, args = decompose(expr)
    if op == "const":
        return "always" if args[0] else "never"
    if op == "and":
        lits = [_literal(a) for a in args]
        if all(lits):
            return _conjunction(lits)
        return " and ".join(f"({words(a)})" if decompose(a)[0] in ("or", "and") else words(a)
                            for a in args)
    if op == "or":
        return " or ".join(words(a) for a in args)
    if op in ("xor", "iff") and len(args) == 2:
        la, lb = _literal(args[0]), _literal(args[1])
        if la and lb and la[2] and lb[2] and la[0] == lb[0]:
            who = _who(la[0])
            if op == "xor":
                return f"{who} deems exactly one of {la[1]} and {lb[1]} valid"
            return f"{who} deems {la[1]} and {lb[1]} alike (both valid or both not)"
        if op == "xor":
            return f"exactly one of ({words(args[0])}) and ({words(args[1])}) holds"
        return f"({words(args[0])}) exactly when ({words(args[1])})"
    if op == "implies":
        return f"if {words(args[0])}, then {words(args[1])}"
    if op == "not":
        return f"not ({words(args[0])})"
    raise AssertionError(op)


def reading(s: Structure) -> str:
    """One paragraph: which worlds count for and against ``s``'s preference."""
    n = len(s.atoms)
    full = full_mask(n)
    ok_only = s.ok_mask & ~s.bad_mask & full
    bad_only = s.bad_mask & ~s.ok_mask & full
    both = s.ok_mask & s.bad_mask
    neither = full & ~(s.ok_mask | s.bad_mask)

    def w(m: int) -> str:
        return words(formula_of(m, s.atoms))

    name = s.name
    if s.degeneracy is not None:
        return (f"{name} is degenerate: {s.degeneracy.value}, so it does not depend on the "
                "model and cannot train.")
    sentences = []
    if ok_only and bad_only:
        sentences.append(f"{name} counts a world for the preference (✓) when {w(ok_only)}, "
                         f"and against it (✗) when {w(bad_only)}.")
    elif ok_only:
        sentences.append(f"{name} counts a world only for the preference (✓) when "
                         f"{w(ok_only)}; no world counts only against it.")
    else:
        sentences.append(f"{name} counts a world only against the preference (✗) when "
                         f"{w(bad_only)}; no world counts only for it.")
    if both:
        sentences.append(f"The worlds where {w(both)} count on both sides (the additive "
                         "part P_A): they add the same weight to WMC(ok) and WMC(bad), which "
                         "pulls rho towards 0 without favouring either response.")
    if neither:
        sentences.append(f"It ignores the worlds where {w(neither)}.")
    sentences.append("The loss falls as the policy moves probability into the ✓ worlds and "
                     "out of the ✗ worlds: rho = log WMC(ok) - log WMC(bad).")
    return " ".join(sentences)
