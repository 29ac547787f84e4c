"""The abstract syntax of .lpo files: frozen dataclasses named after the grammar rules.

Every node carries the :class:`~logicpo.errors.Span` it was parsed from, so that
later layers can point at the exact text when something is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from logicpo.errors import Span

#: What a file that declares no responses or models uses: the classic four atoms.
DEFAULT_MODELS: tuple[str, ...] = ("M", "Ref")
DEFAULT_RESPONSES: tuple[str, ...] = ("yw", "yl")


class InlineResponses(tuple):
    """The responses of an inline objective (``--loss "logistic(CPO) + sft(yg)"``), which has
    no line to declare them on: every name that starts with ``y`` is one."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.startswith("y")


INLINE_RESPONSES = InlineResponses(DEFAULT_RESPONSES)

# ---------------------------------------------------------------- formulas


@dataclass(frozen=True)
class Atom:
    """``Model(response)``: ``M(yw)``, ``Ref(yl)``, or with declarations ``M(yg)``, ``Src(yw)``."""

    model: str  # "M" or "Ref" unless the file declares other models
    response: str  # "yw" or "yl" unless the file declares other responses
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        return f"{self.model}({self.response})"


@dataclass(frozen=True)
class Const:
    value: bool
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Name:
    """A reference to a named formula."""

    id: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    arg: Formula
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    args: tuple[Formula, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Or:
    args: tuple[Formula, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Xor:
    args: tuple[Formula, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Implies:
    premise: Formula
    conclusion: Formula
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Iff:
    left: Formula
    right: Formula
    span: Span | None = field(default=None, compare=False, repr=False)


Formula = Atom | Const | Name | Not | And | Or | Xor | Implies | Iff

# ---------------------------------------------------------------- structures


@dataclass(frozen=True)
class Field:
    """One ``key: formula`` entry of a structure body (core, cond, add, ok, bad)."""

    key: str
    formula: Formula
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StructureBody:
    fields: tuple[Field, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StructureName:
    id: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StructureOp:
    """``ref(S)`` or ``flip(S)``."""

    op: str
    arg: StructureExpr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StructureAt:
    """``W(ys)``: the structure ``W``, which judges one response, applied to the response
    ``ys`` instead. As an objective term, ``sft(yg)`` applies an objective (or a structure)
    whose terms judge one response to another (read by the program, which knows which
    names are families)."""

    id: str
    response: str
    span: Span | None = field(default=None, compare=False, repr=False)


StructureExpr = StructureName | StructureOp | StructureAt

# ---------------------------------------------------------------- objectives


@dataclass(frozen=True)
class Param:
    key: str
    value: float | str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Apply:
    """``f(S, key=value, ...)``: the family ``f`` applied to a structure."""

    family: str
    target: StructureExpr
    params: tuple[Param, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Bare:
    """A bare name inside an objective: a structure (the paper's loss) or an objective."""

    id: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class WeightedTerm:
    weight: float
    operand: Apply | Bare | StructureAt
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Sum:
    terms: tuple[WeightedTerm, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


# ---------------------------------------------------------------- definitions


@dataclass(frozen=True)
class ImportStmt:
    path: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Declaration:
    """``responses yw, yl, yg`` or ``models M, Ref, Src``."""

    kind: str  # "responses" or "models"
    names: tuple[str, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FormulaDef:
    name: str
    doc: str | None
    formula: Formula
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StructureDef:
    name: str
    doc: str | None
    body: StructureBody | StructureExpr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ObjectiveDef:
    name: str
    doc: str | None
    expr: Sum
    span: Span | None = field(default=None, compare=False, repr=False)


Definition = FormulaDef | StructureDef | ObjectiveDef


@dataclass(frozen=True)
class Program:
    """One parsed file: its imports and definitions in source order."""

    file: str
    source: str
    imports: tuple[ImportStmt, ...]
    definitions: tuple[Definition, ...]
    #: what the file declares (``responses ...``, ``models ...``), or the classic defaults
    responses: tuple[str, ...] = DEFAULT_RESPONSES
    models: tuple[str, ...] = DEFAULT_MODELS

    def line(self, number: int) -> str:
        lines = self.source.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


# ---------------------------------------------------------------- walking

#: Nodes that use a named definition: a formula name, a structure name, a bare objective term.
REFERENCES = (Name, StructureName, Bare, StructureAt)
_NESTING = (Atom, Const, Name, Not, And, Or, Xor, Implies, Iff, StructureName, StructureOp, Bare,
            StructureAt)
_NESTING_TYPES = frozenset(_NESTING)


def children(node) -> tuple:
    """The child nodes of any AST node (parameters and strings are not nodes)."""
    get = _CHILDREN.get(type(node))
    return get(node) if get is not None else ()


# one lookup by type rather than a chain of isinstance tests: every layer walks formulas
# with this, and a 2,000-structure file has about 300,000 nodes (node classes are final)
_CHILDREN = {
    And: lambda n: n.args, Or: lambda n: n.args, Xor: lambda n: n.args,
    Not: lambda n: (n.arg,),
    Implies: lambda n: (n.premise, n.conclusion),
    Iff: lambda n: (n.left, n.right),
    Field: lambda n: (n.formula,), FormulaDef: lambda n: (n.formula,),
    StructureBody: lambda n: n.fields,
    StructureDef: lambda n: (n.body,),
    StructureOp: lambda n: (n.arg,),
    Apply: lambda n: (n.target,),
    WeightedTerm: lambda n: (n.operand,),
    Sum: lambda n: n.terms,
    ObjectiveDef: lambda n: (n.expr,),
}


def levels(node) -> int:
    """How many levels of nesting ``node`` adds (see :mod:`logicpo.syntax.limits`)."""
    return 1 if type(node) in _NESTING_TYPES else 0
