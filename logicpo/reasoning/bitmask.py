"""The bitmask engine: entailment, equivalence and satisfiability by truth tables.

Over at most four atoms a formula is a 16-bit integer, so every question is a few
integer operations. The z3 engine (:mod:`logicpo.reasoning.solver`) answers the same
questions and the two are cross-checked in the tests.

>>> from logicpo.logic.formulas import atom
>>> import sympy
>>> entails(sympy.And(atom("M(yw)"), atom("M(yl)")), atom("M(yw)")).is_proved
True
>>> entails(atom("M(yw)"), atom("M(yl)")).countermodel.describe()
'M(yw)=T, M(yl)=F'
"""

from __future__ import annotations

from logicpo.logic.truth import World, first_world, full_mask, mask
from logicpo.reasoning.verdict import Verdict


def _first_world(m: int, atoms: tuple[str, ...]) -> World:
    return World(atoms, first_world(m, len(atoms)))


def valid_mask(m: int, atoms: tuple[str, ...]) -> Verdict:
    """Is the formula with truth table ``m`` true in every world?"""
    missing = full_mask(len(atoms)) & ~m
    return Verdict.proved() if missing == 0 else Verdict.refuted(_first_world(missing, atoms))


def entails(a, b) -> Verdict:
    """``a |= b``: every world satisfying ``a`` satisfies ``b``."""
    from logicpo.logic.formulas import atoms_of  # SymPy formulas: SymPy is loaded already

    atoms = atoms_of(a, b)
    ma, mb = mask(a, atoms), mask(b, atoms)
    return valid_mask(full_mask(len(atoms)) & (~ma | mb), atoms)


def equivalent(a, b) -> Verdict:
    from logicpo.logic.formulas import atoms_of  # SymPy formulas: SymPy is loaded already

    atoms = atoms_of(a, b)
    ma, mb = mask(a, atoms), mask(b, atoms)
    return valid_mask(full_mask(len(atoms)) & ~(ma ^ mb), atoms)


def satisfiable(a) -> Verdict:
    """Proved with a witness world when satisfiable, refuted when not."""
    from logicpo.logic.formulas import atoms_of

    atoms = atoms_of(a)
    m = mask(a, atoms)
    if m == 0:
        return Verdict(Verdict.refuted(World(atoms, 0)).status, None, "no world satisfies it")
    return Verdict(Verdict.proved().status, _first_world(m, atoms))


def structure_entails_masks(ok1: int, bad1: int, ok2: int, bad2: int) -> int:
    """Worlds that break ``S1 |= S2`` (spec section 4): in ok1 not ok2, or in bad2 not bad1.

    Zero means ``S1`` is at least as constrained as ``S2``.

    >>> structure_entails_masks(0b0010, 0b1101, 0b1010, 0b0101)   # CEUnl |= CE
    0
    """
    return (ok1 & ~ok2) | (bad2 & ~bad1)
