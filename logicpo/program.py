"""Programs: the named formulas, structures and objectives a user can refer to.

A program is the built-in zoo plus the user's files and everything they import.
Names are resolved lazily, so definitions may come in any order; a name defined
twice in the user's files is an error, while a user definition may shadow a zoo
name (as a Python module may shadow a builtin).

>>> program = load_text('structure mine { ok: M(yw)  bad: M(yl) & ~M(yw) }')
>>> program.structure("mine").regions()
(['11', '10'], ['01'])
>>> program.structure("DPO").core_text
'(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))'
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sympy

from logicpo.errors import (
    DefinitionError,
    ImportFailure,
    LogicpoError,
    NameResolutionError,
    Span,
    did_you_mean,
)
from logicpo.logic import formulas
from logicpo.logic.objective import FAMILIES, Objective, Term, check_term
from logicpo.logic.structure import Structure, flip, ref
from logicpo.syntax import ast
from logicpo.syntax.parser import as_sum, parse_objective, parse_program
from logicpo.syntax.printer import format_formula

ZOO_FILE = "zoo.lpo"
PCA_KEYS = ("core", "cond", "add")
REGION_KEYS = ("ok", "bad")


@dataclass(frozen=True)
class Entry:
    """One definition and the file it came from."""

    definition: ast.Definition
    file: str
    from_zoo: bool


class Program:
    """Resolved definitions, looked up by name."""

    def __init__(self, sources: dict[str, str], entries: dict[str, Entry],
                 user_order: list[str]) -> None:
        self._sources = sources
        self._entries = entries
        self._user_order = user_order
        self._formulas: dict[str, sympy.Basic] = {}
        self._structures: dict[str, Structure] = {}
        self._objectives: dict[str, Objective] = {}
        self._busy: list[str] = []

    # ------------------------------------------------------------ queries
    @property
    def names(self) -> list[str]:
        return list(self._entries)

    @property
    def user_names(self) -> list[str]:
        """Names defined in the user's files, in source order."""
        return list(self._user_order)

    @property
    def files(self) -> list[str]:
        return list(self._sources)

    def kind(self, name: str) -> str | None:
        entry = self._entries.get(name)
        if entry is None:
            return None
        return {ast.FormulaDef: "formula", ast.StructureDef: "structure",
                ast.ObjectiveDef: "objective"}[type(entry.definition)]

    def names_of(self, kind: str, *, user_only: bool = False, zoo_only: bool = False) -> list[str]:
        out = []
        for name, entry in self._entries.items():
            if self.kind(name) != kind:
                continue
            if (user_only and entry.from_zoo) or (zoo_only and not entry.from_zoo):
                continue
            out.append(name)
        return out

    def entry(self, name: str) -> Entry:
        """The definition called ``name`` and the file it came from."""
        return self._entries[name]

    def is_zoo(self, name: str) -> bool:
        return name in self._entries and self._entries[name].from_zoo

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
            entry = self._entries.get(name)
            if name in needed or entry is None or entry.from_zoo:
                continue
            needed.add(name)
            todo.extend(_referenced_names(entry.definition))
        return "\n".join(self._definition_text(n) for n in self._user_order if n in needed)

    def _definition_text(self, name: str) -> str:
        entry = self._entries[name]
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

    def structure(self, name: str, span: Span | None = None) -> Structure:
        """The structure called ``name`` (an error naming the alternatives otherwise)."""
        self._expect(name, "structure", span)
        if name not in self._structures:
            entry = self._entries[name]
            self._enter(name, entry.definition.span)
            try:
                self._structures[name] = self._build_structure(entry.definition)
            finally:
                self._busy.pop()
        return self._structures[name]

    def objective(self, name: str, span: Span | None = None) -> Objective:
        """The objective called ``name``; a structure name gives the paper's loss."""
        if self.kind(name) == "structure":
            s = self.structure(name, span)
            return Objective(name, (Term(1.0, "logistic", s),), s.doc, s.span)
        self._expect(name, "objective", span)
        if name not in self._objectives:
            entry = self._entries[name]
            self._enter(name, entry.definition.span)
            try:
                d = entry.definition
                terms = self._terms(as_sum(d.expr))
                self._objectives[name] = Objective(name, terms, d.doc, d.span)
            finally:
                self._busy.pop()
        return self._objectives[name]

    def inline_objective(self, text: str, file: str = "<objective>") -> Objective:
        """An objective written inline, e.g. ``"0.8*sigmoid + 0.2*bco_pair"``."""
        self._sources.setdefault(file, text)
        node = parse_objective(text, file)
        return Objective(text.strip(), self._terms(as_sum(node)))

    def formula(self, name: str, span: Span | None = None) -> sympy.Basic:
        self._expect(name, "formula", span)
        if name not in self._formulas:
            d = self._entries[name].definition
            self._enter(name, d.span)
            try:
                self._formulas[name] = self._formula(d.formula)
            finally:
                self._busy.pop()
        return self._formulas[name]

    def check_all(self) -> None:
        """Resolve every user definition, raising the first error found."""
        for name in self._user_order:
            getattr(self, self.kind(name))(name)

    # ------------------------------------------------------------ building
    def _fail(self, cls, message: str, span: Span | None, hint: str | None = None):
        return cls(message, span, source_line=self.source_line(span), hint=hint)

    def _expect(self, name: str, kind: str, span: Span | None) -> None:
        actual = self.kind(name)
        if actual == kind:
            return
        if actual is None:
            known = [n for n in self._entries if self.kind(n) == kind]
            raise self._fail(NameResolutionError, f"unknown {kind} '{name}'", span,
                             did_you_mean(name, known or self._entries))
        article = "an" if actual[0] in "aeiou" else "a"
        raise self._fail(DefinitionError, f"'{name}' is {article} {actual}, not a {kind}", span,
                         _kind_hint(name, actual, kind))

    def _enter(self, name: str, span: Span | None) -> None:
        if name in self._busy:
            cycle = " -> ".join([*self._busy[self._busy.index(name):], name])
            raise self._fail(DefinitionError, f"definition cycle: {cycle}", span)
        self._busy.append(name)

    def _formula(self, node: ast.Formula) -> sympy.Basic:
        return formulas.from_ast(node, lambda n: self.formula(n.id, n.span))

    def _formula_text(self, node: ast.Formula) -> str:
        inline = {}

        def collect(n):
            if isinstance(n, ast.Name) and self.kind(n.id) == "formula" and n.id not in inline:
                inline[n.id] = self._entries[n.id].definition.formula
                collect(inline[n.id])
            for child in getattr(n, "args", ()) or ():
                collect(child)
            for attr in ("arg", "premise", "conclusion", "left", "right"):
                if hasattr(n, attr):
                    collect(getattr(n, attr))

        collect(node)
        return format_formula(node, inline)

    def _build_structure(self, d: ast.StructureDef) -> Structure:
        body = d.body
        if not isinstance(body, ast.StructureBody):
            return self._structure_expr(body).renamed(d.name, doc=d.doc, span=d.span)
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
            ok = self._formula(fields["ok"].formula)
            bad = self._formula(fields["bad"].formula)
            return Structure.from_regions(d.name, ok, bad, doc=d.doc, span=d.span)
        if "core" not in keys:
            raise self._fail(DefinitionError, f"structure '{d.name}' has no core", body.span,
                             "write { core: <formula> } or { ok: <formula>  bad: <formula> }")
        given = {k: fields[k].formula for k in keys}
        defaults = {"cond": ast.Const(True), "add": ast.Const(False)}
        nodes = [given.get(k, defaults.get(k)) for k in PCA_KEYS]
        core, cond, add = (self._formula(n) for n in nodes)
        texts = tuple(self._formula_text(n) for n in nodes)
        return Structure.from_pca(d.name, core, cond, add, texts=texts, doc=d.doc, span=d.span)

    def _structure_expr(self, node: ast.StructureExpr) -> Structure:
        if isinstance(node, ast.StructureName):
            return self.structure(node.id, node.span)
        inner = self._structure_expr(node.arg)
        try:
            return ref(inner) if node.op == "ref" else flip(inner)
        except LogicpoError as exc:
            raise self._fail(type(exc), exc.message, node.span, exc.hint) from None

    def _terms(self, node: ast.Sum) -> tuple[Term, ...]:
        terms: list[Term] = []
        for wt in node.terms:
            op = wt.operand
            if isinstance(op, ast.Bare):
                kind = self.kind(op.id)
                if kind == "objective" or kind == "structure":
                    for t in self.objective(op.id, op.span).terms:
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
            target = self._structure_expr(op.target)
            try:
                params = check_term(op.family, [(p.key, p.value, p.span) for p in op.params],
                                    op.span)
            except LogicpoError as exc:
                raise self._fail(type(exc), exc.message, exc.span, exc.hint) from None
            terms.append(Term(wt.weight, op.family, target, params))
        return tuple(terms)


def _referenced_names(node) -> Iterator[str]:
    """Every name a definition's syntax tree refers to (formulas, structures, objectives);
    iterative, so that a deeply nested formula needs no deep Python stack."""
    todo = [node]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Name, ast.StructureName, ast.Bare)):
            yield node.id
        if isinstance(node, tuple):
            todo.extend(node)
        elif dataclasses.is_dataclass(node):
            todo.extend(getattr(node, f.name) for f in dataclasses.fields(node)
                        if f.name != "span")


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
        self.entries: dict[str, Entry] = {}
        self.user_order: list[str] = []
        self.loaded: set[str] = set()

    def add_text(self, text: str, file: str, *, from_zoo: bool, stack: tuple[str, ...] = (),
                 base: Path | None = None) -> None:
        self.sources[file] = text
        program = parse_program(text, file)
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
        path = ((base or Path(".")) / imp.path).resolve()
        self.add_file(path, span=imp.span, stack=stack)

    def add_file(self, path: Path, *, span: Span | None = None, stack: tuple[str, ...] = ()) -> None:
        key = str(path.resolve())
        shown = _display_path(path)
        if any(str(Path(s).resolve()) == key for s in stack if not s.startswith("<")):
            chain = " -> ".join([*(_display_path(Path(s)) for s in stack), shown])
            raise ImportFailure(f"import cycle: {chain}", span,
                                source_line=self._line(span))
        if key in self.loaded:
            return
        if not path.is_file():
            what = "imported file" if span else "file"
            raise ImportFailure(f"{what} not found: {shown}", span, source_line=self._line(span))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportFailure(f"cannot read {shown}: {exc}", span,
                                source_line=self._line(span)) from None
        self.loaded.add(key)
        self.add_text(text, shown, from_zoo=False, stack=stack, base=path.parent)

    def _line(self, span: Span | None) -> str | None:
        if span is None or span.file not in self.sources:
            return None
        lines = self.sources[span.file].splitlines()
        return lines[span.line - 1] if 0 < span.line <= len(lines) else None

    def define(self, d: ast.Definition, file: str, from_zoo: bool) -> None:
        previous = self.entries.get(d.name)
        if previous is not None and previous.from_zoo == from_zoo:
            first = previous.definition.span
            raise DefinitionError(f"'{d.name}' is defined twice", d.span,
                                  source_line=self._line(d.span),
                                  hint=f"first defined at {first}" if first else None)
        if previous is not None and not from_zoo:
            del self.entries[d.name]  # the user's definition shadows the zoo's
        self.entries[d.name] = Entry(d, file, from_zoo)
        if not from_zoo:
            self.user_order.append(d.name)

    def program(self) -> Program:
        return Program(dict(self.sources), dict(self.entries), list(self.user_order))


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@functools.cache
def _zoo_loader_state():
    loader = _Loader()
    file, text = zoo_source()
    loader.add_text(text, file, from_zoo=True)
    return loader.sources, loader.entries


def _fresh_loader(zoo: bool) -> _Loader:
    loader = _Loader()
    if zoo:
        sources, entries = _zoo_loader_state()
        loader.sources.update(sources)
        loader.entries.update(entries)
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
