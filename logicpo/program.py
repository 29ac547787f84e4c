"""Programs: the named formulas, structures and objectives a user can refer to.

A program is the built-in zoo plus the user's files and everything they import.
Names are resolved lazily, so definitions may come in any order; a name defined
twice in the user's files is an error.

Scope is lexical: a name inside a zoo definition always means the zoo's definition, so
no user file can change what ``DPO`` or ``sigmoid`` compute. A user definition may shadow
a zoo name for the user's own references (as a Python module may shadow a builtin); the
program then carries a warning naming what was shadowed (:attr:`Program.diagnostics`).

>>> program = load_text('structure mine { ok: M(yw)  bad: M(yl) & ~M(yw) }')
>>> program.structure("mine").regions()
(['11', '10'], ['01'])
>>> program.structure("DPO").core_text
'(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))'
>>> shadowed = load_text('structure CPO { core: M(yw) }')
>>> shadowed.structure("CPO").regions()        # the user's CPO is CE
(['11', '10'], ['01', '00'])
>>> shadowed.structure("DPO").masks() == zoo().structure("DPO").masks()  # DPO is still ref(CPO)
True
>>> print(shadowed.diagnostics[0].message)
'CPO' shadows the zoo's structure 'CPO': your own references to 'CPO' mean yours, the zoo's definitions keep meaning the zoo's (its DPO, simpo, cpo_full, ... use it)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from logicpo import files
from logicpo.errors import (
    DefinitionError,
    Diagnostic,
    ImportFailure,
    LogicpoError,
    NameResolutionError,
    ParseError,
    Span,
    did_you_mean,
)
from logicpo.logic.atoms import atom_order
from logicpo.logic.objective import FAMILIES, Objective, Term, check_term
from logicpo.logic.structure import Structure, at_response, flip, ref
from logicpo.logic.truth import ATOMS_REF, mask
from logicpo.syntax import ast
from logicpo.syntax.limits import MAX_DEPTH, MAX_SIZE, MAX_SOURCE_CHARS, too_deep
from logicpo.syntax.parser import as_sum, parse_objective, parse_program
from logicpo.syntax.printer import format_formula

if TYPE_CHECKING:
    import sympy

ZOO_FILE = "zoo.lpo"
#: the zoo's losses beyond pairs, left out of the zoo's lists unless asked for (names_of)
BEYOND_FILE = "<zoo>/beyond.lpo"
PCA_KEYS = ("core", "cond", "add")
REGION_KEYS = ("ok", "bad")
_KINDS = {ast.FormulaDef: "formula", ast.StructureDef: "structure", ast.ObjectiveDef: "objective"}


@dataclass(frozen=True)
class Entry:
    """One definition and the file it came from."""

    definition: ast.Definition
    file: str
    from_zoo: bool

    @property
    def kind(self) -> str:
        return _KINDS[type(self.definition)]

    @property
    def key(self) -> tuple[bool, str]:
        return self.from_zoo, self.definition.name


def referenced_names(definition: ast.Definition) -> list[str]:
    """The names a definition uses, in order of first use."""
    return summary(definition)[0]


def summary(definition: ast.Definition) -> tuple[list[str], frozenset[str], int, int]:
    """One walk of a definition's own nodes: the names it uses (in order of first use), the
    atoms it writes, and its depth and size (:mod:`logicpo.syntax.limits`) without the
    named definitions expanded. The walk goes by node type, as :func:`ast.children` and
    :func:`ast.levels` do (node classes are final): a 2,000-structure file has about 95,000
    nodes. It recurses no deeper than the parser's depth limit allows."""
    kids, nesting = ast._CHILDREN, ast._NESTING_TYPES
    names: dict[str, None] = {}
    atoms: set[tuple[str, str]] = set()
    total = [0, 0]
    refs, atom_type = frozenset(ast.REFERENCES), ast.Atom

    def walk(node, depth):
        t = type(node)
        if t is atom_type:
            atoms.add((node.model, node.response))
        elif t in refs:
            names.setdefault(node.id)
        if depth > total[0]:
            total[0] = depth
        if t in nesting:
            total[1] += 1
        get = kids.get(t)
        if get is not None:
            for c in get(node):
                walk(c, depth + 1 if type(c) in nesting else depth)

    walk(definition, ast.levels(definition))
    return list(names), frozenset(f"{m}({r})" for m, r in atoms), total[0], total[1]


class Program:
    """Resolved definitions, looked up by name: the user's first, then the zoo's."""

    def __init__(self, sources: dict[str, str], zoo_entries: dict[str, Entry],
                 user_entries: dict[str, Entry], diagnostics: list[Diagnostic],
                 responses: dict[str, tuple[str, ...]] | None = None) -> None:
        self._sources = sources
        #: the responses each file declares (``responses ...``), by file; the classic
        #: ``yw, yl`` for a file that declares none
        self._responses = responses or {}
        self._zoo = zoo_entries
        self._user = user_entries
        self._built: dict[tuple[str, bool, str], object] = {}
        self._busy: list[tuple[bool, str]] = []
        self._measured: dict[tuple[bool, str], tuple[int, int]] = {}
        self._walked: dict[int, tuple] = {}  # id(definition) -> (definition, _walk's answer)
        self.diagnostics: list[Diagnostic] = list(diagnostics)

    # ------------------------------------------------------------ queries
    @property
    def names(self) -> list[str]:
        """Every name a user can refer to (a shadowed zoo name once, as the user's)."""
        return [n for n in self._zoo if n not in self._user] + list(self._user)

    @property
    def user_names(self) -> list[str]:
        """Names defined in the user's files, in source order."""
        return list(self._user)

    @property
    def files(self) -> list[str]:
        return list(self._sources)

    def _entry(self, name: str, zoo: bool = False) -> Entry | None:
        """The definition ``name`` means in the zoo's scope (``zoo``) or the user's."""
        if zoo:
            return self._zoo.get(name)
        return self._user.get(name) or self._zoo.get(name)

    def kind(self, name: str, *, zoo: bool = False) -> str | None:
        entry = self._entry(name, zoo)
        return None if entry is None else entry.kind

    def names_of(self, kind: str, *, user_only: bool = False, zoo_only: bool = False,
                 beyond_pairs: bool = False) -> list[str]:
        """Names of one kind: all visible ones, the user's, or the zoo's own (``zoo_only``;
        look those up with ``zoo=True`` to get the zoo's definitions when one is shadowed).

        The zoo's losses beyond pairs (``logicpo/beyond.lpo``: TPO, SELM, CPO3) are listed
        only with ``beyond_pairs``: lists of the zoo are the paper's and TRL's losses over the
        classic four atoms. They are looked up by name like any other."""
        if zoo_only:
            return [n for n, e in self._zoo.items() if e.kind == kind
                    and (beyond_pairs or e.file != BEYOND_FILE)]
        if user_only:
            return [n for n, e in self._user.items() if e.kind == kind]
        return [n for n in self.names if self.kind(n) == kind
                and (beyond_pairs or self._entry(n).file != BEYOND_FILE)]

    def entry(self, name: str, *, zoo: bool = False) -> Entry:
        """The definition called ``name`` and the file it came from."""
        entry = self._entry(name, zoo)
        if entry is None:
            raise KeyError(name)
        return entry

    def is_zoo(self, name: str) -> bool:
        entry = self._entry(name)
        return entry is not None and entry.from_zoo

    def user_source(self, names: Iterable[str]) -> str:
        """The user definitions that ``names`` need (themselves and everything they refer
        to, transitively), as written, in source order. Loaded on top of the zoo, this text
        defines the same things without the user's files or imports (a training run keeps
        it so that ``--resume`` rebuilds its loss from the run directory alone).

        >>> p = load_text('formula w = M(yw)\\nstructure s { core: w }\\nstructure t { core: M(yl) }')
        >>> print(p.user_source(["s"]))
        formula w = M(yw)
        structure s { core: w }
        """
        needed, todo = set(), list(names)
        while todo:
            name = todo.pop()
            entry = self._user.get(name)
            if name in needed or entry is None:
                continue
            needed.add(name)
            todo.extend(referenced_names(entry.definition))
        return "\n".join(self._definition_text(n) for n in self._user if n in needed)

    def _definition_text(self, name: str) -> str:
        entry = self._user[name]
        span = entry.definition.span
        lines = self._sources[entry.file].splitlines()[span.line - 1: span.end_line]
        lines[-1] = lines[-1][: span.end_col - 1]
        lines[0] = lines[0][span.col - 1:]
        return "\n".join(lines)

    def source_line(self, span: Span | None) -> str | None:
        if span is None or span.file not in self._sources:
            return None
        lines = self._sources[span.file].splitlines()
        return lines[span.line - 1] if 0 < span.line <= len(lines) else None

    def structure(self, name: str, span: Span | None = None, *, zoo: bool = False) -> Structure:
        """The structure called ``name`` (an error naming the alternatives otherwise);
        ``zoo=True`` asks for the zoo's own definition even when the user shadows it."""
        entry = self._expect(name, "structure", span, zoo)
        return self._build(entry, lambda d: self._build_structure(d, entry.from_zoo))

    def objective(self, name: str, span: Span | None = None, *, zoo: bool = False) -> Objective:
        """The objective called ``name``; a structure name gives the paper's loss."""
        if self.kind(name, zoo=zoo) == "structure":
            s = self.structure(name, span, zoo=zoo)
            return Objective(name, (Term(1.0, "logistic", s),), s.doc, s.span)
        entry = self._expect(name, "objective", span, zoo)
        return self._build(entry, lambda d: Objective(
            name, self._terms(as_sum(d.expr), entry.from_zoo), d.doc, d.span))

    def inline_objective(self, text: str, file: str = "<objective>") -> Objective:
        """An objective written inline, e.g. ``"0.8*sigmoid + 0.2*bco_pair"``."""
        node = parse_objective(text, file)
        self._sources.setdefault(file, text)
        self._responses.setdefault(file, ast.INLINE_RESPONSES)  # sft(yg): no declarations
        return Objective(text.strip(), self._terms(as_sum(node), False))

    def formula(self, name: str, span: Span | None = None, *, zoo: bool = False) -> sympy.Basic:
        entry = self._expect(name, "formula", span, zoo)
        return self._build(entry, lambda d: self._formula(d.formula, entry.from_zoo))

    def formula_mask(self, name: str, atoms: tuple[str, ...] = ATOMS_REF, *,
                     zoo: bool = False) -> int:
        """The truth table over ``atoms`` of the formula called ``name`` (no SymPy needed).

        >>> bin(load_text("formula w = M(yw) & ~M(yl)").formula_mask("w", ("M(yw)", "M(yl)")))
        '0b10'
        """
        entry = self._expect(name, "formula", None, zoo)
        return self._build(entry, lambda d: self._mask(d.formula, entry.from_zoo, atoms),
                           view=atoms)

    def check_all(self) -> None:
        """Resolve every user definition, raising the first error found."""
        for name, entry in self._user.items():
            if entry.kind == "formula":  # its truth table resolves every name it uses
                self.formula_mask(name, atom_order(self._formula_atoms(entry)))
            else:
                getattr(self, entry.kind)(name)

    def diagnose(self, name: str, *, zoo: bool = False) -> list[Diagnostic]:
        """What :func:`logicpo.logic.diagnostics.diagnose` finds wrong or suspicious in the
        structure or objective ``name`` (nothing for a formula), with source lines."""
        from logicpo.logic.diagnostics import diagnose

        kind = self.kind(name, zoo=zoo)
        if kind not in ("structure", "objective"):
            return []
        item = getattr(self, kind)(name, zoo=zoo)
        return [replace(d, source_line=self.source_line(d.span)) for d in diagnose(item)]

    # ------------------------------------------------------------ building
    def _fail(self, cls, message: str, span: Span | None, hint: str | None = None):
        return cls(message, span, source_line=self.source_line(span), hint=hint)

    def _expect(self, name: str, kind: str, span: Span | None, zoo: bool) -> Entry:
        entry = self._entry(name, zoo)
        if entry is not None and entry.kind == kind:
            return entry
        if entry is None:
            known = [n for n in self.names if self.kind(n) == kind]
            raise self._fail(NameResolutionError, f"unknown {kind} '{name}'", span,
                             did_you_mean(name, known or self.names))
        actual = entry.kind
        article = "an" if actual[0] in "aeiou" else "a"
        raise self._fail(DefinitionError, f"'{name}' is {article} {actual}, not a {kind}", span,
                         _kind_hint(name, actual, kind))

    def _build(self, entry: Entry, make, view: object = None):
        """The value ``make`` builds from ``entry``'s definition, once per ``view`` (a formula
        has views: its SymPy formula, its atoms, its truth table over some atoms)."""
        key = (entry.kind, *entry.key, view)
        if key not in self._built:
            if entry.key in self._busy:
                names = [n for _, n in self._busy[self._busy.index(entry.key):]]
                cycle = " -> ".join([*names, entry.definition.name])
                raise self._fail(DefinitionError, f"definition cycle: {cycle}",
                                 entry.definition.span)
            self._measure(entry)  # before any recursion: nothing too deep or too big is built
            self._busy.append(entry.key)
            try:
                self._built[key] = make(entry.definition)
            finally:
                self._busy.pop()
        return self._built[key]

    # ------------------------------------------------------------ size and depth
    def _measure(self, entry: Entry) -> tuple[int, int]:
        """Depth and size of a definition written out (see :mod:`logicpo.syntax.limits`).

        Definitions are measured bottom-up with an explicit stack, so a chain of any length
        is measured without recursion, and the first one over a limit is the one reported.
        """
        stack: list[tuple[Entry, bool]] = [(entry, False)]
        active: set[tuple[bool, str]] = set()
        while stack:
            e, expanded = stack.pop()
            if e.key in self._measured:
                continue
            if expanded:
                self._measured[e.key] = self._measure_one(e)
                active.discard(e.key)
                continue
            if e.key in active:  # a cycle: reported when it is resolved
                continue
            active.add(e.key)
            stack.append((e, True))
            for name in self._walk(e.definition)[0]:
                r = self._entry(name, e.from_zoo)
                if r is not None and r.key not in self._measured and r.key not in active:
                    stack.append((r, False))
        return self._measured.get(entry.key, (0, 0))

    def _walk(self, d: ast.Definition) -> tuple[list[str], frozenset[str], int, int]:
        """:func:`summary` of a definition, kept: a definition that uses no name (most of a
        large file: structures given by their regions) needs no other walk."""
        found = self._walked.get(id(d))
        if found is None or found[0] is not d:
            found = self._walked[id(d)] = (d, summary(d))
        return found[1]

    def _measure_one(self, e: Entry) -> tuple[int, int]:
        d = e.definition
        names, _, deepest, size = self._walk(d)
        if names or deepest > MAX_DEPTH:  # expand the names, or find the node too deep
            deepest, size = self._expanded(e)
        if size > MAX_SIZE:
            raise self._fail(
                DefinitionError, f"'{d.name}' is too large: written out, with the named "
                f"definitions it uses expanded, it has {size:,} parts (at most {MAX_SIZE:,})",
                d.span, "a definition that uses a name twice doubles in size; use each "
                        "named formula or objective fewer times")
        return deepest, size

    def _expanded(self, e: Entry) -> tuple[int, int]:
        """Depth and size of ``e`` with the named definitions it uses (already measured)
        expanded; the first node, in reading order, deeper than the limit is reported."""
        d = e.definition
        levels, children, refs = ast.levels, ast.children, ast.REFERENCES
        total = [0, 0]

        def walk(node, depth):
            lv = levels(node)
            size = lv
            if isinstance(node, refs):
                r = self._entry(node.id, e.from_zoo)
                r_depth, r_size = self._measured.get(r.key, (0, 0)) if r else (0, 0)
                depth, size = depth + r_depth, size + r_size
            if depth > MAX_DEPTH:
                raise too_deep(f"'{d.name}'", node.span, self.source_line(node.span))
            if depth > total[0]:
                total[0] = depth
            total[1] += size
            for c in reversed(children(node)):  # the stack's order: the same node reported
                walk(c, depth + levels(c))

        walk(d, levels(d))
        return total[0], total[1]

    def _formula(self, node: ast.Formula, zoo: bool) -> sympy.Basic:
        from logicpo.logic.formulas import from_ast

        return from_ast(node, lambda n: self.formula(n.id, n.span, zoo=zoo))

    def _formulas(self, nodes: list[ast.Formula], zoo: bool) -> tuple:
        """SymPy formulas of ``nodes`` (a structure's core, cond and add, when asked for)."""
        return tuple(self._formula(n, zoo) for n in nodes)

    def _mask(self, node: ast.Formula, zoo: bool, atoms: tuple[str, ...]) -> int:
        """The truth table of a formula AST over ``atoms``, named formulas resolved."""
        def named(n: ast.Name) -> int:
            entry = self._expect(n.id, "formula", n.span, zoo)
            return self._build(entry, lambda d: self._mask(d.formula, entry.from_zoo, atoms),
                               view=atoms)

        return mask(node, atoms, named)

    def _atoms(self, nodes: Iterable[ast.Formula], zoo: bool) -> frozenset[str]:
        """The atoms these formulas mention, through the named formulas they use."""
        out: set[str] = set()
        stack = list(nodes)[::-1]
        while stack:  # left to right, so that the first bad name is the one reported
            node = stack.pop()
            if isinstance(node, ast.Atom):
                out.add(node.text)
            elif isinstance(node, ast.Name):
                out |= self._formula_atoms(self._expect(node.id, "formula", node.span, zoo))
            else:
                stack.extend(reversed(ast.children(node)))
        return frozenset(out)

    def _formula_atoms(self, entry: Entry) -> frozenset[str]:
        """The atoms a named formula mentions, through the names it uses (kept)."""
        return self._build(entry, lambda d: self._atoms([d.formula], entry.from_zoo),
                           view="atoms")

    def _atom_order(self, d: ast.StructureDef, nodes: list[ast.Formula],
                    zoo: bool) -> tuple[str, ...]:
        """The atoms written in a structure's fields ``nodes`` (and the named formulas they
        use), in :func:`~logicpo.logic.atoms.atom_order`: single-model unless a Ref atom is
        written. A definition that uses no name has them from its one walk."""
        names, written, _, _ = self._walk(d)
        return atom_order(self._atoms(nodes, zoo) if names else written)

    def _formula_text(self, node: ast.Formula, zoo: bool) -> str:
        inline = {}

        def collect(n, scope):
            if isinstance(n, ast.Name) and n.id not in inline:
                entry = self._entry(n.id, scope)
                if entry is not None and entry.kind == "formula":
                    inline[n.id] = entry.definition.formula
                    collect(inline[n.id], entry.from_zoo)
            for child in ast.children(n):
                collect(child, scope)

        collect(node, zoo)
        return format_formula(node, inline)

    def _build_structure(self, d: ast.StructureDef, zoo: bool) -> Structure:
        body = d.body
        if not isinstance(body, ast.StructureBody):
            return self._structure_expr(body, zoo).renamed(d.name, doc=d.doc, span=d.span)
        fields: dict[str, ast.Field] = {}
        for f in body.fields:
            if f.key in fields:
                raise self._fail(DefinitionError, f"field '{f.key}' is given twice", f.span)
            fields[f.key] = f
        keys = set(fields)
        if keys & set(PCA_KEYS) and keys & set(REGION_KEYS):
            raise self._fail(
                DefinitionError,
                f"structure '{d.name}' mixes core/cond/add with ok/bad", body.span,
                "give either core (with optional cond, add) or both ok and bad")
        if keys & set(REGION_KEYS):
            missing = [k for k in REGION_KEYS if k not in keys]
            if missing:
                raise self._fail(DefinitionError,
                                 f"structure '{d.name}' gives its regions but no '{missing[0]}'",
                                 body.span, "a structure given by regions needs both ok and bad")
            nodes = [fields["ok"].formula, fields["bad"].formula]
            atoms = self._atom_order(d, nodes, zoo)
            ok, bad = (self._mask(n, zoo, atoms) for n in nodes)
            return Structure.from_masks(d.name, atoms, ok, bad, doc=d.doc, span=d.span)
        if "core" not in keys:
            raise self._fail(DefinitionError, f"structure '{d.name}' has no core", body.span,
                             "write { core: <formula> } or { ok: <formula>  bad: <formula> }")
        given = {k: fields[k].formula for k in keys}
        defaults = {"cond": ast.Const(True), "add": ast.Const(False)}
        nodes = [given.get(k, defaults.get(k)) for k in PCA_KEYS]
        atoms = self._atom_order(d, nodes, zoo)
        core, cond, add = (self._mask(n, zoo, atoms) for n in nodes)
        texts = tuple(self._formula_text(n, zoo) for n in nodes)
        return Structure.from_pca_masks(
            d.name, atoms, core, cond, add, texts=texts, doc=d.doc, span=d.span,
            formulas=functools.partial(self._formulas, nodes, zoo))

    def _structure_expr(self, node: ast.StructureExpr, zoo: bool) -> Structure:
        if isinstance(node, ast.StructureName):
            return self.structure(node.id, node.span, zoo=zoo)
        if isinstance(node, ast.StructureAt):
            inner = self.structure(node.id, node.span, zoo=zoo)
            try:
                return at_response(inner, node.response)
            except LogicpoError as exc:
                raise self._fail(type(exc), exc.message, node.span, exc.hint) from None
        inner = self._structure_expr(node.arg, zoo)
        try:
            return ref(inner) if node.op == "ref" else flip(inner)
        except LogicpoError as exc:
            raise self._fail(type(exc), exc.message, node.span, exc.hint) from None

    def _terms(self, node: ast.Sum, zoo: bool) -> tuple[Term, ...]:
        terms: list[Term] = []
        for wt in node.terms:
            op = wt.operand
            if isinstance(op, ast.Bare):
                kind = self.kind(op.id, zoo=zoo)
                if kind == "objective" or kind == "structure":
                    inner = self.objective(op.id, op.span, zoo=zoo).terms
                    if len(terms) + len(inner) > MAX_SIZE:
                        raise self._fail(DefinitionError, f"the objective has more than "
                                         f"{MAX_SIZE:,} terms once '{op.id}' is written out",
                                         op.span)
                    for t in inner:
                        terms.append(Term(wt.weight * t.weight, t.family, t.structure, t.params))
                    continue
                if op.id in FAMILIES:
                    raise self._fail(DefinitionError,
                                     f"'{op.id}' is a loss family: apply it to a structure",
                                     op.span, f"write {op.id}(DPO) or {op.id}(CPO, beta=0.1)")
                candidates = self.names_of("objective") + self.names_of("structure")
                raise self._fail(NameResolutionError,
                                 f"unknown objective or structure '{op.id}'", op.span,
                                 did_you_mean(op.id, candidates))
            if self._at_response(op):  # sft(yg): an objective about one response, on yg
                inner = self.objective(op.family, op.span, zoo=zoo).terms
                try:
                    terms.extend(Term(wt.weight * t.weight, t.family,
                                      at_response(t.structure, op.target.id), t.params)
                                 for t in inner)
                except LogicpoError as exc:
                    raise self._fail(type(exc), f"{op.family}({op.target.id}): {exc.message}",
                                     op.span, exc.hint) from None
                continue
            target = self._structure_expr(op.target, zoo)
            try:
                params = check_term(op.family, [(p.key, p.value, p.span) for p in op.params],
                                    op.span)
            except LogicpoError as exc:
                raise self._fail(type(exc), exc.message, exc.span, exc.hint) from None
            terms.append(Term(wt.weight, op.family, target, params))
        return tuple(terms)

    def _at_response(self, op: ast.Apply) -> bool:
        """Whether the term ``f(y)`` applies an objective or structure ``f`` to a response
        ``y`` the file declares (rather than a family to a structure)."""
        if op.family in FAMILIES or not isinstance(op.target, ast.StructureName):
            return False
        file = op.span.file if op.span else None
        if op.target.id not in self._responses.get(file, ast.DEFAULT_RESPONSES):
            return False
        if op.params:
            raise self._fail(DefinitionError, f"{op.family}({op.target.id}, ...) takes no "
                             "parameters: it applies a whole objective to a response",
                             op.params[0].span, "write the parameters inside the objective "
                             f"'{op.family}' or as a family term, e.g. "
                             f"logistic(CE({op.target.id}), beta=1)")
        return self.kind(op.family) in ("objective", "structure")


def _kind_hint(name: str, actual: str, wanted: str) -> str | None:
    if actual == "formula" and wanted == "structure":
        return f"a formula is one side of a structure: structure S {{ core: {name} }}"
    if actual == "structure" and wanted == "formula":
        return "formulas mention atoms and named formulas; structures are built with ref/flip"
    return None


# ---------------------------------------------------------------- loading


def zoo_source() -> tuple[str, str]:
    """The built-in zoo's path (for messages) and text."""
    res = resources.files("logicpo").joinpath(ZOO_FILE)
    return f"<zoo>/{ZOO_FILE}", res.read_text(encoding="utf-8")


class _Loader:
    def __init__(self) -> None:
        self.sources: dict[str, str] = {}
        self.zoo_entries: dict[str, Entry] = {}
        self.user_entries: dict[str, Entry] = {}
        self.diagnostics: list[Diagnostic] = []
        self.loaded: set[str] = set()
        self.responses: dict[str, tuple[str, ...]] = {}

    def add_text(self, text: str, file: str, *, from_zoo: bool, stack: tuple[str, ...] = (),
                 base: Path | None = None, parsed: ast.Program | None = None) -> None:
        program = parsed or parse_program(text, file)
        self.sources[file] = text  # quoted in later errors: only text that parsed as .lpo
        self.responses[file] = program.responses
        for imp in program.imports:
            self.add_import(imp, file, from_zoo=from_zoo, stack=(*stack, file), base=base)
        for d in program.definitions:
            self.define(d, file, from_zoo)

    def add_import(self, imp: ast.ImportStmt, importer: str, *, from_zoo: bool,
                   stack: tuple[str, ...], base: Path | None) -> None:
        if from_zoo:
            res = resources.files("logicpo").joinpath(imp.path)
            key = f"<zoo>/{imp.path}"
            if key in self.loaded:
                return
            self.loaded.add(key)
            self.add_text(res.read_text(encoding="utf-8"), key, from_zoo=True, stack=stack)
            return
        self.add_file((base or Path(".")) / imp.path, span=imp.span, stack=stack)

    def add_file(self, path: Path, *, span: Span | None = None, stack: tuple[str, ...] = ()) -> None:
        key = os.path.realpath(path)  # never raises, even on a symbolic link loop
        shown = _display_path(path)
        if any(os.path.realpath(s) == key for s in stack if not s.startswith("<")):
            chain = " -> ".join([*(_display_path(Path(s)) for s in stack), shown])
            raise ImportFailure(f"import cycle: {chain}", span, source_line=self._line(span))
        if key in self.loaded:
            return
        what = "imported file" if span else "file"
        try:
            text = files.read_text(path, what, limit=MAX_SOURCE_CHARS)
        except files.InputError as exc:
            if span is None:
                raise
            raise ImportFailure(exc.message.replace(str(path), shown), span,
                                source_line=self._line(span)) from None
        self.loaded.add(key)
        try:
            parsed = parse_program(text, shown)
        except ParseError as exc:
            if span is None:  # the user's own file: its line is quoted as usual
                raise
            # An import may name any file (imports are trusted paths); a file that is not
            # .lpo text is never quoted, so a hostile import cannot echo a secret.
            at = f" at line {exc.span.line}, column {exc.span.col}" if exc.span else ""
            raise ImportFailure(
                f"imported file {shown} is not valid .lpo text (syntax error{at})", span,
                source_line=self._line(span),
                hint=f"its text is not shown here; run 'logicpo check {shown}' to see the "
                     "error") from None
        self.add_text(text, shown, from_zoo=False, stack=stack, base=path.parent, parsed=parsed)

    def _line(self, span: Span | None) -> str | None:
        if span is None or span.file not in self.sources:
            return None
        lines = self.sources[span.file].splitlines()
        return lines[span.line - 1] if 0 < span.line <= len(lines) else None

    def define(self, d: ast.Definition, file: str, from_zoo: bool) -> None:
        scope = self.zoo_entries if from_zoo else self.user_entries
        previous = scope.get(d.name)
        if previous is not None:
            first = previous.definition.span
            raise DefinitionError(f"'{d.name}' is defined twice", d.span,
                                  source_line=self._line(d.span),
                                  hint=f"first defined at {first}" if first else None)
        entry = Entry(d, file, from_zoo)
        scope[d.name] = entry
        shadowed = None if from_zoo else self.zoo_entries.get(d.name)
        if shadowed is not None:
            users = sorted((n for n, e in self.zoo_entries.items()
                            if d.name in referenced_names(e.definition)),
                           key=lambda n: self.zoo_entries[n].kind != "structure")
            used = (f" (its {', '.join(users[:3])}{', ...' if len(users) > 3 else ''} "
                    f"{'uses' if len(users) == 1 else 'use'} it)") if users else ""
            self.diagnostics.append(Diagnostic(
                "warning", f"'{d.name}' shadows the zoo's {shadowed.kind} '{d.name}': your own "
                f"references to '{d.name}' mean yours, the zoo's definitions keep meaning the "
                f"zoo's{used}", d.span, self._line(d.span), code="shadow",
                hint=f"rename yours (e.g. '{d.name}_mine') if you did not mean to replace it"))

    def program(self) -> Program:
        return Program(dict(self.sources), dict(self.zoo_entries), dict(self.user_entries),
                       list(self.diagnostics), dict(self.responses))


def _display_path(path: Path) -> str:
    real = Path(os.path.realpath(path))
    try:
        return str(real.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@functools.cache
def _zoo_loader_state():
    loader = _Loader()
    file, text = zoo_source()
    loader.add_text(text, file, from_zoo=True)
    return loader.sources, loader.zoo_entries, loader.responses


def _fresh_loader(zoo: bool) -> _Loader:
    loader = _Loader()
    if zoo:
        sources, entries, responses = _zoo_loader_state()
        loader.sources.update(sources)
        loader.zoo_entries.update(entries)
        loader.responses.update(responses)
    return loader


def load(paths=(), *, zoo: bool = True) -> Program:
    """Load ``.lpo`` files (and their imports) on top of the built-in zoo."""
    loader = _fresh_loader(zoo)
    for p in paths:
        loader.add_file(Path(p))
    return loader.program()


def load_text(text: str, file: str = "<string>", *, zoo: bool = True) -> Program:
    """Load .lpo source text on top of the built-in zoo."""
    loader = _fresh_loader(zoo)
    loader.add_text(text, file, from_zoo=False, base=Path("."))
    return loader.program()


@functools.cache
def zoo() -> Program:
    """The built-in zoo alone."""
    return load()
