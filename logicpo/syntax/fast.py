"""A fast reader for the common subset of .lpo programs: the same AST as lark's, or None.

lark's contextual lexer and LALR loop cost about 6 us a token in CPython, most of the
``logicpo lattice --file`` command on thousands of structures (docs/performance.md). This
module reads the text most files are made of -- ``formula``, ``structure`` and
``objective`` definitions and imports, whose formulas use the four classic atoms written
plainly (``M(yw)``), names, ``true``/``false``, ``~ & xor | -> <->`` and brackets -- with
one regular expression for the tokens and a precedence-climbing reader, and builds the
nodes :class:`~logicpo.syntax.parser._ToAst` builds from lark's tree, with the same spans.

It never reports an error: on anything outside that subset, or anything the lark path
would reject (a syntax error, a keyword used as a name, an unknown structure operator,
nesting beyond the limit, a text too long), :func:`read_program` returns None and
:func:`~logicpo.syntax.parser.parse_program` reads the text with lark, so every message
still comes from there. Declarations (``responses ...``, ``models ...``), other atoms
(``M(yg)``, ``M( yw )``, ``M(x, yw)``), function-style connectives (``And(...)``) and
per-response structures (``W(ys)``) are left to lark too. The result is the same either
way: ``tests/test_fast_parse.py`` compares both readers, node by node and span by span.

>>> imports, (d,) = read_program("structure S { ok: M(yw)  bad: ~M(yl) }", "f.lpo")
>>> d.body.fields[1].formula, d.body.fields[1].formula.span
(Not(arg=Atom(model='M', response='yl')), Span(file='f.lpo', line=1, col=31, end_line=1, end_col=37))
>>> read_program("responses yw, yl, yg", "f.lpo") is None
True
"""

from __future__ import annotations

import dataclasses
import re

from logicpo.errors import Span
from logicpo.syntax import ast
from logicpo.syntax.limits import MAX_DEPTH, MAX_SOURCE_CHARS
from logicpo.syntax.parser import DECLARATIONS, KEYWORDS, STRUCTURE_OPERATORS

# One piece of text: what lark ignores (WS and COMMENT), then a token, or the one character
# no token starts with (then lark reads the text), or the end. Each character can be read
# in one way only (a comment runs to the end of its line), so the match never backtracks
# far and reading is linear in the text, whatever it holds.
_PIECE = re.compile(r"""
    ((?:[ \t\f\r\n]|\#[^\n]*(?![^\n]))*)
    (?:
      ( (?:M|Ref)\((?:yw|yl)\)            # ATOM: the four classic atoms written plainly
      | [A-Za-z_][A-Za-z0-9_]*            # NAME, a keyword or a word operator
      | [0-9]+[eE][+-]?[0-9]+             # NUMBER: lark's alternatives, in lark's order
      | (?:[0-9]+\.(?:[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
      | [0-9]+
      | "[^"\n]*"                         # STRING
      | <-> | -> | [~!&|(){}:;,=*+\-]
      )
    | (.)
    | \Z
    )""", re.VERBOSE | re.DOTALL)

_ATOMS = {f"{m}({r})": (m, r) for m in ast.DEFAULT_MODELS for r in ast.DEFAULT_RESPONSES}
_FIELDS = frozenset(("core", "cond", "add", "ok", "bad"))  # the grammar's FIELD words
# Words that mean something to the grammar (or will: the declarations of issue 13): where
# a name is read, any of them is left to lark, which knows what each means in each place.
_RESERVED = frozenset((*KEYWORDS, *_FIELDS, *DECLARATIONS))
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789.")
_NOT = frozenset(("~", "!", "not"))
# binary connectives: level (loosest first, as in the grammar) and the AST node of a chain
_LEVEL = {"<->": 1, "->": 2, "|": 3, "or": 3, "xor": 4, "&": 5, "and": 5}
_CHAIN = {3: ast.Or, 4: ast.Xor, 5: ast.And}
# Reading calls itself once for each bracket, connective and operator it is inside: a
# text nested beyond this (brackets count, though they add no level) is left to lark, far
# below Python's recursion limit.
_NESTING = 250
_END = ""  # the token after the last one


def _built(cls, names: tuple[str, ...]):
    """A constructor of the frozen dataclass ``cls`` that fills its fields directly: the
    same object as ``cls(*values)`` (equal, same repr, same fields), for a third of the
    cost. A 2,000-structure file makes about 95,000 spans and 90,000 nodes, and their
    dataclass ``__init__`` (one ``object.__setattr__`` per field) was a tenth of the
    ``lattice --file`` command. tests/test_fast_parse.py compares every tree with lark's."""
    new = object.__new__

    def make(*values):
        obj = new(cls)
        obj.__dict__.update(zip(names, values, strict=True))
        return obj

    return make


def _make_span(file, line, col, end_line, end_col, _new=object.__new__, _cls=Span):
    obj = _new(_cls)
    d = obj.__dict__
    d["file"], d["line"], d["col"], d["end_line"], d["end_col"] = (file, line, col, end_line,
                                                                   end_col)
    return obj


def _make_atom(model, response, span, _new=object.__new__, _cls=ast.Atom):
    obj = _new(_cls)
    d = obj.__dict__
    d["model"], d["response"], d["span"] = model, response, span
    return obj


_MAKE = {cls: _built(cls, tuple(f.name for f in dataclasses.fields(cls)))
         for cls in (ast.And, ast.Or, ast.Xor, ast.Implies, ast.Iff, ast.Not)}


class _Unsure(Exception):
    """The text is not in the subset this module reads: lark reads it."""


def read_program(text: str, file: str) -> tuple[tuple, tuple] | None:
    """``(imports, definitions)`` of a whole .lpo file, exactly as the lark path gives them,
    or None when the text is not in the common subset (then lark reads it)."""
    if len(text) > MAX_SOURCE_CHARS:
        return None
    try:
        return _Reader(_PIECE.findall(text), file).program()
    except _Unsure:
        return None


class _Reader:
    """Tokens with their places, and the recursive reading of them.

    ``toks[k]`` is the text of token ``k``; ``line[k]``, ``col[k]`` and ``end[k]`` its line,
    column and end column (tokens never span lines). A node's span runs from the first token
    under it to the last, as :class:`~logicpo.syntax.parser._ToAst` computes it, and a
    bracketed formula keeps the span of what is inside while its parent's extent includes
    the brackets: every reading function starts at ``self.i`` and ends just before it.
    """

    def __init__(self, pieces: list[tuple[str, str, str]], file: str) -> None:
        toks, lines, cols, ends = [], [], [], []
        commented = set()  # tokens after a comment: FIELD's look-ahead (?=\s*:) fails there
        line, col = 1, 1
        for gap, tok, stray in pieces:
            if stray:
                raise _Unsure
            if not tok:  # the end of the text
                break
            if gap == " ":  # most gaps: one space
                col += 1
            elif gap:
                if "#" in gap:
                    commented.add(len(toks))
                newlines = gap.count("\n")
                if newlines:
                    line += newlines
                    col = len(gap) - gap.rindex("\n")
                else:
                    col += len(gap)
            toks.append(tok)
            lines.append(line)
            cols.append(col)
            col += len(tok)
            ends.append(col)
        toks.append(_END)
        self.toks, self.lines, self.cols, self.ends = toks, lines, cols, ends
        self.commented = commented
        self.file = file
        self.i = 0

    def span(self, first: int, last: int) -> Span:
        return _make_span(self.file, self.lines[first], self.cols[first], self.lines[last],
                          self.ends[last])

    def expect(self, tok: str) -> None:
        if self.toks[self.i] != tok:
            raise _Unsure
        self.i += 1

    def name(self) -> str:
        tok = self.toks[self.i]
        if tok[:1] not in _WORD_START or tok in _RESERVED or "(" in tok:
            raise _Unsure
        self.i += 1
        return tok

    def doc(self) -> str | None:
        tok = self.toks[self.i]
        if tok[:1] != '"':
            return None
        self.i += 1
        return tok[1:-1]

    # ------------------------------------------------------------ program
    def program(self) -> tuple[tuple, tuple]:
        imports, definitions = [], []
        toks = self.toks
        while True:
            tok, start = toks[self.i], self.i
            if tok == "structure":
                definitions.append(self.structure_def(start))
            elif tok == "formula":
                self.i += 1
                name, doc = self.name(), self.doc()
                self.expect("=")
                formula, depth = self.formula(1, 0)
                definitions.append(ast.FormulaDef(name, doc, formula,
                                                  self.span(start, self.i - 1)))
            elif tok == "objective":
                self.i += 1
                name, doc = self.name(), self.doc()
                self.expect("=")
                definitions.append(ast.ObjectiveDef(name, doc, self.sum(),
                                                    self.span(start, self.i - 1)))
            elif tok == "import":
                self.i += 1
                path = self.doc()
                if path is None:
                    raise _Unsure
                imports.append(ast.ImportStmt(path, self.span(start, self.i - 1)))
            elif tok == _END:
                return tuple(imports), tuple(definitions)
            else:  # a declaration, or anything else lark is to read (or report)
                raise _Unsure

    def structure_def(self, start: int) -> ast.StructureDef:
        self.i += 1
        name, doc = self.name(), self.doc()
        toks = self.toks
        if toks[self.i] == "=":
            self.i += 1
            body = self.sexpr(0)[0]
        elif toks[self.i] == "{":
            body_start, fields = self.i, []
            self.i += 1
            while toks[self.i] != "}":
                key = toks[self.i]
                if key not in _FIELDS or toks[self.i + 1] != ":" or self.i + 1 in self.commented:
                    raise _Unsure
                field_start = self.i
                self.i += 2
                formula, depth = self.formula(1, 0)
                fields.append(ast.Field(key, formula, self.span(field_start, self.i - 1)))
                if toks[self.i] in (";", ","):
                    self.i += 1
            self.i += 1
            body = ast.StructureBody(tuple(fields), self.span(body_start, self.i - 1))
        else:
            raise _Unsure
        return ast.StructureDef(name, doc, body, self.span(start, self.i - 1))

    # ------------------------------------------------------------ formulas
    def formula(self, least: int, nesting: int) -> tuple[ast.Formula, int]:
        """The formula at ``self.i`` whose connectives are all at ``least`` or tighter, and
        its depth (levels of :func:`ast.levels`; at most one too many where a bracketed
        chain is flattened into its parent, which only sends a text to lark earlier).
        Chains are flat, ``->`` groups to the right and ``<->`` to the left, as the grammar
        reads them."""
        if nesting > _NESTING:
            raise _Unsure
        start = self.i
        left, depth = self.primary(nesting + 1)
        toks = self.toks
        while True:
            level = _LEVEL.get(toks[self.i])
            if level is None or level < least:
                return left, depth
            if level >= 3:  # a chain: or, xor, and
                args = [left]
                while _LEVEL.get(toks[self.i]) == level:
                    self.i += 1
                    # nothing binds tighter than & but what primary reads
                    arg, d = (self.primary(nesting + 1) if level == 5 else
                              self.formula(level + 1, nesting + 1))
                    args.append(arg)
                    depth = max(depth, d)
                cls = _CHAIN[level]
                if isinstance(left, cls):  # (a & b) & c is one And, as _ToAst._flat reads it
                    args[0:1] = left.args
                left = _MAKE[cls](tuple(args), self.span(start, self.i - 1))
            else:
                self.i += 1
                right, d = self.formula(2, nesting + 1)
                cls = ast.Implies if level == 2 else ast.Iff
                left = _MAKE[cls](left, right, self.span(start, self.i - 1))
                depth = max(depth, d)
            depth += 1
            if depth > MAX_DEPTH:
                raise _Unsure

    def primary(self, nesting: int) -> tuple[ast.Formula, int]:
        tok, start = self.toks[self.i], self.i
        self.i += 1
        atom = _ATOMS.get(tok)
        if atom is not None:  # a third of the nodes: its span made here, as span() makes it
            line = self.lines[start]
            return _make_atom(atom[0], atom[1], _make_span(self.file, line, self.cols[start],
                                                           line, self.ends[start])), 1
        if tok in _NOT:
            if nesting > _NESTING:
                raise _Unsure
            arg, depth = self.primary(nesting + 1)
            if depth >= MAX_DEPTH:
                raise _Unsure
            return _MAKE[ast.Not](arg, self.span(start, self.i - 1)), depth + 1
        if tok == "(":
            inner = self.formula(1, nesting + 1)
            self.expect(")")
            return inner
        if tok == "true" or tok == "false":
            return ast.Const(tok == "true", self.span(start, start)), 1
        self.i -= 1
        return ast.Name(self.name(), self.span(start, start)), 1

    # ------------------------------------------------------------ structure expressions
    def sexpr(self, nesting: int) -> tuple[ast.StructureExpr, int]:
        """The structure expression at ``self.i`` and its depth."""
        start = self.i
        word = self.name()
        if self.toks[self.i] != "(":
            return ast.StructureName(word, self.span(start, start)), 1
        if word not in STRUCTURE_OPERATORS or nesting > MAX_DEPTH:
            raise _Unsure
        self.i += 1
        arg, depth = self.sexpr(nesting + 1)
        self.expect(")")
        if depth >= MAX_DEPTH:
            raise _Unsure
        return ast.StructureOp(word, arg, self.span(start, self.i - 1)), depth + 1

    # ------------------------------------------------------------ objectives
    def sum(self):
        start = self.i
        first = self.product()
        toks = self.toks
        if toks[self.i] not in ("+", "-"):
            return first
        terms = [self._weighted(first)]
        while toks[self.i] in ("+", "-"):
            minus = toks[self.i] == "-"
            self.i += 1
            term = self._weighted(self.product())
            if minus:
                term = ast.WeightedTerm(-term.weight, term.operand, term.span)
            terms.append(term)
        return ast.Sum(tuple(terms), self.span(start, self.i - 1))

    @staticmethod
    def _weighted(node):
        if isinstance(node, ast.WeightedTerm):
            return node
        return ast.WeightedTerm(1.0, node, node.span)

    def product(self):
        start, tok = self.i, self.toks[self.i]
        if tok[:1] not in _DIGITS:
            return self.operand()
        self.i += 1
        self.expect("*")
        operand = self.operand()
        return ast.WeightedTerm(float(tok), operand, self.span(start, self.i - 1))

    def operand(self):
        start = self.i
        family = self.name()
        if self.toks[self.i] != "(":
            return ast.Bare(family, self.span(start, start))
        self.i += 1
        target = self.sexpr(0)[0]
        params = []
        while self.toks[self.i] == ",":
            self.i += 1
            params.append(self.kwarg())
        self.expect(")")
        return ast.Apply(family, target, tuple(params), self.span(start, self.i - 1))

    def kwarg(self) -> ast.Param:
        start = self.i
        key = self.name()
        self.expect("=")
        toks, i = self.toks, self.i
        tok = toks[i]
        if tok in ("+", "-"):  # SIGNED_NUMBER is one token: the sign touches the number
            number = toks[i + 1]
            if (number[:1] not in _DIGITS or self.lines[i + 1] != self.lines[i]
                    or self.cols[i + 1] != self.ends[i]):
                raise _Unsure
            self.i += 2
            value = float(tok + number)
        elif tok[:1] in _DIGITS:
            self.i += 1
            value = float(tok)
        elif tok[:1] == '"':
            self.i += 1
            value = tok[1:-1]
        else:
            value = self.name()
        return ast.Param(key, value, self.span(start, self.i - 1))
