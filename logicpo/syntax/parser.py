"""Parse .lpo text into the AST of :mod:`logicpo.syntax.ast`.

The grammar is ``grammar/lpo.lark`` (its single source; the wheel carries a copy
inside the package). Parsing is LALR with lark's strict mode, so the grammar
itself is checked for conflicts and terminal collisions when it is built.

Building the LALR tables takes about 0.2 s, more than everything else ``logicpo check``
does, so the built parser is kept in a cache file (lark's own serialisation,
``Lark.save``/``Lark.load``) named after a hash of the grammar, the options and the lark
and Python versions, in :func:`cache_dir`; a changed grammar gets a new file. The file is
written atomically; one that cannot be read is rebuilt, one that cannot be written is
skipped (the parser is the same either way).

>>> program = parse_program('structure CE { core: M(yw) }', "demo.lpo")
>>> program.definitions[0].name
'CE'
>>> parse_formula("M(yl) -> M(yw)")
Implies(premise=Atom(model='M', response='yl'), conclusion=Atom(model='M', response='yw'))
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import io
import os
import sys
from importlib import resources
from pathlib import Path

import lark as lark_module
from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from logicpo import files
from logicpo.errors import LogicpoError, NameResolutionError, ParseError, Span, did_you_mean
from logicpo.syntax import ast
from logicpo.syntax.limits import MAX_SOURCE_CHARS, first_too_deep, too_deep, too_long

MODELS = ast.DEFAULT_MODELS
RESPONSES = ast.DEFAULT_RESPONSES
DECLARATIONS = ("responses", "models")
# Function-style connectives, as the paper writes them.
CONNECTIVES = {"And": "and", "Or": "or", "Not": "not", "Implies": "implies",
               "XOR": "xor", "Xor": "xor", "Iff": "iff", "Equivalent": "iff"}
STRUCTURE_OPERATORS = ("ref", "flip")
#: Words of the language, which cannot name a definition.
KEYWORDS = ("import", "formula", "structure", "objective", "true", "false",
            "and", "or", "xor", "not")

_FRIENDLY = {
    "NAME": "a name",
    "STRING": 'a string in double quotes',
    "NUMBER": "a number",
    "SIGNED_NUMBER": "a number",
    "FIELD": "a field (core:, cond:, add:, ok: or bad:)",
    "OR": "'|'",
    "AND": "'&'",
    "NOT": "'~'",
    "XOR": "'xor'",
    "$END": "end of input",
}
# Sets of terminals that together mean one thing to a reader.
_GROUPS = (({"NAME", "LPAR", "NOT"}, "a formula"),)


def grammar_text() -> str:
    """The grammar: from ``grammar/`` in a checkout, else the copy shipped in the wheel."""
    checkout = Path(__file__).resolve().parents[2] / "grammar" / "lpo.lark"
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    return resources.files("logicpo").joinpath("grammar/lpo.lark").read_text(encoding="utf-8")


_OPTIONS = {"parser": "lalr", "strict": True, "propagate_positions": True,
            "maybe_placeholders": True,
            "start": ["program", "objective_expr", "formula_expr", "loss_expr"]}


def cache_dir() -> Path:
    """Where logicpo keeps what it can rebuild: ``$LOGICPO_CACHE_DIR`` if set, else
    ``$XDG_CACHE_HOME/logicpo``, else ``~/.cache/logicpo``."""
    if os.environ.get("LOGICPO_CACHE_DIR"):
        return Path(os.environ["LOGICPO_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "logicpo"


def parser_cache_file(text: str | None = None) -> Path:
    """The cache file of the parser of grammar ``text`` (the current grammar by default)."""
    text = grammar_text() if text is None else text
    key = hashlib.sha256("\0".join([
        text, repr(sorted(_OPTIONS.items())), lark_module.__version__,
        sys.version.split()[0]]).encode("utf-8")).hexdigest()[:20]
    return cache_dir() / f"lpo-parser-{key}.lark"


@functools.cache
def lark_parser() -> Lark:
    """The one LALR parser of the grammar, with every entry point: built once, then loaded
    from its cache file."""
    text = grammar_text()
    path = parser_cache_file(text)
    try:
        with open(path, "rb") as fh:
            return Lark.load(fh)
    except FileNotFoundError:  # the first run with this grammar
        pass
    except Exception:  # noqa: BLE001 - a corrupt or foreign cache file is rebuilt below
        pass
    parser = Lark(text, **_OPTIONS)
    try:
        with files.atomic_output(path, binary=True) as fh:
            parser.save(fh)
    except files.OutputError:  # a read-only cache directory: the parser is the same
        pass
    return parser


@functools.cache
def _without_positions(lark: Lark) -> Lark:
    """``lark`` (the one parser, same tables) building its trees without positions: for
    .lpo text, whose spans :class:`_ToAst` computes (lark's position propagation was half
    of its parse time). Loaded from ``lark``'s own serialisation, as lark's cache does, with
    the one option lark lets a load change here."""
    buffer = io.BytesIO()
    lark.save(buffer)
    buffer.seek(0)
    return Lark.__new__(Lark)._load(buffer, propagate_positions=False)


def parse_program(text: str, file: str = "<string>") -> ast.Program:
    """Parse a whole .lpo file."""
    from logicpo.syntax import fast  # the common subset without lark: the same AST, or None

    lark_parser()  # loaded (4 ms) and its cache file kept, whichever reader reads the text
    with _no_gc():
        read = fast.read_program(text, file)  # None for declarations, other atoms, errors
    if read is not None:
        (imports, definitions), declared = read, {}
    else:
        imports, definitions, declared = _parse(text, file, "program")
    return ast.Program(file=file, source=text, imports=imports, definitions=definitions,
                       responses=declared.get("responses", RESPONSES),
                       models=declared.get("models", MODELS))


def parse_objective(text: str, file: str = "<objective>") -> ast.Sum:
    """Parse an inline objective such as ``"0.8*sigmoid + 0.2*bco_pair"``."""
    return _parse(text, file, "objective_expr")


def parse_formula(text: str, file: str = "<formula>") -> ast.Formula:
    """Parse a single formula such as ``"M(yl) -> M(yw)"``."""
    return _parse(text, file, "formula_expr")


def _parse(text: str, file: str, start: str):
    if len(text) > MAX_SOURCE_CHARS:
        raise too_long(len(text), file)
    lines = text.splitlines()

    def line_of(n: int) -> str:
        return lines[n - 1] if 0 < n <= len(lines) else ""

    with _no_gc():
        try:
            tree = _without_positions(lark_parser()).parse(text, start=start)
        except UnexpectedInput as exc:
            raise _syntax_error(exc, text, file, line_of) from None
        try:
            declared = _declarations(tree, file) if start == "program" else (
                {"responses": ast.INLINE_RESPONSES} if start == "objective_expr" else {})
            result = _ToAst(file, declared).transform(tree)
        except LogicpoError as exc:
            if exc.span and exc.source_line is None:
                exc.source_line = line_of(exc.span.line)
            raise
    roots = [*result[1]] if start == "program" else [result]
    for root in roots:  # later layers recurse: nothing deeper than the limit gets past here
        deep = first_too_deep(root, ast.children, counts=ast.levels)
        if deep is not None:
            what = "the formula" if start == "formula_expr" else (
                "the objective" if start == "objective_expr" else f"'{root.name}'")
            raise too_deep(what, deep.span, line_of(deep.span.line) if deep.span else None)
    return result


def _declarations(tree: Tree, file: str) -> dict[str, tuple[str, ...]]:
    """What a program's ``responses ...`` and ``models ...`` lines declare, read before the
    walk (a declaration holds for the whole file, wherever it is written)."""
    out: dict[str, tuple[str, ...]] = {}
    for item in tree.children:
        if not (isinstance(item, Tree) and item.data == "declaration"):
            continue
        kind, names = str(item.children[0]), [t for t in item.children[1:] if t.type == "NAME"]
        if kind in out:
            raise ParseError(f"'{kind}' is declared twice in this file",
                             token_span(file, item.children[0]),
                             hint=f"declare all {kind} on one line: {kind} "
                                  f"{', '.join((*out[kind], *map(str, names)))}")
        seen: list[str] = []
        for t in names:
            if str(t) in seen:
                raise ParseError(f"'{t}' is declared twice in '{kind}'", token_span(file, t))
            if str(t) in KEYWORDS or str(t) == "x":
                raise ParseError(f"'{t}' cannot name one of the {kind}",
                                 token_span(file, t),
                                 hint="x is the prompt (M(x, yw)); the others are keywords"
                                 if str(t) == "x" else "it is a keyword of the language")
            seen.append(str(t))
        out[kind] = tuple(seen)
    return out


@contextlib.contextmanager
def _no_gc():
    """The cyclic garbage collector paused while a text is parsed.

    A 64 KiB file makes about 100,000 tree and AST nodes, none of them in a cycle, and every
    collection the allocations trigger walks all of them again: that took 35 to 55% of the
    parse and transform time of the 2,000-structure benchmark (docs/performance.md). The
    collector is resumed (if it was on) however the parse ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def transform(transformer, tree, line_of):
    """Run a lark transformer; a logicpo error raised inside it comes out unwrapped,
    with its source line filled in."""
    try:
        return transformer.transform(tree)
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, LogicpoError):
            if inner.span and inner.source_line is None:
                inner.source_line = line_of(inner.span.line)
            raise inner from None
        raise


def _describe_expected(names) -> str:
    lark = lark_parser()
    # ATOM (M(yw) as one token) is expected exactly where a formula is, and a reader
    # knows it as a name and a call: it never shows in a message. The declarations
    # (responses, models) may start any item but are written once at the top, so they are
    # left out of the list as well (it reads as before they existed)
    names = set(names) - _UNLISTED
    shown = []
    for group, meaning in _GROUPS:
        if group <= names:
            shown.append(meaning)
            names -= group | {"TRUE", "FALSE"}
    for name in sorted(names):
        if name in _FRIENDLY:
            shown.append(_FRIENDLY[name])
            continue
        try:
            pattern = lark.get_terminal(name).pattern
        except KeyError:
            shown.append(name)
            continue
        shown.append(f"'{pattern.value}'" if pattern.type == "str" else name)
    shown = sorted(set(shown))
    if len(shown) > 1:
        return ", ".join(shown[:-1]) + " or " + shown[-1]
    return shown[0] if shown else "something else"


_UNLISTED = frozenset({"ATOM", "RESPONSES", "MODELS"})


def _syntax_error(exc: UnexpectedInput, text: str, file: str, line_of) -> ParseError:
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        expected = _describe_expected(getattr(exc, "expected", ()))
        return ParseError(f"unexpected end of input, expected {expected}",
                          Span(file, line, col, line, col + 1), source_line=line_of(line))
    if isinstance(exc, UnexpectedToken):
        token = _as_name(exc.token)
        span = Span(file, token.line, token.column, token.end_line, token.end_column)
        expected = _describe_expected(exc.expected)
        hint = None
        if token.type == "NAME" and str(token) in ("ok", "bad", "core", "cond", "add"):
            hint = f"'{token}' is a field name: write '{token}: <formula>' inside a structure body"
        for arrow in ("=>", "<=>"):
            if text.startswith(arrow, token.start_pos):
                return ParseError(f"unexpected '{arrow}'", Span(
                    file, token.line, token.column, token.line, token.column + len(arrow)),
                    source_line=line_of(token.line),
                    hint="the DSL writes implication as '->' (and if-and-only-if as '<->')")
        return ParseError(f"unexpected '{_short(str(token))}', expected {expected}", span,
                          source_line=line_of(token.line), hint=hint)
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        span = Span(file, exc.line, exc.column, exc.line, exc.column + 1)
        allowed = (exc.allowed or set()) - _UNLISTED  # see _describe_expected
        message = f"unexpected character {char!r}"
        if len(allowed) <= 6:
            message += f", expected {_describe_expected(allowed)}"
        return ParseError(message, span, source_line=line_of(exc.line),
                          hint="connectives are ~ & xor | -> <->; comments start with #")
    return ParseError(str(exc))


def _as_name(token: Token) -> Token:
    """An unexpected ATOM token reported as the name it starts with, as the text is read
    everywhere but in a formula (``M(yw)`` inside ``{ }`` is an unexpected 'M')."""
    if token.type != "ATOM":
        return token
    model = str(token).split("(")[0]
    return Token("NAME", model, token.start_pos, token.line, token.column, token.line,
                 token.column + len(model), token.start_pos + len(model))


def _short(text: str, limit: int = 40) -> str:
    """A token as quoted in a message: at most ``limit`` characters of it."""
    return text if len(text) <= limit else text[:limit] + "..."


def span_of(file: str, meta) -> Span | None:
    """The span of a parsed rule (None for an empty one)."""
    if getattr(meta, "empty", True):
        return None
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


def token_span(file: str, token: Token) -> Span:
    return Span(file, token.line, token.column, token.end_line, token.end_column)


def _unquote(token: Token | None) -> str | None:
    return None if token is None else str(token)[1:-1]


class _ToAst:
    """lark tree -> AST. Semantic checks that need only the local text happen here.

    Each rule's method takes the rule's span and its children, already turned into AST
    nodes. The walk is lark's ``Transformer_NonRecursive`` (the same order, so the same
    first error) without its per-node wrapping. lark parses programs without propagating
    positions (half of its parse time): the walk gives each node the span lark would, from
    the first token under it to the last. Tokens at a node's ends are in the tree (the
    grammar's ``!`` rules); a parenthesised formula is a ``primary`` node whose value is
    the formula inside (with its own span) and whose extent, for its parent, includes the
    brackets.
    """

    def __init__(self, file: str, declared: dict[str, tuple[str, ...]] | None = None) -> None:
        self.file = file
        declared = declared or {}
        self.declarations = declared  # read from the tree before the walk (_declarations)
        self.declared = bool(declared)
        self.models = declared.get("models", MODELS)
        self.responses = declared.get("responses", RESPONSES)

    def transform(self, tree: Tree):
        # children before their parent, left to right, without recursion
        order, todo = [], [tree]
        while todo:
            node = todo.pop()
            order.append(node)
            if isinstance(node, Tree):
                todo += node.children
        # (value, line, column, end_line, end_column) of every node done, in order
        done: list = []
        for node in reversed(order):
            if isinstance(node, Tree):
                size = len(node.children)
                items = done[len(done) - size:]
                del done[len(done) - size:]
                placed = [item for item in items if item[1] is not None]
                if placed:
                    first, last = placed[0], placed[-1]
                    where = (first[1], first[2], last[3], last[4])
                    span = Span(self.file, *where)
                else:
                    where, span = (None, None, None, None), None
                value = getattr(self, node.data)(span, [item[0] for item in items])
                done.append((value, *where))
            elif node is None:  # an optional part left out
                done.append((None, None, None, None, None))
            else:
                done.append((node, node.line, node.column, node.end_line, node.end_column))
        return done[0][0]

    # ------------------------------------------------------------ program
    def program(self, span, items):
        imports = tuple(i for i in items if isinstance(i, ast.ImportStmt))
        definitions = tuple(i for i in items
                            if not isinstance(i, (ast.ImportStmt, ast.Declaration)))
        return imports, definitions, self.declarations

    def declaration(self, span, children):
        names = tuple(str(t) for t in children[1:] if t.type == "NAME")
        return ast.Declaration(str(children[0]), names, span)

    def import_stmt(self, span, children):
        return ast.ImportStmt(_unquote(children[-1]), span)

    def formula_def(self, span, children):
        _, name, doc, _, formula = children
        return ast.FormulaDef(self._new_name(name), _unquote(doc), formula,
                              span)

    def structure_def(self, span, children):
        name, doc, body = children[1], children[2], children[-1]
        return ast.StructureDef(self._new_name(name), _unquote(doc), body,
                                span)

    def objective_def(self, span, children):
        _, name, doc, _, expr = children
        return ast.ObjectiveDef(self._new_name(name), _unquote(doc), expr,
                                span)

    def _new_name(self, token: Token) -> str:
        if str(token) in KEYWORDS:
            raise ParseError(f"'{token}' is a keyword of the language and cannot name a "
                             "definition", token_span(self.file, token),
                             hint=f"choose another name, e.g. '{token}_'")
        return str(token)

    def objective_expr(self, span, children):
        return children[0]

    def formula_expr(self, span, children):
        return children[0]

    # ------------------------------------------------------------ structures
    def structure_body(self, span, children):
        return ast.StructureBody(tuple(children[1:-1]), span)

    def field(self, span, children):
        key, formula = children
        return ast.Field(str(key), formula, span)

    def sname(self, span, children):
        return ast.StructureName(str(children[0]), span)

    def sapply(self, span, children):
        op, _, arg, _ = children
        if str(op) not in STRUCTURE_OPERATORS:
            if (isinstance(arg, ast.StructureName) and arg.id in self.responses
                    and str(op) not in self.models):  # M(yw) is an atom, not a structure
                return ast.StructureAt(str(op), arg.id, span)  # W(ys)
            hint = did_you_mean(str(op), STRUCTURE_OPERATORS)
            if (hint is None and self.declared and isinstance(arg, ast.StructureName)
                    and arg.id not in self.responses and arg.id.startswith("y")):
                hint = (f"to apply {op} to the response {arg.id}, declare it: responses "
                        f"{', '.join((*self.responses, arg.id))}")
            raise NameResolutionError(
                f"unknown structure operator '{op}' (known: ref, flip)",
                token_span(self.file, op), hint=hint)
        return ast.StructureOp(str(op), arg, span)

    # ------------------------------------------------------------ formulas
    def true(self, span, children):
        return ast.Const(True, span)

    def false(self, span, children):
        return ast.Const(False, span)

    def atom(self, span, children):
        # M(yw) as one token (the grammar's ATOM): the same node as the call M(yw) makes
        model, response = str(children[0])[:-1].split("(")
        if self.declared and (model not in self.models or response not in self.responses):
            return self._atom(model, [ast.Name(response, span)], span)  # its message
        return ast.Atom(model, response, span)

    def name(self, span, children):
        return ast.Name(str(children[0]), span)

    def not_(self, span, children):
        return ast.Not(children[-1], span)

    def and_(self, span, children):
        return ast.And(self._flat(ast.And, children), span)

    def or_(self, span, children):
        return ast.Or(self._flat(ast.Or, children), span)

    def xor(self, span, children):
        return ast.Xor(self._flat(ast.Xor, children), span)

    def implies(self, span, children):
        return ast.Implies(children[0], children[1], span)

    def iff(self, span, children):
        return ast.Iff(children[0], children[1], span)

    @staticmethod
    def _flat(cls, children):
        # a & b & c is one And with three arguments, as the paper writes it, and so is
        # (a & b) & c; children alternate operand, operator token, operand, ...
        first, rest = children[0], children[2::2]
        return (*(first.args if isinstance(first, cls) else (first,)), *rest)

    def call(self, span, children):
        head = children[0]
        args = [a for a in children[2:-1] if a is not None and not isinstance(a, Token)]
        fname = str(head)
        if fname in self.models:
            return self._atom(fname, args, span)
        if fname in CONNECTIVES:
            return self._connective(CONNECTIVES[fname], fname, args, span)
        if not self.declared:
            hint = did_you_mean(fname, (*MODELS, *CONNECTIVES)) or (
                "atoms are M(yw), M(yl), Ref(yw), Ref(yl); connectives And, Or, Not, "
                "Implies, XOR")
        else:
            hint = did_you_mean(fname, (*self.models, *CONNECTIVES)) or (
                f"this file declares the models {', '.join(self.models)}; connectives are "
                "And, Or, Not, Implies, XOR")
        raise NameResolutionError(
            f"unknown atom or connective '{fname}(...)'", token_span(self.file, head),
            hint=hint)

    def _atom(self, model, args, span):
        names = [a.id if isinstance(a, ast.Name) else None for a in args]
        if len(names) == 2 and names[0] == "x":  # the paper's M(x, yw) spelling
            names = names[1:]
        if model not in self.models:
            raise NameResolutionError(
                f"unknown atom '{model}({', '.join(n or '<formula>' for n in names)})': "
                f"'{model}' is not among the models this file declares "
                f"({', '.join(self.models)})", span,
                hint=did_you_mean(model, self.models) or
                f"declare it: models {', '.join((*self.models, model))}")
        if len(names) != 1 or names[0] not in self.responses:
            shown = ", ".join(n or "<formula>" for n in names)
            if not self.declared:
                hint = f"write {model}(yw) or {model}(yl)"
                raise NameResolutionError(
                    f"unknown atom '{model}({shown})': the response must be yw or yl",
                    span, hint=hint)
            known = ", ".join(self.responses)
            close = did_you_mean(names[0], self.responses) if len(names) == 1 and names[0] \
                else None
            raise NameResolutionError(
                f"unknown atom '{model}({shown})': the response must be one of {known} "
                "(the responses this file declares)", span,
                hint=close or f"write {model}({self.responses[0]}), or add {shown} to the "
                              f"responses line")
        return ast.Atom(model, names[0], span)

    def _connective(self, op, fname, args, span):
        arity = {"not": (1, 1), "implies": (2, 2), "iff": (2, 2), "xor": (2, None),
                 "and": (1, None), "or": (1, None)}[op]
        low, high = arity
        if len(args) < low or (high is not None and len(args) > high):
            want = f"{low}" if low == high else f"at least {low}"
            raise ParseError(f"{fname}(...) takes {want} argument(s), got {len(args)}", span)
        if op == "not":
            return ast.Not(args[0], span)
        if op == "implies":
            return ast.Implies(args[0], args[1], span)
        if op == "iff":
            return ast.Iff(args[0], args[1], span)
        cls = {"and": ast.And, "or": ast.Or, "xor": ast.Xor}[op]
        return args[0] if len(args) == 1 else cls(tuple(args), span)

    # ------------------------------------------------------------ objectives
    def sum(self, span, children):
        # children alternate term, sign token, term, ...: read in one pass
        terms = [self._weighted(children[0])]
        for sign, node in zip(children[1::2], children[2::2], strict=True):
            term = self._weighted(node)
            if sign.type == "MINUS":
                term = ast.WeightedTerm(-term.weight, term.operand, term.span)
            terms.append(term)
        return ast.Sum(tuple(terms), span)

    def _weighted(self, node):
        if isinstance(node, ast.WeightedTerm):
            return node
        return ast.WeightedTerm(1.0, node, node.span)

    def scaled(self, span, children):
        weight, operand = children
        return ast.WeightedTerm(float(weight), operand, span)

    def bare(self, span, children):
        return ast.Bare(str(children[0]), span)

    def primary(self, span, children):
        # ( formula ): the formula itself; the walk gives this node the brackets' extent
        return children[1]

    def apply(self, span, children):
        family, _, target, *rest = children
        params = [p for p in rest[:-1] if isinstance(p, ast.Param)]
        return ast.Apply(str(family), target, tuple(params), span)

    def kwarg(self, span, children):
        key, value = children
        return ast.Param(str(key), value, span)

    def number(self, span, children):
        return float(children[0])

    def word(self, span, children):
        return str(children[0])

    def text(self, span, children):
        return _unquote(children[0])


def as_sum(node) -> ast.Sum:
    """Normalise an objective expression to a :class:`~logicpo.syntax.ast.Sum`."""
    if isinstance(node, ast.Sum):
        return node
    term = node if isinstance(node, ast.WeightedTerm) else ast.WeightedTerm(1.0, node, node.span)
    return ast.Sum((term,), term.span)
