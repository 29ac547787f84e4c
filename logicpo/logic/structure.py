"""Preference structures: a loss as two regions of worlds, ``ok`` and ``bad`` (spec section 2).

A structure is given either by its core, conditioning and additive formulas
``(P, P_C, P_A)``, with ``ok = (P & P_C) | P_A`` and ``bad = (~P & P_C) | P_A``,
or directly by its regions. Either way both views are kept: the regions decide
everything, the (core, cond, add) triple is how people read it.

A structure is its two regions as bit-masks (``ok_mask``, ``bad_mask``) plus a name; it costs
microseconds to make. Its SymPy formulas, the displayed triple of a structure given by its
regions (:func:`readable_core`) and the truth table are computed when first asked for and
then kept, so that checking names, degeneracy and the lattice of thousands of structures
never loads SymPy.

>>> from logicpo.logic.formulas import atom
>>> import sympy
>>> yw, yl = atom("M(yw)"), atom("M(yl)")
>>> cpo = Structure.from_pca("CPO", sympy.Implies(yl, yw), sympy.Or(yl, yw), sympy.And(yw, yl))
>>> cpo.regions()
(['11', '10'], ['11', '01'])
>>> dpo = ref(cpo, "DPO")
>>> dpo.core_text
'(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))'
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from logicpo.errors import DefinitionError, Span
from logicpo.logic import atoms as atom_names
from logicpo.logic.truth import (
    ATOMS_REF,
    ATOMS_SINGLE,
    World,
    atom_mask,
    display_order,
    formula_of,
    lift,
    mask,
    project,
    support,
    world_bits,
    worlds_in,
)

if TYPE_CHECKING:
    from sympy.logic.boolalg import Boolean


class Degeneracy(enum.Enum):
    """Structures whose loss does not depend on the model (spec section 3)."""

    UNDEFINED = "ok and bad are both empty: the loss is undefined (0/0)"
    INFINITE = "ok is empty: the loss is +infinity everywhere"
    ZERO = "bad is empty: the loss is 0 everywhere"
    CONSTANT = "ok equals bad: the loss is the constant log 2 everywhere"


@dataclass(frozen=True)
class Pca:
    """The (core, cond, add) triple as the user wrote it: truth tables, DSL text, and a
    function that builds the SymPy formulas when they are first asked for."""

    masks: tuple[int, int, int]
    texts: tuple[str, str, str]
    formulas: Callable[[], tuple]


@dataclass(frozen=True)
class Structure:
    """A named preference structure with both of its views.

    ``ok_mask`` and ``bad_mask`` are truth tables over ``atoms`` (see
    :mod:`logicpo.logic.truth`); ``core_text`` and friends are DSL text, and ``ok``, ``bad``,
    ``core``, ``cond``, ``add`` SymPy formulas, all computed on first use.
    """

    name: str
    atoms: tuple[str, ...]
    ok_mask: int
    bad_mask: int
    doc: str | None = None
    span: Span | None = None
    origin: str = "pca"  # "pca", "regions", or the operator that derived it
    pca: Pca | None = field(default=None, compare=False, repr=False)
    #: what :meth:`masks` has answered, by atom order: read directly where entailment is
    #: decided in bulk (``order.entails_bitmask``), as a method call there costs more than
    #: the mask test itself
    masks_over: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_pca(cls, name: str, core: Boolean, cond: Boolean | None = None,
                 add: Boolean | None = None, *, texts: tuple[str, str, str] | None = None,
                 doc: str | None = None, span: Span | None = None) -> Structure:
        """From SymPy formulas (P, P_C, P_A); ``texts`` keeps the user's own spelling."""
        import sympy

        from logicpo.logic.formulas import atoms_of, to_dsl

        cond = sympy.true if cond is None else cond
        add = sympy.false if add is None else add
        atoms = atoms_of(core, cond, add)
        texts = texts or (to_dsl(core), to_dsl(cond), to_dsl(add))
        formulas = (core, cond, add)
        return cls.from_pca_masks(name, atoms, *(mask(f, atoms) for f in formulas),
                                  texts=texts, formulas=functools.partial(tuple, formulas),
                                  doc=doc, span=span)

    @classmethod
    def from_pca_masks(cls, name: str, atoms: tuple[str, ...], core: int, cond: int, add: int,
                       *, texts: tuple[str, str, str], formulas: Callable[[], tuple],
                       doc: str | None = None, span: Span | None = None) -> Structure:
        """From the truth tables of (P, P_C, P_A) over ``atoms``, their DSL ``texts`` and a
        function returning their SymPy formulas (called only when a formula is asked for):
        ``ok = (P & P_C) | P_A``, ``bad = (~P & P_C) | P_A``.

        >>> s = Structure.from_pca_masks("CE", ("M(yw)", "M(yl)"), 0b1010, 0b1111, 0,
        ...                              texts=("M(yw)", "true", "false"), formulas=tuple)
        >>> s.regions()
        (['11', '10'], ['01', '00'])
        """
        full = (1 << (1 << len(atoms))) - 1
        ok = (core & cond) | add
        bad = (full & ~core & cond) | add
        return cls(name, atoms, ok, bad, doc, span, "pca", Pca((core, cond, add), texts, formulas))

    @classmethod
    def from_regions(cls, name: str, ok: Boolean, bad: Boolean, *, doc: str | None = None,
                     span: Span | None = None, origin: str = "regions") -> Structure:
        """From SymPy formulas ``ok`` and ``bad``; the displayed triple is derived (spec
        section 6, step 4)."""
        from logicpo.logic.formulas import atoms_of

        atoms = atoms_of(ok, bad)
        return cls.from_masks(name, atoms, mask(ok, atoms), mask(bad, atoms),
                              doc=doc, span=span, origin=origin)

    @classmethod
    def from_masks(cls, name: str, atoms: tuple[str, ...], ok_mask: int, bad_mask: int, *,
                   doc: str | None = None, span: Span | None = None,
                   origin: str = "regions") -> Structure:
        """From two truth tables over ``atoms``.

        The triple shown is ``P_C = ok | bad``, ``P_A = ok & bad`` and a core ``P``
        equal to ``bad -> ok`` on the worlds where it matters (those counted on
        exactly one side), chosen by :func:`readable_core` when first shown.

        >>> s = Structure.from_masks("ORPO", ("M(yw)", "M(yl)"), 0b0010, 0b0100)
        >>> s.core_text, s.cond_text, s.add_text
        ('M(yl) -> M(yw)', 'M(yw) xor M(yl)', 'false')
        """
        return cls(name, atoms, ok_mask, bad_mask, doc, span, origin)

    def renamed(self, name: str, *, doc: str | None = None, span: Span | None = None) -> Structure:
        return replace(self, name=name, doc=doc if doc is not None else self.doc,
                       span=span if span is not None else self.span)

    # ------------------------------------------------------------ the (core, cond, add) view
    @cached_property
    def _formulas(self) -> tuple:
        """SymPy ``(core, cond, add)``: the user's own, or derived from the regions."""
        if self.pca is not None:
            return tuple(self.pca.formulas())
        ok, bad, atoms = self.ok_mask, self.bad_mask, self.atoms
        return (readable_core(atoms, ok, bad), formula_of(ok | bad, atoms),
                formula_of(ok & bad, atoms))

    @cached_property
    def _texts(self) -> tuple[str, str, str]:
        if self.pca is not None:
            return self.pca.texts
        from logicpo.logic.formulas import to_dsl

        return tuple(to_dsl(f) for f in self._formulas)

    @property
    def core(self) -> Boolean:
        return self._formulas[0]

    @property
    def cond(self) -> Boolean:
        return self._formulas[1]

    @property
    def add(self) -> Boolean:
        return self._formulas[2]

    @property
    def core_text(self) -> str:
        return self._texts[0]

    @property
    def cond_text(self) -> str:
        return self._texts[1]

    @property
    def add_text(self) -> str:
        return self._texts[2]

    @cached_property
    def ok(self) -> Boolean:
        """``ok`` as a SymPy formula: ``(P & P_C) | P_A`` as written, else from its mask."""
        import sympy

        if self.pca is None:
            return formula_of(self.ok_mask, self.atoms)
        core, cond, add = self._formulas
        return sympy.Or(sympy.And(core, cond), add)

    @cached_property
    def bad(self) -> Boolean:
        import sympy

        if self.pca is None:
            return formula_of(self.bad_mask, self.atoms)
        core, cond, add = self._formulas
        return sympy.Or(sympy.And(sympy.Not(core), cond), add)

    # ------------------------------------------------------------ views
    @property
    def single_model(self) -> bool:
        """Whether only the policy's atoms ``M(...)`` occur (a reference-free loss)."""
        return all(a.startswith("M(") for a in self.atoms)

    @property
    def uses_reference(self) -> bool:
        return not self.single_model

    def masks(self, atoms: tuple[str, ...] | None = None) -> tuple[int, int]:
        """``(ok_mask, bad_mask)`` over ``atoms`` (a superset of this structure's atoms)."""
        try:
            return self.masks_over[atoms]
        except KeyError:  # once per atom order: entailment and the lattice ask often
            if atoms is None or atoms == self.atoms:
                found = (self.ok_mask, self.bad_mask)
            else:
                found = (lift(self.ok_mask, self.atoms, atoms),
                         lift(self.bad_mask, self.atoms, atoms))
            self.masks_over[atoms] = found
            return found

    def regions(self) -> tuple[list[str], list[str]]:
        """``ok`` and ``bad`` as lists of world bitstrings, all-true world first."""
        n = len(self.atoms)
        return ([world_bits(k, n) for k in worlds_in(self.ok_mask, n)],
                [world_bits(k, n) for k in worlds_in(self.bad_mask, n)])

    def counts(self, world: World) -> str:
        """How this structure counts a world: ``ok``, ``bad``, ``both`` or ``neither``."""
        ok, bad = self.masks(world.atoms)
        in_ok, in_bad = (ok >> world.index) & 1, (bad >> world.index) & 1
        return {(1, 1): "both", (1, 0): "ok", (0, 1): "bad", (0, 0): "neither"}[in_ok, in_bad]

    @property
    def degeneracy(self) -> Degeneracy | None:
        if self.ok_mask == 0 and self.bad_mask == 0:
            return Degeneracy.UNDEFINED
        if self.ok_mask == 0:
            return Degeneracy.INFINITE
        if self.bad_mask == 0:
            return Degeneracy.ZERO
        if self.ok_mask == self.bad_mask:
            return Degeneracy.CONSTANT
        return None

    def to_json(self, *, full: bool = True) -> dict:
        """The one JSON shape of a structure (``show``, ``decompile``, ``neighbors``, ...).

        ``full=False`` leaves out the closed form and the truth table, which cost SymPy work.

        >>> s = Structure.from_masks("ORPO", ("M(yw)", "M(yl)"), 0b0010, 0b0100)
        >>> s.to_json(full=False)["ok"], s.to_json()["closed_form"]
        (['10'], '-log sigmoid((pc - log1mexp(pc)) - (pr - log1mexp(pr)))')
        """
        ok, bad = self.regions()
        out = {
            "name": self.name, "kind": "structure", "atoms": list(self.atoms),
            "ok": ok, "bad": bad,
            "core": self.core_text, "cond": self.cond_text, "add": self.add_text,
            "degenerate": self.degeneracy.name.lower() if self.degeneracy else None,
            "degenerate_reason": self.degeneracy.value if self.degeneracy else None,
            "citation": self.doc,
        }
        if full:
            from logicpo.logic.closed_form import closed_form  # same layer; needs this module

            cf = closed_form(self)
            out.update({"closed_form": cf.text, "rho": cf.rho_text, "latex": cf.latex,
                        "truth_table": self.truth_table()})
        return out

    def pca_masks(self) -> tuple[int, int, int]:
        """Truth tables of ``(core, cond, add)`` over ``atoms``."""
        if self.pca is not None:
            return self.pca.masks
        return mask(self.core, self.atoms), self.ok_mask | self.bad_mask, \
            self.ok_mask & self.bad_mask

    def truth_table(self) -> list[dict]:
        """One row per world, all-true first: atom values, P, P_C, P_A, ok, bad, counted as."""
        n = len(self.atoms)
        core, cond, add = self.pca_masks()
        cols = {"core": core, "cond": cond, "add": add, "ok": self.ok_mask, "bad": self.bad_mask}
        rows = []
        for k in display_order(n):
            world = World(self.atoms, k)
            row = {"world": world.bits, **world.values}
            row.update({c: bool((m >> k) & 1) for c, m in cols.items()})
            row["counts"] = self.counts(world)
            rows.append(row)
        return rows

    # ------------------------------------------------------------ notebook display
    def _repr_html_(self) -> str:
        """Jupyter's view: fields, closed form, truth table, standing, reading
        (:mod:`logicpo.display.html`)."""
        from logicpo.display.html import structure_html

        return structure_html(self)

    def _repr_latex_(self) -> str:
        """The closed form of the paper's loss, as LaTeX."""
        from logicpo.display.html import structure_latex

        return structure_latex(self)


# ---------------------------------------------------------------- display of derived cores

_MIRROR = {"M(yw)": "M(yl)", "M(yl)": "M(yw)", "Ref(yw)": "Ref(yl)", "Ref(yl)": "Ref(yw)"}


@functools.lru_cache(maxsize=4096)
def readable_core(atoms: tuple[str, ...], ok_mask: int, bad_mask: int) -> Boolean:
    """A readable core ``P`` for given regions, in the paper's style.

    ``P`` only matters on the worlds counted on exactly one side, where it must be
    true on ``ok`` and false on ``bad``. The paper writes such cores as an
    implication from a statement about the loser to its mirror image about the
    winner (``M(yl) -> M(yw)``, DPO's ``(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))``), so
    the smallest such mirrored implication that fits is preferred; otherwise the
    smallest formula that fits.

    >>> from logicpo.logic.formulas import to_dsl
    >>> to_dsl(readable_core(("M(yw)", "M(yl)"), 0b1010, 0b0100))   # cCPO
    'M(yl) -> M(yw)'
    >>> to_dsl(readable_core(("M(yw)", "M(yl)"), 0b1010, 0b0101))   # CE
    'M(yw)'
    """
    import sympy

    from logicpo.logic.formulas import size

    care = ok_mask ^ bad_mask
    want = ok_mask & care
    best = None
    for premise in _small_formulas(atoms):
        conclusion = _mirror(premise)
        if mask(sympy.Implies(premise, conclusion), atoms) & care == want:
            key = (size(premise), str(premise).count("~"))
            if best is None or key < best[0]:
                best = (key, sympy.Implies(premise, conclusion))
    if best is not None:
        return best[1]
    return formula_of(want, atoms, care)


def _small_formulas(atoms: tuple[str, ...]) -> list[Boolean]:
    """Literals and conjunctions of two literals over ``atoms``."""
    import sympy

    from logicpo.logic.formulas import atom

    literals = [lit for a in atoms for lit in (atom(a), sympy.Not(atom(a)))]
    out = list(literals)
    for i, x in enumerate(literals):
        for y in literals[i + 1:]:
            if x.free_symbols != y.free_symbols:
                out.append(sympy.And(x, y))
    return out


def _mirror(expr: Boolean) -> Boolean:
    """Swap winner and loser: ``M(yw) <-> M(yl)``, ``Ref(yw) <-> Ref(yl)``."""
    from logicpo.logic.formulas import atom

    return expr.xreplace({atom(a): atom(b) for a, b in _MIRROR.items()})


# ---------------------------------------------------------------- operators


def ref(s: Structure, name: str | None = None) -> Structure:
    """The reference version (spec section 5): ``ok & Ref(yl)``, ``bad & Ref(yw)``.

    This adds ``rr - rc`` to the semantic log-ratio; ``ref(CPO)`` is DPO.
    """
    if not s.single_model:
        raise DefinitionError(
            f"ref() applies to single-model structures, but '{s.name}' already mentions Ref(...)",
            s.span)
    if s.atoms != ATOMS_SINGLE:
        raise DefinitionError(
            f"ref() is defined for structures over M(yw), M(yl) (spec section 5), but "
            f"'{s.name}' is over {', '.join(s.atoms)}", s.span,
            hint="write the reference atoms into the structure's fields yourself")
    ok, bad = s.masks(ATOMS_REF)
    n = len(ATOMS_REF)
    return Structure.from_masks(name or f"ref({s.name})", ATOMS_REF,
                                ok & atom_mask(ATOMS_REF.index("Ref(yl)"), n),
                                bad & atom_mask(ATOMS_REF.index("Ref(yw)"), n), origin="ref")


def at_response(s: Structure, response: str, name: str | None = None) -> Structure:
    """``S(y)``: a structure that judges one response (``W``: ``M(yw)`` against
    ``Ref(yw)``; ``CE``: ``M(yw)``) judging the response ``y`` instead. Its atoms are the
    ones its regions depend on, renamed, in :func:`~logicpo.logic.atoms.atom_order`.

    >>> from logicpo.logic.truth import ATOMS_REF
    >>> w = Structure.from_masks("W", ATOMS_REF, *(lift(m, ("M(yw)", "Ref(yw)"), ATOMS_REF)
    ...                                           for m in (0b1010, 0b1100)))
    >>> ws = at_response(w, "ys")
    >>> ws.name, ws.atoms, ws.core_text
    ('W(ys)', ('M(ys)', 'Ref(ys)'), 'M(ys)')
    """
    used = support((s.ok_mask, s.bad_mask), s.atoms)
    judged = atom_names.responses_of(used)
    label = name or f"{s.name}({response})"
    if len(judged) != 1:
        what = (f"judges {len(judged)} responses ({', '.join(judged)})" if judged
                else "does not depend on any atom")
        raise DefinitionError(
            f"{label}: '{s.name}' {what}; only a structure that judges one response can be "
            f"applied to another", s.span,
            hint="write the structure for the new response with its own atoms")
    old = judged[0]
    renamed = [atom_names.rename_response(a, old, response) for a in used]
    atoms = atom_names.atom_order(renamed)
    ok, bad = (lift(project(m, s.atoms, used), tuple(renamed), atoms)
               for m in (s.ok_mask, s.bad_mask))
    return Structure.from_masks(label, atoms, ok, bad, doc=s.doc, origin="at")


def flip(s: Structure, name: str | None = None) -> Structure:
    """Swap ``ok`` and ``bad`` (``P -> ~P``): negates the semantic log-ratio."""
    return Structure.from_masks(name or f"flip({s.name})", s.atoms, s.bad_mask, s.ok_mask,
                                origin="flip")


def definition_line(s: Structure) -> str:
    """``s`` as one line of the DSL, ready to paste into a ``.lpo`` file (``cond: true``
    and ``add: false`` are the defaults and are left out). The one home of this spelling:
    ``neighbors`` prints it for every neighbour, the ``show --html`` page for its structure,
    ``decompile`` for each new structure of its DSL text.

    >>> definition_line(Structure.from_masks("mine", ("M(yw)", "M(yl)"), 0b1010, 0b0100))
    'structure mine { core: M(yl) -> M(yw)  cond: M(yw) | M(yl) }'
    """
    fields = [f"core: {s.core_text}"]
    if s.cond_text != "true":
        fields.append(f"cond: {s.cond_text}")
    if s.add_text != "false":
        fields.append(f"add: {s.add_text}")
    return f"structure {s.name} {{ {'  '.join(fields)} }}"
