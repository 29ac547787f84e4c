"""The order between losses (spec section 4): which structure is more constrained.

``S1 |= S2`` iff ``ok1 -> ok2`` and ``bad2 -> bad1`` are valid; then the loss of S1 is
at least the loss of S2 on every input. :func:`compare` decides both directions with
z3 (or with truth tables, ``engine="bitmask"``) and explains every failed direction
with a witness world.

>>> from logicpo.program import zoo
>>> c = compare(zoo().structure("CPO"), zoo().structure("cCPO"))
>>> c.relation.value
'stronger'
>>> print(c.witnesses[0].explain())
cCPO does not entail CPO: in world M(yw)=T, M(yl)=T (TT), cCPO counts it as ok only but CPO counts it as both ok and bad.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from logicpo.logic.atoms import is_classic, union
from logicpo.logic.structure import Structure
from logicpo.logic.truth import World, first_world
from logicpo.reasoning.bitmask import structure_entails_masks
from logicpo.reasoning.verdict import DEFAULT_TIMEOUT_MS, Status, Verdict


class Relation(enum.Enum):
    EQUIVALENT = "equivalent"
    STRONGER = "stronger"  # the first entails the second (more constrained)
    WEAKER = "weaker"
    INCOMPARABLE = "incomparable"
    UNKNOWN = "unknown"


_COUNTS = {"ok": "ok only", "bad": "bad only", "both": "both ok and bad", "neither": "neither"}


@dataclass(frozen=True)
class Witness:
    """A world showing that ``first |= second`` fails."""

    first: Structure
    second: Structure
    world: World

    @property
    def first_counts(self) -> str:
        return self.first.counts(self.world)

    @property
    def second_counts(self) -> str:
        return self.second.counts(self.world)

    def explain(self) -> str:
        return (f"{self.first.name} does not entail {self.second.name}: in world "
                f"{self.world.describe()} ({self.world.short}), {self.first.name} counts it as "
                f"{_COUNTS[self.first_counts]} but {self.second.name} counts it as "
                f"{_COUNTS[self.second_counts]}.")

    def to_json(self) -> dict:
        return {"fails": f"{self.first.name} |= {self.second.name}",
                "world": self.world.bits, "atoms": list(self.world.atoms),
                "first_counts": self.first_counts, "second_counts": self.second_counts,
                "explanation": self.explain()}


@dataclass(frozen=True)
class Comparison:
    a: Structure
    b: Structure
    forward: Verdict  # a |= b
    backward: Verdict  # b |= a

    @property
    def relation(self) -> Relation:
        f, b = self.forward.status, self.backward.status
        if Status.UNKNOWN in (f, b):
            return Relation.UNKNOWN
        if f is Status.PROVED and b is Status.PROVED:
            return Relation.EQUIVALENT
        if f is Status.PROVED:
            return Relation.STRONGER
        if b is Status.PROVED:
            return Relation.WEAKER
        return Relation.INCOMPARABLE

    @property
    def witnesses(self) -> list[Witness]:
        out = []
        for verdict, first, second in ((self.forward, self.a, self.b),
                                       (self.backward, self.b, self.a)):
            if verdict.is_refuted:
                out.append(Witness(first, second, verdict.countermodel))
        return out

    def summary(self) -> str:
        a, b = self.a.name, self.b.name
        return {
            Relation.EQUIVALENT: f"{a} and {b} are equivalent: they compute the same loss.",
            Relation.STRONGER: f"{a} is stronger than {b}: {a} |= {b}, so loss({a}) >= loss({b}) "
                               "on every input.",
            Relation.WEAKER: f"{a} is weaker than {b}: {b} |= {a}, so loss({a}) <= loss({b}) "
                             "on every input.",
            Relation.INCOMPARABLE: f"{a} and {b} are incomparable: neither entails the other.",
            Relation.UNKNOWN: f"the solver could not decide how {a} and {b} relate.",
        }[self.relation]

    @property
    def atoms(self) -> tuple[str, ...]:
        """The atoms both structures are compared over: the union of theirs."""
        return common_atoms(self.a, self.b)

    def atoms_note(self) -> str | None:
        """What comparing over the union of the atoms means, when the structures are not
        both over the same atoms (``None`` for the classic four, as the paper compares)."""
        atoms = self.atoms
        if is_classic(atoms) or self.a.atoms == self.b.atoms:
            return None
        missing = [(s.name, [x for x in atoms if x not in s.atoms])
                   for s in (self.a, self.b) if s.atoms != atoms]
        said = "; ".join(f"{n} does not mention {', '.join(m)}, so it counts both values of "
                         f"{'that atom' if len(m) == 1 else 'those atoms'} the same"
                         for n, m in missing)
        return f"compared over the union of their atoms ({', '.join(atoms)}): {said}."

    def to_json(self) -> dict:
        out = {"a": self.a.name, "b": self.b.name, "relation": self.relation.value,
               "a_entails_b": self.forward.to_json(), "b_entails_a": self.backward.to_json(),
               "witnesses": [w.to_json() for w in self.witnesses], "summary": self.summary()}
        note = self.atoms_note()
        if note is not None:  # structures beyond pairs: say over which atoms
            out.update({"atoms": list(self.atoms), "atoms_note": note})
        return out

    def _repr_html_(self) -> str:
        """Jupyter's view: the relation and the witness worlds (:mod:`logicpo.display.html`)."""
        from logicpo.display.html import comparison_html

        return comparison_html(self)


def common_atoms(a: Structure, b: Structure) -> tuple[str, ...]:
    """The union of both structures' atoms (a structure that does not mention an atom is
    the same on both of its values), in :func:`~logicpo.logic.atoms.atom_order`."""
    return a.atoms if a.atoms == b.atoms else union(a.atoms, b.atoms)


def entails_z3(a: Structure, b: Structure, atoms: tuple[str, ...],
               timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Verdict:
    """``a |= b`` decided by z3: ``(ok_a -> ok_b) & (bad_b -> bad_a)`` is valid."""
    import z3

    from logicpo.reasoning.solver import check_valid, to_z3, variables_for

    v = variables_for(atoms)
    claim = z3.And(z3.Implies(to_z3(a.ok, v), to_z3(b.ok, v)),
                   z3.Implies(to_z3(b.bad, v), to_z3(a.bad, v)))
    return check_valid(claim, v, timeout_ms)


def entails_bitmask(a: Structure, b: Structure, atoms: tuple[str, ...]) -> Verdict:
    """``a |= b`` decided on the truth tables over ``atoms``; a failure names the first
    world (in display order) that breaks it."""
    # Every call layer here costs about as much as the mask test (issue 14 wants this within
    # 3x of it): the masks are read from their cache, the verdict from a dict
    try:
        ok1, bad1 = a.masks_over[atoms]
        ok2, bad2 = b.masks_over[atoms]
    except KeyError:  # the first question over this atom order
        ok1, bad1 = a.masks(atoms)
        ok2, bad2 = b.masks(atoms)
    broken = structure_entails_masks(ok1, bad1, ok2, bad2)
    if not broken:
        return _PROVED
    try:
        return _REFUTED[atoms, broken]
    except KeyError:
        if len(_REFUTED) >= 4096:  # bounded, as any cache here
            _REFUTED.clear()
        verdict = _REFUTED[atoms, broken] = _refuted(atoms, broken)
        return verdict


_PROVED = Verdict.proved()  # verdicts are immutable: one per answer is enough
_REFUTED: dict[tuple[tuple[str, ...], int], Verdict] = {}


def _refuted(atoms: tuple[str, ...], broken: int) -> Verdict:
    return Verdict.refuted(World(atoms, first_world(broken, len(atoms))))


def compare(a: Structure, b: Structure, *, engine: str = "z3",
            timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Comparison:
    """How ``a`` relates to ``b``: equivalent, stronger (a |= b), weaker, or incomparable."""
    atoms = common_atoms(a, b)
    if engine == "z3":
        return Comparison(a, b, entails_z3(a, b, atoms, timeout_ms),
                          entails_z3(b, a, atoms, timeout_ms))
    if engine == "bitmask":
        return Comparison(a, b, entails_bitmask(a, b, atoms), entails_bitmask(b, a, atoms))
    raise ValueError(f"unknown engine {engine!r} (z3 or bitmask)")
