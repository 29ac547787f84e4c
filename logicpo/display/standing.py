"""Where a structure stands among known ones (usually the zoo's).

``standing(s, known)`` names every known structure with the same regions as ``s``, those
equal to it up to ``ref`` and ``flip`` (through :func:`logicpo.logic.identify.matches`),
and the *nearest* known structures strictly stronger and weaker than ``s``: among the known
structures over the same atoms that entail ``s`` (resp. that ``s`` entails), those with no
other such structure strictly between them and ``s`` (spec section 4's order, decided on
truth tables).

>>> from logicpo.logic.structure import Structure
>>> from logicpo.program import zoo
>>> z = zoo()
>>> known = [z.structure(n) for n in z.names_of("structure")]
>>> xone = Structure.from_masks("xone", ("M(yw)", "M(yl)"), 0b0010, 0b0100)
>>> st = standing(xone, known)
>>> [m.expression for m in st.matches], st.stronger, st.weaker
(['ORPO'], ('cUNL',), ('cCPO', 'cfUnl'))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from logicpo.logic.atoms import is_classic
from logicpo.logic.identify import Match, matches
from logicpo.logic.structure import Structure
from logicpo.reasoning.bitmask import structure_entails_masks


@dataclass(frozen=True)
class Standing:
    """``structure`` among the known ones: equal (``matches``), and nearest above/below.

    ``stronger`` and ``weaker`` are node names as in the lattice: known structures with
    identical regions share one name ``A=B``.
    """

    structure: Structure
    matches: tuple[Match, ...]
    stronger: tuple[str, ...]
    weaker: tuple[str, ...]
    compared_with: int  # how many known structures over the same atoms were compared
    same_loss: tuple[str, ...] = ()  # other regions, but the same ratio WMC(ok)/WMC(bad)

    @property
    def same_regions(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.matches if m.relation == "same")

    @property
    def prefers_loser(self) -> bool:
        """Equal to a flipped known structure (and to no unflipped one)."""
        return bool(self.matches) and all(m.prefers_loser for m in self.matches)

    def sentences(self) -> list[str]:
        """The standing in plain sentences, one per fact.

        >>> from logicpo.logic.structure import Structure
        >>> ce = Structure.from_masks("CE", ("M(yw)", "M(yl)"), 0b1010, 0b0101)
        >>> mine = Structure.from_masks("mine", ("M(yw)", "M(yl)"), 0b1010, 0b0101)
        >>> standing(mine, [ce]).sentences()[0]
        'mine has the same regions as CE (every loss family computes the same number from both).'
        """
        name = self.structure.name
        out = []
        same = self.same_regions
        if same:
            out.append(f"{name} has the same regions as {_join(same)} "
                       "(every loss family computes the same number from both).")
        others = [m for m in self.matches if m.relation != "same"]
        if others:
            out.append(f"{name} equals {_join([m.expression for m in others])}.")
        if self.prefers_loser:
            out.append(f"{name} prefers the loser: it counts for the preference what "
                       f"{self.matches[0].name} counts against it.")
        if not self.matches:
            out.append(f"No other known structure has the regions of {name}, "
                       "even up to ref and flip.")
        if self.same_loss:
            out.append(f"{name} computes the same loss as {_join(self.same_loss)} with other "
                       "regions: the ratio WMC(ok)/WMC(bad) cancels to the same function.")
        if self.stronger:
            out.append(f"Nearest stronger (they entail {name}, loss at least as high): "
                       f"{_join(self.stronger)}.")
        if self.weaker:
            out.append(f"Nearest weaker ({name} entails them, loss at most as high): "
                       f"{_join(self.weaker)}.")
        if not self.stronger and not self.weaker and self.compared_with:
            out.append(f"No known structure over the same atoms is strictly stronger or "
                       f"weaker than {name}.")
        return out

    def to_json(self) -> dict:
        return {"same_regions": list(self.same_regions),
                "matches": [{"name": m.name, "relation": m.relation, "expression": m.expression}
                            for m in self.matches],
                "prefers_loser": self.prefers_loser,
                "same_loss": list(self.same_loss),
                "nearest_stronger": list(self.stronger), "nearest_weaker": list(self.weaker),
                "compared_with": self.compared_with,
                "sentences": self.sentences()}


def zoo_standing(program, name: str) -> Standing:
    """Where the structure ``name`` of ``program`` stands among the zoo's structures.

    The zoo's own definition of ``name`` is left out when ``name`` *is* the zoo's, so
    ``show CPO`` does not say that CPO equals CPO; a user's structure that shadows a zoo
    name is compared with the zoo's, which is another structure.

    >>> from logicpo.program import load_text
    >>> program = load_text("structure CPO { core: M(yw) }")
    >>> zoo_standing(program, "CPO").same_regions
    ('CE',)
    """
    s = program.structure(name)
    own = program.is_zoo(name)
    known = [program.structure(n, zoo=True) for n in program.names_of("structure", zoo_only=True)
             if not (own and n == name)]
    return standing(s, known)


def _join(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def standing(s: Structure, known: Iterable[Structure]) -> Standing:
    """Where ``s`` stands among ``known`` (leave ``s`` itself out of ``known``)."""
    known = list(known)
    found = matches(s, known)
    # Known structures over the same atoms, merged into lattice nodes by their regions.
    # Beyond the classic atoms, also those over fewer atoms (CPO for a listwise structure),
    # compared over this structure's atoms: one that does not mention an atom is the same
    # on both of its values.
    nodes: dict[tuple[int, int], list[str]] = {}
    wider = not is_classic(s.atoms)
    for k in known:
        if k.atoms == s.atoms or (wider and set(k.atoms) <= set(s.atoms)):
            nodes.setdefault(k.masks(s.atoms), []).append(k.name)
    mine = (s.ok_mask, s.bad_mask)

    def entails(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return structure_entails_masks(a[0], a[1], b[0], b[1]) == 0

    above = [m for m in nodes if m != mine and entails(m, mine)]
    below = [m for m in nodes if m != mine and entails(mine, m)]
    # Nearest: nothing else of the same side strictly between (entailment is a partial
    # order on regions, and distinct keys are distinct regions).
    nearest_above = [m for m in above if not any(o != m and entails(m, o) for o in above)]
    nearest_below = [m for m in below if not any(o != m and entails(o, m) for o in below)]
    order = list(nodes)

    def names(ms):
        return tuple("=".join(nodes[m]) for m in sorted(ms, key=order.index))

    return Standing(s, found, names(nearest_above), names(nearest_below),
                    sum(len(v) for v in nodes.values()), _same_loss(s, known))


def _same_loss(s: Structure, known: list[Structure]) -> tuple[str, ...]:
    """Known structures with other regions whose loss is the same function as ``s``'s (equal
    canonical forms of the ratio, :func:`logicpo.reasoning.landscape.loss_key`), compared
    over all four atoms when one of them uses the reference."""
    from logicpo.logic.atoms import union
    from logicpo.reasoning.landscape import loss_key

    out = []
    for k in known:
        atoms = s.atoms if k.atoms == s.atoms else union(s.atoms, k.atoms)
        mine, theirs = s.masks(atoms), k.masks(atoms)
        if mine != theirs and loss_key(*mine, len(atoms)) == loss_key(*theirs, len(atoms)):
            out.append(k.name)
    return tuple(out)
