"""Which known structures a structure is: the same regions, or the same up to ``ref`` and ``flip``.

One home for the question "is this loss one we know?", asked by ``show``, ``decompile``,
``neighbors`` and the lattice. The known structures are passed in (usually the zoo's), so
the logic layer never reaches up to :mod:`logicpo.program`.

Two structures are *the same* when they have the same atoms and the same ``ok`` and
``bad`` regions (then every family computes the same number from both). ``flip(S)`` swaps
the regions (it negates the semantic log-ratio: the loss prefers what ``S`` disprefers),
``ref(S)`` is the reference version of a single-model ``S`` (spec section 5).

>>> from logicpo.logic.atoms import ATOMS_SINGLE
from logicpo.logic.structure import Structure, flip, ref
>>> cpo = Structure.from_masks("CPO", ("M(yw)", "M(yl)"), 0b1010, 0b1100)
>>> [m.expression for m in matches(flip(ref(cpo)), [cpo])]
['flip(ref(CPO))']
>>> [m.expression for m in matches(cpo, [cpo])]
['CPO']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from logicpo.logic.atoms import ATOMS_SINGLE
from logicpo.logic.structure import Structure, flip, ref

#: How a match relates the structure to the known one, in the order results list them.
RELATIONS = ("same", "ref", "flip", "flip_ref")


@dataclass(frozen=True)
class Match:
    """``structure == expression``, where ``expression`` is ``name`` under ``relation``."""

    name: str
    relation: str  # one of RELATIONS

    @property
    def expression(self) -> str:
        """The DSL expression of the match: ``DPO``, ``ref(CPO)``, ``flip(DPO)``, ...

        >>> Match("CPO", "flip_ref").expression
        'flip(ref(CPO))'
        """
        return {"same": self.name, "ref": f"ref({self.name})", "flip": f"flip({self.name})",
                "flip_ref": f"flip(ref({self.name}))"}[self.relation]

    @property
    def prefers_loser(self) -> bool:
        """A flipped known structure: it pushes the model towards the loser."""
        return self.relation.startswith("flip")


def _key(s: Structure) -> tuple:
    return s.atoms, s.ok_mask, s.bad_mask


def matches(s: Structure, known: Iterable[Structure]) -> tuple[Match, ...]:
    """Every known structure that ``s`` equals, directly or up to ``ref`` and ``flip``.

    Results come in the order of :data:`RELATIONS`, then in the order of ``known``.
    """
    target = _key(s)
    found: dict[str, list[Match]] = {r: [] for r in RELATIONS}
    for k in known:
        candidates = {"same": k, "flip": flip(k)}
        if k.atoms == ATOMS_SINGLE and not s.single_model:  # ref() is defined there only
            r = ref(k)
            candidates.update({"ref": r, "flip_ref": flip(r)})
        for relation, c in candidates.items():
            if _key(c) == target:
                found[relation].append(Match(k.name, relation))
    return tuple(m for r in RELATIONS for m in found[r])


def same_regions(s: Structure, known: Iterable[Structure]) -> tuple[str, ...]:
    """The names of the known structures with exactly the regions of ``s``.

    >>> cpo = Structure.from_masks("CPO", ("M(yw)", "M(yl)"), 0b1010, 0b1100)
    >>> same_regions(cpo.renamed("mine"), [cpo])
    ('CPO',)
    """
    target = _key(s)
    return tuple(k.name for k in known if _key(k) == target)
