"""Known structures about the winner alone, read on another response: ``CE(yg)``, ``W(ys)``.

A structure such as the zoo's ``CE`` (``ok: M(yw)  bad: ~M(yw)``) or ``W`` (``ok: M(yw)
bad: Ref(yw)``) says something about ``yw`` only. Issue 13's terms say the same about
another response: TPO's ``CE(yg)`` is ``ok: M(yg)  bad: ~M(yg)`` over the one atom
``M(yg)``, SELM's ``flip(W(ys))`` is ``ok: Ref(ys)  bad: M(ys)`` over ``(M(ys), Ref(ys))``.
:func:`on_response` names a decompiled structure over the atoms of one response ``y``
(other than ``yw`` and ``yl``) after the known structures that depend on ``yw``'s atoms
only, with ``yw`` read as ``y``, directly or flipped.

>>> from logicpo.logic.structure import Structure
>>> ce = Structure.from_masks("CE", ("M(yw)", "M(yl)"), 0b1010, 0b0101)
>>> w = Structure.from_masks("W", ("M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)"),
...                          0b1010101010101010, 0b1111000011110000)
>>> [m.expression for m in on_response(Structure.from_masks("x", ("M(yg)",), 0b10, 0b01), [ce, w])]
['CE(yg)']
>>> [m.expression for m in on_response(Structure.from_masks("x", ("M(ys)", "Ref(ys)"), 0b1100, 0b1010), [ce, w])]
['flip(W(ys))']
"""

from __future__ import annotations

from collections.abc import Iterable

from logicpo.logic import atoms as atom_names
from logicpo.logic.identify import RELATIONS, Match
from logicpo.logic.structure import Structure
from logicpo.logic.truth import lift

WINNER = "yw"


def on_response(s: Structure, known: Iterable[Structure]) -> tuple[Match, ...]:
    """Every known structure ``K`` about ``yw`` alone such that ``s`` is ``K(y)`` or
    ``flip(K(y))``, for the one response ``y`` of ``s``'s atoms; ``()`` when ``s`` is over
    ``yw`` or ``yl`` (those are named by :func:`logicpo.logic.identify.matches`) or over
    several responses."""
    responses = atom_names.responses_of(s.atoms)
    if len(responses) != 1 or responses[0] in atom_names.CLASSIC_RESPONSES:
        return ()
    (y,) = responses
    found: dict[str, list[Match]] = {r: [] for r in RELATIONS}
    for k in known:
        winner = winner_only(k)
        if winner is None:
            continue
        atoms, ok, bad = winner
        renamed = tuple(atom_names.rename_response(a, WINNER, y) for a in atoms)
        if set(renamed) != set(s.atoms):
            continue
        ok, bad = lift(ok, renamed, s.atoms), lift(bad, renamed, s.atoms)
        for relation, regions in (("same", (ok, bad)), ("flip", (bad, ok))):
            if regions == (s.ok_mask, s.bad_mask):
                found[relation].append(Match(f"{k.name}({y})", relation))
    return tuple(m for r in RELATIONS for m in found[r])


def winner_only(k: Structure) -> tuple[tuple[str, ...], int, int] | None:
    """``k``'s regions over its ``yw`` atoms alone, or None if they depend on another atom.

    >>> cpo = Structure.from_masks("CPO", ("M(yw)", "M(yl)"), 0b1010, 0b1100)
    >>> winner_only(Structure.from_masks("CE", ("M(yw)", "M(yl)"), 0b1010, 0b0101)), winner_only(cpo)
    ((('M(yw)',), 2, 1), None)
    """
    keep = [i for i, a in enumerate(k.atoms) if atom_names.response_of(a) == WINNER]
    if not keep:
        return None
    out = []
    for region in (k.ok_mask, k.bad_mask):
        small: dict[int, int] = {}
        for world in range(1 << len(k.atoms)):
            index = sum(((world >> p) & 1) << i for i, p in enumerate(keep))
            member = (region >> world) & 1
            if small.setdefault(index, member) != member:
                return None  # the region depends on an atom of another response
        out.append(sum(1 << index for index, member in small.items() if member))
    return tuple(k.atoms[i] for i in keep), out[0], out[1]
